"""Throughput checks of the default suite: each block and the engine must keep its
share of the bound on a short transfer.

Cycle counts are deterministic (no random pauses), so a short run measures the
same figure every time.  Short transfers include the pipeline fill and the
engine's descriptor-to-status latency, so their shares are below the claims of
the long runs (README, docs/ZVC.md, docs/RLE.md, docs/ENGINE.md: 256 KiB, under
``-m slow`` / ``make test-slow``).  Each threshold is the share measured on the
same transfer minus a margin of a few cycles: a pipeline stage more or less
passes, a bubble every 64 beats or worse fails.  The runs use the benches
themselves (``cdma.bench.zvc``/``rle``/``engine``.measure), which
also compare every byte with the golden model.

Measured 2026-12-02 under Icarus 11 on main at 158d292, the engine's again
after its default became one decompressor per codec (and the 16 B/cycle
default's on 2026-12-06) (the shares are cycle
counts, not times: the machine's load does not change them), by running these
tests with ``-s`` (each prints its shares); the same figures come from ``cdma
bench zvc --sim icarus --config 32:16 --bytes 32768 --densities 0,0.5,1`` (and
``--config 32:16:16 --densities 0.25,0.5 --dut compress``), ``cdma bench rle
--sim icarus --config 32:16 --bytes 32768 --densities 0,0.5,1`` and ``cdma bench
engine --kib 32 --densities 0.1,0.5 --min-share 0`` (its zvc rows).
"""
from __future__ import annotations

import importlib
import shutil

import pytest

from cdma.bench import engine as bench_engine
from cdma.sim.runner import build_root

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")

#: Codec blocks, one 32 KiB chunk per density (512 input beats at 64 B), no idle,
#: no backpressure; bound = min(raw width, encoded width x ratio).  The shares
#: include the pipeline fill (9-17 cycles of ~530).
#: (bench, block, (elem_bits, lanes, encoded-side bytes or None), {density: share measured})
CODEC_CASES = [
    ("zvc", "compress", (32, 16, None), {0.0: 0.9679, 0.5: 0.9660, 1.0: 0.9688}),
    # (re-measured 2026-12-07 at f182d8d: the 16-lane window decoder's latency
    # and chunk end, ~7 cycles more; 98.27/98.27/98.51 % before)
    ("zvc", "decompress", (32, 16, None), {0.0: 0.9697, 0.5: 0.9697, 1.0: 0.9706}),
    # 16-byte output: compaction is what limits it (README's worst 64 KiB row)
    ("zvc", "compress", (32, 16, 16), {0.25: 0.9566, 0.5: 0.9847}),
    ("rle", "compress", (32, 16, None), {0.0: 0.9679, 0.5: 0.9679, 1.0: 0.9741}),
    ("rle", "decompress", (32, 16, None), {0.0: 0.9570, 0.5: 0.9570, 1.0: 0.9668}),
]
#: One point of share is ~5 cycles on these transfers.
CODEC_MARGIN = 0.01

#: Engine, ZVC frames, memory read latency 24 cycles; cycles from the descriptor
#: handshake to the status word (so ~60-150 cycles of latency and fill are in);
#: bound = min(mem_bytes, pcie_bytes x ratio).
#: (engine parameters, KiB per transfer, {(direction, density): share measured})
#: Re-measured 2026-12-05 (session 20): the offload path's register stages for
#: timing (the frame reader's RAM-output register, the slice in front of the
#: codec stage) add 2 cycles per transfer; the earlier figures (86.78/83.94/
#: 81.37/84.54 % and 83.66/76.41/75.54/78.64 %) had drifted by up to 1.4
#: points below the offload ones and 12 points above the prefetch ones.
ENGINE_CASES = [
    # the defaults (16 B/cycle both sides since 2026-12-06; measured at 532ab54)
    (dict(elem_bits=32), 32,
     {("offload", 0.1): 0.9481, ("prefetch", 0.1): 0.9512,
      ("offload", 0.5): 0.9046, ("prefetch", 0.5): 0.9512}),
    # the 64/32 B/cycle widths (one decompressor per codec; slow: 2.3 minutes
    # of Icarus, and `test_throughput_256k` checks that engine's share too)
    pytest.param(dict(elem_bits=32, mem_bytes=64, pcie_bytes=32), 32,
                 {("offload", 0.1): 0.8505, ("prefetch", 0.1): 0.9030,
                  ("offload", 0.5): 0.7994, ("prefetch", 0.5): 0.9060},
                 marks=pytest.mark.slow),
    # 16-bit elements, half the beat widths (same Wm / Wp); re-measured
    # 2026-12-07 at f182d8d, its decompressor (16 x 16) now the window decoder
    # (latency and chunk ends): ~15 cycles more per prefetch of 4 chunks
    # (88.43/89.80 % before)
    (dict(elem_bits=16, mem_bytes=32, pcie_bytes=16), 16,
     {("offload", 0.1): 0.8192, ("prefetch", 0.1): 0.8620,
      ("offload", 0.5): 0.7429, ("prefetch", 0.5): 0.8842}),
]
#: 1.5 points of share is ~9 cycles on these transfers.
ENGINE_MARGIN = 0.015


