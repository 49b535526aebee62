"""Zero-value compression (ZVC) in hardware: a compressor and a decompressor.

The byte format is the golden model's (:mod:`golden.zvc`, ``docs/FORMAT.md``):
windows of 32 elements, each a little-endian 32-bit mask (bit *i* set = element
*i* is nonzero) followed by the window's nonzero elements in index order, packed
back to back.  ``docs/ZVC.md`` describes the microarchitecture, the latency and
the throughput of both blocks.
"""
from __future__ import annotations

import enum

from amaranth.hdl import Array, C, Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .bits import popcount
from .streams import byte_stream, check_positive_int, element_stream

__all__ = ["WINDOW", "ELEM_BITS", "ZVCError", "ZVCCompressor", "ZVCDecompressor", "ZVCLoopback"]

#: Elements per ZVC window (one 32-bit mask).
WINDOW = 32
#: Supported element widths.
ELEM_BITS = (8, 16, 32)
#: Largest supported byte-beat width (keeps the barrel shifters sane).
MAX_BEAT_BYTES = 256


class ZVCError(enum.IntEnum):
    """Error codes of :class:`ZVCDecompressor` (same numbers as ``golden.ErrorCode``)."""

    OK = 0
    #: The chunk ends before its last window is complete, or bytes follow it.
    LENGTH_MISMATCH = 6
    #: A mask sets bits for elements past the chunk's element count.
    BAD_MASK = 8


def _check_elem_bits(elem_bits):
    if not isinstance(elem_bits, int) or isinstance(elem_bits, bool):
        raise TypeError(f"elem_bits must be an integer, one of {ELEM_BITS}, not {elem_bits!r}")
    if elem_bits not in ELEM_BITS:
        raise ValueError(f"elem_bits must be one of {ELEM_BITS}, not {elem_bits!r}")
    return elem_bits


def _check_lanes(lanes):
    check_positive_int("lanes", lanes)
    if lanes > WINDOW or lanes & (lanes - 1):
        raise ValueError(f"lanes must be a power of two from 1 to {WINDOW}, not {lanes!r}")
    return lanes


def _check_beat_bytes(name, value):
    check_positive_int(name, value)
    if value > MAX_BEAT_BYTES:
        raise ValueError(f"{name} must be from 1 to {MAX_BEAT_BYTES}, not {value!r}")
    return value


def _equals(value, const):
    """``value == const``; a comparison with 0 is written as a reduce-or so the
    Verilog has no multi-bit logical not (which Verilator's lint flags)."""
    return ~value.any() if const == 0 else value == const


def _prefix_counts(m, bits, name):
    """Comb signals ``p[i]`` = number of set bits of ``bits`` below bit ``i``
    (i = 0..n), each its own adder tree so no count waits for a ripple chain."""
    n = len(bits)
    p = [C(0, 1)]
    for i in range(1, n + 1):
        s = Signal(range(i + 1), name=f"{name}{i}")
        m.d.comb += s.eq(popcount([bits[k] for k in range(i)]))
        p.append(s)
    return p


def _compact(m, elems, nz, name):
    """Slot *j* = the *j*-th nonzero of ``elems`` (in index order), 0 past the last.

    An AND-OR of the candidates ``k >= j`` whose prefix count is ``j``; a zero
    element adds nothing to the OR, so ``nz[k]`` need not gate it.
    """
    p = _prefix_counts(m, nz, f"{name}_p")
    slots = []
    for j in range(len(elems)):
        slot = Signal(len(elems[0]), name=f"{name}{j}")
        # p[k] == 0 is written as "no nonzero below k" (a reduce-or rather than
        # a multi-bit logical not, which Verilator's lint flags).
        terms = [Mux(_equals(p[k], j) if j else ~nz[:k].any(), elems[k], 0)
                 for k in range(j, len(elems))]
        expr = terms[0]
        for t in terms[1:]:
            expr = expr | t
        m.d.comb += slot.eq(expr)
        slots.append(slot)
    return slots


def _expand(m, slots, mask, name):
    """Element *k* = ``slots[popcount(mask below k)]`` if ``mask[k]`` else 0:
    the inverse of :func:`_compact`."""
    p = _prefix_counts(m, mask, f"{name}_p")
    out = []
    for k in range(len(slots)):
        x = Signal(len(slots[0]), name=f"{name}{k}")
        # p[k] <= k: index with just enough bits and a full power-of-two table
        # (padded with zeros) so the generated case is complete.
        if k == 0:
            src = slots[0]
        else:
            ibits = k.bit_length()
            table = slots[:k + 1] + [C(0, len(slots[0]))] * ((1 << ibits) - k - 1)
            src = Array(table)[p[k][:ibits]]
        m.d.comb += x.eq(Mux(mask[k], src, 0))
        out.append(x)
    return out


