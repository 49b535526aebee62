"""Offload path: AXI4 read -> chunking -> compressor -> chunk buffer + frame packer -> C2H."""
from __future__ import annotations

from amaranth.hdl import C, Cat, Module, Mux, Signal
from amaranth.lib import data, stream
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from cdma.golden.frame import CHUNK_HEADER_BYTES, CHUNK_LENGTH_BITS, HEADER_BYTES, MAGIC_WORD, VERSION

from ..bits import popcount
from ..packer import Packer
from ..streams import byte_stream
from .fetch import FetchUnit
from .axi import forward, read_members
from .params import LENGTH_BITS, EngineError, EngineUnit, axi_error_code, codec_blocks

__all__ = ["OffloadUnit", "offload_cmd_layout", "status_layout"]

#: The packer and the frame work in 32-bit words: every header and padded payload
#: of the frame is a whole number of them (docs/FORMAT.md).
WORD_BYTES = 4
WORD_SHIFT = WORD_BYTES.bit_length() - 1


def offload_cmd_layout(addr_width: int) -> data.StructLayout:
    """Offload/prefetch command: ``addr``, raw ``length`` in bytes, ``codec``, ``tag``, and
    ``code``: the descriptor's own error (DESC_ALIGN, DESC_LENGTH, DESC_RANGE or 0),
    checked once by the top level on the full 64-bit address (``addr`` here is
    already truncated to ``addr_width`` bits)."""
    return data.StructLayout({"addr": addr_width, "length": LENGTH_BITS, "codec": 8, "tag": 8,
                              "code": 8})


def status_layout() -> data.StructLayout:
    """Status of one descriptor: frame ``length`` in bytes, ``tag``, error ``code``."""
    return data.StructLayout({"length": LENGTH_BITS, "tag": 8, "code": 8})


