"""Turning user data into little-endian unsigned element words.

Every codec works on the *bit patterns* of elements, never on their values:
``-0.0``, NaN payloads and denormals are nonzero and survive exactly.
"""
from __future__ import annotations

import numpy as np

from .errors import ErrorCode, FormatError

__all__ = ["ELEM_BITS", "elem_dtype", "as_elements", "infer_elem_bits", "decode_payload"]

#: Element widths the format supports.
ELEM_BITS = (8, 16, 32)


def elem_dtype(elem_bits: int) -> np.dtype:
    """The little-endian unsigned dtype holding one element of ``elem_bits``."""
    if elem_bits not in ELEM_BITS:
        raise ValueError(f"elem_bits must be one of {ELEM_BITS}, not {elem_bits!r}")
    return np.dtype(f"<u{elem_bits // 8}")


def infer_elem_bits(data) -> int:
    """Element width of a numpy array from its itemsize (8, 16 or 32 bits)."""
    bits = np.asarray(data).dtype.itemsize * 8
    if bits not in ELEM_BITS:
        raise ValueError(
            f"arrays of dtype {np.asarray(data).dtype} ({bits}-bit elements) are not supported: "
            f"elements must be 8, 16 or 32 bits (cast float64 to float32 first)")
    return bits


def as_elements(data, elem_bits: int | None = None) -> np.ndarray:
    """View ``data`` as a flat array of unsigned little-endian element words.

    Parameters
    ----------
    data : numpy.ndarray, bytes, bytearray or memoryview
        Arrays are reinterpreted bit for bit (C order); byte strings are cut into
        elements of ``elem_bits``.
    elem_bits : int, optional
        Element width. Defaults to the array's itemsize; required for bytes.

    Raises
    ------
    ValueError
        Unsupported width, or a byte length that is not a multiple of the
        element size.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        if elem_bits is None:
            raise ValueError("elem_bits is required when data is a byte string")
        raw = np.frombuffer(data, dtype=np.uint8)
    else:
        arr = np.ascontiguousarray(data)
        if elem_bits is None:
            elem_bits = infer_elem_bits(arr)
        if arr.dtype.byteorder == ">":
            # Big-endian input: keep the values, store them little-endian.
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        raw = arr.reshape(-1).view(np.uint8)
    dt = elem_dtype(elem_bits)
    if raw.size % dt.itemsize:
        raise ValueError(
            f"{raw.size} bytes is not a whole number of {elem_bits}-bit elements")
    return raw.view(dt)


def decode_payload(decode_chunks, payload, count: int, elem_bits: int) -> np.ndarray:
    """Decode one chunk payload of ``count`` elements with a codec's batch decoder.

    ``decode_chunks(buf, starts, sizes, counts, elem_bits) -> (elements, error)``
    is the codec's decoder of many chunks (``golden.zvc``/``golden.rle``); this is
    the one-payload case both codecs share, with its own rule: zero elements
    take zero bytes.

    Raises
    ------
    ValueError
        ``count`` is negative or ``elem_bits`` unsupported.
    FormatError
        The payload does not decode to exactly ``count`` elements.
    """
    elem_dtype(elem_bits)
    if count < 0:
        raise ValueError(f"count must be >= 0, not {count!r}")
    buf = np.frombuffer(payload, np.uint8)
    if count == 0:
        if buf.size:
            raise FormatError(0, ErrorCode.LENGTH_MISMATCH,
                              f"{buf.size} bytes of payload for 0 elements")
        return np.zeros(0, elem_dtype(elem_bits))
    out, err = decode_chunks(buf, [0], [buf.size], [count], elem_bits)
    if err is not None:
        raise err
    return out
