"""Write unit of the prefetch path: data beats -> AXI4 write bursts inside [dst, dst + length)."""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, fifo, stream
from amaranth.lib.wiring import In, Out

from ..skid import SkidBuffer
from .axi import next_burst, write_members
from .params import LENGTH_BITS, EngineUnit, write_burst_beats

__all__ = ["WriteUnit", "write_beat_layout"]

#: Issued bursts whose beats are still to be written: one ``AWLEN`` each in a queue
#: that W reads.  Bursts leave it as fast as the memory takes W beats, so it only
#: has to cover the bursts the buffer holds data for plus the AW/W skew of an
#: interconnect; beyond that an AW simply waits.
BURST_QUEUE_DEPTH = 16
#: Bursts waiting for their write response, at most (the counter's range).
MAX_OPEN_BURSTS = 255


def write_beat_layout(data_bytes: int) -> data.StructLayout:
    """A memory beat to write: ``data`` and byte ``strb``."""
    return data.StructLayout({"data": 8 * data_bytes, "strb": data_bytes})


class WriteUnit(EngineUnit):
    """Write a stream of beats to ``[addr, addr + length)`` with AXI4 INCR bursts.

    The destination-range guard lives here: beats past ``ceil(length /
    mem_bytes)``, and beats that arrive while no transfer runs or after one
    was ended early, are dropped, and the strobes of the final beat are cut at
    ``addr + length``, whatever the input says (proven: ``docs/FORMAL.md``).  A burst (at most
    :func:`~cdma.hw.engine.params.write_burst_beats` beats, 1 KiB, never
    crossing 4 KiB) is issued only when all its data is in the write buffer, so
    a frame that stops early never leaves a burst half-written; short bursts
    keep the wait for the transfer's last one short.  The W beats leave
    through a register slice (``WVALID`` and the payload are flip-flops,
    ``WREADY`` reaches only the slice), a beat entering it once its burst's
    AW has been issued.

    ``finish`` ends the transfer: with ``ok`` set the unit waits for every beat
    to be written and acknowledged; otherwise it waits for the bursts already
    issued (including one whose AW is still waiting for ``AWREADY``: it is
    completed, written and acknowledged), then empties the buffer.  ``done``
    carries the worst ``BRESP``.

    Members
    -------
    start : In(stream.Signature({"addr", "length"}))
    i : In(stream.Signature(write_beat_layout(mem_bytes)))
    finish : In(stream.Signature({"ok": 1}))
    done : Out(stream.Signature({"resp": 2}))
    awaddr, awlen, awvalid, awready, wdata, wstrb, wlast, wvalid, wready, bresp, bvalid, bready
    """

    def __init__(self, params):
        super().__init__(params, lambda p: {
            "start": In(stream.Signature(data.StructLayout({"addr": p.addr_width,
                                                            "length": LENGTH_BITS}))),
            "i": In(stream.Signature(write_beat_layout(p.mem_bytes))),
            "finish": In(stream.Signature(data.StructLayout({"ok": 1}))),
            "done": Out(stream.Signature(data.StructLayout({"resp": 2}))),
            **write_members(p.addr_width, p.mem_bytes),
        })

    def elaborate(self, platform):
        m = Module()
        p = self._p
        MB, D = p.mem_bytes, p.write_beats
        shift = MB.bit_length() - 1
        m.submodules.buf = buf = fifo.SyncFIFOBuffered(width=9 * MB, depth=D)
        WB = write_burst_beats(MB)
        m.submodules.lens = lens = fifo.SyncFIFOBuffered(width=max(1, (WB - 1).bit_length()),
                                                         depth=BURST_QUEUE_DEPTH)

        IDLE, RUN, FLUSH, DONE = range(4)
        state = Signal(range(4))
        addr = Signal(p.addr_width)
        # Beats of the whole range: a 32-bit length in beats of MB bytes, rounded up.
        max_beats = ((1 << LENGTH_BITS) - 1 + MB - 1) >> shift
        to_issue = Signal(range(max_beats + 1))   # beats not yet covered by an AW
        to_accept = Signal(range(max_beats + 1))  # beats the guard still lets in
        final_strb = Signal(MB)
        # `to_accept == 1` is a register kept beside the count (a start sets it
        # from the length, a buffered beat moves it on), and so is `to_accept
        # != 0` inside `accepting` (below), so the input's `ready` and the last
        # beat's strobes do not wait for a 28-bit compare.  (`to_accept != 0`
        # -> `ready` -> the decode stage's output slice enables was the 16 B
        # engine's path at d7551f8, seed 1, 13.1 ns.)
        a_one = Signal(name="a_one")
        committed = Signal(range(D + 1))  # beats in buf covered by an AW, not yet sent
        outstanding = Signal(range(MAX_OPEN_BURSTS + 1))  # bursts without B
        resp = Signal(2)
        finishing = Signal()
        aw_hold = Signal()               # AWVALID stays up until AWREADY
        ok = Signal()

        length = self.start.p.length
        m.d.comb += self.start.ready.eq(state == IDLE)
        with m.If(self.start.valid & self.start.ready):
            nb = (length + MB - 1) >> shift
            some = length != 0           # (nb != 0; nb == 1 when 0 < length <= MB)
            m.d.sync += [addr.eq(self.start.p.addr), to_issue.eq(nb), to_accept.eq(nb),
                         a_one.eq(some & (length <= MB)),
                         final_strb.eq(Mux(length[:shift] == 0, (1 << MB) - 1,
                                           Cat(*[length[:shift] > k for k in range(MB - 1)], 0))),
                         resp.eq(0), finishing.eq(0), state.eq(RUN)]

        # input with the range guard: only a running transfer that has not been
        # ended early lets beats into the buffer.  (Beats that came after an early
        # `finish` -- to_accept is still nonzero then -- used to be buffered during
        # FLUSH, DONE and IDLE and went out as the next transfer's first beats, with
        # the old transfer's strobes: past the new range's end.  Found by the formal
        # write-guard proof, docs/FORMAL.md.)
        # (`accepting` = RUN & `to_accept != 0` & not ended early, kept as a
        # register of its own beside those it follows: a start sets it from the
        # length, a buffered beat from `a_one`, an early `finish` clears it;
        # formed from `state` and the flags it put the write unit's `state` ->
        # input `ready` -> the decode stage's output slice on the 16 B
        # engine's path, 13.1 ns)
        accepting = Signal()
        last_beat = a_one
        strb = Mux(last_beat, self.i.p.strb & final_strb, self.i.p.strb)
        m.d.comb += [buf.w_data.eq(Cat(self.i.p.data, strb)),
                     buf.w_en.eq(self.i.valid & accepting),
                     self.i.ready.eq(~accepting | buf.w_rdy)]
        buf_w = self.i.valid & self.i.ready & accepting
        with m.If(buf_w):
            m.d.sync += [to_accept.eq(to_accept - 1), accepting.eq(~a_one),
                         a_one.eq(to_accept == 2)]
        with m.If(self.start.valid & self.start.ready):
            m.d.sync += accepting.eq(length != 0)

        # AW
        # The AW decision reads registers only.  `burst`, the next burst's
        # length, is computed from `addr` and `to_issue` in the cycle after they
        # change, and `may_issue` from `burst` in the cycle after that: the
        # burst's beats are buffered and not yet covered by an AW (counted in
        # `uncommitted`), the burst queue has room and a burst more may be
        # outstanding.  `settle` holds the AW back for those two cycles after an
        # AW or a start (an AW every 3 cycles at most, against bursts of up to
        # `WB` beats); otherwise `may_issue` is never too eager, as between AWs
        # `uncommitted` only grows and the queue and `outstanding` only shrink.
        # (`buf.level - committed >= burst` here, behind the FIFO's level adder
        # and through AWVALID into the queue's level, was the 16 B engine's
        # critical path: 15.7 ns at speed 6.)
        burst = Signal(range(WB + 1), name="burst_len")
        uncommitted = Signal(range(D + 1))  # beats in buf not covered by an AW
        may_issue = Signal()
        settle = Signal(2)                 # cycles until `burst`, `may_issue` are current
        start_hs = self.start.valid & self.start.ready
        # (a beat buffered in this cycle counts already, so an AW can go in the
        # cycle after its last beat is buffered: both outcomes are compared
        # from registers, and `buf_w` only picks one)
        fits = (uncommitted >= burst) | (buf_w & (uncommitted + 1 >= burst))
        # (`burst` is 0 only when `to_issue` is: a page has at least a beat left)
        m.d.sync += [burst.eq(next_burst(m, addr, to_issue, MB, WB)),
                     may_issue.eq((burst != 0) & fits & lens.w_rdy
                                  & (outstanding != MAX_OPEN_BURSTS))]
        m.d.comb += [
            self.awaddr.eq(addr), self.awlen.eq(burst - 1),
            self.awvalid.eq(aw_hold | ((state == RUN) & (settle == 0) & may_issue
                                       & ~(finishing & ~ok))),
        ]
        aw_hs = self.awvalid & self.awready
        m.d.sync += [aw_hold.eq(self.awvalid & ~self.awready),
                     settle.eq(Mux(aw_hs | start_hs, 2, Mux(settle != 0, settle - 1, 0)))]
        m.d.comb += [lens.w_data.eq(burst - 1), lens.w_en.eq(aw_hs)]
        with m.If(aw_hs):
            m.d.sync += [addr.eq(addr + (burst << shift)), to_issue.eq(to_issue - burst)]
        m.d.sync += uncommitted.eq(Mux(start_hs, 0, uncommitted + buf_w - Mux(aw_hs, burst, 0)))

        # W
        # beats of the current burst written (not Signal.like(lens.r_data): the FIFO's
        # data output is reset-less, and this counter must restart at reset)
        wcount = Signal(len(lens.r_data))
        # `committed != 0` is a register, kept from the handshakes: an AW makes
        # it nonzero (a burst is at least a beat, more than a W takes); a W
        # alone leaves it nonzero if it was 2 or more.  (The compare in
        # `wvalid`, into the buffer's read enable, was the 16 B engine's path
        # at 328d901, seed 3, 12.4 ns, 7 levels.)
        c_nz = Signal()
        # The beats leave through a register slice on the W channel: `WREADY`
        # reaches only its flip-flops.  (`WREADY` -> the buffer's read enable
        # -> its level and output registers was the 16 B engine's path at
        # seed 3, 12.4 ns, 88 % routing.)  A beat enters it once its burst's
        # AW is issued, as it went out on W before; `committed` counts it
        # there, and `outstanding` (no B yet) covers a beat still in the slice.
        m.submodules.w_slice = w_slice = SkidBuffer(
            data.StructLayout({"data": 8 * MB, "strb": MB, "last": 1}), copies=max(1, MB // 8))
        w = w_slice.i
        m.d.comb += [w.valid.eq(buf.r_rdy & lens.r_rdy & c_nz),
                     w.p.data.eq(buf.r_data[:8 * MB]), w.p.strb.eq(buf.r_data[8 * MB:]),
                     w.p.last.eq(wcount == lens.r_data),
                     self.wvalid.eq(w_slice.o.valid), self.wdata.eq(w_slice.o.p.data),
                     self.wstrb.eq(w_slice.o.p.strb), self.wlast.eq(w_slice.o.p.last),
                     w_slice.o.ready.eq(self.wready)]
        w_hs = w.valid & w.ready
        flush_pop = (state == FLUSH) & buf.r_rdy
        m.d.comb += [buf.r_en.eq(w_hs | flush_pop), lens.r_en.eq(w_hs & w.p.last)]
        with m.If(w_hs):
            m.d.sync += wcount.eq(Mux(w.p.last, 0, wcount + 1))
        m.d.sync += [committed.eq(committed + Mux(aw_hs, burst, 0) - w_hs),
                     c_nz.eq(aw_hs | Mux(w_hs, committed >= 2, c_nz))]

        # B
        m.d.comb += self.bready.eq(1)
        b_hs = self.bvalid
        m.d.sync += outstanding.eq(outstanding + aw_hs - b_hs)
        with m.If(b_hs & (self.bresp > resp)):
            m.d.sync += resp.eq(self.bresp)

        # finish
        m.d.comb += self.finish.ready.eq((state == RUN) & ~finishing)
        with m.If(self.finish.valid & self.finish.ready):
            m.d.sync += [finishing.eq(1), ok.eq(self.finish.p.ok)]
            with m.If(~self.finish.p.ok):
                m.d.sync += accepting.eq(0)
        # An AW already presented must complete (AXI: AWVALID stays up until AWREADY)
        # and its W beats and B follow before the transfer ends: otherwise the burst
        # would be accepted after `done` and take the next frame's first beats.
        settled = (committed == 0) & (outstanding == 0) & ~self.awvalid
        with m.If((state == RUN) & finishing & settled & (~ok | (to_issue == 0))):
            m.d.sync += state.eq(FLUSH)
        with m.If((state == FLUSH) & ~buf.r_rdy & (buf.level == 0)):
            m.d.sync += state.eq(DONE)
        m.d.comb += [self.done.valid.eq(state == DONE), self.done.p.resp.eq(resp)]
        with m.If(self.done.valid & self.done.ready):
            m.d.sync += state.eq(IDLE)
        return m
