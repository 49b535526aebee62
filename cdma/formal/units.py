"""Stream-rule property sets of the engine's units (``hw/engine``).

The units are proven on a small engine configuration (:data:`UNIT_CONFIG`):
8-bit elements, 16-byte memory beats (the smallest the engine takes),
4-byte PCIe beats, 512-byte chunks (the format's smallest), 16 address bits,
buffers at their smallest (one longest burst).  Every input is free
(``AnySeq``) and keeps the stream rules (assumed); every stream output must
keep them (asserted): ``valid`` and the payload hold until the transfer, and
``valid`` is low in the cycle after a reset.  The reset is free too.

A unit that talks to an AXI slave gets a legal one (:func:`legal_read_slave`):
free ``ARREADY`` and R beats, but an R beat only for a beat requested and not
yet returned, ``RLAST`` only while a burst is open; a reset clears the
slave's books with the unit's.  ``docs/FORMAL.md`` lists what each set
proves and what it leaves out.
"""
from __future__ import annotations

from amaranth.hdl import Assert, Assume, Cat, Cover, Mux, Signal

from .faults import patched
from .harness import (FormalTop, assert_copies_equal, assert_stream_out, assume_stream_in,
                      find_origin, find_signal, free, past)

__all__ = ["UNIT_CONFIG", "unit_params", "legal_read_slave", "ParserRules", "FetchRules",
           "OffloadRules", "PrefetchRules"]

#: The engine configuration of the unit proofs (overrides of ``EngineParams``).
UNIT_CONFIG = dict(elem_bits=8, mem_bytes=16, pcie_bytes=4, chunk_bytes=512, addr_width=16,
                   codecs=1, fetch_beats=256, max_outstanding=2, write_beats=256,
                   chunk_banks=2, dec_instances=1)


def unit_params(**overrides):
    """The :class:`~cdma.hw.engine.params.EngineParams` of the unit proofs."""
    from cdma.hw.engine.params import EngineParams
    return EngineParams(**{**UNIT_CONFIG, **overrides})


class _Channel:
    """A valid/ready/payload view of an AXI channel, for the stream-rule helpers."""

    def __init__(self, valid, ready, *payload):
        from amaranth.hdl import Cat
        self.valid, self.ready, self.payload = valid, ready, Cat(*payload)


def _waited_then_left(m, s, rst, prefix):
    """A cover condition: an output beat that waited under backpressure, then left."""
    waited = past(m, s.valid & ~s.ready & ~rst, f"{prefix}_waited")
    return waited & s.valid & s.ready & ~rst


def legal_read_slave(m, unit, rst, prefix="r"):
    """Drive the AXI read channels of ``unit`` as a free but legal slave.

    ``ARREADY`` and the R beats are free; R keeps the handshake rules; an R
    beat comes only for a beat requested and not yet returned, ``RLAST`` only
    while a burst is open.  Returns ``(inflight, bursts)``: beats requested
    and not returned, bursts requested and not closed by ``RLAST`` (both
    cleared by a reset, as the slave is).
    """
    free(m, unit.arready, unit.rvalid, unit.rdata, unit.rresp, unit.rlast)
    assume_stream_in(m, _Channel(unit.rvalid, unit.rready, unit.rdata, unit.rresp, unit.rlast),
                     rst, prefix)
    inflight = Signal(10, name=f"{prefix}_inflight", reset_less=True)
    bursts = Signal(4, name=f"{prefix}_bursts", reset_less=True)
    ar_hs = unit.arvalid & unit.arready
    r_hs = unit.rvalid & unit.rready
    with m.If(rst):
        m.d.sync += [inflight.eq(0), bursts.eq(0)]
    with m.Else():
        m.d.sync += [inflight.eq(inflight + (ar_hs * (unit.arlen + 1)) - r_hs),
                     bursts.eq(bursts + ar_hs - (r_hs & unit.rlast))]
    m.d.comb += Assume(~unit.rvalid | (inflight != 0))
    m.d.comb += Assume(~(unit.rvalid & unit.rlast) | (bursts != 0))
    return inflight, bursts


