"""ZVC with an entropy-coded top byte (ZVCE), codec id 3.

Format (normative text and worked examples in ``docs/FORMAT.md``): the
elements are cut into windows of 32, as in ZVC.  A window is

* the 32-bit little-endian **mask** (bit *i* set = element *i* is nonzero);
* the **code field**, a little-endian bit string padded with zero bits to a
  whole byte: first a 2-bit **head** per nonzero element (index order), then a
  **tail** per nonzero element whose width the head gives: ``widths[head]``
  bits for heads 0, 1, 2 (an index into that class of the code table) and 8
  bits for head 3 (the top byte itself, a *literal*);
* the **low bytes**: the ``E/8 - 1`` low-order bytes of every nonzero element,
  in index order.

A nonzero element's top byte (sign and high exponent bits of a float) is
thereby coded in ``2 + widths[c]`` bits when the code table holds it and in 10
bits when it does not; the rest of the element is kept as is.  Heads have a
fixed width and come before every tail, so a decoder finds every code of a
window with prefix sums, never by decoding one code after another.

The code table (:class:`CodeTable`, 16 bytes in the frame header) has three
classes of ``2**w0``, ``2**w1`` and ``2**w2`` symbols (each width 0..3, at most
15 symbols in all).  Elements of 16 or 32 bits only.

Encoding and decoding are vectorized like :mod:`golden.zvc`: encoding works on
a ``(windows, bits)`` matrix, decoding walks all chunks in lock-step, one window
index at a time, then decodes every code of every window at once.
"""
from __future__ import annotations

import dataclasses
import functools
import itertools

import numpy as np

from .elements import as_elements, decode_payload, elem_dtype
from .errors import ErrorCode, FormatError
from .zvc import WINDOW, _expand, _LockStep, _padded_windows

__all__ = ["WINDOW", "ELEM_BITS", "LITERAL", "TABLE_BYTES", "MAX_SYMBOLS", "MAX_FIELD_BITS", "WIDTH_TRIPLES",
           "CodeTable", "DEFAULT_TABLE", "build_table", "top_byte_counts", "encode", "decode",
           "encoded_size", "window_sizes", "encode_stream", "decode_chunks"]

#: Element widths ZVCE supports (an 8-bit element has no low bytes: use ZVC).
ELEM_BITS = (16, 32)
#: The head of a literal: its tail is the top byte itself, 8 bits.
LITERAL = 3
#: Bytes of a packed code table (frame header extension).
TABLE_BYTES = 16
#: Most symbols a code table holds (the 15 bytes after the widths byte).
MAX_SYMBOLS = TABLE_BYTES - 1
#: Largest code field of a window: 32 heads of 2 bits and 32 literals of 8 bits.
MAX_FIELD_BITS = WINDOW * (2 + 8)
#: The width triples a table may have: each 0..3, at most MAX_SYMBOLS symbols.
WIDTH_TRIPLES = tuple(w for w in itertools.product(range(4), repeat=3)
                 if sum(1 << x for x in w) <= MAX_SYMBOLS)


def _check_elem_bits(elem_bits):
    if elem_bits not in ELEM_BITS:
        raise ValueError(f"zvce codes 16- or 32-bit elements, not {elem_bits!r}-bit ones "
                         "(8-bit elements have no low bytes: use zvc)")


