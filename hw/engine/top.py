"""``CDMAEngine``: the generated top level with AXI-named ports."""
from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from cdma.golden.engine import DESCRIPTOR_BYTES, OFFLOAD, PREFETCH, STATUS_BYTES

from .axi import (AXI4Signature, BURST_INCR, CACHE_BUFFERABLE_MODIFIABLE, forward, read_members,
                  write_members)
from .offload import OffloadUnit
from .params import LENGTH_BITS, EngineError, EngineParams
from .prefetch import PrefetchUnit

__all__ = ["CDMAEngine", "descriptor_layout", "status_word_layout", "DESCRIPTOR_BYTES",
           "STATUS_BYTES"]

#: Bits of a descriptor's memory address (the AXI side uses ``addr_width`` of them).
DESC_ADDR_BITS = 64


def descriptor_layout() -> data.StructLayout:
    """The descriptor (``DESCRIPTOR_BYTES``, little-endian fields, see ``docs/ENGINE.md``)."""
    layout = data.StructLayout({"addr": DESC_ADDR_BITS, "length": LENGTH_BITS, "tag": 8,
                                "codec": 8, "direction": 8, "reserved": 8})
    assert layout.size == 8 * DESCRIPTOR_BYTES      # the golden model packs the same bytes
    return layout


def status_word_layout() -> data.StructLayout:
    """The status word (``STATUS_BYTES``, see ``docs/ENGINE.md``)."""
    layout = data.StructLayout({"length": LENGTH_BITS, "tag": 8, "code": 8, "direction": 8,
                                "reserved": 8})
    assert layout.size == 8 * STATUS_BYTES
    return layout


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

        # Descriptors: a one-entry register, then dispatch by direction.
        desc = Signal(descriptor_layout())
        d_valid = Signal()
        bad_valid = Signal()
        # The checks (a 64-bit sum and compares) are registered in the cycle after
        # the descriptor lands (`checked`), and only then is it dispatched: the
        # carry chain does not meet the units' command registers.
        checked = Signal()
        m.d.comb += self.s_axis_desc_tready.eq(~d_valid)
        with m.If(self.s_axis_desc_tvalid & ~d_valid):
            m.d.sync += [desc.eq(self.s_axis_desc_tdata), d_valid.eq(1), checked.eq(0)]
        with m.Elif(d_valid):
            m.d.sync += checked.eq(1)
        # The descriptor's own checks, once for both directions (docs/ENGINE.md order).
        # The range [addr, addr + length) must lie inside [0, 2**addr_width): the units
        # see addr truncated to addr_width bits and would wrap to address 0 otherwise.
        aw = p.addr_width
        mshift = p.mem_bytes.bit_length() - 1
        eshift = (p.elem_bits // 8).bit_length() - 1
        end = Signal(DESC_ADDR_BITS + 1)     # addr + length, carry included
        check_code = Signal(8)
        desc_code = Signal(8)                # the verdict, registered
        m.d.sync += desc_code.eq(check_code)
        m.d.comb += end.eq(desc.addr + desc.length)
        with m.If(desc.addr[:mshift] != 0):
            m.d.comb += check_code.eq(EngineError.DESC_ALIGN)
        with m.Elif(desc.length[:eshift] != 0 if eshift else 0):
            m.d.comb += check_code.eq(EngineError.DESC_LENGTH)
        with m.Elif((desc.addr[aw:].any() if aw < DESC_ADDR_BITS else 0) | (end > (1 << aw))):
            m.d.comb += check_code.eq(EngineError.DESC_RANGE)
        m.d.comb += [off.cmd.p.addr.eq(desc.addr), off.cmd.p.length.eq(desc.length),
                     off.cmd.p.codec.eq(desc.codec), off.cmd.p.tag.eq(desc.tag),
                     off.cmd.p.code.eq(desc_code),
                     off.cmd.valid.eq(d_valid & checked & (desc.direction == OFFLOAD))]
        taken = Signal()
        m.d.comb += taken.eq(off.cmd.valid & off.cmd.ready)
        m.d.comb += [prefetch.cmd.p.addr.eq(desc.addr), prefetch.cmd.p.length.eq(desc.length),
                     prefetch.cmd.p.codec.eq(desc.codec), prefetch.cmd.p.tag.eq(desc.tag),
                     prefetch.cmd.p.code.eq(desc_code),
                     prefetch.cmd.valid.eq(d_valid & checked & (desc.direction == PREFETCH))]
        with m.If(prefetch.cmd.valid & prefetch.cmd.ready):
            m.d.comb += taken.eq(1)
        known = (desc.direction == OFFLOAD) | (desc.direction == PREFETCH)
        # Unknown direction: answered directly with DESC_DIRECTION.
        bad_tag = Signal(8)
        bad_dir = Signal(8)
        with m.If(d_valid & checked & ~known & ~bad_valid):
            m.d.comb += taken.eq(1)
            m.d.sync += [bad_valid.eq(1), bad_tag.eq(desc.tag), bad_dir.eq(desc.direction)]
        with m.If(taken):
            m.d.sync += d_valid.eq(0)

        # Status: round-robin over the sources, one register.
        st = Signal(status_word_layout())
        sv = self.m_axis_status_tvalid
        m.d.comb += self.m_axis_status_tdata.eq(st)
        sources = [(off.status, OFFLOAD), (prefetch.status, PREFETCH)]
        load_ok = ~sv | self.m_axis_status_tready
        with m.If(sv & self.m_axis_status_tready):
            m.d.sync += sv.eq(0)
        prio = Signal()
        with m.If(load_ok):
            with m.If(bad_valid):
                m.d.sync += [sv.eq(1), st.length.eq(0), st.tag.eq(bad_tag),
                             st.code.eq(EngineError.DESC_DIRECTION), st.direction.eq(bad_dir),
                             bad_valid.eq(0)]
            for k, (s, direction) in enumerate(sources):
                first = prio == k
                with m.Elif(s.valid & (first | ~sources[(k + 1) % len(sources)][0].valid)):
                    m.d.comb += s.ready.eq(1)
                    m.d.sync += [sv.eq(1), st.length.eq(s.p.length), st.tag.eq(s.p.tag),
                                 st.code.eq(s.p.code), st.direction.eq(direction),
                                 prio.eq(~prio)]
        return m
