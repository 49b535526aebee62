"""Zero-value compression (ZVC), the paper's hardware codec.

Format (normative text in ``docs/FORMAT.md``): the elements are cut into windows
of 32.  Each window is a little-endian 32-bit mask (bit *i* set = element *i* is
nonzero) followed by the window's nonzero elements in index order, each
``elem_bits`` wide, little-endian.  A final partial window has 0 mask bits for
the missing elements.  Windows are packed back to back with no padding.

Everything here is vectorized: encoding is one boolean selection over a
``(windows, mask + 32 elements)`` matrix, and decoding walks all chunks in
lock-step, one window index at a time, so the Python loop runs at most
``chunk elements / 32`` times whatever the tensor size.
"""
from __future__ import annotations

import numpy as np

from .elements import as_elements, decode_payload, elem_dtype
from .errors import ErrorCode, FormatError

__all__ = ["WINDOW", "encode", "decode", "encoded_size", "window_sizes",
           "encode_stream", "decode_chunks"]

#: Elements per ZVC window (one 32-bit mask).
WINDOW = 32


def _padded_windows(x: np.ndarray) -> np.ndarray:
    nwin = -(-x.size // WINDOW)
    if x.size == nwin * WINDOW:
        return x.reshape(nwin, WINDOW)
    xp = np.zeros(nwin * WINDOW, dtype=x.dtype)
    xp[: x.size] = x
    return xp.reshape(nwin, WINDOW)


def window_sizes(x: np.ndarray) -> np.ndarray:
    """Encoded bytes of each window of element words ``x`` (mask + nonzeros)."""
    win = _padded_windows(x)
    return 4 + np.count_nonzero(win, axis=1) * x.dtype.itemsize


def encode_stream(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ZVC-encode element words ``x``; return ``(bytes as uint8, size of each window)``.

    Windows never straddle a chunk as long as chunks hold a multiple of 32
    elements, so one call encodes a whole tensor and each chunk's payload is a
    contiguous slice of the result.
    """
    if x.size == 0:
        return np.zeros(0, np.uint8), np.zeros(0, np.int64)
    win = _padded_windows(x)
    nz = win != 0
    masks = np.packbits(nz, axis=1, bitorder="little")          # (nwin, 4) LE mask bytes
    k = 4 // x.dtype.itemsize                                    # mask width in elements
    rows = np.empty((win.shape[0], k + WINDOW), dtype=x.dtype)
    rows[:, :k] = masks.view(x.dtype)
    rows[:, k:] = win
    keep = np.empty(rows.shape, dtype=bool)
    keep[:, :k] = True
    keep[:, k:] = nz
    sizes = 4 + np.count_nonzero(nz, axis=1) * x.dtype.itemsize
    return rows[keep].view(np.uint8), sizes


def encode(data, elem_bits: int | None = None) -> bytes:
    """ZVC encoding of ``data`` as one chunk (no frame, no padding)."""
    stream, _ = encode_stream(as_elements(data, elem_bits))
    return stream.tobytes()


def encoded_size(data, elem_bits: int | None = None) -> int:
    """``len(encode(data))`` computed from counts only."""
    x = as_elements(data, elem_bits)
    nwin = -(-x.size // WINDOW)
    return 4 * nwin + int(np.count_nonzero(x)) * x.dtype.itemsize


class _Verdicts:
    """The first error of each of ``n`` chunks decoded in lock-step, and which are still alive."""

    def __init__(self, n: int):
        self.alive = np.ones(n, bool)
        self.offset = np.full(n, np.iinfo(np.int64).max, np.int64)
        self.why: dict[int, tuple[ErrorCode, str]] = {}

    def fail(self, idx, offsets, code, why):
        """Chunks ``idx`` fail at ``offsets``; ``why(chunk, offset)`` is the message."""
        for c, off in zip(idx.tolist(), np.broadcast_to(offsets, idx.shape).tolist()):
            self.offset[c] = off
            self.why[c] = (code, why(c, off))
        self.alive[idx] = False

    def reject(self, bad, idx, offsets, code, why, *arrays):
        """Fail the chunks ``idx[bad]`` at ``offsets[bad]``; return ``idx`` and ``arrays`` without them."""
        if not bad.any():
            return (idx, *arrays)
        self.fail(idx[bad], offsets[bad], code, why)
        keep = ~bad
        return (idx[keep], *(a[keep] for a in arrays))

    def finish(self, starts, lengths, pos):
        """After the last window: bytes left in a live payload (``pos`` of its ``lengths``
        read) are ``LENGTH_MISMATCH`` at the first of them; then :meth:`error`."""
        left = np.flatnonzero(self.alive & (pos != lengths))
        if left.size:
            self.fail(left, (starts + pos)[left], ErrorCode.LENGTH_MISMATCH,
                      lambda c, o: f"{int(lengths[c] - pos[c])} bytes left in the chunk payload "
                                   f"after its last window")
        return self.error()

    def error(self):
        """The error found earliest in the buffer, or None."""
        if self.alive.all():
            return None
        c = int(np.argmin(self.offset))
        code, msg = self.why[c]
        return FormatError(int(self.offset[c]), code, msg)


def _window_masks(v: _Verdicts, buf, idx, p, s, ln, counts, j):
    """Window ``j``'s mask of chunks ``idx`` (payload at ``s``, ``p`` bytes read of ``ln``).

    Checks that the mask is there (``LENGTH_MISMATCH`` at the payload end) and
    marks no element past the chunk's count (``BAD_MASK`` at the mask); returns
    ``idx, p, s, ln, mask`` of the chunks that pass.
    """
    idx, p, s, ln = v.reject(p + 4 > ln, idx, s + ln, ErrorCode.LENGTH_MISMATCH,
                             lambda c, o: f"chunk payload ends before the mask of window {j}",
                             p, s, ln)
    m = buf[(s + p)[:, None] + np.arange(4)].view("<u4")[:, 0]
    valid = np.minimum(WINDOW, counts[idx] - WINDOW * j)
    beyond = (valid < WINDOW) & ((m.astype(np.uint64) >> valid.astype(np.uint64)) != 0)
    return v.reject(beyond, idx, s + p, ErrorCode.BAD_MASK,
                    lambda c, o: f"mask of window {j} marks elements past the chunk's "
                                 f"{int(counts[c])} elements", p, s, ln, m)


class _LockStep:
    """Payloads of one buffer walked window by window in lock-step (ZVC and ZVCE).

    Holds what every window-structured decoder keeps per chunk: the bytes read
    (``pos``), each window's mask (``masks``, ``(chunks, windows)``), and the
    :class:`_Verdicts`.  :meth:`windows` yields, for window ``j``, the chunks
    still alive that have it and its mask, checked by :func:`_window_masks`;
    the decoder checks the rest of the window, rejects through ``v`` and
    records the mask and the new ``pos`` of the chunks that pass.
    """

    def __init__(self, buf, starts, lengths, counts):
        self.buf = buf
        self.starts = np.asarray(starts, np.int64)
        self.lengths = np.asarray(lengths, np.int64)
        self.counts = np.asarray(counts, np.int64)
        self.nch = self.starts.size
        self.nwin = -(-self.counts // WINDOW)
        self.maxw = int(self.nwin.max()) if self.nch else 0
        self.pos = np.zeros(self.nch, np.int64)
        self.masks = np.zeros((self.nch, self.maxw), np.uint32)
        self.v = _Verdicts(self.nch)

    def windows(self):
        """``(j, idx, p, s, ln, mask)`` per window index ``j`` (see :func:`_window_masks`)."""
        for j in range(self.maxw):
            idx = np.flatnonzero(self.v.alive & (self.nwin > j))
            if idx.size == 0:
                return
            yield (j, *_window_masks(self.v, self.buf, idx, self.pos[idx], self.starts[idx],
                                     self.lengths[idx], self.counts, j))

    def finish(self):
        """The earliest error (bytes left after a payload's last window included), or None."""
        return self.v.finish(self.starts, self.lengths, self.pos)

    def present(self):
        """``(chunks, windows)`` booleans: the windows each chunk has."""
        return np.arange(self.maxw)[None, :] < self.nwin[:, None]


def _expand(masks: np.ndarray, items: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Scatter the nonzero ``items`` (in stream order) to where the window ``masks`` say.

    ``masks`` is ``(chunks, windows)``, zero past each chunk's windows; the
    result is every chunk's ``counts`` elements, concatenated.
    """
    nwin = -(-counts // WINDOW)
    wsel = np.arange(masks.shape[1])[None, :] < nwin[:, None]
    allmasks = np.ascontiguousarray(masks[wsel])
    bits = np.unpackbits(allmasks.view(np.uint8).reshape(-1, 4), axis=1,
                         bitorder="little").astype(bool)
    elems = np.zeros((allmasks.size, WINDOW), items.dtype)
    elems[bits] = items
    if (counts % WINDOW == 0).all():
        return elems.reshape(-1)
    win_index = (np.arange(masks.shape[1])[None, :] * np.ones((counts.size, 1), np.int64))[wsel]
    valid = np.minimum(WINDOW, np.repeat(counts, nwin) - WINDOW * win_index)
    return elems[np.arange(WINDOW)[None, :] < valid[:, None]]


def decode_chunks(buf: np.ndarray, starts, lengths, counts, elem_bits: int):
    """Decode several ZVC payloads of one buffer in lock-step.

    Parameters
    ----------
    buf : numpy.ndarray of uint8
        The buffer holding the payloads.
    starts, lengths : array_like of int
        Byte offset and length of each payload inside ``buf``.
    counts : array_like of int
        Number of elements each payload must decode to (>= 1).
    elem_bits : int
        Element width.

    Returns
    -------
    (numpy.ndarray or None, FormatError or None)
        The elements of all payloads, concatenated in order, or the error found
        earliest in the buffer.
    """
    dt = elem_dtype(elem_bits)
    eb = dt.itemsize
    ls = _LockStep(buf, starts, lengths, counts)
    for j, idx, p, s, ln, m in ls.windows():
        newp = p + 4 + np.bitwise_count(m).astype(np.int64) * eb
        idx, newp, m = ls.v.reject(newp > ln, idx, s + ln, ErrorCode.LENGTH_MISMATCH,
                                   lambda c, o: f"chunk payload ends inside window {j}", newp, m)
        ls.masks[idx, j] = m
        ls.pos[idx] = newp
    if (err := ls.finish()) is not None:
        return None, err
    starts, lengths, counts, masks = ls.starts, ls.lengths, ls.counts, ls.masks

    # All payloads are well formed.  Drop the mask items from the payload
    # stream, then scatter the remaining (nonzero) items to where the mask
    # bits say, in a zeroed window matrix.
    k = 4 // eb
    allmasks = masks[ls.present()]
    if ls.nch == 1:
        items = buf[starts[0]: starts[0] + lengths[0]].view(dt)
    else:
        items = np.concatenate([buf[s: s + ln] for s, ln in zip(starts.tolist(), lengths.tolist())]).view(dt)
    pc = np.bitwise_count(allmasks).astype(np.int64)
    mask_at = np.arange(allmasks.size, dtype=np.int64) * k + np.cumsum(pc) - pc
    is_data = np.ones(items.size, bool)
    is_data[(mask_at[:, None] + np.arange(k)).reshape(-1)] = False
    return _expand(masks, items[is_data], counts), None


def decode(payload, count: int, elem_bits: int) -> np.ndarray:
    """Decode one ZVC payload of ``count`` elements.

    Raises
    ------
    FormatError
        The payload is shorter or longer than its masks say, or a mask marks
        elements past ``count``; the offset is relative to ``payload``.
    """
    return decode_payload(decode_chunks, payload, count, elem_bits)
