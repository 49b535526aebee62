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
import math

from amaranth.hdl import C, Cat, Module, Mux, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .bits import (compact_level, count_after, leading_ones, popcount, prefix_counts, room_after,
                   thermometer)
from .fifo import WideFIFO
from .packer import CreditedPacker, Unpacker
from .skid import replicated
from .streams import DecoderParams, decoder_members, ELEM_BITS, MAX_LANES, byte_stream, check_codec_params, element_stream

__all__ = ["ELEM_BITS", "MAX_LANES", "MAX_RUN", "RLEError", "RLEEncoder", "RLEDecoder",
           "RLELoopback"]

#: Longest zero run one token carries.
MAX_RUN = 255


class RLEError(enum.IntEnum):
    """Error codes of :class:`RLEDecoder` (same numbers as ``golden.ErrorCode``)."""

    OK = 0
    #: The chunk ends before its elements are complete, ends inside a token, or
    #: bytes that are not a whole token follow the last token (or any byte
    #: follows an empty chunk).
    LENGTH_MISMATCH = 6
    #: A whole token goes past the chunk's element count.
    RUN_OVERSHOOT = 7


def _times(value, const):
    """``value * const`` as a sum of shifted copies (no multiplier cell)."""
    terms = [value << b for b in range(const.bit_length()) if const >> b & 1]
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return out


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
        self._elem_bits, self._lanes, self._out_bytes = check_codec_params(
            elem_bits, lanes, "out_bytes", out_bytes)
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
        m.submodules.packer = packer = CreditedPacker(8, PI, OB, inflight=INFLIGHT)
        room = packer.room
        push = Signal()
        m.d.comb += self._overflow.eq(packer.overflow)
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

        def scan_stage(cur):
            regs = [Signal(range(L + 1), name=f"s4_idle{j}") for j in range(len(cur))]
            m.d.sync += [r.eq(x) for r, x in zip(regs, cur)]
            return regs
        # q[k] = idle lanes below lane k (registered half way; with one lane,
        # before the scan)
        q = prefix_counts(m, cur, "s4_idle", stage=scan_stage, cuts={(nscan - 1) // 2 + 1})
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
            packer.push.eq(push), packer.piece.data.eq(pc_data), packer.piece.n.eq(pc_n),
            packer.piece.last.eq(pc_last),
        ]
        wiring.connect(m, packer.o, wiring.flipped(o))
        return m


class RLEDecoder(DecoderParams, wiring.Component):
    """Zero-run RLE decoder: one chunk's RLE bytes + its element count in, elements out.

    For every chunk the decoder takes one element count from ``count`` (sampled
    when it starts reading the chunk's bytes, i.e. once the previous chunk's
    ``last`` beat is in; a count may arrive before or after the chunk's first
    bytes), then the chunk's bytes from ``i`` up to the beat with ``last``.  It
    emits ``count`` elements on ``o`` (``lanes`` per beat, the final beat keeps a
    prefix and carries ``last``).  A count of 0 expects an empty chunk and emits
    a null beat.

    The bytes are cut into *groups* of ``lanes`` tokens (the chunk's last group
    may be shorter), one group per cycle at most.  A free-running pipeline works
    out where each token's element lands (the running element count of the
    chunk, checked against ``count``) and queues the groups; an emitter then
    sends one beat per cycle from the current group and the next (a group holds
    at least ``lanes`` elements, so no beat needs a third), and a placement
    pipeline moves the landing tokens' values to their lanes.  A run of 255
    zeros costs ``ceil(256 / lanes)`` beats, one per cycle.  The issue of a
    group and of a beat depends on registers only (credits for the two FIFOs),
    so ``i.ready`` and ``count.ready`` never depend on ``o.ready``.

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
    enough and the output is not back-pressured.  Latency: the first beat of a
    chunk is valid 17 + max(1, ceil(log2(lanes) / 2)) + max(0, log2(lanes) - 1)
    cycles (22 at 16 lanes) after the edge that took the input beat completing
    its first group, once the chunk's count is taken (see ``docs/RLE.md``).

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
        self._elem_bits, self._lanes, self._in_bytes = check_codec_params(
            elem_bits, lanes, "in_bytes", in_bytes, count_bits)
        self._count_bits = count_bits
        super().__init__(decoder_members(elem_bits, lanes, in_bytes, count_bits))

    def __repr__(self):
        return (f"RLEDecoder(elem_bits={self._elem_bits}, lanes={self._lanes}, "
                f"in_bytes={self._in_bytes})")

    def elaborate(self, platform):
        m = Module()
        E, L, IB, CB = self._elem_bits, self._lanes, self._in_bytes, self._count_bits
        T = 1 + E // 8                   # bytes per token
        TW = 8 * T
        GT = L * T                       # bytes of a group: `lanes` tokens
        LOG = (L - 1).bit_length()       # bits of a lane index (0 with one lane)
        SW = 8 + LOG                     # bits of a token's last element in its group (< 256 L)
        KB = 9 + LOG                     # bits of a group's element total (<= 256 L)
        OW = 9                           # bits of a beat offset within a group (<= 256)
        GDEPTH = 16                      # groups issued and not yet taken by the emitter
        ODEPTH = 16                      # beats emitted and not yet taken on `o`
        i, o = self.i, self.o

        def stage(name, values):
            """Registered copies of ``values``: one pipeline stage (no enable)."""
            out = []
            for k, v in enumerate(values):
                s = Signal(Value.cast(v).shape(), name=f"{name}{k}")
                m.d.sync += s.eq(v)
                out.append(s)
            return out

        def lanes_of(value):             # the lane bits of a value (none with one lane)
            return value[:LOG]

        # ---- front: bytes -> groups of `lanes` tokens ------------------------------
        # The unpacker shows the chunk's next GT bytes.  A group is taken whole (a
        # constant `take`, so the window only ever starts at multiples of
        # gcd(GT, IB) bytes), or, once the chunk's last beat is in and at most GT
        # bytes are left, as the chunk's final group with the rest of the chunk
        # (`drop`).  Nothing here looks at the tokens, so the issue decision is a
        # few gates on registers; everything about element counts happens in the
        # free-running pipeline behind it.  A group is issued only while the group
        # FIFO has room for every group in flight (credits), so that pipeline never
        # stalls.
        # The window is made wider than the GT bytes read from it, for the unpacker
        # to buffer one more beat: the issue decision is made a cycle ahead and
        # cannot count the bytes that land meanwhile.  Synthesis drops the unread
        # window bytes' multiplexers.
        NCF = max(2, min(8, IB // 2))   # (one copy per 2 bytes of each buffered beat)
        AL = math.gcd(GT, IB)
        WB = max(GT, -(-GT // IB) * IB + AL + 1)
        # (`registered`: a taken group's bytes reach A0 a cycle after the take,
        # through two multiplexer levels in two cycles; the facts that go with
        # them wait a stage, `p_`)
        m.submodules.unp = unp = Unpacker(8, IB, WB, align=AL, copies=NCF, registered=True,
                                          fixed_take=GT)
        m.d.comb += [
            unp.i.valid.eq(i.valid), i.ready.eq(unp.i.ready),
            # (`keep` is a prefix: its length from gates, not a population
            # count's adders, the 16 B engine's path into this skid, 10.4 ns)
            unp.i.p.data.eq(i.p.data), unp.i.p.n.eq(leading_ones(i.p.keep[k] for k in range(IB))),
            unp.i.p.last.eq(i.p.last),
        ]
        # The decision is registered (made a cycle ahead), in NCF copies that each
        # steer a share of the unpacker's buffered bytes: its enable nets start at
        # flip-flops.  It is made from registers only: once the chunk's last beat
        # is in, the level only falls by what is taken, so `rest` is exact; before
        # that, bytes may still land, so `rest` is a lower bound and a take stays
        # legal.  The credit check ignores this cycle's pops (one group of margin).
        f_active = Signal()              # the chunk's count is taken
        f_take = replicated(m, "f_take", NCF)      # take a group now
        f_drop = replicated(m, "f_drop", NCF)      # take the chunk's final group now
        f_fresh = Signal()               # the chunk's first group is still to come
        f_count = Signal(CB)
        level = unp.level
        issue = Signal()
        m.d.comb += issue.eq(f_take[0] | f_drop[0])
        for g in range(NCF):
            m.d.comb += [unp.take_en[g].eq(f_take[g]), unp.drop[g].eq(f_drop[g])]
        start = Signal()
        m.d.comb += [self.count.ready.eq(~f_active), start.eq(self.count.valid & ~f_active)]
        with m.If(start):
            m.d.sync += [f_count.eq(self.count.p), f_fresh.eq(1), f_active.eq(1)]
        with m.Elif(issue):
            m.d.sync += f_fresh.eq(0)
        with m.If(f_drop[0]):
            m.d.sync += f_active.eq(0)
        g_issued = Signal(range(GDEPTH + 1))
        go = Signal()
        take_n, drop_n = Signal(), Signal()
        # (`rest` = level - GT after a take, else level, compared with GT:
        # each comparison made on `level` against a constant for both cases
        # and `f_take` picks one, so no subtraction sits between `f_take` and
        # the decision: f_take -> rest -> compare -> f_drop was the 32 x 4
        # decoder's path, 9.15 ns, 4 carry steps.  After a take the level is
        # at least GT, so the two forms agree.)
        m.d.comb += [
            go.eq((start | (f_active & ~f_drop[0]))
                  & Mux(issue, g_issued < GDEPTH - 1, g_issued < GDEPTH)),
            drop_n.eq(go & unp.ended & Mux(f_take[0], level <= 2 * GT, level <= GT)),
            take_n.eq(go & ~drop_n & Mux(f_take[0], level >= 2 * GT, level >= GT)),
        ]
        m.d.sync += [*[r.eq(take_n) for r in f_take], *[r.eq(drop_n) for r in f_drop]]

        # group credits: issued, minus taken by the emitter or discarded after an
        # error.  The count moves by -2..+1 a cycle; each result is formed from
        # the register alone and the three flags pick one, so `issue` meets a
        # multiplexer, not an adder (f_drop -> issue -> the sum -> g_issued was
        # the 8 x 8 decoder's critical path in the 2d9e29c sweep, 4 carry steps;
        # so is the credit check in `go`, two comparisons that `issue` picks).
        g_pop, g_discard = Signal(), Signal()
        g_moved = {d: Signal(range(GDEPTH + 2), name=f"g_issued_{'m' if d < 0 else 'p'}{abs(d)}")
                   for d in (-2, -1, 1)}
        for d, sig in g_moved.items():
            m.d.comb += sig.eq(g_issued + d)
        with m.Switch(Cat(issue, g_pop, g_discard)):
            for flags in range(8):
                d = (flags & 1) - ((flags >> 1) & 1) - ((flags >> 2) & 1)
                if d:
                    with m.Case(flags):
                        m.d.sync += g_issued.eq(g_moved[d])
            with m.Default():            # (no net move; lint wants every value covered)
                m.d.sync += g_issued.eq(g_issued)

        # ---- A0: the group's tokens; which are whole --------------------------------
        # tv[j]: token j is whole (all of them but in a chunk's final group);
        # partial: the final group ends with 1..T-1 bytes that are not a token.
        # The run bytes of tokens that are not whole are cleared as they are
        # registered (a synchronous reset of their flip-flops), so the adders of
        # A1 start at flip-flops, not behind a mask.
        hi_nz = (lambda x: x[KB:].any()) if CB > KB else (lambda x: C(0, 1))
        p = stage("p_", [
            issue, Cat(*[level >= (j + 1) * T for j in range(L)]), f_drop[0],
            f_drop[0] & ~Cat(*[level == j * T for j in range(L + 1)]).any(), f_fresh, f_count,
            f_count == 0,
        ])
        pv, whole, *pfacts = p
        a = stage("a0_", [
            pv, unp.data[:GT * 8], whole, *pfacts,
            *[Mux(whole[j], unp.data[j * TW:j * TW + 8], 0) for j in range(L)],
        ])
        av, atok, atv, afinal, apartial, afirst, acount, azero = a[:8]
        vals = [atok[j * TW + 8:(j + 1) * TW] for j in range(L)]
        side = [av, atv, afinal, apartial, afirst, acount, azero, *vals]

        # ---- A1...: runs of the whole tokens, prefix sums (two adder levels a stage) --
        cur = list(a[8:])
        lvl = 0
        while True:
            for _ in range(2):
                if (1 << lvl) < L:
                    d = 1 << lvl
                    cur = cur[:d] + [(cur[j] + cur[j - d])[:SW] for j in range(d, L)]
                    lvl += 1
            regs = stage(f"a{lvl}_", cur + side)
            cur, side = regs[:L], regs[L:]
            if (1 << lvl) >= L:
                break
        av, atv, afinal, apartial, afirst, acount, azero, *vals = side

        # ---- S: each whole token's last element (from 0) within the group, the total --
        # (r_j + 1 per token: the +1s are the token's index, no adder level)
        ntok = popcount(atv[j] for j in range(L))
        regs = stage("s_", [(cur[j] + j)[:SW] for j in range(L)] + [(cur[L - 1] + ntok)[:KB]]
                     + [afirst & hi_nz(acount), acount[:KB]] + side)
        send, stotal, scnt_hi_nz, scnt_lo = regs[:L], regs[L], regs[L + 1], regs[L + 2]
        sv, stv, sfinal, spartial, sfirst, scount, szero, *vals = regs[L + 3:]

        # ---- B: elements still expected before the group (`rem`, the running loop) --
        # rem is compared through its low KB bits plus "the rest is nonzero" only
        # (a group holds < 2**KB elements); the full subtraction is the loop.
        rem = Signal(CB)
        zero_r = Signal()
        rem_eff = Mux(sfirst, scount, rem)
        big = Mux(sfirst, scnt_hi_nz, hi_nz(rem))
        with m.If(sv):
            m.d.sync += [rem.eq(rem_eff - stotal), zero_r.eq(Mux(sfirst, szero, zero_r))]
        # (each comparison for both sources of `lo`, picked after it: the
        # multiplexer in front of the carry chains was the small decoders'
        # path, `s_`/`rem` -> `b_1`, 8.1 ns at 8 x 8)
        def vs_lo(cmp):
            return Mux(sfirst, cmp(scnt_lo), cmp(rem[:KB]))
        over = Cat(*[stv[j] & ~big & vs_lo(lambda v, j=j: send[j] >= v) for j in range(L)])
        regs = stage("b_", [sv, over, ~big & vs_lo(lambda v: stotal == v), Mux(sfirst, szero, zero_r),
                            stv, sfinal, spartial, sfirst, *send, *vals])
        bv, bover, bexact, bzero, btv, bfinal, bpartial, bfirst = regs[:8]
        bend, vals = regs[8:8 + L], regs[8 + L:]

        # ---- C: the chunk's verdict; tokens kept; error pulse -----------------------
        # Order of the checks = golden's: bytes for a zero count; a whole token past
        # the count (the first one that overshoots, and every later one, is cut);
        # at the chunk's end, elements short or a partial token.  After an error
        # the chunk's later groups are discarded (their credits return here).
        failed = Signal()
        failed_eff = ~bfirst & failed
        live = Signal()
        m.d.comb += [live.eq(bv & ~failed_eff), g_discard.eq(bv & failed_eff)]
        any_over = bover.any()
        err_zero = bzero & (btv[0] | bpartial)
        err_over = ~bzero & any_over
        err_end = ~bzero & ~any_over & bfinal & (~bexact | bpartial)
        err = Signal()
        m.d.comb += err.eq(err_zero | err_over | err_end)
        with m.If(bv):
            m.d.sync += failed.eq(failed_eff | err)
        code = Signal(4)
        m.d.sync += self.error.eq(live & err)
        with m.If(live & err):
            m.d.sync += code.eq(Mux(err_over, RLEError.RUN_OVERSHOOT, RLEError.LENGTH_MISMATCH))
        with m.Elif(live & bfirst):
            m.d.sync += code.eq(RLEError.OK)
        m.d.comb += self.error_code.eq(code)
        kept = [btv[j] & ~bover[j] & ~bzero for j in range(L)]
        end_last = 0
        for j in range(L):
            end_last = end_last | Mux(kept[j] & (~kept[j + 1] if j + 1 < L else 1), bend[j], 0)
        regs = stage("c_", [live, Cat(*kept), bfinal | err, err, ~kept[0], bfirst, end_last,
                            *bend, *vals])
        cv, ckept, cfinal, cerr, cempty, cfirst, cend_last = regs[:7]
        cend, vals = regs[7:7 + L], regs[7 + L:]

        # ---- D: lanes and beat offsets; the chunk's lane phase `q` (a short loop) ---
        # With q elements of the chunk before the group in its first beat, the
        # element that ends token j sits at q + end_j: beat offset (within the
        # group) above the lane bits, lane in them.
        q = Signal(range(L))
        q_eff = Mux(cfirst, 0, q)
        pos = [Signal(SW + 1, name=f"pos{j}") for j in range(L)]
        m.d.comb += [pos[j].eq(q_eff + cend[j]) for j in range(L)]
        pos_last = Signal(SW + 1)
        m.d.comb += pos_last.eq(q_eff + cend_last)
        with m.If(cv & ~cempty):
            m.d.sync += q.eq(lanes_of(pos_last + 1))
        # per token: (lane - j) mod L, the distance it moves in the placement stage
        shift_c = [lanes_of(pos[j] - j) for j in range(L)]
        offs = [pos[j][LOG:LOG + OW] for j in range(L)]
        regs = stage("d_", [cv, ckept, cfinal, cerr, cempty, q_eff != 0 if LOG else C(0, 1),
                            pos_last[LOG:LOG + OW], lanes_of(pos_last), *shift_c, *offs, *vals])
        dv, dkept, dfinal, derr, dempty, dqnz, dolast, dlane_last = regs[:8]
        dshift, doffs, vals = regs[8:8 + L], regs[8 + L:8 + 2 * L], regs[8 + 2 * L:]

        # ---- group FIFO --------------------------------------------------------------
        # Per group: beats it spans after the previous group's last beat (delta;
        # 0 for a final group whose tokens all land in that beat, or an empty one),
        # kept as delta - 1 and the flags delta == 1 (or empty), delta == 0.
        fields = [("val", E, L), ("shift", LOG, L), ("off", OW, L), ("kept", 1, L),
                  ("dm1", OW, 1), ("lz", 1, 1), ("dz", 1, 1), ("qnz", 1, 1), ("final", 1, 1),
                  ("err", 1, 1), ("empty", 1, 1), ("klast", len(Signal(range(L + 1))), 1)]
        per_token = ("val", "shift", "off", "kept")
        GW = sum(w * n for _, w, n in fields)

        def unpack(bits):
            out, at = {}, 0
            for name, w, n in fields:
                out[name] = [bits[at + k * w:at + (k + 1) * w] for k in range(n)]
                at += w * n
            return {k: (v if k in per_token else v[0]) for k, v in out.items()}

        d_lz = Mux(dqnz, dolast == 1, dolast == 0)
        g_in = {
            "val": vals, "shift": dshift, "off": doffs, "kept": [dkept[j] for j in range(L)],
            "dm1": [(dolast - dqnz)[:OW]], "lz": [dempty | d_lz],
            "dz": [dempty | (dqnz & (dolast == 0))], "qnz": [dqnz], "final": [dfinal],
            "err": [derr], "empty": [dempty], "klast": [Mux(dempty, 0, dlane_last + 1)],
        }
        m.submodules.groups = gf = WideFIFO(GW, GDEPTH, copies=max(1, GW // 64))
        packed = []
        for name, w, _ in fields:
            for x in g_in[name]:
                sig = Signal(w, name=f"g_in_{name}")
                m.d.comb += sig.eq(x)    # (zero-extended to the field's width)
                packed.append(sig)
        m.d.comb += [gf.w_en.eq(dv), gf.w_data.eq(Cat(*packed))]
        head = unpack(gf.r_data)
        nxt_v = gf.r_valid

        # ---- emitter: one beat per cycle from the current group and the next -------
        # `cur` is the group being emitted; the FIFO's head is the next one.  The
        # loop state is `left` (beats until cur's last beat) with its flag lz
        # (left == 0), and cb (cur's beat offset); every decision is a few gates
        # on registers.  cur's last beat also holds the next group's first
        # tokens (unless cur ends the chunk), so it waits for that group.  The
        # decision is made in NCE copies, each loading its share of `cur`.
        # Copy NCE steers `left` and `cb`, copy NCE + 1 the copies of `cb`: no
        # decision net reaches more than one of these groups of registers.
        NCE = max(2, min(8, GW // 64))
        NDC = NCE + 2
        cur_bits = Signal(GW)
        c = unpack(cur_bits)
        cur_v = replicated(m, "cur_v", NDC)
        lz = replicated(m, "lz", NDC)
        cfin = replicated(m, "cur_final", NDC)
        room = replicated(m, "o_room", NDC, reset=1)
        left = Signal(OW)
        cb = Signal(OW)
        # copies of cb, one per two tokens' compares (`land`, `before` below: cb
        # reached 4 * lanes comparators through one net, 84 % routing at 8 x 8)
        NCB = max(1, L // 2)
        cb_c = replicated(m, "cb", NCB, width=OW)
        dec = []
        for g in range(NDC):
            d = {k: Signal(name=f"{k}_c{g}") for k in ("need", "emit", "pop1", "pop2", "load")}
            m.d.comb += [
                d["need"].eq(lz[g] & ~cfin[g]),
                d["emit"].eq(cur_v[g] & room[g] & (~d["need"] | nxt_v)),
                d["pop1"].eq(d["emit"] & lz[g]),
                d["pop2"].eq(d["pop1"] & ~cfin[g] & head["dz"]),
                d["load"].eq(~cur_v[g] | (d["pop1"] & ~d["pop2"])),
            ]
            lo_, hi_ = min(g, NCE) * GW // NCE, min(g + 1, NCE) * GW // NCE
            with m.If(d["load"]):
                m.d.sync += [cur_bits[lo_:hi_].eq(gf.r_data[lo_:hi_]), cur_v[g].eq(nxt_v),
                             lz[g].eq(head["lz"]), cfin[g].eq(head["final"])]
            with m.Elif(d["pop2"]):
                m.d.sync += cur_v[g].eq(0)
            with m.Elif(d["emit"]):
                m.d.sync += lz[g].eq(left == 1)
            dec.append(d)
        need, emit, pop1, pop2, load = (dec[0][k] for k in ("need", "emit", "pop1", "pop2", "load"))
        with m.If(dec[NCE]["load"]):
            m.d.sync += [left.eq(head["dm1"]), cb.eq(head["qnz"])]
        with m.Elif(dec[NCE]["emit"]):
            m.d.sync += [left.eq(left - 1), cb.eq(cb + 1)]
        with m.If(dec[NCE + 1]["load"]):
            m.d.sync += [r.eq(head["qnz"]) for r in cb_c]
        with m.Elif(dec[NCE + 1]["emit"]):
            m.d.sync += [r.eq(cb + 1) for r in cb_c]
        # The FIFO is read when cur is loaded or dropped: (load | pop2) & nxt_v,
        # which reduces to "no cur, or cur's last beat goes out with room" -- one
        # gate on four registers instead of the emit decision's chain (need ->
        # emit -> pop1 -> pop2 -> load: the group FIFO's read was the 8 x 8
        # decoder's critical path, 107.8 MHz).
        g_read = Signal()
        m.d.comb += [g_read.eq(nxt_v & (~cur_v[0] | (lz[0] & room[0]))),
                     gf.r_en.eq(g_read), g_pop.eq(g_read)]

        # output credits: the count and `room` after each case of the output's
        # transfer, from registers, picked by it (`o.ready` may come late from
        # the consumer: in the 16 B engine, the decode stage's collector ->
        # `o.ready` -> this count's adder -> `room` was the path at seed 1,
        # 11.8 ns, 3 ns of it one wire)
        o_issued = Signal(range(ODEPTH + 1))
        o_take = Signal()
        o_room = Signal()
        m.d.comb += [o_take.eq(o.valid & o.ready),
                     o_room.eq(room_after(m, o_issued, ODEPTH, emit, o_take))]
        m.d.sync += [o_issued.eq(count_after(o_issued, emit, o_take)),
                     *[r.eq(o_room) for r in room]]

        # ---- P1: which tokens of cur and of the next group land in this beat --------
        last = pop1 & (cfin[0] | pop2)
        land = ([c["kept"][j] & (c["off"][j] == cb_c[j * NCB // L]) for j in range(L)]
                + [need & head["qnz"] & head["kept"][j] & (head["off"][j] == 0) for j in range(L)])
        before = [c["kept"][j] & (c["off"][j] < cb_c[j * NCB // L])
                  for j in range(L)]     # a prefix of cur
        keep_n = Mux(last, Mux(pop2 & ~head["empty"], head["klast"], c["klast"]), L)
        regs = stage("p1_", [emit, last, last & Mux(pop2, head["err"], c["err"]), keep_n,
                             Cat(*land), Cat(*before), *c["val"], *head["val"],
                             *c["shift"], *head["shift"]])
        pv, plast, puser, pkeep_n, pland, _ = regs[:6]
        # `before` in copies, one per four tokens' moves (P2 counts it and adds
        # the count to every move: one net reached 2 * lanes adders, 86 %
        # routing at 8 x 8)
        NPB = max(1, L // 2)
        pbefore = replicated(m, "p1_before", NPB, width=L)
        # (each copy from its own copy of cb: one compare net fed all copies)
        m.d.sync += [r.eq(Cat(*[c["kept"][j] & (c["off"][j] < cb_c[k * NCB // NPB])
                                for j in range(L)])) for k, r in enumerate(pbefore)]
        pval = regs[6:6 + 2 * L]
        pshift = regs[6 + 2 * L:]

        # ---- P2: p = cur's tokens already emitted; each token's move up ------------
        # Landing tokens are consecutive in cur ++ next: moved down by p they sit
        # in slots 0.., and slot k then moves up to its lane: lane - k = (lane -
        # j) + p mod L for token j.  Moves of increasing lanes from consecutive
        # slots never collide when taken highest bit first (the compaction network
        # backwards), so each level is one 2:1 multiplexer per bit.
        def thermo_count(t, n):          # number of set bits of the prefix t[0..n-1]
            bits = []
            for b in range(LOG):
                terms = []
                for base in range(0, n, 2 << b):
                    lo_i, hi_i = base + (1 << b) - 1, base + (2 << b) - 1
                    if lo_i < n:
                        terms.append(t[lo_i] & (~t[hi_i] if hi_i < n else 1))
                bits.append(Cat(*terms).any() if terms else C(0, 1))
            return Cat(*bits)
        ps = [thermo_count(r, L) for r in pbefore]
        amounts = [lanes_of(pshift[j] + ps[j * NPB // (2 * L)]) for j in range(2 * L)]
        # p steers every bit of the down shift: one copy per two positions of it
        NP = max(1, L // 2)
        pc = replicated(m, "p2_p", NP, width=LOG)
        m.d.sync += [r.eq(ps[k * NPB // NP]) for k, r in enumerate(pc)]
        regs = stage("p2_", [pv, plast, puser, thermometer(pkeep_n, L), pland,
                             *pval, *amounts])
        pv, plast, puser, pkeep, pland = regs[:5]
        items = [(regs[5 + j], regs[5 + 2 * L + j], pland[j]) for j in range(2 * L)]
        side = [pv, plast, puser, pkeep]
        zero_item = (C(0, E), C(0, LOG), C(0, 1))

        levels = [("down", b) for b in reversed(range(LOG))] + [("up", b) for b in reversed(range(LOG))]
        # Two levels per register stage, but a level that moves values 128
        # bits or more across the beat has a stage of its own (at 32 x 16 two
        # such levels in one stage were the critical path, 90 % routing; an
        # up level alone as well, two LUTs deep, did not help at 32 x 4:
        # 109.4 -> 105.4 MHz, the path moving into the unpacker).
        wide = [(1 << b) * E >= 128 for _, b in levels]
        cut, fill = set(), 0
        for n in range(len(levels)):
            cost = 2 if wide[n] else 1
            if fill + cost > 2:
                cut.add(n - 1)
                fill = 0
            fill += cost
        for n, (kind, b) in enumerate(levels):
            d = 1 << b
            nxt = []
            if kind == "down":           # everything moves down by p
                for x in range(L + d - 1):
                    hold = items[x] if x < len(items) else zero_item
                    come = items[x + d] if x + d < len(items) else zero_item
                    sel = pc[min(x * NP // L, NP - 1)][b]
                    nxt.append(tuple(Mux(sel, cv_, hv) for cv_, hv in zip(come, hold)))
            else:                        # landing tokens move up by their amount
                stay = [it[2] & ~it[1][b] for it in items]
                move = [it[2] & it[1][b] for it in items]
                for x in range(L):
                    val = Mux(stay[x], items[x][0], 0)
                    amt = Mux(stay[x], items[x][1], 0)
                    if x >= d:
                        val = val | Mux(move[x - d], items[x - d][0], 0)
                        amt = amt | Mux(move[x - d], items[x - d][1], 0)
                    nxt.append((val, amt, stay[x] | (move[x - d] if x >= d else 0)))
            items = [tuple(Signal(Value.cast(f).shape(), name=f"pl{n}_{x}_{k}")
                           for k, f in enumerate(it)) for x, it in enumerate(nxt)]
            for sig, it in zip(items, nxt):
                m.d.comb += [s.eq(f) for s, f in zip(sig, it)]
            if n in cut:
                flat = [f for it in items for f in it]
                regs = stage(f"p{n}_", flat + side)
                items = [tuple(regs[3 * x:3 * x + 3]) for x in range(len(items))]
                side = regs[3 * len(items):]
                if levels[n + 1][0] == "down":
                    pn = replicated(m, f"p{n}_p", NP, width=LOG)
                    m.d.sync += [r.eq(x) for r, x in zip(pn, pc)]
                    pc = pn
        # (an up level already leaves 0 in a lane nothing lands in)
        data = [items[x][0] if LOG else Mux(items[x][2], items[x][0], 0) for x in range(L)]
        ov, olast, ouser, okeep = side

        # ---- output FIFO ---------------------------------------------------------------
        m.submodules.out = of = WideFIFO(L * E + L + 2, ODEPTH, copies=max(1, L * E // 64))
        m.d.comb += [
            of.w_en.eq(ov), of.w_data.eq(Cat(*data, okeep, olast, ouser)),
            o.valid.eq(of.r_valid), of.r_en.eq(o.ready),
            o.p.data.eq(of.r_data[:L * E]), o.p.keep.eq(of.r_data[L * E:L * E + L]),
            o.p.last.eq(of.r_data[L * E + L]), o.p.user.eq(of.r_data[L * E + L + 1]),
        ]
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
