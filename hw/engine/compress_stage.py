"""Codec stage of the offload path: the compressors built in, one selected per frame."""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

from cdma.golden.frame import Codec
from cdma.golden.zvce import TABLE_BYTES

from ..bits import prefix_length
from ..skid import SkidBuffer
from ..streams import element_stream
from .params import EngineUnit, codec_blocks

__all__ = ["CompressStage", "counted_byte_layout"]


def counted_byte_layout(nbytes: int) -> data.StructLayout:
    """A byte beat with its kept-byte count: ``data``, ``keep`` (a prefix),
    ``last`` and ``n`` (the number of ``keep`` bits set), so the consumer adds a
    register instead of a population count."""
    return data.StructLayout({"data": 8 * nbytes, "keep": nbytes, "last": 1,
                              "n": range(nbytes + 1)})


class CompressStage(EngineUnit):
    """One compressor per codec built in (``codecs``); ``codec`` picks the one
    that takes ``i`` and feeds ``o``.  With ``codec`` 0 (raw) or a codec not
    built in, ``i`` is taken (when it is 0) or stalls, and ``o`` stays empty.
    With ZVCE built in and ``codec`` 3, each beat goes to both the ZVCE and the
    ZVC compressor (each takes it in its own cycle: a beat leaves ``i`` once
    both have it), the ZVCE bytes to ``o`` and the ZVC bytes to ``alt``: a ZVCE
    frame's chunk is whichever is shorter (docs/FORMAT.md).

    The choice is a registered one-hot copy of ``codec`` (the compare is off
    the compressors' ``valid`` and ``ready`` paths), so ``codec`` must be set a
    cycle before the frame's first beat; ``o`` (and ``alt``) leave through a
    register slice that also carries the beat's byte count (the chunk buffer's
    length sum starts at flip-flops).

    Parameters
    ----------
    params : EngineParams
        The engine configuration (``elem_bits``, ``mem_bytes``, ``comp_bytes``: each
        compressor's output width, ``codecs``).

    Members
    -------
    codec : In(8)
        The frame's codec id: set at least one cycle before the frame's first
        beat on ``i``, held until its last beat has left ``o``.
    i : In(element_stream(elem_bits, mem_bytes * 8 // elem_bits))
        Element beats, ``last`` at each chunk's end.
    o : Out(stream.Signature(counted_byte_layout(comp_bytes)))
        The selected compressor's output, ``last`` at each chunk's end.
    code_table : In(128)
        With ZVCE only: the packed code table of a ZVCE frame (held while it
        is compressed).
    alt : Out(stream.Signature(counted_byte_layout(comp_bytes)))
        With ZVCE only: a ZVCE frame's chunks compressed with ZVC.
    """

    def __init__(self, params):
        super().__init__(params, lambda p: {
            "codec": In(8),
            "i": In(element_stream(p.elem_bits, 8 * p.mem_bytes // p.elem_bits)),
            "o": Out(stream.Signature(counted_byte_layout(p.comp_bytes))),
            **({"code_table": In(8 * TABLE_BYTES),
                "alt": Out(stream.Signature(counted_byte_layout(p.comp_bytes)))} if p.zvce else {}),
        })

    def elaborate(self, platform):
        m = Module()
        p = self._p
        E, MB, CB = p.elem_bits, p.mem_bytes, p.comp_bytes
        lanes = 8 * MB // E

        def out_slice(name, port):
            # (the slice's control flip-flops are copied per 64 payload bits: fan-out)
            m.submodules[name] = slc = SkidBuffer(counted_byte_layout(CB), copies=max(1, CB // 8))
            m.d.comb += [port.valid.eq(slc.o.valid), port.p.eq(slc.o.p), slc.o.ready.eq(port.ready)]
            return slc

        def feed(slc, enc):
            m.d.comb += [slc.i.valid.eq(enc.o.valid),
                         slc.i.p.data.eq(enc.o.p.data),
                         slc.i.p.keep.eq(enc.o.p.keep),
                         slc.i.p.last.eq(enc.o.p.last),
                         # (each compressor's `keep` is a prefix: counted
                         # without adders, before the selection; a population
                         # count behind it was the 16 B engine's path at seed
                         # 2 of 618fc72, `sel2` -> the slice's count, 12.8 ns)
                         slc.i.p.n.eq(prefix_length(enc.o.p.keep[k] for k in range(CB))),
                         enc.o.ready.eq(slc.i.ready)]

        o_slice = out_slice("o_slice", self.o)
        raw = Signal(init=1)
        m.d.sync += raw.eq(~self.codec.any())
        with m.If(raw):
            m.d.comb += self.i.ready.eq(1)
        encs, sels = {}, {}
        for cid, (enc_cls, _) in codec_blocks(p.codecs).items():
            m.submodules[f"enc{cid}"] = encs[cid] = enc = enc_cls(E, lanes, CB)
            sels[cid] = sel = Signal(name=f"sel{cid}")
            m.d.sync += sel.eq(self.codec == cid)
            m.d.comb += enc.i.p.eq(self.i.p)
            if cid == Codec.ZVCE:
                continue
            with m.If(sel):
                m.d.comb += [enc.i.valid.eq(self.i.valid), self.i.ready.eq(enc.i.ready)]
                feed(o_slice, enc)
        if Codec.ZVCE in encs:
            # The fork of a ZVCE frame's beats: `sent` marks the compressor
            # that has taken the current beat while the other has not yet.
            both = (encs[Codec.ZVCE], encs[Codec.ZVC])
            alt_slice = out_slice("alt_slice", self.alt)
            m.d.comb += both[0].code_table.eq(self.code_table)
            sent = Signal(2)
            took = Cat(*[s | enc.i.ready for s, enc in zip(sent, both)])
            with m.If(sels[Codec.ZVCE]):
                m.d.comb += [both[0].i.valid.eq(self.i.valid & ~sent[0]),
                             both[1].i.valid.eq(self.i.valid & ~sent[1]),
                             self.i.ready.eq(took.all())]
                with m.If(self.i.valid):
                    m.d.sync += sent.eq(Mux(took.all(), 0, took))
                feed(o_slice, both[0])
                feed(alt_slice, both[1])
        return m
