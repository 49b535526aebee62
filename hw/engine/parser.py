"""Frame parser of the prefetch path: H2C bytes -> chunk jobs + payload beats."""
from __future__ import annotations

from amaranth.hdl import C, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

from cdma.golden.elements import ELEM_BITS
from cdma.golden.frame import CHUNK_BYTES, CHUNK_LENGTH_BITS, HEADER_BYTES, MAGIC_WORD, VERSION, Codec

from ..streams import byte_stream
from .params import ENGINE_CODECS, LENGTH_BITS, EngineError, EngineUnit

__all__ = ["FrameParser", "job_layout", "COUNT_BITS", "CODEC_BITS"]

#: Bits of a chunk's element count (up to the largest chunk of one-byte elements).
COUNT_BITS = max(CHUNK_BYTES).bit_length()
#: Bits of a codec id inside the engine (the format's byte holds 0..2).
CODEC_BITS = max(ENGINE_CODECS).bit_length()
#: log2 of the chunk sizes the format allows.
LOG2_CHUNK_MIN, LOG2_CHUNK_MAX = (c.bit_length() - 1 for c in (min(CHUNK_BYTES), max(CHUNK_BYTES)))
#: Words the input buffer holds beyond two beats: a frame header must fit in it
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
        BUF = 2 * KW + HEADER_WORDS
        h2c, pay, jobs = self.h2c, self.pay, self.jobs

        buf = Signal(32 * BUF)
        level = Signal(range(BUF + 1))
        short = Signal()                  # the last word in buf is incomplete
        short_bytes = Signal(2)
        in_ended = Signal()
        words = [buf[32 * k:32 * (k + 1)] for k in range(BUF)]

        IDLE, HDR, CHDR, PAY, END, DRAIN, FINISH = range(7)
        state = Signal(range(7))
        length = Signal(LENGTH_BITS)
        code = Signal(8)
        frame_codec = Signal(CODEC_BITS)
        log2c = Signal(range(LOG2_CHUNK_MAX + 1))
        raw_left = Signal(64)             # raw bytes of the frame not yet in a chunk job
        pay_left = Signal(CHUNK_LENGTH_BITS)   # payload bytes of this chunk left
        accepted = Signal(32)

        # ---- input side ---------------------------------------------------------
        consume = Signal(range(BUF + 1))
        level_c = Signal(range(BUF + 1))
        m.d.comb += level_c.eq(level - consume)
        nkeep = Signal(range(PB + 1))
        m.d.comb += nkeep.eq(sum(h2c.p.keep[k] for k in range(PB)))
        nwords = (nkeep + 3) >> 2
        discard = state == DRAIN
        m.d.comb += h2c.ready.eq((state != IDLE) & ~in_ended
                                 & (discard | (level_c + KW <= BUF)))
        accept = h2c.valid & h2c.ready
        in_data = Cat(*[Mux(h2c.p.keep[k], h2c.p.data[8 * k:8 * k + 8], 0) for k in range(PB)])
        with m.If(accept):
            m.d.sync += self.nbytes.eq(self.nbytes + nkeep)
            with m.If(h2c.p.last):
                m.d.sync += in_ended.eq(1)
        with m.If(discard):
            m.d.sync += [buf.eq(0), level.eq(0)]
        with m.Else():
            shifted = buf >> (consume * 32)
            with m.If(accept):
                m.d.sync += [buf.eq(shifted | (in_data << (level_c * 32))[:32 * BUF]),
                             level.eq(level_c + nwords)]
                with m.If(h2c.p.last):
                    m.d.sync += [short.eq(nkeep[:2] != 0), short_bytes.eq(nkeep[:2])]
            with m.Else():
                m.d.sync += [buf.eq(shifted), level.eq(level_c)]

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

        chunk_bytes = Signal(COUNT_BITS)
        m.d.comb += chunk_bytes.eq(C(1, COUNT_BITS) << log2c)
        raw_c = Signal(COUNT_BITS)        # raw bytes of this chunk
        m.d.comb += raw_c.eq(Mux(raw_left < chunk_bytes, raw_left[:COUNT_BITS], chunk_bytes))
        # the chunk header's fields
        plen, cc = w0[:CHUNK_LENGTH_BITS], w0[CHUNK_LENGTH_BITS:32]

        # payload beat
        pwords_left = (pay_left + 3) >> 2
        n_avail = Mux(level < KW, level, KW)
        n_pay = Signal(range(KW + 1))
        m.d.comb += n_pay.eq(Mux(pwords_left < n_avail, pwords_left, n_avail))
        pay_last = n_pay == pwords_left
        nbytes_pay = Mux(pay_left < n_pay * 4, pay_left, n_pay * 4)
        pad_bad = Signal()
        lastw = Signal(32)
        m.d.comb += lastw.eq(Mux(n_pay == 0, 0, (buf >> ((n_pay - 1).as_unsigned() * 32))[:32]))
        m.d.comb += pad_bad.eq(Mux(pay_left[:2] == 1, lastw[8:32] != 0,
                               Mux(pay_left[:2] == 2, lastw[16:32] != 0,
                                   Mux(pay_left[:2] == 3, lastw[24:32] != 0, 0))))
        load_ok = ~pay.valid | pay.ready
        with m.If(pay.valid & pay.ready):
            m.d.sync += pay.valid.eq(0)
        job_push = Signal()
        m.d.comb += jobs.valid.eq(job_push)

        with m.If(state == HDR):
            with m.If((level >= 1) & ~magic_prefix_ok):
                m.d.comb += [fail.eq(1), fail_code.eq(EngineError.BAD_MAGIC)]
            with m.Elif(whole(HEADER_WORDS)):
                m.d.comb += consume.eq(HEADER_WORDS)
                with m.If(~magic_ok):
                    m.d.comb += [fail.eq(1), fail_code.eq(EngineError.BAD_MAGIC)]
                with m.Elif(hdr_version != VERSION):
                    m.d.comb += [fail.eq(1), fail_code.eq(EngineError.BAD_VERSION)]
                with m.Elif(~Cat(*[hdr_ebits == e for e in ELEM_BITS]).any()
                            | (hdr_log2c < LOG2_CHUNK_MIN) | (hdr_log2c > LOG2_CHUNK_MAX)
                            | (hdr_codec > max(ENGINE_CODECS)) | (length_mod != 0)):
                    m.d.comb += [fail.eq(1), fail_code.eq(EngineError.BAD_PARAMS)]
                with m.Elif(hdr_ebits != E):
                    m.d.comb += [fail.eq(1), fail_code.eq(EngineError.FRAME_ELEM_BITS)]
                with m.Elif(~codec_built):
                    m.d.comb += [fail.eq(1), fail_code.eq(EngineError.FRAME_CODEC)]
                with m.Elif(hdr_length != length):
                    m.d.comb += [fail.eq(1), fail_code.eq(EngineError.FRAME_LENGTH)]
                with m.Else():
                    m.d.sync += [frame_codec.eq(hdr_codec), log2c.eq(hdr_log2c),
                                 raw_left.eq(hdr_length),
                                 state.eq(Mux(hdr_length == 0, END, CHDR))]
            with m.Elif(in_ended):
                m.d.comb += [fail.eq(1), fail_code.eq(EngineError.TRUNCATED)]
        with m.Elif(state == CHDR):
            with m.If(whole(1)):
                with m.If((cc != 0) & (cc != frame_codec)):
                    m.d.comb += [fail.eq(1), fail_code.eq(EngineError.BAD_CHUNK_CODEC)]
                with m.Elif((cc == 0) & (plen != raw_c)):
                    m.d.comb += [fail.eq(1), fail_code.eq(EngineError.LENGTH_MISMATCH)]
                with m.Else():
                    m.d.comb += [job_push.eq(1), jobs.p.end.eq(0), jobs.p.codec.eq(cc),
                                 jobs.p.count.eq(raw_c >> eshift)]
                    with m.If(jobs.ready):
                        m.d.comb += consume.eq(1)
                        m.d.sync += [pay_left.eq(plen), raw_left.eq(raw_left - raw_c), state.eq(PAY)]
            with m.Elif(in_ended):
                m.d.comb += [fail.eq(1), fail_code.eq(EngineError.TRUNCATED)]
        with m.Elif(state == PAY):
            with m.If(load_ok):
                with m.If(pay_left == 0):
                    # empty payload: a null beat closes it
                    m.d.sync += [pay.valid.eq(1), pay.p.keep.eq(0), pay.p.last.eq(1),
                                 accepted.eq(accepted + 1),
                                 state.eq(Mux(raw_left == 0, END, CHDR))]
                # every beat of a payload but its last is full: the decompressors'
                # unpackers (hw/packer.py) rely on it
                with m.Elif(Mux(pay_last, (n_pay != 0) & whole(n_pay), n_pay == KW)):
                    m.d.comb += consume.eq(n_pay)
                    m.d.sync += [pay.valid.eq(1), pay.p.data.eq(buf[:8 * PB]),
                                 pay.p.keep.eq(Cat(*[nbytes_pay > k for k in range(PB)])),
                                 pay.p.last.eq(pay_last), pay_left.eq(pay_left - nbytes_pay)]
                    with m.If(pay_last):
                        with m.If(pad_bad):
                            m.d.comb += [fail.eq(1), fail_code.eq(EngineError.BAD_PADDING)]
                        with m.Else():
                            m.d.sync += [accepted.eq(accepted + 1),
                                         state.eq(Mux(raw_left == 0, END, CHDR))]
                with m.Elif(in_ended & (level <= n_pay)):
                    # the input ends inside the payload or its padding
                    m.d.sync += [pay.valid.eq(1), pay.p.keep.eq(0), pay.p.last.eq(1)]
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
            m.d.comb += [job_push.eq(1), jobs.p.end.eq(1), jobs.p.code.eq(code),
                         jobs.p.accepted.eq(accepted)]
            with m.If(jobs.ready):
                m.d.sync += state.eq(IDLE)
        with m.Else():          # IDLE and the unused code 7: wait
            pass
        with m.If(fail):
            m.d.sync += [code.eq(fail_code), state.eq(DRAIN)]
        return m
