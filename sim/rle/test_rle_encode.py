"""cocotb tests of the generated RLE encoder (``cdma generate rle-encode``): the encoder
tests of ``sim/encoder_tests.py`` (cocotb finds them in this module's namespace), run
with ``golden.rle`` as the reference, and chunks closed by a null beat.
"""
from __future__ import annotations

import numpy as np

import cocotb
from cocotbext.axi import AxiStreamFrame

from cdma import golden
from cdma.sim import codec_checks as checks
from cdma.sim.encoder_tests import test_back_to_back, test_payload_classes, test_throughput

from .payloads import random_elements

# cocotb collects the tests from this module's namespace
__all__ = ["test_payload_classes", "test_back_to_back", "test_throughput",
           "test_null_closing_beat"]


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def test_null_closing_beat(dut):
    """Chunks of whole beats closed by a beat with tkeep = 0 (also an empty chunk)."""
    tb = await checks.start(dut, backpressure=(0.3, 13))
    rng = np.random.default_rng(14)
    dt = golden.elem_dtype(tb.elem_bits)
    lanes = tb.lanes
    chunks = [np.zeros(256 + lanes, dt), np.zeros(0, dt), np.zeros(lanes, dt),
              random_elements(4 * lanes, 0.3, tb.elem_bits, rng), np.zeros(512, dt)]
    for x in chunks:
        data = x.tobytes()
        tb.source.send_nowait(AxiStreamFrame(data + b"\x00", tkeep=[1] * len(data) + [0]))
    for k, x in enumerate(chunks):
        data, _ = await tb.recv()
        assert data == golden.rle.encode(x, tb.elem_bits), f"chunk {k} ({x.size} elements)"
    tb.check_rules()
