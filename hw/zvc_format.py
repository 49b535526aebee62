"""What the ZVC blocks share about the format: the window, the error codes, the unit
a beat is cut into, and comparisons of a count with a power of two
(:mod:`hw.zvc` and :mod:`hw.zvc_window` both use them)."""
from __future__ import annotations

import enum
import math
from typing import NamedTuple

__all__ = ["WINDOW", "ZVCError"]

#: Elements per ZVC window (one 32-bit mask).
WINDOW = 32


class ZVCError(enum.IntEnum):
    """Error codes of :class:`hw.zvc.ZVCDecompressor` (same numbers as ``golden.ErrorCode``)."""

    OK = 0
    #: The chunk ends before its last window is complete, or bytes follow it.
    LENGTH_MISMATCH = 6
    #: A mask sets bits for elements past the chunk's element count.
    BAD_MASK = 8


class _Units(NamedTuple):
    unit_bytes: int
    unit_bits: int
    mask_units: int
    elem_units: int


def _units(elem_bits, beat_bytes):
    """The coarsest unit in which a window's fields and a beat of ``beat_bytes``
    bytes are both whole: the element's bytes when they divide the beat (every
    ZVC field -- a 4-byte mask, E/8-byte elements -- is then a whole number of
    units), else a common divisor of the two."""
    ub = math.gcd(elem_bits // 8, beat_bytes)
    return _Units(ub, 8 * ub, 4 // ub, elem_bits // 8 // ub)


# Comparisons of a wide count with a power of two, written as reductions of its
# high bits rather than as `<`/`<=`: Yosys's opt_share merges two comparisons
# that feed one multiplexer into one comparison of multiplexed operands, which
# put the ZVC decompressor's step decision in front of a 32-bit carry chain
# (`next_short`, `fin`: rem or rem - lanes, picked by the decision).
def _below_pow2(value, limit):
    """``value < limit`` for ``limit`` a power of two."""
    return ~value[limit.bit_length() - 1:].any()


def _at_most_pow2(value, limit):
    """``value <= limit`` for ``limit`` a power of two."""
    k = limit.bit_length() - 1
    return ~value[k + 1:].any() & ~(value[k] & value[:k].any())
