"""cocotb round trip: RLE encoder -> decoder (``cdma generate rle-loopback``).

The elements that come out must be the elements that went in, for every
payload class, with random idle cycles and backpressure.
"""
from __future__ import annotations

import numpy as np

import cocotb
from cocotbext.axi import AxiStreamFrame

from cdma.sim.stream_tb import StreamTB, random_pauses

from .payloads import payload_classes


@cocotb.test(timeout_time=50, timeout_unit="ms")
async def test_round_trip(dut):
    """Every payload class through both blocks restores the input exactly."""
    tb = StreamTB(dut)
    tb.set_idle_generator(random_pauses(0.2, 11))
    tb.set_backpressure_generator(random_pauses(0.3, 12))
    await tb.reset()
    cases = payload_classes(tb.elem_bits, tb.lanes, np.random.default_rng(tb.elem_bits * tb.lanes))
    for _, x in cases:
        tb.source.send_nowait(AxiStreamFrame(x.tobytes()))

    async def counts():
        for _, x in cases:
            await tb.send_count(x.size)
    cocotb.start_soon(counts())
    for name, x in cases:
        data, user = await tb.recv()
        assert user == 0 and data == x.tobytes(), f"{name}: round trip differs"
    assert tb.errors == []
    tb.check_rules()
