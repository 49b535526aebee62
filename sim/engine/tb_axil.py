"""Testbench plumbing of the ``engine-axil`` benches: clock, reset, memory, PCIe streams, host.

The host is :class:`~cdma.sim.engine.driver.CDMADriver` on a cocotbext-axi
``AxiLiteMaster``; the device memory an ``AxiRam``; C2H and H2C are
``AxiStreamSink``/``AxiStreamSource``.  Beside them a monitor counts the bytes
that actually cross the ports (R and W beats, C2H and H2C ``tkeep`` bytes): the
engine's counters must equal these.
"""
from __future__ import annotations

import dataclasses
import logging

import cocotb
from cocotb.triggers import RisingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster

from cdma.hw.engine.params import EngineParams
from cdma.sim.runner import params_from_env
from cdma.sim.stream_tb import random_pauses

from .driver import CDMADriver
from .tb import EngineBusTB

__all__ = ["AxilTB"]

#: Front-end parameters (not EngineParams fields) and their defaults.
CSR_DEFAULTS = {"sub_depth": 4, "status_depth": 16}


class AxilTB(EngineBusTB):
    """Bus models, the driver and a byte monitor around a generated ``engine-axil`` top.

    Parameters
    ----------
    dut : cocotb handle
    mem_size : int
        Bytes of device memory.

    Attributes
    ----------
    params : dict
        Engine parameters (``CDMA_PARAM_*`` over :class:`EngineParams`' defaults)
        and the front end's ``sub_depth``/``status_depth``.
    model : golden.engine.EngineModel
    drv : CDMADriver
    moved : dict
        Bytes seen on the ports, under the counters' names.
    """

    def __init__(self, dut, mem_size=1 << 20):
        env = params_from_env()
        csr = {k: env.pop(k, v) for k, v in CSR_DEFAULTS.items()}
        super().__init__(dut, dict(dataclasses.asdict(EngineParams(**env)), **csr), mem_size)
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
        for model in (self.axil.write_if, self.axil.read_if):
            model.log.setLevel(logging.WARNING)
        self.drv = CDMADriver(self.axil, dut.irq, dut.clk)
        self.moved = dict.fromkeys(("OFF_RAW_BYTES", "OFF_FRAME_BYTES", "PRE_FRAME_BYTES",
                                    "PRE_RAW_BYTES"), 0)
        cocotb.start_soon(self._monitor())

    async def _monitor(self):
        dut = self.dut
        mb = self.params["mem_bytes"]
        edge = RisingEdge(dut.clk)
        fire = lambda v, r: int(v.value) and int(r.value)
        ones = lambda sig: bin(int(sig.value)).count("1")
        while True:
            await edge
            self.cycle += 1
            if fire(dut.m_axi_rvalid, dut.m_axi_rready):
                self.moved["OFF_RAW_BYTES"] += mb
            if fire(dut.m_axi_wvalid, dut.m_axi_wready):
                self.moved["PRE_RAW_BYTES"] += ones(dut.m_axi_wstrb)
            if fire(dut.m_axis_c2h_tvalid, dut.m_axis_c2h_tready):
                self.moved["OFF_FRAME_BYTES"] += ones(dut.m_axis_c2h_tkeep)
            if fire(dut.s_axis_h2c_tvalid, dut.s_axis_h2c_tready):
                self.moved["PRE_FRAME_BYTES"] += ones(dut.s_axis_h2c_tkeep)

    def set_pauses(self, probability, seed=1):
        """Random pauses on every AXI channel of the memory, on C2H/H2C and on the
        host's AXI4-Lite channels (0 = none)."""
        chans = [self.ram.read_if.ar_channel, self.ram.read_if.r_channel,
                 self.ram.write_if.aw_channel, self.ram.write_if.w_channel,
                 self.ram.write_if.b_channel, self.c2h, self.h2c,
                 self.axil.write_if.aw_channel, self.axil.write_if.w_channel,
                 self.axil.write_if.b_channel, self.axil.read_if.ar_channel,
                 self.axil.read_if.r_channel]
        for k, ch in enumerate(chans):
            ch.set_pause_generator(random_pauses(probability, seed + k) if probability else None)
