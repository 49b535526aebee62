"""Deliberately broken variants of the designs, for the tests that keep proofs honest.

A proof that passes on a design proves nothing unless it can fail: every
property set is run once more on a variant with one fault that the set
targets, and must fail there (``tests/test_formal.py``).  The faults live
here, apart from ``hw/``, and are switched on only for the elaboration of a
harness (:func:`patched`).
"""
from __future__ import annotations

import contextlib
import importlib

from amaranth.hdl import Module, Mux, Signal

from amaranth.lib import wiring

import types

from amaranth.lib.fifo import SyncFIFOBuffered

from cdma.hw.fifo import WideFIFO
from cdma.hw.packer import CreditedPacker
from cdma.hw.skid import SkidBuffer

__all__ = ["SlippingFIFO", "SlippingSkid", "FlippingPacker", "patched"]


class SlippingFIFO(WideFIFO):
    """A :class:`~hw.fifo.WideFIFO` whose output does not hold while it is stalled.

    It is the real FIFO, with bit 0 of ``r_data`` flipped in every other cycle
    that a word waits unread: the payload changes before the transfer (the
    stream rule that the stream-rule proofs check).
    """

    def elaborate(self, platform):
        m = Module()
        m.submodules.real = real = WideFIFO(self._width, self._depth, copies=self._copies)
        toggle = Signal()
        m.d.sync += toggle.eq(~toggle)
        m.d.comb += [
            real.w_en.eq(self.w_en), real.w_data.eq(self.w_data), real.r_en.eq(self.r_en),
            self.r_valid.eq(real.r_valid), self.level.eq(real.level),
            self.r_data.eq(real.r_data ^ Mux(real.r_valid & ~self.r_en & toggle, 1, 0)),
        ]
        return m


def _small_sync_fifo(*, width, depth):
    """Amaranth's ``SyncFIFOBuffered`` cut to 2 entries (a buffer that fills within
    reach of a bounded run)."""
    return SyncFIFOBuffered(width=width, depth=min(depth, 2))


class SlippingSkid(SkidBuffer):
    """A :class:`~hw.skid.SkidBuffer` whose output payload does not hold while it
    is stalled (bit 0 flips in every other cycle that a beat waits)."""

    def elaborate(self, platform):
        m = Module()
        m.submodules.real = real = SkidBuffer(self.shape, copies=self.copies)
        toggle = Signal()
        m.d.sync += toggle.eq(~toggle)
        o_bits = self.o.payload.as_value() if hasattr(self.o.payload, "as_value") else self.o.payload
        r_bits = real.o.payload.as_value() if hasattr(real.o.payload, "as_value") else real.o.payload
        m.d.comb += [
            real.i.valid.eq(self.i.valid), real.i.payload.eq(self.i.payload),
            self.i.ready.eq(real.i.ready), self.ready_copies.eq(real.ready_copies),
            self.o.valid.eq(real.o.valid), real.o.ready.eq(self.o.ready),
            o_bits.eq(r_bits ^ Mux(real.o.valid & ~self.o.ready & toggle, 1, 0)),
        ]
        return m


def _slipping_output_slice(shape, **kwargs):
    """The decode stage's output slice (its one slice of write beats, with
    ``strb``) as a :class:`SlippingSkid`; its input slices stay real: their
    consumers' ``ready`` depends on their payload, a loop that a slipping
    payload would close."""
    members = getattr(shape, "members", {})
    return (SlippingSkid if "strb" in members else SkidBuffer)(shape, **kwargs)


class FlippingPacker(CreditedPacker):
    """A :class:`~hw.packer.CreditedPacker` that corrupts what it packs.

    It is the real packer, fed with bit 0 of unit 1 flipped in every piece of
    two units or more: the compressor's output is wrong (a ZVC element or an
    RLE token's value), which the round-trip proofs must see.
    """

    def elaborate(self, platform):
        m = Module()
        m.submodules.real = real = CreditedPacker(self._unit, self._in, self._out,
                                                  inflight=self._inflight, masked=self._masked)
        m.d.comb += [
            real.push.eq(self.push), real.piece.eq(self.piece),
            real.piece.data.eq(self.piece.data ^ Mux(self.piece.n >= 2, 1 << self._unit, 0)),
            self.room.eq(real.room), self.overflow.eq(real.overflow),
        ]
        wiring.connect(m, wiring.flipped(self.o), real.o)
        return m


#: Module attributes each fault replaces: (module, attribute, replacement).
_PATCHES = {
    "fifo-slip": [(mod, "WideFIFO", SlippingFIFO)
                  for mod in ("cdma.hw.packer", "cdma.hw.zvc", "cdma.hw.zvc_window", "cdma.hw.rle")],
    # (the parser's output slices; the fetch unit's output slice)
    "skid-slip": [(mod, "SkidBuffer", SlippingSkid)
                  for mod in ("cdma.hw.engine.parser", "cdma.hw.engine.fetch")],
    # the decode stage's output slice slips, and the write unit's buffer is cut
    # to 2 beats so that its input stalls (a 256-beat buffer never fills within
    # reach)
    "slip-behind-full-writer": [("cdma.hw.engine.decode_stage", "SkidBuffer", _slipping_output_slice),
                                ("cdma.hw.engine.writer", "fifo", types.SimpleNamespace(
                                    SyncFIFOBuffered=_small_sync_fifo))],
    "piece-flip": [(mod, "CreditedPacker", FlippingPacker) for mod in ("cdma.hw.zvc", "cdma.hw.rle")],
}


@contextlib.contextmanager
def patched(fault):
    """Within the block, the ``hw`` modules build ``fault``'s broken parts
    (no-op for ``None`` or a fault that is not a patch)."""
    saved = []
    try:
        for modname, attr, new in _PATCHES.get(fault, []):
            mod = importlib.import_module(modname)
            if hasattr(mod, attr):
                saved.append((mod, attr, getattr(mod, attr)))
                setattr(mod, attr, new)
        yield
    finally:
        for mod, attr, old in reversed(saved):
            setattr(mod, attr, old)
