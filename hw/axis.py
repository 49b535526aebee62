"""Top-level wrapper: ``lib.stream`` interfaces to AXI4-Stream port names.

Inside ``hw/`` blocks talk through :mod:`amaranth.lib.stream` interfaces whose
payloads are the layouts of :mod:`hw.streams`.  :class:`AXIStreamTop` is the one
place that turns them into the flat, AXI-named ports that vendor IP and
cocotbext-axi's ``AxiStreamBus.from_prefix(dut, "s_axis")`` expect::

    <prefix>_tdata  <prefix>_tkeep  <prefix>_tlast  <prefix>_tuser
    <prefix>_tvalid <prefix>_tready

The clock and reset are the ``sync`` domain's ``clk`` and ``rst`` (active-high,
synchronous) that Amaranth's Verilog backend emits.
"""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Shape
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["AXIStreamTop"]


def _payload_fields(shape):
    """``{field: width}`` of a stream payload; a plain shape is one ``data`` field."""
    if isinstance(shape, data.StructLayout):
        return {name: Shape.cast(field.shape).width for name, field in shape}
    return {"data": Shape.cast(shape).width}


class AXIStreamTop(wiring.Component):
    """Expose ``inner``'s stream members as AXI4-Stream ports and its signals as is.

    Payload fields map to ``tdata`` (padded to whole bytes), ``keep`` to
    ``tkeep`` (one bit per byte; an element-granular ``keep`` is widened on
    outputs and read from the first byte of each element on inputs), ``last`` to
    ``tlast`` and ``user`` to ``tuser``.

    Parameters
    ----------
    inner : amaranth.lib.wiring.Component
        The wrapped component.
    streams : dict of str to str
        Stream member of ``inner`` -> AXI port prefix, e.g.
        ``{"i": "s_axis", "o": "m_axis"}``.
    signals : dict of str to str, optional
        Plain signal member of ``inner`` -> top-level port name.

    Raises
    ------
    TypeError
        ``inner`` is not a Component, or a named member is not a stream.
    ValueError
        A member name is unknown, or a ``keep`` field does not divide ``data``
        into whole bytes.
    """

    def __init__(self, inner, streams, signals=None):
        if not isinstance(inner, wiring.Component):
            raise TypeError(f"inner must be an amaranth.lib.wiring.Component, not {inner!r}")
        signals = dict(signals or {})
        members = inner.signature.members
        self._inner, self._streams, self._signals = inner, dict(streams), signals
        self._maps = {}
        ports = {}
        for name, prefix in self._streams.items():
            if name not in members:
                raise ValueError(f"{inner!r} has no member {name!r}")
            member = members[name]
            if not (member.is_signature and isinstance(member.signature, stream.Signature)):
                raise TypeError(f"member {name!r} of {inner!r} is not a lib.stream interface")
            sink = member.flow == In
            fields = _payload_fields(member.signature.members["payload"].shape)
            dbits = fields["data"]
            nbytes = -(-dbits // 8)
            if "keep" in fields and dbits != 8 * nbytes:
                raise ValueError(f"stream {name!r}: data of {dbits} bits is not whole bytes")
            if "keep" in fields and nbytes % fields["keep"]:
                raise ValueError(f"stream {name!r}: keep of {fields['keep']} bits does not "
                                 f"divide {nbytes} data bytes")
            fwd, bwd = (In, Out) if sink else (Out, In)
            ports[f"{prefix}_tdata"] = fwd(8 * nbytes)
            if "keep" in fields:
                ports[f"{prefix}_tkeep"] = fwd(nbytes)
            if "last" in fields:
                ports[f"{prefix}_tlast"] = fwd(1)
            if "user" in fields:
                ports[f"{prefix}_tuser"] = fwd(fields["user"])
            ports[f"{prefix}_tvalid"] = fwd(1)
            ports[f"{prefix}_tready"] = bwd(1)
            self._maps[name] = (prefix, sink, fields, nbytes)
        for name, port in signals.items():
            if name not in members or members[name].is_signature:
                raise ValueError(f"{inner!r} has no plain signal member {name!r}")
            member = members[name]
            ports[port] = (In if member.flow == In else Out)(member.shape)
        super().__init__(ports)

    inner = property(lambda self: self._inner, doc="The wrapped component.")

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = self._inner
        for name, (prefix, sink, fields, nbytes) in self._maps.items():
            s = getattr(inner, name)
            port = lambda suffix: getattr(self, f"{prefix}_{suffix}")
            structured = "keep" in fields or "last" in fields or "user" in fields
            payload_data = s.p.data if structured else s.p
            dbits = fields["data"]
            if sink:
                m.d.comb += [payload_data.eq(port("tdata")[:dbits]), s.valid.eq(port("tvalid")),
                             port("tready").eq(s.ready)]
            else:
                m.d.comb += [port("tdata").eq(payload_data), port("tvalid").eq(s.valid),
                             s.ready.eq(port("tready"))]
            if "keep" in fields:
                per = nbytes // fields["keep"]
                if sink:
                    m.d.comb += s.p.keep.eq(Cat(*[port("tkeep")[k * per]
                                                  for k in range(fields["keep"])]))
                else:
                    m.d.comb += port("tkeep").eq(Cat(*[s.p.keep[k // per] for k in range(nbytes)]))
            for field, suffix in (("last", "tlast"), ("user", "tuser")):
                if field in fields:
                    if sink:
                        m.d.comb += getattr(s.p, field).eq(port(suffix))
                    else:
                        m.d.comb += port(suffix).eq(getattr(s.p, field))
        for name, port_name in self._signals.items():
            inner_sig, port = getattr(inner, name), getattr(self, port_name)
            if inner.signature.members[name].flow == In:
                m.d.comb += inner_sig.eq(port)
            else:
                m.d.comb += port.eq(inner_sig)
        return m
