"""Chunker of the offload path: fetched memory beats -> element beats, ``last`` at
each chunk's end."""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

from ..bits import thermometer
from .params import LENGTH_BITS, EngineUnit

__all__ = ["Chunker", "chunk_beat_layout"]


def chunk_beat_layout(elem_bits: int, mem_bytes: int) -> data.StructLayout:
    """One memory beat of a chunk: ``data``, ``keep`` (one bit per element),
    ``n`` (elements kept), ``last`` (the chunk's final beat) and ``final`` (the
    transfer's final beat)."""
    lanes = 8 * mem_bytes // elem_bits
    return data.StructLayout({"data": 8 * mem_bytes, "keep": lanes, "n": range(lanes + 1),
                              "last": 1, "final": 1})


class Chunker(EngineUnit):
    """Cut a transfer of ``length`` bytes into chunks of ``chunk_bytes``.

    Passes the fetched beats on while ``run`` is high; counts them, marks the
    last beat of every chunk (every ``chunk_bytes / mem_bytes`` beats, and the
    transfer's final beat) and keeps on the final beat only the elements
    inside ``length``.  ``data`` is passed as fetched: the elements past the
    end are not masked here (``keep`` says which count).

    Parameters
    ----------
    params : EngineParams
        The engine configuration (``elem_bits``, ``mem_bytes``, ``chunk_bytes``).

    Members
    -------
    start : In(1)
        Load a transfer of ``length`` bytes (one cycle, while ``run`` is low).
    length : In(LENGTH_BITS)
        Raw bytes of the transfer (> 0), read with ``start``.
    run : In(1)
        Beats may pass.
    i : In(stream.Signature(8 * mem_bytes))
        The fetched beats, in address order (:class:`~cdma.hw.engine.fetch.FetchUnit`).
    o : Out(stream.Signature(chunk_beat_layout(elem_bits, mem_bytes)))
        The same beats with ``keep``, ``n``, ``last`` and ``final``.
    """

    def __init__(self, params):
        super().__init__(params, lambda p: {
            "start": In(1),
            "length": In(LENGTH_BITS),
            "run": In(1),
            "i": In(stream.Signature(8 * p.mem_bytes)),
            "o": Out(stream.Signature(chunk_beat_layout(p.elem_bits, p.mem_bytes))),
        })

    def elaborate(self, platform):
        m = Module()
        p = self._p
        E, MB = p.elem_bits, p.mem_bytes
        eb = E // 8
        lanes = MB // eb
        chunk_beats = p.chunk_bytes // MB
        mshift = MB.bit_length() - 1
        eshift = eb.bit_length() - 1
        cbits = max(1, (chunk_beats - 1).bit_length())

        beats_left = Signal(LENGTH_BITS)
        cbeat = Signal(cbits)
        last_elems = Signal(range(lanes + 1))
        length = self.length
        # Whether this beat is the transfer's final one and ends a chunk are
        # registers, worked out when the counts change (from the counts' old
        # values: a compare with 2 instead of 1 after a decrement), so a beat's
        # flags and `keep` start at flip-flops: `beats_left == 1` (a 32-bit
        # compare) into the compressor's lane registers was the 16 B engine's
        # path, 12.9 ns, 8 levels.
        final_beat = Signal()
        cbeat_last = Signal()            # cbeat == chunk_beats - 1
        last_keep = Signal(lanes)        # `keep` of the final beat
        xfer = self.o.valid & self.o.ready
        chunk_end = cbeat_last | final_beat
        elems = Signal(range(lanes + 1))  # elements in the transfer's final beat
        m.d.comb += elems.eq((((length - 1) & (MB - 1)) >> eshift) + 1)
        with m.If(self.start):
            m.d.sync += [beats_left.eq((length + MB - 1) >> mshift), cbeat.eq(0),
                         final_beat.eq(length <= MB), cbeat_last.eq(chunk_beats == 1),
                         last_elems.eq(elems),
                         last_keep.eq(thermometer(elems, lanes))]
        with m.Elif(xfer):
            m.d.sync += [beats_left.eq(beats_left - 1), cbeat.eq(Mux(chunk_end, 0, cbeat + 1)),
                         final_beat.eq(beats_left == 2),
                         cbeat_last.eq(Mux(chunk_end, chunk_beats == 1,
                                           cbeat == max(chunk_beats - 2, 0)))]
        m.d.comb += [
            self.o.valid.eq(self.i.valid & self.run),
            self.i.ready.eq(self.o.ready & self.run),
            self.o.p.data.eq(self.i.payload),
            self.o.p.keep.eq(Mux(final_beat, last_keep, (1 << lanes) - 1)),
            self.o.p.n.eq(Mux(final_beat, last_elems, lanes)),
            self.o.p.last.eq(chunk_end),
            self.o.p.final.eq(final_beat),
        ]
        return m
