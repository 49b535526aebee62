"""cocotb/Icarus regressions of the generated cDMA engine (driven through sim.runner).

Each configuration builds in its own directory under ``build/sim/icarus/``; the
cocotb tests (``sim/engine/test_engine.py``) compare every C2H frame, memory
image and status word with ``golden.engine.EngineModel``.
"""
from __future__ import annotations

import shutil

import pytest

from cdma.sim.runner import run_cocotb

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")

OFFLOAD_TESTS = ["test_offload_clean", "test_offload_stress", "test_offload_bad_descriptors",
                 "test_axi_errors"]
PREFETCH_TESTS = ["test_prefetch_clean", "test_prefetch_stress", "test_prefetch_malformed",
                  "test_prefetch_tiny_chunks"]


ALL_TESTS = OFFLOAD_TESTS + PREFETCH_TESTS + ["test_round_trip"]
#: The tests the 16-bit engine runs in the default suite (`-m slow`: every
#: test): bad descriptors, AXI errors, malformed frames, tiny chunks and the
#: round trip (every codec, pauses on every channel, multi-chunk layers).  Bulk
#: transfers of 16-bit elements, byte-exact both ways, also run in
#: tests/test_sim_throughput.py (ZVC frames of 16 KiB at densities 0.1 and 0.5).
EDGE_TESTS = ["test_offload_bad_descriptors", "test_axi_errors", "test_prefetch_malformed",
              "test_prefetch_tiny_chunks", "test_round_trip"]


@pytest.mark.parametrize("params, tests", [
    pytest.param(dict(elem_bits=32), ALL_TESTS, id="32"),      # the defaults (16 B/cycle both sides)
    pytest.param(dict(elem_bits=16), EDGE_TESTS, id="16"),     # 16-bit elements, the default widths
    pytest.param(dict(elem_bits=16), ALL_TESTS, marks=pytest.mark.slow, id="16-all"),
    # the wide datapath (its 32 x 16 decompressor also runs in tests/test_sim_zvc.py
    # and tests/test_hw_zvc_window.py): 5-7 minutes of Icarus, the default suite's
    # longest test, so under `-m slow` / `make test-slow`
    pytest.param(dict(elem_bits=32, mem_bytes=64, pcie_bytes=32), ALL_TESTS,
                 marks=pytest.mark.slow, id="32-64-32"),
])
def test_engine(params, tests, sim):
    """Offload, prefetch, malformed frames and the round trip: one build per configuration."""
    run_cocotb("engine", params, "cdma.sim.engine.test_engine", testcase=tests, sim=sim)


@pytest.mark.parametrize("codecs", [
    "zvce",                                              # the default suite: the new codec
    pytest.param("raw,zvc,zvce", marks=pytest.mark.slow),
])
def test_engine_zvce(codecs, sim):
    """ZVCE built in (frames of version 2 written and read) in a 16 B/cycle engine:
    every test, the code table's checks among the malformed frames and the bad
    descriptors.  The default suite sends ZVCE transfers only (raw and ZVC are
    the default engine's, in test_engine; ZVCE frames carry ZVC and raw chunks
    too); `-m slow` every codec built in."""
    run_cocotb("engine", dict(elem_bits=32, mem_bytes=16, pcie_bytes=16, codecs=0b1011),
               "cdma.sim.engine.test_engine", testcase=ALL_TESTS, sim=sim,
               extra_env=dict(CDMA_CODECS=codecs))


@pytest.mark.slow
def test_engine_zvce_bf16(sim):
    """ZVCE at 16-bit elements (8 lanes), every codec, 1 KiB chunks, an 8 B PCIe side."""
    run_cocotb("engine", dict(elem_bits=16, mem_bytes=16, pcie_bytes=8, codecs=0b1111,
                              chunk_bytes=1024),
               "cdma.sim.engine.test_engine", testcase=ALL_TESTS, sim=sim)


@pytest.mark.slow
@pytest.mark.parametrize("elem_bits, mem_bytes, pcie_bytes, chunk_bytes",
                         [(8, 32, 32, 512), (32, 32, 64, 1024), (16, 16, 4, 512)])
def test_other_widths(elem_bits, mem_bytes, pcie_bytes, chunk_bytes, sim):
    run_cocotb("engine", dict(elem_bits=elem_bits, mem_bytes=mem_bytes, pcie_bytes=pcie_bytes,
                              chunk_bytes=chunk_bytes),
               "cdma.sim.engine.test_engine", testcase=ALL_TESTS, sim=sim)


@pytest.mark.slow
def test_throughput_256k(sim):
    """>= 95 % of min(mem_bytes, pcie_bytes x ratio) both ways at densities 0.1/0.5/0.9
    (the 64/32 B engine; `cdma bench engine` measures the defaults)."""
    run_cocotb("engine", dict(elem_bits=32, mem_bytes=64, pcie_bytes=32), "cdma.sim.engine.test_engine",
               testcase="test_throughput", sim=sim)
