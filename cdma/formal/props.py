"""The property sets: harnesses around the ``hw`` blocks.

Configurations are small on purpose (the solver's work grows with the state
and, for BMC, with the depth): 8-bit elements, 4 lanes, 4-byte compressed
beats, 8-bit element counts (the blocks take any ``count_bits`` from 6 up;
the generated modules use 32).  ``docs/FORMAL.md`` lists what each set
proves, on which configuration, and what it leaves out.
"""
from __future__ import annotations

from amaranth.asserts import AnyConst
from amaranth.hdl import Assert, Assume, Cat, Cover, Mux, Signal

from .faults import patched
from .harness import (FormalTop, assert_copies_equal, assert_stream_out, assume_stream_in,
                      find_origin, find_signal, free, past)

__all__ = ["StreamRules", "WriteGuard", "RoundTrip", "HostileInput", "CODEC_CONFIG", "WRITER_CONFIG", "codec_block"]

#: The configuration of the codec blocks in the proofs.
CODEC_CONFIG = dict(elem_bits=8, lanes=4, beat_bytes=4, count_bits=8)


def codec_block(module, *, elem_bits=8, lanes=4, beat_bytes=4, count_bits=8):
    """The ``hw`` block behind a ``cdma generate`` codec name, at a proof configuration."""
    if module == "zvc-compress":
        from cdma.hw.zvc import ZVCCompressor
        return ZVCCompressor(elem_bits, lanes, beat_bytes)
    if module == "zvc-decompress":
        from cdma.hw.zvc import ZVCDecompressor
        return ZVCDecompressor(elem_bits, lanes, beat_bytes, count_bits=count_bits)
    if module == "rle-encode":
        from cdma.hw.rle import RLEEncoder
        return RLEEncoder(elem_bits, lanes, beat_bytes)
    if module == "rle-decode":
        from cdma.hw.rle import RLEDecoder
        return RLEDecoder(elem_bits, lanes, beat_bytes, count_bits=count_bits)
    raise ValueError(f"no codec block {module!r}")


class StreamRules(FormalTop):
    """Stream rules at every stream port of a codec block.

    Inputs (``i``, and ``count`` on the decoders) are free and keep the rules
    (assumed); outputs must keep them (asserted): ``valid`` and the payload
    hold until the transfer, and ``valid`` is low after a reset.  The
    block's replicated registers are asserted equal (invariants for the
    induction).  Covers: an output beat that waited under backpressure and
    then left, a packet's ``last`` beat, and on the decoders an error.

    Parameters
    ----------
    module : str
        ``zvc-compress``, ``zvc-decompress``, ``rle-encode`` or ``rle-decode``.
    fault : str, optional
        ``"fifo-slip"``: the output FIFOs do not hold their word while stalled.
    **config
        Overrides of :data:`CODEC_CONFIG` (``elem_bits``, ``lanes``, ``beat_bytes``).
    """

    def __init__(self, module, fault=None, **config):
        super().__init__()
        self.module, self.fault = module, fault
        self.config = {**CODEC_CONFIG, **config}

    def build(self, m, platform):
        dut = codec_block(self.module, **self.config)
        with patched(self.fault):
            frag = self.elaborate_dut(m, dut, platform)
        ins = ["i", "count"] if hasattr(dut, "count") else ["i"]
        for name in ins:
            s = getattr(dut, name)
            free(m, s.valid, s.payload)
            assume_stream_in(m, s, self.rst, name)
        free(m, dut.o.ready)
        assert_stream_out(m, dut.o, self.rst, "o")
        assert_copies_equal(m, frag, self.rst)
        o = dut.o
        waited = past(m, o.valid & ~o.ready & ~self.rst, "o_waited")
        m.d.comb += [
            Cover(waited & o.valid & o.ready & ~self.rst),
            Cover(o.valid & o.ready & o.p.last & ~self.rst),
        ]
        if hasattr(dut, "error"):
            m.d.comb += Cover(dut.error & ~self.rst)


