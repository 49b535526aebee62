"""The chunked frame: what one DMA transfer carries on the PCIe-side stream.

Layout (normative text and worked examples in ``docs/FORMAT.md``)::

    frame  = header(16) chunk*
    header = magic "cDMA" | version u8 | elem_bits u8 | log2(chunk bytes) u8 | codec u8
             | raw length u64 LE
    chunk  = u32 LE (payload length << 0 | codec used << 24) | payload | zero pad to 4

A chunk whose compressed payload would not be smaller than its raw bytes is
stored raw (codec 0), so dense data never grows beyond the headers.
"""
from __future__ import annotations

import dataclasses
import enum
import struct

import numpy as np

from . import rle, zvc
from .elements import ELEM_BITS, as_elements, elem_dtype, infer_elem_bits
from .errors import ErrorCode, FormatError

__all__ = ["MAGIC", "MAGIC_WORD", "VERSION", "HEADER_BYTES", "CHUNK_HEADER_BYTES",
           "CHUNK_LENGTH_BITS", "Codec",
           "FrameHeader", "DecodedFrame", "encode_frame", "decode_frame",
           "chunk_payload_sizes", "frame_size", "CHUNK_BYTES", "DEFAULT_CHUNK_BYTES"]

MAGIC = b"cDMA"
#: The magic as the frame's first 32-bit little-endian word (what hardware compares).
MAGIC_WORD = int.from_bytes(MAGIC, "little")
VERSION = 1
HEADER_BYTES = 16
CHUNK_HEADER_BYTES = 4
#: Bits of the payload length in a chunk header word; the codec used is the byte above.
CHUNK_LENGTH_BITS = 24
#: Allowed chunk sizes: 512 B .. 64 KiB, powers of two.
CHUNK_BYTES = tuple(1 << k for k in range(9, 17))
DEFAULT_CHUNK_BYTES = 4096
_HEADER = struct.Struct("<4sBBBBQ")


class Codec(enum.IntEnum):
    """Codec ids, in the frame header and in each chunk header."""
    RAW = 0
    ZVC = 1
    RLE = 2

    @classmethod
    def parse(cls, value) -> "Codec":
        if isinstance(value, str):
            try:
                return cls[value.upper()]
            except KeyError:
                raise ValueError(f"codec must be one of raw, zvc, rle, not {value!r}") from None
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"codec must be one of 0 (raw), 1 (zvc), 2 (rle), not {value!r}") from None


@dataclasses.dataclass(frozen=True)
class FrameHeader:
    elem_bits: int
    chunk_bytes: int
    codec: Codec
    raw_length: int

    def pack(self) -> bytes:
        return _HEADER.pack(MAGIC, VERSION, self.elem_bits, self.chunk_bytes.bit_length() - 1,
                            int(self.codec), self.raw_length)


@dataclasses.dataclass(frozen=True)
class DecodedFrame:
    header: FrameHeader
    #: The restored raw bytes.
    data: np.ndarray
    #: Codec actually used by each chunk.
    chunk_codecs: np.ndarray

    def elements(self) -> np.ndarray:
        return self.data.view(elem_dtype(self.header.elem_bits))


def _check_chunk_bytes(chunk_bytes):
    if chunk_bytes not in CHUNK_BYTES:
        raise ValueError(f"chunk_bytes must be a power of two from 512 to 65536, not {chunk_bytes!r}")


