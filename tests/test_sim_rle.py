"""cocotb/Icarus regressions of the generated RLE Verilog (driven through sim.runner).

Each configuration builds in its own directory under ``build/sim/icarus/`` so
``pytest -n auto`` can run them in parallel.  The default set covers element
widths 8/16/32 with 8 and 16 lanes for both blocks, and the round trip; other
beat widths are marked ``slow`` (the 64 KiB throughput check is in
``tests/test_sim_throughput.py``).
"""
from __future__ import annotations

import json
import shutil

import pytest

from cdma.sim.runner import run_cocotb

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")

CONFIGS = [(e, l) for e in (8, 16, 32) for l in (8, 16)]
# (elem_bits, lanes, beat bytes of the encoded side): narrower and wider than raw
SLOW_CONFIGS = [(8, 32, None), (32, 4, None), (32, 16, 24), (16, 8, 64), (8, 1, 3), (32, 8, 7)]


@pytest.mark.parametrize("elem_bits, lanes", CONFIGS)
def test_encoder(elem_bits, lanes):
    run_cocotb("rle-encode", dict(elem_bits=elem_bits, lanes=lanes), "cdma.sim.rle.test_rle_encode")


@pytest.mark.parametrize("elem_bits, lanes", CONFIGS)
def test_decoder(elem_bits, lanes):
    run_cocotb("rle-decode", dict(elem_bits=elem_bits, lanes=lanes), "cdma.sim.rle.test_rle_decode")


@pytest.mark.parametrize("elem_bits, lanes", [(8, 16), (16, 8), (32, 16)])
def test_round_trip(elem_bits, lanes):
    run_cocotb("rle-loopback", dict(elem_bits=elem_bits, lanes=lanes),
               "cdma.sim.rle.test_rle_loopback")


@pytest.mark.slow
@pytest.mark.parametrize("elem_bits, lanes, nbytes", SLOW_CONFIGS)
def test_other_widths(elem_bits, lanes, nbytes):
    run_cocotb("rle-encode", dict(elem_bits=elem_bits, lanes=lanes, out_bytes=nbytes),
               "cdma.sim.rle.test_rle_encode")
    run_cocotb("rle-decode", dict(elem_bits=elem_bits, lanes=lanes, in_bytes=nbytes),
               "cdma.sim.rle.test_rle_decode")
    run_cocotb("rle-loopback", dict(elem_bits=elem_bits, lanes=lanes, mid_bytes=nbytes),
               "cdma.sim.rle.test_rle_loopback")


def test_bench_rle_command(tmp_path, capsys, sim):
    """``cdma bench rle`` on a tiny transfer: a table with RLE and ZVC columns, and a plot."""
    import argparse

    from cdma.bench import rle as bench_rle
    p = argparse.ArgumentParser()
    bench_rle.add_arguments(p)
    png = tmp_path / "rle.png"
    args = p.parse_args(["--config", "8:8", "--densities", "0,1", "--bytes", "512",
                         "--plot", str(png), "--json", str(tmp_path / "rows.json"), "--sim", sim])
    assert bench_rle.run(args) == 0
    out = capsys.readouterr().out
    assert "RLE cyc/32" in out and "ZVC cyc/32" in out
    rows = json.loads((tmp_path / "rows.json").read_text())
    assert sorted({r["codec"] for r in rows}) == ["rle", "zvc"]
    assert len(rows) == 8 and png.stat().st_size > 0
    for r in rows:
        assert r["efficiency"] <= 1.0 + 1e-9     # never faster than the physical bound


@pytest.mark.parametrize("text", ["8", "8:x", "1:2:3:4"])
def test_bench_rle_bad_config(text):
    import argparse

    from cdma.bench.blocks import parse_config
    with pytest.raises(argparse.ArgumentTypeError, match=repr(text)):
        parse_config(text)
