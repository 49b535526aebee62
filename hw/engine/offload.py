"""Offload path: AXI4 read -> fetch -> chunker -> codec stage -> chunk buffer ->
frame reader -> word packer -> C2H."""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from cdma.golden.frame import Codec
from cdma.golden.zvce import TABLE_BYTES

from ..packer import Packer
from ..skid import SkidBuffer
from ..streams import byte_stream, element_beat_layout
from ..zvce import table_malformed
from .axi import forward, read_members
from .chunk_buffer import ChunkBuffer
from .chunker import Chunker, chunk_beat_layout
from .compress_stage import CompressStage
from .fetch import FetchUnit
from .frame_reader import WORD_BYTES, FrameReader
from .params import LENGTH_BITS, EngineError, EngineUnit, axi_error_code, codec_blocks

__all__ = ["OffloadUnit", "offload_cmd_layout", "status_layout"]

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
    fetch buffer) -> :class:`~cdma.hw.engine.chunker.Chunker` (element beats,
    ``last`` at each chunk end) -> :class:`~cdma.hw.engine.chunk_buffer.ChunkBuffer`,
    which forks the beats to its raw half and to the
    :class:`~cdma.hw.engine.compress_stage.CompressStage` (the selected
    compressor; for ZVCE both the ZVCE and the ZVC compressor), whose output
    fills its compressed half (and the ZVC copy its third) ->
    :class:`~cdma.hw.engine.frame_reader.FrameReader`, which emits the frame
    header, then per chunk its header word and either the compressed or the
    raw payload (raw fallback when compression does not shrink the chunk) ->
    a register slice -> word :class:`~cdma.hw.packer.Packer` -> C2H byte stream.  This unit holds
    the command/status state machine and the wiring.

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
    code_table : In(128)
        With ZVCE only: the packed code table (``golden.zvce.CodeTable.pack()``,
        byte 0 in bits 7..0) of ZVCE frames, sampled as a command is taken; a
        malformed one makes a ZVCE command BAD_PARAMS (after the descriptor's
        and the codec's checks), as ``golden.engine.EngineModel`` says.
    araddr, arlen, arvalid, arready, rdata, rresp, rlast, rvalid, rready
        The AXI4 read channels.
    """

    def __init__(self, params):
        super().__init__(params, lambda p: {
            "cmd": In(stream.Signature(offload_cmd_layout(p.addr_width))),
            "status": Out(stream.Signature(status_layout())),
            "c2h": Out(byte_stream(p.pcie_bytes)),
            **read_members(p.addr_width, p.mem_bytes),
            **({"code_table": In(8 * TABLE_BYTES)} if p.zvce else {}),
        })

    def elaborate(self, platform):
        m = Module()
        p = self._p
        MB, PB = p.mem_bytes, p.pcie_bytes
        mshift = MB.bit_length() - 1

        m.submodules.fetch = fetch = FetchUnit(addr_width=p.addr_width, data_bytes=MB,
                                               buffer_beats=p.fetch_beats,
                                               max_outstanding=p.max_outstanding)
        m.submodules.chunker = chunker = Chunker(p)
        m.submodules.compress = codec_stage = CompressStage(p)
        m.submodules.chunk_buffer = buffer = ChunkBuffer(p)
        m.submodules.reader = reader = FrameReader(p)
        m.submodules.packer = packer = Packer(8 * WORD_BYTES, MB // WORD_BYTES, PB // WORD_BYTES)
        forward(m, self, fetch, read_members(p.addr_width, MB))
        wiring.connect(m, fetch.o, chunker.i)
        # (the chunker's beats reach the chunk buffer through a register slice:
        # the command state's `run` gate and the chunker's flags in the same
        # cycle as the buffer's fork -- both halves' `ready` -> the bank
        # registers -- were the 16 B engine's path, 14.8 ns, 7 levels)
        m.submodules.chunk_slice = chunk_slice = SkidBuffer(
            chunk_beat_layout(p.elem_bits, MB), copies=max(1, MB // 8))
        wiring.connect(m, chunker.o, chunk_slice.i)
        wiring.connect(m, chunk_slice.o, buffer.i)
        # (and its fork to the codec stage through another: the compressor's
        # `ready` in the same cycle as the fork's other half -- raw bank free
        # -> both halves' `ready` -> the bank registers -- was the 16 B
        # engine's path at seed 3, 14.4 ns, half of it two long wires)
        m.submodules.enc_slice = enc_slice = SkidBuffer(
            element_beat_layout(p.elem_bits, 8 * MB // p.elem_bits), copies=max(1, MB // 8))
        wiring.connect(m, buffer.enc, enc_slice.i)
        wiring.connect(m, enc_slice.o, codec_stage.i)
        wiring.connect(m, codec_stage.o, buffer.comp)
        if p.zvce:
            wiring.connect(m, codec_stage.alt, buffer.alt)
            m.d.comb += reader.rd_alt.eq(buffer.rd_alt)
        wiring.connect(m, buffer.chunk, reader.chunk)
        m.d.comb += [buffer.rd_addr.eq(reader.rd_addr), buffer.rd_en.eq(reader.rd_en),
                     reader.rd_raw.eq(buffer.rd_raw), reader.rd_comp.eq(buffer.rd_comp)]
        # (the reader's pieces leave through its own register slice: the
        # chunk buffer's block RAM output -- its clock-to-out and routing --
        # through the reader's raw/compressed/header select into the packer's
        # piece register was the 16 B engine's path, 12.1 ns, 48 % routing;
        # the reader also registers the RAM's output before that select)
        wiring.connect(m, reader.o, packer.i)

        # ---- command / status -----------------------------------------------------
        IDLE, CHECK, START, RUN, STATUS = range(5)
        state = Signal(range(5))
        addr = Signal(p.addr_width)
        length = Signal(LENGTH_BITS)
        codec = Signal(8)
        tag = Signal(8)
        desc_code = Signal(8)
        code = Signal(8)
        m.d.comb += self.cmd.ready.eq(state == IDLE)
        m.d.comb += [self.status.valid.eq(state == STATUS), self.status.p.length.eq(reader.nbytes),
                     self.status.p.tag.eq(tag), self.status.p.code.eq(code)]
        codec_ok = ~codec.any()
        for cid in codec_blocks(p.codecs):
            codec_ok = codec_ok | (codec == cid)
        m.d.comb += [chunker.length.eq(length), chunker.run.eq(state == RUN),
                     codec_stage.codec.eq(codec), buffer.codec_on.eq(codec != 0),
                     reader.length.eq(length), reader.codec.eq(codec)]
        # ZVCE: the command's code table, and its verdict, registered as it is taken
        table = Signal(8 * TABLE_BYTES)
        table_bad = Signal()
        if p.zvce:
            m.d.comb += [codec_stage.code_table.eq(table), reader.code_table.eq(table),
                         buffer.alt_on.eq(codec == Codec.ZVCE)]

        with m.If(state == IDLE):
            with m.If(self.cmd.valid):
                m.d.comb += reader.clear.eq(1)
                m.d.sync += [addr.eq(self.cmd.p.addr), length.eq(self.cmd.p.length),
                             codec.eq(self.cmd.p.codec), tag.eq(self.cmd.p.tag),
                             desc_code.eq(self.cmd.p.code), state.eq(CHECK)]
                if p.zvce:
                    m.d.sync += [table.eq(self.code_table),
                                 table_bad.eq(table_malformed(self.code_table))]
        with m.Elif(state == CHECK):
            with m.If(desc_code != 0):
                m.d.sync += [code.eq(desc_code), state.eq(STATUS)]
            with m.Elif(~codec_ok):
                m.d.sync += [code.eq(EngineError.DESC_CODEC), state.eq(STATUS)]
            with m.Elif((codec == Codec.ZVCE) & table_bad):
                m.d.sync += [code.eq(EngineError.BAD_PARAMS), state.eq(STATUS)]
            with m.Else():
                m.d.sync += [code.eq(0), state.eq(START)]
        with m.Elif(state == START):
            m.d.comb += [fetch.cmd.valid.eq(1), fetch.cmd.p.addr.eq(addr),
                         fetch.cmd.p.beats.eq((length + MB - 1) >> mshift)]
            with m.If(fetch.cmd.ready):
                m.d.comb += [chunker.start.eq(1), reader.start.eq(1)]
                m.d.sync += state.eq(RUN)
        with m.Elif(state == RUN):
            with m.If(self.c2h.valid & self.c2h.ready & self.c2h.p.last):     # frame sent
                m.d.sync += [state.eq(STATUS), code.eq(axi_error_code(fetch.resp))]
        with m.Elif(state == STATUS):
            with m.If(self.status.ready):
                m.d.sync += state.eq(IDLE)
        with m.Else():          # unused state codes: stay put
            pass

        # ---- packer -> C2H -----------------------------------------------------------
        c2h = self.c2h
        m.d.comb += [
            c2h.valid.eq(packer.o.valid), packer.o.ready.eq(c2h.ready),
            c2h.p.data.eq(packer.o.p.data), c2h.p.last.eq(packer.o.p.last),
            c2h.p.keep.eq(Cat(*[packer.o.p.keep[k // WORD_BYTES] for k in range(PB)])),
        ]
        return m
