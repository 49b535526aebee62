"""The cocotb tests of a codec compressor (ZVC compressor, RLE encoder), for either codec:
every output byte equals the golden encoding of the same elements.

The test modules ``sim/zvc/test_zvc_compress.py`` and ``sim/rle/test_rle_encode.py``
import these tests; the codec is the generated module's (``CDMA_MODULE``, set by
``sim/runner.py`` and the Makefiles: ``zvc-...`` or ``rle-...``), with its golden
model and its payload classes (``sim/<codec>/payloads.py``).  The checks
themselves are in ``sim/codec_checks.py``.
"""
from __future__ import annotations

import importlib
import os

import numpy as np

import cocotb

from cdma import golden
from cdma.sim import codec_checks as checks
from cdma.sim.stream_tb import random_pauses

#: The codec under test: its golden model and its stimulus.
CODEC_NAME = os.environ.get("CDMA_MODULE", "zvc-").partition("-")[0]
CODEC = getattr(golden, CODEC_NAME)
_payloads = importlib.import_module(f"cdma.sim.{CODEC_NAME}.payloads")
payload_classes, random_elements = _payloads.payload_classes, _payloads.random_elements


@cocotb.test(timeout_time=50, timeout_unit="ms")
async def test_payload_classes(dut):
    """Every payload class, random idle cycles on s_axis and backpressure on m_axis."""
    tb = await checks.start(dut, idle=(0.2, 1), backpressure=(0.3, 2))
    cases = payload_classes(tb.elem_bits, tb.lanes, np.random.default_rng(tb.elem_bits + tb.lanes))
    tb.log.info("%d chunks", len(cases))
    await checks.check_encoder(tb, CODEC, [x for _, x in cases], [n for n, _ in cases])


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def test_back_to_back(dut):
    """Short random chunks back to back at full rate, then under heavy backpressure."""
    tb = await checks.start(dut)
    rng = np.random.default_rng(3)
    chunks = [random_elements(int(rng.integers(1, 5 * tb.lanes)), float(rng.random()),
                              tb.elem_bits, rng) for _ in range(40)]
    await checks.check_encoder(tb, CODEC, chunks)
    tb.set_backpressure_generator(random_pauses(0.7, 4))
    await checks.check_encoder(tb, CODEC, chunks[::-1])


@cocotb.test(timeout_time=2000, timeout_unit="ms")
async def test_throughput(dut):
    """Bench: cycles for a transfer at each density (no idle, no backpressure unless asked)."""
    tb = await checks.start(dut)
    await checks.throughput(tb, CODEC, "compress",
                            lambda chunks: checks.check_encoder(tb, CODEC, chunks))
