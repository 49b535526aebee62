"""Zero-run run-length encoding (RLE) in hardware: an encoder and a decoder.

The byte format is the golden model's (:mod:`golden.rle`, ``docs/FORMAT.md``):
tokens of one run byte ``r`` and one little-endian element ``v`` ("``r`` zeros,
then ``v``"), packed back to back; runs longer than 255 are split into filler
tokens ``(255, 0)`` and the trailing zeros of a chunk end in ``((t-1) % 256, 0)``.
``docs/RLE.md`` describes the microarchitecture, the latency and the throughput
of both blocks.

The two components have the same interfaces as :class:`hw.zvc.ZVCCompressor`
and :class:`hw.zvc.ZVCDecompressor`, so the engine can swap codecs.
"""
from __future__ import annotations

import enum

from amaranth.hdl import C, Cat, Module, Mux, Shape, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .bits import popcount
from .streams import byte_stream, check_positive_int, element_stream

__all__ = ["ELEM_BITS", "MAX_LANES", "MAX_RUN", "RLEError", "RLEEncoder", "RLEDecoder",
           "RLELoopback", "rle_encode_top", "rle_decode_top", "rle_loopback_top"]

#: Supported element widths.
ELEM_BITS = (8, 16, 32)
#: Largest number of lanes (elements per raw beat).
MAX_LANES = 32
#: Longest zero run one token carries.
MAX_RUN = 255
#: Largest supported byte-beat width.
MAX_BEAT_BYTES = 256


class RLEError(enum.IntEnum):
    """Error codes of :class:`RLEDecoder` (same numbers as ``golden.ErrorCode``)."""

    OK = 0
    #: The chunk ends before its elements are complete, ends inside a token, or
    #: bytes that are not a whole token follow the last token (or any byte
    #: follows an empty chunk).
    LENGTH_MISMATCH = 6
    #: A whole token goes past the chunk's element count.
    RUN_OVERSHOOT = 7


def _check_elem_bits(elem_bits):
    if not isinstance(elem_bits, int) or isinstance(elem_bits, bool):
        raise TypeError(f"elem_bits must be an integer, one of {ELEM_BITS}, not {elem_bits!r}")
    if elem_bits not in ELEM_BITS:
        raise ValueError(f"elem_bits must be one of {ELEM_BITS}, not {elem_bits!r}")
    return elem_bits


def _check_lanes(lanes):
    check_positive_int("lanes", lanes)
    if lanes > MAX_LANES or lanes & (lanes - 1):
        raise ValueError(f"lanes must be a power of two from 1 to {MAX_LANES}, not {lanes!r}")
    return lanes


def _check_beat_bytes(name, value):
    check_positive_int(name, value)
    if value > MAX_BEAT_BYTES:
        raise ValueError(f"{name} must be from 1 to {MAX_BEAT_BYTES}, not {value!r}")
    return value


def _scan(m, terms, shape, name):
    """Inclusive prefix sums of ``terms`` in ``log2(len)`` adder levels (Hillis-Steele)."""
    cur = list(terms)
    d, level = 1, 0
    while d < len(cur):
        nxt = cur[:d]
        for j in range(d, len(cur)):
            s = Signal(shape, name=f"{name}_l{level}_{j}")
            m.d.comb += s.eq(cur[j] + cur[j - d])
            nxt.append(s)
        cur, d, level = nxt, 2 * d, level + 1
    return cur


def _prefix_counts(m, bits, name):
    """``p[k]`` = number of set bits of ``bits`` below bit ``k`` (k = 0..n), log depth."""
    n = len(bits)
    return [C(0, 1)] + _scan(m, bits, range(n + 1), name)


def _times(value, const):
    """``value * const`` as a sum of shifted copies (no multiplier cell)."""
    terms = [value << b for b in range(const.bit_length()) if const >> b & 1]
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return out


def _prefix_mask(n_keep, width):
    """``width`` bits, bit ``k`` set when ``k < n_keep``."""
    return Cat(*[n_keep > k for k in range(width)])


