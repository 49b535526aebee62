"""cocotb/Icarus regressions of the generated ZVC Verilog (driven through sim.runner).

Each configuration builds in its own directory under ``build/sim/icarus/`` so
``pytest -n auto`` can run them in parallel.  The default set covers element
widths 8/16/32 with 8 and 16 lanes for both blocks and the round trip; wider
sweeps and the 64 KiB throughput check are marked ``slow``.
"""
from __future__ import annotations

import json
import shutil

import pytest

from cdma.sim.runner import run_cocotb

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")

CONFIGS = [(e, l) for e in (8, 16, 32) for l in (8, 16)]
SLOW_CONFIGS = [(8, 32, None), (32, 4, None), (32, 16, 24), (16, 8, 64), (8, 1, 3)]


@pytest.mark.parametrize("elem_bits, lanes", CONFIGS)
def test_compressor(elem_bits, lanes, sim):
    run_cocotb("zvc-compress", dict(elem_bits=elem_bits, lanes=lanes),
               "cdma.sim.zvc.test_zvc_compress", sim=sim)


@pytest.mark.parametrize("elem_bits, lanes", CONFIGS)
def test_decompressor(elem_bits, lanes, sim):
    run_cocotb("zvc-decompress", dict(elem_bits=elem_bits, lanes=lanes),
               "cdma.sim.zvc.test_zvc_decompress", sim=sim)


@pytest.mark.parametrize("elem_bits, lanes", [(8, 16), (16, 8), (32, 16)])
def test_round_trip(elem_bits, lanes, sim):
    run_cocotb("zvc-loopback", dict(elem_bits=elem_bits, lanes=lanes),
               "cdma.sim.zvc.test_zvc_loopback", sim=sim)


@pytest.mark.slow
@pytest.mark.parametrize("elem_bits, lanes, nbytes", SLOW_CONFIGS)
def test_other_widths(elem_bits, lanes, nbytes, sim):
    run_cocotb("zvc-compress", dict(elem_bits=elem_bits, lanes=lanes, out_bytes=nbytes),
               "cdma.sim.zvc.test_zvc_compress", sim=sim)
    run_cocotb("zvc-decompress", dict(elem_bits=elem_bits, lanes=lanes, in_bytes=nbytes),
               "cdma.sim.zvc.test_zvc_decompress", sim=sim)
    run_cocotb("zvc-loopback", dict(elem_bits=elem_bits, lanes=lanes, mid_bytes=nbytes),
               "cdma.sim.zvc.test_zvc_loopback", sim=sim)


@pytest.mark.slow
@pytest.mark.parametrize("module, test_module", [("zvc-compress", "cdma.sim.zvc.test_zvc_compress"),
                                                 ("zvc-decompress", "cdma.sim.zvc.test_zvc_decompress")])
@pytest.mark.parametrize("elem_bits, lanes", [(8, 16), (32, 16)])
def test_throughput_64k(module, test_module, elem_bits, lanes, tmp_path, sim):
    """At least 95% of min(input width, output width x ratio) at every density."""
    out = tmp_path / "bench.jsonl"
    run_cocotb(module, dict(elem_bits=elem_bits, lanes=lanes), test_module,
               testcase="test_throughput", sim=sim,
               extra_env=dict(CDMA_BENCH_DENSITIES="0,0.1,0.25,0.5,0.75,0.9,1",
                              CDMA_BENCH_BYTES="65536", CDMA_BENCH_OUT=str(out)))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 7
    for r in rows:
        ratio = r["raw_bytes"] / r["enc_bytes"]
        raw_w = r["in_bytes"] if r["dut"] == "compress" else r["out_bytes"]
        enc_w = r["out_bytes"] if r["dut"] == "compress" else r["in_bytes"]
        bound = min(raw_w, enc_w * ratio)
        assert r["raw_bytes"] / r["cycles"] >= 0.95 * bound, r
