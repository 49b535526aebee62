"""The cocotb tests of a codec compressor (ZVC compressor, RLE encoder), for either codec:
every output byte equals the golden encoding of the same elements.

The test modules ``sim/zvc/test_zvc_*.py`` and ``sim/rle/test_rle_*.py`` import
these tests; the codec is the generated module's (:func:`codec_checks.codec_under_test`).
"""
from __future__ import annotations

import numpy as np

import cocotb

from cdma.sim import codec_checks as checks
from cdma.sim.stream_tb import random_pauses

CODEC, payloads = checks.codec_under_test()


@cocotb.test(timeout_time=50, timeout_unit="ms")
async def test_payload_classes(dut):
    """Every payload class, random idle cycles on s_axis and backpressure on m_axis."""
    tb = await checks.start(dut, idle=(0.2, 1), backpressure=(0.3, 2))
    cases = payloads.payload_classes(tb.elem_bits, tb.lanes,
                                     np.random.default_rng(tb.elem_bits + tb.lanes))
    tb.log.info("%d chunks", len(cases))
    await checks.check_encoder(tb, CODEC, [x for _, x in cases], [n for n, _ in cases])


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def test_back_to_back(dut):
    """Short random chunks back to back at full rate, then under heavy backpressure."""
    tb = await checks.start(dut)
    rng = np.random.default_rng(3)
    chunks = checks.random_chunks(tb, payloads, rng)
    await checks.check_encoder(tb, CODEC, chunks)
    tb.set_backpressure_generator(random_pauses(0.7, 4))
    await checks.check_encoder(tb, CODEC, chunks[::-1])


@cocotb.test(timeout_time=2000, timeout_unit="ms")
async def test_throughput(dut):
    """Bench: cycles for a transfer at each density (no idle, no backpressure unless asked)."""
    tb = await checks.start(dut)
    await checks.throughput(tb, CODEC, "compress",
                            lambda chunks: checks.check_encoder(tb, CODEC, chunks))
