"""Dense re-packing of variable-size pieces into fixed-width output beats."""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..streams import check_positive_int

__all__ = ["Packer", "piece_layout"]


def piece_layout(unit_bits: int, in_units: int) -> data.StructLayout:
    """Payload of a :class:`Packer` input: ``data``, unit count ``n`` and ``last``."""
    return data.StructLayout({"data": unit_bits * in_units, "n": range(in_units + 1), "last": 1})


class Packer(wiring.Component):
    """Pack pieces of 0..``in_units`` units into dense ``out_units``-unit beats.

    Every input beat carries its ``n`` valid units in its lowest units; the
    units of a packet (up to the input beat with ``last``) come out back to
    back, ``out_units`` per beat, the final beat keeping a prefix of its units
    and carrying ``last``.  A packet without any unit produces one null beat.
    Units above ``n`` on the input are ignored; output units above ``keep`` are
    zero.

    Throughput: one output beat per cycle while input arrives fast enough; the
    cycle that closes a packet does not accept the next packet's first piece.

    Parameters
    ----------
    unit_bits : int
        Bits per unit (8 for bytes, 32 for words).
    in_units : int
        Largest input piece, in units.
    out_units : int
        Units per output beat.

    Members
    -------
    i : In(stream.Signature(piece_layout(unit_bits, in_units)))
        Pieces.
    o : Out(stream.Signature(StructLayout({"data", "keep", "last"})))
        Dense beats, ``keep`` one bit per unit.

    Raises
    ------
    TypeError, ValueError
        A parameter is not a positive integer.
    """

    def __init__(self, unit_bits: int, in_units: int, out_units: int):
        self._unit = check_positive_int("unit_bits", unit_bits)
        self._in = check_positive_int("in_units", in_units)
        self._out = check_positive_int("out_units", out_units)
        super().__init__({
            "i": In(stream.Signature(piece_layout(unit_bits, in_units))),
            "o": Out(stream.Signature(data.StructLayout(
                {"data": unit_bits * out_units, "keep": out_units, "last": 1}))),
        })

    def __repr__(self):
        return f"Packer(unit_bits={self._unit}, in_units={self._in}, out_units={self._out})"

    def elaborate(self, platform):
        m = Module()
        U, IN, OUT = self._unit, self._in, self._out
        BUF = IN + OUT
        i, o = self.i, self.o
        buf = Signal(BUF * U)            # units at and above `level` are zero
        level = Signal(range(BUF + 1))
        ending = Signal()
        load_ok = ~o.valid | o.ready
        emit = Signal()
        final = Signal()
        n_out = Signal(range(OUT + 1))
        level_after = Signal(range(BUF + 1))
        take = Signal()
        m.d.comb += [
            emit.eq(load_ok & ((level >= OUT) | ending)),
            final.eq(ending & (level <= OUT)),
            n_out.eq(Mux(level >= OUT, OUT, level)),
            level_after.eq(level - Mux(emit, n_out, 0)),
            take.eq(~ending & (level_after + i.p.n <= BUF)),
            i.ready.eq(take),
        ]
        with m.If(emit):
            m.d.sync += [
                o.valid.eq(1),
                o.p.data.eq(buf[:OUT * U]),
                o.p.keep.eq(Cat(*[n_out > k for k in range(OUT)])),
                o.p.last.eq(final),
            ]
        with m.Elif(o.ready):
            m.d.sync += o.valid.eq(0)
        masked = Cat(*[Mux(i.p.n > k, i.p.data[k * U:(k + 1) * U], 0) for k in range(IN)])
        shifted = Mux(emit, buf >> (OUT * U), buf)
        with m.If(i.valid & take):
            m.d.sync += [
                buf.eq(shifted | (masked << (level_after * U))[:BUF * U]),
                level.eq(level_after + i.p.n),
                ending.eq(i.p.last),
            ]
        with m.Else():
            m.d.sync += [buf.eq(shifted), level.eq(level_after)]
            with m.If(emit & final):
                m.d.sync += ending.eq(0)
        return m
