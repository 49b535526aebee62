"""Testbench plumbing of the engine benches: clock, reset, AXI memory, PCIe streams, descriptors."""
from __future__ import annotations

import dataclasses
import logging

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.queue import Queue
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import (AxiBus, AxiRam, AxiStreamBus, AxiStreamFrame, AxiStreamSink,
                           AxiStreamSource)

from cdma.golden.engine import Descriptor, EngineModel, Status
from cdma.golden.frame import Codec
from cdma.golden.zvce import TABLE_BYTES, build_table
from cdma.hw.engine.params import EngineParams
from cdma.sim.runner import params_from_env
from cdma.sim.stream_tb import random_pauses
from cdma.sim.zvce.payloads import activations as relu_activations

__all__ = ["EngineBusTB", "TB", "activations", "set_error_range", "place_ranges"]


def activations(n_elems, density, elem_bits, rng):
    """``n_elems`` random elements (uint array) with about ``density`` nonzeros.

    Nonzero elements are random nonzero bit patterns (so -0.0, NaNs and
    denormals occur for floats), zeros are all-zero bits.
    """
    dt = {8: np.uint8, 16: np.uint16, 32: np.uint32}[elem_bits]
    vals = rng.integers(1, 1 << elem_bits, size=n_elems, dtype=np.uint64).astype(dt)
    keep = rng.random(n_elems) < density
    return np.where(keep, vals, 0).astype(dt)


def set_error_range(ram, lo, hi):
    """Make :class:`~cocotbext.axi.AxiRam` ``ram`` answer SLVERR for every access
    to ``[lo, hi)`` (reads and writes)."""
    for iface, name in ((ram.read_if, "_read"), (ram.write_if, "_write")):
        orig = getattr(type(iface), name).__get__(iface)

        async def guarded(address, arg, _orig=orig):
            if address < hi and address + (arg if isinstance(arg, int) else len(arg)) > lo:
                raise IndexError(f"access at {address:#x} in the error range")
            return await _orig(address, arg)
        setattr(iface, name, guarded)


def place_ranges(mem_bytes, rng, lengths, base=0x1000, gap=256):
    """Aligned, non-overlapping addresses for ``lengths`` from ``base``, with
    ``gap`` guard bytes between them and a random 4 KiB phase for each."""
    addrs, a = [], base
    for n in lengths:
        a += int(rng.integers(0, 4)) * mem_bytes
        addrs.append(a)
        a += -(-n // mem_bytes) * mem_bytes + gap
    return addrs


class EngineBusTB:
    """What every engine bench shares: the golden model, clock, reset, the device
    memory (an :class:`~cocotbext.axi.AxiRam` on ``m_axi_*``) and the PCIe streams
    (``m_axis_c2h_*`` into an ``AxiStreamSink``, ``s_axis_h2c_*`` from an
    ``AxiStreamSource``).  Subclasses add the host side (descriptor and status
    streams, or a register front end).

    Parameters
    ----------
    dut : cocotb handle
    params : dict
        The generator's parameters (at least :class:`EngineParams`' fields).
    mem_size : int
        Bytes of device memory.

    Attributes
    ----------
    zvce_table : bytes
        With ZVCE built in: the code table the engine's ZVCE offloads use (the
        model's ``zvce_table``), built from ReLU-like activations
        (:func:`cdma.sim.zvce.payloads.activations`) so that it fits the
        benches' ZVCE data; the subclass gives it to the engine.
    """

    def __init__(self, dut, params, mem_size):
        self.dut = dut
        self.log = logging.getLogger("cocotb.tb")
        self.log.setLevel(logging.INFO)
        self.params = p = params
        self.zvce_table = bytes(TABLE_BYTES)
        if p["codecs"] >> Codec.ZVCE & 1:
            sample = relu_activations(1 << 14, 0.5, p["elem_bits"], np.random.default_rng(0))
            self.zvce_table = build_table(sample).pack()
        self.model = EngineModel(p["elem_bits"], p["mem_bytes"], p["chunk_bytes"], p["codecs"],
                                 p["addr_width"], self.zvce_table)
        dut.rst.value = 1
        dut.s_axis_h2c_tvalid.value = 0
        Clock(dut.clk, 4, unit="ns").start()
        self.ram = AxiRam(AxiBus.from_prefix(dut, "m_axi"), dut.clk, dut.rst, size=mem_size)
        self.c2h = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis_c2h"), dut.clk, dut.rst)
        self.h2c = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis_h2c"), dut.clk, dut.rst)
        for model in (self.c2h, self.h2c, self.ram.read_if, self.ram.write_if):
            model.log.setLevel(logging.WARNING)
        self.cycle = 0

    def set_error_range(self, lo, hi):
        """Make the memory answer SLVERR for every access to ``[lo, hi)``."""
        set_error_range(self.ram, lo, hi)

    async def reset(self):
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 4)
        self.dut.rst.value = 0
        await ClockCycles(self.dut.clk, 2)

    async def get_c2h_frame(self) -> bytes:
        frame = await self.c2h.recv(compact=False)
        return bytes(b for b, k in zip(frame.tdata, frame.tkeep) if k)

    async def send_h2c_frame(self, data: bytes):
        await self.h2c.send(AxiStreamFrame(data))

    def write_mem(self, addr, data):
        self.ram.write(addr, bytes(data))

    def read_mem(self, addr, length) -> bytes:
        return self.ram.read(addr, length)


