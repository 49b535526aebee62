"""Packing variable-size pieces into fixed beats, and the inverse.

:class:`Packer` turns a stream of *pieces* (0..``in_units`` units each) into
dense beats of ``out_units`` units; :class:`Unpacker` turns dense beats back
into a *window* on the stream from which a consumer takes a variable number of
units per cycle.  A *unit* is the granule of the format (8 bits for byte
streams, 32 bits where every field is a whole 32-bit word, e.g. ZVC at fp32):
shifting at the coarsest unit the format allows is what keeps the multiplexers
small.

Both are built to close timing on wide datapaths: no arithmetic sits in the
loop that carries data from one cycle to the next (the position of each piece
is decided a stage ahead, from the lengths alone), and every ``ready`` they
drive is a register.
"""
from __future__ import annotations

from amaranth.hdl import Array, C, Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .bits import count_after, onehot_select, room_after, thermometer, wrap
from .fifo import WideFIFO
from .skid import SkidBuffer, replicated
from .streams import check_positive_int

__all__ = ["piece_layout", "unit_beat_layout", "Packer", "CreditedPacker", "Unpacker"]


def piece_layout(unit_bits: int, in_units: int, user_bits: int = 0,
                 side_bits: int = 0) -> data.StructLayout:
    """Payload of a :class:`Packer` input (and an :class:`Unpacker` input): ``data``,
    unit count ``n``, ``last`` and, if ``user_bits``, a ``user`` field; if
    ``side_bits``, ``side`` carries that many bits per unit."""
    fields = {"data": unit_bits * in_units, "n": range(in_units + 1), "last": 1}
    if user_bits:
        fields["user"] = user_bits
    if side_bits:
        fields["side"] = side_bits * in_units
    return data.StructLayout(fields)


def unit_beat_layout(unit_bits: int, units: int) -> data.StructLayout:
    """Payload of a :class:`Packer` output: ``data``, ``keep`` (one bit per unit), ``last``."""
    return data.StructLayout({"data": unit_bits * units, "keep": units, "last": 1})


def _lanes_of(value, unit, n):
    return [value[k * unit:(k + 1) * unit] for k in range(n)]