class _Channel:
    """A valid/ready/payload view of an AXI channel, for the stream-rule helpers."""

    def __init__(self, valid, ready, *payload):
        self.valid, self.ready, self.payload = valid, ready, Cat(*payload)


#: The write unit's configuration in the proofs.
WRITER_CONFIG = dict(elem_bits=8, mem_bytes=16, pcie_bytes=16, addr_width=32, write_beats=256)


class WriteGuard(FormalTop):
    """The destination-range guard of the engine's write unit (``hw.engine.writer``).

    For any descriptor (a ``mem_bytes``-aligned address, a range that does not
    wrap: what the engine's descriptor checks let through) and any input
    beats, any ``finish`` and any legal AXI slave (free ``AWREADY``,
    ``WREADY``, ``BRESP``; a ``B`` only for a burst whose last W beat was
    sent), the unit

    * issues AW bursts only during a transfer, each at the next address of
      the range and ending inside it: ``awaddr`` = addr + (beats issued) x
      ``mem_bytes``, beats issued + ``awlen`` + 1 <= ceil(length / mem_bytes),
      never across 4 KiB;
    * sends W beats only during a transfer and never more than the AW bursts
      cover, so W beat *k* lands at addr + *k* x ``mem_bytes``, inside the range;
    * writes into its buffer only the first ceil(length / mem_bytes) beats
      of a transfer, the last one with strobes cut at addr + length
      (``strobes="buffer"``), or sends them so on W (``strobes="w"``, which
      needs the buffer's contents: bounded);
    * keeps the AXI handshake rules on AW and W (valid and payload hold).

    Internal invariants (asserted too, proven with the rest): the unit's
    address and beat counters against the harness's, the W beats owed.

    Parameters
    ----------
    strobes : str
        ``"buffer"`` (strobes at the write buffer's input, for the unbounded
        proof) or ``"w"`` (strobes on the W channel, end to end).
    fault : str, optional
        ``"guard-off-by-one"``: the unit is given a length one beat longer
        than the descriptor's (its guard lets one beat too many through).
    """

    def __init__(self, strobes="buffer", fault=None):
        super().__init__()
        if strobes not in ("buffer", "w"):
            raise ValueError(f"strobes must be 'buffer' or 'w', not {strobes!r}")
        self.strobes, self.fault = strobes, fault

    def build(self, m, platform):
        from amaranth.lib.fifo import SyncFIFOBuffered
        from cdma.hw.engine.params import EngineParams
        from cdma.hw.engine.writer import WriteUnit

        p = EngineParams(**WRITER_CONFIG)
        MB, AW = p.mem_bytes, p.addr_width
        SH = MB.bit_length() - 1
        self._dut = dut = WriteUnit(p)
        frag = self.elaborate_dut(m, dut, platform)
        rst = self.rst

        # ---- free inputs, with the rules their producers keep -------------------------
        start_len = Signal(32)
        free(m, dut.start.valid, dut.start.p.addr, start_len, dut.i.valid, dut.i.payload,
             dut.finish.valid, dut.finish.payload, dut.done.ready,
             dut.awready, dut.wready, dut.bresp, dut.bvalid)
        # the fault: the unit sees one beat more than the descriptor allows
        m.d.comb += dut.start.p.length.eq(start_len + (MB if self.fault == "guard-off-by-one" else 0))
        start_ch = _Channel(dut.start.valid, dut.start.ready, dut.start.p.addr, start_len)
        for name, s in (("start", start_ch), ("i", dut.i), ("finish", dut.finish)):
            assume_stream_in(m, s, rst, name)
        addr_in = dut.start.p.addr
        with m.If(dut.start.valid):
            # what the engine's descriptor checks let through (DESC_ALIGN, DESC_RANGE)
            m.d.comb += Assume((addr_in[:SH] == 0) & (addr_in + start_len <= (1 << AW)))

        # ---- the harness's view of the transfer ---------------------------------------
        NBW = 33 - SH
        t_addr = Signal(AW, reset_less=True)
        t_nb = Signal(NBW, reset_less=True)        # beats of the range
        t_fstrb = Signal(MB, reset_less=True)      # strobes allowed on its last beat
        active = Signal()                          # between start and done (reset clears it)
        aw_beats = Signal(NBW, reset_less=True)    # beats covered by AW bursts
        w_beats = Signal(NBW, reset_less=True)     # W beats sent
        acc = Signal(NBW, reset_less=True)         # beats written into the buffer
        start_hs = dut.start.valid & dut.start.ready
        aw_hs = dut.awvalid & dut.awready
        w_hs = dut.wvalid & dut.wready
        nb_now = Signal(NBW)
        m.d.comb += nb_now.eq((start_len + (MB - 1)) >> SH)
        rem = start_len[:SH]
        with m.If(start_hs):
            m.d.sync += [t_addr.eq(addr_in), t_nb.eq(nb_now), aw_beats.eq(0), w_beats.eq(0),
                         acc.eq(0), active.eq(1),
                         t_fstrb.eq(Mux(rem == 0, (1 << MB) - 1,
                                        Cat(*[rem > k for k in range(MB)])))]
        with m.Else():
            with m.If(aw_hs):
                m.d.sync += aw_beats.eq(aw_beats + dut.awlen + 1)
            with m.If(w_hs):
                m.d.sync += w_beats.eq(w_beats + 1)
        with m.If(dut.done.valid & dut.done.ready):
            m.d.sync += active.eq(0)
        # B responses: a legal slave answers only bursts whose last W beat it has
        owed = Signal(10, reset_less=True)
        m.d.sync += owed.eq(owed + (w_hs & dut.wlast) - dut.bvalid)
        with m.If(rst):
            m.d.sync += owed.eq(0)
        m.d.comb += Assume(~dut.bvalid | (owed != 0) | (w_hs & dut.wlast))

        # ---- AW --------------------------------------------------------------------------
        burst = dut.awlen + 1
        with m.If(dut.awvalid & ~rst):
            m.d.comb += [
                Assert(active, "AW outside a transfer"),
                Assert(dut.awaddr == (t_addr + (aw_beats << SH))[:AW], "AW not at the next address"),
                Assert(aw_beats + burst <= t_nb, "AW burst past the range"),
                Assert(dut.awaddr[SH:12] + burst <= (4096 >> SH), "AW burst crosses 4 KiB"),
            ]
        assert_stream_out(m, _Channel(dut.awvalid, dut.awready, dut.awaddr, dut.awlen), rst, "aw")

        # ---- W ---------------------------------------------------------------------------
        with m.If(dut.wvalid & ~rst):
            m.d.comb += [
                Assert(active, "W outside a transfer"),
                Assert(w_beats < aw_beats, "W beat not covered by an AW burst"),
            ]
            if self.strobes == "w":
                with m.If(w_beats == t_nb - 1):
                    m.d.comb += Assert((dut.wstrb & ~t_fstrb) == 0,
                                       "W strobes past addr + length")
        assert_stream_out(m, _Channel(dut.wvalid, dut.wready, dut.wdata, dut.wstrb, dut.wlast),
                          rst, "w")

        # ---- the write buffer's input: beats and strobes let through --------------------
        (_, buf), = find_origin(frag, SyncFIFOBuffered, "buf")
        buf_w = buf.w_en & buf.w_rdy
        if self.strobes == "buffer":
            with m.If(buf_w & ~rst):
                m.d.comb += Assert(active & (acc < t_nb), "beat past the range let in")
                with m.If(acc == t_nb - 1):
                    m.d.comb += Assert((buf.w_data[8 * MB:] & ~t_fstrb) == 0,
                                       "strobes past addr + length let in")
        with m.If(buf_w & ~start_hs):
            m.d.sync += acc.eq(acc + 1)

        # ---- invariants: the unit's counters against the harness's ----------------------
        # (for the induction; the bounded run needs none)
        if self.strobes == "buffer" and self.fault is None:
            # (a broken variant is held to the external properties only: the
            # invariants describe the intact unit)
            self._invariants(m, frag, buf, active, t_addr, t_nb, t_fstrb, aw_beats, w_beats, acc,
                             owed, AW, SH)
        self._covers(m, dut, w_hs, w_beats, t_nb, t_fstrb, MB)

    def _invariants(self, m, frag, buf, active, t_addr, t_nb, t_fstrb, aw_beats, w_beats, acc,
                    owed, AW, SH):
        from amaranth.lib.fifo import SyncFIFOBuffered
        from cdma.hw.engine.axi import next_burst
        from cdma.hw.engine.params import write_burst_beats
        from cdma.hw.engine.writer import MAX_OPEN_BURSTS
        from cdma.hw.skid import SkidBuffer
        rst = self.rst
        sig = lambda name: find_signal(frag, name, ())
        # (the unit's W beats are counted as they enter its W register slice:
        # those that left on W plus those it holds)
        assert_copies_equal(m, frag, rst)
        (w_path, w_slice), = find_origin(frag, SkidBuffer, "w_slice")
        held = w_slice.o.valid + ~w_slice.i.ready
        # (the slice's beats that end a burst: those with `last`; the parked
        # beat's `last` is the skid register's top bit)
        s_last = find_signal(frag, "s_bits", tuple(w_path.split("/")))[-1]
        held_last = (w_slice.o.valid & w_slice.o.p.last) + (~w_slice.i.ready & s_last)
        w_beats = w_beats + held
        u_addr, to_issue, to_accept = sig("addr"), sig("to_issue"), sig("to_accept")
        committed, state, final_strb = sig("committed"), sig("state"), sig("final_strb")
        aw_hold, c_nz = sig("aw_hold"), sig("c_nz")
        a_one = sig("a_one")
        burst, settle = sig("burst_len"), sig("settle")
        uncommitted, may_issue = sig("uncommitted"), sig("may_issue")
        dut_awvalid, dut_awlen = self._dut.awvalid, self._dut.awlen
        nb27 = t_nb[:len(to_issue)]
        with m.If(active & ~rst):
            m.d.comb += [
                Assert(u_addr == (t_addr + (aw_beats << SH))[:AW]),
                Assert(to_issue + aw_beats[:len(to_issue)] == nb27),
                Assert(aw_beats <= nb27),
                Assert(to_accept + acc[:len(to_accept)] == nb27),
                Assert(acc <= nb27),
                Assert(committed == aw_beats - w_beats),
                # the registered `committed != 0`
                Assert(c_nz == (committed != 0)),
                Assert(state != 0),
                Assert(final_strb == t_fstrb),
                Assert(w_beats <= aw_beats),
                Assert(committed <= buf.level),
                # an AW is presented only once its whole burst is buffered
                Assert(~dut_awvalid | (committed + dut_awlen + 1 <= buf.level)),
                Assert(buf.level <= acc - w_beats),
                Assert((state == 1) | ((committed == 0) & ~aw_hold)),
                Assert((state != 3) | (buf.level == 0)),
                Assert((state != 1) | (buf.level == acc - w_beats)),
                # the unit's own count of the buffered beats no AW covers yet
                Assert((state != 1) | (uncommitted + committed == buf.level)),
                # the registered burst length, once settled, is that of addr/to_issue
                Assert((settle > 1) | (burst == next_burst(m, u_addr, to_issue, 1 << SH,
                                                           write_burst_beats(1 << SH)))),
                # the registered AW decision, once settled, is never too eager
                Assert((settle != 0) | ~may_issue | ((burst != 0) & (uncommitted >= burst))),
                Assert(~aw_hold | (settle == 0)),
            ]
        with m.If(~rst):
            # the registered `to_accept == 1`, and `accepting`: running, beats
            # left, not ended early
            accepting, finishing, ok = sig("accepting"), sig("finishing"), sig("ok")
            m.d.comb += [Assert(a_one == (to_accept == 1)),
                         Assert(accepting == ((state == 1) & (to_accept != 0)
                                              & ~(finishing & ~ok)))]
        with m.If(~active & ~rst):
            m.d.comb += Assert((state == 0) & (committed == 0) & (buf.level == 0) & ~aw_hold
                               & ~c_nz & (held == 0))
        # the bursts without a B that the slave does not owe one yet (their
        # last W beat has not left): those whose last beat has not entered the
        # W slice (a length in `lens`) and those whose last beat is in it
        (_, lens), = find_origin(frag, SyncFIFOBuffered, "lens")
        outstanding = sig("outstanding")
        with m.If(~rst):
            m.d.comb += [Assert(owed <= outstanding),
                         Assert(outstanding - owed == lens.level + held_last),
                         # (an AW is presented only with room for its length and
                         # below the limit of open bursts)
                         Assert(~self._dut.awvalid | ((lens.level < lens.depth)
                                                      & (outstanding < MAX_OPEN_BURSTS))),
                         # a beat in the slice that does not end its burst: the
                         # burst's length is still queued (or its last beat is
                         # parked behind it)
                         Assert(~(w_slice.o.valid & ~w_slice.o.p.last) | (lens.level != 0)
                                | (~w_slice.i.ready & s_last)),
                         Assert(~(~w_slice.i.ready & ~s_last) | (lens.level != 0)),
                         # nothing in the slice once the transfer winds down
                         Assert((state == 1) | (held == 0))]

    def _covers(self, m, dut, w_hs, w_beats, t_nb, t_fstrb, MB):
        # a whole transfer with a cut last beat, an early finish
        rst = self.rst
        done_hs = dut.done.valid & dut.done.ready
        m.d.comb += [
            Cover(w_hs & dut.wlast & (w_beats == t_nb - 1) & (t_fstrb != (1 << MB) - 1)
                  & (t_nb >= 2) & ~rst),
            Cover(done_hs & (w_beats == t_nb) & (t_nb >= 2) & ~rst),
            Cover(done_hs & (w_beats < t_nb) & (w_beats > 0) & ~rst),
        ]


