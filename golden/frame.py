"""The chunked frame: what one DMA transfer carries on the PCIe-side stream.

Layout (normative text and worked examples in ``docs/FORMAT.md``)::

    frame  = header(16) [code table(16), version 2 only] chunk*
    header = magic "cDMA" | version u8 | elem_bits u8 | log2(chunk bytes) u8 | codec u8
             | raw length u64 LE
    chunk  = u32 LE (payload length << 0 | codec used << 24) | payload | zero pad to 4

Version 1 frames carry codecs 0-2 (raw, ZVC, RLE); version 2 frames carry
codec 3 (ZVCE) and its code table (:class:`golden.zvce.CodeTable`) right after
the 16-byte header, and their chunks are ZVCE, ZVC (when strictly smaller than
ZVCE) or raw.  Version 1 frames are unchanged by the second version.

A chunk whose compressed payload would not be smaller than its raw bytes is
stored raw (codec 0), so dense data never grows beyond the headers.
"""
from __future__ import annotations

import dataclasses
import enum
import functools
import struct

import numpy as np

from . import rle, zvc, zvce
from .elements import ELEM_BITS, as_elements, elem_dtype
from .errors import ErrorCode, FormatError

__all__ = ["MAGIC", "MAGIC_WORD", "VERSION", "VERSION_TABLE", "VERSION_CODECS", "HEADER_BYTES",
           "CHUNK_HEADER_BYTES", "CHUNK_LENGTH_BITS", "Codec", "header_bytes", "chunk_codecs",
           "FrameHeader", "DecodedFrame", "encode_frame", "decode_frame",
           "chunk_payload_sizes", "frame_size", "CHUNK_BYTES", "DEFAULT_CHUNK_BYTES"]

MAGIC = b"cDMA"
#: The magic as the frame's first 32-bit little-endian word (what hardware compares).
MAGIC_WORD = int.from_bytes(MAGIC, "little")
#: Version of frames without a code table (codecs raw, ZVC, RLE): what the
#: hardware engine writes and reads.
VERSION = 1
#: Version of frames whose header is followed by a ZVCE code table.
VERSION_TABLE = 2
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
    #: ZVC with an entropy-coded top byte (:mod:`golden.zvce`); version-2 frames only.
    ZVCE = 3

    @classmethod
    def parse(cls, value) -> "Codec":
        if isinstance(value, str):
            try:
                return cls[value.upper()]
            except KeyError:
                raise ValueError(f"codec must be one of raw, zvc, rle, zvce, not {value!r}") from None
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"codec must be one of 0 (raw), 1 (zvc), 2 (rle), 3 (zvce), "
                             f"not {value!r}") from None


#: The frame codecs each version allows (a chunk may also be raw, codec 0).
VERSION_CODECS = {VERSION: (Codec.RAW, Codec.ZVC, Codec.RLE), VERSION_TABLE: (Codec.ZVCE,)}


@dataclasses.dataclass(frozen=True)
class FrameHeader:
    elem_bits: int
    chunk_bytes: int
    codec: Codec
    raw_length: int
    #: The ZVCE code table (version-2 frames), else None.
    table: "zvce.CodeTable | None" = None

    @property
    def version(self) -> int:
        return VERSION_TABLE if self.codec == Codec.ZVCE else VERSION

    @property
    def size(self) -> int:
        """Bytes of the header, code table included."""
        return header_bytes(self.codec)

    def pack(self) -> bytes:
        head = _HEADER.pack(MAGIC, self.version, self.elem_bits, self.chunk_bytes.bit_length() - 1,
                            int(self.codec), self.raw_length)
        return head + (self.table.pack() if self.codec == Codec.ZVCE else b"")


def chunk_codecs(codec) -> tuple:
    """Codec ids a chunk of a ``codec`` frame may carry: raw, the frame's, and ZVC in a ZVCE frame."""
    codec = Codec.parse(codec)
    if codec == Codec.RAW:
        return (0,)
    if codec == Codec.ZVCE:
        return (0, int(Codec.ZVC), int(codec))
    return (0, int(codec))


def header_bytes(codec) -> int:
    """Frame header bytes for ``codec``: 16, or 32 with ZVCE's code table."""
    return HEADER_BYTES + (zvce.TABLE_BYTES if Codec.parse(codec) == Codec.ZVCE else 0)


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


def _table_for(x: np.ndarray, codec: Codec, table):
    """The code table a frame of ``x`` uses: ``table``, or the one built from ``x``."""
    if codec != Codec.ZVCE:
        if table is not None:
            raise ValueError(f"a code table goes with codec zvce only, not {codec.name.lower()}")
        return None
    if x.dtype.itemsize * 8 not in zvce.ELEM_BITS:
        raise ValueError(f"codec zvce needs 16- or 32-bit elements, not {x.dtype.itemsize * 8}-bit ones")
    if table is None:
        return zvce.build_table(x)
    if not isinstance(table, zvce.CodeTable):
        raise ValueError(f"table must be a golden.zvce.CodeTable, not {table!r}")
    return table