def _bytes_shift_left(value, nbytes_amount):
    """``value`` shifted left by a variable number of bytes."""
    return value << Cat(C(0, 3), nbytes_amount)


def _bytes_shift_right(value, nbytes_amount):
    """``value`` shifted right by a variable number of bytes."""
    return value >> Cat(C(0, 3), nbytes_amount)


class ZVCCompressor(wiring.Component):
    """Zero-value compressor: raw element beats in, the chunk's ZVC bytes out.

    Each input packet (``last`` on its final beat) is one chunk; the output packet
    is exactly ``golden.zvc.encode`` of that chunk, packed densely into
    ``out_bytes``-wide beats (``keep`` all ones but on the final beat, which
    keeps a prefix and carries ``last``).  A final input beat that keeps no
    element closes the chunk; a chunk without any element produces one *null*
    output beat (``keep`` = 0, ``last`` = 1).

    Throughput: one input beat per cycle as long as the output is not
    back-pressured and the encoded bytes fit ``out_bytes`` per cycle.
    Latency: the output beat carrying the first bytes of a window is valid 3
    cycles after the clock edge that transferred the input beat completing the
    window (see ``docs/ZVC.md``).

    Parameters
    ----------
    elem_bits : int
        Element width: 8, 16 or 32.
    lanes : int
        Elements per input beat: a power of two from 1 to 32.
    out_bytes : int
        Bytes per output beat, 1 to 256.

    Members
    -------
    i : In(stream.Signature(element_beat_layout(elem_bits, lanes)))
        Raw elements.  ``keep`` (one bit per element) is honoured on the ``last``
        beat only, where it must keep a prefix of the lanes; other beats carry
        ``lanes`` elements.
    o : Out(stream.Signature(byte_beat_layout(out_bytes)))
        ZVC bytes.

    Raises
    ------
    TypeError
        A parameter is not an integer.
    ValueError
        A parameter is out of range.
    """

    def __init__(self, elem_bits: int, lanes: int, out_bytes: int):
        self._MustUse__silence = True        # no "never used" warning if we raise
        self._elem_bits = _check_elem_bits(elem_bits)
        self._lanes = _check_lanes(lanes)
        self._out_bytes = _check_beat_bytes("out_bytes", out_bytes)
        self._MustUse__silence = False
        super().__init__({
            "i": In(element_stream(elem_bits, lanes)),
            "o": Out(byte_stream(out_bytes)),
        })

    elem_bits = property(lambda self: self._elem_bits, doc="Element width in bits.")
    lanes = property(lambda self: self._lanes, doc="Elements per input beat.")
    out_bytes = property(lambda self: self._out_bytes, doc="Bytes per output beat.")

    def __repr__(self):
        return (f"ZVCCompressor(elem_bits={self._elem_bits}, lanes={self._lanes}, "
                f"out_bytes={self._out_bytes})")

    def elaborate(self, platform):
        m = Module()
        E, L, OB = self._elem_bits, self._lanes, self._out_bytes
        eb = E // 8
        nb = WINDOW // L                 # input beats per window
        PW = 4 + L * eb                  # largest piece: a mask and one beat's elements
        BUF = PW + OB                    # packer capacity, bytes
        cbits = (L + 1).bit_length()     # width of one beat's nonzero count
        i, o = self.i, self.o

        # ---- Stage 1: compact each beat; collect a window of compacted beats --------
        # Unkept lanes of the last beat are zero: they pad a partial window.
        lane_data = [Mux(i.p.last & ~i.p.keep[l], 0, i.p.data[l * E:(l + 1) * E])
                     for l in range(L)]
        beat_nz = Signal(L)
        m.d.comb += beat_nz.eq(Cat(*[e.any() for e in lane_data]))
        beat_cmp = Cat(*_compact(m, lane_data, beat_nz, "c_slot"))
        beat_cnt = popcount([beat_nz[k] for k in range(L)])
        beat_has = ~i.p.last | i.p.keep.any()

        cur_slots = Signal(nb * L * E)   # slot s: beat s of the window, compacted
        cur_cnt = Signal(nb * cbits)     # slot s: nonzero elements of beat s
        cur_mask = Signal(WINDOW)
        cur_has = Signal()               # the window holds at least one element
        cur_last = Signal()
        cur_beats = Signal(range(max(nb, 2)))   # index of the window's last slot
        cur_full = Signal()              # the window is complete, waiting for `win`
        bidx = Signal(range(max(nb, 2)))   # (never 0 bits wide: lint-clean Verilog)

        # ---- Stage 2: the window being packed, one slot (a "piece") per cycle -------
        win_valid = Signal()
        win_slots = Signal(nb * L * E)   # shifts down one slot per piece taken
        win_cnt = Signal(nb * cbits)
        win_mask = Signal(WINDOW)
        win_has = Signal()
        win_last = Signal()
        win_beats = Signal(range(max(nb, 2)))   # slots left after the current one
        win_first = Signal()             # the current piece is the first: mask + slot 0
        pk_take = Signal()
        move = Signal()                  # `cur` is handed to `win` this cycle
        m.d.comb += [
            move.eq(cur_full & (~win_valid | (pk_take & _equals(win_beats, 0)))),
            i.ready.eq(~cur_full | move),
        ]

        with m.If(move):
            m.d.sync += [
                win_valid.eq(1), win_slots.eq(cur_slots), win_cnt.eq(cur_cnt),
                win_mask.eq(cur_mask), win_has.eq(cur_has), win_last.eq(cur_last),
                win_beats.eq(cur_beats), win_first.eq(1), cur_full.eq(0),
            ]
        with m.Elif(pk_take):
            m.d.sync += [
                win_slots.eq(win_slots >> (L * E)), win_cnt.eq(win_cnt >> cbits),
                win_first.eq(0), win_beats.eq(win_beats - 1),
            ]
            with m.If(_equals(win_beats, 0)):
                m.d.sync += win_valid.eq(0)

        with m.If(i.valid & i.ready):
            for s in range(nb):
                with m.If(_equals(bidx, s)):
                    m.d.sync += [
                        cur_slots[s * L * E:(s + 1) * L * E].eq(beat_cmp),
                        cur_cnt[s * cbits:(s + 1) * cbits].eq(beat_cnt),
                    ]
                    if s == 0:           # a new window: clear the rest of the mask
                        m.d.sync += [cur_mask.eq(beat_nz), cur_has.eq(beat_has)]
                    else:
                        m.d.sync += [cur_mask[s * L:(s + 1) * L].eq(beat_nz),
                                     cur_has.eq(cur_has | beat_has)]
            with m.If((bidx == nb - 1) | i.p.last):
                m.d.sync += [cur_full.eq(1), cur_beats.eq(bidx), cur_last.eq(i.p.last),
                             bidx.eq(0)]
            with m.Else():
                m.d.sync += bidx.eq(bidx + 1)

        slot0 = win_slots[:L * E]
        pk_data = Signal(PW * 8)
        pk_len = Signal(range(PW + 1))
        pk_last = Signal()
        m.d.comb += [
            pk_data.eq(Mux(win_first, Cat(win_mask, slot0), slot0)),
            # An empty window only closes a chunk that has no element: no bytes.
            pk_len.eq(Mux(win_has, Mux(win_first, 4, 0) + win_cnt[:cbits] * eb, 0)),
            pk_last.eq(win_last & _equals(win_beats, 0)),
        ]

        # ---- Stage 3: pack the pieces' bytes densely into output beats --------------
        buf = Signal(BUF * 8)            # bytes at and above `level` are always zero
        level = Signal(range(BUF + 1))
        ending = Signal()                # the chunk's final piece is in `buf`
        load_ok = ~o.valid | o.ready
        emit = Signal()
        is_final = Signal()
        n_out = Signal(range(OB + 1))
        level_after = Signal(range(BUF + 1))
        m.d.comb += [
            emit.eq(load_ok & ((level >= OB) | ending)),
            is_final.eq(ending & (level <= OB)),
            n_out.eq(Mux(level >= OB, OB, level)),
            level_after.eq(level - Mux(emit, n_out, 0)),
            pk_take.eq(win_valid & (~ending | (emit & is_final))
                       & (level_after + pk_len <= BUF)),
        ]
        with m.If(emit):
            m.d.sync += [
                o.valid.eq(1),
                o.p.data.eq(buf[:OB * 8]),
                o.p.keep.eq(Cat(*[n_out > k for k in range(OB)])),
                o.p.last.eq(is_final),
            ]
        with m.Elif(o.ready):
            m.d.sync += o.valid.eq(0)
        buf_shifted = Mux(emit, buf >> (OB * 8), buf)
        with m.If(pk_take):
            m.d.sync += [
                buf.eq(buf_shifted | _bytes_shift_left(pk_data, level_after)[:BUF * 8]),
                level.eq(level_after + pk_len),
                ending.eq(pk_last),
            ]
        with m.Else():
            m.d.sync += [buf.eq(buf_shifted), level.eq(level_after)]
            with m.If(emit & is_final):
                m.d.sync += ending.eq(0)
        return m


