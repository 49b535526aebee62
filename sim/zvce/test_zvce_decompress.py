"""cocotb tests of the generated ZVCE decompressor (``cdma generate zvce-decompress``):
golden payloads (or malformed ones golden rejects) in, the original elements and
the golden error codes out."""
from __future__ import annotations

import numpy as np

import cocotb

from cdma.sim.zvce import checks, payloads


@cocotb.test(timeout_time=50, timeout_unit="ms")
async def test_payload_classes(dut):
    """Golden encodings of every payload class, random idle cycles and backpressure."""
    tb = await checks.start(dut, idle=(0.2, 5), backpressure=(0.3, 6))
    checks.set_table(tb, dict(payloads.tables(tb.elem_bits, np.random.default_rng(1)))["built"])
    cases = payloads.payload_classes(tb.elem_bits, tb.lanes,
                                     np.random.default_rng(tb.elem_bits + tb.lanes + 1))
    await checks.check_decoder(tb, [x for _, x in cases], [n for n, _ in cases])


@cocotb.test(timeout_time=50, timeout_unit="ms")
async def test_tables(dut):
    """Every table variant on chunks around the window edges."""
    tb = await checks.start(dut, idle=(0.2, 3), backpressure=(0.3, 4))
    rng = np.random.default_rng(6)
    chunks = [payloads.activations(n, d, tb.elem_bits, rng)
              for n, d in ((31, 0.6), (32, 0.9), (33, 0.3), (1, 1.0), (64, 0.0), (70, 1.0))]
    for name, table in payloads.tables(tb.elem_bits, rng):
        checks.set_table(tb, table)
        await checks.check_decoder(tb, chunks, [f"{name} {k}" for k in range(len(chunks))])


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def test_malformed_recovery(dut):
    """Each malformed chunk raises the golden error code; the next good chunk decodes."""
    tb = await checks.start(dut, idle=(0.2, 7), backpressure=(0.3, 8))
    rng = np.random.default_rng(9)
    await checks.malformed_recovery(tb, payloads.malformed_cases(tb.elem_bits, tb.table, rng), rng)


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def test_back_to_back(dut):
    """Short random chunks back to back at full rate."""
    tb = await checks.start(dut)
    rng = np.random.default_rng(10)
    chunks = [payloads.activations(int(rng.integers(1, 5 * tb.lanes)), float(rng.random()),
                                   tb.elem_bits, rng) for _ in range(30)]
    await checks.check_decoder(tb, chunks)


@cocotb.test(timeout_time=2000, timeout_unit="ms")
async def test_throughput(dut):
    """Bench: cycles for a transfer at each density (no idle, no backpressure unless asked)."""
    tb = await checks.start(dut)
    await checks.throughput(tb, "decompress", lambda chunks: checks.check_decoder(tb, chunks))
