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


@pytest.mark.parametrize("params", [
    dict(elem_bits=32),                                  # the defaults (16 B/cycle both sides)
    dict(elem_bits=16),                                  # 16-bit elements, the default widths
    # the wide datapath (its 32 x 16 decompressor also runs in tests/test_sim_zvc.py
    # and tests/test_hw_zvc_window.py): 5-7 minutes of Icarus, the default suite's
    # longest test, so under `-m slow` / `make test-slow`
    pytest.param(dict(elem_bits=32, mem_bytes=64, pcie_bytes=32), marks=pytest.mark.slow),
], ids=lambda p: "-".join(str(v) for v in p.values()))
def test_engine(params, sim):
    """Offload, prefetch, malformed frames and the round trip: one build per configuration."""
    run_cocotb("engine", params, "cdma.sim.engine.test_engine", testcase=ALL_TESTS, sim=sim)


def test_engine_zvce(sim):
    """ZVCE built in (frames of version 2 written and read) in a 16 B/cycle engine:
    every test, the code table's checks among the malformed frames and the bad
    descriptors."""
    run_cocotb("engine", dict(elem_bits=32, mem_bytes=16, pcie_bytes=16, codecs=0b1011),
               "cdma.sim.engine.test_engine", testcase=ALL_TESTS, sim=sim)


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