class ZVCDecompressor(wiring.Component):
    """Zero-value decompressor: one chunk's ZVC bytes + its element count in, elements out.

    For every chunk the decompressor takes one element count from ``count``
    (sampled when it starts the chunk, i.e. after the previous chunk is done; a
    count may arrive before or after the chunk's first bytes), then the chunk's
    bytes from ``i`` up to the beat with ``last``.  It emits ``count`` elements
    on ``o`` (``lanes`` per beat, the final beat keeps a prefix and carries
    ``last``).  A count of 0 expects an empty chunk (a single null beat) and
    emits a null beat.

    Malformed input -- the chunk ends before its last window is complete or bytes
    follow it (``LENGTH_MISMATCH``), or the mask of the final partial window marks
    elements past the count (``BAD_MASK``) -- raises ``error`` for one cycle,
    sets ``error_code`` (kept until the next chunk starts), closes the output
    packet with a null beat whose ``user`` bit is set, and drops the rest of the
    chunk's input up to its ``last`` beat.  No more than ``count`` elements are
    ever emitted for a chunk, and the next chunk is decoded normally.

    Throughput: one output beat per cycle as long as compressed bytes arrive at
    ``in_bytes`` per cycle and the output is not back-pressured.  Latency: an
    output beat is valid 1 cycle after the clock edge that transferred the input
    beat completing its bytes, once the chunk's count has been taken (see
    ``docs/ZVC.md``).

    Parameters
    ----------
    elem_bits : int
        Element width: 8, 16 or 32.
    lanes : int
        Elements per output beat: a power of two from 1 to 32.
    in_bytes : int
        Bytes per input beat, 1 to 256.
    count_bits : int
        Width of the element count (default 32).

    Members
    -------
    i : In(stream.Signature(byte_beat_layout(in_bytes)))
        ZVC bytes of one chunk per packet.
    count : In(stream.Signature(count_bits))
        One element count per chunk.
    o : Out(stream.Signature(element_beat_layout(elem_bits, lanes, user_bits=1)))
        Decoded elements; ``user`` is set on the null beat that closes a
        malformed chunk.
    error : Out(1)
        One-cycle pulse when malformed input is detected.
    error_code : Out(4)
        :class:`ZVCError` of the current (or last finished) chunk.

    Raises
    ------
    TypeError
        A parameter is not an integer.
    ValueError
        A parameter is out of range.
    """

    def __init__(self, elem_bits: int, lanes: int, in_bytes: int, count_bits: int = 32):
        self._MustUse__silence = True        # no "never used" warning if we raise
        self._elem_bits = _check_elem_bits(elem_bits)
        self._lanes = _check_lanes(lanes)
        self._in_bytes = _check_beat_bytes("in_bytes", in_bytes)
        check_positive_int("count_bits", count_bits, minimum=6)
        if count_bits > 64:
            raise ValueError(f"count_bits must be from 6 to 64, not {count_bits!r}")
        self._MustUse__silence = False
        self._count_bits = count_bits
        super().__init__({
            "i": In(byte_stream(in_bytes)),
            "count": In(stream.Signature(count_bits)),
            "o": Out(element_stream(elem_bits, lanes, user_bits=1)),
            "error": Out(1),
            "error_code": Out(4),
        })

    elem_bits = property(lambda self: self._elem_bits, doc="Element width in bits.")
    lanes = property(lambda self: self._lanes, doc="Elements per output beat.")
    in_bytes = property(lambda self: self._in_bytes, doc="Bytes per input beat.")
    count_bits = property(lambda self: self._count_bits, doc="Width of the element count.")

    def __repr__(self):
        return (f"ZVCDecompressor(elem_bits={self._elem_bits}, lanes={self._lanes}, "
                f"in_bytes={self._in_bytes})")

    def elaborate(self, platform):
        m = Module()
        E, L, IB = self._elem_bits, self._lanes, self._in_bytes
        eb = E // 8
        nb = WINDOW // L                 # output beats per full window
        PW = 4 + L * eb                  # largest piece: a mask and one beat's elements
        BUF = PW + 2 * IB                # room for the next beat's bytes while one waits
        i, o = self.i, self.o

        IDLE, RUN, DROP = 0, 1, 2
        state = Signal(2)
        buf = Signal(BUF * 8)            # bytes at and above `level` are always zero
        level = Signal(range(BUF + 1))
        in_ended = Signal()              # the chunk's last input beat is in (or dropped)
        remaining = Signal(self._count_bits)   # elements of the chunk not yet emitted
        wb = Signal(range(max(nb, 2)))   # beat of the window (never 0 bits wide)
        w_mask = Signal(WINDOW)          # the window's mask, shifted down per beat
        term_pending = Signal()
        code = Signal(4)

        load_ok = ~o.valid | o.ready
        accept = Signal()
        finish = Signal()                # the chunk's final beat (or null beat) leaves
        m.d.comb += [
            # While a chunk finishes, the next chunk's first beat and count may
            # enter in the same cycle (the buffer is empty after it).
            i.ready.eq(finish | (~in_ended & ((state == DROP) | (level <= BUF - IB)))),
            accept.eq(i.valid & i.ready),
            self.count.ready.eq(_equals(state, IDLE) | finish),
        ]
        n_in = popcount([i.p.keep[k] for k in range(IB)])
        in_masked = Cat(*[Mux(i.p.keep[k], i.p.data[8 * k:8 * k + 8], 0) for k in range(IB)])

        # ---- One output beat per step: its mask bits, its bytes, the checks --------
        # The first beat of a window starts with the window's 4 mask bytes; the
        # mask is kept in `w_mask` for the window's other beats.
        first = Signal()
        beat_mask = Signal(L)
        beat_data = Signal(L * E)
        v = Signal(range(WINDOW + 1))    # elements in this window
        need = Signal(range(PW + 1))     # bytes this beat consumes
        bad = Signal()
        m.d.comb += [
            first.eq(_equals(wb, 0)),
            beat_mask.eq(Mux(first, buf[:L], w_mask[:L])),
            beat_data.eq(Mux(first, buf[WINDOW:WINDOW + L * E], buf[:L * E])),
            v.eq(Mux(remaining >= WINDOW, WINDOW, remaining)),
            need.eq(Mux(first, 4, 0)
                    + popcount([beat_mask[k] for k in range(L)]) * eb),
            bad.eq(first & (buf[:WINDOW] & ~Cat(*[v > k for k in range(WINDOW)])).any()),
        ]
        have_mask = ~first | (level >= 4)
        have_all = level >= need
        chunk_final = remaining <= L     # windows end on beat boundaries: all that is left

        push_beat = Signal()
        push_term = Signal()
        term_err = Signal()
        fail = Signal()
        fail_code = Signal(4)
        with m.If(state == RUN):
            with m.If(_equals(remaining, 0)):
                with m.If(level != 0):
                    m.d.comb += [fail.eq(1), fail_code.eq(ZVCError.LENGTH_MISMATCH)]
                with m.Elif(in_ended & load_ok):
                    m.d.comb += [push_term.eq(1), finish.eq(1)]
            with m.Elif(~have_mask):
                with m.If(in_ended):
                    m.d.comb += [fail.eq(1), fail_code.eq(ZVCError.LENGTH_MISMATCH)]
            with m.Elif(bad):
                m.d.comb += [fail.eq(1), fail_code.eq(ZVCError.BAD_MASK)]
            with m.Elif(~have_all):
                with m.If(in_ended):
                    m.d.comb += [fail.eq(1), fail_code.eq(ZVCError.LENGTH_MISMATCH)]
            with m.Elif(chunk_final):
                with m.If(level != need):
                    m.d.comb += [fail.eq(1), fail_code.eq(ZVCError.LENGTH_MISMATCH)]
                with m.Elif(in_ended & load_ok):
                    m.d.comb += [push_beat.eq(1), finish.eq(1)]
            with m.Elif(load_ok):
                m.d.comb += push_beat.eq(1)
        with m.If(state == DROP):
            with m.If(term_pending & load_ok):
                m.d.comb += [push_term.eq(1), term_err.eq(1)]

        # ---- Output register ----------------------------------------------------------
        lanes_out = _expand(m, [beat_data[j * E:(j + 1) * E] for j in range(L)],
                            beat_mask, "d_elem")
        with m.If(push_beat | push_term):
            m.d.sync += [
                o.valid.eq(1),
                o.p.data.eq(Cat(*lanes_out)),
                o.p.keep.eq(Mux(push_term, 0, Cat(*[remaining > l for l in range(L)]))),
                o.p.last.eq(push_term | chunk_final),
                o.p.user.eq(term_err),
            ]
        with m.Elif(o.ready):
            m.d.sync += o.valid.eq(0)
        with m.If(push_beat):
            m.d.sync += [
                remaining.eq(remaining - L),
                wb.eq(Mux(wb == nb - 1, 0, wb + 1)),
                w_mask.eq(Mux(first, buf[:WINDOW], w_mask) >> L),
            ]

        # ---- Input byte buffer ----------------------------------------------------------
        consume = Mux(push_beat, need, 0)
        level_c = Signal(range(BUF + 1))
        m.d.comb += level_c.eq(level - consume)
        buf_c = _bytes_shift_right(buf, consume)

        m.d.sync += self.error.eq(fail)
        with m.If(accept & i.p.last):
            m.d.sync += in_ended.eq(1)
        with m.If(fail):
            m.d.sync += [buf.eq(0), level.eq(0), state.eq(DROP), term_pending.eq(1),
                         code.eq(fail_code)]
        with m.Elif(state == DROP):
            with m.If(push_term):
                m.d.sync += term_pending.eq(0)
            with m.If(in_ended & (~term_pending | push_term)):
                m.d.sync += [state.eq(IDLE), in_ended.eq(0)]
        with m.Elif(finish):
            m.d.sync += [
                buf.eq(Mux(accept, in_masked, 0)), level.eq(Mux(accept, n_in, 0)),
                state.eq(IDLE), in_ended.eq(accept & i.p.last),
            ]
        with m.Else():
            appended = Mux(accept, _bytes_shift_left(in_masked, level_c)[:BUF * 8], 0)
            m.d.sync += [buf.eq(buf_c | appended), level.eq(level_c + Mux(accept, n_in, 0))]
        with m.If(self.count.valid & self.count.ready):
            m.d.sync += [remaining.eq(self.count.p), state.eq(RUN), code.eq(ZVCError.OK),
                         wb.eq(0)]
        m.d.comb += self.error_code.eq(code)
        return m


