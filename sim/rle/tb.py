"""Testbench plumbing of the RLE cocotb tests: clock, reset, AXI4-Stream models, monitors."""
from __future__ import annotations

import itertools
import logging
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from sim.runner import params_from_env

__all__ = ["TB", "random_pauses"]


def random_pauses(probability, seed):
    """Endless pause pattern for ``set_pause_generator``: True with ``probability``."""
    rng = random.Random(seed)
    return (rng.random() < probability for _ in itertools.count())


class TB:
    """Clock, reset, AXI4-Stream source/sink and cycle counters around a generated RLE top.

    Parameters
    ----------
    dut : cocotb handle
        The generated top: ``clk``, ``rst``, ``s_axis_*``, ``m_axis_*`` and, on the
        decoder and the loopback, ``s_count_*``, ``error`` and ``error_code``.

    Attributes
    ----------
    params : dict
        Generator parameters (``CDMA_PARAM_*``), e.g. ``elem_bits``, ``lanes``.
    elem_bits, lanes : int
        The element width and lanes of the DUT (parameters or their defaults).
    source, sink, count_source : cocotbext.axi models
        ``count_source`` is None when the DUT has no ``s_count`` port.
    errors : list of int
        ``error_code`` at every ``error`` pulse, in order.
    stream_violations : list
        Cycles where ``m_axis`` dropped ``tvalid`` or changed its payload while
        stalled (must stay empty).
    """

    def __init__(self, dut):
        self.dut = dut
        self.log = logging.getLogger("cocotb.tb")
        self.log.setLevel(logging.INFO)
        self.params = params_from_env()
        self.elem_bits = self.params.get("elem_bits", 32)
        self.lanes = self.params.get("lanes", 16)
        self.has_count = hasattr(dut, "s_count_tdata")
        dut.rst.value = 1
        if self.has_count:
            dut.s_count_tvalid.value = 0
            dut.s_count_tdata.value = 0
        Clock(dut.clk, 4, unit="ns").start()
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)
        self.count_source = None
        if self.has_count:
            self.count_source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_count"),
                                                dut.clk, dut.rst)
        for model in (self.source, self.sink, self.count_source):
            if model is not None:
                model.log.setLevel(logging.WARNING)
        self.errors, self.stream_violations = [], []
        self.cycle = 0
        self.start_measure()
        cocotb.start_soon(self._monitor())

    @property
    def raw_bytes(self):
        """Bytes per raw element beat."""
        return self.lanes * self.elem_bits // 8

    async def _monitor(self):
        dut = self.dut
        has_err = hasattr(dut, "error")
        edge = RisingEdge(dut.clk)
        held = None
        while True:
            await edge
            self.cycle += 1
            if int(dut.s_axis_tvalid.value) and int(dut.s_axis_tready.value):
                self.in_beats += 1
                if self.first_in is None:
                    self.first_in = self.cycle
            valid = int(dut.m_axis_tvalid.value)
            ready = int(dut.m_axis_tready.value)
            beat = (int(dut.m_axis_tdata.value), int(dut.m_axis_tkeep.value),
                    int(dut.m_axis_tlast.value)) if valid else None
            if held is not None and beat != held:
                self.stream_violations.append((self.cycle, held, beat))
            held = beat if valid and not ready else None
            if valid and ready:
                self.out_beats += 1
                self.last_out = self.cycle
            if has_err and int(dut.error.value):
                self.errors.append(int(dut.error_code.value))

    def set_idle_generator(self, generator=None):
        """Pause pattern of ``s_axis`` (and, at half the rate, ``s_count``)."""
        self.source.set_pause_generator(generator)
        if self.count_source is not None:
            self.count_source.set_pause_generator(generator and random_pauses(0.5, 99))

    def set_backpressure_generator(self, generator=None):
        """Pause pattern of ``m_axis`` (tready low while True)."""
        self.sink.set_pause_generator(generator)

    async def reset(self):
        self.dut.rst.value = 1
        for _ in range(3):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)
        self.start_measure()

    def start_measure(self):
        """Restart the beat counters (first input beat .. last output beat)."""
        self.first_in = self.last_out = None
        self.in_beats = self.out_beats = 0

    def measured_cycles(self):
        return self.last_out - self.first_in + 1

    async def send_count(self, count):
        await self.count_source.send(AxiStreamFrame(int(count).to_bytes(4, "little")))

    async def recv(self):
        """Kept bytes of the next output packet and its last beat's ``tuser``."""
        frame = await self.sink.recv(compact=False)
        data = bytes(b for b, k in zip(frame.tdata, frame.tkeep) if k)
        user = frame.tuser[-1] if frame.tuser else 0
        return data, user