class TB(EngineBusTB):
    """Clock, reset and bus models around a generated ``engine`` top level.

    Parameters
    ----------
    dut : cocotb handle
        The ``CDMAEngine`` top (``clk``, ``rst``, ``m_axi_*``, ``m_axis_c2h_*``,
        ``s_axis_h2c_*``, ``s_axis_desc_*``, ``m_axis_status_*``).
    mem_size : int
        Bytes of device memory (an :class:`~cocotbext.axi.AxiRam`).
    read_latency : int
        Cycles the memory waits between taking a read burst and answering it
        (pipelined: several bursts may wait at once).

    Attributes
    ----------
    params : dict
        Generator parameters (``CDMA_PARAM_*``) over :class:`EngineParams`' defaults.
    model : golden.engine.EngineModel
        The scoreboard.
    ram, c2h, h2c, desc, status : cocotbext-axi models
    """

    def __init__(self, dut, mem_size=1 << 21, read_latency=0):
        dut.s_axis_desc_tvalid.value = 0
        # the generator's parameters, over EngineParams' defaults (written there only)
        super().__init__(dut, dataclasses.asdict(EngineParams(**params_from_env())), mem_size)
        if self.params["codecs"] >> Codec.ZVCE & 1:
            self.set_zvce_table(self.zvce_table)
        self.desc = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis_desc"), dut.clk, dut.rst)
        self.status = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis_status"), dut.clk,
                                    dut.rst)
        for model in (self.desc, self.status):
            model.log.setLevel(logging.WARNING)
        self.read_latency = read_latency
        if read_latency:
            self._add_read_latency()
        self.c2h_beats = self.h2c_beats = 0
        cocotb.start_soon(self._count())

    def _add_read_latency(self):
        """Delay every read burst by ``read_latency`` cycles, pipelined."""
        ch = self.ram.read_if.ar_channel
        orig_recv = ch.recv
        delayed = Queue()

        async def pump():
            while True:
                ar = await orig_recv()
                await delayed.put((self.cycle, ar))

        async def recv():
            stamp, ar = await delayed.get()
            wait = stamp + self.read_latency - self.cycle
            if wait > 0:
                await ClockCycles(self.dut.clk, wait)
            return ar

        ch.recv = recv
        cocotb.start_soon(pump())

    async def _count(self):
        dut = self.dut
        edge = RisingEdge(dut.clk)
        while True:
            await edge
            self.cycle += 1
            if int(dut.m_axis_c2h_tvalid.value) and int(dut.m_axis_c2h_tready.value):
                self.c2h_beats += 1
            if int(dut.s_axis_h2c_tvalid.value) and int(dut.s_axis_h2c_tready.value):
                self.h2c_beats += 1

    def set_memory_pauses(self, probability, seed=1):
        """Random pauses on every AXI channel of the memory model (0 = none)."""
        ram = self.ram
        chans = [ram.read_if.ar_channel, ram.read_if.r_channel, ram.write_if.aw_channel,
                 ram.write_if.w_channel, ram.write_if.b_channel]
        for k, ch in enumerate(chans):
            ch.set_pause_generator(random_pauses(probability, seed + k) if probability else None)

    def set_pcie_pauses(self, probability, seed=100):
        """Random pauses on C2H (backpressure) and H2C (idle cycles), and on the
        descriptor and status streams (descriptors with gaps, a slow status reader)."""
        models = (self.c2h, self.h2c, self.desc, self.status)
        for k, model in enumerate(models):
            model.set_pause_generator(random_pauses(probability, seed + k) if probability
                                      else None)

    def set_zvce_table(self, table: bytes):
        """Drive the engine's ``zvce_table`` input with ``table`` (16 bytes) and
        tell the model."""
        self.dut.zvce_table.value = int.from_bytes(table, "little")
        self.zvce_table = bytes(table)
        self.model = dataclasses.replace(self.model, zvce_table=self.zvce_table)

    async def submit(self, d: Descriptor):
        await self.desc.send(AxiStreamFrame(d.pack()))

    async def get_status(self) -> Status:
        frame = await self.status.recv()
        return Status.unpack(bytes(frame.tdata))