@dataclasses.dataclass(frozen=True)
class CodeTable:
    """The code of the top byte: three classes of symbols, the rest literals.

    Parameters
    ----------
    widths : tuple of 3 ints
        Tail width of heads 0, 1 and 2, each 0..3: class *c* holds
        ``2**widths[c]`` symbols.
    symbols : tuple of ints
        The byte values of class 0, then class 1, then class 2
        (``sum(2**w)`` <= 15 bytes).  A byte listed twice is coded by its first
        entry; a byte not listed is coded as a literal.
    """

    widths: tuple
    symbols: tuple

    def __post_init__(self):
        w = tuple(int(v) for v in self.widths)
        s = tuple(int(v) for v in self.symbols)
        if len(w) != 3 or any(not 0 <= v <= 3 for v in w):
            raise ValueError(f"widths must be three ints 0..3, not {self.widths!r}")
        if sum(1 << v for v in w) > MAX_SYMBOLS:
            raise ValueError(f"widths {w} give {sum(1 << v for v in w)} symbols; "
                             f"a table holds at most {MAX_SYMBOLS}")
        if len(s) != sum(1 << v for v in w):
            raise ValueError(f"widths {w} need {sum(1 << v for v in w)} symbols, not {len(s)}")
        if any(not 0 <= v <= 255 for v in s):
            raise ValueError(f"symbols must be bytes 0..255, not {self.symbols!r}")
        object.__setattr__(self, "widths", w)
        object.__setattr__(self, "symbols", s)

    def pack(self) -> bytes:
        """The 16-byte table: ``w0 | w1 << 2 | w2 << 4``, the symbols, zero bytes."""
        w0, w1, w2 = self.widths
        return bytes([w0 | w1 << 2 | w2 << 4, *self.symbols]).ljust(TABLE_BYTES, b"\0")

    @classmethod
    def unpack(cls, raw, offset: int = 0) -> "CodeTable":
        """Parse a packed table; ``offset`` is where ``raw`` starts in the frame.

        Raises
        ------
        FormatError
            ``BAD_PARAMS`` at the widths byte (bits 6-7 set, or more than 15
            symbols) or at the first nonzero byte after the symbols.
        """
        raw = bytes(raw)
        if len(raw) != TABLE_BYTES:
            raise ValueError(f"a code table is {TABLE_BYTES} bytes, not {len(raw)}")
        wb = raw[0]
        w = (wb & 3, wb >> 2 & 3, wb >> 4 & 3)
        n = sum(1 << v for v in w)
        if wb >> 6 or n > MAX_SYMBOLS:
            raise FormatError(offset, ErrorCode.BAD_PARAMS,
                              f"code table widths byte {wb:#04x}: bits 6-7 must be 0 and "
                              f"2**w0 + 2**w1 + 2**w2 at most {MAX_SYMBOLS} (here {n})")
        for i in range(1 + n, TABLE_BYTES):
            if raw[i]:
                raise FormatError(offset + i, ErrorCode.BAD_PARAMS,
                                  f"code table byte {i} is {raw[i]:#04x}; bytes after the "
                                  f"{n} symbols must be 0")
        return cls(w, tuple(raw[1:1 + n]))

    @functools.cached_property
    def _luts(self):
        head = np.full(256, LITERAL, np.uint8)
        tail = np.arange(256, dtype=np.uint16).astype(np.uint8)
        width = np.full(256, 8, np.uint8)
        pos = 0
        for c, w in enumerate(self.widths):
            for i, s in enumerate(self.symbols[pos: pos + (1 << w)]):
                if head[s] == LITERAL:          # first entry wins
                    head[s], tail[s], width[s] = c, i, w
            pos += 1 << w
        return head, tail, width

    def code_bits(self) -> np.ndarray:
        """Code length (head + tail) of every byte value, 256 ints."""
        return self._luts[2].astype(np.int64) + 2

    def head_widths(self) -> np.ndarray:
        """Tail width of heads 0..3 (the literal's is 8)."""
        return np.array([*self.widths, 8], np.int64)

    def class_symbols(self) -> np.ndarray:
        """Symbol of (head, tail) for heads 0..2, tails 0..7 (8 x 3 lookup; unused = 0)."""
        out = np.zeros((3, 8), np.uint8)
        pos = 0
        for c, w in enumerate(self.widths):
            out[c, : 1 << w] = self.symbols[pos: pos + (1 << w)]
            pos += 1 << w
        return out


#: A table for unit-scale float activations when no histogram is at hand:
#: 2-bit codes for top bytes 0x3E, 0x3F ([2^-3, 2) in fp32 and bf16),
#: 4-bit codes for 0x3D, 0x40, 0x3C, 0x3B ([2^-9, 2^-3) and [2, 8)).
DEFAULT_TABLE = CodeTable((0, 0, 2), (0x3E, 0x3F, 0x3D, 0x40, 0x3C, 0x3B))


