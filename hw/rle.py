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

from .bits import compact_level, popcount
from .fifo import WideFIFO
from .packer import Packer
from .skid import replicated
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
    Latency: the output beat carrying an input beat's first bytes is valid
    14 + ceil(log2(lanes) / 2) cycles after the edge that took the input beat,
    if the bytes complete an output beat or end the chunk (see ``docs/RLE.md``).

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
        self._overflow = Signal()        # never set (checked by the tests)

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
        PI = L * T                       # largest piece: every lane ends a token
        LB = max(1, (L - 1).bit_length())   # bits of a compaction amount
        DB = L.bit_length()              # bits of a zero count within a beat (0..L)
        LPS = 2                          # compaction network levels per register stage
        CS = -(-(L.bit_length() - 1) // LPS)  # compaction register stages
        ZC = -(-L // 8)                  # copies of the run register z
        GB = 16                          # token bits steered by one copy of an amount
        i, o = self.i, self.o

        # ---- flow control ------------------------------------------------------------
        # Everything up to the piece FIFO runs free (no enables on the datapath; a
        # valid bit travels with each beat).  The input is accepted only while the
        # FIFO has room for every piece that may still be in flight, so nothing
        # ever has to stop inside the pipeline.
        K = 6 + CS                       # take -> S1 .. S5, compaction, piece reg
        INFLIGHT = K + 2                 # ... + the beat taken now + margin
        # at least twice as deep: the entries left when the input resumes cover
        # the pipeline's refill time (see ZVCCompressor)
        DEPTH = 1 << (2 * INFLIGHT + 2 - 1).bit_length()
        NB = len(Signal(range(PI + 1)))
        m.submodules.fifo = fifo = WideFIFO(PI * 8 + NB + 1, DEPTH,
                                            copies=max(1, PI * 8 // 64))
        m.submodules.packer = packer = Packer(8, PI, OB, masked=False)
        count = Signal(range(DEPTH + 1))  # pieces pushed and not yet popped
        room = Signal(init=1)            # count + INFLIGHT <= DEPTH, registered
        push, pop = Signal(), Signal()
        count_next = Signal(range(DEPTH + 2))
        m.d.comb += count_next.eq(count + push - pop)
        m.d.sync += [count.eq(count_next), room.eq(count_next + INFLIGHT <= DEPTH)]
        m.d.comb += self._overflow.eq(count_next > DEPTH)
        take = Signal()
        m.d.comb += [i.ready.eq(room), take.eq(i.valid & room)]

        # ---- S1: lanes (unkept lanes of the last beat zero), token breaks ------------
        # A lane *breaks* the run when it is nonzero or the chunk's last element:
        # it then ends a token whatever the run before it.  (A filler, the other
        # way to end a token, depends on the run carried from earlier beats.)
        v1, last1, null1 = Signal(), Signal(), Signal()
        lanes1 = [Signal(E, name=f"s1_lane{k}") for k in range(L)]
        brk1 = Signal(L)
        keep = i.p.keep
        m.d.sync += [v1.eq(take), last1.eq(i.p.last), null1.eq(i.p.last & ~keep.any())]
        for k in range(L):
            lane = Mux(i.p.last & ~keep[k], 0, i.p.data[k * E:(k + 1) * E])
            is_last = i.p.last & keep[k] & (~keep[k + 1] if k + 1 < L else C(1, 1))
            m.d.sync += [lanes1[k].eq(lane), brk1[k].eq(lane.any() | is_last)]

        # ---- S2: zeros since the last break, from the flags alone -------------------
        # d[k] = zeros directly below lane k within the beat (k if no break below
        # k; d[L] = the zeros the beat leaves open), by a Kogge-Stone scan: at
        # level s a lane whose 2**s lanes below are all zeros adds the count of
        # the lane 2**s further down.  A level is one LUT per bit (a count <=
        # 2**s plus 2**s needs no adder).  open[k] = no break below lane k.
        d = [C(0, DB)]
        for k in range(1, L + 1):
            sig = Signal(DB, name=f"s2_d_{k}")
            m.d.comb += sig.eq(~brk1[k - 1])
            d.append(sig)
        s = 0
        while (1 << s) < L:
            w = 1 << s
            nxt = []
            for k in range(L + 1):
                if k <= w:               # d[k] <= k <= 2**s: nothing more below
                    nxt.append(d[k])
                    continue
                x = d[k - w]
                plus = Cat(Mux(x[s], 0, x[:s]) if s else C(0, 0), ~x[s], x[s])
                sig = Signal(DB, name=f"s2_d{s}_{k}")
                m.d.comb += sig.eq(Mux(d[k][s], plus, d[k]))
                nxt.append(sig)
            d, s = nxt, s + 1
        v2, last2, null2 = Signal(), Signal(), Signal()
        lanes2 = [Signal(E, name=f"s2_lane{k}") for k in range(L)]
        brk2, open2 = Signal(L), Signal(L + 1)
        d2 = [Signal(DB, name=f"s2_zeros{k}") for k in range(L + 1)]
        m.d.sync += [v2.eq(v1), last2.eq(last1), null2.eq(null1), brk2.eq(brk1)]
        for k in range(L + 1):
            m.d.sync += [d2[k].eq(d[k]), open2[k].eq(~brk1[:k].any() if k else C(1, 1))]
            if k < L:
                m.d.sync += lanes2[k].eq(lanes1[k])

        # ---- S3: tokens; the run `z` carried from beat to beat ----------------------
        # z = zeros of the run open before the beat (< 256).  A lane with no break
        # below it continues that run: its run byte is (z + k) mod 256, which is
        # also right after a filler in the beat (a filler ends the run at the lane
        # where z + k = 255, and only the run open at the beat's start can reach
        # 255 within <= 32 lanes).  Other lanes' runs are d[k].  After the beat,
        # z = d[L] if it has a break, else (z + lanes) mod 256 (again right across
        # a filler), 0 after a chunk's last beat: that is the whole loop.  z is
        # kept in one copy per 8 lanes (each its own loop), for fan-out.
        zs = replicated(m, "z", ZC, width=8)
        for zc in zs:
            with m.If(v2):
                m.d.sync += zc.eq(Mux(last2, 0, Mux(open2[L], (zc + L)[:8], d2[L])))
        v3, last3 = Signal(), Signal()
        lanes3 = [Signal(E, name=f"s3_lane{k}") for k in range(L)]
        run3 = [Signal(8, name=f"s3_run{k}") for k in range(L)]
        emit3 = Signal(L)
        m.d.sync += [v3.eq(v2), last3.eq(last2)]
        for k in range(L):
            z = zs[k * ZC // L]
            filler = open2[k] & ~null2 & (z == MAX_RUN - k)
            emit = brk2[k] | filler
            run = Mux(open2[k], (z + k)[:8], d2[k])
            if k == 0:
                # a null closing beat ends the open run: t trailing zeros -> (t-1, 0)
                emit = emit | (null2 & z.any())
                run = Mux(null2, (z - 1)[:8], run)
            m.d.sync += [emit3[k].eq(emit), run3[k].eq(run), lanes3[k].eq(lanes2[k])]

        # ---- S4, S5: compaction amounts = lanes without a token below each token ----
        # A prefix count of the idle lanes (a Hillis-Steele scan, its levels split
        # over the two stages).  Lanes that end no token are cleared (their element
        # is already zero).  The amounts are kept in one copy per group of token
        # bits (fan-out: a copy steers at most GB bits of its lane at each network
        # level).
        groups = [(lo, min(lo + GB, TW)) for lo in range(0, TW, GB)]
        cur = [~emit3[k] for k in range(L)]
        nscan = (L - 1).bit_length()
        v4, last4 = Signal(), Signal()
        emit4 = Signal(L)
        tok4 = [Signal(TW, name=f"s4_tok{k}") for k in range(L)]
        m.d.sync += [v4.eq(v3), last4.eq(last3), emit4.eq(emit3)]
        for k in range(L):
            m.d.sync += tok4[k].eq(Cat(Mux(emit3[k], run3[k], 0), lanes3[k]))
        for lvl in range(nscan):
            d = 1 << lvl
            nxt = cur[:d]
            for j in range(d, L):
                sig = Signal(range(L + 1), name=f"s4_idle{lvl}_{j}")
                m.d.comb += sig.eq(cur[j] + cur[j - d])
                nxt.append(sig)
            cur = nxt
            if lvl == (nscan - 1) // 2:  # register half way
                regs = [Signal(range(L + 1), name=f"s4_idle{j}") for j in range(L)]
                m.d.sync += [r.eq(x) for r, x in zip(regs, cur)]
                cur = regs
        if nscan == 0:
            reg = Signal(name="s4_idle0")
            m.d.sync += reg.eq(cur[0])
            cur = [reg]
        q = [C(0, 1)] + cur              # q[k] = idle lanes below lane k
        v5, last5 = Signal(), Signal()
        idle5 = Signal(range(L + 1))
        tok5 = [Signal(TW, name=f"s5_tok{k}") for k in range(L)]
        amt5 = [replicated(m, f"s5_amt{k}", len(groups), width=LB) for k in range(L)]
        m.d.sync += [v5.eq(v4), last5.eq(last4), idle5.eq(q[L])]
        for k in range(L):
            m.d.sync += tok5[k].eq(tok4[k])
            m.d.sync += [a.eq(Mux(emit4[k], q[k], 0)[:LB]) for a in amt5[k]]

        # ---- S5...: the compaction network, two levels per register stage ----------
        # (one network per group of token bits, each with its copy of the amounts)
        side = [v5, last5, idle5]
        gdata = [[tok5[k][lo:hi] for k in range(L)] for lo, hi in groups]
        gamts = [[amt5[k][g] for k in range(L)] for g in range(len(groups))]
        levels = LB if L > 1 else 0
        for b in range(levels):
            for g in range(len(groups)):
                gdata[g], gamts[g] = compact_level(m, gdata[g], gamts[g], b, f"cmp{g}_")
            if b % LPS == LPS - 1 or b == levels - 1:
                for g, (lo, hi) in enumerate(groups):
                    regs_d = [Signal(hi - lo, name=f"cmp{b}_g{g}_rd{j}") for j in range(L)]
                    m.d.sync += [r.eq(x) for r, x in zip(regs_d, gdata[g])]
                    gdata[g] = regs_d
                    if b < levels - 1:   # the last level's amounts are not needed
                        regs_a = [Signal(LB, name=f"cmp{b}_g{g}_ra{j}", attrs={"keep": 1})
                                  for j in range(L)]
                        m.d.sync += [r.eq(x) for r, x in zip(regs_a, gamts[g])]
                        gamts[g] = regs_a
                regs_s = [Signal.like(x, name=f"cmp{b}_side{k}") for k, x in enumerate(side)]
                m.d.sync += [r.eq(x) for r, x in zip(regs_s, side)]
                side = regs_s
        data = [Cat(*[gdata[g][j] for g in range(len(groups))]) for j in range(L)]
        vc, lastc, idlec = side

        # ---- piece register: the tokens' bytes back to back, T bytes per token ------
        # An empty piece is pushed only to close a chunk.
        pc_data = Signal(PI * 8)
        pc_n = Signal(range(PI + 1))
        pc_last = Signal()
        m.d.sync += [push.eq(vc & ((idlec != L) | lastc)), pc_data.eq(Cat(*data)),
                     pc_n.eq(PI - _times(idlec, T)), pc_last.eq(lastc)]

        # ---- piece FIFO -> packer -> output ------------------------------------------
        m.d.comb += [
            fifo.w_en.eq(push), fifo.w_data.eq(Cat(pc_data, pc_n, pc_last)),
            packer.i.valid.eq(fifo.r_valid),
            packer.i.p.data.eq(fifo.r_data[:PI * 8]),
            packer.i.p.n.eq(fifo.r_data[PI * 8:PI * 8 + NB]),
            packer.i.p.last.eq(fifo.r_data[-1]),
            fifo.r_en.eq(packer.i.ready),
            pop.eq(fifo.r_valid & packer.i.ready),
            o.valid.eq(packer.o.valid), packer.o.ready.eq(o.ready),
            o.p.data.eq(packer.o.p.data), o.p.keep.eq(packer.o.p.keep),
            o.p.last.eq(packer.o.p.last),
        ]
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
