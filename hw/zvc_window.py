"""ZVC decompression a window at a time: the structure of :class:`hw.zvc.ZVCDecompressor`
for two or more output beats per window (``lanes`` <= 16).

A ZVC window is a 32-bit mask and then its nonzero elements; the position of the
next mask depends on the popcount of this one.  Decoding a step (one output beat)
at a time puts that dependency, a variable take from a byte ring and a comparison
with the ring's level into every cycle; with ``32 / lanes`` >= 2 steps per
window it only has to be resolved once every two (or four) cycles.  So two
loops run side by side on one ring of input beats:

* the **window loop** reads a mask at ``ws``, takes it with its popcount (carried
  beside each unit from the input), checks it, and moves ``ws`` past the window:
  with four or more steps a window in three register stages (the ring's beats,
  the units within them, the window taken), a window at most every four cycles;
  with two steps (16 lanes) the read and the pick in one stage and the move
  straight from it, a window every two cycles;
* the **step loop** emits the window's beats from a descriptor (mask, where its
  elements start) one per cycle: each step only shifts the mask and adds the
  step's count to a position, and reads its units from the ring in two register
  stages into the expansion network.

``docs/ZVC.md`` has the stages, the latency and what each register cuts.
"""
from __future__ import annotations

from amaranth.hdl import C, Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory

from .bits import expand_pipelined, leading_ones, popcount, room_after, thermometer
from .fifo import WideFIFO
from .skid import replicated
from .streams import DecoderParams, check_codec_params, decoder_members
from .zvc_format import WINDOW, ZVCError, _at_most_pow2, _units

__all__ = ["ZVCWindowDecoder"]

#: Input beats the ring holds at least (16: one LUT RAM deep, so no dearer than
#: fewer), and bytes (for narrow beats); measured in docs/ZVC.md.
RING_BEATS = 16
RING_BYTES = 128
#: Bits of a ring copy per memory (with its own addresses and write enable).
SHARE_BITS = 128
#: Bits of the step's units above which its shift to the step's first unit
#: takes two register stages.
SHIFT_BITS = 128


def _pick(items, sel):
    """``items[sel]`` as a tree of 2:1 multiplexers on the bits of ``sel``, low bit
    first (``len(items)`` a power of two): a few LUT levels, no decoder."""
    items = list(items)
    assert len(items) & (len(items) - 1) == 0
    b = 0
    while len(items) > 1:
        items = [Mux(sel[b], items[k + 1], items[k]) for k in range(0, len(items), 2)]
        b += 1
    return items[0]


