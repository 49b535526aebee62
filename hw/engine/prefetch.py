"""Prefetch path: H2C -> frame parser -> decode stage -> write unit -> AXI4 write."""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..streams import byte_stream
from .axi import forward, write_members
from .decode_stage import DecodeStage
from .offload import offload_cmd_layout, status_layout
from .params import LENGTH_BITS, EngineUnit, axi_error_code
from .parser import FrameParser
from .writer import WriteUnit

__all__ = ["PrefetchUnit"]


class PrefetchUnit(EngineUnit):
    """Host -> memory: restore one frame per command into ``[addr, addr + length)``.

    :class:`~cdma.hw.engine.parser.FrameParser` checks the frame and queues one job
    per chunk; the :class:`~cdma.hw.engine.decode_stage.DecodeStage` routes each
    chunk's payload to its decompressor (or, for raw chunks, to a byte packer)
    and collects the restored beats in chunk order for the
    :class:`~cdma.hw.engine.writer.WriteUnit`.
    The status code is the first problem in stream order (a decompressor error
    in a chunk the parser accepted before its own error, else the parser's);
    after an error nothing more is written, the rest of the frame is drained and
    the next command is taken.

    Members
    -------
    cmd : In(stream.Signature(offload_cmd_layout(addr_width)))
        ``addr`` = destination, ``length`` = raw bytes expected; ``codec`` unused.
    status : Out(stream.Signature(status_layout()))
        ``length`` = bytes taken from H2C for the frame.
    h2c : In(byte_stream(pcie_bytes))
    awaddr ... bready : the AXI4 write channels.
    """

    def __init__(self, params):
        super().__init__(params, lambda p: {
            "cmd": In(stream.Signature(offload_cmd_layout(p.addr_width))),
            "status": Out(stream.Signature(status_layout())),
            "h2c": In(byte_stream(p.pcie_bytes)),
            **write_members(p.addr_width, p.mem_bytes),
        })

    def elaborate(self, platform):
        m = Module()
        p = self._p
        MB = p.mem_bytes

        m.submodules.parser = parser = FrameParser(p)
        m.submodules.decode = decode = DecodeStage(p)
        m.submodules.writer = writer = WriteUnit(p)
        forward(m, self, writer, write_members(p.addr_width, MB))
        wiring.connect(m, wiring.flipped(self.h2c), parser.h2c)
        wiring.connect(m, parser.jobs, decode.jobs)
        wiring.connect(m, parser.pay, decode.pay)
        wiring.connect(m, decode.o, writer.i)
        m.d.comb += decode.code_table.eq(parser.code_table)

        # ---- command / status ---------------------------------------------------------
        IDLE, START, RUN, STATUS = range(4)
        state = Signal(range(4))
        addr = Signal(p.addr_width)
        length = Signal(LENGTH_BITS)
        tag = Signal(8)
        code = Signal(8)
        pre_code = Signal(8)
        # (the write unit's length, 0 for a refused descriptor, a register of
        # its own: its zero test behind `pre_code`'s multiplexer, in the cycle
        # of the start handshake, was on the 16 B engine's path into the
        # write unit's `accepting`)
        w_length = Signal(LENGTH_BITS)
        m.d.comb += self.cmd.ready.eq(state == IDLE)
        with m.If(self.cmd.valid & self.cmd.ready):
            m.d.sync += [addr.eq(self.cmd.p.addr), length.eq(self.cmd.p.length),
                         w_length.eq(Mux(self.cmd.p.code != 0, 0, self.cmd.p.length)),
                         tag.eq(self.cmd.p.tag), state.eq(START), pre_code.eq(self.cmd.p.code)]
        started = Signal()                # the parser has taken its start
        # (the write unit's start `valid` a register of its own, set with START
        # and cleared by its handshake, and its payload registers as they are:
        # `state` through the valid and the payload's gating reached the write
        # unit's start enables -- about a hundred flip-flops -- on the 16 B
        # engine's path at seed 1 of ca4eebd, `state` -> `accepting`, 12.1 ns)
        w_start = Signal()
        m.d.comb += [writer.start.valid.eq(w_start), writer.start.p.addr.eq(addr),
                     writer.start.p.length.eq(w_length)]
        with m.If(self.cmd.valid & self.cmd.ready):
            m.d.sync += w_start.eq(1)
        with m.Elif(writer.start.ready):
            m.d.sync += w_start.eq(0)
        with m.If(state == START):
            m.d.comb += [parser.start.valid.eq(~started), parser.start.p.length.eq(length),
                         parser.start.p.code.eq(pre_code)]
            s0 = started | parser.start.ready
            # (`w_start` was set on entering START and falls with the write
            # unit's handshake: clear, the write unit has its start)
            s1 = ~w_start | writer.start.ready
            m.d.sync += started.eq(s0)
            with m.If(s0 & s1):
                m.d.sync += [state.eq(RUN), started.eq(0)]
        m.d.comb += [self.status.valid.eq(state == STATUS), self.status.p.tag.eq(tag),
                     self.status.p.code.eq(code), self.status.p.length.eq(parser.nbytes)]
        with m.If(self.status.valid & self.status.ready):
            m.d.sync += state.eq(IDLE)

        # ---- end of frame -----------------------------------------------------------------
        # (the write unit's `finish` from registers, set a cycle after the
        # decode stage is through: the parser's and decode stage's state
        # through `all_out` and `code` into the write unit's `ok`/`accepting`
        # was the 16 B engine's path at seed 2, 12.6 ns)
        fin_sent = Signal()
        fin_valid = Signal()
        fin_ok = Signal()
        m.d.comb += [writer.finish.valid.eq(fin_valid), writer.finish.p.ok.eq(fin_ok)]
        with m.If(writer.finish.valid & writer.finish.ready):
            m.d.sync += [fin_sent.eq(1), fin_valid.eq(0)]
        with m.Elif((state == RUN) & decode.all_out & ~fin_sent & ~fin_valid):
            m.d.sync += [fin_valid.eq(1), fin_ok.eq(decode.code == 0)]
        m.d.comb += writer.done.ready.eq(state == RUN)
        done = writer.done.valid & writer.done.ready
        m.d.comb += decode.clear.eq(done)
        with m.If(done):
            m.d.sync += [state.eq(STATUS), fin_sent.eq(0),
                         code.eq(Mux(decode.code != 0, decode.code,
                                     axi_error_code(writer.done.p.resp)))]
        return m
