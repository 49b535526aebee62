"""Frame parser of the prefetch path: H2C bytes -> chunk jobs + payload beats."""
from __future__ import annotations

from amaranth.hdl import C, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from cdma.golden.elements import ELEM_BITS
from cdma.golden.frame import (CHUNK_BYTES, CHUNK_LENGTH_BITS, HEADER_BYTES, MAGIC_WORD, VERSION,
                               VERSION_CODECS, VERSION_TABLE, Codec)
from cdma.golden.zvce import TABLE_BYTES

from ..bits import onehot_select, thermometer
from ..packer import Unpacker
from ..skid import SkidBuffer, replicated
from ..streams import byte_beat_layout, byte_stream
from .params import ENGINE_CODECS, LENGTH_BITS, EngineError, EngineUnit

__all__ = ["FrameParser", "job_layout", "COUNT_BITS", "CODEC_BITS"]

#: Bits of a chunk's element count (up to the largest chunk of one-byte elements).
COUNT_BITS = max(CHUNK_BYTES).bit_length()
#: Bits of a codec id inside the engine (the format's byte holds 0..3).
CODEC_BITS = max(ENGINE_CODECS).bit_length()
#: log2 of the chunk sizes the format allows.
LOG2_CHUNK_MIN, LOG2_CHUNK_MAX = (c.bit_length() - 1 for c in (min(CHUNK_BYTES), max(CHUNK_BYTES)))
#: Words the input buffer holds beyond three beats: a frame header must fit in it
#: whole, whatever the beat width.
HEADER_WORDS = HEADER_BYTES // 4
#: Words of a version-2 frame's code table (read after the header, as many words).
TABLE_WORDS = TABLE_BYTES // 4
assert TABLE_WORDS == HEADER_WORDS


def job_layout() -> data.StructLayout:
    """One entry of the parser's job queue.

    ``end`` = 0: a chunk whose payload follows on the payload stream, decoded
    with ``codec`` into ``count`` elements.  ``end`` = 1: the frame is over;
    ``code`` is the parser's verdict and ``accepted`` the number of chunks the
    parser checked completely (header, payload length, padding).
    """
    return data.StructLayout({"end": 1, "codec": CODEC_BITS, "count": COUNT_BITS, "code": 8,
                              "accepted": 32})


