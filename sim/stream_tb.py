"""Testbench of the chunk codec tops (ZVC and RLE): clock, reset, AXI4-Stream models,
cycle counters and the stream-rule monitor.

Both codecs' generated tops have the same ports (``clk``, ``rst``, ``s_axis_*``,
``m_axis_*`` and, on the decoders and the loopbacks, ``s_count_*``, ``error``,
``error_code``), so one bench drives all six; the cocotb test modules in
``sim/zvc``, ``sim/rle`` and ``sim/faults`` use it.
"""
from __future__ import annotations

import itertools
import json
import logging
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from cdma.sim.runner import params_from_env

__all__ = ["StreamTB", "random_pauses", "bench_settings", "report"]


def random_pauses(probability, seed):
    """Endless pause pattern for ``set_pause_generator``: True with ``probability``."""
    rng = random.Random(seed)
    return (rng.random() < probability for _ in itertools.count())


def bench_settings():
    """``(densities, transfer bytes, chunk bytes, output file)`` of a bench run
    (the ``test_throughput`` tests) from the environment.

    ``CDMA_BENCH_DENSITIES`` (comma-separated, default ``0,0.5,1``),
    ``CDMA_BENCH_BYTES`` (default 4096), ``CDMA_BENCH_CHUNK_BYTES`` (0: the whole
    transfer is one chunk) and ``CDMA_BENCH_OUT`` (JSON lines, optional).
    """
    dens = os.environ.get("CDMA_BENCH_DENSITIES", "0,0.5,1")
    return ([float(d) for d in dens.split(",")],
            int(os.environ.get("CDMA_BENCH_BYTES", "4096")),
            int(os.environ.get("CDMA_BENCH_CHUNK_BYTES", "0")),
            os.environ.get("CDMA_BENCH_OUT"))


def report(path, **row):
    """Append one JSON line to the bench's result file (if any)."""
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(row) + "\n")


class StreamTB:
    """Clock, reset, AXI4-Stream source/sink, counters and monitors around a codec top.

    Parameters
    ----------
    dut : cocotb handle
        The generated top level.

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
    last_users : list of int
        ``m_axis_tuser`` of every beat with ``tlast`` (empty without ``tuser``).
    rule_violations : list
        The first :attr:`MAX_VIOLATIONS` cycles in which ``m_axis`` dropped
        ``tvalid`` or changed its payload while stalled; :meth:`check_rules`
        fails unless it is empty.
    """

    MAX_VIOLATIONS = 10

    def __init__(self, dut):
        self.dut = dut
        self.log = logging.getLogger("cocotb.tb")
        self.log.setLevel(logging.INFO)
        self.params = params_from_env()
        self.elem_bits = self.params.get("elem_bits", 32)
        self.lanes = self.params.get("lanes", 16)
        self.has_count = hasattr(dut, "s_count_tdata")
        # Drive every input before the models start.
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
        self.errors, self.last_users, self.rule_violations = [], [], []
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
        has_user = hasattr(dut, "m_axis_tuser")
        edge = RisingEdge(dut.clk)
        held = None              # m_axis beat offered but not taken at the last edge
        while True:
            await edge
            self.cycle += 1
            if int(dut.s_axis_tvalid.value) and int(dut.s_axis_tready.value):
                self.in_beats += 1
                if self.first_in is None:
                    self.first_in = self.cycle
            # Stream rule on the DUT's output: once valid, valid and payload hold
            # until the transfer.
            valid, ready = int(dut.m_axis_tvalid.value), int(dut.m_axis_tready.value)
            beat = (int(dut.m_axis_tdata.value), int(dut.m_axis_tkeep.value),
                    int(dut.m_axis_tlast.value)) if valid else None
            if (held is not None and beat != held
                    and len(self.rule_violations) < self.MAX_VIOLATIONS):
                self.rule_violations.append((self.cycle, held, beat))
            held = beat if valid and not ready else None
            if valid and ready:
                self.out_beats += 1
                self.last_out = self.cycle
                if has_user and int(dut.m_axis_tlast.value):
                    self.last_users.append(int(dut.m_axis_tuser.value))
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
        self.cycle = 0
        self.start_measure()

    def start_measure(self):
        """Restart the beat counters (first input beat .. last output beat)."""
        self.first_in = self.last_out = None
        self.in_beats = self.out_beats = 0

    def measured_cycles(self):
        """Cycles from the first input transfer to the last output transfer, both included."""
        return self.last_out - self.first_in + 1

    def check_rules(self):
        """Fail if ``m_axis`` ever dropped valid or changed its payload before a transfer."""
        assert not self.rule_violations, (f"m_axis valid/ready rule broken (cycle, held beat, "
                                          f"next beat): {self.rule_violations}")

    async def send_count(self, count):
        await self.count_source.send(AxiStreamFrame(int(count).to_bytes(4, "little")))

    async def recv(self):
        """Kept bytes of the next output packet and its last beat's ``tuser``."""
        frame = await self.sink.recv(compact=False)
        data = bytes(b for b, k in zip(frame.tdata, frame.tkeep) if k)
        user = frame.tuser[-1] if frame.tuser else 0
        return data, user