def top_byte_counts(data, elem_bits: int | None = None) -> np.ndarray:
    """How often each value 0..255 is the top byte of a nonzero element (256 counts)."""
    x = as_elements(data, elem_bits)
    _check_elem_bits(x.dtype.itemsize * 8)
    nz = x[x != 0]
    return np.bincount((nz >> (x.dtype.itemsize * 8 - 8)).astype(np.uint8), minlength=256)


def build_table(data=None, elem_bits: int | None = None, counts=None) -> CodeTable:
    """The table that minimises the code bits of ``data`` (or of top-byte ``counts``).

    Bytes are ranked by count (ties: smaller byte first); every width triple
    allowed is tried with the most frequent bytes in the narrowest classes, and
    the first triple (in lexicographic order) with the fewest bits wins, so the
    result is deterministic.  This is what a driver does with the previous
    iteration's activations of the same layer.
    """
    if counts is None:
        counts = top_byte_counts(data, elem_bits)
    counts = np.asarray(counts, np.int64)
    if counts.shape != (256,):
        raise ValueError(f"counts must hold 256 values, not shape {counts.shape}")
    rank = np.lexsort((np.arange(256), -counts))
    cum = np.concatenate([[0], np.cumsum(counts[rank])])
    best = None
    for w in WIDTH_TRIPLES:
        order = sorted(w)
        bits, pos = 0, 0
        for v in order:
            bits += int(cum[pos + (1 << v)] - cum[pos]) * (2 + v)
            pos += 1 << v
        bits += int(cum[-1] - cum[pos]) * (2 + 8)
        if best is None or bits < best[0]:
            best = (bits, tuple(order))
    widths = best[1]
    return CodeTable(widths, tuple(int(v) for v in rank[: sum(1 << v for v in widths)]))


def _codes(win: np.ndarray, table: CodeTable):
    """Per element of a window matrix: nonzero flag, head, tail, tail width."""
    head, tail, width = table._luts
    nz = win != 0
    top = (win >> (win.dtype.itemsize * 8 - 8)).astype(np.uint8)
    return (nz, np.where(nz, head[top], 0).astype(np.int64), np.where(nz, tail[top], 0).astype(np.int64),
            np.where(nz, width[top], 0).astype(np.int64))