def _fetch_invariants(m, frag, path, rst, inflight, bursts, depth, max_outstanding,
                      data_bytes):
    """The fetch unit's books against the slave's (asserted: proven with the rest).

    ``reserved`` (beats requested and not yet popped) is what the buffer holds
    plus what is in flight; ``outstanding`` is the slave's open bursts.
    Without them an induction trace may start from a ``reserved`` below the
    buffer's level, which wraps on the next pop and drops ``ARVALID``.  The
    registered issue checks: a waiting AR fits in the buffer and may be
    outstanding; once settled, ``fits`` and ``may`` never claim more room
    than there is, and ``blen`` is the next burst of ``addr`` and
    ``remaining`` a cycle before that."""
    from amaranth.lib.fifo import SyncFIFOBuffered
    from cdma.hw.engine.axi import next_burst
    sig = lambda name: find_signal(frag, name, path)
    reserved, outstanding = sig("reserved"), sig("outstanding")
    arvalid, arlen, settle = sig("arvalid"), sig("arlen"), sig("settle")
    blen, fits, may = sig("blen"), sig("fits"), sig("may")
    (_, buf), = [(p, b) for p, b in find_origin(frag, SyncFIFOBuffered, "buf")
                 if p == "/".join(path + ("buf",))]
    with m.If(~rst):
        m.d.comb += [
            Assert(reserved == buf.level + inflight, "fetch: reserved != buffered + in flight"),
            Assert(reserved <= depth, "fetch: reserved past the buffer"),
            Assert(outstanding == bursts, "fetch: outstanding != open bursts"),
            Assert(outstanding <= max_outstanding, "fetch: too many bursts"),
            Assert(settle <= 2, "fetch: settle out of range"),
            Assert(~arvalid | ((reserved + arlen + 1 <= depth) & (outstanding < max_outstanding)),
                   "fetch: a waiting AR does not fit"),
            Assert((settle != 0) | arvalid | ~fits | (reserved + blen <= depth),
                   "fetch: fits claims room there is not"),
            Assert((settle != 0) | arvalid | ~may | (outstanding < max_outstanding),
                   "fetch: may claims a burst there is not"),
            Assert((settle == 2) | (blen == next_burst(m, sig("addr"), sig("remaining"),
                                                        data_bytes)),
                   "fetch: blen is not the next burst"),
        ]


class ParserRules(FormalTop):
    """Stream rules at the ports of the prefetch path's frame parser (``FrameParser``).

    ``start`` and ``h2c`` are free and keep the rules (assumed), ``jobs`` and
    ``pay`` have free backpressure; ``jobs`` and ``pay`` keep the rules
    (asserted), and ``h2c`` is taken only during a frame (after ``start``
    and until its ``last``).  Every payload beat but a packet's last keeps
    all its bytes (the decompressors' unpackers rely on it), asserted at
    ``pay``; the output slice's parked beat keeps it too (an invariant).
    Covers: a payload beat that waited and then left, a chunk job, a good
    frame's end job (code 0, a chunk accepted), a failed frame's end job.

    Parameters
    ----------
    fault : str, optional
        ``"skid-slip"``: the output slices do not hold their beat while stalled.
    """

    def __init__(self, fault=None, **config):
        super().__init__()
        self.fault, self.config = fault, config

    def build(self, m, platform):
        from cdma.hw.engine.parser import FrameParser
        from cdma.hw.skid import SkidBuffer
        p = unit_params(**self.config)
        PB = p.pcie_bytes
        dut = FrameParser(p)
        with patched(self.fault):
            frag = self.elaborate_dut(m, dut, platform)
        rst = self.rst
        free(m, dut.start.valid, dut.start.payload, dut.h2c.valid, dut.h2c.payload,
             dut.jobs.ready, dut.pay.ready)
        assume_stream_in(m, dut.start, rst, "start")
        assume_stream_in(m, dut.h2c, rst, "h2c")
        assert_stream_out(m, dut.jobs, rst, "jobs")
        assert_stream_out(m, dut.pay, rst, "pay")
        assert_copies_equal(m, frag, rst)
        full = (1 << PB) - 1
        with m.If(dut.pay.valid & ~dut.pay.p.last & ~rst):
            m.d.comb += Assert(dut.pay.p.keep == full, "pay: a beat before the last is not full")
        if self.fault is None:
            # the payload slice's parked beat obeys the same (an invariant)
            (_, skid), = [(q, s) for q, s in find_origin(frag, SkidBuffer, "pay_slice")]
            s_valid = find_signal(frag, "s_valid_c0", ("pay_slice",))
            s_bits = find_signal(frag, "s_bits", ("pay_slice",))
            keep_lo = 8 * PB
            with m.If(s_valid & ~rst & ~s_bits[keep_lo + PB]):
                m.d.comb += Assert(s_bits[keep_lo:keep_lo + PB] == full,
                                   "pay slice: a parked beat before the last is not full")
        # h2c is taken only during a frame: from `start` to the frame's `last`
        in_frame = Signal()
        with m.If(dut.start.valid & dut.start.ready):
            m.d.sync += in_frame.eq(1)
        with m.If(dut.h2c.valid & dut.h2c.ready & dut.h2c.p.last):
            m.d.sync += in_frame.eq(0)
        with m.If(~rst & dut.h2c.ready):
            m.d.comb += Assert(in_frame, "h2c: ready outside a frame")
        if self.fault is None:
            state = find_signal(frag, "state", ())
            in_ended = find_signal(frag, "in_ended", ())
            with m.If(~rst):
                # (an invariant: the parser is in a frame, its input not yet ended,
                # exactly when the harness says so)
                m.d.comb += [Assert(in_frame == ((state != 0) & ~in_ended),
                                    "parser: frame state disagrees"),
                             Assert((state != 7) | in_ended, "parser: FINISH before the input ended")]
            # (the payload's take: the one-hot need is the take, in PAY only;
            # the ring's level flags are the level's compares)
            take_r = find_signal(frag, "take_r", ())
            pay_need = find_signal(frag, "pay_need", ())
            level = find_signal(frag, "level", ("unp",), register=True)
            level_ge = find_signal(frag, "level_ge", ("unp",), register=True)
            KW = PB // 4
            need = Cat(*[take_r == n for n in range(1, KW + 1)])
            with m.If(~rst):
                m.d.comb += [Assert(pay_need == Mux(state == 4, need, 0),
                                    "parser: pay_need is not the payload's take"),
                             Assert(level_ge == Cat(*[level >= n for n in range(1, KW + 2)]),
                                    "parser: the ring's level flags disagree with its level")]
        jobs_hs = dut.jobs.valid & dut.jobs.ready & ~rst
        m.d.comb += [
            Cover(_waited_then_left(m, dut.pay, rst, "pay")),
            Cover(jobs_hs & ~dut.jobs.p.end),
            Cover(jobs_hs & dut.jobs.p.end & (dut.jobs.p.code == 0) & (dut.jobs.p.accepted == 1)),
            Cover(jobs_hs & dut.jobs.p.end & (dut.jobs.p.code != 0)),
        ]


