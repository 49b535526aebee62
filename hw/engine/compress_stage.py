"""Codec stage of the offload path: the compressors built in, one selected per frame."""
from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib.wiring import In, Out

from ..streams import byte_stream, element_stream
from .params import EngineUnit, codec_blocks

__all__ = ["CompressStage"]


class CompressStage(EngineUnit):
    """One compressor per codec built in (``codecs``); ``codec`` picks the one
    that takes ``i`` and feeds ``o``.  With ``codec`` 0 (raw) or a codec not
    built in, ``i`` is taken (when it is 0) or stalls, and ``o`` stays empty.

    Parameters
    ----------
    params : EngineParams
        The engine configuration (``elem_bits``, ``mem_bytes``, ``codecs``).

    Members
    -------
    codec : In(8)
        The frame's codec id (held for the whole frame).
    i : In(element_stream(elem_bits, mem_bytes * 8 // elem_bits))
        Element beats, ``last`` at each chunk's end.
    o : Out(byte_stream(mem_bytes))
        The selected compressor's output, ``last`` at each chunk's end.
    """

    def __init__(self, params):
        super().__init__(params, lambda p: {
            "codec": In(8),
            "i": In(element_stream(p.elem_bits, 8 * p.mem_bytes // p.elem_bits)),
            "o": Out(byte_stream(p.mem_bytes)),
        })

    def elaborate(self, platform):
        m = Module()
        p = self._p
        E, MB = p.elem_bits, p.mem_bytes
        lanes = 8 * MB // E
        codec = self.codec
        for cid, (enc_cls, _) in codec_blocks(p.codecs).items():
            m.submodules[f"enc{cid}"] = enc = enc_cls(E, lanes, MB)
            m.d.comb += [enc.i.valid.eq(self.i.valid & (codec == cid)), enc.i.p.eq(self.i.p)]
            with m.If(codec == cid):
                m.d.comb += [self.i.ready.eq(enc.i.ready),
                             self.o.valid.eq(enc.o.valid), self.o.p.eq(enc.o.p),
                             enc.o.ready.eq(self.o.ready)]
        with m.If(~codec.any()):
            m.d.comb += self.i.ready.eq(1)
        return m