def _window_chunks(ws: np.ndarray, chunk_elems: int, raw: np.ndarray) -> np.ndarray:
    """Per-chunk sums of per-window sizes (windows never straddle chunks)."""
    return np.add.reduceat(ws, np.arange(0, ws.size, chunk_elems // zvc.WINDOW)) if ws.size else raw


def _candidates(x: np.ndarray, codec: Codec, chunk_elems: int, table, encode: bool):
    """The compressed forms a chunk may take, in order of preference:
    ``[(codec id, payload bytes of each chunk, encoded stream or None)]``.

    A ZVCE frame's chunks may also be ZVC (codec 1), so that a code table that
    fits a chunk badly never costs more than ZVC would.
    """
    eb = x.dtype.itemsize
    raw = _chunk_raw_bytes(x.size * eb, chunk_elems * eb)
    if codec == Codec.RLE:
        if encode:
            stream, comp = rle.encode_stream(x, chunk_elems)
            return [(codec, comp, stream)]
        return [(codec, rle.chunk_token_counts(x, chunk_elems) * (1 + eb), None)]
    if codec == Codec.RAW:
        return [(codec, raw, x.view(np.uint8) if encode else None)]
    out = []
    for c in ((Codec.ZVCE, Codec.ZVC) if codec == Codec.ZVCE else (Codec.ZVC,)):
        if encode:
            stream, ws = zvce.encode_stream(x, table) if c == Codec.ZVCE else zvc.encode_stream(x)
        else:
            stream, ws = None, zvce.window_sizes(x, table) if c == Codec.ZVCE else zvc.window_sizes(x)
        out.append((c, _window_chunks(ws, chunk_elems, raw), stream))
    return out


def _choose(cands, raw: np.ndarray):
    """Per chunk: ``(payload bytes, codec used, index of the candidate or -1 for raw)``.

    The smallest candidate (the first on a tie), if strictly smaller than raw.
    """
    sizes = np.stack([comp for _, comp, _ in cands])
    best = np.argmin(sizes, axis=0)
    comp = sizes[best, np.arange(raw.size)]
    use = comp < raw
    ids = np.array([int(c) for c, _, _ in cands])
    return np.where(use, comp, raw), np.where(use, ids[best], int(Codec.RAW)), np.where(use, best, -1)


def chunk_payload_sizes(data, codec="zvc", chunk_bytes=DEFAULT_CHUNK_BYTES, elem_bits=None,
                        table=None):
    """``(compressed payload bytes, raw bytes)`` of each chunk, without encoding.

    For ZVCE the compressed size is the smaller of the chunk's ZVCE and ZVC
    payloads (what a ZVCE frame stores when it beats raw).
    """
    codec = Codec.parse(codec)
    _check_chunk_bytes(chunk_bytes)
    x = as_elements(data, elem_bits)
    table = _table_for(x, codec, table)
    cands = _candidates(x, codec, chunk_bytes // x.dtype.itemsize, table, encode=False)
    return (np.min([comp for _, comp, _ in cands], axis=0),
            _chunk_raw_bytes(x.size * x.dtype.itemsize, chunk_bytes))


def frame_size(data, codec="zvc", chunk_bytes=DEFAULT_CHUNK_BYTES, elem_bits=None,
               table=None) -> int:
    """``len(encode_frame(...))`` computed from counts only."""
    comp, raw = chunk_payload_sizes(data, codec, chunk_bytes, elem_bits, table)
    used = np.where(comp < raw, comp, raw)
    return header_bytes(codec) + int((CHUNK_HEADER_BYTES + ((used + 3) & ~3)).sum())


def encode_frame(data, codec="zvc", chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                 elem_bits: int | None = None, table=None) -> bytes:
    """Encode ``data`` as one frame.

    Parameters
    ----------
    data : numpy.ndarray or bytes
        The tensor; arrays are taken bit for bit in C order.
    codec : {"zvc", "rle", "raw", "zvce"} or Codec
    chunk_bytes : int
        Raw bytes per chunk, a power of two from 512 to 65536.
    elem_bits : int, optional
        8, 16 or 32; defaults to the array's itemsize (required for bytes).
        ZVCE takes 16 and 32 only.
    table : golden.zvce.CodeTable, optional
        ZVCE only: the code table to use and carry in the header; defaults to
        :func:`golden.zvce.build_table` of ``data``.
    """
    codec = Codec.parse(codec)
    _check_chunk_bytes(chunk_bytes)
    x = as_elements(data, elem_bits)
    table = _table_for(x, codec, table)
    eb = x.dtype.itemsize
    raw_bytes = x.view(np.uint8)
    raw_sizes = _chunk_raw_bytes(raw_bytes.size, chunk_bytes)
    cands = _candidates(x, codec, chunk_bytes // eb, table, encode=True)
    used, used_codec, which = _choose(cands, raw_sizes)
    padded = (used + 3) & ~3
    head = FrameHeader(eb * 8, chunk_bytes, codec, raw_bytes.size, table).pack()
    out = np.zeros(len(head) + int((CHUNK_HEADER_BYTES + padded).sum()), np.uint8)
    out[:len(head)] = np.frombuffer(head, np.uint8)
    starts = len(head) + np.cumsum(CHUNK_HEADER_BYTES + padded) - (CHUNK_HEADER_BYTES + padded)
    hdr = used | (used_codec << CHUNK_LENGTH_BITS)
    out[starts[:, None] + np.arange(4)] = hdr.astype("<u4")[:, None].view(np.uint8)
    offs = [np.cumsum(comp) - comp for _, comp, _ in cands]
    for c, (s, u, k) in enumerate(zip((starts + 4).tolist(), used.tolist(), which.tolist())):
        if k < 0:
            out[s: s + u] = raw_bytes[c * chunk_bytes: c * chunk_bytes + u]
        else:
            o = int(offs[k][c])
            out[s: s + u] = cands[k][2][o: o + u]
    return out.tobytes()


def _parse_header(b: np.ndarray) -> FrameHeader:
    n = b.size
    got = b[:4].tobytes()
    if got != MAGIC[: len(got)]:
        raise FormatError(0, ErrorCode.BAD_MAGIC, f"magic is {got!r}, expected {MAGIC!r}")
    if n < HEADER_BYTES:
        raise FormatError(n, ErrorCode.TRUNCATED, f"input ends inside the {HEADER_BYTES}-byte frame header")
    _, version, elem_bits, log2c, codec, raw_length = _HEADER.unpack(b[:HEADER_BYTES].tobytes())
    if version not in VERSION_CODECS:
        raise FormatError(4, ErrorCode.BAD_VERSION,
                          f"frame version {version}, this decoder reads {VERSION} and {VERSION_TABLE}")
    if elem_bits not in ELEM_BITS:
        raise FormatError(5, ErrorCode.BAD_PARAMS, f"element width {elem_bits} bits, expected 8, 16 or 32")
    if not 9 <= log2c <= 16:
        raise FormatError(6, ErrorCode.BAD_PARAMS, f"log2 chunk size {log2c}, expected 9..16")
    allowed = VERSION_CODECS[version]
    if codec not in allowed:
        raise FormatError(7, ErrorCode.BAD_PARAMS,
                          f"codec id {codec}; a version-{version} frame takes "
                          f"{', '.join(str(int(c)) for c in allowed)}")
    if codec == Codec.ZVCE and elem_bits not in zvce.ELEM_BITS:
        raise FormatError(7, ErrorCode.BAD_PARAMS,
                          f"codec zvce with {elem_bits}-bit elements; it takes 16 or 32")
    if raw_length % (elem_bits // 8):
        raise FormatError(8, ErrorCode.BAD_PARAMS,
                          f"raw length {raw_length} is not a multiple of the {elem_bits // 8}-byte element")
    table = None
    if version == VERSION_TABLE:
        end = HEADER_BYTES + zvce.TABLE_BYTES
        if n < end:
            raise FormatError(n, ErrorCode.TRUNCATED, f"input ends inside the {end}-byte frame header "
                              f"(16 bytes and the code table)")
        table = zvce.CodeTable.unpack(b[HEADER_BYTES:end].tobytes(), HEADER_BYTES)
    return FrameHeader(elem_bits, 1 << log2c, Codec(codec), raw_length, table)


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
    off = h.size
    mv = memoryview(b)
    allowed = chunk_codecs(h.codec)
    # One step per chunk; every step consumes at least 4 bytes of input, so a
    # header claiming 2^63 bytes costs at most len(buf) / 4 steps.
    for c in range(nch):
        if off + 4 > n:
            walk_err = FormatError(n, ErrorCode.TRUNCATED, f"input ends inside the header of chunk {c}")
            break
        word = int.from_bytes(mv[off: off + 4], "little")
        plen, cc = word & ((1 << CHUNK_LENGTH_BITS) - 1), word >> CHUNK_LENGTH_BITS
        raw_c = h.chunk_bytes if c < nch - 1 else last_raw
        if cc not in allowed:
            walk_err = FormatError(off + 3, ErrorCode.BAD_CHUNK_CODEC,
                                   f"chunk {c} codec id {cc}; a {h.codec.name.lower()} frame allows "
                                   f"{', '.join(map(str, allowed))}")
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
    decoders = ((Codec.ZVC, zvc.decode_chunks), (Codec.RLE, rle.decode_chunks),
                (Codec.ZVCE, functools.partial(zvce.decode_chunks, table=h.table)))
    for codec, decode_chunks in decoders:
        sel = np.flatnonzero(codecs == codec)
        if sel.size:
            elems, err = decode_chunks(b, starts[sel], lengths[sel], counts[sel], h.elem_bits)
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