class FetchRules(FormalTop):
    """Stream rules at the ports of the offload path's fetch unit (``FetchUnit``).

    ``cmd`` free with the rules assumed, a free but legal AXI read slave
    (:func:`legal_read_slave`), free backpressure on ``o``.  AR (``ARVALID``,
    ``ARADDR``, ``ARLEN``) and ``o`` keep the rules (asserted); ``RREADY`` is
    never low while a requested beat may arrive (the fetch buffer always has
    room for what was requested).  Internal invariants: the unit's beat and
    burst counters against the slave's.  Covers: an AR that waited and then
    went, a beat of ``o`` that waited and then left.

    Parameters
    ----------
    fault : str, optional
        ``"skid-slip"``: the output slice's word changes while stalled.
    """

    def __init__(self, fault=None, **config):
        super().__init__()
        self.fault, self.config = fault, config

    def build(self, m, platform):
        from cdma.hw.engine.fetch import FetchUnit
        p = unit_params(**self.config)
        dut = FetchUnit(addr_width=p.addr_width, data_bytes=p.mem_bytes,
                        buffer_beats=p.fetch_beats, max_outstanding=p.max_outstanding)
        with patched(self.fault):
            frag = self.elaborate_dut(m, dut, platform)
        rst = self.rst
        free(m, dut.cmd.valid, dut.cmd.payload, dut.o.ready)
        assume_stream_in(m, dut.cmd, rst, "cmd")
        inflight, bursts = legal_read_slave(m, dut, rst)
        ar = _Channel(dut.arvalid, dut.arready, dut.araddr, dut.arlen)
        assert_stream_out(m, ar, rst, "ar")
        assert_stream_out(m, dut.o, rst, "o")
        assert_copies_equal(m, frag, rst)
        with m.If(~rst & (inflight != 0)):
            m.d.comb += Assert(dut.rready, "rready low while beats are in flight")
        if self.fault is None:
            _fetch_invariants(m, frag, (), rst, inflight, bursts, p.fetch_beats,
                              p.max_outstanding, p.mem_bytes)
        m.d.comb += [
            Cover(_waited_then_left(m, ar, rst, "ar")),
            Cover(_waited_then_left(m, dut.o, rst, "o")),
        ]


