"""cocotb round trip of the generated ZVCE loopback (``cdma generate zvce-loopback``)."""
from __future__ import annotations

import numpy as np

import cocotb

from cdma.sim.zvce import checks, payloads


@cocotb.test(timeout_time=50, timeout_unit="ms")
async def test_round_trip(dut):
    """Every payload class through compressor and decompressor, gaps and backpressure."""
    tb = await checks.start(dut, idle=(0.2, 11), backpressure=(0.3, 12))
    checks.set_table(tb, dict(payloads.tables(tb.elem_bits, np.random.default_rng(2)))["built"])
    await checks.round_trip(tb, payloads.payload_classes(tb.elem_bits, tb.lanes,
                                                         np.random.default_rng(13)))
