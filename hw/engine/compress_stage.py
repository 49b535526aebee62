"""Codec stage of the offload path: the compressors built in, one selected per frame."""
from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

from ..bits import prefix_length
from ..skid import SkidBuffer
from ..streams import element_stream
from .params import OFFLOAD_CODEC_MASK, EngineUnit, codec_blocks

__all__ = ["CompressStage", "counted_byte_layout"]


def counted_byte_layout(nbytes: int) -> data.StructLayout:
    """A byte beat with its kept-byte count: ``data``, ``keep`` (a prefix),
    ``last`` and ``n`` (the number of ``keep`` bits set), so the consumer adds a
    register instead of a population count."""
    return data.StructLayout({"data": 8 * nbytes, "keep": nbytes, "last": 1,
                              "n": range(nbytes + 1)})


class CompressStage(EngineUnit):
    """One compressor per offload codec built in (``codecs``, ZVCE aside: the
    engine reads ZVCE frames only); ``codec`` picks the one
    that takes ``i`` and feeds ``o``.  With ``codec`` 0 (raw) or a codec not
    built in, ``i`` is taken (when it is 0) or stalls, and ``o`` stays empty.

    The choice is a registered one-hot copy of ``codec`` (the compare is off
    the compressors' ``valid`` and ``ready`` paths), so ``codec`` must be set a
    cycle before the frame's first beat; ``o`` leaves through a register slice
    that also carries the beat's byte count (the chunk buffer's length sum
    starts at flip-flops).

    Parameters
    ----------
    params : EngineParams
        The engine configuration (``elem_bits``, ``mem_bytes``, ``codecs``).

    Members
    -------
    codec : In(8)
        The frame's codec id: set at least one cycle before the frame's first
        beat on ``i``, held until its last beat has left ``o``.
    i : In(element_stream(elem_bits, mem_bytes * 8 // elem_bits))
        Element beats, ``last`` at each chunk's end.
    o : Out(stream.Signature(counted_byte_layout(mem_bytes)))
        The selected compressor's output, ``last`` at each chunk's end.
    """

    def __init__(self, params):
        super().__init__(params, lambda p: {
            "codec": In(8),
            "i": In(element_stream(p.elem_bits, 8 * p.mem_bytes // p.elem_bits)),
            "o": Out(stream.Signature(counted_byte_layout(p.mem_bytes))),
        })

    def elaborate(self, platform):
        m = Module()
        p = self._p
        E, MB = p.elem_bits, p.mem_bytes
        lanes = 8 * MB // E
        # The slice's control flip-flops are copied per 64 payload bits (fan-out).
        m.submodules.o_slice = o_slice = SkidBuffer(counted_byte_layout(MB),
                                                    copies=max(1, MB // 8))
        raw = Signal(init=1)
        m.d.sync += raw.eq(~self.codec.any())
        with m.If(raw):
            m.d.comb += self.i.ready.eq(1)
        for cid, (enc_cls, _) in codec_blocks(p.codecs & OFFLOAD_CODEC_MASK).items():
            m.submodules[f"enc{cid}"] = enc = enc_cls(E, lanes, MB)
            sel = Signal(name=f"sel{cid}")
            m.d.sync += sel.eq(self.codec == cid)
            m.d.comb += [enc.i.valid.eq(self.i.valid & sel), enc.i.p.eq(self.i.p)]
            with m.If(sel):
                m.d.comb += [self.i.ready.eq(enc.i.ready),
                             o_slice.i.valid.eq(enc.o.valid),
                             o_slice.i.p.data.eq(enc.o.p.data),
                             o_slice.i.p.keep.eq(enc.o.p.keep),
                             o_slice.i.p.last.eq(enc.o.p.last),
                             # (each compressor's `keep` is a prefix: counted
                             # without adders, before the selection; a
                             # population count behind it was the 16 B
                             # engine's path at seed 2 of 618fc72, `sel2` ->
                             # the slice's count, 12.8 ns)
                             o_slice.i.p.n.eq(prefix_length(enc.o.p.keep[k] for k in range(MB))),
                             enc.o.ready.eq(o_slice.i.ready)]
        m.d.comb += [self.o.valid.eq(o_slice.o.valid), self.o.p.eq(o_slice.o.p),
                     o_slice.o.ready.eq(self.o.ready)]
        return m