class OffloadUnit(EngineUnit):
    """Memory -> host: one frame per command, byte-exact ``cdma.golden.encode_frame``.

    Pipeline: :class:`~cdma.hw.engine.fetch.FetchUnit` (bursts, outstanding reads,
    fetch buffer) -> chunker (element beats, ``last`` at each chunk end) ->
    fork to the raw half of the chunk buffer and to the selected compressor ->
    compressed half of the chunk buffer -> reader that emits the frame header,
    then per chunk its header word and either the compressed or the raw
    payload (raw fallback when compression does not shrink the chunk) ->
    word :class:`~cdma.hw.packer.Packer` -> C2H byte stream.

    The chunk buffer has ``chunk_banks`` banks (4 by default): the compressor
    fills one while the reader drains another, and with more than two the
    compressor runs a whole chunk ahead, so consecutive chunks leave the C2H
    stream without gaps when the PCIe side is the bottleneck.

    Parameters
    ----------
    params : EngineParams
        The engine configuration.

    Members
    -------
    cmd : In(stream.Signature(offload_cmd_layout(addr_width)))
    status : Out(stream.Signature(status_layout()))
    c2h : Out(byte_stream(pcie_bytes))
        The frame, ``last`` on its final beat.
    araddr, arlen, arvalid, arready, rdata, rresp, rlast, rvalid, rready
        The AXI4 read channels.
    """

    def __init__(self, params):
        super().__init__(params, lambda p: {
            "cmd": In(stream.Signature(offload_cmd_layout(p.addr_width))),
            "status": Out(stream.Signature(status_layout())),
            "c2h": Out(byte_stream(p.pcie_bytes)),
            **read_members(p.addr_width, p.mem_bytes),
        })

    def elaborate(self, platform):
        m = Module()
        p = self._p
        E, MB, PB = p.elem_bits, p.mem_bytes, p.pcie_bytes
        chunk_bytes = p.chunk_bytes
        eb = E // 8
        lanes = MB // eb
        chunk_beats = chunk_bytes // MB
        MW = MB // WORD_BYTES               # words per memory beat
        mshift = MB.bit_length() - 1
        eshift = eb.bit_length() - 1
        cbits = max(1, (chunk_beats - 1).bit_length())

        m.submodules.fetch = fetch = FetchUnit(addr_width=p.addr_width, data_bytes=MB,
                                               buffer_beats=p.fetch_beats,
                                               max_outstanding=p.max_outstanding)
        forward(m, self, fetch, read_members(p.addr_width, MB))

        comps = {}
        for cid, (enc_cls, _) in codec_blocks(p.codecs).items():
            comps[cid] = enc = enc_cls(E, lanes, MB)
            m.submodules[f"enc{cid}"] = enc

        m.submodules.packer = packer = Packer(8 * WORD_BYTES, MW, PB // WORD_BYTES)

        # ---- command / status -----------------------------------------------------
        IDLE, CHECK, START, RUN, STATUS = range(5)
        state = Signal(range(5))
        addr = Signal(p.addr_width)
        length = Signal(LENGTH_BITS)
        codec = Signal(8)
        tag = Signal(8)
        desc_code = Signal(8)
        code = Signal(8)
        flen = Signal(LENGTH_BITS)
        m.d.comb += self.cmd.ready.eq(state == IDLE)
        m.d.comb += [self.status.valid.eq(state == STATUS), self.status.p.length.eq(flen),
                     self.status.p.tag.eq(tag), self.status.p.code.eq(code)]

        beats_left = Signal(LENGTH_BITS)
        cbeat = Signal(cbits)
        last_elems = Signal(range(lanes + 1))
        codec_ok = ~codec.any()
        for cid in comps:
            codec_ok = codec_ok | (codec == cid)
        reader_start = Signal()
        frame_done = Signal()

        with m.If(state == IDLE):
            with m.If(self.cmd.valid):
                m.d.sync += [addr.eq(self.cmd.p.addr), length.eq(self.cmd.p.length),
                             codec.eq(self.cmd.p.codec), tag.eq(self.cmd.p.tag),
                             desc_code.eq(self.cmd.p.code),
                             state.eq(CHECK), flen.eq(0)]
        with m.Elif(state == CHECK):
            with m.If(desc_code != 0):
                m.d.sync += [code.eq(desc_code), state.eq(STATUS)]
            with m.Elif(~codec_ok):
                m.d.sync += [code.eq(EngineError.DESC_CODEC), state.eq(STATUS)]
            with m.Else():
                m.d.sync += [code.eq(0), state.eq(START)]
        with m.Elif(state == START):
            m.d.comb += [fetch.cmd.valid.eq(1), fetch.cmd.p.addr.eq(addr),
                         fetch.cmd.p.beats.eq((length + MB - 1) >> mshift)]
            with m.If(fetch.cmd.ready):
                m.d.comb += reader_start.eq(1)
                m.d.sync += [state.eq(RUN), beats_left.eq((length + MB - 1) >> mshift),
                             cbeat.eq(0),
                             last_elems.eq((((length - 1) & (MB - 1)) >> eshift) + 1),
                             flen.eq(HEADER_BYTES)]
        with m.Elif(state == RUN):
            with m.If(frame_done):
                m.d.sync += [state.eq(STATUS), code.eq(axi_error_code(fetch.resp))]
        with m.Elif(state == STATUS):
            with m.If(self.status.ready):
                m.d.sync += state.eq(IDLE)
        with m.Else():          # unused state codes: stay put
            pass

        # ---- chunker + fork --------------------------------------------------------
        NB = p.chunk_banks
        pbits = NB.bit_length() - 1
        raw_done = [Signal(name=f"raw_done{b}") for b in range(NB)]
        comp_done = [Signal(name=f"comp_done{b}") for b in range(NB)]
        raw_final = [Signal(name=f"raw_final{b}") for b in range(NB)]
        raw_len = [Signal(range(chunk_bytes + 1), name=f"raw_len{b}") for b in range(NB)]
        comp_len = [Signal(range(chunk_bytes + MB + 1), name=f"comp_len{b}") for b in range(NB)]
        comp_ovf = [Signal(name=f"comp_ovf{b}") for b in range(NB)]
        wr_raw = Signal(pbits)
        wr_comp = Signal(pbits)
        rd = Signal(pbits)

        def sel(regs, ptr):
            value = regs[0]
            for b in range(1, NB):
                value = Mux(ptr == b, regs[b], value)
            return value

        src = fetch.o
        final_beat = beats_left == 1
        chunk_end = (cbeat == chunk_beats - 1) | final_beat
        keep = Signal(lanes)
        m.d.comb += keep.eq(Mux(final_beat, Cat(*[last_elems > k for k in range(lanes)]),
                                (1 << lanes) - 1))
        nkeep = Signal(range(lanes + 1))
        m.d.comb += nkeep.eq(Mux(final_beat, last_elems, lanes))
        masked = Cat(*[Mux(keep[k], src.payload[k * E:(k + 1) * E], 0) for k in range(lanes)])
        raw_ready = ~sel(raw_done, wr_raw)
        use_codec = Signal()
        m.d.comb += use_codec.eq(codec != 0)
        codec_ready = Signal()
        enc_in_valid = src.valid & raw_ready & (state == RUN)
        for cid, enc in comps.items():
            m.d.comb += [enc.i.valid.eq(enc_in_valid & (codec == cid)),
                         enc.i.p.data.eq(src.payload), enc.i.p.keep.eq(keep),
                         enc.i.p.last.eq(chunk_end)]
            with m.If(codec == cid):
                m.d.comb += codec_ready.eq(enc.i.ready)
        with m.If(~codec.any()):
            m.d.comb += codec_ready.eq(1)
        fork = Signal()
        m.d.comb += [src.ready.eq(raw_ready & codec_ready & (state == RUN)),
                     fork.eq(src.valid & src.ready)]

        m.submodules.raw_mem = raw_mem = Memory(shape=8 * MB, depth=NB * chunk_beats, init=[])
        m.submodules.comp_mem = comp_mem = Memory(shape=8 * MB, depth=NB * chunk_beats, init=[])
        raw_w = raw_mem.write_port()
        comp_w = comp_mem.write_port()
        raw_idx = Signal(cbits + 1)
        m.d.comb += [raw_w.addr.eq(Cat(raw_idx[:cbits], wr_raw)), raw_w.data.eq(masked),
                     raw_w.en.eq(fork)]
        with m.If(fork):
            m.d.sync += [beats_left.eq(beats_left - 1), cbeat.eq(Mux(chunk_end, 0, cbeat + 1))]
            with m.If(chunk_end):
                m.d.sync += raw_idx.eq(0)
                for b in range(NB):
                    with m.If(wr_raw == b):
                        m.d.sync += [raw_done[b].eq(1), raw_final[b].eq(final_beat),
                                     raw_len[b].eq((raw_idx << mshift) + (nkeep << eshift))]
                        with m.If(~use_codec):
                            m.d.sync += [comp_done[b].eq(1), comp_ovf[b].eq(1)]
                m.d.sync += wr_raw.eq(wr_raw + 1)
                with m.If(~use_codec):
                    m.d.sync += wr_comp.eq(wr_comp + 1)
            with m.Else():
                m.d.sync += raw_idx.eq(raw_idx + 1)

        # ---- compressed half of the chunk buffer -----------------------------------
        cv = Signal()
        cdata = Signal(8 * MB)
        ckeep = Signal(MB)
        clast = Signal()
        comp_ready = ~sel(comp_done, wr_comp)
        for cid, enc in comps.items():
            with m.If(codec == cid):
                m.d.comb += [cv.eq(enc.o.valid), cdata.eq(enc.o.p.data),
                             ckeep.eq(enc.o.p.keep), clast.eq(enc.o.p.last),
                             enc.o.ready.eq(comp_ready)]
        comp_idx = Signal(cbits + 2)
        comp_acc = Signal(range(chunk_bytes + MB + 1))
        cur_ovf = Signal()
        chs = cv & comp_ready
        cbytes = popcount([ckeep[k] for k in range(MB)])
        fits = comp_idx < chunk_beats
        m.d.comb += [
            comp_w.addr.eq(Cat(comp_idx[:cbits], wr_comp)),
            comp_w.data.eq(Cat(*[Mux(ckeep[k], cdata[8 * k:8 * k + 8], 0) for k in range(MB)])),
            comp_w.en.eq(chs & fits),
        ]
        with m.If(chs):
            with m.If(clast):
                m.d.sync += [comp_idx.eq(0), comp_acc.eq(0), cur_ovf.eq(0), wr_comp.eq(wr_comp + 1)]
                for b in range(NB):
                    with m.If(wr_comp == b):
                        m.d.sync += [comp_done[b].eq(1), comp_ovf[b].eq(cur_ovf | ~fits),
                                     comp_len[b].eq(comp_acc + cbytes)]
            with m.Else():
                m.d.sync += [comp_idx.eq(Mux(fits, comp_idx + 1, comp_idx)),
                             comp_acc.eq(Mux(fits, comp_acc + cbytes, comp_acc)),
                             cur_ovf.eq(cur_ovf | ~fits)]

        # ---- reader: frame header, chunk headers, payloads -> packer ----------------
        R_IDLE, R_HDR, R_CHDR, R_PAY = range(4)
        rstate = Signal(range(4))
        s_valid = packer.i.valid
        s_pay = Signal()
        s_comp = Signal()
        s_hdr = Signal(8 * HEADER_BYTES)
        advance = ~s_valid | packer.i.ready
        p_comp = Signal()
        p_idx = Signal(cbits + 1)
        p_lastidx = Signal(cbits + 1)
        p_lastwords = Signal(range(MW + 1))
        p_final = Signal()
        raw_r = raw_mem.read_port(domain="sync")
        comp_r = comp_mem.read_port(domain="sync")
        m.d.comb += [raw_r.addr.eq(Cat(p_idx[:cbits], rd)), raw_r.en.eq(advance),
                     comp_r.addr.eq(Cat(p_idx[:cbits], rd)), comp_r.en.eq(advance)]
        m.d.comb += packer.i.p.data.eq(Mux(s_pay, Mux(s_comp, comp_r.data, raw_r.data), s_hdr))
        log2c = chunk_bytes.bit_length() - 1
        # docs/FORMAT.md: magic, version, element bits, log2 chunk bytes, codec, raw
        # length as u64 (the descriptor's length is 32 bits: the top half is 0).
        header = Cat(C(MAGIC_WORD, 32), C(VERSION, 8), C(E, 8), C(log2c, 8), codec,
                     length, C(0, 64 - LENGTH_BITS))
        assert len(header) == 8 * HEADER_BYTES
        full = sel(raw_done, rd) & sel(comp_done, rd)
        use = ~sel(comp_ovf, rd) & (sel(comp_len, rd) < sel(raw_len, rd))
        plen = Signal(range(chunk_bytes + 1))
        m.d.comb += plen.eq(Mux(use, sel(comp_len, rd), sel(raw_len, rd)))
        issue = Signal()
        with m.If(reader_start):
            m.d.sync += rstate.eq(R_HDR)
        with m.If(rstate == R_HDR):
            m.d.comb += issue.eq(1)
            with m.If(advance):
                m.d.sync += [s_pay.eq(0), s_hdr.eq(header),
                             packer.i.p.n.eq(HEADER_BYTES // WORD_BYTES),
                             packer.i.p.last.eq(length == 0),
                             rstate.eq(Mux(length == 0, R_IDLE, R_CHDR))]
        with m.Elif(rstate == R_CHDR):
            m.d.comb += issue.eq(full)
            with m.If(advance & full):
                m.d.sync += [s_pay.eq(0),
                             s_hdr.eq(plen | (Mux(use, codec, 0) << CHUNK_LENGTH_BITS)),
                             packer.i.p.n.eq(CHUNK_HEADER_BYTES // WORD_BYTES),
                             packer.i.p.last.eq(0),
                             p_comp.eq(use), p_idx.eq(0), p_lastidx.eq((plen - 1) >> mshift),
                             p_lastwords.eq((((plen - 1) & (MB - 1)) >> WORD_SHIFT) + 1),
                             p_final.eq(sel(raw_final, rd)), rstate.eq(R_PAY),
                             flen.eq(flen + CHUNK_HEADER_BYTES
                                     + (((plen + WORD_BYTES - 1) >> WORD_SHIFT) << WORD_SHIFT))]
        with m.Elif(rstate == R_PAY):
            m.d.comb += issue.eq(1)
            is_last = p_idx == p_lastidx
            with m.If(advance):
                m.d.sync += [s_pay.eq(1), s_comp.eq(p_comp),
                             packer.i.p.n.eq(Mux(is_last, p_lastwords, MW)),
                             packer.i.p.last.eq(is_last & p_final), p_idx.eq(p_idx + 1)]
                with m.If(is_last):
                    for b in range(NB):
                        with m.If(rd == b):
                            m.d.sync += [raw_done[b].eq(0), comp_done[b].eq(0)]
                    m.d.sync += [rd.eq(rd + 1), rstate.eq(Mux(p_final, R_IDLE, R_CHDR))]
        with m.Else():          # R_IDLE: wait for the next frame
            pass
        with m.If(advance):
            m.d.sync += s_valid.eq(issue)

        # ---- packer -> C2H -----------------------------------------------------------
        c2h = self.c2h
        m.d.comb += [
            c2h.valid.eq(packer.o.valid), packer.o.ready.eq(c2h.ready),
            c2h.p.data.eq(packer.o.p.data), c2h.p.last.eq(packer.o.p.last),
            c2h.p.keep.eq(Cat(*[packer.o.p.keep[k // WORD_BYTES] for k in range(PB)])),
            frame_done.eq(c2h.valid & c2h.ready & c2h.p.last),
        ]
        return m
