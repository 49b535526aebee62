"""cocotb regressions of ``engine-axil``: the driver-style bench (``sim/engine/test_axil.py``).

A host driver (``sim/engine/driver.py``) on cocotbext-axi's ``AxiLiteMaster``
runs the engine through its registers: identity, illegal accesses, a
multi-layer offload/prefetch round trip with interrupts and queue-full back-off,
interrupt masking and coalescing, error statuses and a full submission queue.
One build of a 16 B/cycle engine (the front end does not depend on the width).
"""
from __future__ import annotations

import shutil

import pytest

from cdma.sim.runner import run_cocotb

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")

#: The bench's engine: fp32, 32-byte memory beats, 16-byte PCIe beats, 1 KiB chunks,
#: every codec (ZVCE's code table through its registers).
PARAMS = dict(elem_bits=32, mem_bytes=32, pcie_bytes=16, chunk_bytes=1024, dec_instances=1,
              codecs=0b1111, sub_depth=4, status_depth=8)
TESTS = ["test_identity_and_illegal_accesses", "test_round_trip", "test_irq_mask_and_coalescing",
         "test_errors_and_full_queue"]


def test_engine_axil(sim):
    run_cocotb("engine-axil", PARAMS, "cdma.sim.engine.test_axil", testcase=TESTS, sim=sim)


@pytest.mark.slow
def test_engine_axil_defaults(sim):
    """The same bench on the default engine (16 B beats both sides, 4 KiB chunks, raw+ZVC+RLE)."""
    run_cocotb("engine-axil", {}, "cdma.sim.engine.test_axil", testcase=TESTS, sim=sim)