def shift_units(m, units, amount, width, name, bits=None):
    """``units`` (a list of equal-width values) moved up by ``amount`` positions,
    as ``width`` values (zeros shifted in, units past ``width`` dropped): a
    log-depth shifter, one 2:1 multiplexer level per bit of ``amount``, each
    level only as wide as the units that can reach it.

    ``amount`` may be a list of equal copies (replicated registers): output
    position ``j`` of every level then uses copy ``j * len(amount) // width``,
    so no copy drives more than its share of the multiplexers.  ``bits`` (a
    range of bit positions, default all of ``amount``) applies only those
    bits' levels, so a shift can be split over register stages.
    """
    copies = amount if isinstance(amount, (list, tuple)) else [amount]
    cur = list(units)
    uw = len(units[0])
    for b in (range(len(copies[0])) if bits is None else bits):
        d = 1 << b
        nxt = []
        for j in range(min(width, len(cur) + d)):
            here = cur[j] if j < len(cur) else C(0, uw)
            there = cur[j - d] if 0 <= j - d < len(cur) else C(0, uw)
            sel = copies[min(j * len(copies) // width, len(copies) - 1)][b]
            sig = Signal(uw, name=f"{name}{b}_{j}")
            m.d.comb += sig.eq(Mux(sel, there, here))
            nxt.append(sig)
        cur = nxt
    cur = cur[:width]
    return cur + [C(0, uw)] * (width - len(cur))


class Packer(wiring.Component):
    """Pack pieces of 0..``in_units`` units into dense ``out_units``-unit beats.

    Every input beat carries ``n`` valid units in its lowest units (units at and
    above ``n`` are ignored); the units of a packet (up to the piece with
    ``last``) come out back to back, ``out_units`` per beat, the final beat
    keeping a prefix of its units and carrying ``last``.  A packet without any
    unit, or whose units all left in earlier full beats before a final empty
    piece, ends with a null beat (``keep`` = 0, ``last`` = 1).  Output units
    above ``keep`` are zero.

    Pipeline (``docs/ZVC.md`` has the picture): a *control* stage decides, from
    the piece lengths alone, where each piece lands in the partial beat and
    how many beats the op completes; two *shift* stages move the piece to its
    position within a beat (the low half of the position's bits, then the
    high half); a *merge* stage ORs it into the partial beat and writes every
    completed beat, up to two an op, into two output
    :class:`~hw.fifo.WideFIFO` banks in turn (one bank when a piece can
    complete only one beat, ``in_units <= out_units``), from which the output
    reads them in the same turn.  The partial beat therefore stays below a
    beat and the banks, 16 beats each, absorb a run of large pieces that a
    run of small ones later drains.  Shift and merge run free; the control
    stage issues an op only while the banks have room for every beat already
    issued (``room``, a register), so ``i.ready`` is a function of registers
    only and ``o.ready`` reaches nothing but the banks' read side.

    Throughput: one piece per cycle, one beat per cycle.  A piece waits only
    for the banks' room, and after a piece that completes more than two beats,
    or ends a packet with two full beats and a tail, while the rest leaves in
    drain ops of their own, up to two beats a cycle.  (Pieces averaging one beat, e.g. the
    int8 x 16 RLE encoder at density 0.5, move at 99.9 % of the bound.)
    Latency: an output beat is valid 5 cycles after the edge that
    transferred the piece completing it.

    Parameters
    ----------
    unit_bits : int
        Bits per unit (8 for bytes, 32 for words).
    in_units : int
        Largest input piece, in units.
    out_units : int
        Units per output beat.
    copies : int
        Copies of the control registers that drive the wide multiplexers
        (fan-out relief; default: one per 64 output data bits).
    masked : bool
        Clear the units at and above ``n`` of each piece (default).  A producer
        whose pieces are already zero there passes ``False`` and saves the
        gates.

    Members
    -------
    i : In(stream.Signature(piece_layout(unit_bits, in_units)))
        Pieces.
    o : Out(stream.Signature(unit_beat_layout(unit_bits, out_units)))
        Dense beats, ``keep`` one bit per unit.

    Raises
    ------
    TypeError, ValueError
        A parameter is not a positive integer.
    """

    def __init__(self, unit_bits: int, in_units: int, out_units: int, *,
                 copies: int | None = None, masked: bool = True):
        self._masked = bool(masked)
        self._unit = check_positive_int("unit_bits", unit_bits)
        self._in = check_positive_int("in_units", in_units)
        self._out = check_positive_int("out_units", out_units)
        if copies is None:
            copies = max(1, unit_bits * out_units // 64)
        self._copies = check_positive_int("copies", copies)
        # output banks: beats one op may write (two suffice: see elaborate)
        self._banks = min(2, (out_units - 1 + in_units) // out_units)
        super().__init__({
            "i": In(stream.Signature(piece_layout(unit_bits, in_units))),
            "o": Out(stream.Signature(unit_beat_layout(unit_bits, out_units))),
        })

    unit_bits = property(lambda self: self._unit, doc="Bits per unit.")
    in_units = property(lambda self: self._in, doc="Largest input piece, in units.")
    out_units = property(lambda self: self._out, doc="Units per output beat.")

    def __repr__(self):
        return f"Packer(unit_bits={self._unit}, in_units={self._in}, out_units={self._out})"

    def elaborate(self, platform):
        m = Module()
        U, PI, PO = self._unit, self._in, self._out
        # An op (a piece taken, or a drain without one) writes every beat it
        # completes, up to NB, each into its own output bank, so the partial
        # beat stays below a beat and a piece is taken every cycle: a Packer
        # that wrote one beat a cycle held the excess in the partial beat and
        # stopped at two beats, and a stream whose pieces average a beat lost
        # 2.4 % of its cycles (the int8 x 16 RLE encoder at density 0.5).
        NB = self._banks
        A = PO - 1 + PI                  # a piece at any position in a beat
        AW = max(PO - 1, A - NB * PO)    # units pending after an op
        i, o = self.i, self.o
        NC = self._copies

        # ---- flow control --------------------------------------------------------------
        # The shift and merge stages run free: a cycle without an op carries a zero
        # piece and writes nothing, which leaves the partial beat as it is.  Beats
        # go round the NB output FIFOs (bank `wb` takes an op's first beat), and
        # the output reads them round in the same order (`rb`).  The control
        # stage issues an op only while the banks have room for every beat
        # already issued (`room`, a register).
        DEPTH = 16                       # (a LUT RAM is 16 deep: 8 would cost the same)
        OW = PO * U + PO + 1
        banks = [WideFIFO(OW, DEPTH, copies=NC) for _ in range(NB)]
        for b, bank in enumerate(banks):
            m.submodules[f"out{b}"] = bank
        issued = Signal(range(NB * DEPTH + 1))   # beats issued (c_w) and not yet read out
        room = Signal(init=1)
        stop = Signal()                  # no piece is taken: a drain op follows
        i_take = Signal()
        c_w = Signal(range(NB + 1))      # beats the op of the previous cycle writes
        o_take = Signal()
        # the read bank: one copy per 64 bits of a beat, each picking its share
        rb = replicated(m, "rb", NC)
        fields = Signal(OW)
        for k in range(NC):
            lo, hi = k * OW // NC, (k + 1) * OW // NC
            m.d.comb += fields[lo:hi].eq(
                Array(bank.r_data[lo:hi] for bank in banks)[rb[k]] if NB > 1 else banks[0].r_data[lo:hi])
        m.d.comb += [
            i.ready.eq(room & ~stop), i_take.eq(i.valid & i.ready),
            o.valid.eq(Array(bank.r_valid for bank in banks)[rb[0]] if NB > 1 else banks[0].r_valid),
            o_take.eq(o.valid & o.ready),
            o.p.data.eq(fields[:PO * U]), o.p.keep.eq(fields[PO * U:PO * U + PO]),
            o.p.last.eq(fields[-1]),
            *[bank.r_en.eq(o.ready & (rb[0] == b)) for b, bank in enumerate(banks)],
        ]
        if NB > 1:
            with m.If(o_take):
                m.d.sync += [r.eq(~r) for r in rb]
        # `issued` counts an op's beats from the cycle after the op (`c_w`), so the
        # decision, which waits for the piece's length, reaches no counter in the
        # same cycle; `room` therefore keeps NB beats for the op being decided now
        # and NB for the next.  Each bank holds at most ceil(issued / NB) of them.
        # (`o.ready` comes late from the consumer: it only picks between the two
        # outcomes of the output's transfer, each formed from registers; an adder
        # and a compare behind it were the 16 B engine's path at seed 1 of
        # 0939210, the compress stage's output slice -> the RLE encoder's
        # `issued` -> `room`, 10.9 ns, 4.1 ns of it one wire)
        # (`c_w` and `o_take` pick among compares of the register `issued` with
        # constants: an adder `issued + c_w` before the compare was the small
        # encoders' path, 5 carry steps)
        LIM = NB * DEPTH - 2 * NB
        issued_next = Signal.like(issued)
        room_next = Signal()
        m.d.comb += [issued_next.eq(count_after(issued, c_w, o_take)),
                     room_next.eq(room_after(m, issued, LIM + 1, c_w, o_take, most=NB * DEPTH))]
        # (`room` and `stop` also in one copy per 64 bits of a piece: each
        # gates its share of the piece register, whose clear when no piece is
        # taken reached all its flip-flops from one net, the 32 x 16 RLE
        # encoder's path: room -> piece register reset, 87 % routing)
        NT = max(1, self._in * U // 64)
        room_c = replicated(m, "room", NT, reset=1)
        stop_c = replicated(m, "stop", NT)
        m.d.sync += [issued.eq(issued_next), room.eq(room_next),
                     *[r.eq(room_next) for r in room_c]]

        # ---- control: where each piece lands, which beats each op writes ------------
        # `fill` counts the units pending after every op issued so far, below a
        # beat unless a piece completed more than NB beats; `stop` = fill >=
        # out_units or a packet's tail is still to write (`flushing`): the next op
        # is a drain, with no piece.
        fill = Signal(range(AW + 1))
        flushing = Signal()              # the packet has ended; the tail follows
        c_mask = Signal(PI)              # units of the piece that are valid
        # The piece lands at `fill` (below a beat when a piece is taken).  One copy
        # of the position per output unit of the shifter: each bit then drives one
        # unit's multiplexers.  They load from NC copies of `fill` (a tree: `fill`
        # itself reaching all A copies spread over the shifter was the 16 B
        # offload unit's path, in the RLE encoder, most of it routing)
        PB = len(Signal(range(PO)))
        c_pos = replicated(m, "c_pos", A, width=PB)
        pos_src = replicated(m, "fill_pos", NC, width=PB)
        c_keep = Signal(range(PO + 1))   # units of the op's final beat
        c_last = Signal()                # ... which ends the packet
        c_wb = Signal()                  # the bank of the op's first beat (NB = 2)
        c_data = Signal(PI * U)

        # The decision waits for the piece's length `n` (from the producer's
        # register or FIFO): every flag that depends on it is a comparison of
        # `total` = fill + n with a constant, side by side, then a multiplexer; no
        # result of one comparison feeds another carry chain in the same cycle.
        total = Signal(range(max(A, AW) + 1))
        m.d.comb += total.eq(fill + i.p.n)
        fill_next = Signal.like(fill)
        flushing_next, stop_next = Signal(), Signal()
        w = Signal(range(NB + 1))
        keep = Signal(range(PO + 1))
        last = Signal()

        def outcome(v, ends):
            """The op on ``v`` pending units (with the piece), ``ends`` the packet:
            up to NB beats leave, the last of a packet keeping its tail."""
            top = (1 << len(v)) - 1      # (no compare with a value `v` cannot hold)

            def at(c):
                return v == c if c <= top else C(0, 1)

            def leave(j):                # j full beats leave
                if j == NB:              # ... and the rest stays
                    more = ends & ~at(NB * PO)           # a tail still to write
                    beyond = v >= (NB + 1) * PO if (NB + 1) * PO <= top else C(0, 1)
                    m.d.comb += [
                        w.eq(NB), keep.eq(PO), last.eq(ends & ~more),
                        fill_next.eq(v - NB * PO), flushing_next.eq(more),
                        stop_next.eq(beyond | more),
                    ]
                else:                    # ... and the tail if the packet ends
                    tail = ends & ~at(j * PO) if j else ends
                    m.d.comb += [
                        w.eq(j + tail), keep.eq(Mux(tail, v - j * PO, PO)), last.eq(ends),
                        fill_next.eq(Mux(ends, 0, v - j * PO)),
                    ]
            cases = [j for j in range(NB, 0, -1) if j * PO <= top]
            for n, j in enumerate(cases):
                with (m.Elif if n else m.If)(v >= j * PO):
                    leave(j)
            if cases:
                with m.Else():
                    leave(0)
            else:
                leave(0)

        with m.If(i_take):
            outcome(total, i.p.last)
        with m.Elif(stop & room):        # drain op: the next beats of the backlog
            outcome(fill, flushing)
        with m.Else():
            m.d.comb += [fill_next.eq(fill), flushing_next.eq(flushing), stop_next.eq(stop)]
        wb = Signal()                    # the bank of the next beat written
        m.d.sync += [
            fill.eq(fill_next), flushing.eq(flushing_next),
            stop.eq(stop_next), *[c.eq(stop_next) for c in stop_c],
            wb.eq(wb ^ w[0] if NB > 1 else 0), c_wb.eq(wb),
            c_w.eq(w), c_keep.eq(keep), c_last.eq(last),
            c_mask.eq(Mux(i_take, thermometer(i.p.n, PI), 0)),
            *[q.eq(fill_next[:PB]) for q in pos_src],
            *[q.eq(pos_src[min(j * NC // A, NC - 1)]) for j, q in enumerate(c_pos)],
        ]
        for k in range(PI):              # a piece, or zeros when no piece is taken
            t = k * NT // PI
            m.d.sync += c_data[k * U:(k + 1) * U].eq(
                Mux(i.valid & room_c[t] & ~stop_c[t], i.p.data[k * U:(k + 1) * U], 0))

        # ---- shift: the piece (units >= n cleared) moved to its position -----------
        # Two register stages: the low half of the position's bits, then the high
        # half (a whole shifter in one cycle was the critical path of the byte
        # packers: 6 multiplexer levels behind a high-fan-out position register).
        LO = range(PB // 2)
        HI = range(PB // 2, PB)
        h_w, h_wb, h_keep, h_last = Signal.like(c_w), Signal.like(c_wb), Signal(PO), Signal()
        h_pos = replicated(m, "h_pos", A, width=len(HI))   # the high bits only
        WH = min(A, PI + (1 << len(LO)) - 1)     # units the low half can reach
        h_piece = Signal(WH * U)
        masked = [Mux(c_mask[k], u, 0) if self._masked else u
                  for k, u in enumerate(_lanes_of(c_data, U, PI))]
        m.d.sync += [
            h_keep.eq(thermometer(c_keep, PO)), h_last.eq(c_last), h_w.eq(c_w), h_wb.eq(c_wb),
            *[p.eq(c[PB // 2:]) for p, c in zip(h_pos, c_pos)],
            h_piece.eq(Cat(*shift_units(m, masked, c_pos, WH, "pk_shl", LO))),
        ]
        # (`s_w` steers the merge's every unit: one copy per 32 bits of the
        # partial beat; with one per 64 output bits, a copy -> the partial
        # beat was the 32 x 16 ZVC compressor's path, 1 level, 93 % routing;
        # `s_wb`, the bank of the op's first beat, one per 32 bits of the beats)
        NE = max(NC, -(-AW * U // 32))
        NP = max(1, -(-NB * PO * U // 32))
        s_w = replicated(m, "s_w", NE, width=len(c_w))
        s_wb = replicated(m, "s_wb", NP)
        s_keep = Signal(PO)
        s_last = Signal()
        s_en = Signal(NB)                # the banks written
        s_fin = Signal(NB)               # the bank of the op's final beat
        s_piece = Signal(A * U)
        shifted = shift_units(m, _lanes_of(h_piece, U, WH),
                              [Cat(C(0, len(LO)), p) for p in h_pos], A, "pk_shh", HI)
        m.d.sync += [
            s_keep.eq(h_keep), s_last.eq(h_last),
            *[e.eq(h_w) for e in s_w], *[e.eq(h_wb) for e in s_wb],
            # (bank b holds beat b ^ wb of the op)
            *[s_en[b].eq((h_wb ^ b) < h_w) for b in range(NB)],
            *[s_fin[b].eq((h_wb ^ b) + 1 == h_w) for b in range(NB)],
            s_piece.eq(Cat(*shifted)),
        ]

        # ---- merge: OR into the partial beat; completed beats leave --------------------
        # The piece ORed into the pending units; the first `s_w` beats of that go
        # to the banks from `s_wb` on, and what is above them stays.
        acc = Signal(AW * U)             # units at and above the fill are zero

        def unit(vec, k, n):
            return vec[k * U:(k + 1) * U] if k < n else C(0, U)

        def merged(k):
            return unit(acc, k, AW) | unit(s_piece, k, A)
        for k in range(AW):
            g = min(k * NE // AW, NE - 1)
            # (s_w is 0..NB, NB <= 2: its high bit alone says NB)
            nxt = Mux(s_w[g][0], merged(k + PO), merged(k))
            if NB > 1:
                nxt = Mux(s_w[g][1], merged(k + 2 * PO), nxt)
            m.d.sync += acc[k * U:(k + 1) * U].eq(nxt)
        for b, bank in enumerate(banks):
            units = []
            for k in range(PO):
                sel = s_wb[min((b * PO + k) * NP // (NB * PO), NP - 1)]
                units.append(Mux(sel, merged((b ^ 1) * PO + k), merged(b * PO + k))
                             if NB > 1 else merged(k))
            keep_b = Mux(s_fin[b], s_keep, C((1 << PO) - 1, PO))
            m.d.comb += [bank.w_en.eq(s_en[b]),
                         bank.w_data.eq(Cat(*units, keep_b, s_fin[b] & s_last))]
        return m


class CreditedPacker(wiring.Component):
    """A :class:`Packer` behind a piece FIFO with credits, for a free-running producer.

    A producer whose stages have no enables (a valid bit travels with each
    beat, nothing ever stops inside) cannot take ``ready`` from the packer: by
    the time it would see it, ``inflight`` pieces are already on their way.
    It decides instead whether to accept an input beat from ``room``, a
    register that is high while the FIFO has space for ``inflight`` more
    pieces, and pushes every piece that results.  The FIFO holds at least
    ``2 * inflight + 2`` pieces: when the producer resumes after ``room``
    fell, the pieces left must cover its refill time, or an output-bound
    stream loses cycles (79-98 % of the bound at 8-bit ZVC with only a few
    spare entries).

    Parameters
    ----------
    unit_bits, in_units, out_units : int
        As for :class:`Packer`.
    inflight : int
        Pieces that may still be pushed after ``room`` falls (the producer's
        stages from its input decision to ``push``, plus a margin).
    masked : bool
        As for :class:`Packer`; default ``False`` (producers here clear their
        unused units).

    Members
    -------
    push : In(1)
        Write ``piece`` this cycle.
    piece : In(piece_layout(unit_bits, in_units))
    room : Out(1)
        Space for ``inflight`` more pieces (a register).
    overflow : Out(1)
        A push found the FIFO full (never, with a producer that obeys ``room``;
        a test hook).
    o : Out(stream.Signature(unit_beat_layout(unit_bits, out_units)))
        Dense beats.

    Raises
    ------
    TypeError, ValueError
        A parameter is not a positive integer.
    """

    def __init__(self, unit_bits: int, in_units: int, out_units: int, *, inflight: int,
                 masked: bool = False):
        self._masked = bool(masked)
        self._unit = check_positive_int("unit_bits", unit_bits)
        self._in = check_positive_int("in_units", in_units)
        self._out = check_positive_int("out_units", out_units)
        self._inflight = check_positive_int("inflight", inflight)
        super().__init__({
            "push": In(1), "piece": In(piece_layout(unit_bits, in_units)),
            "room": Out(1, init=1), "overflow": Out(1),
            "o": Out(stream.Signature(unit_beat_layout(unit_bits, out_units))),
        })

    #: Pieces the FIFO holds.
    depth = property(lambda self: 1 << (2 * self._inflight + 1).bit_length())

    def __repr__(self):
        return (f"CreditedPacker(unit_bits={self._unit}, in_units={self._in}, "
                f"out_units={self._out}, inflight={self._inflight})")

    def elaborate(self, platform):
        m = Module()
        U, PI, D = self._unit, self._in, self.depth
        piece = self.piece
        width = len(piece.as_value())
        # a read pointer per 32 bits when 64 deep: such a LUT RAM is four banks
        # and a multiplexer, and one pointer to all of them limited 16x4 ZVC at
        # 121 MHz
        per = 32 if D > 16 else 64
        m.submodules.fifo = fifo = WideFIFO(width, D, copies=max(1, width // per))
        m.submodules.packer = packer = Packer(U, PI, self._out, masked=self._masked)
        count = Signal(range(D + 1))     # pieces pushed and not yet popped
        pop = Signal()
        count_next = Signal(range(D + 2))
        m.d.comb += [
            fifo.w_en.eq(self.push), fifo.w_data.eq(piece.as_value()),
            packer.i.valid.eq(fifo.r_valid), packer.i.payload.eq(fifo.r_data),
            fifo.r_en.eq(packer.i.ready), pop.eq(fifo.r_valid & packer.i.ready),
            # (the count's next value and `room` picked by `push` and `pop` from
            # values of the register: `pop` comes from the Packer's `room`, and
            # behind it the adder and the compare were the 16 B engine's path
            # at seed 1 of 17ac18c after the rip-up and seed 2 of f5b725b, the
            # ZVC compressor's packer `room` -> `count` -> `room`, 9.9-12.2 ns)
            count_next.eq(count_after(count, self.push, pop)),
            self.overflow.eq(count_next > D),
        ]
        m.d.sync += [count.eq(count_next),
                     self.room.eq(room_after(m, count, D - self._inflight + 1, self.push, pop,
                                             most=D))]
        wiring.connect(m, wiring.flipped(self.o), packer.o)
        return m


class Unpacker(wiring.Component):
    """A window on a stream of dense beats, from which a consumer takes units.

    The inverse of :class:`Packer`: beats of ``in_units`` units (``n`` valid
    units each; every beat but the last of a packet full) are presented as a
    window ``data`` of ``out_units`` units starting at the next unconsumed unit
    of the packet.  ``level`` says how many units of the packet are buffered
    from there on (it may exceed ``out_units``), and ``ended`` that the
    packet's last beat is among them (so ``level`` is all that is left).

    In a cycle with ``take_en`` the consumer takes ``take`` <= ``level`` units;
    with ``drop`` it discards the rest of the packet instead (through its
    ``last`` beat, dropping input beats until it arrives) and the window moves
    to the next packet.  The window state advances by ``take`` in the same
    cycle, but every outcome (nothing, ``take``, ``drop``) is computed from
    registers in parallel and only the final choice depends on ``take_en`` and
    ``drop``: ``take`` itself should come from a register.  ``level``,
    ``ended`` and ``ended_user`` are registers, and so is ``i.ready`` (an input
    :class:`~hw.skid.SkidBuffer`; a beat enters the window only when a slot is
    free at the start of the cycle).  The beats sit in a ring of
    ``ceil((2 * in_units - 1 - align + out_units) / in_units)`` slots (a window
    from any start, plus a beat's slack so that input keeps landing while the
    consumer waits for a whole window) that only the input writes: the
    consumer's decision moves the ring's head, never the beats, so it reaches
    no data enable; the window reads the ring rotated by the head.

    Parameters
    ----------
    unit_bits : int
        Bits per unit.
    in_units : int
        Units per input beat.
    out_units : int
        Units in the window (the most the consumer looks at in one cycle).
    align : int
        Every ``take`` is a multiple of ``align`` units, except one that comes
        with ``drop`` (the end of a packet), so the window only ever starts at
        multiples of ``align`` in a beat: the window multiplexers shrink by
        that factor.  Must divide ``in_units``.  Default 1.
    user_bits : int
        Width of an optional ``user`` field on the input beats (0: none).
    lookahead : int
        Units the ring keeps beyond the window (default 0), for a consumer
        that reads ahead of the window through ``beats`` (from ``head``); a
        ``take`` may then be up to ``out_units + lookahead``.
    side_bits : int
        Bits of an optional ``side`` field per unit (0: none), kept beside the
        units and shown in ``beats_side``, not in the window.
    registered : bool
        Show the window a cycle late (default ``False``): the ring rotated
        by the head and by the offset's high bits is registered, and
        ``data`` selects from those registers by the offset's low bits (the
        split balances the two multiplexers' levels), so the window's
        selection sits in two cycles, not one.  ``data`` is then the window of the previous cycle:
        what a take uses of it arrives a cycle after the take, and the
        consumer delays what travels with it by one stage.  For a consumer
        that only registers the window's units (a decoder's first pipeline
        stage), never decides from them.
    fixed_take : int or None
        Every ``take`` is this many units (default ``None``: the consumer
        drives ``take``, and there is no ``take`` port with a fixed one).  The
        beats a take pops are then kept as a register, computed a cycle ahead
        for every outcome, so the consumer's decision reaches the counters and
        the ring's head through a multiplexer only: with a ``take`` from the
        consumer, offset -> "beats popped" (compares) -> counters was the 32 x
        4 RLE decoder's critical path.  Must be a multiple of ``align`` in
        1..``out_units + lookahead``.
    copies : int
        Copies of the consumer's decision: ``take_en`` and ``drop`` are
        ``copies`` bits wide, all equal, each computed by the consumer from its
        own copy of its registers; bit ``g`` moves the ``g``-th copy of the
        ring's head and window offset, which select the ``g``-th share of the
        window's bits, and a copy of the ring's tail writes the ``g``-th share
        of each beat, so no single net reaches them all.  Default 1.
    level_marks : tuple of int
        Levels for which ``level_ge`` keeps a flag (default none): a consumer
        that decides on "at least ``t`` units?" reads a flip-flop instead of
        comparing ``level`` (each flag is compared on the level's candidate
        sums, in parallel with them, and picked like the level).

    Members
    -------
    i : In(stream.Signature(piece_layout(unit_bits, in_units, user_bits)))
        Dense beats (``n`` valid units, ``last`` on a packet's final beat).
    data : Out(out_units * unit_bits)
        The window (with ``registered``: the previous cycle's).
    level : Out(range(...))
        Units of the packet buffered from the window's start on (a register).
    level_ge : Out(len(level_marks))
        Bit ``i``: ``level >= level_marks[i]`` (registers; only with
        ``level_marks``).
    ended : Out(1)
        The packet's last beat is buffered (a register).
    ended_user : Out(max(1, user_bits))
        With ``ended``: the ``user`` field of the packet's last beat (a per-packet
        flag that travels with it, e.g. "bytes that do not fill a unit").
    take : In(range(out_units + lookahead + 1))
        Units the consumer takes when ``take_en`` (``take`` <= ``level``);
        absent with ``fixed_take``.
    take_en : In(copies)
        Take ``take`` units this cycle (all bits equal: see ``copies``).
    drop : In(copies)
        Discard the rest of the current packet (``take_en`` is then ignored).
    beats : Out(...)
        The ring's slots side by side, in ring order (the window is ``beats``
        from ``start`` on, wrapping around at the end): a consumer that knows
        ahead of time where it will look can index them from its own registers
        instead of going through the window and its rotation.
    beats_side : Out(...)
        The ``side`` bits of the ring, unit for unit beside ``beats`` (per-unit
        facts a producer computed before the units entered, e.g. a popcount, so
        the consumer reads them instead of computing them late).
    head : Out(range(ring_units // in_units))
        The ring slot of the window's first unit (a register): ``start`` is
        ``head * in_units`` plus the offset in that beat.
    start : Out(range(ring_units))
        The window's first unit in ``beats`` (a register): after a take it
        has moved on by ``take`` units (modulo :attr:`ring_units`), after a
        drop it is the first unit of the slot after the packet's last beat.
    drop_start : Out(range(ring_units))
        What ``start`` becomes after a drop this cycle (from registers).

    Raises
    ------
    TypeError, ValueError
        A parameter is not a positive integer, ``align`` does not divide
        ``in_units``, a level mark is not an integer in 1..ring units, or
        ``fixed_take`` is not a multiple of ``align`` in 1..``out_units +
        lookahead``.
    """

    def __init__(self, unit_bits: int, in_units: int, out_units: int, *, align: int = 1,
                 user_bits: int = 0, side_bits: int = 0, copies: int = 1, lookahead: int = 0,
                 registered: bool = False, level_marks: tuple = (), fixed_take: int | None = None):
        if not isinstance(registered, bool):
            raise TypeError(f"registered must be a bool, not {registered!r}")
        self._registered = registered
        self._look = check_positive_int("lookahead", lookahead, minimum=0)
        self._side = check_positive_int("side_bits", side_bits, minimum=0)
        self._unit = check_positive_int("unit_bits", unit_bits)
        self._in = check_positive_int("in_units", in_units)
        self._out = check_positive_int("out_units", out_units)
        self._align = check_positive_int("align", align)
        self._user = check_positive_int("user_bits", user_bits, minimum=0)
        self._copies = check_positive_int("copies", copies)
        if in_units % align:
            raise ValueError(f"align must divide in_units ({in_units}), not {align!r}")
        # Beats buffered: a window from any start in a beat, plus in_units - 1
        # units of slack, so a beat can still land while the consumer waits for a
        # whole window (without it, input-bound streams lost up to 12 % of the
        # cycles: a beat lands only in a slot free at the start of a cycle).
        self._nw = -(-(2 * in_units - 1 - align + out_units + lookahead) // in_units)
        if not isinstance(level_marks, (tuple, list)):
            raise TypeError(f"level_marks must be a tuple of ints, not {level_marks!r}")
        for t in level_marks:
            if not isinstance(t, int) or isinstance(t, bool) or not 1 <= t <= self._nw * in_units:
                raise ValueError(f"level_marks must be integers in 1..{self._nw * in_units} "
                                 f"(the ring's units), not {t!r}")
        self._marks = tuple(level_marks)
        if fixed_take is not None:
            check_positive_int("fixed_take", fixed_take)
            if fixed_take % align or fixed_take > out_units + lookahead:
                raise ValueError(f"fixed_take must be a multiple of align ({align}) in "
                                 f"1..{out_units + lookahead}, not {fixed_take!r}")
        self._fixed = fixed_take
        take = {} if fixed_take is not None else {"take": In(range(out_units + lookahead + 1))}
        # (`level_ge` only with marks: a zero-width port is `[-1:0]` in Verilog)
        marks = {"level_ge": Out(len(self._marks))} if self._marks else {}
        super().__init__({
            "i": In(stream.Signature(piece_layout(unit_bits, in_units, user_bits, side_bits))),
            "data": Out(out_units * unit_bits),
            "level": Out(range(self._nw * in_units + 1)),
            **marks,
            "ended": Out(1),
            "ended_user": Out(max(1, user_bits)),
            **take,
            "take_en": In(self._copies),
            "drop": In(self._copies),
            "beats": Out(self._nw * in_units * unit_bits),
            "beats_side": Out(max(1, self._nw * in_units * side_bits)),
            "head": Out(range(self._nw)),
            "start": Out(range(self._nw * in_units)),
            "drop_start": Out(range(self._nw * in_units)),
        })

    unit_bits = property(lambda self: self._unit, doc="Bits per unit.")
    in_units = property(lambda self: self._in, doc="Units per input beat.")
    out_units = property(lambda self: self._out, doc="Units in the window.")
    ring_units = property(lambda self: self._nw * self._in, doc="Units in the ring (``beats``).")

    def __repr__(self):
        return (f"Unpacker(unit_bits={self._unit}, in_units={self._in}, "
                f"out_units={self._out}, align={self._align}"
                + (", registered=True)" if self._registered else ")"))

    def elaborate(self, platform):
        m = Module()
        U, IB, PO, AL, NW = self._unit, self._in, self._out, self._align, self._nw
        UBITS = max(1, self._user)
        SB = self._side
        m.submodules.skid = skid = SkidBuffer(piece_layout(U, IB, self._user, SB),
                                              copies=self._copies)
        wiring.connect(m, wiring.flipped(self.i), skid.i)
        src = skid.o
        src_user = src.p.user if self._user else C(0, 1)

        NC = self._copies
        # The beats sit in a ring of NW slots that only the input writes: the
        # consumer's decision moves the ring's head (a few bits), never the beats,
        # so it reaches no data enable.  (A shift register of beats, each slot
        # taking the one `pops` above it, put the decision -- level -> "enough
        # units?" -> pops -> NW-way multiplexer -> every buffered bit -- on the
        # decoders' critical path.)  The window reads the ring through a rotation
        # by the head, a register.  What the control needs to know about the
        # beats (units, where the packet ends) is kept in counters as they land,
        # not read back from the slots.
        r_data = [Signal(IB * U, name=f"r{k}_data") for k in range(NW)]
        r_side = [Signal(max(1, IB * SB), name=f"r{k}_side") for k in range(NW)]
        src_side = src.p.side if SB else C(0, 1)
        SW_ = max(1, len(Signal(range(NW))))
        head_c = replicated(m, "head", NC, width=SW_)   # ring slot of beat 0, per share
        tail_c = replicated(m, "tail", NC, width=SW_)   # ring slot the next beat goes to
        free_c = replicated(m, "free", NC, reset=1)     # count < NW, per share
        count = Signal(range(NW + 1))    # beats in the ring
        # The current packet (the one the window is on) and, once its last beat
        # is in, the next one.  A beat of the packet after that is not taken
        # until the current one is dropped (only packets of a beat or two can be
        # three in the ring).
        level = Signal(range(NW * IB + 1))  # units of the packet from the window on
        ended = Signal()                 # its last beat is in the ring
        ended_user = Signal(UBITS)
        beats = Signal(range(NW + 1))    # its beats in the ring
        n_level = Signal(range(NW * IB + 1))  # the next packet: units, ...
        n_ended = Signal()               # ... its last beat is in too, ...
        n_user = Signal(UBITS)
        n_beats = Signal(range(NW + 1))  # ... its beats
        dropping = Signal()              # dropping input beats up to a packet's last
        m.d.comb += [self.level.eq(level), self.ended.eq(ended), self.ended_user.eq(ended_user)]

        def rotated(ring, k, sel, name):
            """Beat ``k`` of the window: ring slot (``sel`` + k) mod NW."""
            out = Signal(len(ring[0]), name=f"w{k}_{name}")
            with m.Switch(sel):
                for h in range(NW):
                    # (the last one as the default: with NW not a power of two
                    # the select has values no slot has, and lint wants them covered)
                    with (m.Case(h) if h < NW - 1 else m.Default()):
                        m.d.comb += out.eq(ring[(h + k) % NW])
            return out

        W = IB * U
        w_data = []
        for k in range(NW):
            parts = []
            for g in range(NC):
                lo, hi = g * W // NC, (g + 1) * W // NC
                if lo < hi:
                    parts.append(rotated([r[lo:hi] for r in r_data], k, head_c[g], f"data{g}"))
            w_data.append(Cat(*parts))

        OFFS = IB // AL                  # possible window starts in a beat
        OFFW = len(Signal(range(OFFS + 1)))
        off = Signal(range(OFFS + 1))    # in units of `align` (OFFS: a last beat used up)
        # one copy of the offset per share of the window's units (their multiplexers)
        off_c = replicated(m, "off", NC, width=OFFW)

        # ---- the window: beats 0..NW-1 side by side, from `off` on ---------------
        # (only the beats a window from any offset reaches: the rest is lookahead
        # and slack, read through `beats`)
        WBEATS = ((OFFS - 1) * AL + PO - 1) // IB + 1
        m.d.comb += self.beats.eq(Cat(*r_data))
        if SB:
            m.d.comb += self.beats_side.eq(Cat(*r_side))
        cat = Cat(*w_data[:WBEATS])

        def unit(vec, k):
            return vec[k * U:(k + 1) * U]

        def offset_select(domain, sels, dst, groups, step, src, full=False):
            """``dst[u]`` = unit ``o * step + u`` of ``src`` for a select in
            ``groups[o]`` (share ``g`` of ``dst`` by ``sels[g]``); zero for
            any other select value, or with ``full`` (the groups cover every
            value) the last group as the default."""
            for u, d in enumerate(dst):
                with m.Switch(sels[min(u * NC // PO, NC - 1)]):
                    for o, values in enumerate(groups):
                        last = full and o == len(groups) - 1
                        with (m.Default() if last else m.Case(*values)):
                            domain += d.eq(unit(src, o * step + u))
                    if not full:
                        with m.Default():    # (a last beat used up: nothing to show)
                            domain += d.eq(0)

        data = [self.data[u * U:(u + 1) * U] for u in range(PO)]
        if not self._registered:
            offset_select(m.d.comb, off_c, data, [[o] for o in range(OFFS)], AL, cat)
        else:
            # The window in two cycles: first the ring rotated by the head and
            # by the offset's high part (2**k offsets at a time) into registers
            # `wx` (the window's units and the 2**k - 1 after them), then
            # `data` from those by the offset's low part.  k balances the
            # multiplexer levels of the two (the head's ceil(log2 NW), the
            # offset's log2 OFFS); one multiplexer for all of it was the 32 x
            # 16 decoders' critical path (head -> slot -> offset -> first
            # stage), over 90 % of it routing.
            ks = [k for k in range(OFFS.bit_length()) if OFFS % (1 << k) == 0]
            k = min(ks, key=lambda k: (max((NW - 1).bit_length()
                                           + ((OFFS >> k) - 1).bit_length(), k), k))
            F = 1 << k
            wx = [Signal(U, name=f"wx{u}") for u in range(PO + (F - 1) * AL)]
            offset_select(m.d.sync, off_c, wx,
                          [[oh * F + ol for ol in range(F)] for oh in range(OFFS // F)],
                          F * AL, cat)
            if k:
                lo_q = replicated(m, "off_lo", NC, width=k)
                m.d.sync += [q.eq(c[:k]) for q, c in zip(lo_q, off_c)]
                offset_select(m.d.comb, lo_q, data, [[ol] for ol in range(F)], AL, Cat(*wx),
                              full=True)
            else:
                m.d.comb += [d.eq(x) for d, x in zip(data, wx)]

        # ---- the input beat: written to the tail slot whenever one is free -------
        # `ready` comes from registers only.  A beat that belongs to a packet being
        # dropped is still taken, and written to the free slot, but not counted.
        drop0, take0 = self.drop[0], self.take_en[0]
        # `src.ready` is itself a register (`rdy`, loaded with what
        # `dropping | (free & ~(ended & n_ended))` is next cycle): the skid
        # buffer's load enables then start at a flip-flop, not at three levels
        # of logic on the packet counters (the RLE decoder's critical path).
        discard = Signal()               # it belongs to a dropped packet
        lands = Signal()
        rdy = Signal(init=1)
        m.d.comb += [
            src.ready.eq(rdy),
            discard.eq(dropping | (drop0 & ~ended)),
            lands.eq(src.valid & src.ready & ~discard),
        ]
        with m.If(discard):
            m.d.sync += dropping.eq(~(src.valid & src.ready & src.p.last))
        for k in range(NW):
            for g in range(NC):
                lo, hi = g * W // NC, (g + 1) * W // NC
                if lo < hi:
                    with m.If(src.valid & free_c[g] & (tail_c[g] == k)):
                        m.d.sync += r_data[k][lo:hi].eq(src.p.data[lo:hi])
            if SB:
                with m.If(src.valid & free_c[0] & (tail_c[0] == k)):
                    m.d.sync += r_side[k].eq(src_side)

        # ---- three outcomes, each from registers; the consumer picks one ---------
        take = self.take if self._fixed is None else C(self._fixed)
        # take: whole beats consumed (never the packet's last beat: `drop` does that)
        pos = Signal(range(OFFS * AL + PO + self._look + 1))
        m.d.comb += pos.eq(off * AL + take)
        # `can[k]` (in `pops_of`): the take empties the first k beats and the
        # packet's last beat is not among them; true for every k up to the beats
        # popped (and false above), so `pops_one[k]` = "exactly k beats go" is
        # one gate on two compares.  What depends on the beats popped is picked
        # with these one-hot flags from a candidate per k (computed from
        # registers), not computed from an encoded count behind the compares
        # (beats -> pops -> count -> `free` was the 16 B engine's RLE decoder
        # path at d7551f8, seed 3, 13.3 ns, 8 levels).
        def pops_of(reaches, ended_v, beats_le):
            """One-hot: the beats a take pops, for ``reaches(k)`` = "the take
            reaches the end of the first k beats", ``ended_v`` and
            ``beats_le(k)`` = "the packet has at most k beats in the ring"."""
            can = [C(1, 1)]
            for k in range(1, NW + 1):
                # (the packet's last beat is among the first k: beats <= k,
                # always so for k = NW)
                last_in = ended_v & beats_le(k) if k < NW else ended_v
                can.append(reaches(k) & ~last_in)
            return Cat(*[can[k] & ~can[k + 1] if k < NW else can[k] for k in range(NW + 1)])
        if self._fixed is None:
            pops_one = Signal(NW + 1)
            m.d.comb += pops_one.eq(pops_of(lambda k: pos >= k * IB, ended, lambda k: beats <= k))
        else:
            # (a register, loaded below with its value after each outcome;
            # at reset the offset is 0 and no beat is in)
            pops_one = Signal(NW + 1, init=1 << (self._fixed // IB))

        def by_pops(value, width):
            """``value(k)`` for the number k of beats the take pops (AND-OR)."""
            out = Signal(width)
            m.d.comb += out.eq(onehot_select(pops_one, [value(k) for k in range(NW + 1)]))
            return out

        off_take = Signal.like(off)
        # (never negative: an unsigned value, so that a division by `align` is not
        # a signed one; by a power of two it is a slice)
        rest = by_pops(lambda k: pos - k * IB, len(pos))
        if AL & (AL - 1) == 0:
            m.d.comb += off_take.eq(rest[AL.bit_length() - 1:])
        else:
            m.d.comb += off_take.eq(rest // AL)
        # drop: the packet's beats (through its last if it is here, else every beat)
        # The units that land, for the counters: a beat discarded by this
        # cycle's drop (`drop0 & ~ended`) only ever meets a counter that the
        # drop clears, so the counters add `n` whenever a beat lands unless an
        # earlier drop is still `dropping` -- a condition from registers, which
        # keeps the consumer's decision off the adders' inputs (it only picks
        # among their results).
        # The level's sums are formed for both cases of a landing beat and the
        # landing picks one, so the input's `valid` meets a multiplexer after
        # the carry chains, not their inputs (the RLE decoder's critical path at
        # 32 x 4: the skid's `valid` -> landing -> `level - take + n` -> level).
        lands_nd = Signal()
        m.d.comb += lands_nd.eq(src.valid & src.ready & ~dropping)
        add_n = Signal()                 # a beat of the current packet lands
        m.d.comb += add_n.eq(lands_nd & ~ended)
        lv = {}
        for name, value in (("kn", level + src.p.n), ("t", level - take),
                            ("tn", level - take + src.p.n), ("dn", n_level + src.p.n)):
            lv[name] = Signal.like(level, name=f"level_{name}")
            m.d.comb += lv[name].eq(value)
        beats_take = by_pops(lambda k: beats - k, len(beats))
        # (the level's flags: each candidate compared, then picked as the level is)
        level_ge = Signal(len(self._marks))

        def flags_to(value):
            """The flags' load with ``value`` (none without marks)."""
            return [level_ge.eq(value)] if self._marks else []

        def ge(v):
            return Cat(*[v >= t for t in self._marks])
        if self._marks:
            m.d.comb += self.level_ge.eq(level_ge)
        # (the packet's end and beats after a drop)
        ended_d = Mux(ended, n_ended | (lands_nd & src.p.last), 0)
        beats_d = Mux(ended, n_beats + lands_nd, 0)
        with m.If(drop0):
            m.d.sync += [
                off.eq(0),
                level.eq(Mux(ended, Mux(lands_nd, lv["dn"], n_level), 0)),
                *flags_to(Mux(ended, Mux(lands_nd, ge(lv["dn"]), ge(n_level)), 0)),
                ended.eq(ended_d),
                ended_user.eq(Mux(ended & n_ended, n_user, src_user)),
                beats.eq(beats_d),
                n_level.eq(0), n_ended.eq(0), n_beats.eq(0),
            ]
        with m.Else():
            # a landing beat is the current packet's until its last is in, then the
            # next packet's
            with m.If(take0):
                m.d.sync += [off.eq(off_take),
                             level.eq(Mux(add_n, lv["tn"], lv["t"])),
                             *flags_to(Mux(add_n, ge(lv["tn"]), ge(lv["t"]))),
                             beats.eq(beats_take + add_n)]
            with m.Else():
                m.d.sync += [level.eq(Mux(add_n, lv["kn"], level)),
                             *flags_to(Mux(add_n, ge(lv["kn"]), level_ge)),
                             beats.eq(beats + add_n)]
            with m.If(~ended):
                m.d.sync += [ended.eq(lands_nd & src.p.last), ended_user.eq(src_user)]
            with m.Elif(lands_nd):
                m.d.sync += [n_level.eq(n_level + src.p.n), n_beats.eq(n_beats + 1),
                             n_ended.eq(src.p.last), n_user.eq(src_user)]
        for g, oc in enumerate(off_c):
            m.d.sync += oc.eq(Mux(self.drop[g], 0, Mux(self.take_en[g], off_take, oc)))

        # The beat count, the `free` flags and `rdy` after each of the consumer's
        # outcomes (nothing, take, drop), each from registers: the decision only
        # picks one.  (Computed from the next-state values instead, the decision
        # went through the popped beats, the count and a compare into `rdy`:
        # the ZVC decompressor's critical path.)
        got = src.valid & rdy & src.p.last        # a packet's last beat is taken
        lands_d = src.valid & rdy & ~dropping & ended   # a beat lands with a drop now
        count_k = Signal(range(NW + 2))           # (a beat lands as `lands_nd` otherwise)
        count_t = Signal(range(NW + 2))
        count_d = Signal(range(NW + 2))
        # (each of them, and `free` below, for both cases of a landing beat,
        # picked by the landing: the skid's `valid` meets a multiplexer, not
        # an adder and a compare -- skid `valid` -> `count + lands` -> `free`
        # was the 32 x 4 RLE decoder's path, 78 % routing)
        count_d0 = Signal(range(NW + 1))
        m.d.comb += [count_k.eq(count + lands_nd),
                     count_t.eq(Mux(lands_nd, by_pops(lambda k: count + 1 - k, len(count_t)),
                                    by_pops(lambda k: count - k, len(count_t)))),
                     count_d0.eq(count - beats),
                     count_d.eq(count_d0 + lands_d)]
        count_next = Mux(drop0, count_d, Mux(take0, count_t, count_k))
        # (`free` from a compare per outcome too: the decision picks a bit, not a
        # count to compare; through the count it ended the 16 B parser's path)
        free_k = Mux(lands_nd, count < NW - 1, count < NW)
        free_d = Mux(lands_d, count_d0 < NW - 1, count_d0 < NW)
        free_t = Mux(lands_nd, by_pops(lambda k: count < NW - 1 + k, 1),
                     by_pops(lambda k: count < NW + k, 1))
        free_next = Mux(drop0, free_d, Mux(take0, free_t, free_k))
        m.d.sync += [count.eq(count_next), *[f.eq(free_next) for f in free_c]]
        # without a drop: `dropping` ends with the last beat; `ended`/`n_ended`
        # as the counters above
        dropping_k = Mux(dropping, ~got, 0)
        ended_k = ended | (lands_nd & src.p.last)
        n_ended_k = Mux(ended & lands_nd, src.p.last, n_ended)
        # with a drop: the rest of the packet is discarded up to its last beat
        dropping_d = Mux(dropping | ~ended, ~got, dropping)
        rdy_k = dropping_k | (free_k & ~(ended_k & n_ended_k))
        rdy_t = dropping_k | (free_t & ~(ended_k & n_ended_k))
        rdy_d = dropping_d | free_d     # (no next packet's end after a drop)
        m.d.sync += rdy.eq(Mux(drop0, rdy_d, Mux(take0, rdy_t, rdy_k)))

        if self._fixed is not None:
            # The beats the next take pops, after each outcome, from registers
            # (a take's for each number j of beats it pops: the offset moves
            # on to pos - j in_units, where the next take reaches pos + TK - j
            # in_units; the packet keeps beats - j of its beats).
            TK = self._fixed
            nb = Signal.like(beats, name="beats_kept")
            m.d.comb += nb.eq(beats + add_n)
            pops_k = pops_of(lambda k: pos >= k * IB, ended_k, lambda k: nb <= k)
            # (`nb <= k + j` is true for every value of `nb` once k + j reaches
            # its largest: a constant, not a comparison lint calls constant)
            pops_t = onehot_select(pops_one, [
                pops_of(lambda k, j=j: pos + TK >= (k + j) * IB, ended_k,
                        lambda k, j=j: nb <= k + j if k + j < 2 ** len(nb) - 1 else C(1, 1))
                for j in range(NW + 1)])
            pops_d = pops_of(lambda k: C(TK >= k * IB, 1), ended_d, lambda k: beats_d <= k)
            m.d.sync += pops_one.eq(Mux(drop0, pops_d, Mux(take0, pops_t, pops_k)))

        def ring_add(value, inc):
            """(value + inc) mod NW, for value < NW and inc <= NW."""
            total = Signal(range(2 * NW + 1))
            m.d.comb += total.eq(value + inc)
            return wrap(total, NW, 2)[:SW_]

        # Each share's head follows its own copy of the decision.  (The tail
        # moves by one slot or none: the landing, which the decision's drop
        # reaches through `discard`, picks the sum, it is not the adder's input
        # -- drop -> landing -> the tail's carry chain was the ZVCE
        # decompressor's path at 32 x 4, 18.8 ns.)
        for g in range(NC):
            # (a take's head from a candidate per beats popped, see `pops_one`)
            h = head_c[g]
            head_take = by_pops(lambda k: ring_add(h, k), SW_)
            m.d.sync += [head_c[g].eq(Mux(self.drop[g], ring_add(h, beats),
                                          Mux(self.take_en[g], head_take, h))),
                         tail_c[g].eq(Mux(lands, ring_add(tail_c[g], 1), tail_c[g]))]

        # The window's start in ring units: head * in_units + off * align, kept
        # as its own register (moved on by `take`, or to the slot after the
        # packet's last beat by `drop`).
        N = NW * IB
        start = Signal(range(N))
        start_take = Signal(range(N + PO + self._look + 1))
        m.d.comb += [self.start.eq(start), self.head.eq(head_c[0]), start_take.eq(start + take)]
        m.d.comb += self.drop_start.eq(ring_add(head_c[0], beats) * IB)
        with m.If(drop0):
            m.d.sync += start.eq(self.drop_start)
        with m.Elif(take0):
            m.d.sync += start.eq(wrap(start_take, N, 2))
        return m
