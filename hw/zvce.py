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

from amaranth.hdl import C, Cat, Module, Mux, Shape, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .bits import (compact_level, expand_pipelined, leading_ones, onehot_select, popcount, prefix_counts,
                   room_after, thermometer, wrap)
from .fifo import WideFIFO
from .packer import CreditedPacker, Unpacker, shift_units
from .skid import replicated
from .streams import DecoderParams, decoder_members, byte_stream, check_codec_params, element_stream

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
    ``code_table`` (the 16 bytes of ``CodeTable.pack()``, little-endian: byte 0 in
    bits 0-7) is sampled with a chunk's first input beat and used for the
    whole chunk.

    Throughput: one input beat per cycle while the output keeps up, for
    ``lanes`` <= 16; at 32 lanes a window (one beat) takes 2 cycles (see
    ``docs/ZVCE.md``).

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
    code_table : In(128)
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
            "code_table": In(8 * TABLE_BYTES),
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
        s = nb // (2 if nb >= 2 else 1)
        return max(nb, 3 + s if 3 + s <= nb else 2 + s if 2 + s <= nb else 1 + s)

    def __repr__(self):
        # (getattr: Amaranth's unused-elaboratable warning calls repr even on an
        # instance whose constructor refused its parameters)
        return (f"ZVCECompressor(elem_bits={getattr(self, '_elem_bits', None)}, "
                f"lanes={getattr(self, '_lanes', None)}, "
                f"out_bytes={getattr(self, '_out_bytes', None)})")

    def elaborate(self, platform):
        m = Module()
        E, L, OB = self._elem_bits, self._lanes, self._out_bytes
        LOW = E - 8                      # bits of an element below its top byte
        LOWB = LOW // 8
        nb = WINDOW // L                 # input beats per window
        G = 2 if nb >= 2 else 1          # input beats per super-beat
        GL = G * L                       # lanes of a super-beat
        S = nb // G                      # super-beats per window
        # Pieces per window: mask and heads, tails, S low slots; or, where that is
        # more pieces than the window has input beats (16 and 32 lanes), the first
        # two merged into one (a byte shifter over the tails piece).
        # Where the window has input beats to spare (4 lanes or fewer), the tails
        # piece leaves in two halves instead: a narrower piece FIFO and Packer.
        MERGE = 2 + S > nb
        SPLIT = 3 + S <= nb
        NP = 1 + S if MERGE else 3 + S if SPLIT else 2 + S
        P = self.window_cycles           # input cycles per window (pace)
        PI = max(45 if MERGE else 17 if SPLIT else 33, GL * LOWB)    # largest piece, bytes
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
        in_entries = _table_entries(m, self.code_table, "tbl_in")
        ent = [(Signal(name=f"ent_v{k}"), Signal(2, name=f"ent_h{k}"), Signal(3, name=f"ent_t{k}"),
                Signal(4, name=f"ent_w{k}")) for k in range(MAX_SYMBOLS)]
        m.d.comb += [i.ready.eq(packer.room & ~pace.any()), take.eq(i.valid & i.ready)]
        with m.If(take):
            m.d.sync += in_chunk.eq(~i.p.last)
            with m.If(~in_chunk):
                m.d.sync += table.eq(self.code_table)
                # (each entry's validity, head, tail and width are latched with
                # the table, from the port: no adder between the table register
                # and the match flags.  An entry whose symbol an earlier entry
                # already has is latched invalid: the first match wins (the
                # golden's code), and with at most one flag per lane set, S2
                # picks the entry by an AND-OR, not behind a priority chain --
                # the chain and the AND-OR in one cycle were the 16 B engine's
                # path at seed 2, S1's match -> S2's width, 17.7 ns)
                for k, ((valid, h, t, w, sym), (rv, rh, rt, rw)) in enumerate(zip(in_entries, ent)):
                    seen = Cat(*[v & (sm == sym) for v, _, _, _, sm in in_entries[:k]]).any() \
                        if k else C(0, 1)
                    m.d.sync += [rv.eq(valid & ~seen), rh.eq(h), rt.eq(t), rw.eq(w)]
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
        # The lane registers load whether or not a beat is taken (their enables
        # come from `bidx`, a register, not from the input handshake, whose
        # fan-out to every lane bit was the critical path): a half loads while
        # the next beat to take is its own, so it holds the beat taken last.  A
        # super-beat of one beat (a chunk's last beat at an even index) has its
        # upper half cleared in S1 (`single0`).
        if G == 1:
            m.d.sync += [v0.eq(take), last0.eq(i.p.last), has0.eq(beat_has),
                         sidx0.eq(bidx), lanes0.eq(beat)]
            single0 = C(0, 1)
        else:
            half = bidx[0]
            hold_has = Signal()
            single0 = Signal()
            m.d.sync += [v0.eq(take & (half | i.p.last)), last0.eq(i.p.last),
                         sidx0.eq(bidx >> 1), has0.eq(beat_has | (half & hold_has)),
                         single0.eq(~half)]
            with m.If(take):
                m.d.sync += hold_has.eq(beat_has)
            lo_c = replicated(m, "s0_lo", max(1, L * E // 64), reset=1)
            # (the next beat to take is a lower half: after an odd beat or a
            # chunk's last one, or while waiting for one)
            m.d.sync += [c.eq(Mux(take, half | i.p.last, ~half)) for c in lo_c]
            for k, c in enumerate(lo_c):
                a, b = k * L * E // len(lo_c), (k + 1) * L * E // len(lo_c)
                with m.If(c):
                    m.d.sync += lanes0[a:b].eq(beat[a:b])
                with m.Else():
                    m.d.sync += lanes0[L * E + a:L * E + b].eq(beat[a:b])

        # ---- S1: top byte against the table (one match flag per entry) -------------
        syms = [table[8 * (k + 1):8 * (k + 2)] for k in range(MAX_SYMBOLS)]
        # S2 reads the entries a cycle after S1: a copy a cycle behind, so a chunk's
        # last super-beat still sees its own table when the next chunk has begun
        ent2 = [tuple(Signal.like(x, name=f"{x.name}_s2") for x in e) for e in ent]
        for e, e2 in zip(ent, ent2):
            m.d.sync += [a.eq(b) for a, b in zip(e2, e)]
        v1, last1, has1 = Signal(), Signal(), Signal()
        sidx1 = Signal.like(sidx0)
        nz1 = Signal(GL)
        top1 = [Signal(8, name=f"s1_top{l}") for l in range(GL)]
        low1 = [Signal(LOW, name=f"s1_low{l}") for l in range(GL)]
        match1 = [Signal(MAX_SYMBOLS, name=f"s1_match{l}") for l in range(GL)]
        m.d.sync += [v1.eq(v0), last1.eq(last0), has1.eq(has0), sidx1.eq(sidx0)]
        for l in range(GL):
            lane = lanes0[l * E:(l + 1) * E]
            if l >= L:
                lane = Mux(single0, 0, lane)
            m.d.sync += [nz1[l].eq(lane.any()), top1[l].eq(lane[LOW:]), low1[l].eq(lane[:LOW]),
                         match1[l].eq(Cat(*[valid & (lane[LOW:] == sym)
                                            for (valid, _, _, _), sym in zip(ent, syms)]))]
        # the entries' head/tail/width do not change within a chunk: registered copies

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
            hit = mt.any()                # (one flag at most: see `ent`)
            hh = Signal(2, name=f"s2_hh{l}")
            ht = Signal(3, name=f"s2_ht{l}")
            hw = Signal(4, name=f"s2_hw{l}")
            m.d.comb += [
                hh.eq(onehot_select(mt, [e[1] for e in ent2])),
                ht.eq(onehot_select(mt, [e[2] for e in ent2])),
                hw.eq(onehot_select(mt, [e[3] for e in ent2])),
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
        # (log shifters whose levels are only as wide as what can reach them)
        h_shifted = Cat(*shift_units(m, [heads[2 * j:2 * j + 2] for j in range(GL)],
                                     kacc[:5], WINDOW, "col_h"))
        t_shifted = Cat(*shift_units(m, [tbits[j] for j in range(len(tbits))],
                                     tacc[:8], 8 * WINDOW, "col_t"))
        with m.If(vc):
            m.d.sync += [
                cur_heads.eq(Mux(fresh, 0, cur_heads) | h_shifted),
                cur_tails.eq(Mux(fresh, 0, cur_tails) | t_shifted),
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
        w_q = Signal(4)
        q = fin_k[2:]                   # whole bytes of heads
        rn = Cat(C(0, 1), fin_k[:2])     # heads bits left over: 0, 2, 4, 6
        with m.If(load):
            m.d.sync += [
                w_lows.eq(cur_lows), w_cnt.eq(cur_cnt), w_last.eq(cur_last),
                w_p0.eq(Cat(cur_mask, *[Mux(q > b, cur_heads[8 * b:8 * (b + 1)], 0)
                                        for b in range(8)])),
                w_q.eq(q),
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
        if MERGE:
            # the field's second part after the whole bytes of the first
            moved_p1 = Cat(*shift_units(m, [w_p1[8 * b:8 * (b + 1)] for b in range(33)], w_q,
                                        41, "ser_p1"))
            first = w_p0 | (moved_p1 << 32)
            m.d.sync += [
                pc_data.eq(Mux(win_left == NP, first, w_lows[:GL * LOW])),
                pc_n.eq(Mux(win_left == NP, w_n0 + w_n1, _times(w_cnt[:cbits], LOWB))),
            ]
        elif SPLIT:
            lo_n = Mux(w_n1 > 17, 17, w_n1)
            m.d.sync += [
                pc_data.eq(Mux(win_left == NP, w_p0,
                               Mux(win_left == NP - 1, w_p1[:17 * 8],
                                   Mux(win_left == NP - 2, w_p1[17 * 8:],
                                       w_lows[:GL * LOW])))),
                pc_n.eq(Mux(win_left == NP, w_n0,
                            Mux(win_left == NP - 1, lo_n,
                                Mux(win_left == NP - 2, w_n1 - lo_n,
                                    _times(w_cnt[:cbits], LOWB))))),
            ]
        else:
            m.d.sync += [
                pc_data.eq(Mux(win_left == NP, w_p0,
                               Mux(win_left == NP - 1, w_p1, w_lows[:GL * LOW]))),
                pc_n.eq(Mux(win_left == NP, w_n0,
                            Mux(win_left == NP - 1, w_n1, _times(w_cnt[:cbits], LOWB)))),
            ]
        m.d.sync += [push.eq(win_left.any()), pc_last.eq(w_last & (win_left == 1))]
        m.d.comb += [
            packer.push.eq(push), packer.piece.data.eq(pc_data), packer.piece.n.eq(pc_n),
            packer.piece.last.eq(pc_last), self._overflow.eq(packer.overflow),
        ]
        wiring.connect(m, packer.o, wiring.flipped(o))
        return m


class ZVCEDecompressor(DecoderParams, wiring.Component):
    """ZVCE decompressor: one chunk's ZVCE bytes, its element count and its code
    table in, elements out.

    For every chunk the decompressor takes one element count from ``count``
    (when it starts the chunk; the count may come before or after the chunk's
    bytes) and samples ``code_table`` in the same cycle, then reads the chunk's bytes
    from ``i`` up to the beat with ``last`` and emits ``count`` elements on
    ``o`` (``lanes`` per beat, the final beat keeps a prefix and carries
    ``last``).  A count of 0 expects an empty chunk (one null beat) and emits a
    null beat.

    Malformed input raises ``error`` for one cycle, sets ``error_code`` to the
    golden decoder's code (kept until the next chunk starts), closes the output
    packet with a null beat whose ``user`` bit is set and drops the rest of the
    chunk's input up to its ``last`` beat: ``LENGTH_MISMATCH`` (the chunk ends
    inside a mask, the heads, the code field or the low bytes of a window, or
    bytes follow its last window), ``BAD_MASK`` (the last window's mask marks
    elements past the count), ``BAD_PADDING`` (a code field's padding bits are
    not zero) and ``BAD_PARAMS`` (the table is malformed: what
    ``CodeTable.unpack`` refuses).  Checks run in the golden decoder's order.
    No more than ``count`` elements are ever emitted for a chunk.

    Throughput: a window takes ``max(32 / lanes, 4)`` cycles when the input
    keeps up (a framer reads the next window's header while the current one's
    steps run; see ``docs/ZVCE.md``).

    Parameters
    ----------
    elem_bits : int
        Element width: 16 or 32.
    lanes : int
        Elements per output beat: a power of two from 1 to 32.
    in_bytes : int
        Bytes per input beat, 1 to 256.
    count_bits : int
        Width of the element count (default 32).

    Members
    -------
    i : In(stream.Signature(byte_beat_layout(in_bytes)))
        ZVCE bytes of one chunk per packet.
    count : In(stream.Signature(count_bits))
        One element count per chunk.
    code_table : In(128)
        The packed code table, sampled with the count.
    o : Out(stream.Signature(element_beat_layout(elem_bits, lanes, user_bits=1)))
        Decoded elements; ``user`` is set on the null beat that closes a
        malformed chunk.
    error : Out(1)
        One-cycle pulse when malformed input is detected.
    error_code : Out(4)
        :class:`ZVCEError` of the current (or last finished) chunk.

    Raises
    ------
    TypeError
        A parameter is not an integer.
    ValueError
        A parameter is out of range (8-bit elements included: use ZVC).
    """

    def __init__(self, elem_bits: int, lanes: int, in_bytes: int, count_bits: int = 32):
        self._elem_bits, self._lanes, self._in_bytes = _check_params(
            elem_bits, lanes, "in_bytes", in_bytes, count_bits)
        self._count_bits = count_bits
        super().__init__(decoder_members(elem_bits, lanes, in_bytes, count_bits,
                                         code_table=In(8 * TABLE_BYTES)))

    def __repr__(self):
        # (getattr: Amaranth's unused-elaboratable warning calls repr even on an
        # instance whose constructor refused its parameters)
        return (f"ZVCEDecompressor(elem_bits={getattr(self, '_elem_bits', None)}, "
                f"lanes={getattr(self, '_lanes', None)}, "
                f"in_bytes={getattr(self, '_in_bytes', None)})")

    def elaborate(self, platform):
        m = Module()
        E, L, IB = self._elem_bits, self._lanes, self._in_bytes
        LOW = E - 8
        LOWB = LOW // 8
        nb = WINDOW // L
        HB = 4 + 40                      # mask and the largest code field, in bytes
        VW = L * LOWB                    # the unpacker's window: a step's low bytes
        FB = 8 * 40                      # code field bits
        # The framer reads the next window's header up to AH bytes past the
        # window's start: the low bytes of the current window's last four steps
        # (of all of it below 8 lanes), where it must start to be done in time.
        # At 4 lanes or fewer (8 steps or more per window) the framer has a cycle
        # to spare: a register stage R between its slot and offset selections.
        FR = 1 if nb >= 8 else 0
        AH = min(WINDOW, (4 + FR) * L) * LOWB
        i, o = self.i, self.o

        # (copies of the unpacker's head and offset, one per 32 bits of its
        # window: one head reaching the whole window multiplexer closed at 52.5 MHz
        # at 32 x 4, the path to X1's low slots)
        UC = max(1, min(8 * IB, 8 * VW) // 32)
        # (`registered`: the window's selection in two cycles; a step's low bytes
        # reach X2 straight from it, a cycle after the step, beside the rest of
        # the step that went through X1 -- the head -> window -> X1 path was the
        # 32 x 4 block's, 18.7 ns)
        m.submodules.unp = unp = Unpacker(8, IB, VW, lookahead=AH + HB - VW, copies=UC,
                                          registered=True)
        NW = unp.ring_units // IB
        m.d.comb += [
            unp.i.valid.eq(i.valid), i.ready.eq(unp.i.ready),
            # (`keep` is a prefix: its length from gates, as in the ZVC decoder)
            unp.i.p.data.eq(i.p.data), unp.i.p.n.eq(leading_ones([i.p.keep[k] for k in range(IB)])),
            unp.i.p.last.eq(i.p.last),
        ]
        avail, ended, view = unp.level, unp.ended, unp.data

        # ---- output FIFO and its credit (as the ZVC decompressor) ---------------------
        DEPTH = 16
        m.submodules.out = out = WideFIFO(L * E + L + 2, DEPTH, copies=max(1, L * E // 64))
        issued = Signal(range(DEPTH + 1))
        room = Signal(init=1)
        emit = Signal()
        o_take = Signal()
        issued_next = Signal(range(DEPTH + 2))
        m.d.comb += [
            issued_next.eq(issued + emit - o_take),
            o.valid.eq(out.r_valid), out.r_en.eq(o.ready), o_take.eq(o.valid & o.ready),
            o.p.data.eq(out.r_data[:L * E]), o.p.keep.eq(out.r_data[L * E:L * E + L]),
            o.p.last.eq(out.r_data[L * E + L]), o.p.user.eq(out.r_data[L * E + L + 1]),
        ]
        # (`room` from compares of `issued` picked by the emit and the take:
        # through the count's adder the step decision reached `room`, the 32 x 4
        # block's path once the B2 tree took two stages, 18.8 ns)
        m.d.sync += [issued.eq(issued_next), room.eq(room_after(m, issued, DEPTH, emit, o_take))]

        # ---- chunk state ------------------------------------------------------------------
        active, failed, zero, lows = Signal(), Signal(), Signal(), Signal()
        rem = Signal(self._count_bits)   # elements still to emit
        fin = Signal()                   # rem <= lanes (the chunk's last step)
        # rem <= 2 lanes: `fin` after a step, a register loaded with `rem` (formed
        # from `rem - lanes` after the step decision it was the 16 x 4 block's
        # path, `need` -> the decision -> two 32-bit carry chains -> `fin`, as it
        # was the ZVC decompressor's)
        fin_step = Signal()
        s = Signal(range(max(nb, 2)))    # step of the window
        code = Signal(4)
        tbl = Signal(8 * TABLE_BYTES)    # the chunk's table
        tbad = Signal()
        m.d.comb += [self.count.ready.eq(~active), self.error_code.eq(code)]
        start = Signal()
        m.d.comb += start.eq(self.count.valid & self.count.ready)
        # The table's verdict is formed from `tbl`, the chunk's own copy, into a
        # register, so it counts from the second cycle after the start; the
        # chunk's decisions wait out the first (`fresh`), in which a header
        # step cannot happen anyway (B2's flags follow the framer's move at the
        # start).  (Formed from the port at the start it was the ZVCE engine's
        # path at seed 3, the parser's code table -> `tbad`, 14.7 ns, 13 levels.)
        fresh = Signal()
        m.d.sync += [fresh.eq(start), tbad.eq(table_malformed(tbl))]
        # code bits (2 + tail width) of heads 0-2, registers loaded with the table
        hbits = [Signal(4, name=f"hbits{k}") for k in range(3)]

        # ---- the framer: the header of the window after the current one (or of
        #      the current one, before its header step), read from the unpacker's
        #      ring at its own position (`fslot`, `foff_c`; fixed until that header
        #      step), `fa` bytes past the unpacker's window start.  A (registers of
        #      the bytes), B1 (popcount, widths), B2 (field length, BAD_MASK) run
        #      every cycle; their results are for the framer's position as long as
        #      it has not moved (`moved`: a header step, a new chunk, its end) ----------
        moved = Signal()                 # the framer's position or the chunk changes now
        mv1 = Signal(init=1)             # ... it did in the cycle before
        m.d.sync += mv1.eq(moved)
        fslot = Signal(range(NW))
        fa = Signal(range(unp.ring_units + 1))
        frem = Signal(self._count_bits)  # elements of the chunk from the framer's window on
        FK = -(-(IB - 1 + HB) // IB)     # ring slots the framer's 44 bytes can touch
        # (copies of the position, each selecting 32 bits of the ring's beats or
        # 2 bytes of the 44: one register reaching them all closed at 49 MHz)
        CS, CO = -(-FK * 8 * IB // 32), HB // 2
        fslot_c = replicated(m, "fslot", CS, width=len(fslot))
        foff_c = replicated(m, "foff", CO, width=Shape.cast(range(IB)).width)
        fbeats = []
        for k in range(FK):
            parts = []
            for lo in range(0, 8 * IB, 32):
                hi = min(lo + 32, 8 * IB)
                fb = Signal(hi - lo, name=f"f_beat{k}_{lo}")
                with m.Switch(fslot_c[(k * 8 * IB + lo) // 32]):
                    for h in range(NW):
                        with (m.Case(h) if h < NW - 1 else m.Default()):
                            base = 8 * IB * ((h + k) % NW)
                            m.d.comb += fb.eq(unp.beats[base + lo:base + hi])
                parts.append(fb)
            fbeats.append(Cat(*parts))
        fcat = Cat(*fbeats)
        f_lvl = Mux(avail >= fa, avail - fa, 0)   # bytes there from the framer's position
        if FR:
            r_ok = Signal()
            m.d.comb += r_ok.eq(~mv1)
            r_beats = Signal(len(fcat))
            r_lvl = Signal.like(avail)
            m.d.sync += [r_beats.eq(fcat), r_lvl.eq(f_lvl)]
            fcat, f_lvl = r_beats, r_lvl
        fview = Signal(8 * HB)
        for u in range(0, HB, 2):
            with m.Switch(foff_c[u // 2]):
                for o_ in range(IB):
                    with (m.Case(o_) if o_ < IB - 1 else m.Default()):
                        m.d.comb += fview[8 * u:8 * (u + 2)].eq(fcat[8 * (o_ + u):8 * (o_ + u + 2)])
        # Each stage's "stands for the framer's position" flag: its register
        # (`*_okr`) says that the stage before stood, and a move in the cycle
        # before (`mv1`, a register of `moved`) clears it where it is used.
        # (With the move in the registers' inputs, the step decision -> `moved`
        # -> `b2_go` was the ZVCE engine's path at seed 1 of 0bd3fee, 15.7 ns.)
        a_ok, b1_ok, b2_ok = Signal(), Signal(), Signal()
        a_okr, b1_okr, b2_okr = Signal(), Signal(), Signal()
        m.d.comb += [a_ok.eq(a_okr & ~mv1), b1_ok.eq(b1_okr & ~mv1), b2_ok.eq(b2_okr & ~mv1)]
        a_mask, a_field = Signal(WINDOW), Signal(FB)
        a_lvl = Signal.like(avail)
        m.d.sync += [a_okr.eq(r_ok if FR else 1), a_mask.eq(fview[:32]),
                     a_field.eq(fview[32:32 + FB]), a_lvl.eq(f_lvl)]
        # B1: the popcount of the mask, and per byte of heads (4 heads) the code
        # bits (head + tail) of its first 1, 2, 3 and 4 heads; B2: the field's bits
        # = the sum over the k heads, from the whole bytes below k // 4 and a
        # partial byte (a short adder tree, no wide thermometer-and-sum).
        b1_k = Signal(range(WINDOW + 1))
        b1_mask, b1_field = Signal(WINDOW), Signal(FB)
        # (B2's verdicts on the bytes there, `b2_m4` (the mask) and `b2_go` (mask
        # and field, no BAD_MASK), are registers: the header step is an AND of
        # flags.  "Field there" = bits + 39 < 8 x (level + 1), the sign of one more adder-tree
        # sum with -8 x (level + 1) a term (a register of B1), not a compare of
        # the field's length after the tree: the compare between `b2_nb` and the
        # level was the start of the ZVCE engine's path, 20.8 ns)
        lvl_w = max((10 * WINDOW + 40).bit_length(), (8 * (unp.ring_units + 1)).bit_length()) + 1
        b1_neg = Signal(lvl_w)           # 39 - 8 x (level + 1), modulo 2 ** lvl_w
        b1_m4, b2_m4 = Signal(), Signal()
        # (the framer's next offset from its slot, `foff` + the low bytes of the
        # window, x 8: terms of B2's adder tree too, see `b2_fnext`: 8 x the low
        # bytes a register of B1, 8 x `foff` + 39 one kept beside `foff`)
        FMAX = IB - 1 + HB + WINDOW * LOWB      # the largest foff + step of the framer
        b1_kf = Signal(range(8 * WINDOW * LOWB + 1))
        foff39 = Signal(range(8 * IB + 40), init=39)
        a_k = Signal(range(WINDOW + 1))
        m.d.comb += a_k.eq(popcount(list(a_mask)))
        m.d.sync += [b1_okr.eq(a_ok), b1_k.eq(a_k), b1_kf.eq(_times(a_k, 8 * LOWB)),
                     b1_neg.eq(39 - ((a_lvl + 1) << 3)), b1_m4.eq(a_lvl >= 4),
                     b1_mask.eq(a_mask), b1_field.eq(a_field)]
        NG = WINDOW // 4
        b1_part = [[Signal(range(4 * 10 + 1), name=f"b1_p{g}_{q}") for q in range(4)]
                   for g in range(NG)]
        for g in range(NG):
            # (head + tail bits of each head, summed as a tree: first 1, 2, 3, 4)
            a = []
            for q in range(4):
                h = a_field[8 * g + 2 * q:8 * g + 2 * q + 2]
                a.append(Mux(h[1], Mux(h[0], 10, hbits[2]), Mux(h[0], hbits[1], hbits[0])))
            a01, a23 = a[0] + a[1], a[2] + a[3]
            sums = [a[0], a01, a01 + a[2], a01 + a23]
            m.d.sync += [b1_part[g][q].eq(sums[q]) for q in range(4)]
        kq, kr = b1_k[2:], b1_k[:2]
        whole = [Mux(kq > g, b1_part[g][3], 0) for g in range(NG)]
        partial = Signal(range(4 * 10 + 1))
        # (the last value as the default: lint wants every value covered)
        sels = []
        for r in range(1, 4):
            sel = Signal(range(4 * 10 + 1), name=f"b1_sel{r}")
            with m.Switch(kq):
                for g in range(NG):
                    with (m.Case(g) if g < NG - 1 else m.Default()):
                        m.d.comb += sel.eq(b1_part[g][r - 1])
            sels.append(sel)
        with m.Switch(kr):
            for r in range(4):
                with (m.Case(r) if r < 3 else m.Default()):
                    m.d.comb += partial.eq(sels[r - 1] if r else 0)
        terms = whole + [partial]
        if FR:
            # At 4 lanes or fewer (a window's 8 steps or more leave the framer
            # cycles to spare, as for R) the adder tree takes two stages: B1S
            # registers two halves of it beside what B1 carries to B2.  (In one
            # stage, `b1_k` -> the tree -> `b2_go` was the 32 x 4 block's path
            # after the other cuts of 2026-12-06, 15.1-16.4 ns, 15-18 levels.)
            s_ok, s_okr, s_m4 = Signal(name="b1s_ok"), Signal(name="b1s_okr"), Signal(name="b1s_m4")
            m.d.comb += s_ok.eq(s_okr & ~mv1)
            s_k = Signal.like(b1_k, name="b1s_k")
            s_mask, s_field = Signal(WINDOW, name="b1s_mask"), Signal(FB, name="b1s_field")
            s_neg, s_kf = Signal.like(b1_neg, name="b1s_neg"), Signal.like(b1_kf, name="b1s_kf")
            s_sum = [Signal(range(10 * WINDOW + 1), name=f"b1s_sum{h}") for h in range(2)]
            m.d.sync += [s_okr.eq(b1_ok), s_m4.eq(b1_m4), s_k.eq(b1_k), s_mask.eq(b1_mask),
                         s_field.eq(b1_field), s_neg.eq(b1_neg), s_kf.eq(b1_kf),
                         s_sum[0].eq(popcount_sum(terms[:NG // 2])),
                         s_sum[1].eq(popcount_sum(terms[NG // 2:]))]
            b1_ok, b1_m4, b1_k, b1_mask, b1_field, b1_neg, b1_kf = (
                s_ok, s_m4, s_k, s_mask, s_field, s_neg, s_kf)
            terms = s_sum
        # (the field's bits + 39 and + 39 + 8 x the current window's last step's
        # low bytes: the constant and that register a term of the adder tree, not
        # an adder after it; so are the terms of `fullsum` and `fnext39` below.
        # Tried: prefix sums of the bytes' code bits registered in B1, so that B2
        # picks one and adds two terms: B1's scan was then the path, 19.0 ns at
        # 32 x 4 against 15.1 for this tree)
        nbits39 = Signal(range(10 * WINDOW + 40))
        mbits = Signal(range(10 * WINDOW + 40 + 8 * L * LOWB))
        lastneed39 = Signal(range(8 * L * LOWB + 40))   # 39 + 8 x the last step's low bytes
        m.d.comb += [nbits39.eq(popcount_sum(terms + [C(39, 6)])),
                     mbits.eq(popcount_sum(terms + [lastneed39]))]
        b2_k = Signal(range(WINDOW + 1))
        b2_nb = Signal(range(HB + 1))    # mask and code field, in bytes
        b2_mt = Signal(range(HB + L * LOWB + 1))  # and the current window's last step's
        b2_r = Signal(3)                 # bits of the field's last byte used (0: all)
        b2_bad = Signal()                # BAD_MASK (the chunk's last window)
        b2_go = Signal()                 # b2_ok, no BAD_MASK, mask and field there: a header step may go
        b2_gor = Signal()
        m.d.comb += b2_go.eq(b2_gor & ~mv1)
        fullsum = Signal(lvl_w)
        m.d.comb += fullsum.eq(popcount_sum(terms + [b1_neg]))
        # The framer's next position, in bytes from its slot: `foff` + 4 + F + the
        # window's low bytes, formed in B2 (the framer's position does not move
        # while B1 and B2 stand for it), so that a header step only picks it:
        # formed after the step from `b2_nb`, slot and offset split and the slot
        # wrapped around the ring, it was the 32 x 4 block's path, 16.0 ns)
        b2_fnext = Signal(range(FMAX + 1))
        fnext39 = Signal(range(8 * FMAX + 40))
        m.d.comb += fnext39.eq(popcount_sum(terms + [b1_kf, foff39]))
        b2_mask, b2_field = Signal(WINDOW), Signal(FB)
        short = ~frem[5:].any()          # fewer than 32 elements left
        bad_now = Signal()
        m.d.comb += bad_now.eq(short & (b1_mask & ~thermometer(frem[:5], WINDOW)).any())
        m.d.sync += [
            b2_okr.eq(b1_ok), b2_k.eq(b1_k), b2_mask.eq(b1_mask), b2_field.eq(b1_field),
            b2_m4.eq(b1_m4),
            b2_nb.eq(nbits39 >> 3), b2_fnext.eq(fnext39 >> 3),
            b2_r.eq(nbits39[:3] + 1), b2_mt.eq(mbits >> 3),
            b2_bad.eq(bad_now), b2_gor.eq(b1_ok & ~bad_now & fullsum[-1]),
        ]

        # ---- the window's field, captured at the header step (two registers in
        #      turn: X2 reads the previous window's while the header step of the
        #      next one merges with its last step) ----------------------------------
        wf = [Signal(FB, name=f"w_field{k}") for k in range(2)]
        wsel = Signal()                  # the current window's field register
        w_field = Signal(FB)
        m.d.comb += w_field.eq(Mux(wsel, wf[1], wf[0]))
        w_k = Signal(range(WINDOW + 1))
        mask = Signal(WINDOW)            # shifted down `lanes` bits per step
        need = Signal(range(L * LOWB + 1))
        pchk = Signal()                  # the field's padding is being checked
        pbad = Signal()
        tops_tbl = Signal(8 * TABLE_BYTES)    # the table of the steps in flight

        # ---- the step decision (from registers, `avail`/`ended` of the unpacker) ----------
        # A failure is seen (`fail_now`) and acts a cycle later (`fail`, a
        # register): its conditions exclude every other outcome and hold while
        # nothing moves, so its compares of `avail` reach a flip-flop, not the
        # unpacker's drop and the framer.
        step, head, finish, fail, fail_now = Signal(), Signal(), Signal(), Signal(), Signal()
        fail_code, fail_code_now = Signal(4), Signal(4)
        m.d.sync += [fail.eq(fail_now & ~fail), fail_code.eq(fail_code_now)]
        LM = ZVCEError.LENGTH_MISMATCH
        # the next window's header step merges with this window's last step
        merge = Signal()
        # (one LUT on registers: `merge` picks the take, ahead of the unpacker's
        # level arithmetic; formed from `s` and the B2 flags it was 5 LUTs deep,
        # the 16 x 4 block's path, 16.3 ns)
        s_last = Signal(init=nb == 1)    # s == nb - 1
        m.d.comb += merge.eq(s_last & ~fin & ~pchk & b2_go)

        def failing(c):
            return [fail_now.eq(1), fail_code_now.eq(c)]
        with m.If(active & ~failed & ~fresh):
            with m.If(tbad):
                m.d.comb += failing(ZVCEError.BAD_PARAMS)
            with m.Elif(zero):
                with m.If(avail != 0):
                    m.d.comb += failing(LM)
                with m.Elif(ended & room):
                    m.d.comb += finish.eq(1)
            with m.Elif(~lows):
                # a window's header: mask, BAD_MASK, heads and field (an
                # incomplete mask, heads or field are all LENGTH_MISMATCH). The
                # header registers are used only for bytes that were there when
                # A took them (`b2_m4`, `b2_go`); those are never more than
                # `avail` (no take meanwhile), so `b2_m4` implies `avail` >= 4.
                with m.If(b2_ok & b2_m4):
                    with m.If(b2_bad):
                        m.d.comb += failing(ZVCEError.BAD_MASK)
                    with m.Elif(b2_go):
                        m.d.comb += head.eq(1)
                    with m.Elif(ended & (avail < b2_nb)):
                        m.d.comb += failing(LM)
                with m.Elif(ended & (avail < 4)):
                    m.d.comb += failing(LM)
            with m.Elif(pbad & ~pchk):
                m.d.comb += failing(ZVCEError.BAD_PADDING)
            with m.Elif(fin):
                # (the chunk's last step waits for the padding verdict: it ends the chunk)
                with m.If(pchk):
                    pass
                with m.Elif(avail > need):
                    m.d.comb += failing(LM)
                with m.Elif(ended & (avail < need)):
                    m.d.comb += failing(LM)
                with m.Elif(ended & room):
                    m.d.comb += [step.eq(1), finish.eq(1)]
            with m.Else():
                # (steps go on while the padding is checked; failures wait for it)
                with m.If(avail >= need):
                    with m.If(room):
                        m.d.comb += step.eq(1)
                        # the window's last step: the next window's header step
                        # merges with it when the framer has it complete (it is
                        # then `need` bytes on, `fa`) and the padding verdict
                        # of this window is in
                        m.d.comb += head.eq(merge)
                with m.Elif(ended & ~pchk):
                    m.d.comb += failing(LM)
        terminate = Signal()
        m.d.comb += [
            terminate.eq(active & failed & room),
            emit.eq(step | (finish & zero) | terminate),
            # (a header step merged with a last step takes both: `b2_mt`, a
            # register; the take is picked by registers, not by the decision)
            unp.take.eq(Mux(lows, Mux(merge, b2_mt, need), b2_nb)),
            unp.take_en.eq(Mux(step | head, (1 << UC) - 1, 0)),
            unp.drop.eq(Mux(finish | fail, (1 << UC) - 1, 0)),
            moved.eq(head | finish | fail | start),
        ]

        # state updates
        pc_next = Signal(range(L + 1))   # nonzeros of the window's next beat
        m.d.comb += pc_next.eq(popcount([mask[L + k] for k in range(L)]) if nb > 1 else 0)
        # the framer: to the chunk's first byte (the unpacker's window starts a
        # ring slot after a drop), then past each window at its header step
        fq = Signal(range(FMAX // IB + 1))      # ring slots the framer moves on
        frest = Signal(range(IB))               # and its offset in the slot then
        if IB & (IB - 1) == 0:
            m.d.comb += [fq.eq(b2_fnext >> (IB.bit_length() - 1)), frest.eq(b2_fnext)]
        else:
            m.d.comb += frest.eq(b2_fnext)
            for q in range(1, FMAX // IB + 1):
                with m.If(b2_fnext >= q * IB):
                    m.d.comb += [fq.eq(q), frest.eq(b2_fnext - q * IB)]
        # (the slot for each number of slots moved, from `fslot` alone; `fq` picks)
        fmod = Signal(range(NW))
        with m.Switch(fq):
            for q in range(FMAX // IB + 1):
                with (m.Case(q) if q < FMAX // IB else m.Default()):
                    m.d.comb += fmod.eq(wrap(fslot + q, NW, (NW - 1 + q) // NW + 1))
        with m.If(start):
            m.d.sync += [fslot.eq(unp.head), foff39.eq(39), fa.eq(0), frem.eq(self.count.p),
                         *[c.eq(unp.head) for c in fslot_c], *[c.eq(0) for c in foff_c]]
        with m.Elif(head):
            m.d.sync += [fslot.eq(fmod), foff39.eq((frest << 3) + 39),
                         fa.eq(_times(b2_k, LOWB)),
                         frem.eq(frem - WINDOW),
                         *[c.eq(fmod) for c in fslot_c], *[c.eq(frest) for c in foff_c]]
        with m.Elif(step):
            m.d.sync += fa.eq(fa - need)
        with m.If(start):
            m.d.sync += [active.eq(1), failed.eq(0), lows.eq(0), zero.eq(self.count.p == 0),
                         rem.eq(self.count.p), fin.eq(self.count.p <= L),
                         fin_step.eq(self.count.p <= 2 * L), code.eq(ZVCEError.OK),
                         tbl.eq(self.code_table),
                         *[hbits[k].eq(self.code_table[2 * k:2 * k + 2] + 2) for k in range(3)],
                         pchk.eq(0), pbad.eq(0)]
        # The padding bits: the field's last byte above its r used bits.  Byte
        # b = `nb` - 5 of the field is picked in two steps: B2's registers give
        # the 8 bytes its `nb // 8` can reach (bytes 8 (nb // 8) - 5 on) and the
        # padding mask, registered every cycle, so in the cycle after a header
        # step (`pchk`) they are that header's; then `nb % 8` picks the byte and
        # the verdict is an AND-OR.  (The byte picked from the captured field by
        # its length and shifted by `r` in that cycle was the 32 x 4 block's
        # path, 17.2 ns, 12 levels; picked in one step from B2, 17.3 ns, a 40-way
        # multiplexer's select net.)
        p_grp, p_sel, p_pad = Signal(64), Signal(3), Signal(8)
        b2_grp = Signal(64)
        fbytes = [b2_field[8 * b:8 * (b + 1)] if 0 <= b < FB // 8 else C(0, 8)
                  for b in range(-5, FB // 8 + 8)]
        with m.Switch(b2_nb[3:]):
            for g in range((HB >> 3) + 1):
                with (m.Case(g) if g < HB >> 3 else m.Default()):
                    m.d.comb += b2_grp.eq(Cat(*fbytes[8 * g:8 * g + 8]))
        m.d.sync += [p_grp.eq(b2_grp), p_sel.eq(b2_nb[:3]),
                     p_pad.eq(Mux(b2_r != 0, (C(0xFF, 8) << b2_r)[:8], 0))]
        p_last = Signal(8)
        with m.Switch(p_sel):
            for k in range(8):
                with m.Case(k):
                    m.d.comb += p_last.eq(p_grp[8 * k:8 * (k + 1)])
        with m.If(pchk):
            m.d.sync += [pchk.eq(0), pbad.eq((p_last & p_pad).any())]
        with m.If(step):
            rem_next = Signal.like(rem)
            m.d.comb += rem_next.eq(rem - L)
            # (rem_next <= 2 L, with rem_next = rem - L wrapping as the subtraction)
            m.d.sync += [rem.eq(rem_next), fin.eq(fin_step),
                         fin_step.eq((rem >= L) & (rem <= 3 * L)), s.eq(s + 1),
                         s_last.eq((s == nb - 2) if nb >= 2 else 1),
                         mask.eq(mask >> L), need.eq(_times(pc_next, LOWB))]
            with m.If(s == nb - 1):
                m.d.sync += lows.eq(0)
        with m.If(head):
            # (after the step's updates: a header step merged with a window's
            # last step starts the next window)
            m.d.sync += [lows.eq(1), s.eq(0), s_last.eq(nb == 1), mask.eq(b2_mask), wsel.eq(~wsel),
                         w_k.eq(b2_k), pchk.eq(1), pbad.eq(0),
                         lastneed39.eq(39 + (_times(popcount([b2_mask[WINDOW - L + k]
                                                              for k in range(L)]), LOWB) << 3)),
                         need.eq(_times(popcount([b2_mask[k] for k in range(L)]), LOWB)),
                         tops_tbl.eq(tbl)]
        # The field register that is not the current window's follows B2's field
        # every cycle; a header step makes it current (`wsel`), which stops it.
        # (Loaded by the header step, the decision reached 2 x 320 enables: the
        # path of the ZVCE engine's seed 3 at 5f2d6de, `need` -> `w_field0`,
        # 17.2 ns.)  The other one, the window before's, is read by X2 a cycle
        # after that window's last step, before it starts following B2.
        with m.If(wsel):
            m.d.sync += wf[0].eq(b2_field)
        with m.Else():
            m.d.sync += wf[1].eq(b2_field)
        with m.If(finish | terminate):
            m.d.sync += active.eq(0)
        with m.If(fail):
            m.d.sync += [failed.eq(1), code.eq(fail_code)]
        m.d.sync += self.error.eq(fail)

        # ---- the step's beat: X1 (lows, heads of the step), X2 (widths, tails),
        #      X3 (top bytes), then the expansion network ------------------------------
        j0 = Signal(range(WINDOW + 1))   # nonzeros of the window before this step
        with m.If(head):
            m.d.sync += j0.eq(0)
        with m.Elif(step):
            m.d.sync += j0.eq(j0 + popcount([mask[k] for k in range(L)]))
        x1_v, x1_first, x1_last, x1_user = Signal(), Signal(), Signal(), Signal()
        x1_sel = Signal()
        x1_mask, x1_keep = Signal(L), Signal(L)
        x1_heads = Signal(2 * L)
        x1_k = Signal(range(WINDOW + 1))
        m.d.sync += [
            x1_v.eq(emit), x1_first.eq(s == 0), x1_sel.eq(wsel), x1_last.eq(finish | terminate),
            x1_user.eq(terminate), x1_mask.eq(Mux(step, mask[:L], 0)),
            x1_keep.eq(Mux(step, thermometer(rem, L), 0)), x1_k.eq(w_k),
            x1_heads.eq(w_field[:2 * WINDOW] >> Cat(C(0, 1), j0)),
        ]
        x1_cnt = popcount(list(x1_mask))
        x1_h = [x1_heads[2 * l:2 * l + 2] for l in range(L)]
        tt = tops_tbl
        thw = [tt[0:2], tt[2:4], tt[4:6], C(8, 4)]
        x1_w = [Signal(4, name=f"x1_w{l}") for l in range(L)]
        for l in range(L):
            h = x1_h[l]
            m.d.comb += x1_w[l].eq(Mux(l < x1_cnt, Mux(h[1], Mux(h[0], 8, thw[2]),
                                                        Mux(h[0], thw[1], thw[0])), 0))
        tcur = Signal(range(10 * WINDOW + 1))    # bit of the field where this step's tails start
        cur = Signal(range(10 * WINDOW + 1))
        m.d.comb += cur.eq(Mux(x1_first, Cat(C(0, 1), x1_k), tcur))
        with m.If(x1_v):
            m.d.sync += tcur.eq(cur + popcount_sum(x1_w))
        x2_v, x2_last, x2_user = Signal(), Signal(), Signal()
        x2_mask, x2_keep = Signal(L), Signal(L)
        # (the field from the step's first tail bit, moved by whole 32-bit words:
        # its bit offset in the first word is each lane's tail offset's start,
        # X3's shift goes on from there.  The whole shift by the bit position, a
        # 320-bit shifter, was the 16 x 4 block's path, 17.4 ns)
        x2_twin = Signal(8 * L + 31)
        x2_h = [Signal(2, name=f"x2_h{l}") for l in range(L)]
        x2_w = [Signal(4, name=f"x2_w{l}") for l in range(L)]
        x2_off = [Signal(range(8 * L + 32), name=f"x2_off{l}") for l in range(L)]
        x2_lows = [Signal(LOW, name=f"x2_low{l}") for l in range(L)]
        m.d.sync += [x2_v.eq(x1_v), x2_last.eq(x1_last), x2_user.eq(x1_user), x2_mask.eq(x1_mask),
                     x2_keep.eq(x1_keep), x2_twin.eq(Mux(x1_sel, wf[1], wf[0]) >> Cat(C(0, 5), cur[5:])),
                     *[a.eq(b) for a, b in zip(x2_h, x1_h)], *[a.eq(b) for a, b in zip(x2_w, x1_w)],
                     *[x2_lows[l].eq(view[l * LOW:(l + 1) * LOW]) for l in range(L)]]
        acc = cur[:5]
        for l in range(L):
            m.d.sync += x2_off[l].eq(acc)
            acc = acc + x1_w[l]
        # X3: each lane's tail (a register stage of its own: the tail's shift out
        # of the field and the symbol's table lookup in one stage were the 32 x 4
        # block's path, 16.7 ns, 12 levels), X4: its top byte (a literal, or the
        # table's symbol)
        base = [C(0, 4), C(1, 4) << thw[0], (C(1, 4) << thw[0]) + (C(1, 4) << thw[1])]
        syms = [tt[8 * (k + 1):8 * (k + 2)] for k in range(MAX_SYMBOLS)] + [C(0, 8)]
        x3_v, x3_last, x3_user = Signal(), Signal(), Signal()
        x3_mask, x3_keep = Signal(L), Signal(L)
        x3_tails = [Signal(8, name=f"x3_tail{l}") for l in range(L)]
        x3_h = [Signal(2, name=f"x3_h{l}") for l in range(L)]
        x3_lows = [Signal(LOW, name=f"x3_low{l}") for l in range(L)]
        m.d.sync += [x3_v.eq(x2_v), x3_last.eq(x2_last), x3_user.eq(x2_user),
                     x3_mask.eq(x2_mask), x3_keep.eq(x2_keep),
                     *[a.eq(b) for a, b in zip(x3_h, x2_h)],
                     *[a.eq(b) for a, b in zip(x3_lows, x2_lows)]]
        for l in range(L):
            raw = Signal(8, name=f"x2_raw{l}")
            m.d.comb += raw.eq(x2_twin >> x2_off[l])
            m.d.sync += x3_tails[l].eq(raw & ~(C(0xFF, 8) << x2_w[l])[:8])
        x4_v, x4_last, x4_user = Signal(), Signal(), Signal()
        x4_mask, x4_keep = Signal(L), Signal(L)
        x4_items = [Signal(E, name=f"x4_item{l}") for l in range(L)]
        m.d.sync += [x4_v.eq(x3_v), x4_last.eq(x3_last), x4_user.eq(x3_user),
                     x4_mask.eq(x3_mask), x4_keep.eq(x3_keep)]
        for l in range(L):
            h, tail = x3_h[l], x3_tails[l]
            idx = Signal(4, name=f"x3_idx{l}")
            m.d.comb += idx.eq(Mux(h[1], base[2], Mux(h[0], base[1], base[0])) + tail[:3])
            sym = Signal(8, name=f"x3_sym{l}")
            with m.Switch(idx):
                for k in range(16):
                    with m.Case(k):
                        m.d.comb += sym.eq(syms[k])
            m.d.sync += x4_items[l].eq(Cat(x3_lows[l], Mux(h == 3, tail, sym)))
        # expansion by the beat's mask bits, two network levels per register stage
        data, side = expand_pipelined(m, x4_mask, x4_items, [x4_v, x4_keep, x4_last, x4_user], "x5")
        x_valid, x_keep, x_last, x_user = side
        m.d.comb += [out.w_en.eq(x_valid), out.w_data.eq(Cat(*data, x_keep, x_last, x_user))]
        return m



class ZVCELoopback(wiring.Component):
    """A :class:`ZVCECompressor` feeding a :class:`ZVCEDecompressor`: a round-trip test top.

    Both blocks see the same ``code_table``; change it only between chunks that
    have left both.

    Parameters
    ----------
    elem_bits : int
        Element width: 16 or 32.
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
    code_table : In(128)
        The packed code table.
    o : Out(stream.Signature(element_beat_layout(elem_bits, lanes, user_bits=1)))
        The elements again.
    error, error_code : Out(1), Out(4)
        The decompressor's error outputs (never raised by a correct compressor).

    Raises
    ------
    TypeError, ValueError
        As the two blocks.
    """

    def __init__(self, elem_bits: int, lanes: int, mid_bytes: int):
        # (checked before the blocks are built: a block whose constructor refuses
        # its parameters would still warn that it was never elaborated)
        _check_params(elem_bits, lanes, "mid_bytes", mid_bytes)
        self.compressor = ZVCECompressor(elem_bits, lanes, mid_bytes)
        self.decompressor = ZVCEDecompressor(elem_bits, lanes, mid_bytes)
        self._elem_bits, self._lanes = elem_bits, lanes
        super().__init__({
            "i": In(element_stream(elem_bits, lanes)),
            "count": In(stream.Signature(32)),
            "code_table": In(8 * TABLE_BYTES),
            "o": Out(element_stream(elem_bits, lanes, user_bits=1)),
            "error": Out(1),
            "error_code": Out(4),
        })

    elem_bits = property(lambda self: self._elem_bits, doc="Element width in bits.")
    lanes = property(lambda self: self._lanes, doc="Elements per beat.")

    def elaborate(self, platform):
        m = Module()
        m.submodules.compressor = c = self.compressor
        m.submodules.decompressor = d = self.decompressor
        wiring.connect(m, wiring.flipped(self.i), c.i)
        wiring.connect(m, c.o, d.i)
        wiring.connect(m, wiring.flipped(self.count), d.count)
        wiring.connect(m, d.o, wiring.flipped(self.o))
        m.d.comb += [c.code_table.eq(self.code_table), d.code_table.eq(self.code_table),
                     self.error.eq(d.error), self.error_code.eq(d.error_code)]
        return m


def _times(value, k):
    """``value * k`` for a small constant ``k``, as shifts and adds (no DSP block)."""
    out = C(0, 1)
    for b in range(k.bit_length()):
        if k >> b & 1:
            out = out + (value << b)
    return out


def popcount_sum(values):
    """Sum of small values as a balanced adder tree."""
    return popcount(values)
