"""ZVC with an entropy-coded top byte (ZVCE, codec 3) in hardware.

The byte format is the golden model's (:mod:`golden.zvce`, ``docs/FORMAT.md``):
per window of 32 elements the ZVC mask, then the *code field* (a 2-bit head
per nonzero element, then a tail per nonzero element whose width the head
gives, padded to a byte), then the ``E/8 - 1`` low bytes of every nonzero
element.  ``docs/ZVCE.md`` describes the pipelines, their latency and
throughput.

Both blocks take the 16-byte code table (``golden.zvce.CodeTable.pack()``) as a
plain input, sampled once per chunk: the compressor at a chunk's first input
beat, the decompressor when it takes the chunk's element count.
"""
from __future__ import annotations

import enum

from amaranth.hdl import C, Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .bits import compact_level, expand_controls, expand_level, popcount, prefix_counts, thermometer
from .fifo import WideFIFO
from .packer import CreditedPacker, Unpacker
from .streams import byte_stream, check_codec_params, element_stream

__all__ = ["WINDOW", "ELEM_BITS", "TABLE_BYTES", "ZVCEError", "ZVCECompressor", "ZVCEDecompressor",
           "ZVCELoopback"]

#: Elements per window (one 32-bit mask), as in ZVC.
WINDOW = 32
#: Element widths ZVCE codes (8-bit elements have no low bytes: use ZVC).
ELEM_BITS = (16, 32)
#: Bytes of a packed code table.
TABLE_BYTES = 16
#: Symbols a code table holds at most.
MAX_SYMBOLS = TABLE_BYTES - 1


class ZVCEError(enum.IntEnum):
    """Error codes of :class:`ZVCEDecompressor` (same numbers as ``golden.ErrorCode``)."""

    OK = 0
    #: The code table is malformed (widths byte, more than 15 symbols, nonzero filler).
    BAD_PARAMS = 3
    #: The chunk ends before its last window is complete, or bytes follow it.
    LENGTH_MISMATCH = 6
    #: A mask sets bits for elements past the chunk's element count.
    BAD_MASK = 8
    #: A code field's padding bits are not zero.
    BAD_PADDING = 9


def _check_params(elem_bits, lanes, beat_name, beat_bytes, count_bits=None):
    out = check_codec_params(elem_bits, lanes, beat_name, beat_bytes, count_bits)
    if elem_bits not in ELEM_BITS:
        raise ValueError(f"elem_bits must be one of {ELEM_BITS} for ZVCE, not {elem_bits!r} "
                         "(8-bit elements have no low bytes: use ZVC)")
    return out


def _table_entries(m, table, name):
    """Per table index 0..14: (valid, head, tail, width) from a packed table
    (combinational, from the latched table register)."""
    w = [table[0:2], table[2:4], table[4:6]]
    n0 = Signal(4, name=f"{name}_n0")
    n01 = Signal(5, name=f"{name}_n01")
    n012 = Signal(5, name=f"{name}_n012")
    m.d.comb += [n0.eq(C(1, 4) << w[0]), n01.eq(n0 + (C(1, 4) << w[1])),
                 n012.eq(n01 + (C(1, 4) << w[2]))]
    out = []
    for i in range(MAX_SYMBOLS):
        c0, c1, valid = n0 > i, n01 > i, n012 > i
        head = Signal(2, name=f"{name}_h{i}")
        tail = Signal(3, name=f"{name}_t{i}")
        width = Signal(4, name=f"{name}_w{i}")
        m.d.comb += [
            head.eq(Mux(c0, 0, Mux(c1, 1, 2))),
            tail.eq(Mux(c0, i, Mux(c1, i - n0, i - n01))[:3]),
            width.eq(Mux(c0, w[0], Mux(c1, w[1], w[2]))),
        ]
        out.append((valid, head, tail, width, table[8 * (i + 1):8 * (i + 2)]))
    return out


def table_malformed(table):
    """The golden ``CodeTable.unpack`` verdict on a packed table: bits 6-7 of the
    widths byte set, more than 15 symbols, or a nonzero byte after the symbols."""
    w = [table[0:2], table[2:4], table[4:6]]
    n = (C(1, 5) << w[0]) + (C(1, 5) << w[1]) + (C(1, 5) << w[2])
    filler = [(n < i) & table[8 * i:8 * (i + 1)].any() for i in range(2, TABLE_BYTES)]
    return table[6:8].any() | (n > MAX_SYMBOLS) | Cat(*filler).any()