class RLEEncoder(wiring.Component):
    """Zero-run RLE encoder: raw element beats in, the chunk's RLE tokens out.

    Each input packet (``last`` on its final beat) is one chunk; the output packet
    is exactly ``golden.rle.encode`` of that chunk, packed densely into
    ``out_bytes``-wide beats (``keep`` all ones but on the final beat, which keeps
    a prefix and carries ``last``).  A final input beat that keeps no element
    closes the chunk; a chunk without any element produces one *null* output beat
    (``keep`` = 0, ``last`` = 1), and so may, rarely, a chunk closed by a null
    input beat whose bytes all left in earlier full beats.

    Every element either extends the current zero run or ends a token: it ends one
    when it is nonzero, when the run before it is 255 long (the token is then the
    filler ``(255, 0)`` or ``(255, v)``), or when it is the chunk's last element.
    A beat of ``lanes`` elements yields up to ``lanes`` tokens of
    ``1 + elem_bits/8`` bytes, compacted and appended to an output packer.

    Throughput: one input beat per cycle as long as the output is not
    back-pressured and the tokens fit ``out_bytes`` per cycle on average.
    Latency: the output beat carrying an input beat's first bytes is valid 3
    cycles after the edge that took the input beat, if the bytes complete an
    output beat or end the chunk (see ``docs/RLE.md``).

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
        RLE bytes.

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
        return (f"RLEEncoder(elem_bits={self._elem_bits}, lanes={self._lanes}, "
                f"out_bytes={self._out_bytes})")

    def elaborate(self, platform):
        m = Module()
        E, L, OB = self._elem_bits, self._lanes, self._out_bytes
        T = 1 + E // 8                   # bytes per token
        TW = 8 * T
        MT = L * T                       # most bytes one input beat can yield
        BUF = MT + OB                    # packer capacity, bytes
        i, o = self.i, self.o

        # ---- Stage 1: tokens of one input beat ---------------------------------------
        z = Signal(8)                    # zeros of the open run (always < 256)
        a_valid = Signal()
        a_tok = Signal(L * TW)           # token of every lane: run byte, then element
        a_emit = Signal(L)               # lanes that end a token
        a_last = Signal()
        a_take = Signal()
        m.d.comb += i.ready.eq(~a_valid | a_take)

        keep = i.p.keep
        null = i.p.last & ~keep.any()    # a closing beat without elements
        # The flags come first, without the runs: a filler (run of 255) can only
        # end the run that is open when the beat starts, since a run that starts
        # inside a beat is shorter than `lanes` <= 32.  Each lane's run is then a
        # priority mux over the flags below it (no chain of adders).
        emit, elems = [], []
        nz_before = C(0, 1)
        for k in range(L):
            present = ~i.p.last | keep[k]
            elem = Signal(E, name=f"enc_elem{k}")
            m.d.comb += elem.eq(Mux(present, i.p.data[k * E:(k + 1) * E], 0))
            nz = elem.any()
            is_last = i.p.last & keep[k] & (~keep[k + 1] if k + 1 < L else C(1, 1))
            filler = ~nz_before & (z + k == MAX_RUN)
            e = Signal(name=f"enc_emit{k}")
            m.d.comb += e.eq(present & (nz | is_last | filler))
            if k == 0:
                # A null closing beat ends the open run: t trailing zeros -> (t-1, 0).
                e0 = Signal(name="enc_emit0_eff")
                m.d.comb += e0.eq(Mux(null, z != 0, e))
                e = e0
            emit.append(e)
            elems.append(elem)
            nz_before = nz_before | nz

        def run_before(k):
            """Zeros before lane ``k`` in its run (``k == L``: the run left open)."""
            val = (z + k)[:8]
            for j in range(k):
                val = Mux(emit[j], k - 1 - j, val)
            return val

        toks = []
        for k in range(L):
            r = Signal(8, name=f"enc_run{k}")
            m.d.comb += r.eq(Mux(null, z - 1, run_before(k)) if k == 0 else run_before(k))
            toks.append(Cat(r, elems[k]))
        run = Signal(8, name="enc_run_open")
        m.d.comb += run.eq(run_before(L))

        with m.If(i.valid & i.ready):
            m.d.sync += [
                a_valid.eq(1), a_tok.eq(Cat(*toks)), a_emit.eq(Cat(*emit)),
                a_last.eq(i.p.last), z.eq(Mux(i.p.last, 0, run)),
            ]
        with m.Elif(a_take):
            m.d.sync += a_valid.eq(0)

        # ---- Stage 2: compact the beat's tokens -------------------------------------
        p = _prefix_counts(m, [a_emit[k] for k in range(L)], "enc_prefix")
        tok = [a_tok[k * TW:(k + 1) * TW] for k in range(L)]
        slots = []
        for j in range(L):
            slot = Signal(TW, name=f"enc_slot{j}")
            expr = C(0, TW)
            for k in range(j, L):
                expr = expr | Mux(a_emit[k] & (p[k] == j), tok[k], 0)
            m.d.comb += slot.eq(expr)
            slots.append(slot)

        pk_valid = Signal()
        pk_data = Signal(MT * 8)
        pk_len = Signal(range(MT + 1))
        pk_last = Signal()
        pk_take = Signal()
        m.d.comb += a_take.eq(a_valid & (~pk_valid | pk_take))
        with m.If(a_take):
            m.d.sync += [pk_valid.eq(1), pk_data.eq(Cat(*slots)),
                         pk_len.eq(_times(p[L], T)), pk_last.eq(a_last)]
        with m.Elif(pk_take):
            m.d.sync += pk_valid.eq(0)

        # ---- Stage 3: pack the tokens' bytes densely into output beats --------------
        # The next tokens are shifted to `level` (registers only) in parallel with
        # the output decision; the decision then picks one of three buffers: keep,
        # drop one output beat, or (final beat of a chunk) restart from the tokens.
        buf = Signal(BUF * 8)            # bytes at and above `level` are always zero
        level = Signal(range(BUF + 1))
        ending = Signal()                # the chunk's final tokens are in `buf`
        load_ok = ~o.valid | o.ready
        out = Signal()
        final = Signal()
        n_out = Signal(range(OB + 1))
        fits_now = Signal()
        fits_after_out = Signal()
        level_after = Signal(range(BUF + 1))
        m.d.comb += [
            out.eq(load_ok & ((level >= OB) | ending)),
            final.eq(ending & (level <= OB)),
            n_out.eq(Mux(level >= OB, OB, level)),
            fits_now.eq(level + pk_len <= BUF),
            fits_after_out.eq(level - n_out + pk_len <= BUF),
            level_after.eq(level - Mux(out, n_out, 0)),
            pk_take.eq(pk_valid & (~ending | (out & final)) & Mux(out, fits_after_out, fits_now)),
        ]
        with m.If(out):
            m.d.sync += [o.valid.eq(1), o.p.data.eq(buf[:OB * 8]),
                         o.p.keep.eq(_prefix_mask(n_out, OB)), o.p.last.eq(final)]
        with m.Elif(o.ready):
            m.d.sync += o.valid.eq(0)
        placed = Signal((BUF + MT) * 8)
        m.d.comb += placed.eq(pk_data << Cat(C(0, 3), level))
        merged = Signal((BUF + MT) * 8)
        m.d.comb += merged.eq(buf | Mux(pk_take, placed, 0))
        with m.If(out & final):
            m.d.sync += buf.eq(Mux(pk_take, pk_data, 0))
        with m.Elif(out):
            m.d.sync += buf.eq((merged >> (OB * 8))[:BUF * 8])
        with m.Else():
            m.d.sync += buf.eq(merged[:BUF * 8])
        m.d.sync += level.eq(level_after + Mux(pk_take, pk_len, 0))
        with m.If(pk_take):
            m.d.sync += ending.eq(pk_last)
        with m.Elif(out & final):
            m.d.sync += ending.eq(0)
        return m


class RLEDecoder(wiring.Component):
    """Zero-run RLE decoder: one chunk's RLE bytes + its element count in, elements out.

    For every chunk the decoder takes one element count from ``count`` (sampled
    when it starts the chunk, i.e. after the previous chunk is done; a count may
    arrive before or after the chunk's first bytes), then the chunk's bytes from
    ``i`` up to the beat with ``last``.  It emits ``count`` elements on ``o``
    (``lanes`` per beat, the final beat keeps a prefix and carries ``last``).  A
    count of 0 expects an empty chunk and emits a null beat.

    Each cycle it fills the rest of the current output beat from up to ``lanes``
    tokens at the head of its byte buffer: whole tokens that fit, then the zeros
    of a token whose run reaches past the beat (that token's run is then
    consumed in part).  A run of 255 zeros therefore costs ``ceil(256 / lanes)``
    beats, one per cycle.  The final beat is released only once the chunk's
    ``last`` input beat has arrived and no byte is left over.

    Malformed input -- a whole token that goes past ``count`` (``RUN_OVERSHOOT``),
    a chunk that ends early or inside a token, or leftover bytes that are not a
    whole token (``LENGTH_MISMATCH``; with ``count`` = 0, any byte) -- raises
    ``error`` for one cycle, sets ``error_code`` (kept until the next chunk
    starts), closes the output packet with a beat that carries ``last`` and
    ``user`` = 1 (keeping the elements of the current beat decoded before the
    fault, possibly none), and drops the rest of the chunk's input up to its
    ``last`` beat.  No more than ``count`` elements are ever emitted for a chunk,
    and the next chunk is decoded normally.

    Throughput: one output beat per cycle as long as compressed bytes arrive fast
    enough (``in_bytes`` per cycle, with up to ``lanes`` tokens in one beat) and
    the output is not back-pressured.  Latency: an output beat is valid 1 cycle
    after the edge that took the input beat completing its tokens, once the
    chunk's count is taken (see ``docs/RLE.md``).

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
        RLE bytes of one chunk per packet.
    count : In(stream.Signature(count_bits))
        One element count per chunk.
    o : Out(stream.Signature(element_beat_layout(elem_bits, lanes, user_bits=1)))
        Decoded elements; ``user`` is set on the beat that closes a malformed
        chunk.
    error : Out(1)
        One-cycle pulse when malformed input is detected.
    error_code : Out(4)
        :class:`RLEError` of the current (or last finished) chunk.

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
        self._count_bits = count_bits
        self._MustUse__silence = False
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
        return (f"RLEDecoder(elem_bits={self._elem_bits}, lanes={self._lanes}, "
                f"in_bytes={self._in_bytes})")

    def elaborate(self, platform):
        m = Module()
        E, L, IB = self._elem_bits, self._lanes, self._in_bytes
        T = 1 + E // 8
        TW = 8 * T
        MT = L * T                       # bytes of the most tokens one beat can use
        BUF = 2 * MT + IB                # refill early enough to keep MT bytes ahead
        SMAX = L * (MAX_RUN + 1)
        i, o = self.i, self.o

        IDLE, RUN, DROP = 0, 1, 2
        state = Signal(2)
        buf = Signal(BUF * 8)            # bytes at and above `level` are always zero
        level = Signal(range(BUF + 1))
        in_ended = Signal()              # the chunk's last input beat is in (or dropped)
        rem = Signal(self._count_bits)   # elements still to emit
        zero_count = Signal()            # the chunk's count is 0: no byte allowed
        hz = Signal(8)                   # zeros of the head token already emitted
        pos = Signal(range(L))           # lanes of the current beat already filled
        acc = Signal(L * E)              # the current beat (lanes >= pos are zero)
        code = Signal(4)

        accept = Signal()
        m.d.comb += [
            i.ready.eq(~in_ended & ((state == DROP) | (level <= BUF - IB))),
            accept.eq(i.valid & i.ready),
            self.count.ready.eq(state == IDLE),
        ]
        n_in = Signal(range(IB + 1))
        m.d.comb += n_in.eq(popcount(i.p.keep[k] for k in range(IB)))
        in_masked = Cat(*[Mux(i.p.keep[k], i.p.data[8 * k:8 * k + 8], 0) for k in range(IB)])

        # ---- Expansion of up to L tokens into the current beat ----------------------
        space = Signal(range(L + 1))
        cap = Signal(range(L + 1))
        # `rem` is compared with element sums < 2**KB only: its low KB bits and
        # "the high bits are not all zero" keep the carry chains short.
        KB = SMAX.bit_length()
        rem_lo = rem[:KB]
        rem_hi = rem[KB:]
        rem_hi_nz = rem_hi.any() if self._count_bits > KB else C(0, 1)
        small = Signal()
        m.d.comb += [
            space.eq(L - pos),
            small.eq(~rem_hi_nz & (rem_lo < space)),
            cap.eq(Mux(small, rem_lo, space)),
        ]
        avail, runs, vals = [], [], []
        for j in range(L):
            tok = buf[j * TW:(j + 1) * TW]
            n = Signal(range(MAX_RUN + 2), name=f"dec_elems{j}")
            m.d.comb += n.eq(tok[:8] + 1 - (hz if j == 0 else 0))
            a = Signal(name=f"dec_avail{j}")
            m.d.comb += a.eq(level >= (j + 1) * T)
            avail.append(a)
            runs.append(n)
            vals.append(tok[8:])
        cum = _scan(m, runs, range(SMAX + 1), "dec_cum")    # elements through token j
        fit = []
        for j in range(L):
            f = Signal(name=f"dec_fit{j}")
            m.d.comb += f.eq(avail[j] & (cum[j] <= cap))
            fit.append(f)
        # fit is a prefix (cum rises, avail falls): `edge[j]` marks its end, i.e.
        # j whole tokens are used this cycle and token j is the next one.
        edge = []
        for j in range(L + 1):
            e = Signal(name=f"dec_edge{j}")
            m.d.comb += e.eq((fit[j - 1] if j else C(1, 1)) & (~fit[j] if j < L else C(1, 1)))
            edge.append(e)

        def pick(options, shape):
            sig = Signal(shape)
            expr = C(0, Shape.cast(shape).width)
            for e, value in zip(edge, options):
                expr = expr | Mux(e, value, 0)
            m.d.comb += sig.eq(expr)
            return sig
        fill_fit = pick([C(0, 1)] + cum, range(L + 1))
        nxt_avail = Signal()
        m.d.comb += nxt_avail.eq(Cat(*[edge[j] & avail[j] for j in range(L)]).any())
        nxt_cum = pick(cum, range(SMAX + 1))
        none_used = edge[0]
        nxt_over = Signal()              # the next whole token overshoots the chunk
        partial = Signal()               # ... or its run reaches past this beat
        m.d.comb += [nxt_over.eq(nxt_avail & ~rem_hi_nz & (nxt_cum > rem_lo)),
                     partial.eq(nxt_avail & ~nxt_over)]
        fill = Signal(range(L + 1))
        m.d.comb += fill.eq(Mux(partial, space, fill_fit))
        lanes_new = []
        for l in range(L):
            expr = C(0, E)
            for j in range(l + 1):
                expr = expr | Mux(fit[j] & (pos + cum[j] == l + 1), vals[j], 0)
            lanes_new.append(expr)
        beat = Signal(L * E)
        m.d.comb += beat.eq(acc | Cat(*lanes_new))
        consumed = pick([C(j * T, range(MT + 1)) for j in range(L + 1)], range(MT + 1))
        leftover = Signal(range(BUF + 1))
        m.d.comb += leftover.eq(level - consumed)
        full = (pos + fill) == L
        final = ~rem_hi_nz & (fill_fit == rem_lo)

        # ---- Decisions ---------------------------------------------------------------
        load_ok = ~o.valid | o.ready
        advance = Signal()               # consume tokens and fill the beat
        send = Signal()                  # ... and send it
        finish = Signal()
        fail = Signal()
        fail_code = Signal(4)
        with m.If((state == RUN) & load_ok):
            with m.If(zero_count & (level != 0)):
                m.d.comb += [fail.eq(1), fail_code.eq(RLEError.LENGTH_MISMATCH)]
            with m.Elif(nxt_over):
                m.d.comb += [fail.eq(1), fail_code.eq(RLEError.RUN_OVERSHOOT)]
            with m.Elif(final):
                with m.If(leftover >= T):
                    m.d.comb += [fail.eq(1), fail_code.eq(RLEError.RUN_OVERSHOOT)]
                with m.Elif(in_ended & (leftover != 0)):
                    m.d.comb += [fail.eq(1), fail_code.eq(RLEError.LENGTH_MISMATCH)]
                with m.Elif(in_ended):
                    m.d.comb += [advance.eq(1), send.eq(1), finish.eq(1)]
            with m.Elif(full):
                m.d.comb += [advance.eq(1), send.eq(1)]
            with m.Elif(in_ended):
                m.d.comb += [fail.eq(1), fail_code.eq(RLEError.LENGTH_MISMATCH)]
            with m.Else():
                m.d.comb += advance.eq(1)

        with m.If(send | fail):
            m.d.sync += [
                o.valid.eq(1), o.p.data.eq(beat),
                o.p.keep.eq(_prefix_mask(pos + fill, L)),
                o.p.last.eq(finish | fail), o.p.user.eq(fail),
            ]
        with m.Elif(o.ready):
            m.d.sync += o.valid.eq(0)

        with m.If(advance):
            # carry-select: the high part's decrement is ready before `fill` is
            lo_diff = Signal(KB + 1)
            m.d.comb += lo_diff.eq(rem_lo - fill)
            if self._count_bits > KB:
                m.d.sync += rem.eq(Cat(lo_diff[:KB], Mux(lo_diff[KB], rem_hi - 1, rem_hi)))
            else:
                m.d.sync += rem.eq(lo_diff[:KB])
            with m.If(send):
                m.d.sync += [pos.eq(0), acc.eq(0)]
            with m.Else():
                m.d.sync += [pos.eq(pos + fill), acc.eq(beat)]
            head_used = Mux(none_used, hz, 0)
            m.d.sync += hz.eq(head_used + Mux(partial, space - fill_fit, 0))

        # The input beat is appended at `level` (a shift by a register, off the
        # expansion path), then the used tokens are dropped: a shift by one of
        # L + 1 multiples of the token size, selected by `edge`.
        merged = Signal(BUF * 8)
        m.d.comb += merged.eq(buf | Mux(accept, (in_masked << Cat(C(0, 3), level))[:BUF * 8], 0))
        buf_next = Signal(BUF * 8)
        shifted = C(0, BUF * 8)
        for j in range(L + 1):
            shifted = shifted | Mux(edge[j], merged >> (8 * j * T), 0)
        m.d.comb += buf_next.eq(Mux(advance, shifted, merged))
        level_next = Signal(range(BUF + 1))
        m.d.comb += level_next.eq(level + Mux(accept, n_in, 0) - Mux(advance, consumed, 0))

        m.d.sync += self.error.eq(fail)
        with m.If(accept & i.p.last):
            m.d.sync += in_ended.eq(1)
        with m.If(fail):
            m.d.sync += [buf.eq(0), level.eq(0), state.eq(DROP), code.eq(fail_code)]
        with m.Elif(state == DROP):
            with m.If(in_ended):
                m.d.sync += [state.eq(IDLE), in_ended.eq(0)]
        with m.Elif(finish):
            m.d.sync += [buf.eq(0), level.eq(0), state.eq(IDLE), in_ended.eq(0)]
        with m.Else():
            m.d.sync += [buf.eq(buf_next), level.eq(level_next)]
        with m.If(self.count.valid & self.count.ready):
            m.d.sync += [rem.eq(self.count.p), zero_count.eq(self.count.p == 0), state.eq(RUN),
                         hz.eq(0), pos.eq(0), acc.eq(0), code.eq(RLEError.OK)]
        m.d.comb += self.error_code.eq(code)
        return m


class RLELoopback(wiring.Component):
    """An :class:`RLEEncoder` feeding an :class:`RLEDecoder`: a round-trip test top.

    Parameters
    ----------
    elem_bits : int
        Element width: 8, 16 or 32.
    lanes : int
        Elements per beat on both raw sides.
    mid_bytes : int
        Width of the encoded stream between the two blocks, in bytes.

    Members
    -------
    i : In(stream.Signature(element_beat_layout(elem_bits, lanes)))
        Raw elements, one chunk per packet.
    count : In(stream.Signature(32))
        The element count of each chunk, for the decoder.
    o : Out(stream.Signature(element_beat_layout(elem_bits, lanes, user_bits=1)))
        The elements again.
    error, error_code : Out(1), Out(4)
        The decoder's error outputs (never raised behind a correct encoder).

    Raises
    ------
    TypeError, ValueError
        As :class:`RLEEncoder` and :class:`RLEDecoder`.
    """

    def __init__(self, elem_bits: int, lanes: int, mid_bytes: int):
        self.encoder = RLEEncoder(elem_bits, lanes, mid_bytes)
        self.decoder = RLEDecoder(elem_bits, lanes, mid_bytes)
        super().__init__({
            "i": In(element_stream(elem_bits, lanes)),
            "count": In(stream.Signature(32)),
            "o": Out(element_stream(elem_bits, lanes, user_bits=1)),
            "error": Out(1),
            "error_code": Out(4),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.encoder = enc = self.encoder
        m.submodules.decoder = dec = self.decoder
        wiring.connect(m, wiring.flipped(self.i), enc.i)
        wiring.connect(m, enc.o, dec.i)
        wiring.connect(m, wiring.flipped(self.count), dec.count)
        wiring.connect(m, dec.o, wiring.flipped(self.o))
        m.d.comb += [self.error.eq(dec.error), self.error_code.eq(dec.error_code)]
        return m


# ---- AXI4-Stream tops for the Verilog generator (registered in hw.generate) ------------

def _beat_bytes(elem_bits, lanes, value):
    return value if value is not None else lanes * elem_bits // 8


def rle_encode_top(elem_bits=32, lanes=16, out_bytes=None):
    """:class:`RLEEncoder` with ``s_axis``/``m_axis`` ports.

    ``out_bytes`` defaults to the input width, ``lanes * elem_bits / 8``.
    """
    from .axis import AXIStreamTop
    dut = RLEEncoder(elem_bits, lanes, _beat_bytes(elem_bits, lanes, out_bytes))
    return AXIStreamTop(dut, {"i": "s_axis", "o": "m_axis"})


def rle_decode_top(elem_bits=32, lanes=16, in_bytes=None):
    """:class:`RLEDecoder` with ``s_axis``, ``s_count``, ``m_axis``, ``error``, ``error_code``.

    ``m_axis_tuser`` marks the beat that closes a malformed chunk.  ``in_bytes``
    defaults to the output width, ``lanes * elem_bits / 8``.
    """
    from .axis import AXIStreamTop
    dut = RLEDecoder(elem_bits, lanes, _beat_bytes(elem_bits, lanes, in_bytes))
    return AXIStreamTop(dut, {"i": "s_axis", "count": "s_count", "o": "m_axis"},
                        {"error": "error", "error_code": "error_code"})


def rle_loopback_top(elem_bits=32, lanes=16, mid_bytes=None):
    """:class:`RLELoopback` with the ports of :func:`rle_decode_top` (raw ``s_axis``)."""
    from .axis import AXIStreamTop
    dut = RLELoopback(elem_bits, lanes, _beat_bytes(elem_bits, lanes, mid_bytes))
    return AXIStreamTop(dut, {"i": "s_axis", "count": "s_count", "o": "m_axis"},
                        {"error": "error", "error_code": "error_code"})