def window_sizes(x: np.ndarray, table: CodeTable) -> np.ndarray:
    """Encoded bytes of each window of element words ``x`` (counts only)."""
    _check_elem_bits(x.dtype.itemsize * 8)
    if x.size == 0:
        return np.zeros(0, np.int64)
    out = np.empty(-(-x.size // WINDOW), np.int64)
    step = 1 << 16
    for a in range(0, x.size, step * WINDOW):
        win = _padded_windows(x[a: a + step * WINDOW])
        nz, _, _, w = _codes(win, table)
        k = np.count_nonzero(nz, axis=1)
        bits = 2 * k + w.sum(axis=1, dtype=np.int64)
        out[a // WINDOW: a // WINDOW + win.shape[0]] = 4 + (bits + 7) // 8 + k * (x.dtype.itemsize - 1)
    return out


def _encode_windows(win: np.ndarray, table: CodeTable) -> tuple[np.ndarray, np.ndarray]:
    eb = win.dtype.itemsize
    nwin = win.shape[0]
    nz, h, t, w = _codes(win, table)
    k = np.count_nonzero(nz, axis=1)
    rank = np.cumsum(nz, axis=1) - 1                     # index among the window's nonzeros
    toff = 2 * k[:, None] + np.cumsum(w, axis=1) - w     # bit offset of each tail
    nbits = 2 * k + w.sum(axis=1, dtype=np.int64)
    fbytes = (nbits + 7) // 8
    bits = np.zeros((nwin, MAX_FIELD_BITS), np.uint8)
    r, c = np.nonzero(nz)
    bits[r, 2 * rank[r, c]] = h[r, c] & 1
    bits[r, 2 * rank[r, c] + 1] = h[r, c] >> 1
    for b in range(8):
        sel = w[r, c] > b
        bits[r[sel], toff[r[sel], c[sel]] + b] = (t[r[sel], c[sel]] >> b) & 1
    field = np.packbits(bits, axis=1, bitorder="little")                 # (nwin, 40)
    masks = np.packbits(nz, axis=1, bitorder="little")                   # (nwin, 4)
    low = win.view(np.uint8).reshape(nwin, WINDOW, eb)[:, :, : eb - 1].reshape(nwin, -1)
    rows = np.concatenate([masks, field, low], axis=1)
    keep = np.concatenate([np.ones((nwin, 4), bool),
                           np.arange(field.shape[1])[None, :] < fbytes[:, None],
                           np.repeat(nz, eb - 1, axis=1)], axis=1)
    return rows[keep], 4 + fbytes + k * (eb - 1)


def encode_stream(x: np.ndarray, table: CodeTable) -> tuple[np.ndarray, np.ndarray]:
    """ZVCE-encode element words ``x``; return ``(bytes as uint8, size of each window)``.

    As with ZVC, windows never straddle a chunk, so one call encodes a whole
    tensor and each chunk's payload is a contiguous slice of the result.
    """
    _check_elem_bits(x.dtype.itemsize * 8)
    if x.size == 0:
        return np.zeros(0, np.uint8), np.zeros(0, np.int64)
    parts, sizes = [], []
    step = 1 << 14                                       # windows per block: bounded memory
    for a in range(0, x.size, step * WINDOW):
        s, ws = _encode_windows(_padded_windows(x[a: a + step * WINDOW]), table)
        parts.append(s)
        sizes.append(ws)
    return np.concatenate(parts), np.concatenate(sizes)


def encode(data, table: CodeTable | None = None, elem_bits: int | None = None) -> bytes:
    """ZVCE encoding of ``data`` as one chunk (no frame, no padding, no table).

    ``table`` defaults to :func:`build_table` of ``data``.
    """
    x = as_elements(data, elem_bits)
    table = build_table(x) if table is None else table
    stream, _ = encode_stream(x, table)
    return stream.tobytes()


def encoded_size(data, table: CodeTable | None = None, elem_bits: int | None = None) -> int:
    """``len(encode(data, table))`` computed from counts only."""
    x = as_elements(data, elem_bits)
    table = build_table(x) if table is None else table
    return int(window_sizes(x, table).sum())


def decode_chunks(buf: np.ndarray, starts, lengths, counts, elem_bits: int, table: CodeTable):
    """Decode several ZVCE payloads of one buffer: the contract of :func:`golden.zvc.decode_chunks`.

    Returns the concatenated elements, or ``(None, error)`` for the error found
    earliest in ``buf``.  Within a window the checks run in stream order: the
    mask (length, ``BAD_MASK``), the heads, the whole code field, its padding
    bits (``BAD_PADDING`` at the field's last byte), the low bytes.
    """
    _check_elem_bits(elem_bits)
    dt = elem_dtype(elem_bits)
    eb = dt.itemsize
    hw = table.head_widths()
    ls = _LockStep(buf, starts, lengths, counts)
    v = ls.v
    fstart = np.zeros((ls.nch, ls.maxw), np.int64)
    fbytes = np.zeros((ls.nch, ls.maxw), np.int64)
    last = max(buf.size - 1, 0)
    lanes8, slots = np.arange(8), np.arange(WINDOW)
    for j, idx, p, s, ln, m in ls.windows():
        k = np.bitwise_count(m).astype(np.int64)
        f0 = s + p + 4                                   # the code field, in the buffer
        idx, s, ln, k, f0, m = v.reject(f0 + (2 * k + 7) // 8 > s + ln, idx, s + ln,
                                        ErrorCode.LENGTH_MISMATCH,
                                        lambda c, o: f"chunk payload ends inside the heads of window {j}",
                                        s, ln, k, f0, m)
        # The heads: at most 64 bits; bytes past them (or past the buffer) read as 0.
        hb = buf[np.minimum(f0[:, None] + lanes8, last)].astype(np.uint64)
        hb[lanes8[None, :] >= ((2 * k + 7) // 8)[:, None]] = 0
        heads = (hb << (8 * lanes8).astype(np.uint64)).sum(axis=1, dtype=np.uint64)
        hv = ((heads[:, None] >> (2 * slots).astype(np.uint64)) & np.uint64(3)).astype(np.int64)
        nbits = 2 * k + np.where(slots[None, :] < k[:, None], hw[hv], 0).sum(axis=1)
        fb = (nbits + 7) // 8
        idx, s, ln, k, f0, nbits, fb, m = v.reject(
            f0 + fb > s + ln, idx, s + ln, ErrorCode.LENGTH_MISMATCH,
            lambda c, o: f"chunk payload ends inside the code field of window {j}",
            s, ln, k, f0, nbits, fb, m)
        lastb = buf[np.minimum(f0 + fb - 1, last)].astype(np.int64)
        idx, s, ln, k, f0, fb, m = v.reject(
            (nbits % 8 != 0) & ((lastb >> (nbits % 8)) != 0), idx, f0 + fb - 1, ErrorCode.BAD_PADDING,
            lambda c, o: f"padding bits of the code field of window {j} are not 0",
            s, ln, k, f0, fb, m)
        newp = f0 + fb + k * (eb - 1) - s
        idx, f0, fb, m, newp = v.reject(newp > ln, idx, s + ln, ErrorCode.LENGTH_MISMATCH,
                                        lambda c, o: f"chunk payload ends inside the low bytes of window {j}",
                                        f0, fb, m, newp)
        ls.masks[idx, j] = m
        fstart[idx, j] = f0
        fbytes[idx, j] = fb
        ls.pos[idx] = newp
    if (err := ls.finish()) is not None:
        return None, err

    # Every payload is well formed: decode all codes of all windows at once.
    masks, counts = ls.masks, ls.counts
    wsel = ls.present()
    fs, fbs = fstart[wsel], fbytes[wsel]
    k = np.bitwise_count(masks[wsel]).astype(np.int64)
    nw, ne = k.size, int(k.sum())
    fbase = np.cumsum(fbs) - fbs                          # field start in the gathered bytes
    within = np.arange(int(fbs.sum()), dtype=np.int64) - np.repeat(fbase, fbs)
    fbits = np.concatenate([np.unpackbits(buf[np.repeat(fs, fbs) + within], bitorder="little"),
                            np.zeros(8, np.uint8)]).astype(np.int64)
    win_of = np.repeat(np.arange(nw), k)
    first = np.repeat(np.cumsum(k) - k, k)
    j = np.arange(ne, dtype=np.int64) - first            # index among the window's nonzeros
    b0 = 8 * fbase[win_of]
    head = fbits[b0 + 2 * j] | fbits[b0 + 2 * j + 1] << 1
    wid = hw[head]
    cs = np.cumsum(wid) - wid
    toff = b0 + 2 * k[win_of] + cs - cs[first]
    tail = np.zeros(ne, np.int64)
    for b in range(8):
        tail |= np.where(wid > b, fbits[toff + b], 0) << b
    top = np.where(head == LITERAL, tail,
                   table.class_symbols()[np.minimum(head, 2), np.minimum(tail, 7)])
    item = np.empty((ne, eb), np.uint8)
    item[:, : eb - 1] = buf[((fs + fbs)[win_of] + j * (eb - 1))[:, None] + np.arange(eb - 1)]
    item[:, eb - 1] = top
    return _expand(masks, item.view(dt)[:, 0], counts), None


def decode(payload, count: int, elem_bits: int, table: CodeTable) -> np.ndarray:
    """Decode one ZVCE payload of ``count`` elements coded with ``table``.

    Raises
    ------
    FormatError
        The payload is shorter or longer than its masks and codes say, a mask
        marks elements past ``count``, or a code field's padding bits are not
        0; the offset is relative to ``payload``.
    """
    _check_elem_bits(elem_bits)
    return decode_payload(functools.partial(decode_chunks, table=table), payload, count, elem_bits)
