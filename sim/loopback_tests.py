"""The cocotb tests of a codec loopback top (compressor into decompressor), for either
codec: every payload class comes back exactly.

The test modules ``sim/zvc/test_zvc_*.py`` and ``sim/rle/test_rle_*.py`` import
these tests; the codec is the generated module's (:func:`codec_checks.codec_under_test`).
"""
from __future__ import annotations

import numpy as np

import cocotb

from cdma.sim import codec_checks as checks

CODEC, payloads = checks.codec_under_test()


@cocotb.test(timeout_time=50, timeout_unit="ms")
async def test_round_trip(dut):
    """Every payload class through both blocks restores the input exactly."""
    tb = await checks.start(dut, idle=(0.2, 11), backpressure=(0.3, 12))
    cases = payloads.payload_classes(tb.elem_bits, tb.lanes,
                                     np.random.default_rng(tb.elem_bits * tb.lanes))
    await checks.round_trip(tb, cases)