def _thermo(n, width):
    """``width`` bits, the lowest ``n`` set (``n`` may exceed ``width``)."""
    return Cat(*[n > k for k in range(width)])


class RoundTrip(FormalTop):
    """Compressor into decompressor (``ZVCLoopback`` / ``RLELoopback``): what goes in comes out.

    One chunk of ``n`` elements (``n`` = ``AnyConst``, 0..``max_elems``) with
    free element values enters with free input gaps and output backpressure;
    its count is offered on ``count`` (free ``valid``, once).  For an
    arbitrary index ``j`` < ``n`` (``AnyConst``), the element that leaves at
    index ``j`` equals the one that entered there; every output beat but the
    last keeps all lanes, the last one keeps exactly the rest, so exactly
    ``n`` elements come out, in one packet, with ``user`` = 0 and no error
    pulse.  No reset after the first cycle (the stream-rule proofs cover
    resets).  Bounded: BMC.

    Parameters
    ----------
    codec : str
        ``"zvc"`` or ``"rle"``.
    max_elems : int
        Largest chunk (default 40: a ZVC chunk of two windows).
    lanes : int
        Elements per beat (8-bit elements; the compressed side is as wide as the raw one).
    stalls : bool
        Free input gaps and output backpressure (default); ``False``: a
        full-rate stream, which lets the bounded depth reach further.
    two_values : bool
        Every element but element ``j`` is 0 or 1 (default); element ``j`` is
        free.  ``False``: every element free (the solver's work grows fast).
    fault : str, optional
        ``"piece-flip"``: the compressor's packer flips a bit of the second unit
        of every piece of two units or more.
    min_elems : int
        Smallest chunk (default 0); e.g. ``lanes + 1`` for chunks that cross
        from the first ZVC window into the second when a beat is a window.
    fixed_first : int, optional
        Every element of the first beat is this value (0 or 1) and ``j`` is
        past the first beat: the check is on what follows a known first
        beat (with 1 and 32 lanes of 8 bits: a full first ZVC window, mask
        and 32 elements, so the second window's mask straddles two
        compressed beats).
    j_min : int
        Smallest ``j`` (default 0; ``lanes`` with ``fixed_first``).
    """

    def __init__(self, codec, max_elems=40, lanes=8, stalls=True, two_values=True, fault=None,
                 min_elems=0, fixed_first=None, j_min=0):
        if codec not in ("zvc", "rle"):
            raise ValueError(f"codec must be 'zvc' or 'rle', not {codec!r}")
        if not 0 <= min_elems <= max_elems:
            raise ValueError(f"min_elems must be from 0 to max_elems ({max_elems}), "
                             f"not {min_elems!r}")
        if fixed_first not in (None, 0, 1):
            raise ValueError(f"fixed_first must be None, 0 or 1, not {fixed_first!r}")
        super().__init__()
        self.codec, self.max_elems, self.lanes, self.fault = codec, max_elems, lanes, fault
        self.stalls, self.two_values, self.min_elems = stalls, two_values, min_elems
        self.fixed_first, self.j_min = fixed_first, j_min

    def build(self, m, platform):
        E, L = CODEC_CONFIG["elem_bits"], self.lanes
        if self.codec == "zvc":
            from cdma.hw.zvc import ZVCLoopback as Loop
        else:
            from cdma.hw.rle import RLELoopback as Loop
        dut = Loop(E, L, L * E // 8)
        with patched(self.fault):
            self.elaborate_dut(m, dut, platform)
        rst = self.rst
        m.d.comb += Assume(~rst)

        CW = (self.max_elems + L).bit_length()
        n = Signal(CW)
        j = Signal(CW)
        m.d.comb += [n.eq(AnyConst(CW)), j.eq(AnyConst(CW))]
        m.d.comb += Assume((n <= self.max_elems) & (n >= self.min_elems) & (j < n))

        # ---- input: one chunk of n elements ------------------------------------------------
        i = dut.i
        free(m, i.valid, i.p.data, i.p.keep, i.p.last, dut.count.valid, dut.o.ready)
        m.d.comb += dut.count.payload.eq(n)
        assume_stream_in(m, i, rst, "i")
        assume_stream_in(m, dut.count, rst, "count")
        sent = Signal(CW)                # elements in before this beat
        in_done = Signal()
        count_taken = Signal()
        rem = Signal(CW)
        m.d.comb += rem.eq(n - sent)
        with m.If(i.valid):
            m.d.comb += Assume(~in_done)
            with m.If(rem > L):
                m.d.comb += Assume((i.p.keep == (1 << L) - 1) & ~i.p.last)
            with m.Else():
                m.d.comb += Assume((i.p.keep == _thermo(rem, L)) & i.p.last)
        m.d.comb += Assume(~(dut.count.valid & count_taken))
        if not self.stalls:
            # a full-rate stream: the bounded depth then reaches further into it
            m.d.comb += Assume((i.valid | in_done) & dut.o.ready & (dut.count.valid | count_taken))
        with m.If(dut.count.valid & dut.count.ready):
            m.d.sync += count_taken.eq(1)
        lanes_in = [i.p.data[k * E:(k + 1) * E] for k in range(L)]
        if self.two_values:
            # every element but element j is 0 or 1: the blocks move elements
            # whole and test them only for zero, so a misrouted or corrupted
            # element still shows at j (the solver picks j's value), and the
            # solver has 2 choices per element instead of 2**E
            for k in range(L):
                with m.If(i.valid & ((sent + k) != j)):
                    m.d.comb += Assume(lanes_in[k][1:] == 0)
        m.d.comb += Assume(j >= (L if self.fixed_first is not None else self.j_min))
        if self.fixed_first is not None:
            for k in range(L):
                with m.If(i.valid & (sent == 0)):
                    m.d.comb += Assume(lanes_in[k] == self.fixed_first)
        rec = Signal(E)
        rec_valid = Signal()
        here_in = (sent <= j) & (j < sent + L)
        # nonzero elements before element j (saturating at 3)
        nz_before = Signal(2)
        nz_now = sum(((sent + k) < j) & lanes_in[k].any() for k in range(L))
        with m.If(i.valid & i.ready):
            m.d.sync += nz_before.eq(Mux(nz_before + nz_now > 3, 3, nz_before + nz_now))
            m.d.sync += sent.eq(sent + Mux(i.p.last, rem, L))
            with m.If(i.p.last):
                m.d.sync += in_done.eq(1)
            with m.If(here_in):
                m.d.sync += [rec.eq(_pick(lanes_in, (j - sent)[:max(1, (L - 1).bit_length())])),
                             rec_valid.eq(1)]

        # ---- output: exactly n elements, element j as it went in -------------------------
        o = dut.o
        keep = o.p.keep
        data = o.p.data
        got = Signal(CW)
        out_done = Signal()
        left = Signal(CW)
        m.d.comb += left.eq(n - got)
        lanes_out = [data[k * E:(k + 1) * E] for k in range(L)]
        here_out = (got <= j) & (j < got + L)
        lane = (j - got)[:max(1, (L - 1).bit_length())]
        o_hs = o.valid & o.ready
        with m.If(o.valid):
            m.d.comb += [
                Assert(~out_done, "a beat after the chunk's last"),
                Assert(~o.p.user, "user (error) flag on a good chunk"),
            ]
            with m.If(o.p.last):
                m.d.comb += Assert((left <= L) & (keep == _thermo(left, L)),
                                   "the last beat does not end the chunk at n elements")
            with m.Else():
                m.d.comb += Assert((keep == (1 << L) - 1) & (got + L <= n),
                                   "a beat before the last is not full, or passes n")
            with m.If(here_out & keep.bit_select(lane, 1)):
                m.d.comb += Assert(rec_valid & (_pick(lanes_out, lane) == rec),
                                   "element j differs from the one that went in")
        m.d.comb += Assert(~dut.error, "error on a good chunk")
        with m.If(o_hs):
            m.d.sync += got.eq(got + Mux(o.p.last, left, L))
            with m.If(o.p.last):
                m.d.sync += out_done.eq(1)
        # the last element of a longest chunk is checked (for ZVC at 40: in the
        # second window), and that chunk ends
        m.d.comb += [
            Cover(o_hs & here_out & (j == n - 1) & (n == self.max_elems)),
            # element j nonzero after another nonzero one: (RLE) the value of a
            # second token or later, checked
            Cover(o_hs & here_out & (j == n - 1) & (n == self.max_elems) & (rec != 0)
                  & (nz_before != 0)),
            Cover(o_hs & o.p.last & (n == self.max_elems)),
        ]


def _pick(values, index):
    """``values[index]`` for a signal index (a multiplexer)."""
    out = values[0]
    for k, v in enumerate(values[1:], 1):
        out = Mux(index == k, v, out)
    return out


class HostileInput(FormalTop):
    """A decompressor fed with any bytes and any counts: never more than ``count``.

    Bytes (``i``) and counts (``count``) are free, with the stream rules
    assumed and free output backpressure.  For an arbitrary chunk index ``p``
    (``AnyConst``, the first few chunks), the ``p``-th output packet carries
    at most the ``p``-th count's elements at every beat, every beat but its
    last keeps all lanes, and it ends either with exactly ``count`` elements
    and ``user`` = 0, or with ``user`` = 1 (the error flag); every ``error``
    pulse comes with a documented code (ZVC: ``LENGTH_MISMATCH``,
    ``BAD_MASK``; RLE: ``LENGTH_MISMATCH``, ``RUN_OVERSHOOT``).  No reset
    after the first cycle.  Bounded: BMC.

    Parameters
    ----------
    module : str
        ``zvc-decompress`` or ``rle-decode``.
    fault : str, optional
        ``"count-plus-one"``: the decoder is given one more than the count the
        harness holds it to (it emits an element too many).
    **config
        Overrides of :data:`CODEC_CONFIG`.
    """

    def __init__(self, module, fault=None, **config):
        super().__init__()
        if module not in ("zvc-decompress", "rle-decode"):
            raise ValueError(f"module must be zvc-decompress or rle-decode, not {module!r}")
        self.module, self.fault = module, fault
        self.config = {**CODEC_CONFIG, **config}

    def build(self, m, platform):
        from cdma.golden import ErrorCode
        cfg = self.config
        L = cfg["lanes"]
        dut = codec_block(self.module, **cfg)
        self.elaborate_dut(m, dut, platform)
        rst = self.rst
        m.d.comb += Assume(~rst)
        CB = cfg["count_bits"]
        cnt = Signal(CB)
        free(m, dut.i.valid, dut.i.payload, dut.count.valid, cnt, dut.o.ready)
        extra = 1 if self.fault == "count-plus-one" else 0
        # (the fault: the decoder sees count + 1, the harness holds it to count;
        # counts are kept below the maximum so that + 1 does not wrap)
        m.d.comb += dut.count.payload.eq(cnt + extra)
        m.d.comb += Assume(cnt < (1 << CB) - 1)
        count_ch = _Channel(dut.count.valid, dut.count.ready, cnt)
        assume_stream_in(m, dut.i, rst, "i")
        assume_stream_in(m, count_ch, rst, "count")

        p = Signal(2)
        m.d.comb += p.eq(AnyConst(2))
        taken = Signal(3)                # counts taken so far
        limit = Signal(CB)               # the p-th count
        limit_valid = Signal()
        with m.If(dut.count.valid & dut.count.ready):
            m.d.sync += taken.eq(taken + (taken != 7))
            with m.If(taken == p):
                m.d.sync += [limit.eq(cnt), limit_valid.eq(1)]

        o = dut.o
        o_hs = o.valid & o.ready
        packets = Signal(3)              # output packets closed so far
        got = Signal(CB + 1)             # elements of the current packet so far
        kept = Signal(range(L + 1))
        m.d.comb += kept.eq(sum(o.p.keep[k] for k in range(L)))
        mine = packets == p
        with m.If(o.valid & mine):
            m.d.comb += [
                Assert(limit_valid, "output before its chunk's count was taken"),
                Assert(got + kept <= limit, "more elements than the count"),
                Assert(o.p.last | (o.p.keep == (1 << L) - 1), "a beat before the last is not full"),
            ]
            with m.If(o.p.last):
                m.d.comb += Assert(o.p.user | (got + kept == limit),
                                   "a short chunk without the error flag")
        with m.If(o_hs):
            m.d.sync += got.eq(Mux(o.p.last, 0, got + kept))
            with m.If(o.p.last):
                m.d.sync += packets.eq(packets + (packets != 7))
        codes = ((ErrorCode.LENGTH_MISMATCH, ErrorCode.BAD_MASK) if self.module == "zvc-decompress"
                 else (ErrorCode.LENGTH_MISMATCH, ErrorCode.RUN_OVERSHOOT))
        with m.If(dut.error):
            m.d.comb += Assert(sum((dut.error_code == int(c)) for c in codes) == 1,
                               "undocumented error code")
        ended = o_hs & o.p.last & mine
        m.d.comb += [
            Cover(ended & o.p.user & dut.error),
            Cover(ended & o.p.user),
            Cover(ended & ~o.p.user & (limit > L)),
        ]