class OffloadRules(FormalTop):
    """Stream rules at the ports of the offload unit (``OffloadUnit``): fetch,
    chunker, chunk buffer, reader and frame packer.

    ``cmd`` free with the rules assumed, a legal AXI read slave, free
    backpressure on ``c2h`` and ``status``.  AR, ``c2h`` and ``status`` keep the
    rules (asserted), and so do the reader's stream and the register slice's
    into the word packer (internal).  Internal invariants: the fetch unit's (see
    :class:`FetchRules`), the replicated registers of the packer.  Covers: a
    C2H beat that waited and then left, a frame's last beat, a status with
    code 0.

    Parameters
    ----------
    fault : str, optional
        ``"fifo-slip"``: the packer's output FIFO does not hold its word while stalled.
    """

    def __init__(self, fault=None, status=False, **config):
        super().__init__()
        self.fault, self.status, self.config = fault, status, config

    def build(self, m, platform):
        from cdma.hw.engine.frame_reader import FrameReader
        from cdma.hw.engine.offload import OffloadUnit
        p = unit_params(**self.config)
        dut = OffloadUnit(p)
        with patched(self.fault):
            frag = self.elaborate_dut(m, dut, platform)
        rst = self.rst
        free(m, dut.cmd.valid, dut.cmd.payload, dut.c2h.ready, dut.status.ready)
        assume_stream_in(m, dut.cmd, rst, "cmd")
        inflight, bursts = legal_read_slave(m, dut, rst)
        ar = _Channel(dut.arvalid, dut.arready, dut.araddr, dut.arlen)
        assert_stream_out(m, ar, rst, "ar")
        assert_stream_out(m, dut.c2h, rst, "c2h")
        if self.status:
            assert_stream_out(m, dut.status, rst, "status")
        # (the reader's stream, out of its register slice into the packer)
        (_, reader), = find_origin(frag, FrameReader, "reader")
        assert_stream_out(m, reader.o, rst, "reader")
        assert_copies_equal(m, frag, rst)
        if self.fault is None:
            _fetch_invariants(m, frag, ("fetch",), rst, inflight, bursts, p.fetch_beats,
                              p.max_outstanding, p.mem_bytes)
        if self.status:
            m.d.comb += Cover(_waited_then_left(m, dut.status, rst, "status"))
        c2h_hs = dut.c2h.valid & dut.c2h.ready & ~rst
        m.d.comb += [
            Cover(_waited_then_left(m, dut.c2h, rst, "c2h")),
            Cover(c2h_hs & dut.c2h.p.last),
            Cover(dut.status.valid & dut.status.ready & (dut.status.p.code == 0)
                  & (dut.status.p.length > 16) & ~rst),
        ]


class PrefetchRules(FormalTop):
    """Stream rules inside and at the ports of the prefetch unit (``PrefetchUnit``):
    frame parser, decode stage, write unit.

    ``cmd`` and ``h2c`` free with the rules assumed, a free AXI write slave
    (``AWREADY``, ``WREADY``, ``BRESP``; a ``B`` only for a burst whose last W
    beat went), free backpressure on ``status``.  Asserted: the stream into
    the write unit (``writer.i``, from the decode stage) and ``status`` keep
    the rules.  Covers: a beat into the write unit that waited and then went,
    a status with code 0 after a transfer of more than one beat.

    Parameters
    ----------
    fault : str, optional
        ``"fifo-slip"``: the raw byte packer's output FIFO does not hold its
        word while stalled.
    """

    def __init__(self, fault=None, status=False, **config):
        super().__init__()
        self.fault, self.status, self.config = fault, status, config

    def build(self, m, platform):
        from cdma.hw.engine.prefetch import PrefetchUnit
        from cdma.hw.engine.writer import WriteUnit
        p = unit_params(**self.config)
        dut = PrefetchUnit(p)
        with patched(self.fault):
            frag = self.elaborate_dut(m, dut, platform)
        rst = self.rst
        free(m, dut.cmd.valid, dut.cmd.payload, dut.h2c.valid, dut.h2c.payload,
             dut.status.ready, dut.awready, dut.wready, dut.bresp, dut.bvalid)
        assume_stream_in(m, dut.cmd, rst, "cmd")
        assume_stream_in(m, dut.h2c, rst, "h2c")
        w_hs = dut.wvalid & dut.wready
        owed = Signal(10, reset_less=True)
        m.d.sync += owed.eq(owed + (w_hs & dut.wlast) - dut.bvalid)
        with m.If(rst):
            m.d.sync += owed.eq(0)
        m.d.comb += Assume(~dut.bvalid | (owed != 0) | (w_hs & dut.wlast))
        (_, writer), = find_origin(frag, WriteUnit, "writer")
        assert_stream_out(m, writer.i, rst, "writer_i")
        if self.status:
            assert_stream_out(m, dut.status, rst, "status")
        assert_copies_equal(m, frag, rst)
        if self.status:
            m.d.comb += Cover(_waited_then_left(m, dut.status, rst, "status"))
        m.d.comb += [
            # (the write buffer holds one longest burst, 256 beats: the write
            # unit's input cannot stall within reach of a cover)
            Cover(writer.i.valid & writer.i.ready & past(m, writer.i.valid & writer.i.ready)
                  & ~rst),
            Cover(dut.status.valid & dut.status.ready & (dut.status.p.code == 0)
                  & (dut.status.p.length > 20) & ~rst),
        ]
