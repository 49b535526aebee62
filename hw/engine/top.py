"""``CDMAEngine``: the generated top level with AXI-named ports."""
from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from cdma.golden.engine import DESCRIPTOR_BYTES, STATUS_BYTES
from cdma.golden.zvce import TABLE_BYTES

from .axi import (AXI4Signature, BURST_INCR, CACHE_BUFFERABLE_MODIFIABLE, forward, read_members,
                  write_members)
from .dispatch import DescriptorDispatch, StatusArbiter, descriptor_layout, status_word_layout
from .offload import OffloadUnit
from .params import EngineParams
from .prefetch import PrefetchUnit

__all__ = ["CDMAEngine", "descriptor_layout", "status_word_layout", "DESCRIPTOR_BYTES",
           "STATUS_BYTES"]


class CDMAEngine(wiring.Component):
    """The compressing DMA engine: offload (memory -> host) and prefetch (host -> memory).

    Ports (Verilog names after generation; ``clk``/``rst`` are the sync domain):

    * ``m_axi_*`` -- AXI4 master to device memory, ``mem_bytes`` x 8 data bits;
      read channels for offload, write channels for prefetch.
    * ``m_axis_c2h_*`` -- AXI4-Stream to the host, ``pcie_bytes`` x 8 bits, one
      frame per offload descriptor, ``tlast`` on its final beat.
    * ``s_axis_h2c_*`` -- AXI4-Stream from the host, one frame per prefetch
      descriptor (``tlast`` closes it).
    * ``s_axis_desc_*`` -- 128-bit descriptors; ``m_axis_status_*`` -- 64-bit
      status words, one per descriptor.
    * ``zvce_table`` -- with ZVCE built in (``codecs`` bit 3) only: the code
      table of the ZVCE frames the engine writes (``golden.zvce.CodeTable.pack()``,
      byte 0 in bits 7..0), sampled as each offload descriptor starts.

    Parameters
    ----------
    params : EngineParams, optional
        Configuration; keyword arguments build one when omitted.
    **kwargs
        Fields of :class:`EngineParams`.

    Raises
    ------
    TypeError, ValueError
        Invalid parameters (from :class:`EngineParams`).
    """

    def __init__(self, params: EngineParams | None = None, **kwargs):
        if params is None:
            params = EngineParams(**kwargs)
        elif kwargs:
            raise TypeError(f"pass either params or keyword arguments, not both ({kwargs!r})")
        if not isinstance(params, EngineParams):
            raise TypeError(f"params must be an EngineParams, not {params!r}")
        self._p = params
        axi = AXI4Signature(addr_width=params.addr_width, data_bytes=params.mem_bytes)
        ports = {f"m_axi_{name}": member for name, member in axi.members.items()}
        PB = params.pcie_bytes
        ports.update({
            "m_axis_c2h_tdata": Out(8 * PB), "m_axis_c2h_tkeep": Out(PB),
            "m_axis_c2h_tlast": Out(1), "m_axis_c2h_tvalid": Out(1), "m_axis_c2h_tready": In(1),
            "s_axis_h2c_tdata": In(8 * PB), "s_axis_h2c_tkeep": In(PB),
            "s_axis_h2c_tlast": In(1), "s_axis_h2c_tvalid": In(1), "s_axis_h2c_tready": Out(1),
            "s_axis_desc_tdata": In(8 * DESCRIPTOR_BYTES), "s_axis_desc_tvalid": In(1),
            "s_axis_desc_tready": Out(1),
            "m_axis_status_tdata": Out(8 * STATUS_BYTES), "m_axis_status_tvalid": Out(1),
            "m_axis_status_tready": In(1),
        })
        if params.zvce:
            ports["zvce_table"] = In(8 * TABLE_BYTES)
        super().__init__(ports)

    params = property(lambda self: self._p, doc="The :class:`EngineParams`.")

    def __repr__(self):
        return f"CDMAEngine({self._p!r})"

    def elaborate(self, platform):
        m = Module()
        p = self._p
        m.submodules.offload = off = OffloadUnit(p)
        m.submodules.prefetch = prefetch = PrefetchUnit(p)

        # AXI read side <- offload
        forward(m, self, off, read_members(p.addr_width, p.mem_bytes), prefix="m_axi_")
        if "zvce_table" in self.signature.members:
            m.d.comb += off.code_table.eq(self.zvce_table)
        size = p.mem_bytes.bit_length() - 1
        m.d.comb += [self.m_axi_arsize.eq(size), self.m_axi_arburst.eq(BURST_INCR),
                     self.m_axi_awsize.eq(size), self.m_axi_awburst.eq(BURST_INCR),
                     self.m_axi_arcache.eq(CACHE_BUFFERABLE_MODIFIABLE),
                     self.m_axi_awcache.eq(CACHE_BUFFERABLE_MODIFIABLE)]
        # AXI write side <- prefetch
        forward(m, self, prefetch, write_members(p.addr_width, p.mem_bytes), prefix="m_axi_")
        h2c = prefetch.h2c
        m.d.comb += [h2c.p.data.eq(self.s_axis_h2c_tdata), h2c.p.keep.eq(self.s_axis_h2c_tkeep),
                     h2c.p.last.eq(self.s_axis_h2c_tlast), h2c.valid.eq(self.s_axis_h2c_tvalid),
                     self.s_axis_h2c_tready.eq(h2c.ready)]

        # C2H
        c2h = off.c2h
        m.d.comb += [self.m_axis_c2h_tdata.eq(c2h.p.data), self.m_axis_c2h_tkeep.eq(c2h.p.keep),
                     self.m_axis_c2h_tlast.eq(c2h.p.last), self.m_axis_c2h_tvalid.eq(c2h.valid),
                     c2h.ready.eq(self.m_axis_c2h_tready)]

        # Descriptors: checked once, then dispatched by direction; statuses: one
        # word per descriptor, from the units or (unknown direction) the dispatch.
        m.submodules.dispatch = dispatch = DescriptorDispatch(p)
        m.submodules.status = status = StatusArbiter(p)
        m.d.comb += [dispatch.desc.p.eq(self.s_axis_desc_tdata),
                     dispatch.desc.valid.eq(self.s_axis_desc_tvalid),
                     self.s_axis_desc_tready.eq(dispatch.desc.ready)]
        wiring.connect(m, dispatch.offload, off.cmd)
        wiring.connect(m, dispatch.prefetch, prefetch.cmd)
        wiring.connect(m, dispatch.rejected, status.rejected)
        wiring.connect(m, off.status, status.offload)
        wiring.connect(m, prefetch.status, status.prefetch)
        m.d.comb += [self.m_axis_status_tdata.eq(status.status.p),
                     self.m_axis_status_tvalid.eq(status.status.valid),
                     status.status.ready.eq(self.m_axis_status_tready)]
        return m
