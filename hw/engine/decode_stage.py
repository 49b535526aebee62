"""Decode stage of the prefetch path: chunk jobs and payload -> decompressors or the
raw byte packer -> restored beats in chunk order."""
from __future__ import annotations

from amaranth.hdl import C, Cat, Module, Mux, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from cdma.golden.frame import Codec

from ..bits import onehot_select, prefix_length
from ..packer import Packer
from ..skid import SkidBuffer, replicated
from ..streams import byte_beat_layout, byte_stream
from .params import EngineUnit, codec_blocks
from .parser import COUNT_BITS, TABLE_BYTES, job_layout
from .writer import write_beat_layout

__all__ = ["DecodeStage", "ORDER_DEPTH", "ERROR_COUNT_BITS"]

#: Order queue: the decoder slot of every chunk routed and not yet drained, so that
#: the outputs are collected in chunk order.  When it is full the router waits for
#: the oldest chunk to drain: the depth (and the 2 entries of the head's register
#: slice behind it) bounds how far the decoders run ahead, never what is written.
ORDER_DEPTH = 8
#: Width of the per-decoder counters of error pulses and error beats in a frame.
ERROR_COUNT_BITS = 16


class DecodeStage(EngineUnit):
    """Route each chunk's payload to its decoder and collect the restored beats in
    chunk order.

    Decoder slots: 0 is the raw byte :class:`~cdma.hw.packer.Packer`, then
    ``dec_instances`` decompressors per codec built in; consecutive chunks of
    one codec alternate between its instances, so that one instance's
    start-of-chunk cycles hide behind the other's work.  A job is taken as
    soon as its queues have room: its slot into a two-entry route queue (the
    payload being routed and the next), its count into its decoder's
    two-entry count queue; an order queue of :data:`ORDER_DEPTH` slots keeps
    the outputs in chunk order.

    Beats pass to ``o`` until the first decompressor error beat (a beat with
    ``user`` set); from then on, and for beats without bytes, they are taken
    and dropped.  ``code`` is the frame's verdict: the first decompressor
    error if its chunk was accepted by the parser before the parser's own
    error, else the parser's code from the end job.

    Parameters
    ----------
    params : EngineParams
        The engine configuration (``elem_bits``, ``mem_bytes``, ``pcie_bytes``,
        ``codecs``, ``dec_instances``).

    Members
    -------
    jobs : In(stream.Signature(job_layout()))
        The parser's chunk jobs, then one ``end`` job per frame.
    pay : In(byte_stream(pcie_bytes))
        The chunks' payload bytes, ``last`` on each chunk's final beat.
    o : Out(stream.Signature(write_beat_layout(mem_bytes)))
        Restored beats in address order, for the write unit.
    all_out : Out(1)
        The end job has been taken and every routed chunk has left, with all
        decompressor error pulses in (a register: a cycle after that is so).
    code : Out(8)
        The frame's status code so far (a register, formed in the same cycle
        as ``all_out``; meaningful with it).
    clear : In(1)
        The frame is over: forget its end job, counts and error (one cycle).
    code_table : In(8 * TABLE_BYTES)
        The frame's ZVCE code table (the parser's), for the ZVCE decompressors,
        which sample it as they start a chunk.
    """

    def __init__(self, params):
        super().__init__(params, lambda p: {
            "jobs": In(stream.Signature(job_layout())),
            "pay": In(byte_stream(p.pcie_bytes)),
            "o": Out(stream.Signature(write_beat_layout(p.mem_bytes))),
            "all_out": Out(1),
            "code": Out(8),
            "clear": In(1),
            "code_table": In(8 * TABLE_BYTES),
        })

    def elaborate(self, platform):
        m = Module()
        p = self._p
        E, MB, PB = p.elem_bits, p.mem_bytes, p.pcie_bytes
        eb = E // 8
        lanes = MB // eb

        decs = {}                        # slot -> decompressor
        codec_slots = {}                 # codec id -> its slots
        for cid, (_, dec_cls) in codec_blocks(p.codecs).items():
            for k in range(p.dec_instances):
                slot = len(decs) + 1
                decs[slot] = dec = dec_cls(E, lanes, PB)
                m.submodules[f"dec{cid}_{k}"] = dec
                if cid == Codec.ZVCE:
                    m.d.comb += dec.code_table.eq(self.code_table)
                codec_slots.setdefault(cid, []).append(slot)
        m.submodules.rawpack = rawpack = Packer(8, PB, MB)
        # The raw packer's beats reach the collector through a register slice:
        # the collector's `ready` then meets the slice's registers, not the
        # packer's credit logic (the collected beat -> the raw packer's `room`
        # was the 16 B engine's path at 9128e37, 11.9 ns, 8 levels).
        m.submodules.raw_slice = raw_slice = SkidBuffer(rawpack.o.payload.shape(),
                                                        copies=max(1, MB // 8))
        wiring.connect(m, rawpack.o, raw_slice.i)
        targets = [0, *decs]
        sbits = max(1, len(targets).bit_length())

        # ---- input routing ------------------------------------------------------------
        # The jobs enter through a register slice too (as the payload, below):
        # the routing's ready, which waits on the decoders' input, reached the
        # parser's job slice (the 16 B engine's path at the payload slice's
        # change, 12.1 ns, 84 % routing).
        m.submodules.job_slice = job_slice = SkidBuffer(job_layout(), copies=2)
        wiring.connect(m, wiring.flipped(self.jobs), job_slice.i)
        jobs = job_slice.o
        m.submodules.order = order = fifo.SyncFIFOBuffered(width=len(targets), depth=ORDER_DEPTH)
        toggles = {cid: Signal(name=f"toggle{cid}") for cid in codec_slots}
        job_slot = Signal(sbits)
        for cid, sl in codec_slots.items():
            with m.If(jobs.p.codec == cid):
                m.d.comb += job_slot.eq(sl[0] if len(sl) == 1 else Mux(toggles[cid], sl[1], sl[0]))
        chunks_in = Signal(32)
        chunks_out = Signal(32)
        end_seen = Signal()
        end_code = Signal(8)
        end_accepted = Signal(32)
        # A job is taken as soon as there is room for it, whatever the payload
        # does: its decoder slot goes into the route queue (a register slice:
        # the slot being routed and the next), its count into its decoder's
        # count queue (another slice).  The take then waits only on those
        # slices' registered `ready`s and the order queue; the payload's end,
        # behind the decoders' input `ready`, only pops the route queue's few
        # bits.  (Taking the job in the cycle the previous payload's last beat
        # went put decoder input ready -> chunk end -> job take -> the job
        # slice's enables on the prefetch unit's path, 12.2 ns, 7 levels.)  The
        # counts travel in chunk order beside the payload, so a payload's last
        # beat no longer waits for its count.
        m.submodules.route = route = SkidBuffer(len(targets))
        cqs = {}
        for cid in decs:
            m.submodules[f"count_q{cid}"] = cqs[cid] = cq = SkidBuffer(COUNT_BITS)
            m.d.comb += [decs[cid].count.valid.eq(cq.o.valid), decs[cid].count.p.eq(cq.o.payload),
                         cq.o.ready.eq(decs[cid].count.ready)]
        onehot = Cat(*[job_slot == t for t in targets])
        room = Signal()                  # every queue the job enters has room
        slot_room = onehot[0]            # (the raw packer takes no count)
        for cid, cq in cqs.items():
            slot_room = slot_room | (onehot[cid] & cq.i.ready)
        m.d.comb += room.eq(route.i.ready & order.w_rdy & slot_room)
        take = Signal()
        with m.If(~end_seen & jobs.valid):
            with m.If(jobs.p.end):
                m.d.comb += jobs.ready.eq(1)
                m.d.sync += [end_seen.eq(1), end_code.eq(jobs.p.code),
                             end_accepted.eq(jobs.p.accepted)]
            with m.Elif(room):
                m.d.comb += [jobs.ready.eq(1), take.eq(1)]
                m.d.sync += chunks_in.eq(chunks_in + 1)
                for cid, t in toggles.items():
                    with m.If(jobs.p.codec == cid):
                        m.d.sync += t.eq(~t)
        # (the queues' `valid`s do not wait for each other's `ready`s: each is
        # the take's conditions but its own room, which `room` includes)
        job_chunk = jobs.valid & ~jobs.p.end & ~end_seen
        m.d.comb += [route.i.valid.eq(job_chunk & order.w_rdy & slot_room),
                     route.i.payload.eq(onehot),
                     order.w_en.eq(take), order.w_data.eq(onehot)]
        for cid, cq in cqs.items():
            m.d.comb += [cq.i.valid.eq(job_chunk & route.i.ready & order.w_rdy & onehot[cid]),
                         cq.i.payload.eq(jobs.p.count)]

        # The payload enters through a register slice: its `ready` toward the
        # parser is a flip-flop, and the routing's ready (the decoders' `ready`)
        # only reaches this slice's load enables, beside the decoders.  (Through
        # the parser's own output slice that net crossed between the units: the
        # 16 B engine's critical path at the chunk buffer's head change, 15.8
        # ns, 92 % routing.)
        # (the slice also carries each beat's byte count, counted from the
        # parser's `keep` as it enters: counted behind the slice, the count
        # into the raw packer's fill position was the 16 B engine's path at
        # two of seeds 1-3, 12.3-12.6 ns, 6 levels)
        m.submodules.pay_slice = pay_slice = SkidBuffer(
            data.StructLayout({"beat": byte_beat_layout(PB), "n": range(PB + 1)}),
            copies=max(1, PB // 8))
        m.d.comb += [pay_slice.i.valid.eq(self.pay.valid), self.pay.ready.eq(pay_slice.i.ready),
                     pay_slice.i.p.beat.eq(self.pay.p),
                     pay_slice.i.p.n.eq(prefix_length(self.pay.p.keep[k] for k in range(PB)))]
        pay, pay_p = pay_slice.o, pay_slice.o.p.beat
        # The payload goes to the route queue's head slot (one-hot, a register:
        # each target's share of `pay.ready` is one AND).
        routing = route.o.valid
        r_oh = route.o.payload
        pay_ready = Signal()
        ready_terms = []
        for cid in targets:
            sel = routing & r_oh[cid]
            if cid == 0:
                # (the parser's payload `keep` is a prefix: its bytes are counted
                # without adders, above; a sum here, into the raw packer's
                # control, was the 16 B engine's critical path, 15.2 ns with 4
                # carry steps)
                m.d.comb += [rawpack.i.valid.eq(sel & pay.valid), rawpack.i.p.data.eq(pay_p.data),
                             rawpack.i.p.n.eq(pay.p.n), rawpack.i.p.last.eq(pay_p.last)]
                ready_t = rawpack.i.ready
            else:
                dec = decs[cid]
                m.d.comb += [dec.i.valid.eq(sel & pay.valid), dec.i.p.eq(pay_p)]
                ready_t = dec.i.ready
            ready_terms.append(r_oh[cid] & ready_t)
        m.d.comb += [pay_ready.eq(Cat(*ready_terms).any()),
                     pay.ready.eq(routing & pay_ready),
                     route.o.ready.eq(pay.valid & pay_p.last & pay_ready)]

        # ---- outputs in chunk order ----------------------------------------------------------
        # The chunk being collected is a one-hot register (the order queue's
        # output), each source's "drop this beat" (an error beat or one without
        # bytes) is worked out beside its own output, and the beats leave
        # through a register slice: the queue's read enable -- selected
        # source's valid and last, and whether the beat may go -- is a few
        # gates from registers, and the write unit's `ready` does not reach
        # back into the decoders.  (Without them this loop, order queue ->
        # output select -> `last`/`user` -> write buffer -> read enable, was
        # the 16 B engine's critical path: 17.6 ns, 11 levels.)
        m.submodules.o_slice = o_slice = SkidBuffer(write_beat_layout(MB), copies=max(1, MB // 8))
        wiring.connect(m, o_slice.o, wiring.flipped(self.o))
        # The queue's head is held in a register slice in NH copies (one per 64
        # data bits): copy c selects its slice of the data and strobes (its value
        # with no head does not matter there, `valid` is gated apart), copy 0
        # the control.  (One copy fanned out to the whole data select was the
        # decode stage's critical path at 16 B, 86 % of it routing.)
        T = len(targets)
        NH = max(1, MB // 8)
        m.submodules.head = head = SkidBuffer(T * NH, copies=NH)
        m.d.comb += [head.i.valid.eq(order.r_rdy), head.i.payload.eq(Cat(*[order.r_data] * NH)),
                     order.r_en.eq(head.i.ready)]
        heads = [head.o.payload[c * T:(c + 1) * T] for c in range(NH)]
        sel = Signal(T)                  # the head, one-hot (0 with none)
        m.d.comb += sel.eq(Mux(head.o.valid, heads[0], 0))
        # the frame has had a decompressor error: one copy per source (its
        # `skip`, placed by its decoder) and one for the rest.  (One flip-flop
        # reaching every decoder's output logic -- `derr` -> skip -> the RLE
        # decoder's `ready` -> ... -> the head slice -- was the 16 B engine's
        # path at seed 3 of 073bffa, 14.6 ns, 3.4 ns of it derr's first wire)
        derrs = replicated(m, "derr", T + 1)
        derr = derrs[T]
        # per source (index k of `targets`): its output stream, strobes, error flag
        # and whether its beat is dropped rather than passed on (after the
        # frame's first error, the error beat itself, or a beat without bytes)
        outs, strbs, errs, skips = [], [], [], []
        for k, cid in enumerate(targets):
            if cid == 0:
                src = raw_slice.o
                strb, err = src.p.keep, C(0, 1)
            else:
                src = decs[cid].o
                strb, err = Cat(*[src.p.keep[j // eb] for j in range(MB)]), src.p.user
            skip = Signal(name=f"skip{cid}")
            # (`keep` is a prefix, so a beat without bytes is one without its
            # first: a wide OR here was on the order queue's read path)
            m.d.comb += [skip.eq(derrs[k] | err | ~src.p.keep[0]),
                         src.ready.eq(sel[k] & (skip | o_slice.i.ready))]
            outs.append(src)
            strbs.append(strb)
            errs.append(err)
            skips.append(skip)
        o_err = Signal()                 # the collected beat is a decompressor's error beat ...
        o_hs = Signal()                  # ... and it goes (on, or dropped)
        # (whether source k's beat goes if it is the head's, formed per source
        # and then picked: the head's chunk ends when its last beat goes, and
        # the head slice's `ready` says so without `valid` -- it only matters
        # with a head -- so the pick is the last gate before the slice.  Formed
        # from `sel` through each source's `ready`, then picked, then gated, it
        # was the 16 B engine's path at seed 2 of 972a133, the head's `valid`
        # -> the head slice, 11.9 ns, 6 levels)
        goes = [o.valid & (sk | o_slice.i.ready) for o, sk in zip(outs, skips)]
        m.d.comb += [
            o_err.eq(onehot_select(sel, errs)),
            o_hs.eq(head.o.valid & onehot_select(heads[0], goes)),
            head.o.ready.eq(onehot_select(heads[0], [g & o.p.last for g, o in zip(goes, outs)])),
            o_slice.i.valid.eq(onehot_select(sel, [o.valid & ~sk for o, sk in zip(outs, skips)])),
        ]
        for c in range(NH):
            dlo, dhi = c * 8 * MB // NH, (c + 1) * 8 * MB // NH
            slo, shi = c * MB // NH, (c + 1) * MB // NH
            m.d.comb += [
                o_slice.i.p.data[dlo:dhi].eq(onehot_select(heads[c], [o.p.data[dlo:dhi] for o in outs])),
                o_slice.i.p.strb[slo:shi].eq(onehot_select(heads[c], [st[slo:shi] for st in strbs])),
            ]
        # first decompressor error: its chunk index, then its code.  A decoder raises
        # `error` (with `error_code`) around the time it closes the chunk with a
        # `user` beat, in either order; per decoder the first pulse of the frame
        # belongs to its first error beat, and the frame ends only once every
        # error beat has had its pulse.
        derr_idx = Signal(32)
        derr_sel = Signal(len(targets))   # the erring chunk's decoder, one-hot
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
        # output: pass beats until the first error, drop afterwards
        # (a chunk's last beat goes: the head slice's handshake says it)
        with m.If(head.o.valid & head.o.ready):
            m.d.sync += chunks_out.eq(chunks_out + 1)
        for k, cid in enumerate(targets):
            if cid in decs:
                with m.If(o_hs & sel[k] & errs[k]):
                    m.d.sync += nbeat[cid].eq(nbeat[cid] + 1)
        # (`derr` is set at once, so the next beats are dropped; the erring
        # chunk's index and decoder are registered beside it and taken a cycle
        # later (`cap`): as an enable of those 32 + T flip-flops the handshake
        # -- `derr` -> skip -> each source's ready -> `o_hs` -- was the 16 B
        # engine's critical path at seed 3, 16.7 ns, and 12.4 ns at seed 2)
        cap = Signal()
        cap_idx = Signal.like(derr_idx)
        cap_sel = Signal.like(derr_sel)
        m.d.sync += [cap.eq(o_hs & o_err & ~derr), cap_idx.eq(chunks_out), cap_sel.eq(sel)]
        with m.If(o_hs & o_err):
            m.d.sync += [d.eq(1) for d in derrs]
        with m.If(cap):
            m.d.sync += [derr_idx.eq(cap_idx), derr_sel.eq(cap_sel)]
        derr_code = Signal(8)
        m.d.comb += derr_code.eq(onehot_select(derr_sel, [C(0, 8)] + [first_code[c] for c in decs]))
        pulses_in = 1
        for cid in decs:
            pulses_in = pulses_in & (npulse[cid] == nbeat[cid])

        # ---- end of frame --------------------------------------------------------------------
        # (both registers, a cycle behind what they are formed from, so `code`
        # is always the verdict of the cycle `all_out` speaks for: the
        # erring chunk's index compared with the parser's accepted count
        # (a 32-bit carry chain) into the prefetch unit's status code was the
        # 16 B engine's path at seed 2 of ac83f57 after its rip-up, 10.5 ns)
        all_out = Signal()
        code = Signal(8)
        m.d.comb += [self.code.eq(code), self.all_out.eq(all_out)]
        m.d.sync += [
            code.eq(Mux(derr & (derr_idx < end_accepted), derr_code, end_code)),
            all_out.eq(end_seen & ~routing & (chunks_out == chunks_in) & ~order.r_rdy
                       & ~head.o.valid & ~cap
                       & pulses_in & ~o_slice.o.valid & ~self.clear),
        ]
        with m.If(self.clear):
            m.d.sync += [end_seen.eq(0), *[d.eq(0) for d in derrs], cap.eq(0), chunks_in.eq(0),
                         chunks_out.eq(0),
                         *[s.eq(0) for s in (*npulse.values(), *nbeat.values())]]
        return m
