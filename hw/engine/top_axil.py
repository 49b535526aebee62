"""``CDMAEngineAXIL``: the engine behind its AXI4-Lite register front end (``engine-axil``)."""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..bits import popcount
from .csr import ADD_BITS, EngineCSR, axil_slave_members
from .params import EngineParams
from .top import CDMAEngine

__all__ = ["CDMAEngineAXIL"]

#: Ports of the engine that the register front end replaces (the queues, and
#: with ZVCE the code table: ``ZVCE_TABLE0..3``).
_FRONT_END_PORTS = ("s_axis_desc_", "m_axis_status_", "zvce_table")


class CDMAEngineAXIL(wiring.Component):
    """:class:`CDMAEngine` with an AXI4-Lite register front end (:class:`EngineCSR`)
    in place of its descriptor and status streams.

    Ports: the engine's ``m_axi_*``, ``m_axis_c2h_*`` and ``s_axis_h2c_*``; the
    front end's ``s_axil_*`` (map: ``docs/REGISTERS.md``) and ``irq``.  The byte
    counters count the transfers on these ports (registered, one cycle late).

    Parameters
    ----------
    params : EngineParams
    sub_depth, status_depth : int
        Queue slots of the front end (see :class:`EngineCSR`).

    Raises
    ------
    TypeError, ValueError
        Invalid parameters.
    """

    def __init__(self, params: EngineParams, *, sub_depth: int = 4, status_depth: int = 16):
        if not isinstance(params, EngineParams):
            raise TypeError(f"params must be an EngineParams, not {params!r}")
        self._p = params
        self._engine = CDMAEngine(params)
        self._csr = EngineCSR(params, sub_depth=sub_depth, status_depth=status_depth)
        ports = {name: member for name, member in self._engine.signature.members.items()
                 if not name.startswith(_FRONT_END_PORTS)}
        ports.update(axil_slave_members())
        ports["irq"] = Out(1)
        super().__init__(ports)

    params = property(lambda self: self._p, doc="The :class:`EngineParams`.")

    def __repr__(self):
        return f"CDMAEngineAXIL({self._p!r}, {self._csr!r})"

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = eng = self._engine
        m.submodules.csr = csr = self._csr
        for name, member in eng.signature.members.items():
            if name.startswith(_FRONT_END_PORTS):
                continue
            outer, inner = getattr(self, name), getattr(eng, name)
            m.d.comb += outer.eq(inner) if member.flow == Out else inner.eq(outer)
        for name, member in axil_slave_members().items():
            outer, inner = getattr(self, name), getattr(csr, name)
            m.d.comb += inner.eq(outer) if member.flow == In else outer.eq(inner)
        m.d.comb += [self.irq.eq(csr.irq),
                     eng.s_axis_desc_tdata.eq(csr.desc.p), eng.s_axis_desc_tvalid.eq(csr.desc.valid),
                     csr.desc.ready.eq(eng.s_axis_desc_tready),
                     csr.status.p.eq(eng.m_axis_status_tdata),
                     csr.status.valid.eq(eng.m_axis_status_tvalid),
                     eng.m_axis_status_tready.eq(csr.status.ready)]
        if "zvce_table" in eng.signature.members:
            m.d.comb += eng.zvce_table.eq(csr.zvce_table)

        # Byte counts of the transfers on the data ports, registered (the strobe and
        # keep popcounts stay off the engine's paths).
        def count(add, fire, nbytes):
            reg = Signal(ADD_BITS, name=add.name + "_r")
            m.d.sync += reg.eq(Mux(fire, nbytes, 0))
            m.d.comb += add.eq(reg)

        p = self._p
        count(csr.add_off_raw, self.m_axi_rvalid & self.m_axi_rready, p.mem_bytes)
        count(csr.add_off_frame, self.m_axis_c2h_tvalid & self.m_axis_c2h_tready,
              popcount(self.m_axis_c2h_tkeep))
        count(csr.add_pre_frame, self.s_axis_h2c_tvalid & self.s_axis_h2c_tready,
              popcount(self.s_axis_h2c_tkeep))
        count(csr.add_pre_raw, self.m_axi_wvalid & self.m_axi_wready, popcount(self.m_axi_wstrb))
        return m
