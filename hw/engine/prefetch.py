"""Prefetch path: H2C frame -> parser -> decompressor or raw -> write unit -> AXI4 write."""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from ..packer import Packer
from ..streams import byte_stream
from .offload import offload_cmd_layout, status_layout
from .axi import forward, write_members
from .params import LENGTH_BITS, EngineUnit, axi_error_code, codec_blocks
from .parser import COUNT_BITS, FrameParser
from .writer import WriteUnit

__all__ = ["PrefetchUnit"]

#: Order queue: the decoder slot of every chunk routed and not yet drained, so that
#: the outputs are collected in chunk order.  When it is full the router waits for
#: the oldest chunk to drain: the depth bounds how far the decoders run ahead,
#: never what is written.
ORDER_DEPTH = 8
#: Width of the per-decoder counters of error pulses and error beats in a frame.
ERROR_COUNT_BITS = 16


class PrefetchUnit(EngineUnit):
    """Host -> memory: restore one frame per command into ``[addr, addr + length)``.

    :class:`~cdma.hw.engine.parser.FrameParser` checks the frame and queues one job
    per chunk; the decode stage routes each chunk's payload to its
    decompressor (or, for raw chunks, to a byte packer) and collects the
    restored beats in chunk order for the :class:`~cdma.hw.engine.writer.WriteUnit`.
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
        E, MB, PB = p.elem_bits, p.mem_bytes, p.pcie_bytes
        eb = E // 8
        lanes = MB // eb

        m.submodules.parser = parser = FrameParser(p)
        m.submodules.writer = writer = WriteUnit(p)
        forward(m, self, writer, write_members(p.addr_width, MB))
        wiring.connect(m, wiring.flipped(self.h2c), parser.h2c)

        # Decoder slots: 0 is the raw packer, then `dec_instances` decompressors per
        # codec; consecutive chunks of one codec alternate between its instances so
        # that one instance's start-of-chunk cycles hide behind the other's work.
        decs = {}                        # slot -> decompressor
        codec_slots = {}                 # codec id -> its slots
        for cid, (_, dec_cls) in codec_blocks(p.codecs).items():
            for k in range(p.dec_instances):
                slot = len(decs) + 1
                decs[slot] = dec = dec_cls(E, lanes, PB)
                m.submodules[f"dec{cid}_{k}"] = dec
                codec_slots.setdefault(cid, []).append(slot)
        m.submodules.rawpack = rawpack = Packer(8, PB, MB)
        targets = [0, *decs]
        sbits = max(1, len(targets).bit_length())

        # ---- command / status ---------------------------------------------------------
        IDLE, START, RUN, STATUS = range(4)
        state = Signal(range(4))
        addr = Signal(p.addr_width)
        length = Signal(LENGTH_BITS)
        tag = Signal(8)
        code = Signal(8)
        pre_code = Signal(8)
        m.d.comb += self.cmd.ready.eq(state == IDLE)
        with m.If(self.cmd.valid & self.cmd.ready):
            m.d.sync += [addr.eq(self.cmd.p.addr), length.eq(self.cmd.p.length),
                         tag.eq(self.cmd.p.tag), state.eq(START), pre_code.eq(self.cmd.p.code)]
        started = Signal(2)
        with m.If(state == START):
            m.d.comb += [parser.start.valid.eq(~started[0]), parser.start.p.length.eq(length),
                         parser.start.p.code.eq(pre_code),
                         writer.start.valid.eq(~started[1]), writer.start.p.addr.eq(addr),
                         writer.start.p.length.eq(Mux(pre_code != 0, 0, length))]
            s0 = started[0] | parser.start.ready
            s1 = started[1] | writer.start.ready
            m.d.sync += started.eq(Cat(s0, s1))
            with m.If(s0 & s1):
                m.d.sync += [state.eq(RUN), started.eq(0)]
        m.d.comb += [self.status.valid.eq(state == STATUS), self.status.p.tag.eq(tag),
                     self.status.p.code.eq(code), self.status.p.length.eq(parser.nbytes)]
        with m.If(self.status.valid & self.status.ready):
            m.d.sync += state.eq(IDLE)

        # ---- decode stage: input routing -------------------------------------------------
        jobs = parser.jobs
        # output order queue: slot of every chunk routed
        m.submodules.order = order = fifo.SyncFIFOBuffered(width=sbits, depth=ORDER_DEPTH)
        routing = Signal()                 # a chunk's payload is being routed
        r_slot = Signal(sbits)
        toggles = {cid: Signal(name=f"toggle{cid}") for cid in codec_slots}
        job_slot = Signal(sbits)
        for cid, sl in codec_slots.items():
            with m.If(jobs.p.codec == cid):
                m.d.comb += job_slot.eq(sl[0] if len(sl) == 1 else Mux(toggles[cid], sl[1], sl[0]))
        count_sent = Signal()
        chunks_in = Signal(32)
        chunks_out = Signal(32)
        end_seen = Signal()
        end_code = Signal(8)
        end_accepted = Signal(32)
        pay = parser.pay
        pay_ready = Signal()
        pay_done = Signal()              # the routed chunk's last payload beat goes now
        m.d.comb += pay_done.eq(pay.valid & pay.ready & pay.p.last)
        with m.If(pay_done):
            m.d.sync += routing.eq(0)
        with m.If((~routing | pay_done) & ~end_seen & jobs.valid):
            with m.If(jobs.p.end):
                m.d.comb += jobs.ready.eq(1)
                m.d.sync += [end_seen.eq(1), end_code.eq(jobs.p.code),
                             end_accepted.eq(jobs.p.accepted)]
            with m.Elif(order.w_rdy):
                m.d.comb += [jobs.ready.eq(1), order.w_en.eq(1), order.w_data.eq(job_slot)]
                m.d.sync += [routing.eq(1), r_slot.eq(job_slot), count_sent.eq(0),
                             chunks_in.eq(chunks_in + 1)]
                for cid, t in toggles.items():
                    with m.If(jobs.p.codec == cid):
                        m.d.sync += t.eq(~t)
                job_count = Signal(COUNT_BITS)
                m.d.sync += job_count.eq(jobs.p.count)
        m.d.comb += pay.ready.eq(routing & pay_ready)
        for cid in targets:
            sel = routing & (r_slot == cid)
            if cid == 0:
                m.d.comb += [rawpack.i.valid.eq(sel & pay.valid), rawpack.i.p.data.eq(pay.p.data),
                             rawpack.i.p.n.eq(sum(pay.p.keep[k] for k in range(PB))),
                             rawpack.i.p.last.eq(pay.p.last)]
                with m.If(r_slot == 0):
                    m.d.comb += pay_ready.eq(rawpack.i.ready)
            else:
                dec = decs[cid]
                # A chunk's last payload beat waits for its count: routing must not
                # end (and the next job start) before the decompressor has its count.
                beat_may_go = count_sent | ~pay.p.last
                m.d.comb += [dec.i.valid.eq(sel & pay.valid & beat_may_go), dec.i.p.eq(pay.p),
                             dec.count.valid.eq(sel & ~count_sent), dec.count.p.eq(job_count)]
                with m.If(dec.count.valid & dec.count.ready):
                    m.d.sync += count_sent.eq(1)
                with m.If(r_slot == cid):
                    m.d.comb += pay_ready.eq(dec.i.ready & beat_may_go)

        # ---- decode stage: outputs in chunk order ------------------------------------------
        o_valid = Signal()
        o_data = Signal(8 * MB)
        o_strb = Signal(MB)
        o_last = Signal()
        o_err = Signal()
        o_ready = Signal()
        oc = order.r_data
        for cid in targets:
            with m.If(order.r_rdy & (oc == cid)):
                if cid == 0:
                    src = rawpack.o
                    m.d.comb += [o_valid.eq(src.valid), o_data.eq(src.p.data),
                                 o_strb.eq(src.p.keep), o_last.eq(src.p.last), o_err.eq(0),
                                 src.ready.eq(o_ready)]
                else:
                    src = decs[cid].o
                    m.d.comb += [o_valid.eq(src.valid), o_data.eq(src.p.data),
                                 o_strb.eq(Cat(*[src.p.keep[k // eb] for k in range(MB)])),
                                 o_last.eq(src.p.last), o_err.eq(src.p.user),
                                 src.ready.eq(o_ready)]
        # first decompressor error: its chunk index, then its code.  A decoder raises
        # `error` (with `error_code`) around the time it closes the chunk with a
        # `user` beat, in either order; per decoder the first pulse of the frame
        # belongs to its first error beat, and the frame ends only once every
        # error beat has had its pulse.
        derr = Signal()
        derr_idx = Signal(32)
        derr_cid = Signal(sbits)
        first_code = {}
        npulse = {}
        nbeat = {}
        for cid, dec in decs.items():
            first_code[cid] = code0 = Signal(len(dec.error_code), name=f"first_code{cid}")
            npulse[cid] = n_p = Signal(ERROR_COUNT_BITS, name=f"npulse{cid}")
            nbeat[cid] = Signal(ERROR_COUNT_BITS, name=f"nbeat{cid}")
            with m.If(dec.error):
                m.d.sync += n_p.eq(n_p + 1)
                with m.If(n_p == 0):
                    m.d.sync += code0.eq(dec.error_code)
        # writer input: pass beats until the first error, drop afterwards
        o_hs = o_valid & o_ready
        m.d.comb += [writer.i.p.data.eq(o_data), writer.i.p.strb.eq(o_strb),
                     writer.i.valid.eq(o_valid & ~derr & ~o_err & (o_strb != 0))]
        m.d.comb += o_ready.eq(Mux(derr | o_err | (o_strb == 0), 1, writer.i.ready))
        with m.If(o_hs & o_last):
            m.d.comb += order.r_en.eq(1)
            m.d.sync += chunks_out.eq(chunks_out + 1)
        for cid in decs:
            with m.If(o_hs & o_err & (oc == cid)):
                m.d.sync += nbeat[cid].eq(nbeat[cid] + 1)
        with m.If(o_hs & o_err & ~derr):
            m.d.sync += [derr.eq(1), derr_idx.eq(chunks_out), derr_cid.eq(oc)]
        derr_code = Signal(8)
        pulses_in = 1
        for cid in decs:
            with m.If(derr_cid == cid):
                m.d.comb += derr_code.eq(first_code[cid])
            pulses_in = pulses_in & (npulse[cid] == nbeat[cid])

        # ---- end of frame -----------------------------------------------------------------
        final = Signal(8)
        m.d.comb += final.eq(Mux(derr & (derr_idx < end_accepted), derr_code, end_code))
        fin_sent = Signal()
        all_out = end_seen & ~routing & (chunks_out == chunks_in) & ~order.r_rdy & pulses_in
        m.d.comb += [writer.finish.valid.eq((state == RUN) & all_out & ~fin_sent),
                     writer.finish.p.ok.eq(final == 0)]
        with m.If(writer.finish.valid & writer.finish.ready):
            m.d.sync += fin_sent.eq(1)
        m.d.comb += writer.done.ready.eq(state == RUN)
        with m.If(writer.done.valid & writer.done.ready):
            m.d.sync += [state.eq(STATUS), fin_sent.eq(0), end_seen.eq(0), derr.eq(0),
                         chunks_in.eq(0), chunks_out.eq(0),
                         *[s.eq(0) for s in (*npulse.values(), *nbeat.values())],
                         code.eq(Mux(final != 0, final, axi_error_code(writer.done.p.resp)))]
        return m