class FrameParser(EngineUnit):
    """Check one H2C frame and cut it into chunk jobs and payloads.

    Works on 32-bit words (every field of a valid frame is word-aligned).  For
    each frame started by ``start`` it checks the header (the ``docs/FORMAT.md``
    checks in the golden order, then the engine's: element width, codec built
    in, raw length = ``length``), a version-2 frame's code table (ZVCE), then
    every chunk header (codec, raw payload length) and padding, and that the
    frame ends (``tlast``) right after the last chunk.  A chunk's payload goes
    out on ``pay`` (one packet per chunk, every beat full but the packet's
    last, closed early by a null beat if the input ends inside it).  On the first
    problem the parser records the code, drains the input up to ``tlast`` and
    ends the frame; it never waits for anything but input and queue space.

    Members
    -------
    start : In(stream.Signature({"length": 32, "code": 8}))
        One frame: its descriptor length and a pre-set error code (nonzero:
        just drain the frame and report this code).
    h2c : In(byte_stream(pcie_bytes))
    jobs : Out(stream.Signature(job_layout()))
    pay : Out(byte_stream(pcie_bytes))
    nbytes : Out(32)
        Bytes of the current/last frame taken from ``h2c``.
    code_table : Out(8 * TABLE_BYTES)
        The code table of the last version-2 frame (``golden.zvce.CodeTable.pack``,
        byte 0 in bits 7:0), set before its first chunk job and held until the
        next frame's table: the ZVCE decompressors sample it per chunk.
    """

    def __init__(self, params):
        super().__init__(params, lambda p: {
            "start": In(stream.Signature(data.StructLayout({"length": LENGTH_BITS, "code": 8}))),
            "h2c": In(byte_stream(p.pcie_bytes)),
            "jobs": Out(stream.Signature(job_layout())),
            "pay": Out(byte_stream(p.pcie_bytes)),
            "nbytes": Out(LENGTH_BITS),
            "code_table": Out(8 * TABLE_BYTES),
        })

    def elaborate(self, platform):
        m = Module()
        p = self._p
        E, PB = p.elem_bits, p.pcie_bytes
        eb = E // 8
        eshift = eb.bit_length() - 1
        KW = PB // 4                      # words per beat
        # words the parser looks at in one cycle: a header, or a payload's last
        # beat and the chunk header after it
        OUT = max(KW + 1, HEADER_WORDS)
        h2c = self.h2c

        # The outputs leave through register slices: their `ready` is a flip-flop,
        # so no decision below waits on the decode stage's combinational ready.
        m.submodules.pay_slice = pay_slice = SkidBuffer(byte_beat_layout(PB))
        m.submodules.job_slice = job_slice = SkidBuffer(job_layout())
        wiring.connect(m, pay_slice.o, wiring.flipped(self.pay))
        wiring.connect(m, job_slice.o, wiring.flipped(self.jobs))
        pay, jobs = pay_slice.i, job_slice.i

        # The frame's words sit in an Unpacker (hw/packer.py): beats land in a
        # ring that only the input writes, and the parser's decisions (take the
        # header's words, a chunk header's word, a payload beat's words; drop the
        # rest of a failed frame) move the ring's head, never the words.  (A
        # shifting buffer that landed each beat at the fill level and shifted the
        # consumed words out put the decision -- fill level -> "enough words?" ->
        # shift select -> every buffered bit -- on the 16 B engine's critical
        # path, 19.5 ns at 51.3 MHz.)  The frame is one packet; the Unpacker
        # wants every beat but a packet's last full, which an H2C frame's are
        # (a beat that is not counts as full and fails the frame: H2C_BEAT).
        # (two copies of the ring's head and offset, each selecting half of the
        # window's bits: the parser alone at 16 B/cycle went from 61.6 to 69.3
        # MHz, medians of seeds 1-3, and 369 LUT4 less)
        UC = 4
        # Each word carries, computed as it enters, which of its bytes 1-3 are
        # nonzero (`side`): a payload's padding check reads those three bits of
        # its last word instead of the word through the window.  It also
        # carries what CHDR derives from a chunk header's payload length, in
        # case the word is one: byte 0 nonzero, the length's low bits (the
        # bytes in its last beat) zero, the payload a single beat (length <=
        # PB), and the words of its last beat (0 with no payload: where the
        # next chunk header follows, `hdr_at`).  So those registers load from
        # the ring's multiplexer alone (behind it, an adder was the 16 B
        # engine's path at seed 1, `cpos` -> `last_words_new`, 11.9 ns; the
        # bytes' OR at seed 3, `cpos` -> `plen_nz`, 11.6 ns).
        LGB = PB.bit_length() - 1         # log2(PB)
        side_layout = data.StructLayout({
            "nz_hi": 3,                   # bytes 1-3 nonzero (the padding check)
            "nz0": 1,                     # byte 0 nonzero
            "lo_zero": 1,                 # the length's low LGB bits are zero
            "one_beat": 1,                # length <= PB
            "last_words": range(KW + 1),  # words of the last beat (0: no payload)
        })
        SIDE = side_layout.size
        # (with flags "at least n words" for n = 1 .. KW + 1, registers: see
        # `data_beat`)
        m.submodules.unp = unp = Unpacker(32, KW, OUT, user_bits=2, side_bits=SIDE, copies=UC,
                                          level_marks=tuple(range(1, KW + 2)))
        level, ended = unp.level, unp.ended
        # the frame's last word is incomplete (its last beat's bytes are not a
        # multiple of four: the Unpacker keeps that beat's `user`)
        short = Signal()
        short_bytes = unp.ended_user
        m.d.comb += short.eq(ended & (short_bytes != 0))
        in_ended = Signal()               # the frame's last beat was taken from h2c
        words = [unp.data[32 * k:32 * (k + 1)] for k in range(OUT)]

        IDLE, HDR, CALC, CHDR, PAY, END, DRAIN, FINISH, TBL = range(9)
        has_zvce = p.zvce
        state = Signal(range(9 if has_zvce else 8))
        length = Signal(LENGTH_BITS)
        code = Signal(8)
        frame_codec = Signal(CODEC_BITS)
        log2c = Signal(range(LOG2_CHUNK_MAX + 1))
        # (a frame whose header length differs from the descriptor's is rejected,
        # so what is left of an accepted one fits the descriptor's width)
        raw_left = Signal(LENGTH_BITS)    # raw bytes of the frame not yet in a chunk job
        raw_c = Signal(COUNT_BITS)        # raw bytes of the next chunk (a register)
        pay_left = Signal(CHUNK_LENGTH_BITS)   # payload bytes of this chunk left
        # The payload's last beat, fixed when the chunk header is taken: its bytes
        # are the length's low bits (or a full beat), so every later beat only
        # counts `pay_left` down, and nothing is added up from the window's word.
        pw_last = Signal()                # pay_left <= PB: the next payload beat is its last
        last_words = Signal(range(KW + 1))   # words in the last beat, padding included
        last_keep = Signal(PB)            # `keep` of the last beat (its bytes: a prefix)
        # The words the next data beat takes (`take_r`), one-hot (bit n - 1: n
        # words), and zero outside a payload: a register loaded beside
        # `take_r` in CHDR and PAY and cleared as PAY is left.
        pay_need = Signal(KW)
        pay_empty = Signal()              # the chunk has no payload at all
        pay_trunc = Signal()              # the input ended inside it (a cycle ago)
        accepted = Signal(32)
        drop_pending = Signal()           # the ring is still to be dropped (a failed frame: its rest)
        bad_beat = Signal()               # a beat before the frame's last was not full

        # ---- input side ---------------------------------------------------------
        # h2c is taken only inside a frame (from `start` to its `last`), so the
        # bytes counted and the beats in the ring are this frame's.
        in_frame = Signal()
        m.d.comb += in_frame.eq((state != IDLE) & ~in_ended)

        def word_side(k):
            """Word ``k`` of the input beat's side bits (``side_layout``, see the
            Unpacker above)."""
            w = in_data[32 * k:32 * (k + 1)]
            lo = w[:LGB]
            nz = [w[8 * b:8 * b + 8].any() for b in range(4)]
            side = Signal(side_layout, name=f"in_side{k}")
            m.d.comb += [side.nz_hi.eq(Cat(*nz[1:])), side.nz0.eq(nz[0]),
                         side.lo_zero.eq(lo == 0),
                         side.one_beat.eq(w[:CHUNK_LENGTH_BITS] <= PB),
                         side.last_words.eq(Mux(~Cat(*nz[:3]).any(), 0,
                                                Mux(lo == 0, KW, (lo + 3) >> 2)))]
            return side
        nkeep = Signal(range(PB + 1))
        m.d.comb += nkeep.eq(sum(h2c.p.keep[k] for k in range(PB)))
        in_data = Cat(*[Mux(h2c.p.keep[k], h2c.p.data[8 * k:8 * k + 8], 0) for k in range(PB)])
        m.d.comb += [unp.i.valid.eq(h2c.valid & in_frame), h2c.ready.eq(unp.i.ready & in_frame),
                     unp.i.p.data.eq(in_data), unp.i.p.last.eq(h2c.p.last),
                     unp.i.p.n.eq(Mux(h2c.p.last, (nkeep + 3) >> 2, KW)),
                     unp.i.p.user.eq(Mux(h2c.p.last, nkeep[:2], 0)),
                     unp.i.p.side.eq(Cat(*[word_side(k) for k in range(KW)]))]
        accept = h2c.valid & h2c.ready
        with m.If(accept):
            m.d.sync += self.nbytes.eq(self.nbytes + nkeep)
            with m.If(h2c.p.last):
                m.d.sync += in_ended.eq(1)
            with m.Elif(~h2c.p.keep.all()):
                m.d.sync += bad_beat.eq(1)

        # What the parser takes from the window.
        consume_hdr = Signal()            # the header's words (or the code table's) go
        consume_chdr = Signal()           # a chunk header's word goes
        consume_pay = Signal()            # a payload beat's words go
        drop = Signal()                   # the rest of the frame goes
        # The take is a register (`take_r`), loaded with every move into or
        # inside the states that take: HDR and TBL take HEADER_WORDS, CHDR one
        # word, PAY a full beat or, for the payload's last, `last_words`
        # (`pw_last` and `last_words` only change with those moves).  The
        # state's decode in front of the Unpacker's take adder was the 16 B
        # engine's path at seed 1 of 24d092a, `state` -> the Unpacker's head,
        # 11.7 ns, 8 levels.
        take_r = Signal.like(unp.take, init=HEADER_WORDS)

        def take_beat(n):
            """The loads for a payload's next data beat of ``n`` words: the
            take and its one-hot need."""
            return [take_r.eq(n), pay_need.eq(Cat(*[n == k for k in range(1, KW + 1)]))]
        m.d.comb += [unp.take.eq(take_r),
                     unp.take_en.eq(Cat(*[consume_hdr | consume_chdr | consume_pay] * UC)),
                     unp.drop.eq(Cat(*[drop] * UC))]

        # ---- parsing ----------------------------------------------------------------
        fail = Signal()
        fail_code = Signal(8)
        # A payload's padding is checked from its last beat into a register and
        # acted on in the next cycle (CHDR issues no job then, END waits), and a chunk
        # is counted in `accepted` a cycle after it was: neither the window's
        # bytes nor the carry chain of `accepted` sit behind the parser's
        # decisions.  (`accepted` is read in FINISH, two cycles after the last
        # chunk at the earliest.)
        pad_check = Signal()              # the last cycle took a payload's last beat ...
        pad_bad_r = Signal()              # ... and its padding is not zero
        pad_failed = Signal()
        chunk_ok = Signal()               # the last cycle closed an empty payload
        m.d.comb += pad_failed.eq(pad_check & pad_bad_r)
        m.d.sync += [pad_check.eq(0), chunk_ok.eq(0),
                     accepted.eq(accepted + (chunk_ok | (pad_check & ~pad_bad_r)))]
        m.d.comb += self.start.ready.eq(state == IDLE)
        with m.If(self.start.valid & self.start.ready):
            m.d.sync += [length.eq(self.start.p.length), code.eq(self.start.p.code),
                         accepted.eq(0), in_ended.eq(0), bad_beat.eq(0), self.nbytes.eq(0),
                         drop_pending.eq(self.start.p.code != 0),
                         state.eq(Mux(self.start.p.code != 0, DRAIN, HDR)),
                         take_r.eq(HEADER_WORDS)]

        def whole(n):
            """The first ``n`` words are present and complete."""
            return (level > n) | ((level == n) & ~short)

        # The header is checked in three steps, each into registers: the
        # window's first words and what the ring holds (`hdr_*`), each check's
        # outcome (`hc_*`), then the verdict from those (`hv`), acted on a cycle
        # later.  The header's words do not move while the parser waits in HDR
        # (nothing is taken there until the verdict says so), so a verdict from
        # three HDR cycles back is current; the checks' compares meet neither
        # the window's multiplexers nor the parser's decisions, nor the
        # verdict's priority chain (the compares and the chain in one cycle
        # were the 32 B engine's path at seed 1, 18.3 ns).  (Two cycles per
        # frame.)
        hdr_w = [Signal(32, name=f"hdr_w{k}") for k in range(HEADER_WORDS)]
        hdr_whole = Signal()              # the header's words are all there
        hdr_some = Signal()               # a word of it is there
        hdr_short1 = Signal()             # ... only one, and incomplete (the frame ended)
        hdr_ended = Signal()              # the frame's last beat is in the ring
        hdr_short_bytes = Signal(2)
        m.d.sync += [*(hdr_w[k].eq(words[k]) for k in range(HEADER_WORDS)),
                     hdr_whole.eq(whole(HEADER_WORDS)), hdr_some.eq(level >= 1),
                     hdr_short1.eq(short & (level == 1)), hdr_ended.eq(ended),
                     hdr_short_bytes.eq(short_bytes)]
        w0, w1 = hdr_w[0], hdr_w[1]
        # the frame header's fields (docs/FORMAT.md)
        hdr_length = Cat(hdr_w[2], hdr_w[3])
        hdr_version, hdr_ebits, hdr_log2c, hdr_codec = w1[0:8], w1[8:16], w1[16:24], w1[24:32]
        magic_ok = w0 == MAGIC_WORD
        magic_mask = Mux(hdr_short1, Cat(*[
            Mux(hdr_short_bytes > k, C(0xFF, 8), C(0, 8)) if k < 3 else C(0, 8)
            for k in range(4)]), C(0xFFFFFFFF, 32))
        magic_prefix_ok = (w0 & magic_mask) == (MAGIC_WORD & magic_mask)
        # the raw length modulo the element size (must be 0)
        length_mod = Mux(hdr_ebits == 8, 0, Mux(hdr_ebits == 16, hdr_length[0], hdr_length[:2]))
        codec_built = Const(0, 1)
        for c in ENGINE_CODECS:
            if c == Codec.RAW or p.codecs >> c & 1:
                codec_built = codec_built | (hdr_codec == c)
        # a codec of another version (version 1: raw, ZVC, RLE; 2: ZVCE), or
        # ZVCE with 8-bit elements (the golden checks at offset 7)
        codec_bad = Mux(hdr_version == VERSION, hdr_codec > max(VERSION_CODECS[VERSION]),
                        (hdr_codec != Codec.ZVCE) | (hdr_ebits == 8))

        # each check's outcome, a register
        hc = {name: Signal(name=f"hc_{name}") for name in (
            "early_magic", "whole", "magic", "version", "params", "ebits", "codec", "length",
            "ended")}
        m.d.sync += [
            hc["early_magic"].eq(hdr_some & ~magic_prefix_ok), hc["whole"].eq(hdr_whole),
            hc["magic"].eq(~magic_ok),
            hc["version"].eq((hdr_version != VERSION) & (hdr_version != VERSION_TABLE)),
            hc["params"].eq(~Cat(*[hdr_ebits == e for e in ELEM_BITS]).any()
                            | (hdr_log2c < LOG2_CHUNK_MIN) | (hdr_log2c > LOG2_CHUNK_MAX)
                            | codec_bad | (length_mod != 0)),
            hc["ebits"].eq(hdr_ebits != E), hc["codec"].eq(~codec_built),
            hc["length"].eq(hdr_length != length), hc["ended"].eq(hdr_ended)]

        H_WAIT, H_OK, H_FAIL, H_FAIL_EARLY = range(4)
        hv = Signal(2)                    # the verdict of the previous cycle ...
        hv_code = Signal(8)               # ... its error code ...
        hv_live = Signal()                # ... and it is from HDR's window (we are in HDR)
        in_hdr = Signal(2)                # the previous two cycles were in HDR
        hv_empty = Signal()               # the header's raw length was 0
        hv_now = Signal(2)
        hv_code_now = Signal(8)
        with m.If(hc["early_magic"]):
            m.d.comb += [hv_now.eq(H_FAIL_EARLY), hv_code_now.eq(EngineError.BAD_MAGIC)]
        with m.Elif(hc["whole"]):
            m.d.comb += hv_now.eq(H_FAIL)
            with m.If(hc["magic"]):
                m.d.comb += hv_code_now.eq(EngineError.BAD_MAGIC)
            with m.Elif(hc["version"]):
                m.d.comb += hv_code_now.eq(EngineError.BAD_VERSION)
            with m.Elif(hc["params"]):
                m.d.comb += hv_code_now.eq(EngineError.BAD_PARAMS)
            with m.Elif(hc["ebits"]):
                m.d.comb += hv_code_now.eq(EngineError.FRAME_ELEM_BITS)
            with m.Elif(hc["codec"]):
                m.d.comb += hv_code_now.eq(EngineError.FRAME_CODEC)
            with m.Elif(hc["length"]):
                m.d.comb += hv_code_now.eq(EngineError.FRAME_LENGTH)
            with m.Else():
                m.d.comb += hv_now.eq(H_OK)
        with m.Elif(hc["ended"]):
            m.d.comb += [hv_now.eq(H_FAIL_EARLY), hv_code_now.eq(EngineError.TRUNCATED)]
        m.d.sync += [hv.eq(hv_now), hv_code.eq(hv_code_now),
                     in_hdr.eq(Cat(state == HDR, in_hdr[0])),
                     # (cleared as the parser leaves HDR, so that it implies HDR)
                     hv_live.eq((state == HDR) & in_hdr.all() & ~consume_hdr & ~fail),
                     hv_empty.eq(hdr_length == 0)]

        # A version-2 frame's code table (ZVCE) follows the header: TBL checks
        # it as `CodeTable.unpack` does (`hw.zvce.table_malformed`, the ZVCE
        # decompressor's own check) from `hdr_w`, which then holds the table's
        # words, into a register (`tv`), and takes it.  `hdr_w` holds
        # words from two cycles back, so the verdict counts from the third
        # TBL cycle (`tbl_age`: the window has not moved since the header
        # went).  (Built only with ZVCE: without it a version-2 frame is
        # FRAME_CODEC at the header.)
        if has_zvce:
            from ..zvce import table_malformed
            tbl_empty = Signal()          # the frame's raw length is 0 (from HDR)
            tbl_age = Signal(range(3))
            tv_bad = Signal()             # the table's verdict ...
            tv_whole = Signal()           # ... on its words, all there ...
            tv_ended = Signal()           # ... or not, and the frame ended
            m.d.sync += [tv_bad.eq(table_malformed(Cat(*hdr_w))), tv_whole.eq(hdr_whole),
                         tv_ended.eq(hdr_ended),
                         tbl_age.eq(Mux(state == TBL, Mux(tbl_age == 2, 2, tbl_age + 1), 0))]

        # The next chunk's raw bytes, a register: raw_left and log2c change only
        # when a chunk job or the header is taken, and the next chunk header is
        # looked at no earlier than the cycle after (CALC after the header, PAY
        # after a chunk header).
        big = Signal()                    # raw_left >= 2 ** log2c
        with m.Switch(log2c):
            for lg in range(LOG2_CHUNK_MIN, LOG2_CHUNK_MAX + 1):
                with m.Case(lg):
                    m.d.comb += big.eq(raw_left[lg:].any())
            with m.Default():                # (log2c is checked; a full case for lint)
                m.d.comb += big.eq(0)
        raw_c_next = Signal(COUNT_BITS)
        m.d.comb += raw_c_next.eq(Mux(big, C(1, COUNT_BITS) << log2c, raw_left[:COUNT_BITS]))
        m.d.sync += raw_c.eq(raw_c_next)
        # The chunk header CHDR acts on is a register: each cycle it is loaded
        # from where the next chunk header will be once this cycle's take is done
        # (after a payload's last beat, the word behind it; else the window's
        # first), with whether it is there whole.  CHDR's checks and loads then
        # start at flip-flops, not at the window's multiplexers, and a header
        # that was in the ring behind a payload's last beat costs no cycle.
        # The word is read from the ring's slots at `cpos`, a register that
        # holds that position (window start + `hdr_at` in PAY, the window's
        # start elsewhere), kept a cycle ahead from registers: the read is one
        # multiplexer deep, not the window's rotation followed by a (KW + 1)-way
        # select (14.6 ns, 68.4 MHz for the parser alone at 16 B/cycle).
        chw = Signal(32)                  # the next chunk header (a register) ...
        chw_here = Signal()               # ... was in the ring, whole
        # (and the frame's last beat was in the ring then: without the word, a
        # truncated frame.  The current `ended` would be a cycle ahead of
        # `chw_here`: a last beat that brought the word and landed in the cycle
        # before read as a truncation -- a valid 24-byte frame at 16 B/cycle,
        # its second beat late, was TRUNCATED)
        chw_ended = Signal()
        hdr_at = Signal(range(KW + 1))    # where it follows the payload's last beat
        nidx = Signal(range(KW + 1))
        chw_next = Signal(32)
        m.d.comb += nidx.eq(Mux(state == PAY, hdr_at, 0))
        RU = unp.ring_units
        ring = [unp.beats[32 * k:32 * (k + 1)] for k in range(RU)]
        # (one-hot, in copies, one per byte of the word: each bit enables one
        # slot's byte, so the read is an AND-OR of RU terms; a binary position
        # decoded inside a RU-way multiplexer was 6-7 LUTs deep, the 16 B
        # engine's path at 992acd4, `cpos` -> `cc_bad`, 12.7 ns)
        cpos = replicated(m, "cpos", 4, width=RU)
        # (and its side bits, with byte 0's copy)
        chs_next = Signal(side_layout)
        for b, cp in enumerate(cpos):
            m.d.comb += chw_next[8 * b:8 * (b + 1)].eq(
                onehot_select(cp, [ring[k][8 * b:8 * (b + 1)] for k in range(RU)]))
        m.d.comb += chs_next.eq(onehot_select(cpos[0], [unp.beats_side[SIDE * k:SIDE * (k + 1)]
                                               for k in range(RU)]))

        # (its checks too: the frame's codec is set in HDR, and `raw_c` becomes
        # what `raw_c_next` is now, two cycles after a chunk job at the latest,
        # before any next chunk header is acted on)
        n_plen = chw_next[:CHUNK_LENGTH_BITS]
        # (registered as partial verdicts, one per byte of the word, combined
        # by a gate in CHDR: the ring read, a 24-bit compare and the combination
        # in one cycle were the parser's path, 11.8 ns at 16 B/cycle.  Each
        # verdict is formed for every ring slot and read at `cpos` like the
        # word: a compare behind the read was the 16 B engine's path at seed 1
        # of 24d092a, `cpos` -> `ne_whole`, 10.4 ns)
        cc_zero = Signal()                # a raw chunk ...
        cc_bad = Signal()                 # ... or a codec other than the frame's
        # (the raw length is compared with both values `raw_c_next` can take,
        # a whole chunk and the frame's last bytes, each a register, and `big`
        # picks one in CHDR: a ring read and a compare with `raw_c_next`'s
        # multiplexer in one cycle were the engine's path, 13.3 ns)
        ne_whole = Signal(3)              # a byte of the raw length differs from 2 ** log2c ...
        ne_left = Signal(3)               # ... from the frame's raw bytes left
        big_r = Signal()                  # (which of the two `raw_c` is)
        plen_nz = Signal(3)               # a byte of the payload length is nonzero
        # (2 ** log2c, a register loaded with `log2c`: decoded from it in front
        # of the compares it was the 16 B engine's path at seed 1 of the
        # per-slot verdicts, `log2c` -> `ne_whole`, 10.0 ns)
        whole_c = Signal(CHUNK_LENGTH_BITS)

        def slot_verdicts(w):
            """The chunk header checks' partial verdicts on ring word ``w``."""
            n_cc = w[CHUNK_LENGTH_BITS:32]
            bad = n_cc != frame_codec
            if has_zvce:
                # (a ZVCE frame's chunks may also be ZVC: `golden.frame`)
                bad = bad & ~((frame_codec == Codec.ZVCE) & (n_cc == Codec.ZVC))
            return [Cat(w[8 * b:8 * b + 8] != whole_c[8 * b:8 * b + 8],
                        w[8 * b:8 * b + 8] != raw_left[8 * b:8 * b + 8])
                    for b in range(3)] + [Cat(n_cc == 0, bad)]
        verdicts = [slot_verdicts(w) for w in ring]
        # (byte b's pair read with byte b's copy of `cpos`)
        got = [onehot_select(cpos[b], [v[b] for v in verdicts]) for b in range(4)]
        m.d.sync += [chw.eq(chw_next), chw_here.eq(whole(nidx + 1)), chw_ended.eq(ended),
                     cc_zero.eq(got[3][0]), cc_bad.eq(got[3][1]), big_r.eq(big),
                     *(ne_whole[b].eq(got[b][0]) for b in range(3)),
                     *(ne_left[b].eq(got[b][1]) for b in range(3)),
                     plen_nz.eq(Cat(chs_next.nz0, chs_next.nz_hi[:2]))]
        chw_bad = Signal()
        chw_code = Signal(8)
        # (a malformed chunk header fails the frame a cycle after it is seen,
        # from a register, CHDR doing nothing meanwhile: its verdict in the
        # failure's OR in front of the state register was the 16 B engine's
        # path at seed 1 of 8506303, `ne_whole` -> the verdict -> `state`,
        # 10.9 ns, 7 levels)
        chw_failed = Signal()
        chw_failed_code = Signal(8)
        m.d.sync += chw_failed.eq(0)
        m.d.comb += [chw_bad.eq(Mux(cc_zero, Mux(big_r, ne_whole.any(), ne_left.any()), cc_bad)),
                     chw_code.eq(Mux(cc_zero, EngineError.LENGTH_MISMATCH,
                                     EngineError.BAD_CHUNK_CODEC))]
        plen, cc = chw[:CHUNK_LENGTH_BITS], chw[CHUNK_LENGTH_BITS:32]
        # What CHDR loads from the payload length is registered beside `chw`,
        # from the same word: `hdr_at_new` selects the next `cpos`, and deriving
        # it from `chw` in CHDR was the engine's path (13.9 ns at 16 B/cycle).
        # (from the word's side bits: the ring's multiplexer alone)
        plen_one_beat = Signal()          # plen <= PB
        last_bytes_new = Signal(range(PB + 1))   # bytes of its last beat: PB if the low bits are 0
        # (words of its last beat, padding included; 0 with no payload, when
        # nothing reads it but `hdr_at`)
        last_words_new = Signal(range(KW + 1))
        m.d.sync += [plen_one_beat.eq(chs_next.one_beat),
                     last_bytes_new.eq(Cat(n_plen[:LGB], chs_next.lo_zero)),
                     last_words_new.eq(chs_next.last_words)]
        # where the next chunk header follows this one's payload, in words from
        # the window's start at the payload's last beat (0: no payload)
        hdr_at_new = last_words_new

        # payload beat: a full beat of KW words, or the payload's last (last_words words)
        # (a payload's last word is the one before the next chunk header: the
        # ring slot before `cpos`, a register too)
        pad_bad = Signal()
        lastnz = Signal(3)                # bytes 1-3 of the payload's last word are nonzero
        ppos = Signal(RU)                 # (one-hot, as `cpos`)
        m.d.comb += lastnz.eq(onehot_select(ppos, [unp.beats_side[SIDE * k:SIDE * k + 3] for k in range(RU)]))
        m.d.comb += pad_bad.eq(Mux(pay_left[:2] == 1, lastnz.any(),
                               Mux(pay_left[:2] == 2, lastnz[1:].any(),
                                   Mux(pay_left[:2] == 3, lastnz[2], 0))))
        # (`keep` and `last` from registers only: the null beat that closes an
        # empty or a truncated payload is known from `pay_empty` and
        # `pay_trunc`; chosen behind the level compares that decide a data
        # beat, they were the 16 B engine's path at seeds 1 and 2 of the
        # chunk-row reader, `level` -> the payload slice, 10.2-10.4 ns)
        null_beat = pay_empty | pay_trunc
        # A data beat of the payload is in the window (the next beat's words
        # are there and complete): `pay_need` picks the Unpacker's flag for
        # its words (and, for the payload's last beat, the frame not ending
        # inside its last word).  Flip-flops and two gates: the level compared
        # with `last_words` here was the 16 B engine's path at seed 1 of
        # 62ba412, `ended_user` -> the payload's take -> `ppos`, 10.3 ns.
        def at_least(n):
            return unp.level_ge[n - 1]
        short_last = Signal()             # the payload's last beat ends in a short word
        data_beat = Signal()
        m.d.comb += [short_last.eq(short & pw_last),
                     data_beat.eq(Cat(*[pay_need[n - 1] & (at_least(n + 1)
                                                           | (at_least(n) & ~short_last))
                                        for n in range(1, KW + 1)]).any())]
        # (`pay_need` is nonzero only in PAY with a payload: no state decode)
        m.d.comb += consume_pay.eq(data_beat & pay.ready)
        m.d.comb += [pay.p.data.eq(unp.data[:8 * PB]),
                     pay.p.keep.eq(Mux(null_beat, 0, Mux(pw_last, last_keep, (1 << PB) - 1))),
                     pay.p.last.eq(pw_last | null_beat)]

        m.d.sync += pay_trunc.eq(0)       # (outside PAY; see there)
        # The header's take from registers alone (`hv_live` implies HDR): with
        # the state's decode in front of it, it was the 16 B engine's path at
        # seeds 1 and 2 of fc7a534, the parser's `state` -> the header's take
        # -> `cpos` and the Unpacker's enables, 11.1-12.3 ns, 7-8 levels.
        m.d.comb += consume_hdr.eq(hv_live & (hv != H_WAIT) & (hv != H_FAIL_EARLY))
        with m.If(state == HDR):
            with m.If(hv_live & (hv == H_FAIL_EARLY)):
                m.d.comb += [fail.eq(1), fail_code.eq(hv_code)]
            with m.Elif(hv_live & (hv != H_WAIT)):
                with m.If(hv == H_FAIL):
                    m.d.comb += [fail.eq(1), fail_code.eq(hv_code)]
                with m.Else():
                    m.d.sync += [frame_codec.eq(hdr_codec), log2c.eq(hdr_log2c),
                                 whole_c.eq(C(1, CHUNK_LENGTH_BITS) << hdr_log2c[:len(log2c)]),
                                 raw_left.eq(hdr_length),
                                 state.eq(Mux(hv_empty, END, CALC)), take_r.eq(1)]
                    if has_zvce:
                        m.d.sync += tbl_empty.eq(hv_empty)
                        with m.If(hdr_version == VERSION_TABLE):
                            m.d.sync += [state.eq(TBL), take_r.eq(HEADER_WORDS)]
        if has_zvce:
            with m.Elif(state == TBL):
                with m.If(tbl_age == 2):
                    with m.If(tv_whole):
                        m.d.comb += consume_hdr.eq(1)
                        with m.If(tv_bad):
                            m.d.comb += [fail.eq(1), fail_code.eq(EngineError.BAD_PARAMS)]
                        with m.Else():
                            m.d.sync += [self.code_table.eq(Cat(*hdr_w)),
                                         state.eq(Mux(tbl_empty, END, CALC)), take_r.eq(1)]
                    with m.Elif(tv_ended):
                        m.d.comb += [fail.eq(1), fail_code.eq(EngineError.TRUNCATED)]
        with m.Elif(state == CALC):
            m.d.sync += state.eq(CHDR)
        with m.Elif(state == CHDR):
            with m.If(chw_failed):
                m.d.comb += [fail.eq(1), fail_code.eq(chw_failed_code)]
            with m.Elif(chw_here):
                # (the word goes whenever the job queue has room, whatever the
                # checks say -- the chunk header's and the previous payload's
                # padding: after a failure the ring is dropped anyway, and the
                # take does not wait for the compares.  The padding verdict in
                # the take was the 16 B engine's path at seed 2 of 27e684d,
                # `pad_check` -> `cpos`, 10.9 ns)
                m.d.comb += consume_chdr.eq(jobs.ready)
                with m.If(chw_bad):
                    m.d.sync += [chw_failed.eq(1), chw_failed_code.eq(chw_code)]
                with m.Elif(~pad_failed):
                    m.d.comb += [jobs.valid.eq(1), jobs.p.end.eq(0), jobs.p.codec.eq(cc),
                                 jobs.p.count.eq(raw_c >> eshift)]
                    with m.If(jobs.ready):
                        m.d.sync += [pay_left.eq(plen), pw_last.eq(plen_one_beat),
                                     last_words.eq(last_words_new),
                                     # (a mask, so `keep` is a gate from
                                     # registers: compared in front of the
                                     # payload slice it was the 16 B engine's
                                     # path at seed 2, `pw_last` -> keep, 11.1 ns)
                                     last_keep.eq(thermometer(last_bytes_new, PB)),
                                     hdr_at.eq(hdr_at_new),
                                     pay_empty.eq(~plen_nz.any()),
                                     raw_left.eq(raw_left - raw_c), state.eq(PAY),
                                     *take_beat(Mux(plen_one_beat, last_words_new, KW))]
            with m.Elif(chw_ended):
                m.d.comb += [fail.eq(1), fail_code.eq(EngineError.TRUNCATED)]
        with m.Elif(state == PAY):
            next_chunk = [state.eq(Mux(raw_left == 0, END, CHDR)), take_r.eq(1),
                          pay_need.eq(0)]
            # (a truncated payload is acted on a cycle after it is seen, from
            # `pay_trunc`, a register: with the level's compares deciding
            # between a data beat and the null beat, they reached the payload
            # slice's `keep` -- the 16 B engine's path at seed 2, parser level
            # -> pay keep, 12.2 ns, 8 levels)
            # (held until the null beat is taken: the state then leaves PAY)
            # (`pay_need` is zero with an empty payload)
            m.d.sync += pay_trunc.eq(pay_trunc | (pay_need.any() & ~data_beat & ended))
            with m.If(pay_empty):
                # empty payload: a null beat closes it
                m.d.comb += pay.valid.eq(1)
                with m.If(pay.ready):
                    m.d.sync += [*next_chunk, chunk_ok.eq(1)]
            # every beat of a payload but its last is full: the decompressors'
            # unpackers (hw/packer.py) rely on it
            with m.Elif(data_beat):
                m.d.comb += pay.valid.eq(1)
                with m.If(pay.ready):
                    m.d.sync += [pay_left.eq(pay_left - PB), pw_last.eq(pay_left <= 2 * PB),
                                 *take_beat(Mux(pay_left <= 2 * PB, last_words, KW))]
                    with m.If(pw_last):
                        m.d.sync += [*next_chunk, pad_check.eq(1), pad_bad_r.eq(pad_bad)]
            with m.Elif(pay_trunc):
                # the input ended inside the payload or its padding (seen a
                # cycle ago; nothing has moved since: the ring cannot fill up
                # after its last beat, and nothing was taken: a null beat)
                m.d.comb += pay.valid.eq(1)
                with m.If(pay.ready):
                    m.d.comb += [fail.eq(1), fail_code.eq(EngineError.TRUNCATED)]
        with m.Elif(state == END):
            with m.If(at_least(1)):
                m.d.comb += [fail.eq(1), fail_code.eq(EngineError.TRAILING_BYTES)]
            with m.Elif(ended & in_ended & ~pad_failed):
                # the frame's last beat leaves the ring (`ended` implies
                # `in_ended`; saying so keeps FINISH after the input's end
                # evident to the proofs' induction) in FINISH's first cycle,
                # from `drop_pending`, a register: the level compare and the
                # padding verdict in front of the ring's drop were the 16 B
                # engine's path at seeds 1 and 3 of 339e4f5, `level` -> the
                # Unpacker's count, 10.5-11.1 ns, 8 levels
                m.d.sync += [state.eq(FINISH), drop_pending.eq(1)]
        with m.Elif(state == DRAIN):
            # (the drop below discards what the ring holds of the frame and
            # every beat still to come up to its last)
            with m.If(~drop_pending & in_ended):
                m.d.sync += state.eq(FINISH)
        with m.Elif(state == FINISH):
            m.d.comb += [jobs.valid.eq(1), jobs.p.end.eq(1), jobs.p.code.eq(code),
                         jobs.p.accepted.eq(accepted)]
            with m.If(jobs.ready):
                m.d.sync += state.eq(IDLE)
        # The ring's drop, from a register, in DRAIN's first cycle (a failed
        # frame's rest) or FINISH's (a whole frame's last beat).
        with m.If(drop_pending & ((state == DRAIN) | (state == FINISH))):
            m.d.comb += drop.eq(1)
            m.d.sync += drop_pending.eq(0)
        with m.If(pad_failed):
            m.d.comb += [fail.eq(1), fail_code.eq(EngineError.BAD_PADDING)]
        # a beat before the frame's last that was not full: its words were counted
        # as a whole beat, so nothing after it can be trusted
        with m.If(bad_beat & (state != IDLE) & (state != DRAIN) & (state != FINISH)):
            m.d.comb += [fail.eq(1), fail_code.eq(EngineError.H2C_BEAT)]
        with m.If(fail):
            m.d.sync += [code.eq(fail_code), state.eq(DRAIN), drop_pending.eq(1), pay_need.eq(0)]

        # `cpos` follows the window's start (and, in PAY, `hdr_at` words past
        # it) from candidates computed from registers; each take only picks
        # one.  It matters from the frame header's take on; a failed frame's
        # drop leaves it stale until the next frame's HDR, which reloads it.
        # (One-hot: a position k words on is a rotation, no adder; the
        # window's start is decoded once.)
        def rot(v, k):
            """The one-hot ring position ``v`` moved ``k`` words on."""
            k %= RU
            return Cat(v[RU - k:], v[:RU - k]) if k else v
        start_oh = Signal(RU)
        m.d.comb += start_oh.eq(Cat(*[unp.start == k for k in range(RU)]))
        cpos_next = Signal(RU)
        ppos_next = Signal(RU)            # (`cpos_next` - 1)
        # (after a chunk header: the positions for each possible `hdr_at_new`,
        # from `start` alone; `hdr_at_new` only selects one)
        c_sel = Signal(RU, name="cpos_chdr")
        p_sel = Signal(RU, name="ppos_chdr")
        with m.Switch(hdr_at_new):
            for h in range(KW + 1):
                with (m.Case(h) if h < KW else m.Default()):
                    m.d.comb += [c_sel.eq(rot(start_oh, 1 + h)), p_sel.eq(rot(start_oh, h))]
        # (each state's two candidates, with and without a take, are picked
        # by the state, a register, and the take picks between them at the
        # last gate: the take's decision in front of the state's multiplexer
        # was the 16 B engine's path at seed 1 of fc7a534, the parser's
        # `state` -> the header's take -> `cpos`, 11.1 ns, 7 levels)
        c_take, c_hold = Signal(RU, name="cpos_take"), Signal(RU, name="cpos_hold")
        p_take, p_hold = Signal(RU, name="ppos_take"), Signal(RU, name="ppos_hold")
        with m.Switch(state):
            with m.Case(CALC):
                m.d.comb += [c_take.eq(cpos[0]), c_hold.eq(cpos[0]),
                             p_take.eq(ppos), p_hold.eq(ppos)]
            with m.Case(CHDR):
                # (the chunk header's word goes: the payload starts behind it)
                m.d.comb += [c_take.eq(c_sel), c_hold.eq(cpos[0]),
                             p_take.eq(p_sel), p_hold.eq(ppos)]
            with m.Case(PAY):
                # (a beat before the payload's last moves both by a beat; the
                # last moves the window's start onto the header: `cpos` stays)
                m.d.comb += [c_take.eq(Mux(pw_last, cpos[0], rot(cpos[0], KW))),
                             c_hold.eq(cpos[0]),
                             p_take.eq(Mux(pw_last, ppos, rot(ppos, KW))), p_hold.eq(ppos)]
            with m.Default():
                m.d.comb += [c_take.eq(rot(start_oh, HEADER_WORDS)), c_hold.eq(start_oh),
                             p_take.eq(rot(start_oh, HEADER_WORDS - 1)),
                             p_hold.eq(rot(start_oh, RU - 1))]
        taking = consume_hdr | consume_chdr | consume_pay
        m.d.comb += [cpos_next.eq(Mux(taking, c_take, c_hold)),
                     ppos_next.eq(Mux(taking, p_take, p_hold))]
        m.d.sync += [*(c.eq(cpos_next) for c in cpos), ppos.eq(ppos_next)]
        return m