class ZVCWindowDecoder(DecoderParams, wiring.Component):
    """The ZVC decompressor for ``lanes`` <= 16 with a power-of-two number of units per
    input beat (see :meth:`supports`); same ports and behaviour as
    :class:`hw.zvc.ZVCDecompressor`, which uses it for those configurations.

    Parameters
    ----------
    elem_bits : int
        Element width: 8, 16 or 32.
    lanes : int
        Elements per output beat: 1, 2, 4, 8 or 16.
    in_bytes : int
        Bytes per input beat: a power of two times the unit (the element's
        bytes where they divide the beat).
    count_bits : int
        Width of the element count (default 32).

    Members
    -------
    i, count, o, error, error_code
        As :class:`hw.zvc.ZVCDecompressor`.

    Raises
    ------
    TypeError
        A parameter is not an integer.
    ValueError
        A parameter is out of range, or the configuration is not one
        :meth:`supports` accepts.
    """

    def __init__(self, elem_bits: int, lanes: int, in_bytes: int, count_bits: int = 32):
        self._elem_bits, self._lanes, self._in_bytes = check_codec_params(
            elem_bits, lanes, "in_bytes", in_bytes, count_bits)
        if not self.supports(elem_bits, lanes, in_bytes):
            raise ValueError(f"ZVCWindowDecoder needs lanes <= 16 and a power-of-two number of "
                             f"units per beat, not elem_bits={elem_bits!r}, lanes={lanes!r}, "
                             f"in_bytes={in_bytes!r}")
        self._count_bits = count_bits
        super().__init__(decoder_members(elem_bits, lanes, in_bytes, count_bits))

    @staticmethod
    def supports(elem_bits: int, lanes: int, in_bytes: int) -> bool:
        """Two or more steps per window, and a power-of-two number of units per beat
        (ring positions are then plain binary numbers)."""
        iu = in_bytes // _units(elem_bits, in_bytes).unit_bytes
        return WINDOW // lanes >= 2 and iu & (iu - 1) == 0

    def __repr__(self):
        return (f"ZVCWindowDecoder(elem_bits={self._elem_bits}, lanes={self._lanes}, "
                f"in_bytes={self._in_bytes})")

    def elaborate(self, platform):
        m = Module()
        E, L, IB = self._elem_bits, self._lanes, self._in_bytes
        g = _units(E, IB)
        U, UB, MU, EU = g.unit_bytes, g.unit_bits, g.mask_units, g.elem_units
        IU = IB // U                     # units per input beat (a power of two)
        LIU = IU.bit_length() - 1
        nb = WINDOW // L                 # steps per window (>= 2)
        SV = L * EU                      # units one step reads at most
        FW = len(Signal(range(UB + 1)))  # bits of a unit's popcount
        # ring slots (beats), a power of two: RING_BEATS / RING_BYTES at least,
        # and a whole window with the chunk's last beat and one more (a chunk's
        # last window waits for the chunk's end before its steps start)
        RB = RING_BEATS
        while RB * IB < RING_BYTES or RB * IU < MU + WINDOW * EU + 3 * IU:
            RB *= 2
        SL = RB.bit_length() - 1
        N = RB * IU                      # ring units
        PB = (4 * N - 1).bit_length()    # positions: units mod 4N (signed distances < 2N)
        BB = PB - LIU                    # beat numbers: beats mod 4RB
        i, o = self.i, self.o

        def ahead(a, b):
            """``a - b >= 0`` for positions within 2N of each other."""
            d = Signal(PB)
            m.d.comb += d.eq(a - b)
            return ~d[PB - 1]

        # ---- the ring: input beats, written where the beat counter says ----------
        # A beat is accepted into `wd` (with the popcount of each unit, the side
        # bits a mask read sums) and written into the ring, LUT RAM, a cycle
        # later from registers (data, slot, enable): the acceptance (`i.valid`
        # and the `space` register) reaches no memory.  `i.ready` is `space`
        # (the room after this cycle, from registers) and no more than two
        # chunk ends outstanding (`ends`: the window loop reads the chunk's end
        # from them).
        nbytes = leading_ones([i.p.keep[k] for k in range(IB)])
        ncut = Signal(range(IU + 1))
        part = Signal()
        m.d.comb += [ncut.eq(nbytes >> (U.bit_length() - 1)),
                     part.eq((nbytes & (U - 1)) != 0 if U > 1 else 0)]
        side_in = Cat(*[popcount([i.p.data[u * UB + b] for b in range(UB)])[:FW]
                        for u in range(IU)])
        wb = Signal(BB)                  # beats accepted
        wb_q = Signal(BB)                # beats in the ring
        we = Signal()                    # `wd` is written to slot `wslot` now
        wslot = Signal(SL)
        wd = Signal(IU * UB)
        wd_pc = Signal(IU * FW)
        wd_last, wd_n, wd_part = Signal(), Signal(range(IU + 1)), Signal()
        space = Signal()
        ends = Signal(range(3))          # last beats accepted, chunk not finished
        ends_full = Signal()
        take_in = Signal()
        rel = Signal(PB)                 # release point: nothing before it is needed
        wrel = Signal(PB)                # ... the window loop's (below)
        fill = Signal(BB)
        rel_q = Signal(PB)               # (a cycle late: `rel` never falls below what is needed)
        m.d.sync += rel_q.eq(rel)
        m.d.comb += [fill.eq(wb - rel_q[LIU:]),
                     i.ready.eq(space & ~ends_full), take_in.eq(i.valid & i.ready)]
        m.d.sync += [space.eq(Mux(take_in, fill < RB - 1, fill < RB)),
                     wd.eq(i.p.data), wd_pc.eq(side_in), wb_q.eq(wb),
                     we.eq(take_in), wslot.eq(wb[:SL]),
                     wd_last.eq(i.p.last), wd_n.eq(ncut), wd_part.eq(part)]
        with m.If(take_in):
            m.d.sync += wb.eq(wb + 1)

        def ring_read(name, addr_name, addr_next, data=True, pc=False, value=None):
            """A copy of the ring (LUT RAM, one per read port) read at a slot
            registered from ``addr_next``: the units (``data``), their popcounts
            (``pc``), or both.  A copy of twice SHARE_BITS or more is split
            into memories of SHARE_BITS to twice that, each with its own read and write
            addresses and write enable (`keep` copies): one 4-bit read address
            fanned out to a 512-bit copy was 32 x 16's path, 11.96 ns, 94 %
            routing, 1 level)."""
            if value is None:
                value = Cat(*([wd] if data else []), *([wd_pc] if pc else []))
            n = max(1, len(value) // SHARE_BITS)
            if n == 1:
                addrs, slots, ens = [Signal(SL, name=addr_name)], [wslot], [we]
            else:
                addrs = replicated(m, addr_name, n, width=SL)
                slots = replicated(m, f"{name}_wslot", n, width=SL)
                ens = replicated(m, f"{name}_we", n)
                m.d.sync += [*[w.eq(wb[:SL]) for w in slots], *[e.eq(take_in) for e in ens]]
            m.d.sync += [a.eq(addr_next) for a in addrs]
            parts = []
            for c in range(n):
                lo, hi = c * len(value) // n, (c + 1) * len(value) // n
                mem = Memory(shape=hi - lo, depth=RB, init=[], attrs={"ram_style": "distributed"})
                m.submodules[name if n == 1 else f"{name}_{c}"] = mem
                wp = mem.write_port()
                rp = mem.read_port(domain="comb")
                m.d.comb += [wp.addr.eq(slots[c]), wp.en.eq(ens[c]), wp.data.eq(value[lo:hi]),
                             rp.addr.eq(addrs[c])]
                parts.append(rp.data)
            return Cat(*parts)

        wr = Cat(C(0, LIU), wb_q)        # units in the ring (whole beats)

        # Chunk ends, in landing order: `ce` (the end of the chunk the window loop
        # decodes: the last beat's start + its units), `cnext` (where the next
        # chunk starts: the beat after), `cuser` (its last beat ends inside a
        # unit); a second chunk's end waits in `ce2`.
        ce_known, ce, cnext, cuser = Signal(), Signal(PB), Signal(PB), Signal()
        ce2_known, ce2, cnext2, cuser2 = Signal(), Signal(PB), Signal(PB), Signal()
        land = Signal()
        land_ce, land_next = Signal(PB), Signal(PB)
        m.d.comb += [land.eq(we & wd_last),
                     land_ce.eq(Cat(C(0, LIU), wb_q) + wd_n),
                     land_next.eq(Cat(C(0, LIU), wb_q + 1))]
        pop = Signal()                   # the window loop is done with `ce`
        with m.If(pop):
            m.d.sync += [ce_known.eq(ce2_known | land), ce2_known.eq(ce2_known & land)]
            with m.If(ce2_known):
                m.d.sync += [ce.eq(ce2), cnext.eq(cnext2), cuser.eq(cuser2)]
                with m.If(land):
                    m.d.sync += [ce2.eq(land_ce), cnext2.eq(land_next), cuser2.eq(wd_part)]
            with m.Else():
                m.d.sync += [ce.eq(land_ce), cnext.eq(land_next), cuser.eq(wd_part)]
        with m.Elif(land):
            with m.If(ce_known):
                m.d.sync += [ce2_known.eq(1), ce2.eq(land_ce), cnext2.eq(land_next),
                             cuser2.eq(wd_part)]
            with m.Else():
                m.d.sync += [ce_known.eq(1), ce.eq(land_ce), cnext.eq(land_next),
                             cuser.eq(wd_part)]
        ends_next = Signal(range(4))
        m.d.comb += ends_next.eq(ends + (take_in & i.p.last) - pop)
        m.d.sync += [ends.eq(ends_next), ends_full.eq(ends_next >= 2)]
        # What may be read: the chunk's end once it has landed, else the ring's
        # contents (a register, so the comparisons with it start at flip-flops)
        lim = Signal(PB)
        lim_known = Signal()
        lim_nx = Signal(PB)
        m.d.comb += [
            lim_known.eq(Mux(pop, ce2_known | land, ce_known | land)),
            lim_nx.eq(Mux(lim_known,
                          Mux(pop, Mux(ce2_known, ce2, land_ce), Mux(ce_known, ce, land_ce)),
                          Cat(C(0, LIU), wb))),
        ]
        # (`ce_settled`: `ce` and `lim` reflect the chunk's end, as they did a
        # cycle before)
        ce_settled = Signal()
        m.d.sync += [lim.eq(lim_nx), ce_settled.eq(ce_known & ~pop)]

        # ---- the count of the next chunk ------------------------------------------
        # (with the facts the chunk's start needs derived as it is taken: the
        # decode was the start's path, the count's register -> `w_out`)
        pend = Signal()
        pend_cnt = Signal(self._count_bits)
        pend_zero, pend_last = Signal(), Signal()
        pend_r = Signal(range(WINDOW + 1))
        pend_out = Signal(WINDOW)
        m.d.comb += self.count.ready.eq(~pend)
        with m.If(self.count.valid & ~pend):
            cnt = self.count.p
            m.d.sync += [pend.eq(1), pend_cnt.eq(cnt), pend_zero.eq(cnt == 0),
                         pend_last.eq(_at_most_pow2(cnt, WINDOW)),
                         pend_r.eq(((cnt[:5] - 1) & (WINDOW - 1)) + 1),
                         pend_out.eq(Mux(cnt[:5] == 0, 0, ~thermometer(cnt[:5], WINDOW)))]

        # ---- window loop ------------------------------------------------------------
        act = Signal()                   # a chunk is being read
        zero = Signal()                  # ... with no elements
        failed = Signal()                # ... and found malformed: dropping it
        wsv = Signal()                   # a mask is due at `ws`
        ws = Signal(PB)                  # where the next mask starts
        # (the chunk's number mod 4, which descriptors carry: the step loop holds
        # at most two entries, so with the window loop's chunk three are in
        # flight, e.g. a window of chunk c, an empty chunk c + 1's null beat,
        # and a failure in c + 2 that must not flush chunk c)
        ctag = Signal(2)
        rem = Signal(self._count_bits)   # elements of the windows not yet read
        w_last = Signal()                # the window at `ws` is the chunk's last
        w_r = Signal(range(WINDOW + 1))  # ... and has this many elements (if last)
        w_out = Signal(WINDOW)           # ... whose mask must leave these bits clear
        code = Signal(4)
        m.d.comb += self.error_code.eq(code)

        # The mask at `ws`: its beats (one ring copy per beat read, their slots
        # registered with `ws`), the mask and its units' popcounts picked by
        # `ws`'s offset in the beat.
        NBM = -(-(MU + IU - 1) // IU)
        ws_next = Signal(PB)
        ws_slot = [(ws_next[LIU:LIU + SL] + k)[:SL] for k in range(NBM)]   # (registered in ring_read)
        m.d.sync += ws.eq(ws_next)
        accept = Signal()                # the window at `ws` is taken (into R2, or moved)
        fail = Signal()                  # the chunk is found malformed
        flush = Signal()                 # ... last cycle (a register)
        # (`wsm` = `ws` + MU, a register of its own: the mask at `ws` is there if
        # `wsm` <= `lim`)
        wsm, wsm_next = Signal(PB, init=MU), Signal(PB)
        m.d.sync += wsm.eq(wsm_next)
        there = Signal()
        m.d.comb += there.eq(ahead(lim, wsm))

        def pick_units(beats, off, ub, n):
            """The ``n`` units of ``ub`` bits at offset ``off`` of ``beats`` (ring
            read data, one beat after another)."""
            units = Cat(*beats)
            if IU == 1:
                return units[:n * ub]
            return _pick([units[k * ub:(k + n) * ub] for k in range(IU)], off)

        def units_of(pcs):
            """A window's units from its mask's units' popcounts."""
            return MU + sum(pcs[u * FW:(u + 1) * FW] for u in range(MU)) * EU

        # The window at `ws` as the move decides on it: `wv` (it is there),
        # `wt` (its units), `wtmu` (`wt` + MU), `wlast` (the chunk's last),
        # `wbad` (a short last window's mask marks elements past the count),
        # `wfree` (the stage after the move can take it).  What the descriptor
        # is written from: `d_w` (written now), the mask `d_mask`, the
        # window's start `d_ws`, the units to its first and second steps'
        # ends, steps, keep, last, the chunk's tag.
        wv, wlast, wbad, wfree = Signal(), Signal(), Signal(), Signal()
        wready = Signal()                # a last window's checks describe it
        r2_busy = Signal()               # (two steps a window: R2 holds a window)
        r2_ws = Signal(PB)               # ... which starts here
        wt = Signal(range(MU + WINDOW * EU + 1))
        wtmu = Signal(range(2 * MU + WINDOW * EU + 1))
        d_w = Signal()
        d_mask, d_ws = Signal(WINDOW), Signal(PB)
        d_t0 = Signal(range(MU + SV + 1))
        d_t1 = Signal(range(MU + 2 * SV + 1))
        d_steps = Signal(range(nb + 1))
        d_keep = Signal(L)
        d_last, d_tag = Signal(), Signal(2)
        dvalid = Signal()
        mv = Signal()                    # the window loop moves past the window at `ws`
        wv_q = Signal()                  # `wv` last cycle, the same window
        last_steps = (w_r + L - 1) >> (L.bit_length() - 1)
        last_keep = thermometer(((w_r - 1) & (L - 1)) + 1, L)
        if nb >= 4:
            # Four cycles a window (it has four steps): R1a, the mask's beats
            # (registered); R1b, the mask and popcounts; R2, the window taken
            # with what its move needs, from registers.
            r1a_all = [Signal(IU * (UB + FW), name=f"r1a_b{k}") for k in range(NBM)]
            m.d.sync += [r.eq(ring_read(f"ring_m{k}", f"ws_addr{k}", a, pc=True))
                         for k, (r, a) in enumerate(zip(r1a_all, ws_slot))]
            r1a_off = Signal(max(1, LIU))
            a1, a1_bad = Signal(), Signal()
            ok1, bad1 = Signal(), Signal()
            m.d.sync += [r1a_off.eq(ws[:LIU] if LIU else 0),
                         a1.eq(wsv & ~accept & ~fail & there),
                         a1_bad.eq(wsv & ~accept & ~fail & ~there & ce_known & ~pop & ce_settled)]
            mask1 = Signal(WINDOW)
            pc1 = Signal(MU * FW)
            m.d.sync += [mask1.eq(pick_units([r[:IU * UB] for r in r1a_all], r1a_off, UB, MU)),
                         pc1.eq(pick_units([r[IU * UB:] for r in r1a_all], r1a_off, FW, MU)),
                         ok1.eq(a1 & ~accept & ~fail), bad1.eq(a1_bad & ~fail)]
            # R2: the window taken, the descriptor written from it by the move
            t1 = units_of(pc1)
            m.d.comb += accept.eq(ok1 & ~wv & ~failed)
            with m.If(accept):
                m.d.sync += [wv.eq(1), d_mask.eq(mask1),
                             wt.eq(t1), wtmu.eq(t1 + MU),
                             d_t0.eq(MU + popcount([mask1[k] for k in range(L)]) * EU),
                             d_t1.eq(MU + popcount([mask1[k] for k in range(2 * L)]) * EU),
                             wlast.eq(w_last), wbad.eq(w_last & (mask1 & w_out).any()),
                             d_steps.eq(Mux(w_last, last_steps, nb)),
                             d_keep.eq(Mux(w_last, last_keep, (1 << L) - 1)),
                             rem.eq(rem - WINDOW), w_last.eq(_at_most_pow2(rem, 2 * WINDOW))]
            with m.If(mv | fail):
                m.d.sync += wv.eq(0)
            m.d.comb += [wfree.eq(~dvalid), d_w.eq(mv), d_ws.eq(ws), d_last.eq(wlast),
                         d_tag.eq(ctag), wready.eq(1)]
        else:
            # Two cycles a window (it has two steps).  R1: the window's units
            # (`wt`) from the ring's copy of the units' popcounts alone (a few
            # bits a unit, so the read and the pick are small: the mask's read
            # and pick in this stage were 32 x 16's path, 10.95 ns, 84 %
            # routing), whether it is there, and the mask's beats; the move
            # straight from R1, `ws` + `wt`.  The mask is picked from its beats
            # as the window moves into R2, from which the descriptor is written.
            # A last window waits for its checks (`wbad` a cycle later, the
            # end's).
            if MU == 1:
                # (a mask of one unit: the copy holds each unit's `units_of`
                # and that + MU, written from the popcounts, so R1 only reads
                # and picks: the adders after the pick were 32 x 16's path,
                # 11.05 ns, 7 levels)
                TW = 2 * FW
                tvals = Cat(*[Cat((wd_pc[u * FW:(u + 1) * FW] * EU + MU)[:FW],
                                  (wd_pc[u * FW:(u + 1) * FW] * EU + 2 * MU)[:FW])
                              for u in range(IU)])
                rt_all = [ring_read(f"ring_t{k}", f"ws_addr_t{k}", a, value=tvals)
                          for k, a in enumerate(ws_slot)]
                t_rd = pick_units(rt_all, ws[:LIU] if LIU else C(0, 1), TW, 1)
                wt_rd, wtmu_rd = t_rd[:FW], t_rd[FW:]
            else:
                rt_all = [ring_read(f"ring_t{k}", f"ws_addr_t{k}", a, data=False, pc=True)
                          for k, a in enumerate(ws_slot)]
                pc_rd = pick_units(rt_all, ws[:LIU] if LIU else C(0, 1), FW, MU)
                wt_rd = units_of(pc_rd)
                wtmu_rd = wt_rd + MU
            r1a_all = [Signal(IU * UB, name=f"r1a_b{k}") for k in range(NBM)]
            m.d.sync += [r.eq(ring_read(f"ring_m{k}", f"ws_addr{k}", a))
                         for k, (r, a) in enumerate(zip(r1a_all, ws_slot))]
            r1a_off = Signal(max(1, LIU))
            bad1 = Signal()
            m.d.sync += [r1a_off.eq(ws[:LIU] if LIU else 0),
                         wv.eq(wsv & there & ~mv & ~fail & ~failed),
                         wt.eq(wt_rd), wtmu.eq(wtmu_rd),
                         bad1.eq(wsv & ~mv & ~fail & ~there & ce_known & ~pop & ce_settled)]
            # (the mask a register of its own, `mask1`, a cycle after `wt`, and
            # the short window's check a cycle after that: picked and checked in
            # one cycle, r1a_off -> bad_q was 32 x 16's path, 13.2 ns, 11 levels)
            mask1 = Signal(WINDOW)
            bad_q = Signal()
            wv_qq = Signal()             # `wv` two cycles, the same window: `bad_q` describes it
            m.d.sync += [mask1.eq(pick_units(r1a_all, r1a_off, UB, MU)),
                         bad_q.eq(w_last & (mask1 & w_out).any()),
                         wv_qq.eq(wv_q & wv & ~mv & ~fail)]
            m.d.comb += [accept.eq(mv), wlast.eq(w_last), wbad.eq(wv_qq & bad_q),
                         wready.eq(wv_qq)]
            with m.If(mv):
                m.d.sync += [rem.eq(rem - WINDOW), w_last.eq(_at_most_pow2(rem, 2 * WINDOW))]
            # R2: the window moved past, its descriptor written when the step
            # loop's register is free (a failure flushes its chunk's).  Its
            # mask is `mask1` the cycle after the move (`fresh2`), then a copy.
            v2, ws2, t2, last2, tag2 = Signal(), Signal(PB), Signal.like(wt), Signal(), Signal(2)
            fresh2 = Signal()
            mask2, mask2h = Signal(WINDOW), Signal(WINDOW)
            steps2, keep2 = Signal(range(nb + 1)), Signal(L)
            m.d.sync += fresh2.eq(mv)
            with m.If(fresh2):
                m.d.sync += mask2h.eq(mask1)
            m.d.comb += [mask2.eq(Mux(fresh2, mask1, mask2h)),
                         wfree.eq(~v2), d_w.eq(v2 & ~dvalid & ~flush), r2_busy.eq(v2), r2_ws.eq(ws2),
                         d_mask.eq(mask2), d_ws.eq(ws2),
                         d_t0.eq(MU + popcount([mask2[k] for k in range(L)]) * EU), d_t1.eq(t2),
                         d_steps.eq(steps2), d_keep.eq(keep2), d_last.eq(last2), d_tag.eq(tag2)]
            with m.If(mv):
                m.d.sync += [v2.eq(1), ws2.eq(ws), t2.eq(wt), last2.eq(w_last), tag2.eq(ctag),
                             steps2.eq(Mux(w_last, last_steps, nb)),
                             keep2.eq(Mux(w_last, last_keep, (1 << L) - 1))]
            with m.Elif(d_w | (flush & (tag2 == ctag))):
                m.d.sync += v2.eq(0)
        # the last window's end against the chunk's (registers: `ws`, `t2`, `ce`
        # hold while the last window waits in R2)
        end_ok = Signal()
        end_chk = Signal()               # `end_ok` describes the window in R2
        # (and, before the chunk's end has landed, whether a beat that is not its
        # last already reaches past the window: bytes follow it, a failure that
        # must not wait for the end, which the ring may be too full to take in)
        # (the end is checked as `ce - ws`, a register, against `wt`: `ws` +
        # `wt` in front of the comparison was the path at 8 x 8 and 16 x 4, and
        # a register for the sum cost a cycle per chunk; `wend1` is such a
        # register, `wv_q` says it describes the window at `ws`)
        end_past = Signal()
        wend1 = Signal(PB)
        ce_ws = Signal(PB)               # ce - ws, a cycle late (see `ce_settled`)
        m.d.sync += [ce_ws.eq(ce - ws), wend1.eq(ws + wt + 1), wv_q.eq(wv & ~mv & ~fail),
                     end_ok.eq((ce_ws == wt) & ~cuser),
                     end_chk.eq(wv & wlast & ce_known & ~pop & ce_settled & ~fail & ~mv),
                     end_past.eq(wv_q & wv & wlast & ~ce_known & ~pop & ~fail & ~mv
                                 & ahead(wr, wend1))]

        # the move: a descriptor for the step loop (one register, `d*`)
        dmask, dbase = Signal(WINDOW), Signal(PB)
        dend, dend1 = Signal(PB), Signal(PB)     # the first and second steps' ends
        dsteps1 = Signal()               # a single step
        dsteps = Signal(range(nb + 1))
        dkeep = Signal(L)
        dfin, dterm, duser, dtag = Signal(), Signal(), Signal(), Signal(2)
        load = Signal()
        term = Signal()                  # a terminator's (an empty chunk's, a failure's)
        term_user = Signal()
        fail_code = Signal(4)
        finish = Signal()                # the chunk is done here (its end popped)
        m.d.comb += mv.eq(wv & wfree & ~wbad & (~wlast | (end_chk & end_ok & wready)) & ~failed)
        with m.If(d_w | term):
            m.d.sync += [dvalid.eq(1), dmask.eq(Mux(term, 0, d_mask)),
                         dbase.eq(Mux(term, wrel, d_ws + MU)),
                         dend.eq(d_ws + d_t0), dend1.eq(d_ws + d_t1),
                         dsteps.eq(Mux(term, 1, d_steps)),
                         dsteps1.eq(Mux(term, 1, d_steps == 1)),
                         dkeep.eq(Mux(term, 0, d_keep)),
                         dfin.eq(term | d_last), dterm.eq(term), duser.eq(term_user),
                         dtag.eq(Mux(term, ctag, d_tag))]
        with m.Elif(load | (flush & (dtag == ctag))):    # (never with a write: ~dvalid)
            m.d.sync += dvalid.eq(0)

        # failures: the mask past the chunk's end, a short window's mask marking
        # elements past the count, the last window's end not the chunk's; an empty
        # chunk's last beat not its first or not empty
        zero_chk = Signal()              # `zero_ok` describes the empty chunk
        zero_ok = Signal()
        zero_past = Signal()             # (a full beat of it has landed)
        m.d.sync += [zero_chk.eq(act & zero & ce_known & ~pop & ~zero_chk & ~finish & ~failed),
                     zero_ok.eq((ce == ws) & ~cuser),
                     zero_past.eq(act & zero & ~ce_known & ~pop & ~failed & ~fail
                                  & ahead(wr, (ws + 1)[:PB]))]
        m.d.comb += [
            fail.eq(act & ~failed & Mux(zero, (zero_chk & ~zero_ok) | zero_past,
                                        bad1 | (wv & wbad) | (end_chk & ~end_ok & wready) | end_past)),
            fail_code.eq(Mux(bad1 | ~(wv & wbad), ZVCError.LENGTH_MISMATCH, ZVCError.BAD_MASK)),
        ]
        m.d.sync += [self.error.eq(fail), flush.eq(fail)]
        # the terminator: an empty chunk's null beat (after its check), a failed
        # chunk's closing beat (`user` set)
        term_due = Signal()              # a failed chunk's terminator is due
        m.d.comb += [
            term.eq(~dvalid & ~r2_busy & ((act & zero & zero_chk & zero_ok & ~failed) | term_due)),
            term_user.eq(term_due),
        ]
        with m.If(fail):
            m.d.sync += [failed.eq(1), term_due.eq(1), code.eq(fail_code)]
        with m.Elif(term & term_due):
            m.d.sync += term_due.eq(0)

        # the chunk ends here: after its last window's descriptor, an empty chunk's
        # terminator, or a failed one's terminator once its last beat has landed
        m.d.comb += finish.eq(act & ((mv & wlast) | (term & zero & ~term_due)
                                     | (failed & ~term_due & ~term & ce_known & ~pop)))
        m.d.sync += pop.eq(finish)    # (registered: ce/ce2 move a cycle after the finish)
        # (a chunk starts the cycle after its predecessor's finish, not in it:
        # the finish's logic then reaches no wide enable)
        start = Signal()
        m.d.comb += start.eq(pend & ~act)
        with m.If(finish):
            m.d.sync += act.eq(0)        # (`failed`, `zero`: set at the next start)
        with m.If(start):
            m.d.sync += [act.eq(1), failed.eq(0), pend.eq(0), zero.eq(pend_zero),
                         ctag.eq(ctag + 1), code.eq(ZVCError.OK),
                         rem.eq(pend_cnt), w_last.eq(pend_last), w_r.eq(pend_r),
                         w_out.eq(pend_out)]
        # `wsv`: a mask is due at `ws` -- from a start with elements to the chunk's
        # last window, after each non-last window's move
        with m.If(start):
            m.d.sync += wsv.eq(~pend_zero)
        with m.Elif(fail | (accept & (wlast if nb < 4 else 1))):
            m.d.sync += wsv.eq(0)
        with m.Elif(mv & ~wlast):
            m.d.sync += wsv.eq(1)
        # `ws`: past the window on a move; the next chunk's start when one ends
        m.d.comb += [ws_next.eq(Mux(finish, cnext, Mux(mv, (ws + wt)[:PB], ws))),
                     wsm_next.eq(Mux(finish, (cnext + MU)[:PB], Mux(mv, (ws + wtmu)[:PB], wsm)))]

        # the window loop's release point: where its next mask is, or while a
        # failed chunk is dropped everything that has landed (its end, the next
        # chunk's start, once it has)
        m.d.comb += wrel.eq(Mux(act & failed, Mux(ce_known, cnext, wr), ws))

        # ---- step loop --------------------------------------------------------------
        DEPTH = 16                       # (a LUT RAM is 16 deep)
        m.submodules.out = out = WideFIFO(L * E + L + 2, DEPTH, copies=max(1, L * E // 64))
        issued = Signal(range(DEPTH + 1))
        room = Signal(init=1)
        o_take = Signal()
        m.d.comb += [
            o.valid.eq(out.r_valid), out.r_en.eq(o.ready), o_take.eq(o.valid & o.ready),
            o.p.data.eq(out.r_data[:L * E]), o.p.keep.eq(out.r_data[L * E:L * E + L]),
            o.p.last.eq(out.r_data[L * E + L]), o.p.user.eq(out.r_data[L * E + L + 1]),
        ]
        have = Signal()                  # a window (or terminator) is being stepped
        sm = Signal(WINDOW)              # its mask, shifted down `lanes` bits a step
        pos = Signal(PB)                 # the step's first unit
        end = Signal(PB)                 # ... and the unit after its last
        endn = Signal(PB)                # the next step's end
        left = Signal(range(nb + 1))
        lastst = Signal()                # left == 1
        fin, sterm, suser, stag = Signal(), Signal(), Signal(), Signal(2)
        skeep = Signal(L)
        issue = Signal()
        avail = Signal()                 # the step's units are in the ring (below)
        m.d.comb += [
            issue.eq(have & room & (sterm | avail)),
            # (no load in a flush's cycle, whatever the chunks: the tag
            # comparison stays off the load's path)
            load.eq(dvalid & (~have | (issue & lastst)) & ~flush),
        ]
        # `avail`: the step's units are in the ring (`end` <= `lim`), a register:
        # `end`'s three next values (no step, a step, a load) are each compared
        # with `lim` and the decision only picks one (`lim` a cycle late is never
        # more than the ring holds: it only grows)
        m.d.sync += avail.eq(Mux(load, ahead(lim, dend),
                                 Mux(issue, ahead(lim, endn), ahead(lim, end))))
        m.d.sync += [issued.eq(issued + issue - o_take),
                     room.eq(room_after(m, issued, DEPTH, issue, o_take))]
        NBV = -(-(SV + IU - 1) // IU)
        pos_next = Signal(PB)
        pos_slot = [(pos_next[LIU:LIU + SL] + k)[:SL] for k in range(NBV)]   # (registered in ring_read)
        m.d.sync += pos.eq(pos_next)
        m.d.comb += pos_next.eq(pos)
        with m.If(load):
            m.d.sync += [have.eq(1), sm.eq(dmask),
                         end.eq(dend), endn.eq(dend1),
                         left.eq(dsteps), lastst.eq(dsteps1),
                         fin.eq(dfin), sterm.eq(dterm), suser.eq(duser), skeep.eq(dkeep),
                         stag.eq(dtag)]
            m.d.comb += pos_next.eq(dbase)
        with m.Elif(issue):
            # (the step after next's end: none at two steps a window)
            cnn = popcount([sm[2 * L + k] for k in range(L)]) * EU if 3 * L <= WINDOW else 0
            m.d.sync += [sm.eq(sm >> L), end.eq(endn), endn.eq(endn + cnn),
                         left.eq(left - 1), lastst.eq(left == 2)]
            m.d.comb += pos_next.eq(end)
            with m.If(lastst):
                m.d.sync += have.eq(0)
        with m.If(flush & (stag == ctag)):    # (never with a load: see `load`)
            m.d.sync += have.eq(0)
        # the release point: the step's position while the step loop holds a
        # window of the chunks in flight, else the window loop's (everything
        # that has landed while a failed chunk's end has not)
        m.d.comb += rel.eq(Mux(have | dvalid, pos, Mux(r2_busy, r2_ws, wrel)))

        # the step's units: its beats (S1), shifted to its first unit (S2)
        s1_b = [Signal(IU * UB, name=f"s1_b{k}") for k in range(NBV)]
        m.d.sync += [r.eq(ring_read(f"ring_s{k}", f"pos_addr{k}", a))
                     for k, (r, a) in enumerate(zip(s1_b, pos_slot))]
        s1 = Cat(*s1_b)
        s1_off = Signal(max(1, LIU))
        s1_v, s1_mask, s1_keep, s1_last, s1_user = Signal(), Signal(L), Signal(L), Signal(), Signal()
        m.d.sync += [s1_off.eq(pos[:LIU] if LIU else 0), s1_v.eq(issue),
                     s1_mask.eq(sm[:L]),
                     s1_keep.eq(Mux(sterm, 0, Mux(lastst & fin, skeep, (1 << L) - 1))),
                     s1_last.eq(lastst & fin), s1_user.eq(sterm & suser)]
        s1_side = [s1_v, s1_mask, s1_keep, s1_last, s1_user]
        if IU > 1 and SV * UB > SHIFT_BITS and LIU >= 2:
            # (wide steps, 64 B at 32 x 16: the shift in two stages, by the
            # offset's high bits, then its two low ones; in one, 16:1 over 512
            # bits, it was the path after the ring's read, 13.75 ns, 93 % routing)
            HI = 1 << (LIU - (LIU // 2))    # (the low part: LIU // 2 bits)
            LO = IU // HI
            sa = Signal((SV + LO - 1) * UB)
            sa_off = Signal(LIU // 2)
            sa_side = [Signal.like(x, name=f"sa_side{k}") for k, x in enumerate(s1_side)]
            m.d.sync += [sa.eq(_pick([s1[h * LO * UB:(h * LO + SV + LO - 1) * UB] for h in range(HI)],
                                     s1_off[LIU // 2:])),
                         sa_off.eq(s1_off[:LIU // 2]),
                         *[r.eq(x) for r, x in zip(sa_side, s1_side)]]
            shifted = _pick([sa[k * UB:(k + SV) * UB] for k in range(LO)], sa_off)
            s1_side = sa_side
        elif IU > 1:
            shifted = _pick([s1[k * UB:k * UB + SV * UB] for k in range(IU)], s1_off)
        else:
            shifted = s1[:SV * UB]
        s2 = Signal(SV * UB)
        s2_v, s2_mask, s2_keep, s2_last, s2_user = Signal(), Signal(L), Signal(L), Signal(), Signal()
        s2_mask_nx = Mux(s1_side[0], s1_side[1], 0)
        m.d.sync += [
            s2.eq(shifted),
            s2_v.eq(s1_side[0]), s2_mask.eq(s2_mask_nx), s2_keep.eq(s1_side[2]),
            s2_last.eq(s1_side[3]), s2_user.eq(s1_side[4]),
        ]
        slots = [s2[l * E:(l + 1) * E] for l in range(L)]
        # (at 16 lanes the flags' prefix counts a stage ahead: the mask ->
        # flags in one stage was 32 x 16's path, 10.13 ns, 8 levels)
        data, side = expand_pipelined(m, s2_mask, slots, [s2_v, s2_keep, s2_last, s2_user], "x",
                                      mask_early=s2_mask_nx if L >= 16 else None)
        x_valid, x_keep, x_last, x_user = side
        m.d.comb += [out.w_en.eq(x_valid), out.w_data.eq(Cat(*data, x_keep, x_last, x_user))]
        return m