def _below(measured, got, margin):
    """Points whose share fell more than ``margin`` under the measured one."""
    return {k: f"{100 * got[k]:.2f} % < {100 * (m - margin):.2f} % (measured {100 * m:.2f} %)"
            for k, m in measured.items() if got[k] < m - margin}


@pytest.mark.parametrize("bench, dut, config, measured", CODEC_CASES,
                         ids=[f"{b}-{d}-{c[0]}x{c[1]}" + (f"-{c[2]}B" if c[2] else "")
                              for b, d, c, _ in CODEC_CASES])
def test_codec_throughput_32k(bench, dut, config, measured, sim):
    mod = importlib.import_module(f"cdma.bench.{bench}")
    rows = mod.measure([config], (dut,), list(measured), 32 << 10, sim=sim,
                       build_root=build_root() / "sim")
    got = {r["density"]: r["efficiency"] for r in rows}
    assert sorted(got) == sorted(measured)
    print({d: round(s, 4) for d, s in got.items()})
    below = _below(measured, got, CODEC_MARGIN)
    assert not below, f"{bench} {dut} {config}: share of the bound dropped: {below}"


@pytest.mark.slow
@pytest.mark.parametrize("bench", ["zvc", "rle"])
@pytest.mark.parametrize("dut", ["compress", "decompress"])
@pytest.mark.parametrize("elem_bits, lanes", [(8, 16), (32, 16)])
def test_codec_throughput_64k(bench, dut, elem_bits, lanes, sim):
    """The claim of the long runs: at least 95 % of min(raw width, coded width x
    ratio) at every density of one 64 KiB chunk (the bound worked out here from
    the bench's byte counts, not taken from the bench)."""
    from cdma.bench.blocks import DENSITIES
    mod = importlib.import_module(f"cdma.bench.{bench}")
    rows = mod.measure([(elem_bits, lanes, None)], (dut,), DENSITIES, 64 << 10, sim=sim,
                       build_root=build_root() / "sim")
    assert sorted(r["density"] for r in rows) == sorted(DENSITIES)
    for r in rows:
        ratio = r["raw_bytes"] / r["enc_bytes"]
        raw_w = r["in_bytes"] if r["dut"] == "compress" else r["out_bytes"]
        enc_w = r["out_bytes"] if r["dut"] == "compress" else r["in_bytes"]
        assert r["raw_bytes"] / r["cycles"] >= 0.95 * min(raw_w, enc_w * ratio), r


@pytest.mark.parametrize("params, kib, measured", ENGINE_CASES,
                         ids=["default", "m64-p32", "e16-m32-p16"])
def test_engine_throughput(params, kib, measured, sim):
    """Offload and prefetch of ZVC frames, both directions checked against golden."""
    densities = sorted({d for _, d in measured})
    rows = bench_engine.measure(densities, kib, sim=sim, baseline=False, min_share=0.0,
                                **params)
    got = {(r["direction"], r["density"]): r["efficiency"] for r in rows}
    assert sorted(got) == sorted(measured)
    print({k: round(s, 4) for k, s in got.items()})
    below = _below(measured, got, ENGINE_MARGIN)
    assert not below, f"engine {params}: share of the bound dropped: {below}"


def test_engine_bench_fails_below_min_share(monkeypatch, sim):
    """The bench reports its rows and fails when a point is below ``min_share``:
    1 KiB transfers reach far less than 95 % of the bound (latency dominates)."""
    # Outside pytest the cocotb runner returns the results; inside it would end
    # the test itself, before the bench could report.
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    with pytest.raises(bench_engine.BenchFailed) as failed:
        bench_engine.measure([0.5], 1, sim=sim, baseline=False, min_share=0.95)
    rows = failed.value.rows
    assert [(r["direction"], r["density"]) for r in rows] == [("offload", 0.5),
                                                              ("prefetch", 0.5)]
    assert all(r["efficiency"] < 0.95 for r in rows), rows
