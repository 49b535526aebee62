"""cocotb tests of the generated ZVCE compressor (``cdma generate zvce-compress``):
every output byte equals ``golden.zvce.encode`` of the same elements and table."""
from __future__ import annotations

import numpy as np

import cocotb

from cdma.sim.stream_tb import random_pauses
from cdma.sim.zvce import checks, payloads


@cocotb.test(timeout_time=50, timeout_unit="ms")
async def test_payload_classes(dut):
    """Every payload class with a table built from activations, random idle cycles
    on s_axis and backpressure on m_axis."""
    tb = await checks.start(dut, idle=(0.2, 1), backpressure=(0.3, 2))
    checks.set_table(tb, dict(payloads.tables(tb.elem_bits, np.random.default_rng(1)))["built"])
    cases = payloads.payload_classes(tb.elem_bits, tb.lanes,
                                     np.random.default_rng(tb.elem_bits + tb.lanes))
    await checks.check_encoder(tb, [x for _, x in cases], [n for n, _ in cases])


@cocotb.test(timeout_time=50, timeout_unit="ms")
async def test_tables(dut):
    """Every table variant (default, built, 0-width classes, a repeated symbol,
    all literals) on chunks around the window edges and all-zero / all-nonzero."""
    tb = await checks.start(dut, idle=(0.2, 3), backpressure=(0.3, 4))
    rng = np.random.default_rng(5)
    chunks = [payloads.activations(n, d, tb.elem_bits, rng)
              for n, d in ((31, 0.6), (32, 0.9), (33, 0.3), (1, 1.0), (64, 0.0), (70, 1.0))]
    for name, table in payloads.tables(tb.elem_bits, rng):
        checks.set_table(tb, table)
        await checks.check_encoder(tb, chunks, [f"{name} {k}" for k in range(len(chunks))])


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def test_back_to_back(dut):
    """Short random chunks back to back at full rate, then under heavy backpressure."""
    tb = await checks.start(dut)
    rng = np.random.default_rng(3)
    chunks = [payloads.activations(int(rng.integers(1, 5 * tb.lanes)), float(rng.random()),
                                   tb.elem_bits, rng) for _ in range(30)]
    await checks.check_encoder(tb, chunks)
    tb.set_backpressure_generator(random_pauses(0.7, 4))
    await checks.check_encoder(tb, chunks[::-1])


@cocotb.test(timeout_time=2000, timeout_unit="ms")
async def test_throughput(dut):
    """Bench: cycles for a transfer at each density (no idle, no backpressure unless asked)."""
    tb = await checks.start(dut)
    await checks.throughput(tb, "compress", lambda chunks: checks.check_encoder(tb, chunks))