class ZVCECompressor(wiring.Component):
    """ZVCE compressor: raw element beats and a code table in, the chunk's ZVCE bytes out.

    Each input packet (``last`` on its final beat) is one chunk; the output
    packet is exactly ``golden.zvce.encode(chunk, table)``, packed densely into
    ``out_bytes``-wide beats (``keep`` all ones but on the final beat).  A
    final input beat that keeps no element closes the chunk; a chunk without
    any element produces one null output beat (``keep`` = 0, ``last`` = 1).
    ``table`` (the 16 bytes of ``CodeTable.pack()``, little-endian: byte 0 in
    bits 0-7) is sampled with a chunk's first input beat and used for the
    whole chunk.

    Throughput: one input beat per cycle while the output keeps up, for
    ``lanes`` <= 8; a window takes ``max(32 / lanes, 2 + 16 / lanes)`` cycles
    (3 at 16 lanes, 3 at 32), see ``docs/ZVCE.md``.

    Parameters
    ----------
    elem_bits : int
        Element width: 16 or 32.
    lanes : int
        Elements per input beat: a power of two from 1 to 32.
    out_bytes : int
        Bytes per output beat, 1 to 256.

    Members
    -------
    i : In(stream.Signature(element_beat_layout(elem_bits, lanes)))
        Raw elements, one chunk per packet.
    table : In(128)
        The packed code table.
    o : Out(stream.Signature(byte_beat_layout(out_bytes)))
        ZVCE bytes.

    Raises
    ------
    TypeError
        A parameter is not an integer.
    ValueError
        A parameter is out of range (8-bit elements included: use ZVC).
    """

    def __init__(self, elem_bits: int, lanes: int, out_bytes: int):
        self._elem_bits, self._lanes, self._out_bytes = _check_params(
            elem_bits, lanes, "out_bytes", out_bytes)
        super().__init__({
            "i": In(element_stream(elem_bits, lanes)),
            "table": In(8 * TABLE_BYTES),
            "o": Out(byte_stream(out_bytes)),
        })
        self._overrun = Signal()         # test hook: a window overwritten while pending
        self._overflow = Signal()        # test hook: the piece FIFO overflowed

    elem_bits = property(lambda self: self._elem_bits, doc="Element width in bits.")
    lanes = property(lambda self: self._lanes, doc="Elements per input beat.")
    out_bytes = property(lambda self: self._out_bytes, doc="Bytes per output beat.")

    @property
    def window_cycles(self):
        """Cycles the pipeline spends per window (the input's pace)."""
        nb = WINDOW // self._lanes
        g = 2 if nb >= 2 else 1
        return max(nb, 2 + nb // g)

    def __repr__(self):
        return (f"ZVCECompressor(elem_bits={self._elem_bits}, lanes={self._lanes}, "
                f"out_bytes={self._out_bytes})")

    def elaborate(self, platform):
        m = Module()
        E, L, OB = self._elem_bits, self._lanes, self._out_bytes
        LOW = E - 8                      # bits of an element below its top byte
        LOWB = LOW // 8
        nb = WINDOW // L                 # input beats per window
        G = 2 if nb >= 2 else 1          # input beats per super-beat
        GL = G * L                       # lanes of a super-beat
        S = nb // G                      # super-beats per window
        NP = 2 + S                       # pieces per window: mask+heads, tails, S low slots
        P = self.window_cycles           # input cycles per window (pace)
        PI = max(12, 33, GL * LOWB)      # largest piece in bytes
        LB = max(1, (GL - 1).bit_length())
        NLEV = LB if GL > 1 else 0       # compaction levels
        cbits = (GL + 1).bit_length()
        i, o = self.i, self.o

        # ---- flow control (as the ZVC compressor: credits, pacing) ----------------
        STAGES = 6 + NLEV + 3
        INFLIGHT = STAGES + 2 * NP + 2
        m.submodules.packer = packer = CreditedPacker(8, PI, OB, inflight=INFLIGHT, masked=True)
        bidx = Signal(range(max(nb, 2)))
        pace = Signal(range(max(P, 2)))
        take = Signal()
        in_chunk = Signal()
        table = Signal(8 * TABLE_BYTES)
        m.d.comb += [i.ready.eq(packer.room & ~pace.any()), take.eq(i.valid & i.ready)]
        with m.If(take):
            m.d.sync += in_chunk.eq(~i.p.last)
            with m.If(~in_chunk):
                m.d.sync += table.eq(self.table)
            with m.If(i.p.last | (bidx == nb - 1)):
                m.d.sync += [bidx.eq(0), pace.eq(P - 1 - bidx)]
            with m.Else():
                m.d.sync += bidx.eq(bidx + 1)
        with m.Elif(pace.any()):
            m.d.sync += pace.eq(pace - 1)

        # ---- S0: super-beats of G input beats (unkept lanes of a last beat = 0) ----
        v0, last0, has0 = Signal(), Signal(), Signal()
        sidx0 = Signal(range(max(S, 2)))
        lanes0 = Signal(GL * E)
        beat_has = ~i.p.last | i.p.keep.any()
        beat = Cat(*[Mux(i.p.last & ~i.p.keep[l], 0, i.p.data[l * E:(l + 1) * E])
                     for l in range(L)])
        if G == 1:
            m.d.sync += [v0.eq(take), last0.eq(i.p.last), has0.eq(beat_has),
                         sidx0.eq(bidx)]
            with m.If(take):
                m.d.sync += lanes0.eq(beat)
        else:
            half = bidx[0]
            hold_has = Signal()
            m.d.sync += [v0.eq(take & (half | i.p.last)), last0.eq(i.p.last),
                         sidx0.eq(bidx >> 1), has0.eq(beat_has | (half & hold_has))]
            with m.If(take):
                m.d.sync += hold_has.eq(beat_has)
                with m.If(half):
                    m.d.sync += lanes0[L * E:].eq(beat)
                with m.Else():
                    m.d.sync += [lanes0[:L * E].eq(beat), lanes0[L * E:].eq(0)]

        # ---- S1: top byte against the table (one match flag per entry) -------------
        entries = _table_entries(m, table, "tbl")
        v1, last1, has1 = Signal(), Signal(), Signal()
        sidx1 = Signal.like(sidx0)
        nz1 = Signal(GL)
        top1 = [Signal(8, name=f"s1_top{l}") for l in range(GL)]
        low1 = [Signal(LOW, name=f"s1_low{l}") for l in range(GL)]
        match1 = [Signal(MAX_SYMBOLS, name=f"s1_match{l}") for l in range(GL)]
        m.d.sync += [v1.eq(v0), last1.eq(last0), has1.eq(has0), sidx1.eq(sidx0)]
        for l in range(GL):
            lane = lanes0[l * E:(l + 1) * E]
            m.d.sync += [nz1[l].eq(lane.any()), top1[l].eq(lane[LOW:]), low1[l].eq(lane[:LOW]),
                         match1[l].eq(Cat(*[valid & (lane[LOW:] == sym)
                                            for valid, _, _, _, sym in entries]))]
        # the entries' head/tail/width do not change within a chunk: registered copies
        ent = []
        for k, (_, h, t, w, _) in enumerate(entries):
            rh, rt, rw = Signal(2, name=f"ent_h{k}"), Signal(3, name=f"ent_t{k}"), Signal(4, name=f"ent_w{k}")
            m.d.sync += [rh.eq(h), rt.eq(t), rw.eq(w)]
            ent.append((rh, rt, rw))

        # ---- S2: head, tail, width of every lane (first match; literal otherwise) --
        v2, last2, has2 = Signal(), Signal(), Signal()
        sidx2 = Signal.like(sidx0)
        nz2 = Signal(GL)
        item2 = [Signal(LOW + 2, name=f"s2_item{l}") for l in range(GL)]   # low bits, head
        tail2 = [Signal(8, name=f"s2_tail{l}") for l in range(GL)]
        wid2 = [Signal(4, name=f"s2_w{l}") for l in range(GL)]
        m.d.sync += [v2.eq(v1), last2.eq(last1), has2.eq(has1), sidx2.eq(sidx1), nz2.eq(nz1)]
        for l in range(GL):
            mt = match1[l]
            first = [mt[k] & ~mt[:k].any() if k else mt[0] for k in range(MAX_SYMBOLS)]
            hit = mt.any()
            hh = Signal(2, name=f"s2_hh{l}")
            ht = Signal(3, name=f"s2_ht{l}")
            hw = Signal(4, name=f"s2_hw{l}")
            m.d.comb += [
                hh.eq(_or_all([Mux(first[k], ent[k][0], 0) for k in range(MAX_SYMBOLS)], 2)),
                ht.eq(_or_all([Mux(first[k], ent[k][1], 0) for k in range(MAX_SYMBOLS)], 3)),
                hw.eq(_or_all([Mux(first[k], ent[k][2], 0) for k in range(MAX_SYMBOLS)], 4)),
            ]
            nz = nz1[l]
            m.d.sync += [
                item2[l].eq(Mux(nz, Cat(low1[l], Mux(hit, hh, 3)), 0)),
                tail2[l].eq(Mux(nz, Mux(hit, ht, top1[l]), 0)),
                wid2[l].eq(Mux(nz, Mux(hit, hw, 8), 0)),
            ]

        # ---- S3: compaction amounts; then the compaction network of (low, head)
        #      items and the merge tree of the tails, one register stage per level ---
        p = prefix_counts(m, [nz2[l] for l in range(GL)], "s2_p")
        v3, last3, has3 = Signal(), Signal(), Signal()
        sidx3 = Signal.like(sidx0)
        nz3 = Signal(GL)
        cnt3 = Signal(cbits)
        item3 = [Signal(LOW + 2, name=f"s3_item{l}") for l in range(GL)]
        amt3 = [Signal(LB, name=f"s3_amt{l}") for l in range(GL)]
        tails3 = [Signal(8, name=f"s3_tail{l}") for l in range(GL)]
        tw3 = [Signal(4, name=f"s3_tw{l}") for l in range(GL)]
        m.d.sync += [v3.eq(v2), last3.eq(last2), has3.eq(has2), sidx3.eq(sidx2), nz3.eq(nz2),
                     cnt3.eq(p[GL])]
        for l in range(GL):
            m.d.sync += [item3[l].eq(item2[l]), amt3[l].eq(Mux(nz2[l], l - p[l], 0)[:LB]),
                         tails3[l].eq(tail2[l]), tw3[l].eq(wid2[l])]
        data, amts = item3, amt3
        tails = list(zip(tails3, tw3))
        side = [v3, last3, has3, sidx3, nz3, cnt3]
        for b in range(NLEV):
            data, amts = compact_level(m, data, amts, b, f"cmp{b}")
            merged = []
            for j in range(0, len(tails), 2):
                (a, wa), (c, wc) = tails[j], tails[j + 1]
                merged.append((a | (c << wa), wa + wc))
            regs_d = [Signal(LOW + 2, name=f"cmp{b}_rd{j}") for j in range(GL)]
            regs_a = [Signal(LB, name=f"cmp{b}_ra{j}") for j in range(GL)]
            regs_t = [(Signal(8 << (b + 1), name=f"tl{b}_b{j}"),
                       Signal(range(8 * (2 << b) + 1), name=f"tl{b}_w{j}"))
                      for j, (a, _) in enumerate(merged)]
            regs_s = [Signal.like(x, name=f"cmp{b}_side{k}") for k, x in enumerate(side)]
            m.d.sync += [r.eq(x) for r, x in zip(regs_d + regs_a + regs_s, data + amts + side)]
            for (rb, rw), (xb, xw) in zip(regs_t, merged):
                m.d.sync += [rb.eq(xb), rw.eq(xw)]
            data, amts, side, tails = regs_d, regs_a, regs_s, regs_t
        vc, lastc, hasc, sidxc, nzc, cntc = side
        (tbits, tw), = tails
        lows = Cat(*[d[:LOW] for d in data])                 # compacted low parts
        heads = Cat(*[d[LOW:] for d in data])                # compacted heads

        # ---- collector: a window's low slots, its heads, tails and mask ------------
        cur_lows = Signal(S * GL * LOW)
        cur_cnt = Signal(S * cbits)
        cur_mask = Signal(WINDOW)
        cur_heads = Signal(2 * WINDOW)
        cur_tails = Signal(8 * WINDOW)
        kacc = Signal(range(WINDOW + 1))
        tacc = Signal(range(8 * WINDOW + 1))
        fresh = Signal(init=1)           # the next super-beat starts a window
        cur_has, cur_last = Signal(), Signal()
        complete = Signal()
        m.d.comb += complete.eq(vc & (lastc | (sidxc == S - 1)))
        with m.If(vc):
            m.d.sync += [
                cur_heads.eq(Mux(fresh, 0, cur_heads) | (heads << Cat(C(0, 1), kacc))),
                cur_tails.eq(Mux(fresh, 0, cur_tails) | (tbits << tacc)),
                kacc.eq(Mux(complete, 0, kacc + cntc)),
                tacc.eq(Mux(complete, 0, tacc + tw)),
                fresh.eq(complete),
                cur_last.eq(lastc),
                cur_has.eq(hasc | (~fresh & cur_has)),
            ]
            for s in range(S):
                with m.If(sidxc == s):
                    m.d.sync += [cur_lows[s * GL * LOW:(s + 1) * GL * LOW].eq(lows),
                                 cur_cnt[s * cbits:(s + 1) * cbits].eq(cntc),
                                 cur_mask[s * GL:(s + 1) * GL].eq(nzc)]
                    if s == 0:           # a new window: the rest is cleared
                        m.d.sync += [cur_cnt[cbits:].eq(0), cur_mask[GL:].eq(0)]
        # the window's field, as it leaves for the serializer: whole bytes of
        # mask + heads (piece 0) and the rest of the heads with the tails (piece 1)

        pending = Signal()
        ser_free = Signal()
        pending_next = Signal()
        m.d.comb += pending_next.eq(complete | (pending & ~ser_free))
        m.d.sync += pending.eq(pending_next)
        # the window totals at completion (kacc/tacc restart at 0 in that cycle)
        fin_k = Signal(range(WINDOW + 1))
        fin_t = Signal(range(8 * WINDOW + 1))
        with m.If(complete):
            m.d.sync += [fin_k.eq(kacc + cntc), fin_t.eq(tacc + tw)]

        # ---- serializer: NP pieces per window --------------------------------------
        win_left = Signal(range(NP + 1))
        m.d.comb += ser_free.eq(win_left <= 1)
        load = Signal()
        m.d.comb += load.eq(pending & ser_free)
        w_lows = Signal(S * GL * LOW)
        w_cnt = Signal(S * cbits)
        w_p0 = Signal(96)
        w_n0 = Signal(range(13))
        w_p1 = Signal(8 * 33)
        w_n1 = Signal(range(34))
        w_last = Signal()
        q = fin_k[2:]                   # whole bytes of heads
        rn = Cat(C(0, 1), fin_k[:2])     # heads bits left over: 0, 2, 4, 6
        with m.If(load):
            m.d.sync += [
                w_lows.eq(cur_lows), w_cnt.eq(cur_cnt), w_last.eq(cur_last),
                w_p0.eq(Cat(cur_mask, cur_heads)),
                w_n0.eq(Mux(cur_has, 4 + q, 0)),
                w_p1.eq((cur_heads >> Cat(C(0, 3), q))[:6] | (cur_tails << rn)),
                w_n1.eq((rn + fin_t + 7) >> 3),
                win_left.eq(NP),
            ]
        with m.Elif(win_left.any()):
            m.d.sync += win_left.eq(win_left - 1)
            with m.If(win_left <= S):
                m.d.sync += [w_lows.eq(w_lows >> (GL * LOW)), w_cnt.eq(w_cnt >> cbits)]
        m.d.comb += self._overrun.eq(pending & ~ser_free & vc)

        push = Signal()
        pc_data = Signal(PI * 8)
        pc_n = Signal(range(PI + 1))
        pc_last = Signal()
        m.d.sync += [
            push.eq(win_left.any()),
            pc_data.eq(Mux(win_left == NP, w_p0, Mux(win_left == NP - 1, w_p1, w_lows[:GL * LOW]))),
            pc_n.eq(Mux(win_left == NP, w_n0,
                        Mux(win_left == NP - 1, w_n1, w_cnt[:cbits] * LOWB))),
            pc_last.eq(w_last & (win_left == 1)),
        ]
        m.d.comb += [
            packer.push.eq(push), packer.piece.data.eq(pc_data), packer.piece.n.eq(pc_n),
            packer.piece.last.eq(pc_last), self._overflow.eq(packer.overflow),
        ]
        wiring.connect(m, packer.o, wiring.flipped(o))
        return m


def _or_all(values, width):
    out = C(0, width)
    for v in values:
        out = out | v
    return out
