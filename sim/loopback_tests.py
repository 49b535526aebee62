"""The cocotb tests of a codec loopback top (compressor into decompressor), for either
codec: every payload class comes back exactly.

The test modules ``sim/zvc/test_zvc_loopback.py`` and ``sim/rle/test_rle_loopback.py``
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

#: The codec under test: its golden model and its stimulus.
CODEC_NAME = os.environ.get("CDMA_MODULE", "zvc-").partition("-")[0]
CODEC = getattr(golden, CODEC_NAME)
_payloads = importlib.import_module(f"cdma.sim.{CODEC_NAME}.payloads")
payload_classes, random_elements = _payloads.payload_classes, _payloads.random_elements


@cocotb.test(timeout_time=50, timeout_unit="ms")
async def test_round_trip(dut):
    """Every payload class through both blocks restores the input exactly."""
    tb = await checks.start(dut, idle=(0.2, 11), backpressure=(0.3, 12))
    await checks.round_trip(tb, payload_classes(tb.elem_bits, tb.lanes,
                                                np.random.default_rng(tb.elem_bits * tb.lanes)))
