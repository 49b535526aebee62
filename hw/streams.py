"""Stream payload layouts shared by the ``hw`` components.

Two kinds of beats travel between the blocks of the engine, both as
:class:`amaranth.lib.stream.Signature` payloads (``valid``/``ready`` come from the
stream signature itself):

* **raw element beats** -- ``lanes`` elements of ``elem_bits`` each, element 0 in
  the least significant bits (so the beat is the little-endian byte image of the
  elements), an *element-granular* ``keep`` and ``last``;
* **byte beats** -- ``nbytes`` bytes, byte 0 in the least significant bits, a
  byte-granular ``keep`` and ``last``.

``keep`` follows AXI4-Stream practice: every lane is kept on all beats but the
last one of a packet; the last beat keeps a prefix of its lanes (possibly none:
a *null* beat that only closes the packet).  An optional ``user`` field (AXI
``tuser``) carries a per-beat status, e.g. the decompressor's error flag.
"""
from __future__ import annotations

from amaranth.lib import data, stream

__all__ = ["decoder_members", "DecoderParams", "element_beat_layout", "byte_beat_layout", "element_stream", "byte_stream",
           "check_positive_int"]


def check_positive_int(name: str, value, *, minimum: int = 1) -> int:
    """Return ``value`` if it is an ``int`` >= ``minimum``, else raise.

    Raises
    ------
    TypeError
        ``value`` is not an integer (``bool`` is refused too).
    ValueError
        ``value`` is smaller than ``minimum``.
    """
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, not {value!r}")
    return value


def element_beat_layout(elem_bits: int, lanes: int, user_bits: int = 0) -> data.StructLayout:
    """Payload layout of a raw element beat.

    Parameters
    ----------
    elem_bits : int
        Bits per element.
    lanes : int
        Elements per beat.
    user_bits : int
        Width of the optional ``user`` field (0: no field).

    Returns
    -------
    amaranth.lib.data.StructLayout
        Fields ``data`` (``lanes * elem_bits``), ``keep`` (``lanes``, one bit per
        element), ``last`` (1) and, if ``user_bits``, ``user``.
    """
    check_positive_int("elem_bits", elem_bits)
    check_positive_int("lanes", lanes)
    check_positive_int("user_bits", user_bits, minimum=0)
    fields = {"data": lanes * elem_bits, "keep": lanes, "last": 1}
    if user_bits:
        fields["user"] = user_bits
    return data.StructLayout(fields)


def byte_beat_layout(nbytes: int, user_bits: int = 0) -> data.StructLayout:
    """Payload layout of a byte beat.

    Parameters
    ----------
    nbytes : int
        Bytes per beat.
    user_bits : int
        Width of the optional ``user`` field (0: no field).

    Returns
    -------
    amaranth.lib.data.StructLayout
        Fields ``data`` (``8 * nbytes``), ``keep`` (``nbytes``), ``last`` (1) and,
        if ``user_bits``, ``user``.
    """
    check_positive_int("nbytes", nbytes)
    check_positive_int("user_bits", user_bits, minimum=0)
    fields = {"data": 8 * nbytes, "keep": nbytes, "last": 1}
    if user_bits:
        fields["user"] = user_bits
    return data.StructLayout(fields)


def element_stream(elem_bits: int, lanes: int, user_bits: int = 0) -> stream.Signature:
    """A :class:`~amaranth.lib.stream.Signature` of raw element beats."""
    return stream.Signature(element_beat_layout(elem_bits, lanes, user_bits))


def byte_stream(nbytes: int, user_bits: int = 0) -> stream.Signature:
    """A :class:`~amaranth.lib.stream.Signature` of byte beats."""
    return stream.Signature(byte_beat_layout(nbytes, user_bits))


def decoder_members(elem_bits: int, lanes: int, in_bytes: int, count_bits: int, **extra) -> dict:
    """The signature members every codec decoder has: ``i`` (bytes), ``count``,
    any ``extra`` inputs, ``o`` (elements, ``user`` set on a malformed chunk's
    closing beat), ``error`` and ``error_code``."""
    from amaranth.lib.wiring import In, Out
    return {"i": In(byte_stream(in_bytes)), "count": In(stream.Signature(count_bits)), **extra,
            "o": Out(element_stream(elem_bits, lanes, user_bits=1)),
            "error": Out(1), "error_code": Out(4)}


class DecoderParams:
    """The parameters of a codec decoder as read-only properties (set ``_elem_bits``,
    ``_lanes``, ``_in_bytes``, ``_count_bits`` in the constructor)."""

    elem_bits = property(lambda self: self._elem_bits, doc="Element width in bits.")
    lanes = property(lambda self: self._lanes, doc="Elements per output beat.")
    in_bytes = property(lambda self: self._in_bytes, doc="Bytes per input beat.")
    count_bits = property(lambda self: self._count_bits, doc="Width of the element count.")


#: Element widths the codec blocks (ZVC and RLE) take.
ELEM_BITS = (8, 16, 32)
#: Most elements per raw beat of a codec block (one ZVC window).
MAX_LANES = 32
#: Widest byte beat of a codec block (keeps the barrel shifters sane).
MAX_BEAT_BYTES = 256


def check_codec_params(elem_bits, lanes, beat_name: str, beat_bytes, count_bits=None):
    """The parameters of a ZVC or RLE block, checked in this order; returns
    ``(elem_bits, lanes, beat_bytes)``.

    ``beat_name`` names the coded side's width (``out_bytes``, ``in_bytes``,
    ``mid_bytes``); ``count_bits`` (decoders) is checked when given.

    Raises
    ------
    TypeError
        A parameter is not an integer.
    ValueError
        A parameter is out of range; the message quotes it and the range.
    """
    if not isinstance(elem_bits, int) or isinstance(elem_bits, bool):
        raise TypeError(f"elem_bits must be an integer, one of {ELEM_BITS}, not {elem_bits!r}")
    if elem_bits not in ELEM_BITS:
        raise ValueError(f"elem_bits must be one of {ELEM_BITS}, not {elem_bits!r}")
    check_positive_int("lanes", lanes)
    if lanes > MAX_LANES or lanes & (lanes - 1):
        raise ValueError(f"lanes must be a power of two from 1 to {MAX_LANES}, not {lanes!r}")
    check_positive_int(beat_name, beat_bytes)
    if beat_bytes > MAX_BEAT_BYTES:
        raise ValueError(f"{beat_name} must be from 1 to {MAX_BEAT_BYTES}, not {beat_bytes!r}")
    if count_bits is not None:
        check_positive_int("count_bits", count_bits, minimum=6)
        if count_bits > 64:
            raise ValueError(f"count_bits must be from 6 to 64, not {count_bits!r}")
    return elem_bits, lanes, beat_bytes