def _chunk_raw_bytes(raw_length: int, chunk_bytes: int) -> np.ndarray:
    nch = -(-raw_length // chunk_bytes)
    sizes = np.full(nch, chunk_bytes, np.int64)
    if nch and raw_length % chunk_bytes:
        sizes[-1] = raw_length % chunk_bytes
    return sizes


def _compressed_sizes(x: np.ndarray, codec: Codec, chunk_elems: int) -> np.ndarray:
    """Payload bytes of each chunk under ``codec``, from counts only."""
    eb = x.dtype.itemsize
    raw = _chunk_raw_bytes(x.size * eb, chunk_elems * eb)
    if codec == Codec.ZVC:
        ws = zvc.window_sizes(x)
        return np.add.reduceat(ws, np.arange(0, ws.size, chunk_elems // zvc.WINDOW)) if ws.size else raw
    if codec == Codec.RLE:
        return rle.chunk_token_counts(x, chunk_elems) * (1 + eb)
    return raw


def chunk_payload_sizes(data, codec="zvc", chunk_bytes=DEFAULT_CHUNK_BYTES, elem_bits=None):
    """``(compressed payload bytes, raw bytes)`` of each chunk, without encoding."""
    codec = Codec.parse(codec)
    _check_chunk_bytes(chunk_bytes)
    x = as_elements(data, elem_bits)
    chunk_elems = chunk_bytes // x.dtype.itemsize
    return _compressed_sizes(x, codec, chunk_elems), _chunk_raw_bytes(x.size * x.dtype.itemsize, chunk_bytes)


def frame_size(data, codec="zvc", chunk_bytes=DEFAULT_CHUNK_BYTES, elem_bits=None) -> int:
    """``len(encode_frame(...))`` computed from counts only."""
    comp, raw = chunk_payload_sizes(data, codec, chunk_bytes, elem_bits)
    used = np.where(comp < raw, comp, raw)
    return HEADER_BYTES + int((CHUNK_HEADER_BYTES + ((used + 3) & ~3)).sum())


def encode_frame(data, codec="zvc", chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                 elem_bits: int | None = None) -> bytes:
    """Encode ``data`` as one frame.

    Parameters
    ----------
    data : numpy.ndarray or bytes
        The tensor; arrays are taken bit for bit in C order.
    codec : {"zvc", "rle", "raw"} or Codec
    chunk_bytes : int
        Raw bytes per chunk, a power of two from 512 to 65536.
    elem_bits : int, optional
        8, 16 or 32; defaults to the array's itemsize (required for bytes).
    """
    codec = Codec.parse(codec)
    _check_chunk_bytes(chunk_bytes)
    x = as_elements(data, elem_bits)
    eb = x.dtype.itemsize
    chunk_elems = chunk_bytes // eb
    raw_bytes = x.view(np.uint8)
    raw_sizes = _chunk_raw_bytes(raw_bytes.size, chunk_bytes)
    if codec == Codec.ZVC:
        stream, ws = zvc.encode_stream(x)
        comp = np.add.reduceat(ws, np.arange(0, ws.size, chunk_elems // zvc.WINDOW)) if ws.size else raw_sizes
    elif codec == Codec.RLE:
        stream, comp = rle.encode_stream(x, chunk_elems)
    else:
        stream, comp = raw_bytes, raw_sizes
    use_comp = comp < raw_sizes
    used = np.where(use_comp, comp, raw_sizes)
    padded = (used + 3) & ~3
    out = np.zeros(HEADER_BYTES + int((CHUNK_HEADER_BYTES + padded).sum()), np.uint8)
    out[:HEADER_BYTES] = np.frombuffer(
        FrameHeader(eb * 8, chunk_bytes, codec, raw_bytes.size).pack(), np.uint8)
    starts = HEADER_BYTES + np.cumsum(CHUNK_HEADER_BYTES + padded) - (CHUNK_HEADER_BYTES + padded)
    hdr = used | (np.where(use_comp, int(codec), 0) << CHUNK_LENGTH_BITS)
    out[starts[:, None] + np.arange(4)] = hdr.astype("<u4")[:, None].view(np.uint8)
    comp_off = np.cumsum(comp) - comp
    raw_off = np.arange(raw_sizes.size, dtype=np.int64) * chunk_bytes
    for s, u, c, co, ro in zip((starts + 4).tolist(), used.tolist(), use_comp.tolist(),
                               comp_off.tolist(), raw_off.tolist()):
        out[s: s + u] = stream[co: co + u] if c else raw_bytes[ro: ro + u]
    return out.tobytes()


def _parse_header(b: np.ndarray) -> FrameHeader:
    n = b.size
    got = b[:4].tobytes()
    if got != MAGIC[: len(got)]:
        raise FormatError(0, ErrorCode.BAD_MAGIC, f"magic is {got!r}, expected {MAGIC!r}")
    if n < HEADER_BYTES:
        raise FormatError(n, ErrorCode.TRUNCATED, f"input ends inside the {HEADER_BYTES}-byte frame header")
    _, version, elem_bits, log2c, codec, raw_length = _HEADER.unpack(b[:HEADER_BYTES].tobytes())
    if version != VERSION:
        raise FormatError(4, ErrorCode.BAD_VERSION, f"frame version {version}, this decoder reads {VERSION}")
    if elem_bits not in ELEM_BITS:
        raise FormatError(5, ErrorCode.BAD_PARAMS, f"element width {elem_bits} bits, expected 8, 16 or 32")
    if not 9 <= log2c <= 16:
        raise FormatError(6, ErrorCode.BAD_PARAMS, f"log2 chunk size {log2c}, expected 9..16")
    if codec not in Codec._value2member_map_:
        raise FormatError(7, ErrorCode.BAD_PARAMS, f"codec id {codec}, expected 0, 1 or 2")
    if raw_length % (elem_bits // 8):
        raise FormatError(8, ErrorCode.BAD_PARAMS,
                          f"raw length {raw_length} is not a multiple of the {elem_bits // 8}-byte element")
    return FrameHeader(elem_bits, 1 << log2c, Codec(codec), raw_length)


def decode_frame(buf) -> DecodedFrame:
    """Decode and fully validate one frame.

    The first problem in stream order is reported.  Nothing proportional to the
    header's claimed raw length is allocated before every chunk has been found
    in ``buf`` and checked.

    Raises
    ------
    FormatError
        With the byte offset and an :class:`~golden.errors.ErrorCode`.
    """
    b = np.frombuffer(buf, np.uint8)
    h = _parse_header(b)
    eb = h.elem_bits // 8
    n = b.size
    nch = -(-h.raw_length // h.chunk_bytes)
    last_raw = h.raw_length - (nch - 1) * h.chunk_bytes if nch else 0
    starts, lengths, codecs = [], [], []
    walk_err = None
    off = HEADER_BYTES
    mv = memoryview(b)
    # One step per chunk; every step consumes at least 4 bytes of input, so a
    # header claiming 2^63 bytes costs at most len(buf) / 4 steps.
    for c in range(nch):
        if off + 4 > n:
            walk_err = FormatError(n, ErrorCode.TRUNCATED, f"input ends inside the header of chunk {c}")
            break
        word = int.from_bytes(mv[off: off + 4], "little")
        plen, cc = word & ((1 << CHUNK_LENGTH_BITS) - 1), word >> CHUNK_LENGTH_BITS
        raw_c = h.chunk_bytes if c < nch - 1 else last_raw
        if cc != Codec.RAW and cc != h.codec:
            walk_err = FormatError(off + 3, ErrorCode.BAD_CHUNK_CODEC,
                                   f"chunk {c} codec id {cc}; a {h.codec.name.lower()} frame allows 0 or {int(h.codec)}")
            break
        if cc == Codec.RAW and plen != raw_c:
            walk_err = FormatError(off, ErrorCode.LENGTH_MISMATCH,
                                   f"raw chunk {c} has payload length {plen}, expected {raw_c}")
            break
        end = off + 4 + ((plen + 3) & ~3)
        if end > n:
            walk_err = FormatError(n, ErrorCode.TRUNCATED,
                                   f"input ends inside chunk {c} ({plen}-byte payload from offset {off + 4})")
            break
        if plen & 3 and mv[off + 4 + plen: end] != bytes(end - off - 4 - plen):
            pad = next(i for i in range(off + 4 + plen, end) if b[i])
            walk_err = FormatError(pad, ErrorCode.BAD_PADDING, f"padding byte of chunk {c} is {b[pad]:#04x}, not 0")
            break
        starts.append(off + 4)
        lengths.append(plen)
        codecs.append(cc)
        off = end
    if walk_err is None and off != n:
        walk_err = FormatError(off, ErrorCode.TRAILING_BYTES, f"{n - off} bytes after the last chunk")

    starts = np.array(starts, np.int64)
    lengths = np.array(lengths, np.int64)
    codecs = np.array(codecs, np.int64)
    counts = np.full(starts.size, h.chunk_bytes // eb, np.int64)   # only the chunks found
    if starts.size == nch and nch:
        counts[-1] = last_raw // eb
    decoded = {}
    errors = [walk_err] if walk_err else []
    for codec, module in ((Codec.ZVC, zvc), (Codec.RLE, rle)):
        sel = np.flatnonzero(codecs == codec)
        if sel.size:
            elems, err = module.decode_chunks(b, starts[sel], lengths[sel], counts[sel], h.elem_bits)
            if err is not None:
                errors.append(err)
            decoded[codec] = (sel, elems)
    if errors:
        # Earliest offset wins.  At equal offsets a chunk's content verdict comes
        # first: its payload ends where the next structural check (padding,
        # next header, trailing bytes) begins, and a streaming decoder finishes
        # the chunk before it looks at what follows.
        raise min(errors, key=lambda e: (e.offset, e is walk_err))

    if len(decoded) == 1 and decoded.get(h.codec, (np.zeros(0),))[0].size == nch:
        out = decoded[h.codec][1].view(np.uint8)        # every chunk one codec: no copy
    else:
        out = np.empty(h.raw_length, np.uint8)
        for sel, elems in decoded.values():
            eb_bytes = elems.view(np.uint8)
            src = 0
            for c in sel.tolist():
                ln = int(counts[c]) * eb
                out[c * h.chunk_bytes: c * h.chunk_bytes + ln] = eb_bytes[src: src + ln]
                src += ln
        for c in np.flatnonzero(codecs == Codec.RAW).tolist():
            out[c * h.chunk_bytes: c * h.chunk_bytes + lengths[c]] = b[starts[c]: starts[c] + lengths[c]]
    return DecodedFrame(h, out, codecs)
