"""The cocotb tests of a codec decompressor (ZVC decompressor, RLE decoder), for either
codec: golden payloads (or malformed ones golden rejects) in, the original elements and
the golden error codes out.

The test modules ``sim/zvc/test_zvc_*.py`` and ``sim/rle/test_rle_*.py`` import
these tests; the codec is the generated module's (:func:`codec_checks.codec_under_test`).
"""
from __future__ import annotations

import numpy as np

import cocotb

from cdma import golden
from cdma.sim import codec_checks as checks

CODEC, payloads = checks.codec_under_test()
#: Density of the good chunk after each malformed one.
DENSITY = 0.5 if CODEC is golden.zvc else 0.3


@cocotb.test(timeout_time=50, timeout_unit="ms")
async def test_payload_classes(dut):
    """Golden encodings of every payload class, random idle cycles and backpressure."""
    tb = await checks.start(dut, idle=(0.2, 5), backpressure=(0.3, 6))
    cases = payloads.payload_classes(tb.elem_bits, tb.lanes,
                                     np.random.default_rng(tb.elem_bits + tb.lanes + 1))
    await checks.check_decoder(tb, CODEC, [x for _, x in cases], [n for n, _ in cases])


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def test_malformed_recovery(dut):
    """Each malformed chunk raises the golden error code; the next good chunk decodes."""
    tb = await checks.start(dut, idle=(0.2, 7), backpressure=(0.3, 8))
    rng = np.random.default_rng(9)
    cases = payloads.malformed_cases(tb.elem_bits, rng)
    await checks.malformed_recovery(tb, CODEC, cases, rng, density=DENSITY)


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def test_back_to_back(dut):
    """Short random chunks back to back at full rate."""
    tb = await checks.start(dut)
    rng = np.random.default_rng(10)
    chunks = checks.random_chunks(tb, payloads, rng)
    await checks.check_decoder(tb, CODEC, chunks)


@cocotb.test(timeout_time=2000, timeout_unit="ms")
async def test_throughput(dut):
    """Bench: cycles for a transfer at each density (no idle, no backpressure unless asked)."""
    tb = await checks.start(dut)
    await checks.throughput(tb, CODEC, "decompress",
                            lambda chunks: checks.check_decoder(tb, CODEC, chunks))
