"""Fetch unit: AXI4 read bursts into a fetch buffer, with outstanding reads."""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from ..skid import SkidBuffer
from ..streams import check_positive_int
from .axi import max_burst_beats, next_burst, read_members

__all__ = ["FetchUnit", "span_layout", "BEATS_BITS"]

#: Bits of a beat count: enough for a descriptor's 32-bit length in beats of one byte.
BEATS_BITS = 32


def span_layout(addr_width: int) -> data.StructLayout:
    """A range of whole beats: start ``addr`` (beat-aligned) and ``beats``."""
    return data.StructLayout({"addr": addr_width, "beats": BEATS_BITS})


class FetchUnit(wiring.Component):
    """Read ``beats`` aligned beats from ``addr`` with AXI4 INCR bursts.

    Bursts are at most ``max_burst_beats(data_bytes)`` beats (<= 256, never
    crossing 4 KiB).  A burst is issued only when the fetch buffer has room for
    all of it, so ``rready`` is always high and up to ``buffer_beats`` beats
    (and at most ``max_outstanding`` bursts) are in flight or buffered: that is
    what hides the memory latency.

    Parameters
    ----------
    addr_width : int
    data_bytes : int
        Bytes per beat (power of two).
    buffer_beats : int
        Depth of the fetch buffer, at least one longest burst.
    max_outstanding : int
        Bursts in flight at most.

    Members
    -------
    cmd : In(stream.Signature(span_layout(addr_width)))
        One range to read; taken when the previous one has been requested.
    o : Out(stream.Signature(8 * data_bytes))
        The beats, in address order, from a register slice after the buffer.
    ar_* / r_* : the read channels (see :class:`~cdma.hw.engine.axi.AXI4Signature`).
    rresp : Out(2)
        Worst ``RRESP`` seen since the last ``cmd``, sticky.
    idle : Out(1)
        No range being requested and no burst in flight.
    """

    def __init__(self, *, addr_width: int, data_bytes: int, buffer_beats: int,
                 max_outstanding: int):
        check_positive_int("data_bytes", data_bytes)
        check_positive_int("max_outstanding", max_outstanding)
        self._aw, self._db = addr_width, data_bytes
        self._burst = max_burst_beats(data_bytes)
        check_positive_int("buffer_beats", buffer_beats, minimum=self._burst)
        self._depth, self._maxo = buffer_beats, max_outstanding
        dw = 8 * data_bytes
        super().__init__({
            "cmd": In(stream.Signature(span_layout(addr_width))),
            "o": Out(stream.Signature(dw)),
            **read_members(addr_width, data_bytes),
            "resp": Out(2), "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        DB, D = self._db, self._depth
        shift = DB.bit_length() - 1
        m.submodules.buf = buf = fifo.SyncFIFOBuffered(width=8 * DB, depth=D)
        # The buffer (block RAM) is read through a register slice: a block RAM's
        # output is slow to the fabric (DOB -> the chunker -> the compressors'
        # first stage was the offload unit's critical path at 16 B, 13.1 ns).
        m.submodules.o_slice = o_slice = SkidBuffer(8 * DB, copies=max(1, DB // 8))
        addr = Signal(self._aw)              # the next burst's start ...
        remaining = Signal(BEATS_BITS)       # ... and the beats still to request
        # `remaining == 0`, a register kept beside it: `cmd.ready` (which the
        # offload unit's start decision waits on) is then a flip-flop, not a
        # wide OR (fetch `remaining` -> `cmd.ready` -> start -> the frame
        # reader's state was the 16 B engine's path at seed 1 of 5c420be,
        # 11.8 ns)
        none_left = Signal(init=1)
        reserved = Signal(range(D + 1))      # beats requested and not yet popped
        outstanding = Signal(range(self._maxo + 1))
        # The AR channel is registered, and so is everything an issue decides
        # on: the next burst's length (from `addr` and `remaining`, through a
        # subtraction and two compares), whether the buffer has room for it
        # and whether a burst more may be outstanding.  Each is a cycle behind
        # what it reads, so after every change of `addr` or the counters
        # (`settle`) the unit waits two cycles before it issues again: a burst
        # every 3 cycles at most, which only matters for bursts shorter than 3
        # beats (the first and last of a 4 KiB page may be).  Without the
        # registers, address -> page end -> burst -> room compare -> ARVALID ->
        # address enable was the 16 B engine's critical path (16.3 ns, 33
        # carry-chain steps).
        blen = Signal(range(self._burst + 1))   # the next burst's beats
        fits = Signal()                      # `blen` fits in the buffer ...
        may = Signal()                       # ... and a burst more may be outstanding
        settle = Signal(2)                   # cycles until `blen`, `fits`, `may` are current
        m.d.sync += [blen.eq(next_burst(m, addr, remaining, DB)),
                     fits.eq(reserved + blen <= D), may.eq(outstanding < self._maxo),
                     settle.eq(Mux(settle != 0, settle - 1, 0))]
        issue = Signal()
        m.d.comb += [
            issue.eq(~self.arvalid & (settle == 0) & (blen != 0) & fits & may),
            self.cmd.ready.eq(none_left),
        ]
        ar_hs = self.arvalid & self.arready
        r_hs = self.rvalid & self.rready
        pop = buf.r_rdy & buf.r_en           # (a beat leaves the buffer for the slice)
        m.d.comb += [
            buf.w_data.eq(self.rdata), buf.w_en.eq(self.rvalid), self.rready.eq(buf.w_rdy),
            o_slice.i.payload.eq(buf.r_data), o_slice.i.valid.eq(buf.r_rdy),
            buf.r_en.eq(o_slice.i.ready),
            self.o.payload.eq(o_slice.o.payload), self.o.valid.eq(o_slice.o.valid),
            o_slice.o.ready.eq(self.o.ready),
            self.idle.eq(none_left & (outstanding == 0) & ~self.arvalid),
        ]
        # (`reserved` and `outstanding` count a burst once its AR is taken)
        m.d.sync += reserved.eq(reserved + Mux(ar_hs, self.arlen + 1, 0) - pop)
        m.d.sync += outstanding.eq(outstanding + ar_hs - (r_hs & self.rlast))
        with m.If(issue):
            m.d.sync += [self.araddr.eq(addr), self.arlen.eq(blen - 1), self.arvalid.eq(1),
                         addr.eq(addr + (blen << shift)), remaining.eq(remaining - blen),
                         none_left.eq(remaining == blen), settle.eq(2)]
        with m.If(ar_hs):
            m.d.sync += [self.arvalid.eq(0), settle.eq(2)]
        with m.If(r_hs & (self.rresp > self.resp)):
            m.d.sync += self.resp.eq(self.rresp)
        with m.If(self.cmd.valid & self.cmd.ready):
            m.d.sync += [addr.eq(self.cmd.p.addr), remaining.eq(self.cmd.p.beats),
                         none_left.eq(self.cmd.p.beats == 0),
                         self.resp.eq(0), settle.eq(2)]
        return m
