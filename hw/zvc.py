"""Zero-value compression (ZVC) in hardware: a compressor and a decompressor.

The byte format is the golden model's (:mod:`golden.zvc`, ``docs/FORMAT.md``):
windows of 32 elements, each a little-endian 32-bit mask (bit *i* set = element
*i* is nonzero) followed by the window's nonzero elements in index order, packed
back to back.  ``docs/ZVC.md`` describes the microarchitecture, the latency and
the throughput of both blocks.
"""
from __future__ import annotations

from amaranth.hdl import C, Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .bits import (compact_level, expand_pipelined, leading_ones, popcount, prefix_counts, room_after,
                   thermometer, wrap)
from .fifo import WideFIFO
from .packer import CreditedPacker, Unpacker
from .skid import replicated
from .streams import DecoderParams, decoder_members, ELEM_BITS, byte_stream, check_codec_params, element_stream
from .zvc_format import WINDOW, ZVCError, _at_most_pow2, _below_pow2, _units
from .zvc_window import ZVCWindowDecoder

__all__ = ["WINDOW", "ELEM_BITS", "ZVCError", "ZVCCompressor", "ZVCDecompressor", "ZVCLoopback"]

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
    Latency: the output beat carrying the first bytes of a window is valid
    13 + ceil(log2(lanes) / 2) cycles after the clock edge that transferred the
    input beat completing the window (see ``docs/ZVC.md``).

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
        self._elem_bits, self._lanes, self._out_bytes = check_codec_params(
            elem_bits, lanes, "out_bytes", out_bytes)
        super().__init__({
            "i": In(element_stream(elem_bits, lanes)),
            "o": Out(byte_stream(out_bytes)),
        })
        self._ser_free = Signal()
        self._overrun = Signal()         # never set (checked by the tests)

    elem_bits = property(lambda self: self._elem_bits, doc="Element width in bits.")
    lanes = property(lambda self: self._lanes, doc="Elements per input beat.")
    out_bytes = property(lambda self: self._out_bytes, doc="Bytes per output beat.")

    def __repr__(self):
        return (f"ZVCCompressor(elem_bits={self._elem_bits}, lanes={self._lanes}, "
                f"out_bytes={self._out_bytes})")

    def elaborate(self, platform):
        m = Module()
        E, L, OB = self._elem_bits, self._lanes, self._out_bytes
        g = _units(E, OB)
        UB, MU, EU, PO = g.unit_bits, g.mask_units, g.elem_units, OB // g.unit_bytes
        PI = MU + L * EU                 # largest piece: a mask and one beat's elements
        nb = WINDOW // L                 # input beats per window
        cbits = (L + 1).bit_length()     # width of one beat's nonzero count
        LB = max(1, (L - 1).bit_length())   # bits of a compaction amount
        i, o = self.i, self.o

        # ---- flow control ------------------------------------------------------------
        # The stages up to the piece FIFO run free (no enables); the input is
        # accepted only while the FIFO has room for every piece that may still
        # be in flight, so nothing ever has to stop inside the pipeline.
        # (S1, S2, two compaction stages, collector, serializer, piece reg,
        # margin, and the scan's extra stages: one per two adder levels past
        # the first two)
        XS = max(0, -(-(L - 1).bit_length() // 2) - 1)
        INFLIGHT = 6 + 2 * nb + 2 + XS
        m.submodules.packer = packer = CreditedPacker(UB, PI, PO, inflight=INFLIGHT)
        room = packer.room
        push = Signal()

        # A window that ends early (the chunk's last beat) is padded with idle
        # input cycles, so every window spends `nb` cycles in the collector and
        # the serializer (one piece per beat) always finishes first.
        bidx = Signal(range(max(nb, 2)))   # beat of the window at the input
        pace = Signal(range(max(nb, 2)))   # idle cycles still owed
        # (`pace == 0` as a register of its own, so `ready` is one gate on two
        # flip-flops: the OR of `pace` in it, through the engine's compress
        # stage and chunk buffer fork into the chunk slice, was the 16 B
        # engine's path at seed 1 of 688d017, 12.1 ns)
        paced = Signal(init=1)
        take = Signal()
        m.d.comb += [i.ready.eq(room & paced), take.eq(i.valid & i.ready)]
        with m.If(take):
            with m.If(i.p.last | (bidx == nb - 1)):
                m.d.sync += [bidx.eq(0), pace.eq(nb - 1 - bidx), paced.eq(bidx == nb - 1)]
            with m.Else():
                m.d.sync += bidx.eq(bidx + 1)
        with m.Elif(~paced):
            m.d.sync += [pace.eq(pace - 1), paced.eq(pace == 1)]

        # ---- S1: lanes (unkept lanes of the last beat are zero), nonzero flags -----
        v1, last1, has1 = Signal(), Signal(), Signal()
        idx1 = Signal.like(bidx)
        lanes1 = [Signal(E, name=f"s1_lane{l}") for l in range(L)]
        nz1 = Signal(L)
        m.d.sync += [v1.eq(take), last1.eq(i.p.last), has1.eq(~i.p.last | i.p.keep.any()),
                     idx1.eq(bidx)]
        for l in range(L):
            lane = Mux(i.p.last & ~i.p.keep[l], 0, i.p.data[l * E:(l + 1) * E])
            m.d.sync += [lanes1[l].eq(lane), nz1[l].eq(lane.any())]

        # ---- S2...: compaction amounts = empty lanes below each nonzero lane ------
        # A Hillis-Steele scan of the empty lanes, two adder levels per register
        # stage (the whole scan, a subtraction and the amounts' multiplexer in
        # one stage were the 32 x 16 compressor's path, nz1 -> s2_amt, 6 levels).
        # (which collector slot the beat goes to, one-hot: see `col_en` below)
        carry = [v1, last1, has1, idx1, nz1, Cat(*[v1 & (idx1 == k) for k in range(nb)]), *lanes1]
        scan_stages = 0

        def scan_stage(cur):
            nonlocal carry, scan_stages
            regs = [Signal.like(x, name=f"s2s{scan_stages}_{k}") for k, x in enumerate(cur + carry)]
            m.d.sync += [r.eq(x) for r, x in zip(regs, cur + carry)]
            scan_stages += 1
            carry = regs[len(cur):]
            return regs[:len(cur)]
        # idle[l]: empty lanes below lane l
        idle = prefix_counts(m, [~nz1[l] for l in range(L)], "s2_idle", stage=scan_stage)
        assert scan_stages == XS
        v2, last2, has2, idx2, nz2, at2 = [Signal.like(x, name=f"s2_{n}") for x, n in
                                          zip(carry[:6], ("v", "last", "has", "idx", "nz", "at"))]
        cnt2 = Signal(cbits)
        lanes2 = [Signal(E, name=f"s2_lane{l}") for l in range(L)]
        amt2 = [Signal(LB, name=f"s2_amt{l}") for l in range(L)]
        m.d.sync += [v2.eq(carry[0]), last2.eq(carry[1]), has2.eq(carry[2]), idx2.eq(carry[3]),
                     nz2.eq(carry[4]), at2.eq(carry[5]), cnt2.eq(L - idle[L])]
        for l in range(L):
            m.d.sync += [lanes2[l].eq(carry[6 + l]),
                         amt2[l].eq(Mux(carry[4][l], idle[l], 0)[:LB])]

        # ---- S3...: the compaction network, two levels per register stage ---------
        data, amts = lanes2, amt2
        side = [v2, last2, has2, idx2, nz2, cnt2, at2]
        levels = LB if L > 1 else 0
        # The collector's slot enables, one copy per 64 bits of a slot, loaded
        # beside the network's last register stage (`vc & (idxc == slot)` to
        # every slot's flip-flops was the 32 x 4 compressor's path, 88 % routing)
        NCOL = max(1, L * E // 64)
        col_en = replicated(m, "col_en", NCOL, width=nb) if levels else [at2] * NCOL
        for b in range(levels):
            data, amts = compact_level(m, data, amts, b, f"cmp{b}")
            if b == levels - 1:
                m.d.sync += [c.eq(side[-1]) for c in col_en]
            if b % 2 == 1 or b == levels - 1:
                regs_d = [Signal(E, name=f"cmp{b}_rd{j}") for j in range(L)]
                regs_a = [Signal(LB, name=f"cmp{b}_ra{j}") for j in range(L)]
                regs_s = [Signal.like(x, name=f"cmp{b}_side{k}") for k, x in enumerate(side)]
                m.d.sync += [r.eq(x) for r, x in zip(regs_d + regs_a + regs_s, data + amts + side)]
                data, amts, side = regs_d, regs_a, regs_s
        vc, lastc, hasc, idxc, nzc, cntc, atc = side
        compacted = Cat(*data)

        # ---- collector: a window's compacted beats at their slots, and its mask ---
        cur_slots = Signal(nb * L * E)
        cur_cnt = Signal(nb * cbits)
        cur_mask = Signal(WINDOW)
        cur_has, cur_last = Signal(), Signal()
        cur_beats = Signal(range(nb + 1))
        SH = L * E // NCOL               # bits of a slot per copy of the enables
        for sidx in range(nb):
            for k, en in enumerate(col_en):
                with m.If(en[sidx]):
                    lo = sidx * L * E + k * SH
                    m.d.sync += cur_slots[lo:lo + SH].eq(compacted[k * SH:(k + 1) * SH])
            with m.If(atc[sidx]):
                m.d.sync += [cur_cnt[sidx * cbits:(sidx + 1) * cbits].eq(cntc),
                             cur_last.eq(lastc), cur_beats.eq(sidx + 1)]
                if sidx == 0:            # a new window: the rest of the mask is cleared
                    m.d.sync += [cur_mask.eq(nzc), cur_has.eq(hasc)]
                else:
                    m.d.sync += [cur_mask[sidx * L:(sidx + 1) * L].eq(nzc),
                                 cur_has.eq(cur_has | hasc)]
        # A completed window moves to the serializer in the next cycle (reading the
        # collector while the next window's first beat may overwrite slot 0), or
        # later if the serializer is still busy: the input pacing keeps the next
        # window's beats away until then.
        pending = Signal()
        pending_next = Signal()
        m.d.comb += pending_next.eq(vc & (lastc | (idxc == nb - 1)) | (pending & ~self._ser_free))
        m.d.sync += pending.eq(pending_next)

        # ---- serializer: one piece per cycle, the first with the mask ---------------
        # The slots load a window or shift down one slot every cycle (a shift with
        # no piece left is harmless); each 64 bits of slots decide from their own
        # copy of `pending` and `win_left` (one net to all of them was the
        # critical path of the 8-byte compressor).
        win_slots = Signal(nb * L * E)   # shifts down one slot per piece
        win_cnt = Signal(nb * cbits)
        win_mask = Signal(WINDOW)
        win_has, win_last, win_first = Signal(), Signal(), Signal()
        win_left = Signal(range(nb + 1))  # pieces still to send
        m.d.comb += self._ser_free.eq(win_left <= 1 if nb > 1 else 1)
        load = Signal()
        left_next = Signal.like(win_left)
        m.d.comb += [
            load.eq(pending & self._ser_free),
            left_next.eq(Mux(load, cur_beats, Mux(win_left.any(), win_left - 1, win_left))),
        ]
        m.d.sync += win_left.eq(left_next)
        with m.If(load):
            m.d.sync += [
                win_cnt.eq(cur_cnt), win_mask.eq(cur_mask),
                win_has.eq(cur_has), win_last.eq(cur_last), win_first.eq(1),
            ]
        with m.Elif(win_left.any()):
            m.d.sync += [win_cnt.eq(win_cnt >> cbits), win_first.eq(0)]
        # (each copy is the next cycle's `load` itself, formed once before the
        # copies: with copies of `pending` and `win_left` and the compare behind
        # them, the 32 x 4 compressor's path was ser_left -> <= 1 -> load -> slots)
        NS = max(1, nb * L * E // 64)
        load_c = replicated(m, "ser_load", NS)
        load_next = Signal()
        m.d.comb += load_next.eq(pending_next & ((left_next <= 1) if nb > 1 else 1))
        m.d.sync += [c.eq(load_next) for c in load_c]
        shifted = win_slots >> (L * E)
        for k in range(NS):
            lo, hi = k * len(win_slots) // NS, (k + 1) * len(win_slots) // NS
            m.d.sync += win_slots[lo:hi].eq(Mux(load_c[k], cur_slots[lo:hi], shifted[lo:hi]))
        # (test hook: a beat reaching a collector that still holds a pending window)
        m.d.comb += self._overrun.eq(pending & ~self._ser_free & vc)

        slot0 = win_slots[:L * E]
        pc_data = Signal(PI * UB)
        pc_n = Signal(range(PI + 1))
        pc_last = Signal()
        m.d.sync += [
            push.eq(win_left.any()),
            pc_data.eq(Mux(win_first, Cat(win_mask, slot0), slot0)),
            # An empty window only closes a chunk that has no element: no units.
            pc_n.eq(Mux(win_has, Mux(win_first, MU, 0) + win_cnt[:cbits] * EU, 0)),
            pc_last.eq(win_last & (win_left == 1)),
        ]

        # ---- piece FIFO -> packer -> output ------------------------------------------
        m.d.comb += [
            packer.push.eq(push), packer.piece.data.eq(pc_data), packer.piece.n.eq(pc_n),
            packer.piece.last.eq(pc_last),
            o.valid.eq(packer.o.valid), packer.o.ready.eq(o.ready),
            o.p.data.eq(packer.o.p.data), o.p.last.eq(packer.o.p.last),
            o.p.keep.eq(Cat(*[packer.o.p.keep[k // g.unit_bytes] for k in range(OB)])),
        ]
        return m


class ZVCDecompressor(DecoderParams, wiring.Component):
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
    ``in_bytes`` per cycle and the output is not back-pressured.

    Two structures (``docs/ZVC.md``): with two or more output beats per
    window (``lanes`` <= 16) and a power-of-two number of units per input beat
    (a unit is the element's bytes where they divide the beat),
    :class:`hw.zvc_window.ZVCWindowDecoder` resolves a window's mask once per
    window and emits its beats from a descriptor; otherwise each output beat
    takes its units from an :class:`~hw.packer.Unpacker`.  Latency, after the
    clock edge that transferred the input beat of a one-window chunk whose
    count has been taken, to its output beat: 13 cycles (``lanes`` <= 4) or 14
    (``lanes`` = 8 or 16; one more where ``lanes`` x ``elem_bits`` > 128) in
    the first structure, 9 (``lanes`` <= 4) or 10 cycles (``lanes`` >= 8) in
    the second.

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
        self._elem_bits, self._lanes, self._in_bytes = check_codec_params(
            elem_bits, lanes, "in_bytes", in_bytes, count_bits)
        self._count_bits = count_bits
        # copies of the step decision: one per 64 bytes of buffered input beats
        self._copies = max(1, min(8, 3 * in_bytes // 64))
        super().__init__(decoder_members(elem_bits, lanes, in_bytes, count_bits))

    def __repr__(self):
        return (f"ZVCDecompressor(elem_bits={self._elem_bits}, lanes={self._lanes}, "
                f"in_bytes={self._in_bytes})")

    def elaborate(self, platform):
        m = Module()
        E, L, IB = self._elem_bits, self._lanes, self._in_bytes
        if ZVCWindowDecoder.supports(E, L, IB):
            m.submodules.windows = dec = ZVCWindowDecoder(E, L, IB, self._count_bits)
            wiring.connect(m, wiring.flipped(self.i), dec.i)
            wiring.connect(m, wiring.flipped(self.count), dec.count)
            wiring.connect(m, dec.o, wiring.flipped(self.o))
            m.d.comb += [self.error.eq(dec.error), self.error_code.eq(dec.error_code)]
            return m
        g = _units(E, IB)
        U, UB, MU, EU = g.unit_bytes, g.unit_bits, g.mask_units, g.elem_units
        IU = IB // U                     # units per input beat
        PW = MU + L * EU                 # units of one take at most (a beat + a mask)
        nb = WINDOW // L                 # steps per window
        i, o = self.i, self.o

        # ---- input: bytes -> units ----------------------------------------------------
        # All beats of a chunk but its last are full.  A last beat whose bytes do not
        # fill a whole unit marks its chunk (`user`): those bytes are either missing
        # from the unit a window needs or left over, a LENGTH_MISMATCH either way.
        # Every unit also carries, computed as it enters, the popcount of its
        # bits (`FW` wide) and, when a step's mask bits end inside a unit, of
        # its low TP bits: the popcounts of the bits that would be a mask's
        # first step (TF whole units and the low TP bits of the next one) and
        # of the whole mask, if a mask started there.  A mask read then yields
        # its first step's units and its window's units with a multiplexer and
        # a small sum, no popcount.
        TF, TP = L // UB, L % UB
        FW = len(Signal(range(UB + 1)))
        PPW = len(Signal(range(TP + 1))) if TP else 0
        SB = FW + PPW
        # The window shows a step's units; a window's last step also takes the
        # next window's mask (read from the ring, see `pm`), and the ring keeps
        # a mask's units more than that, so input keeps landing while a step
        # waits for its last units (with a mask less, input-bound streams lost
        # up to 3 % of their cycles): `lookahead`.
        # (`registered`: the step's units reach the first expansion stage a
        # cycle after the step, through two multiplexer levels in two cycles)
        m.submodules.unp = unp = Unpacker(UB, IU, L * EU, lookahead=2 * MU,
                                          user_bits=1,
                                          side_bits=SB, copies=self._copies,
                                          registered=True)
        # (the bytes of a beat: `keep` is a prefix, so its length, gate levels
        # only; a population count's adders, between the decode stage's payload
        # slice and the Unpacker's skid, were the 16 B engine's path, 10.4 ns)
        nbytes = leading_ones([i.p.keep[k] for k in range(IB)])
        side = []
        for u in range(IU):
            unit = i.p.data[u * UB:(u + 1) * UB]
            side.append(popcount([unit[b] for b in range(UB)])[:FW])
            if TP:
                side.append(popcount([unit[b] for b in range(TP)])[:PPW])
        m.d.comb += [
            unp.i.valid.eq(i.valid), i.ready.eq(unp.i.ready),
            unp.i.p.data.eq(i.p.data), unp.i.p.n.eq(nbytes // U if U > 1 else nbytes),
            unp.i.p.last.eq(i.p.last),
            unp.i.p.user.eq((nbytes % U != 0) if U > 1 else 0),
            unp.i.p.side.eq(Cat(*side)),
        ]
        avail, ended = unp.level, unp.ended
        partial = unp.ended_user[0]

        # ---- output stage: the steps' beats go through a free-running expansion ----
        # pipeline into a FIFO; a step is issued only while the FIFO has room for
        # every beat in flight (`room`, a register), so nothing in between stalls.
        DEPTH = 16                       # (a LUT RAM is 16 deep: 8 would cost the same)
        m.submodules.out = out = WideFIFO(L * E + L + 2, DEPTH, copies=max(1, L * E // 64))
        issued = Signal(range(DEPTH + 1))
        emit = Signal()                  # a beat (a step or a terminator) is issued
        o_take = Signal()
        issued_next = Signal(range(DEPTH + 2))
        m.d.comb += [
            issued_next.eq(issued + emit - o_take),
            o.valid.eq(out.r_valid), out.r_en.eq(o.ready), o_take.eq(o.valid & o.ready),
            o.p.data.eq(out.r_data[:L * E]), o.p.keep.eq(out.r_data[L * E:L * E + L]),
            o.p.last.eq(out.r_data[L * E + L]), o.p.user.eq(out.r_data[L * E + L + 1]),
        ]

        # ---- chunk state ----------------------------------------------------------------
        # The registers the step decision reads exist in NC + 1 copies (equal
        # values): copy g < NC decides for the g-th share of the unpacker's
        # beats, copy NC for the chunk's own state (below), so the decision
        # reaches them through small nets instead of one huge one.
        NC = self._copies
        # The decision reads the state as one-hot mode flags (`md_*`, all clear
        # while no chunk is decoded, after a failure and while a short window's
        # mask is checked): an empty chunk (`zero`), the first mask to fetch
        # (`fetch`), a BAD_MASK found (`bad`), the chunk's last step (`fin`), a
        # window's last step, which prefetches the next mask (`last`), and any
        # other step (`mid`).  Each flag's next value is picked per outcome
        # from candidates computed from registers (below), so the decision is
        # one comparison and two gates deep.
        MODES = ("md_zero", "md_fetch", "md_bad", "md_fin", "md_last", "md_mid")
        state_shapes = dict(active=1, failed=1, mv=1, chk=1, fin=1, room=1,
                            **{k: 1 for k in MODES},
                            s=len(Signal(range(max(nb, 2)))), need=len(Signal(range(PW + 1))),
                            need_mu=len(Signal(range(PW + MU + 1))))
        # (one copy more than the unpacker has, NC: copy NC decides for the
        # chunk's own state -- mask, count, mode, `pm`, the output stage -- so
        # the unpacker's level loop, level -> compare -> take -> level, drives
        # only the unpacker's registers: with one copy for both, that net's
        # fan-out made the loop the small decompressors' critical path, 73 %
        # routing at 8 x 8; copy NC + 1 decides for the wide datapath
        # registers -- the mask, the count, the output stage's first beat --
        # so copy NC's outcome reaches the mode and the step's units only)
        # (with a combinational mask read and two or more steps a window,
        # copy NC + 2 holds the mode flags that pick `pm`'s next value and
        # decides the read that moves it: `pm` on copy NC's registers was the
        # 16 B engine's path at seeds 1 and 2 of 8a7abe6 and 17ac18c, 12.0 ns
        # after the rip-up)
        DP = NC + 1
        PMD = NC + 2 if nb > 1 else None
        ND = NC + 2 + (PMD is not None)
        cp = {name: replicated(m, name, ND, width=w, reset=(1 if name == "room" else 0))
              for name, w in state_shapes.items()}
        nxt = {name: Signal(w, name=f"{name}_next") for name, w in state_shapes.items()}
        for name in state_shapes:
            m.d.sync += [c.eq(nxt[name]) for c in cp[name]]
        r0 = {name: copies[NC] for name, copies in cp.items()}
        active, failed, mv, s, need = r0["active"], r0["failed"], r0["mv"], r0["s"], r0["need"]
        mask = Signal(WINDOW)            # shifted down `lanes` bits per step
        rem = Signal(self._count_bits)   # elements still to emit
        # (the mask bits a short last window must leave clear: the elements past
        # the count, mod 32, decoded as the count is taken, so the check is an
        # AND and an OR; the decode in the check was the decode stage's path)
        wrem_out = Signal(WINDOW)
        pend_out = Signal(WINDOW)
        next_short = Signal()            # the next window has fewer than 32 elements
        code = Signal(4)
        # The next chunk's count waits in a register (`pend`, with the facts the
        # start needs already derived from it), so a chunk starts in the cycle
        # its predecessor ends: back-to-back chunks lose one cycle (the first
        # mask's fetch), not three.
        pend = Signal()
        pend_cnt = Signal(self._count_bits)
        pend_zero, pend_fin, pend_short = Signal(), Signal(), Signal()
        m.d.comb += [self.count.ready.eq(~pend), self.error_code.eq(code)]
        with m.If(self.count.valid & ~pend):
            cnt = self.count.p
            m.d.sync += [pend.eq(1), pend_cnt.eq(cnt), pend_zero.eq(cnt == 0),
                         pend_out.eq(~thermometer(cnt[:5], WINDOW)),
                         pend_fin.eq(_at_most_pow2(cnt, L)),
                         pend_short.eq(_below_pow2(cnt, WINDOW))]
        m.d.sync += [issued.eq(issued_next)]
        # (room after this cycle, for either value of `emit`, from registers and
        # `o_take`: the decision only picks one)
        m.d.comb += nxt["room"].eq(room_after(m, issued, DEPTH, emit, o_take))

        # The next window's mask, its first step's units and all its units are
        # read from the unpacker's ring at `pm` (ring units, wrapping around),
        # a register that holds where the next mask starts from the moment
        # the mask before it is read: the position after the window's data is
        # known then (the mask's set bits), a whole window ahead of the read.
        # The read is combinational (a registered read in one or two stages,
        # with a flag saying the stages hold the mask, paid for itself only
        # with four or more steps a window: those configurations, and those of
        # two steps a window, are now :class:`hw.zvc_window.ZVCWindowDecoder`'s;
        # docs/TIMING.md sections 27-28).
        N = unp.ring_units
        # (`pm` is a register in WINDOW / 8 copies, each selecting 8 bits of the
        # mask, and one more for the arithmetic: one copy fanned out to the
        # whole read was the decode stage's critical path at 16 B, 83 % of it
        # routing)
        # (and, with the read combinational, RS = 0, one more for the counts'
        # read, `need`/`need_mu`/`tot`: with the copy of the mask's first byte
        # it fanned out to both, and `pm` -> counts -> `need` was the 16 B
        # engine's path at seed 1 of 27e684d, 11.1 ns, 6 levels, 82 % routing.
        # Plain runs, seeds 1-3, 2026-12-06: 32 x 4 101.9 (93.3-103.1) ->
        # 109.0 (108.9-113.7) MHz, +19 LUT4; with a registered read it did
        # not pay: 16 x 4 106.1 -> 101.2, 8 x 8 101.4 -> 98.9)
        PMC = WINDOW // 8
        PB = len(Signal(range(N)))
        # (one more, after the mask's: the counts')
        pms = replicated(m, "pm", PMC + 1, width=PB)
        pm = pms[-1]
        pm_next = Signal(range(N))
        # the ring as (unit, side) pairs
        src = [(unp.beats[k * UB:(k + 1) * UB], unp.beats_side[k * SB:(k + 1) * SB])
               for k in range(N)]
        nmask = Signal(WINDOW)
        # (the first step's units, the same plus a mask, and the window's set
        # bits, formed per position before the multiplexer, so that `pm`
        # reaches `need`/`need_mu` through the multiplexer alone: an adder
        # behind it was the path at 32 x 4)
        nneed = Signal(range(PW + 1))
        nneed_mu = Signal(range(PW + MU + 1))
        ntot = Signal(range(WINDOW + 1))
        for c, sel in enumerate(pms):
            lo, hi = 8 * c, 8 * (c + 1)
            with m.Switch(sel):
                for t in range(N):
                    # (the last position as the default: lint wants every value of
                    # the select covered, and N need not be a power of two)
                    with (m.Default() if t == N - 1 else m.Case(t)):
                        at = [src[(t + j) % len(src)] for j in range(MU)]
                        if c < PMC:
                            m.d.comb += nmask[lo:hi].eq(Cat(*[u for u, _ in at])[lo:hi])
                        else:            # (the counts' copy)
                            full = [sd[:FW] for _, sd in at]
                            terms = full[:TF] + ([at[TF][1][FW:]] if TP else [])
                            m.d.comb += [nneed.eq(sum(terms) * EU),
                                         nneed_mu.eq(sum(terms) * EU + MU),
                                         ntot.eq(sum(full))]

        def decide(g):
            """The step decision from copy ``g`` of the registers: a dict of
            ``step``, ``prefetch``, ``fetch``, ``finish``, ``fail``, ``code``.

            The chunk's state enters only as one-hot mode flags (registers
            set a cycle ahead, see below), so each outcome is a comparison of
            the Unpacker's level with a register, gated by a flag and ``room``.
            """
            r = {name: copies[g] for name, copies in cp.items()}
            d = {k: Signal(name=f"{k}_c{g}") for k in ("step", "prefetch", "fetch", "finish",
                                                        "fail")}
            d["code"] = Signal(4, name=f"fail_code_c{g}")
            ge_need, ge_need_mu = avail >= r["need"], avail >= r["need_mu"]
            eq_need, gt_need = avail == r["need"], avail > r["need"]
            has_mask, empty = avail >= MU, avail == 0
            room = r["room"]
            # (the next mask is there: for a window's last step, for a fetch)
            ready_last, ready_fetch = ge_need_mu, has_mask
            # (a unit more than the chunk needs is an error at once: waiting for
            # the chunk's end could wait forever behind the extra beats)
            m.d.comb += [
                d["fetch"].eq(r["md_fetch"] & ready_fetch),
                d["prefetch"].eq(r["md_last"] & ready_last & room),
                d["step"].eq(room & ((r["md_mid"] & ge_need) | (r["md_last"] & ready_last)
                                     | (r["md_fin"] & ended & eq_need & ~partial))),
                d["finish"].eq(room & ended & ~partial
                               & ((r["md_zero"] & empty) | (r["md_fin"] & eq_need))),
                d["fail"].eq(r["md_bad"]
                             | (r["md_zero"] & (~empty | (ended & partial)))
                             | (r["md_fetch"] & ~has_mask & ended)
                             | (r["md_fin"] & ((ended & ~eq_need) | gt_need
                                               | (ended & partial & eq_need)))
                             | (r["md_last"] & ~ge_need_mu & ended)
                             | (r["md_mid"] & ~ge_need & ended)),
                d["code"].eq(Mux(r["md_bad"], ZVCError.BAD_MASK, ZVCError.LENGTH_MISMATCH)),
            ]
            return d

        dec = [decide(g) for g in range(ND)]
        step, prefetch, fetch = dec[NC]["step"], dec[NC]["prefetch"], dec[NC]["fetch"]
        finish = dec[NC]["finish"]
        d_step, d_prefetch, d_fetch = dec[DP]["step"], dec[DP]["prefetch"], dec[DP]["fetch"]
        d_finish = dec[DP]["finish"]
        # A failure acts a cycle after it is seen (`fail`, a register per copy):
        # its conditions exclude every other outcome and hold while nothing
        # moves, so the wide OR of them reaches only these flip-flops, not the
        # decision's loads.  (`~fail_q`: the mode flags clear a cycle later.)
        fail_q = replicated(m, "fail_q", ND)
        fail_code = Signal(4)
        for d, fq in zip(dec, fail_q):
            m.d.sync += fq.eq(d["fail"] & ~fq)
        m.d.sync += fail_code.eq(dec[NC]["code"])
        fail = fail_q[NC]
        # (a plain expression, not an `If`: Icarus never runs an `always @*` block
        # whose inputs keep their initial values, which would leave this X)
        terminate = Signal()             # the malformed chunk's closing beat
        take = Signal(range(PW + 1))     # units taken with a step or a fetch
        m.d.comb += [
            terminate.eq(active & failed & r0["room"]),
            emit.eq(step | (finish & r0["md_zero"]) | terminate),
            # (a fetch takes the mask: `need` is MU then; a window's last step
            # takes the next window's mask with its units)
            # (from copy 0's registers, like the unpacker's decisions)
            take.eq(Mux(cp["md_last"][0], cp["need_mu"][0], cp["need"][0])),
            unp.take.eq(take),
            unp.take_en.eq(Cat(*[d["step"] | d["fetch"] for d in dec[:NC]])),
            unp.drop.eq(Cat(*[d["finish"] | fq for d, fq in zip(dec[:NC], fail_q)])),
        ]

        # next state (copy NC's decision; every copy registers the same value)
        for name in state_shapes:
            if name != "room":
                m.d.comb += nxt[name].eq(r0[name])
        with m.If(fetch | prefetch):
            # A short window (the chunk's last, fewer than 32 elements) has its mask
            # checked in the next cycle (`chk`), off the fetch path; the others
            # cannot mark elements past the count.
            m.d.comb += [nxt["chk"].eq(next_short), nxt["mv"].eq(1),
                         nxt["s"].eq(0)]
        bad_v = Signal()                 # the short window's mask marks too many
        m.d.comb += bad_v.eq((mask & wrem_out).any())
        with m.If(r0["chk"]):
            m.d.comb += nxt["chk"].eq(0)
        # (the wide registers of a chunk's start, `rem` and `wrem_out`, load
        # a cycle after it, from `pend_cnt`/`pend_out`, which hold until then:
        # the chunk's end -> start -> their 64 enables was the 16 B engine's
        # path at seed 3, 12.4 ns; a fetch in that cycle reads the count from
        # `pend_cnt`, the first step and the short window's check come later)
        started = Signal()
        rem_now = Mux(started, pend_cnt, rem)
        with m.If(d_fetch):
            # `next_short` now describes the window after this one: count - 32 < 32
            m.d.sync += next_short.eq(_below_pow2(rem_now, 2 * WINDOW))
        # units of the window's next beat (its mask bits are the next L of `mask`)
        pc_next = Signal(range(PW + 1))
        pc_next_mu = Signal(range(PW + MU + 1))
        m.d.comb += [pc_next.eq(popcount([mask[L + k] for k in range(L)]) * EU if nb > 1 else 0),
                     pc_next_mu.eq(pc_next + MU)]
        # (`fin` means rem <= L; a step that does not finish leaves rem - L, so
        # the chunk's last step comes next if rem <= 2 * L: no subtraction on
        # the way.  That verdict is a register, loaded with `rem`: from the
        # 32-bit `rem` through the mode's next value it was the 16 B engine's
        # path at seed 3 of 4861950, `rem` -> `md_last`, 13.5 ns, 8 levels)
        fin_step = Signal(init=1)        # (rem resets to 0)
        rem_next = Signal.like(rem)
        m.d.comb += rem_next.eq(rem - L)
        with m.If(step):
            m.d.comb += nxt["fin"].eq(fin_step)
            with m.If(~prefetch):
                m.d.comb += nxt["s"].eq(s + 1)
        with m.If(d_step):
            # rem_next <= 2 L, rem_next = rem - L (wrapping, as the subtraction)
            m.d.sync += [rem.eq(rem_next), fin_step.eq((rem >= L) & (rem <= 3 * L))]
            with m.If(d_prefetch):
                # the window that starts has rem_next elements left (same value mod
                # 32 as the count): the one after it is short if rem_next < 64
                m.d.sync += next_short.eq(_below_pow2(rem_next, 2 * WINDOW))
        # The mask and the step's units move on a step or a mask read; which of
        # the two it is follows from the mode alone (a window's last step reads
        # the next mask, so does a fetch; other steps shift), so the decision
        # only enables the registers and the multiplexers' selects are registers.
        reads = r0["md_last"] | r0["md_fetch"]
        with m.If(step | fetch):
            m.d.comb += [nxt["need"].eq(Mux(reads, nneed, pc_next)),
                         nxt["need_mu"].eq(Mux(reads, nneed_mu, pc_next_mu))]
        with m.If(d_step | d_fetch):
            m.d.sync += mask.eq(Mux(reads, nmask, mask >> L))

        with m.If(finish | terminate):
            m.d.comb += nxt["active"].eq(0)
        with m.If(fail):
            m.d.comb += nxt["failed"].eq(1)
            m.d.sync += code.eq(fail_code)
        # A chunk starts when nothing is decoded or in the cycle the current one
        # ends (after the updates above: its assignments win).
        start = Signal()
        m.d.comb += start.eq(pend & (~active | finish | terminate))
        with m.If(start):
            m.d.comb += [nxt["active"].eq(1), nxt["failed"].eq(0), nxt["mv"].eq(0),
                         nxt["s"].eq(0), nxt["fin"].eq(pend_fin),
                         nxt["need"].eq(MU), nxt["need_mu"].eq(2 * MU)]   # (the fetch's take)
            m.d.sync += [pend.eq(0), code.eq(ZVCError.OK)]
        # (the same start, from the datapath copy's decision)
        d_start = Signal()
        m.d.comb += d_start.eq(pend & (~active | d_finish | terminate))
        m.d.sync += started.eq(d_start)
        with m.If(d_start):
            m.d.sync += next_short.eq(pend_short)
        with m.If(started):
            m.d.sync += [rem.eq(pend_cnt), wrem_out.eq(pend_out),
                         fin_step.eq(_at_most_pow2(pend_cnt, 2 * L))]
        m.d.sync += self.error.eq(fail)

        # The mode flags move only when the chunk's state does (`adv`: a step, a
        # mask fetch, the chunk's end, a short window's check, a start while
        # idle) or on a failure (to none), and where they move depends on the
        # mode alone: the next mode is picked from registers, and the decision
        # only enables the move.
        def window_mode(fin_v, last_v):
            """The mode of a step: the chunk's last, a window's last, any other."""
            return dict(md_fin=fin_v, md_last=~fin_v & last_v, md_mid=~fin_v & ~last_v)

        def unless(cond, mode):
            return {k: ~cond & v for k, v in mode.items()}
        one_step = C(nb == 1, 1)         # (then every step is a window's last)
        cands = [                        # (selected by, mode after the move)
            # a step inside a window: the next is the chunk's last or the window's
            (r0["md_mid"], window_mode(fin_step, s == nb - 2) if nb > 1 else {}),
            # a mask read (a short window's mask is checked first)
            (r0["md_last"], unless(next_short, window_mode(fin_step, one_step))),
            (r0["md_fetch"], unless(next_short, window_mode(r0["fin"], one_step))),
            (r0["chk"], dict(md_bad=bad_v, **unless(bad_v, window_mode(r0["fin"], one_step)))),
            # the chunk's end (none if no count waits) or a start while idle
            (pend & (r0["md_fin"] | r0["md_zero"] | ~active | failed),
             dict(md_zero=pend_zero, md_fetch=~pend_zero)),
        ]
        adv = Signal()
        m.d.comb += adv.eq(step | fetch | finish | terminate | r0["chk"] | (pend & ~active))
        for k in MODES:
            cand = Signal(name=f"{k}_cand")
            terms = [sel & mode[k] for sel, mode in cands if k in mode]
            m.d.comb += [cand.eq(Cat(*terms).any()),
                         nxt[k].eq(Mux(fail, 0, Mux(adv, cand, r0[k])))]
        # where the next mask read happens (see `pm` above)
        # (only while the chunk is being decoded: after a failure or between chunks
        # the mask registers are stale, and the next chunk's first mask is at the
        # window's start)
        live = active & ~failed & mv
        # (after a drop the next chunk may start at once: its first mask is at
        # the next packet's start)
        drop = Signal()
        m.d.comb += drop.eq(finish | fail)

        win_start = unp.start             # the window's first unit in the ring
        if nb > 1:
            # The read is combinational; `pm` moves from registers alone.  A
            # mask read at cycle r (a fetch, or a window's last step) is
            # followed by `pm`'s move past the mask and the window's units
            # (`tot_q`) while `pm` still holds the read's position: with two
            # steps a window in cycle r + 1, the count read from the ring beside
            # the mask (each unit's popcount carried in its side bits); with
            # three or more in cycle r + 2, the count taken from the mask
            # register in cycle r + 1 (carried in the ring it cost 355 LUT4 and
            # 120 FF at 32 x 4).  The next read, a window's last step, is at
            # least nb cycles after a read.  Before a chunk's first fetch
            # (and after a failure) `pm` follows the window's start, where the
            # first mask is; in the chunk's last step (or an empty chunk's, or
            # a failure's drop) it is loaded with where the start goes after a
            # drop, so that the next chunk's fetch, a cycle after the drop at
            # the earliest, reads there.  The decision only enables registers:
            # `pm` counted a step at a time from the step decision was the 16 B
            # engine's path at seed 1 of e4e0d55, the Unpacker's `level` -> step
            # -> `pm`, 11.0 ns after the rip-up, on a decision copy of its own.
            rp = {name: copies[PMD] for name, copies in cp.items()}
            read_q = Signal()            # the last cycle read a mask
            m.d.sync += read_q.eq(dec[PMD]["fetch"] | dec[PMD]["prefetch"])
            tot_q = Signal.like(ntot)    # units of the window read
            if nb >= 3:
                moves = Signal()         # the cycle before last read a mask
                m.d.sync += [moves.eq(read_q),
                             tot_q.eq(popcount([mask[k] for k in range(WINDOW)]))]
            else:
                moves = read_q
                m.d.sync += tot_q.eq(ntot)
            at = Signal(range(N + MU + WINDOW * EU))
            m.d.comb += [
                at.eq(pm + MU + tot_q * EU),
                pm_next.eq(Mux(fail_q[PMD] | rp["md_fin"] | rp["md_zero"], unp.drop_start,
                               Mux(rp["active"] & ~rp["failed"] & rp["mv"],
                                   Mux(moves, wrap(at, N, -(-(N + MU + WINDOW * EU) // N)), pm),
                                   win_start))),
            ]
        else:                            # every step is a window's last: no head start
            at = Signal(range(N + 2 * PW + 1))
            m.d.comb += at.eq(win_start + Mux(step | fetch, take, 0)
                              + Mux(fetch | prefetch, nneed, Mux(live, need, 0)))
            m.d.comb += pm_next.eq(Mux(drop, unp.drop_start, wrap(at, N, 3)))
        m.d.sync += [p.eq(pm_next) for p in pms]

        # ---- the step's beat: slots of the view, expanded to the lanes of the mask --
        # (the window starts at the step's units: a mask is taken when it is read;
        # the unpacker shows it a cycle after the step, `registered`)
        view = [unp.data[k * UB:(k + 1) * UB] for k in range(L * EU)]
        slots = [Cat(*view[l * EU:(l + 1) * EU]) for l in range(L)]
        # stage 0: the beat's mask bits, keep/last/user (its units are in the
        # unpacker's registered window meanwhile)
        # (the mask bits and `keep` load every cycle and the step only sets
        # `p_step`, which clears them in stage 1: gated here, the datapath
        # copy's decision reached their resets, the 16 B engine's path at seed
        # 2 of 24d092a, the Unpacker's `level` -> `p_keep`, 10.3 ns)
        p_valid = Signal()
        p_step = Signal()
        p_mask = Signal(L)
        p_keep = Signal(L)
        p_last = Signal()
        p_user = Signal()
        m.d.sync += [
            p_valid.eq(emit), p_step.eq(d_step), p_mask.eq(mask[:L]),
            p_keep.eq(Cat(*[rem > l for l in range(L)])),
            p_last.eq(finish | terminate), p_user.eq(terminate),
        ]
        # stage 1: the slots beside them
        e_valid = Signal()
        e_slots = [Signal(E, name=f"x1_slot{l}") for l in range(L)]
        e_mask = Signal(L)
        e_keep = Signal(L)
        e_last = Signal()
        e_user = Signal()
        m.d.sync += [
            e_valid.eq(p_valid), e_mask.eq(Mux(p_step, p_mask, 0)),
            e_keep.eq(Mux(p_step, p_keep, 0)),
            e_last.eq(p_last), e_user.eq(p_user),
            # The slots load every cycle, whatever the decision: a beat that is
            # not a step has an all-zero mask, and the expansion drops every
            # slot past the mask's count, so its lanes come out zero anyway.
            # (Gated by the step, the decision reached L * E enables: the critical
            # path of the small configurations, level -> step -> slot.)
            *[r.eq(x) for r, x in zip(e_slots, slots)],
        ]
        # stage 2: the expansion network's routing from the mask; stages 3...: two
        # network levels per register stage, highest level first
        data, side = expand_pipelined(m, e_mask, e_slots, [e_valid, e_keep, e_last, e_user], "x2")
        x_valid, x_keep, x_last, x_user = side
        m.d.comb += [out.w_en.eq(x_valid), out.w_data.eq(Cat(*data, x_keep, x_last, x_user))]
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
