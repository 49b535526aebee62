"""Frame reader of the offload path: frame header, then per chunk its header word
and payload from the chunk buffer -> the word packer."""
from __future__ import annotations

from amaranth.hdl import C, Cat, Module, Mux, Signal
from amaranth.lib import stream
from amaranth.lib.wiring import In, Out

from cdma.golden.frame import (CHUNK_HEADER_BYTES, CHUNK_LENGTH_BITS, HEADER_BYTES, MAGIC_WORD, VERSION,
                               VERSION_TABLE, Codec)
from cdma.golden.zvce import TABLE_BYTES

from ..packer import piece_layout
from ..skid import SkidBuffer, replicated
from .chunk_buffer import chunk_info_layout
from .params import LENGTH_BITS, EngineUnit

__all__ = ["FrameReader", "WORD_BYTES"]

#: The packer and the frame work in 32-bit words: every header and padded payload
#: of the frame is a whole number of them (docs/FORMAT.md).
WORD_BYTES = 4
WORD_SHIFT = WORD_BYTES.bit_length() - 1


class FrameReader(EngineUnit):
    """Emit one frame (docs/FORMAT.md) as pieces of 32-bit words: the 16-byte frame
    header (a ZVCE frame: version 2, then its code table, a second piece), then
    for every chunk of the :class:`~cdma.hw.engine.chunk_buffer.ChunkBuffer`
    its header word (payload length, codec or 0 for raw) and its payload,
    compressed (or the ZVC copy of a ZVCE frame's chunk) or raw, zero-padded to
    whole words.

    One piece leaves per cycle while ``o`` takes them; the pieces pass two
    register stages in lockstep (both move when the output slice takes a piece
    or the second holds none), then an output register slice (a
    :class:`~cdma.hw.skid.SkidBuffer`: ``o`` is registered, ``o.ready``
    reaches only its flip-flops).  The stages' wide registers move in shares
    of 64 bits, each with its own copy of the second stage's ``valid`` and of
    the slice's ``ready`` (one enable for all of them, from the slice's
    ``ready``, was the 16 B engine's path at seed 1, 14.3 ns).  A payload
    piece reads its beat of the chunk buffer as it enters the first stage
    (``rd_en`` is the stages' advance), and the read port's output -- both
    halves -- is registered, with nothing in between, as the piece moves to
    the second: the block RAM's clock-to-out (5.8 ns on the
    ECP5, no output register in Yosys' mapping) then reaches a flip-flop
    directly, and the raw/compressed/header select sits behind it.  So the
    payload streams with no gap between chunks when the next chunk is ready,
    one cycle later than with one stage.

    Parameters
    ----------
    params : EngineParams
        The engine configuration (``elem_bits``, ``mem_bytes``, ``chunk_bytes``).

    Members
    -------
    start : In(1)
        Start a frame of ``length`` raw bytes with ``codec`` (one cycle; the frame
        header is the next piece).
    clear : In(1)
        ``nbytes`` to 0 (a new command).
    length : In(LENGTH_BITS)
    codec : In(8)
        The frame's raw length and codec, held while the frame is read.
    chunk : In(stream.Signature(chunk_info_layout(chunk_bytes)))
        The oldest buffered chunk; taken when its last payload piece is issued.
    rd_addr : Out(range(chunk_bytes // mem_bytes))
    rd_en : Out(1)
    rd_raw : In(8 * mem_bytes)
        The chunk buffer's read port (data one cycle after ``rd_en``).
    rd_comp : In(8 * comp_bytes)
        Its compressed half's ``comp_bytes`` holding the beat read (part
        ``rd_addr % (comp_bytes // mem_bytes)``), picked after a register.
    o : Out(stream.Signature(piece_layout(32, mem_bytes // 4)))
        The frame's words, ``n`` words per piece, ``last`` on the frame's final piece.
    nbytes : Out(LENGTH_BITS)
        The frame's length in bytes so far: the header's, then each chunk's
        header and padded payload added a cycle after its header is issued.
    code_table : In(128)
        With ZVCE only: a ZVCE frame's packed code table (held while it is read).
    rd_alt : In(8 * comp_bytes)
        With ZVCE only: the chunk buffer's ZVC copy, read with the others.
    """

    def __init__(self, params):
        super().__init__(params, lambda p: {
            "start": In(1),
            "clear": In(1),
            "length": In(LENGTH_BITS),
            "codec": In(8),
            "chunk": In(stream.Signature(chunk_info_layout(p.chunk_bytes))),
            "rd_addr": Out(max(1, (p.chunk_bytes // p.mem_bytes - 1).bit_length())),
            "rd_en": Out(1),
            "rd_raw": In(8 * p.mem_bytes),
            "rd_comp": In(8 * p.comp_bytes),
            "o": Out(stream.Signature(piece_layout(8 * WORD_BYTES, p.mem_bytes // WORD_BYTES))),
            "nbytes": Out(LENGTH_BITS),
            **({"code_table": In(8 * TABLE_BYTES), "rd_alt": In(8 * p.comp_bytes)}
               if p.zvce else {}),
        })

    def elaborate(self, platform):
        m = Module()
        p = self._p
        E, MB = p.elem_bits, p.mem_bytes
        chunk_bytes = p.chunk_bytes
        chunk_beats = chunk_bytes // MB
        MW = MB // WORD_BYTES               # words per memory beat
        mshift = MB.bit_length() - 1
        cbits = max(1, (chunk_beats - 1).bit_length())
        length, codec, flen, o = self.length, self.codec, self.nbytes, self.o

        zvce = p.zvce
        # (`codec` is held for the frame: the compare sits before registers only)
        zvce_frame = (codec == Codec.ZVCE) if zvce else C(0, 1)
        R_IDLE, R_HDR, R_TBL, R_CHDR, R_PAY = range(5)
        rstate = Signal(range(5))
        # first stage: the piece being read
        s_valid = Signal()
        s_pay = Signal()
        s_comp = Signal()
        s_alt = Signal()
        s_hdr = Signal(8 * HEADER_BYTES)
        s_n = Signal.like(o.p.n)
        s_last = Signal()
        # second stage: the same, and the read port's output, into the output
        # slice; its wide registers in NS shares, each moved by its own copy
        # of `advance` (a copy of the stage's `valid`, a copy of the slice's
        # `ready`)
        NS = max(1, MB // 8)
        m.submodules.out = out = SkidBuffer(o.p.shape(), copies=NS)
        m.d.comb += [o.valid.eq(out.o.valid), o.p.eq(out.o.p), out.o.ready.eq(o.ready)]
        t_valid = replicated(m, "t_valid", NS)
        adv = Signal(NS)
        m.d.comb += adv.eq(Cat(*[~v | r for v, r in zip(t_valid, out.ready_copies)]))
        advance = adv[0]
        t_pay = Signal()
        t_comp = Signal()
        t_alt = Signal()
        t_n = Signal.like(o.p.n)
        t_last = Signal()
        t_hdr = Signal(8 * HEADER_BYTES)
        raw_q = Signal(8 * MB)
        # (the compressed copies' reads are `comp_bytes` wide: registered
        # whole, the beat picked by `t_part` in the output select)
        rshift = p.comp_ratio_log2
        ratio = 1 << rshift
        comp_q = Signal(8 * p.comp_bytes)
        alt_q = Signal(8 * p.comp_bytes)
        s_part = Signal(max(1, rshift))
        t_part = Signal(max(1, rshift))

        def part(row):
            """The beat ``t_part`` of a registered compressed row."""
            if ratio == 1:
                return row
            return Mux(t_part, row[8 * MB:], row[:8 * MB])
        p_comp = Signal()
        p_alt = Signal()
        p_idx = Signal(cbits + 1)
        p_lastidx = Signal(cbits + 1)
        p_lastwords = Signal(range(MW + 1))
        # (`p_idx == p_lastidx` as a register, kept a beat ahead: the compare in
        # front of the chunk's take, which clears the chunk buffer's bank and
        # moves its head registers, was on the 32 B engine's critical path)
        p_at_last = Signal()
        p_final = Signal()
        m.d.comb += [self.rd_addr.eq(p_idx[:cbits]), self.rd_en.eq(advance)]
        m.d.comb += [out.i.valid.eq(t_valid[0]),
                     out.i.p.data.eq(Mux(t_pay, Mux(t_comp, part(comp_q),
                                                    Mux(t_alt, part(alt_q), raw_q)),
                                         t_hdr)),
                     out.i.p.n.eq(t_n), out.i.p.last.eq(t_last)]

        def shares(dst, src, cond=C(1, 1)):
            """``dst`` loads ``src`` share by share, each with its own
            ``advance`` copy (and ``cond``)."""
            w = len(dst)
            for k in range(NS):
                lo, hi = k * w // NS, (k + 1) * w // NS
                with m.If(adv[k] & cond):
                    m.d.sync += dst[lo:hi].eq(src[lo:hi])
        with m.If(advance):
            m.d.sync += [t_pay.eq(s_pay), t_comp.eq(s_comp), t_alt.eq(s_alt), t_n.eq(s_n),
                         t_last.eq(s_last), t_part.eq(s_part)]
        for k in range(NS):
            with m.If(adv[k]):
                m.d.sync += t_valid[k].eq(s_valid)
        shares(t_hdr, s_hdr)
        shares(raw_q, self.rd_raw)
        shares(comp_q, self.rd_comp)
        if zvce:
            shares(alt_q, self.rd_alt)
        log2c = chunk_bytes.bit_length() - 1
        # docs/FORMAT.md: magic, version, element bits, log2 chunk bytes, codec, raw
        # length as u64 (the descriptor's length is 32 bits: the top half is 0).
        version = Mux(zvce_frame, C(VERSION_TABLE, 8), C(VERSION, 8))
        header = Cat(C(MAGIC_WORD, 32), version, C(E, 8), C(log2c, 8), codec, length,
                     C(0, 64 - LENGTH_BITS))
        assert len(header) == 8 * HEADER_BYTES == 8 * TABLE_BYTES
        full = self.chunk.valid
        use = self.chunk.p.comp
        use_alt = self.chunk.p.alt
        plen = self.chunk.p.length
        issue = Signal()
        # (the frame header, its code table, or a chunk's header word, into
        # `s_hdr` in shares)
        in_hdr, in_chdr = rstate == R_HDR, rstate == R_CHDR
        chunk_codec = Mux(use, codec, Mux(use_alt, Codec.ZVC, 0))
        word = Mux(in_hdr, header, plen | (chunk_codec << CHUNK_LENGTH_BITS))
        in_tbl = C(0, 1)
        if zvce:
            in_tbl = rstate == R_TBL
            word = Mux(in_tbl, self.code_table, word)
        shares(s_hdr, word, in_hdr | in_tbl | (in_chdr & full))
        # A chunk's bytes are added to the frame's length a cycle after its
        # header goes (`flen_inc`): the chunk buffer's length select and the
        # 32-bit add are not in one cycle (together they were the 16 B
        # engine's critical path, 16.2 ns with 34 carry-chain steps).  The
        # length is read once the frame's last beat has left the packer, cycles
        # after its last chunk header.
        flen_inc = Signal(range(CHUNK_HEADER_BYTES + chunk_bytes + WORD_BYTES))
        flen_add = Signal()
        m.d.sync += flen_add.eq(0)
        with m.If(flen_add):
            m.d.sync += flen.eq(flen + flen_inc)
        with m.If(self.clear):
            m.d.sync += flen.eq(0)
        with m.If(self.start):
            m.d.sync += [rstate.eq(R_HDR),
                         flen.eq(Mux(zvce_frame, HEADER_BYTES + TABLE_BYTES, HEADER_BYTES))]
        with m.If(rstate == R_HDR):
            m.d.comb += issue.eq(1)
            with m.If(advance):
                m.d.sync += [s_pay.eq(0),
                             s_n.eq(HEADER_BYTES // WORD_BYTES),
                             s_last.eq((length == 0) & ~zvce_frame),
                             rstate.eq(Mux(zvce_frame, R_TBL, Mux(length == 0, R_IDLE, R_CHDR)))]
        with m.Elif(rstate == R_TBL):
            m.d.comb += issue.eq(1)
            with m.If(advance):
                m.d.sync += [s_pay.eq(0),
                             s_n.eq(TABLE_BYTES // WORD_BYTES),
                             s_last.eq(length == 0),
                             rstate.eq(Mux(length == 0, R_IDLE, R_CHDR))]
        with m.Elif(rstate == R_CHDR):
            m.d.comb += issue.eq(full)
            with m.If(advance & full):
                m.d.sync += [s_pay.eq(0),
                             s_n.eq(CHUNK_HEADER_BYTES // WORD_BYTES),
                             s_last.eq(0),
                             p_comp.eq(use), p_alt.eq(use_alt), p_idx.eq(0),
                             p_lastidx.eq((plen - 1) >> mshift),
                             p_at_last.eq(plen <= MB),
                             p_lastwords.eq((((plen - 1) & (MB - 1)) >> WORD_SHIFT) + 1),
                             p_final.eq(self.chunk.p.final), rstate.eq(R_PAY),
                             flen_inc.eq(CHUNK_HEADER_BYTES
                                         + (((plen + WORD_BYTES - 1) >> WORD_SHIFT)
                                            << WORD_SHIFT)),
                             flen_add.eq(1)]
        with m.Elif(rstate == R_PAY):
            m.d.comb += issue.eq(1)
            is_last = p_at_last
            with m.If(advance):
                m.d.sync += [s_pay.eq(1), s_comp.eq(p_comp), s_alt.eq(p_alt),
                             s_part.eq(p_idx[:rshift] if rshift else 0),
                             s_n.eq(Mux(is_last, p_lastwords, MW)),
                             s_last.eq(is_last & p_final), p_idx.eq(p_idx + 1),
                             p_at_last.eq(p_idx + 1 == p_lastidx)]
                with m.If(is_last):
                    m.d.comb += self.chunk.ready.eq(1)
                    m.d.sync += rstate.eq(Mux(p_final, R_IDLE, R_CHDR))
        with m.Else():          # R_IDLE: wait for the next frame
            pass
        with m.If(advance):
            m.d.sync += s_valid.eq(issue)
        return m
