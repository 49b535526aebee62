"""Chunk buffer of the offload path: each chunk raw and compressed, and the raw
fallback (the shorter one is sent)."""
from __future__ import annotations

from amaranth.hdl import C, Cat, Module, Mux, Signal
from amaranth.lib import data, stream
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..streams import element_stream
from .chunker import chunk_beat_layout
from .compress_stage import counted_byte_layout
from .params import EngineUnit

__all__ = ["ChunkBuffer", "chunk_info_layout"]


def chunk_info_layout(chunk_bytes: int) -> data.StructLayout:
    """What the reader needs of a buffered chunk: payload ``length`` in bytes,
    ``comp`` (send the compressed copy), ``alt`` (send the ZVC copy of a ZVCE
    frame's chunk; raw when neither is set) and ``final`` (the transfer's last
    chunk)."""
    return data.StructLayout({"length": range(chunk_bytes + 1), "comp": 1, "alt": 1, "final": 1})


class ChunkBuffer(EngineUnit):
    """``chunk_banks`` banks, each holding one chunk twice: raw (its half written
    from the chunker's beats, the elements past the end zeroed) and compressed
    (from the codec stage), and with ZVCE built in three times: also the ZVC
    copy of a ZVCE frame's chunk (``alt``).  The beats from the chunker are
    forked to the raw half and to ``enc``; a bank is written only when free, so
    the codec runs up to ``chunk_banks - 1`` chunks ahead of the reader.

    A chunk is ready (``chunk.valid``, a register) 2 cycles after all its halves
    are complete; the raw fallback: a compressed copy is used only if it fits in
    the bank and is shorter than the raw one, and of two (ZVCE's and ZVC's) the
    shorter, ZVCE's on a tie (``golden.frame``'s choice).  A half whose input is
    off (``codec_on`` low: raw frames; ``alt_on`` low: not ZVCE) is marked
    complete and overflowed as the raw half completes each chunk.

    Parameters
    ----------
    params : EngineParams
        The engine configuration (``elem_bits``, ``mem_bytes``, ``comp_bytes``,
        ``chunk_bytes``, ``chunk_banks``).

    Members
    -------
    codec_on : In(1)
        The frame is compressed (held for the whole frame).
    i : In(stream.Signature(chunk_beat_layout(elem_bits, mem_bytes)))
        The chunker's beats.
    enc : Out(element_stream(elem_bits, lanes))
        The same beats to the codec stage (``data`` unmasked, ``keep``, ``last``).
    comp : In(stream.Signature(counted_byte_layout(comp_bytes)))
        The codec stage's output with each beat's byte count, ``last`` at each
        chunk's end: ``comp_bytes`` per cycle in, ``mem_bytes`` per cycle read.
    chunk : Out(stream.Signature(chunk_info_layout(chunk_bytes)))
        The oldest complete chunk; taken when the reader has read all of it,
        which frees its bank (``valid`` is low in the cycle after a take).
    rd_addr : In(range(chunk_bytes // mem_bytes))
        Beat of the oldest chunk to read.
    rd_en : In(1)
        Read: ``rd_raw`` and ``rd_comp`` hold that beat from the next cycle.
    rd_raw : Out(8 * mem_bytes)
        The beat of the raw half, read one cycle after ``rd_en``.
    rd_comp : Out(8 * comp_bytes)
        The ``comp_bytes`` of the compressed half that hold that beat (beat
        ``rd_addr`` is part ``rd_addr % (comp_bytes // mem_bytes)`` of them),
        read with the raw half: the reader picks the part after a register,
        never straight from the block RAMs' outputs.
    alt_on : In(1)
        With ZVCE only: the frame is ZVCE (held for the whole frame).
    alt : In(stream.Signature(counted_byte_layout(comp_bytes)))
        With ZVCE only: the ZVC copy of a ZVCE frame's chunks.
    rd_alt : Out(8 * comp_bytes)
        With ZVCE only: the ZVC copy's ``comp_bytes`` holding that beat, read
        with the others.
    """

    def __init__(self, params):
        super().__init__(params, lambda p: {
            "codec_on": In(1),
            "i": In(stream.Signature(chunk_beat_layout(p.elem_bits, p.mem_bytes))),
            "enc": Out(element_stream(p.elem_bits, 8 * p.mem_bytes // p.elem_bits)),
            "comp": In(stream.Signature(counted_byte_layout(p.comp_bytes))),
            "chunk": Out(stream.Signature(chunk_info_layout(p.chunk_bytes))),
            "rd_addr": In(max(1, (p.chunk_bytes // p.mem_bytes - 1).bit_length())),
            "rd_en": In(1),
            "rd_raw": Out(8 * p.mem_bytes),
            "rd_comp": Out(8 * p.comp_bytes),
            **({"alt_on": In(1),
                "alt": In(stream.Signature(counted_byte_layout(p.comp_bytes))),
                "rd_alt": Out(8 * p.comp_bytes)} if p.zvce else {}),
        })

    def elaborate(self, platform):
        m = Module()
        p = self._p
        E, MB, CB = p.elem_bits, p.mem_bytes, p.comp_bytes
        # A compressed half is written `CB` bytes a beat and read `MB` bytes a
        # beat: it is `CB // MB` memories side by side, written together and
        # read together; the reader picks the beat among them after its own
        # register.  (Picked here, straight from the block RAMs' outputs -- 5.8
        # ns clock-to-out -- the select was the 16 B engine's path, 11.7 ns.)
        rshift = p.comp_ratio_log2
        ratio = 1 << rshift
        chunk_bytes = p.chunk_bytes
        eb = E // 8
        lanes = MB // eb
        chunk_beats = chunk_bytes // MB
        mshift = MB.bit_length() - 1
        eshift = eb.bit_length() - 1
        cbits = max(1, (chunk_beats - 1).bit_length())
        comp_beats = chunk_beats // ratio
        ccbits = max(1, (comp_beats - 1).bit_length())
        NB = p.chunk_banks
        pbits = NB.bit_length() - 1

        def bank_regs(name, shape=1):
            return [Signal(shape, name=f"{name}{b}") for b in range(NB)]
        raw_done, raw_final = bank_regs("raw_done"), bank_regs("raw_final")
        raw_len = bank_regs("raw_len", range(chunk_bytes + 1))
        wr_raw = Signal(pbits)
        rd = Signal(pbits)

        def sel(regs, ptr):
            value = regs[0]
            for b in range(1, NB):
                value = Mux(ptr == b, regs[b], value)
            return value

        class Half:
            """A compressed half: its input stream, whether it is on, its
            memory and per-bank verdicts (done, overflowed, length)."""
            def __init__(self, name, port, on):
                self.name, self.port, self.on = name, port, on
                self.done = bank_regs(f"{name}_done")
                self.ovf = bank_regs(f"{name}_ovf")
                self.len = bank_regs(f"{name}_len", range(chunk_bytes + CB + 1))
                self.wr = Signal(pbits, name=f"wr_{name}")
                self.ready = Signal(init=1, name=f"{name}_ready")
                self.mems = []
                for j in range(ratio):
                    m.submodules[f"{name}_mem{j if ratio > 1 else ''}"] = mem = Memory(
                        shape=8 * MB, depth=NB * comp_beats, init=[])
                    self.mems.append(mem)
        halves = [Half("comp", self.comp, self.codec_on)]
        if p.zvce:
            halves.append(Half("alt", self.alt, self.alt_on))
        m.submodules.raw_mem = raw_mem = Memory(shape=8 * MB, depth=NB * chunk_beats, init=[])

        # Whether the bank each half writes next is free, as registers (`~done`
        # of the bank at the write pointer), formed from the cases of this
        # cycle: the pointer moves on (a chunk's last beat) or not.  (Selected
        # from `raw_done` by the pointer in the same cycle, the fork's `ready`
        # -> `comp_done` was the 16 B engine's path at seed 2, 11.5 ns, 9
        # levels.)  A bank the reader takes counts as free once its `done`
        # flags have cleared (see `take_q` below): the reader's `take`, late
        # and of high fan-out, reaches none of these flags (met at their last
        # gate it still was the 16 B engine's path at seed 1 of f78f60e, the
        # reader's output slice -> `take` -> the compressed half's `ready`,
        # 13.5 ns, 7 levels).  A writer waiting for that bank writes it three
        # cycles after the take instead of one.
        take = self.chunk.valid & self.chunk.ready
        # The take acts a cycle later, from a register (`take_q`): the bank's
        # flags clear, the read pointer moves and the head registers load the
        # next bank then, and `chunk.valid` is low in that cycle.  So the
        # reader's `take` -- late, behind its output slice -- reaches only this
        # flip-flop.  (Picking the head registers' next value at their last
        # gate, it was the 16 B engine's path at seeds 1 and 2 of ff76b1f and
        # seed 1 of f78f60e: the reader's output slice -> `take` -> the head's
        # `length`/`comp`, 11.2-12.3 ns.)  One cycle per chunk on the read side.
        take_q = Signal()
        m.d.sync += take_q.eq(take)
        raw_ready = Signal(init=1)

        def free_after(done, ptr, moves, other=None):
            """``~done[ptr']`` after this cycle, ``ptr'`` = ``ptr`` + ``moves``,
            with ``other`` (enable, bank), a bank another pointer marks done,
            set.  (A half marks its own pointer's bank only as the pointer
            moves off it, so that mark never reaches ``ptr'``; the bank the
            reader takes is cleared in ``done`` and seen a cycle later.)"""
            nxt = Signal(pbits)
            m.d.comb += nxt.eq(ptr + 1)

            def marked(b):
                value = sel(done, b)
                if other is not None:
                    en, bank = other
                    value = value | (en & (bank == b))
                return value
            return Mux(moves, ~marked(nxt), ~marked(ptr))

        # ---- raw half: fork of the chunker's beats ------------------------------------
        src = self.i
        keep = src.p.keep
        masked = Cat(*[Mux(keep[k], src.p.data[k * E:(k + 1) * E], 0) for k in range(lanes)])
        m.d.comb += [self.enc.valid.eq(src.valid & raw_ready), self.enc.p.data.eq(src.p.data),
                     self.enc.p.keep.eq(keep), self.enc.p.last.eq(src.p.last),
                     src.ready.eq(raw_ready & self.enc.ready)]
        fork = src.valid & src.ready
        raw_w = raw_mem.write_port()
        raw_idx = Signal(cbits + 1)
        m.d.comb += [raw_w.addr.eq(Cat(raw_idx[:cbits], wr_raw)), raw_w.data.eq(masked),
                     raw_w.en.eq(fork)]
        raw_moves = fork & src.p.last
        with m.If(fork):
            with m.If(src.p.last):
                m.d.sync += raw_idx.eq(0)
                for b in range(NB):
                    with m.If(wr_raw == b):
                        m.d.sync += [raw_done[b].eq(1), raw_final[b].eq(src.p.final),
                                     raw_len[b].eq((raw_idx << mshift) + (src.p.n << eshift))]
                m.d.sync += wr_raw.eq(wr_raw + 1)
            with m.Else():
                m.d.sync += raw_idx.eq(raw_idx + 1)
        m.d.sync += raw_ready.eq(free_after(raw_done, wr_raw, raw_moves))

        # ---- compressed halves ----------------------------------------------------------
        for h in halves:
            cdata, ckeep, clast = h.port.p.data, h.port.p.keep, h.port.p.last
            m.d.comb += h.port.ready.eq(h.ready)
            comp_idx = Signal(ccbits + 2, name=f"{h.name}_idx")
            comp_acc = Signal(range(chunk_bytes + CB + 1), name=f"{h.name}_acc")
            cur_ovf = Signal(name=f"{h.name}_cur_ovf")
            chs = h.port.valid & h.ready
            cbytes = h.port.p.n             # (counted before the codec stage's slice)
            fits = comp_idx < comp_beats
            for j, mem in enumerate(h.mems):
                comp_w = mem.write_port()
                m.d.comb += [
                    comp_w.addr.eq(Cat(comp_idx[:ccbits], h.wr)),
                    comp_w.data.eq(Cat(*[Mux(ckeep[k], cdata[8 * k:8 * k + 8], 0)
                                         for k in range(j * MB, (j + 1) * MB)])),
                    comp_w.en.eq(chs & fits),
                ]
            with m.If(chs):
                with m.If(clast):
                    m.d.sync += [comp_idx.eq(0), comp_acc.eq(0), cur_ovf.eq(0), h.wr.eq(h.wr + 1)]
                    for b in range(NB):
                        with m.If(h.wr == b):
                            m.d.sync += [h.done[b].eq(1), h.ovf[b].eq(cur_ovf | ~fits),
                                         h.len[b].eq(comp_acc + cbytes)]
                with m.Else():
                    m.d.sync += [comp_idx.eq(Mux(fits, comp_idx + 1, comp_idx)),
                                 comp_acc.eq(Mux(fits, comp_acc + cbytes, comp_acc)),
                                 cur_ovf.eq(cur_ovf | ~fits)]
            # (with its input off, the raw half's chunk end marks this half's
            # bank at the raw pointer, complete and overflowed)
            off = raw_moves & ~h.on
            with m.If(off):
                for b in range(NB):
                    with m.If(wr_raw == b):
                        m.d.sync += [h.done[b].eq(1), h.ovf[b].eq(1)]
                m.d.sync += h.wr.eq(h.wr + 1)
            # (`off` comes from the fork's handshake and the raw half's `last`:
            # it picks between its two outcomes at the last gate -- through
            # the marks and the pointer's move it was the 16 B engine's path
            # at seed 1 of f31d03f, `raw_ready` -> `comp_ready`, 10.5 ns,
            # 7 levels)
            m.d.sync += h.ready.eq(Mux(off, free_after(h.done, h.wr, C(1, 1), (C(1, 1), wr_raw)),
                                       free_after(h.done, h.wr, chs & clast)))

        # ---- read side: the oldest complete chunk, raw fallback ---------------------------
        raw_r = raw_mem.read_port(domain="sync")
        m.d.comb += [raw_r.addr.eq(Cat(self.rd_addr, rd)), raw_r.en.eq(self.rd_en),
                     self.rd_raw.eq(raw_r.data)]
        for h in halves:
            parts = []
            for mem in h.mems:
                comp_r = mem.read_port(domain="sync")
                m.d.comb += [comp_r.addr.eq(Cat(self.rd_addr[rshift:], rd)),
                             comp_r.en.eq(self.rd_en)]
                parts.append(comp_r.data)
            m.d.comb += getattr(self, f"rd_{h.name}").eq(Cat(*parts))
        # Each bank's verdict (complete, which copy is used, payload length) is
        # a register formed a cycle after the bank completes, and the oldest
        # chunk's is copied into head registers a cycle later (the next bank's
        # as the oldest is taken): the reader's sums start at flip-flops.  (The
        # bank select, the length compare and the length select in front of the
        # reader's header sums were the offload unit's critical path, 14.1 ns at
        # 16 B; the bank select alone in front of them still was the 16 B
        # engine's, 12.3 ns.)
        ready_q, use_q, alt_q = bank_regs("ready_q"), bank_regs("use_q"), bank_regs("alt_q")
        len_q = bank_regs("len_q", range(chunk_bytes + 1))
        comp, *alt = halves
        for b in range(NB):
            use = ~comp.ovf[b] & (comp.len[b] < raw_len[b])
            length = Mux(use, comp.len[b], raw_len[b])
            pick_alt = 0
            if alt:
                # the ZVC copy when it beats raw and (if that does too) ZVCE's
                a = alt[0]
                pick_alt = (~a.ovf[b] & (a.len[b] < raw_len[b])
                            & ~(use & (comp.len[b] <= a.len[b])))
                use = use & ~pick_alt
                length = Mux(pick_alt, a.len[b], length)
            done = raw_done[b]
            for h in halves:
                done = done & h.done[b]
            m.d.sync += [ready_q[b].eq(done & ~(take_q & (rd == b))),
                         use_q[b].eq(use), alt_q[b].eq(pick_alt), len_q[b].eq(length)]
        rd_inc = Signal(pbits)
        m.d.comb += rd_inc.eq(rd + 1)
        head = self.chunk
        head_valid = Signal()
        m.d.comb += head.valid.eq(head_valid & ~take_q)
        for reg, per_bank in ((head_valid, ready_q), (head.p.comp, use_q), (head.p.alt, alt_q),
                              (head.p.length, len_q), (head.p.final, raw_final)):
            m.d.sync += reg.eq(Mux(take_q, sel(per_bank, rd_inc), sel(per_bank, rd)))
        with m.If(take_q):
            for b in range(NB):
                with m.If(rd == b):
                    m.d.sync += raw_done[b].eq(0)
                    for h in halves:
                        m.d.sync += h.done[b].eq(0)
            m.d.sync += rd.eq(rd_inc)
        return m