class ZVCLoopback(wiring.Component):
    """A :class:`ZVCCompressor` feeding a :class:`ZVCDecompressor`: a round-trip test top.

    Parameters
    ----------
    elem_bits : int
        Element width: 8, 16 or 32.
    lanes : int
        Elements per beat on both raw sides.
    mid_bytes : int
        Width of the compressed stream between the two blocks, in bytes.

    Members
    -------
    i : In(stream.Signature(element_beat_layout(elem_bits, lanes)))
        Raw elements, one chunk per packet.
    count : In(stream.Signature(32))
        The element count of each chunk, for the decompressor.
    o : Out(stream.Signature(element_beat_layout(elem_bits, lanes, user_bits=1)))
        The elements again.
    error, error_code : Out(1), Out(4)
        The decompressor's error outputs (never raised by a correct compressor).
    """

    def __init__(self, elem_bits: int, lanes: int, mid_bytes: int):
        self.compressor = ZVCCompressor(elem_bits, lanes, mid_bytes)
        self.decompressor = ZVCDecompressor(elem_bits, lanes, mid_bytes)
        super().__init__({
            "i": In(element_stream(elem_bits, lanes)),
            "count": In(stream.Signature(32)),
            "o": Out(element_stream(elem_bits, lanes, user_bits=1)),
            "error": Out(1),
            "error_code": Out(4),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.compressor = c = self.compressor
        m.submodules.decompressor = d = self.decompressor
        wiring.connect(m, wiring.flipped(self.i), c.i)
        wiring.connect(m, c.o, d.i)
        wiring.connect(m, wiring.flipped(self.count), d.count)
        wiring.connect(m, d.o, wiring.flipped(self.o))
        m.d.comb += [self.error.eq(d.error), self.error_code.eq(d.error_code)]
        return m
