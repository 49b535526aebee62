"""Register slice (skid buffer): cuts every combinational path through a stream.

A :class:`SkidBuffer` sits between two blocks and registers ``valid``, the
payload *and* ``ready``: its input ``ready`` is a flip-flop, never a function of
its output ``ready``, so ready paths do not ripple through a chain of blocks,
and it still moves one transfer per cycle (a plain register stage would need
``i.ready = ~o.valid | o.ready``, a combinational path).  It is the classic
two-entry design (ZipCPU's ``skidbuffer.v`` with registered outputs, Forencich's
``axis_register`` type 2): a main (output) register and a skid register that
catches the one transfer accepted in the cycle the output stalls.

Wide payloads are a fan-out problem on an FPGA rather than a logic-depth one:
the load enable and the main/skid select reach every payload bit.  With
``copies`` > 1 the control flip-flops are replicated, each copy driving one
slice of the payload (copies hold identical values; they carry a ``keep``
attribute so synthesis does not merge them back).
"""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Shape, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .streams import check_positive_int

__all__ = ["SkidBuffer", "replicated"]


def replicated(m, name, copies, reset=0, width=1):
    """``copies`` flip-flops (``keep``-attributed so Yosys does not merge them)
    that the caller drives with the same next-state value; returns the list."""
    regs = [Signal(width, name=f"{name}_c{k}", init=reset, attrs={"keep": 1})
            for k in range(copies)]
    return regs


class SkidBuffer(wiring.Component):
    """Two-entry register slice: registered ``valid``, payload and ``ready``.

    Throughput is one transfer per cycle; latency one cycle.  ``i.ready`` is the
    inverted skid-full flip-flop (no path from ``o.ready``); ``o.valid`` and
    ``o.payload`` are flip-flops that hold until the transfer (the
    :mod:`amaranth.lib.stream` rules).

    Parameters
    ----------
    shape : shape-castable
        Payload shape (e.g. a :class:`~amaranth.lib.data.StructLayout`).
    copies : int
        Copies of the control flip-flops (default 1); each drives
        an equal share of the payload bits.

    Members
    -------
    i : In(stream.Signature(shape))
        Input stream; ``i.ready`` is a register.
    o : Out(stream.Signature(shape))
        Output stream; ``o.valid`` and ``o.payload`` are registers.
    ready_copies : Out(copies)
        Copies of ``i.ready`` (each from its own flip-flop), for a producer
        that spreads the load enable of a wide register over them.

    Raises
    ------
    TypeError
        ``shape`` is not shape-castable, or ``copies`` is not an integer.
    ValueError
        ``copies`` is not positive.
    """

    def __init__(self, shape, *, copies: int = 1):
        self._shape, self._copies = shape, copies
        try:
            width = Shape.cast(shape).width
        except TypeError:
            raise TypeError(f"shape must be shape-castable, not {shape!r}") from None
        self._shape = shape
        self._copies = min(check_positive_int("copies", copies), max(1, width))
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape)),
                          "ready_copies": Out(self._copies)})

    shape = property(lambda self: self._shape, doc="Payload shape.")
    copies = property(lambda self: self._copies, doc="Copies of the control flip-flops.")

    def __repr__(self):
        return f"SkidBuffer({self._shape!r}, copies={self._copies})"

    def elaborate(self, platform):
        m = Module()
        i, o = self.i, self.o
        width = Shape.cast(self._shape).width
        n = self._copies

        o_valid = replicated(m, "o_valid", n)
        s_valid = replicated(m, "s_valid", n)
        i_bits = i.payload.as_value() if isinstance(i.payload, data.View) else i.payload
        o_bits = o.payload.as_value() if isinstance(o.payload, data.View) else o.payload
        s_bits = Signal(width)
        m.d.comb += [o.valid.eq(o_valid[0]), i.ready.eq(~s_valid[0]),
                     self.ready_copies.eq(~Cat(*s_valid))]
        for k in range(n):
            lo, hi = k * width // n, (k + 1) * width // n
            load = ~o_valid[k] | o.ready          # the main register takes new data
            with m.If(load):
                with m.If(s_valid[k]):
                    m.d.sync += [o_bits[lo:hi].eq(s_bits[lo:hi]), o_valid[k].eq(1),
                                 s_valid[k].eq(0)]
                with m.Else():
                    m.d.sync += [o_bits[lo:hi].eq(i_bits[lo:hi]), o_valid[k].eq(i.valid)]
            with m.Elif(i.valid & ~s_valid[k]):       # output stalled: park the transfer
                m.d.sync += s_valid[k].eq(1)
            # The skid register copies the input whenever it is free, whether or
            # not a transfer is parked: its load enable is a flip-flop, and the
            # input's `valid` (often a wide OR upstream) only sets `s_valid`.
            with m.If(~s_valid[k]):
                m.d.sync += s_bits[lo:hi].eq(i_bits[lo:hi])
        return m
