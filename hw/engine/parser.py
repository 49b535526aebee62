"""Frame parser of the prefetch path: H2C bytes -> chunk jobs + payload beats."""
from __future__ import annotations

from amaranth.hdl import C, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from cdma.golden.elements import ELEM_BITS
from cdma.golden.frame import CHUNK_BYTES, CHUNK_LENGTH_BITS, HEADER_BYTES, MAGIC_WORD, VERSION, Codec

from ..skid import SkidBuffer
from ..streams import byte_beat_layout, byte_stream
from .params import ENGINE_CODECS, LENGTH_BITS, EngineError, EngineUnit

__all__ = ["FrameParser", "job_layout", "COUNT_BITS", "CODEC_BITS"]

#: Bits of a chunk's element count (up to the largest chunk of one-byte elements).
COUNT_BITS = max(CHUNK_BYTES).bit_length()
#: Bits of a codec id inside the engine (the format's byte holds 0..2).
CODEC_BITS = max(ENGINE_CODECS).bit_length()
#: log2 of the chunk sizes the format allows.
LOG2_CHUNK_MIN, LOG2_CHUNK_MAX = (c.bit_length() - 1 for c in (min(CHUNK_BYTES), max(CHUNK_BYTES)))
#: Words the input buffer holds beyond three beats: a frame header must fit in it
#: whole, whatever the beat width.
HEADER_WORDS = HEADER_BYTES // 4


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
    in, raw length = ``length``), then every chunk header (codec, raw payload
    length) and padding, and that the frame ends (``tlast``) right after the
    last chunk.  A chunk's payload goes out on ``pay`` (one packet per chunk, every
    beat full but the packet's last,
    closed early by a null beat if the input ends inside it).  On the first
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
    """

    def __init__(self, params):
        super().__init__(params, lambda p: {
            "start": In(stream.Signature(data.StructLayout({"length": LENGTH_BITS, "code": 8}))),
            "h2c": In(byte_stream(p.pcie_bytes)),
            "jobs": Out(stream.Signature(job_layout())),
            "pay": Out(byte_stream(p.pcie_bytes)),
            "nbytes": Out(LENGTH_BITS),
        })

    def elaborate(self, platform):
        m = Module()
        p = self._p
        E, PB = p.elem_bits, p.pcie_bytes
        eb = E // 8
        eshift = eb.bit_length() - 1
        KW = PB // 4                      # words per beat
        # The input's `ready` is a register computed before the cycle's consumption
        # is known, so the buffer needs a beat more than the two a word-exact
        # `ready` needs: with 2 * KW + 4 words, the fill level could settle in a
        # pattern that took a beat every other cycle (prefetch at density 0.5
        # with the default engine fell from 84.9 to 59.7 % of its bound).
        BUF = 3 * KW + HEADER_WORDS
        h2c = self.h2c

        # The outputs leave through register slices: their `ready` is a flip-flop,
        # so no decision below waits on the decode stage's combinational ready.
        m.submodules.pay_slice = pay_slice = SkidBuffer(byte_beat_layout(PB))
        m.submodules.job_slice = job_slice = SkidBuffer(job_layout())
        wiring.connect(m, pay_slice.o, wiring.flipped(self.pay))
        wiring.connect(m, job_slice.o, wiring.flipped(self.jobs))
        pay, jobs = pay_slice.i, job_slice.i

        buf = Signal(32 * BUF)
        level = Signal(range(BUF + 1))
        short = Signal()                  # the last word in buf is incomplete
        short_bytes = Signal(2)
        in_ended = Signal()
        words = [buf[32 * k:32 * (k + 1)] for k in range(BUF)]

        IDLE, HDR, CALC, CHDR, PAY, END, DRAIN, FINISH = range(8)
        state = Signal(range(8))
        length = Signal(LENGTH_BITS)
        code = Signal(8)
        frame_codec = Signal(CODEC_BITS)
        log2c = Signal(range(LOG2_CHUNK_MAX + 1))
        # (a frame whose header length differs from the descriptor's is rejected,
        # so what is left of an accepted one fits the descriptor's width)
        raw_left = Signal(LENGTH_BITS)    # raw bytes of the frame not yet in a chunk job
        raw_c = Signal(COUNT_BITS)        # raw bytes of the next chunk (a register)
        pay_left = Signal(CHUNK_LENGTH_BITS)   # payload bytes of this chunk left
        pw_left = Signal(CHUNK_LENGTH_BITS)    # ... in words, padding included
        pw_last = Signal()                # pw_left <= KW: the next payload beat is its last
        pay_empty = Signal()              # the chunk has no payload at all
        accepted = Signal(32)

        # ---- input side ---------------------------------------------------------
        # `ready` comes from registers: room for a beat whatever is consumed now.
        # A beat lands at `level` (a register) first, and the consumed words are
        # shifted out after: the decision only picks among shifts of the same
        # buffer computed in parallel, and never reaches the landing position.
        consume_hdr = Signal()            # the header's words go
        consume_chdr = Signal()           # a chunk header's word goes
        consume_pay = Signal()            # a payload beat's words go
        pay_words = Signal(range(KW + 1))  # (a register value: see PAY)
        nkeep = Signal(range(PB + 1))
        m.d.comb += nkeep.eq(sum(h2c.p.keep[k] for k in range(PB)))
        nwords = (nkeep + 3) >> 2
        discard = state == DRAIN
        room = Signal(init=1)             # level + KW <= BUF, a register (see below)
        m.d.comb += h2c.ready.eq((state != IDLE) & ~in_ended & (discard | room))
        accept = h2c.valid & h2c.ready
        in_data = Cat(*[Mux(h2c.p.keep[k], h2c.p.data[8 * k:8 * k + 8], 0) for k in range(PB)])
        landed = Signal(32 * BUF)
        level_in = Signal(range(BUF + 1))
        m.d.comb += [landed.eq(Mux(accept, buf | (in_data << (level * 32))[:32 * BUF], buf)),
                     level_in.eq(level + Mux(accept, nwords, 0))]
        with m.If(accept):
            m.d.sync += self.nbytes.eq(self.nbytes + nkeep)
            with m.If(h2c.p.last):
                m.d.sync += [in_ended.eq(1), short.eq(nkeep[:2] != 0), short_bytes.eq(nkeep[:2])]
        # (the landing and the shift reach every bit of the buffer: `room` is a
        # register so that `ready`, and the landing enable with it, are a gate or
        # two from flip-flops)
        level_next = Signal(range(BUF + 1))
        with m.If(discard):
            m.d.comb += level_next.eq(0)
            m.d.sync += buf.eq(0)
        with m.Elif(consume_pay):
            m.d.comb += level_next.eq(level_in - pay_words)
            m.d.sync += buf.eq(landed >> (pay_words * 32))
        with m.Elif(consume_chdr):
            m.d.comb += level_next.eq(level_in - 1)
            m.d.sync += buf.eq(landed >> 32)
        with m.Elif(consume_hdr):
            m.d.comb += level_next.eq(level_in - HEADER_WORDS)
            m.d.sync += buf.eq(landed >> (32 * HEADER_WORDS))
        with m.Else():
            m.d.comb += level_next.eq(level_in)
            m.d.sync += buf.eq(landed)
        m.d.sync += [level.eq(level_next), room.eq(level_next + KW <= BUF)]

        # ---- parsing ----------------------------------------------------------------
        fail = Signal()
        fail_code = Signal(8)
        m.d.comb += self.start.ready.eq(state == IDLE)
        with m.If(self.start.valid & self.start.ready):
            m.d.sync += [length.eq(self.start.p.length), code.eq(self.start.p.code),
                         accepted.eq(0), in_ended.eq(0), short.eq(0), self.nbytes.eq(0),
                         state.eq(Mux(self.start.p.code != 0, DRAIN, HDR))]

        # The last word present is "short" when the frame ended with a partial word.
        def whole(n):
            """The first ``n`` words are present and complete."""
            return (level > n) | ((level == n) & ~(short & in_ended))

        w0, w1 = words[0], words[1]
        # the frame header's fields (docs/FORMAT.md)
        hdr_length = Cat(words[2], words[3])
        hdr_version, hdr_ebits, hdr_log2c, hdr_codec = w1[0:8], w1[8:16], w1[16:24], w1[24:32]
        magic_ok = w0 == MAGIC_WORD
        magic_mask = Mux(short & (level == 1), Cat(*[
            Mux(short_bytes > k, C(0xFF, 8), C(0, 8)) if k < 3 else C(0, 8)
            for k in range(4)]), C(0xFFFFFFFF, 32))
        magic_prefix_ok = (w0 & magic_mask) == (MAGIC_WORD & magic_mask)
        # the raw length modulo the element size (must be 0)
        length_mod = Mux(hdr_ebits == 8, 0, Mux(hdr_ebits == 16, hdr_length[0], hdr_length[:2]))
        codec_built = Const(0, 1)
        for c in ENGINE_CODECS:
            if c == Codec.RAW or p.codecs >> c & 1:
                codec_built = codec_built | (hdr_codec == c)

        # The header's verdict is computed from the buffer in one cycle and acted
        # on in the next (the header words do not move while the parser waits in
        # HDR, and the verdict of a cycle spent elsewhere is never used): the
        # checks' chain of compares does not meet the buffer's shift.
        H_WAIT, H_OK, H_FAIL, H_FAIL_EARLY = range(4)
        hv = Signal(2)                    # the verdict of the previous cycle ...
        hv_code = Signal(8)               # ... its error code ...
        hv_live = Signal()                # ... and it was computed in HDR
        hv_now = Signal(2)
        hv_code_now = Signal(8)
        with m.If((level >= 1) & ~magic_prefix_ok):
            m.d.comb += [hv_now.eq(H_FAIL_EARLY), hv_code_now.eq(EngineError.BAD_MAGIC)]
        with m.Elif(whole(HEADER_WORDS)):
            m.d.comb += hv_now.eq(H_FAIL)
            with m.If(~magic_ok):
                m.d.comb += hv_code_now.eq(EngineError.BAD_MAGIC)
            with m.Elif(hdr_version != VERSION):
                m.d.comb += hv_code_now.eq(EngineError.BAD_VERSION)
            with m.Elif(~Cat(*[hdr_ebits == e for e in ELEM_BITS]).any()
                        | (hdr_log2c < LOG2_CHUNK_MIN) | (hdr_log2c > LOG2_CHUNK_MAX)
                        | (hdr_codec > max(ENGINE_CODECS)) | (length_mod != 0)):
                m.d.comb += hv_code_now.eq(EngineError.BAD_PARAMS)
            with m.Elif(hdr_ebits != E):
                m.d.comb += hv_code_now.eq(EngineError.FRAME_ELEM_BITS)
            with m.Elif(~codec_built):
                m.d.comb += hv_code_now.eq(EngineError.FRAME_CODEC)
            with m.Elif(hdr_length != length):
                m.d.comb += hv_code_now.eq(EngineError.FRAME_LENGTH)
            with m.Else():
                m.d.comb += hv_now.eq(H_OK)
        with m.Elif(in_ended):
            m.d.comb += [hv_now.eq(H_FAIL_EARLY), hv_code_now.eq(EngineError.TRUNCATED)]
        m.d.sync += [hv.eq(hv_now), hv_code.eq(hv_code_now), hv_live.eq(state == HDR)]

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
        m.d.sync += raw_c.eq(Mux(big, C(1, COUNT_BITS) << log2c, raw_left[:COUNT_BITS]))
        # the chunk header's fields
        plen, cc = w0[:CHUNK_LENGTH_BITS], w0[CHUNK_LENGTH_BITS:32]
        plen_words = Signal(CHUNK_LENGTH_BITS)
        m.d.comb += plen_words.eq((plen + 3) >> 2)

        # payload beat: a full beat of KW words, or the payload's last (pw_left words)
        pad_bad = Signal()
        lastw = Signal(32)
        with m.Switch(pw_left):
            for n in range(1, KW + 1):
                with m.Case(n):
                    m.d.comb += lastw.eq(words[n - 1])
        m.d.comb += pad_bad.eq(Mux(pay_left[:2] == 1, lastw[8:32] != 0,
                               Mux(pay_left[:2] == 2, lastw[16:32] != 0,
                                   Mux(pay_left[:2] == 3, lastw[24:32] != 0, 0))))
        pay_bytes = Signal(range(PB + 1))
        m.d.comb += pay_words.eq(Mux(pw_last, pw_left, KW))
        m.d.comb += pay_bytes.eq(Mux(pw_last, pay_left, PB))
        m.d.comb += [pay.p.data.eq(buf[:8 * PB]),
                     pay.p.keep.eq(Cat(*[pay_bytes > k for k in range(PB)])),
                     pay.p.last.eq(pw_last)]

        with m.If(state == HDR):
            with m.If(hv_live & (hv == H_FAIL_EARLY)):
                m.d.comb += [fail.eq(1), fail_code.eq(hv_code)]
            with m.Elif(hv_live & (hv != H_WAIT)):
                m.d.comb += consume_hdr.eq(1)
                with m.If(hv == H_FAIL):
                    m.d.comb += [fail.eq(1), fail_code.eq(hv_code)]
                with m.Else():
                    m.d.sync += [frame_codec.eq(hdr_codec), log2c.eq(hdr_log2c),
                                 raw_left.eq(hdr_length),
                                 state.eq(Mux(hdr_length == 0, END, CALC))]
        with m.Elif(state == CALC):
            m.d.sync += state.eq(CHDR)
        with m.Elif(state == CHDR):
            with m.If(whole(1)):
                # (the word goes whenever the job queue has room, whatever the
                # checks say: after a failure the buffer is cleared anyway, and
                # the shift does not wait for the compares)
                m.d.comb += consume_chdr.eq(jobs.ready)
                with m.If((cc != 0) & (cc != frame_codec)):
                    m.d.comb += [fail.eq(1), fail_code.eq(EngineError.BAD_CHUNK_CODEC)]
                with m.Elif((cc == 0) & (plen != raw_c)):
                    m.d.comb += [fail.eq(1), fail_code.eq(EngineError.LENGTH_MISMATCH)]
                with m.Else():
                    m.d.comb += [jobs.valid.eq(1), jobs.p.end.eq(0), jobs.p.codec.eq(cc),
                                 jobs.p.count.eq(raw_c >> eshift)]
                    with m.If(jobs.ready):
                        m.d.sync += [pay_left.eq(plen), pw_left.eq(plen_words),
                                     pw_last.eq(plen_words <= KW), pay_empty.eq(plen == 0),
                                     raw_left.eq(raw_left - raw_c), state.eq(PAY)]
            with m.Elif(in_ended):
                m.d.comb += [fail.eq(1), fail_code.eq(EngineError.TRUNCATED)]
        with m.Elif(state == PAY):
            chunk_done = [accepted.eq(accepted + 1), state.eq(Mux(raw_left == 0, END, CHDR))]
            with m.If(pay_empty):
                # empty payload: a null beat closes it
                m.d.comb += [pay.valid.eq(1), pay.p.keep.eq(0), pay.p.last.eq(1)]
                with m.If(pay.ready):
                    m.d.sync += chunk_done
            # every beat of a payload but its last is full: the decompressors'
            # unpackers (hw/packer.py) rely on it
            with m.Elif(Mux(pw_last, whole(pw_left), level >= KW)):
                m.d.comb += pay.valid.eq(1)
                with m.If(pay.ready):
                    m.d.comb += consume_pay.eq(1)
                    m.d.sync += [pay_left.eq(pay_left - PB), pw_left.eq(pw_left - KW),
                                 pw_last.eq(pw_left <= 2 * KW)]
                    with m.If(pw_last):
                        with m.If(pad_bad):
                            m.d.comb += [fail.eq(1), fail_code.eq(EngineError.BAD_PADDING)]
                        with m.Else():
                            m.d.sync += chunk_done
            with m.Elif(in_ended & Mux(pw_last, level <= pw_left, level <= KW)):
                # the input ends inside the payload or its padding
                m.d.comb += [pay.valid.eq(1), pay.p.keep.eq(0), pay.p.last.eq(1)]
                with m.If(pay.ready):
                    m.d.comb += [fail.eq(1), fail_code.eq(EngineError.TRUNCATED)]
        with m.Elif(state == END):
            with m.If(level != 0):
                m.d.comb += [fail.eq(1), fail_code.eq(EngineError.TRAILING_BYTES)]
            with m.Elif(in_ended):
                m.d.sync += state.eq(FINISH)
        with m.Elif(state == DRAIN):
            with m.If(in_ended):
                m.d.sync += state.eq(FINISH)
        with m.Elif(state == FINISH):
            m.d.comb += [jobs.valid.eq(1), jobs.p.end.eq(1), jobs.p.code.eq(code),
                         jobs.p.accepted.eq(accepted)]
            with m.If(jobs.ready):
                m.d.sync += state.eq(IDLE)
        with m.If(fail):
            m.d.sync += [code.eq(fail_code), state.eq(DRAIN)]
        return m
