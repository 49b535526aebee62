"""Zero-run run-length encoding (RLE), the paper's other hardware candidate.

A payload is a sequence of tokens ``(r, v)``: one byte ``r`` (0..255) and one
little-endian element ``v``, meaning "``r`` zeros, then ``v``".  Encoding is
deterministic (normative text in ``docs/FORMAT.md``):

* ``z`` zeros before a nonzero ``v`` become ``z // 256`` filler tokens
  ``(255, 0)`` (256 zeros each) and then ``(z % 256, v)``;
* ``t >= 1`` trailing zeros of a chunk are treated as ``t - 1`` zeros followed by
  the value 0: ``(t - 1) // 256`` fillers and then ``((t - 1) % 256, 0)``.

A decoder accepts any token sequence whose elements add up to exactly the
chunk's element count.
"""
from __future__ import annotations

import numpy as np

from .elements import as_elements, decode_payload, elem_dtype
from .errors import ErrorCode, FormatError

__all__ = ["MAX_RUN", "token_bytes", "encode", "decode", "encoded_size",
           "encode_stream", "chunk_token_counts", "decode_chunks"]

#: Longest zero run one token can carry.
MAX_RUN = 255


def token_bytes(elem_bits: int) -> int:
    """Bytes per token: one run byte plus one element."""
    return 1 + elem_dtype(elem_bits).itemsize


def _events(x: np.ndarray, chunk_elems: int):
    """Positions that end a token group: nonzeros and the last element of each chunk.

    The last element of every chunk is always an event, so the previous event
    of any event lies in the same chunk or is the previous chunk's last element:
    the zero run before an event is simply ``pos - prev - 1``.
    """
    ev = x != 0
    ev[chunk_elems - 1:: chunk_elems] = True
    ev[-1] = True
    pos = np.flatnonzero(ev)
    zeros = np.diff(pos, prepend=-1) - 1
    return pos, zeros


def _per_chunk(n, chunk_elems, pos, tokens_through):
    """Tokens of each chunk, from the running token count at every event.

    The last element of every chunk is an event, so the running count at those
    events, differenced, is the per-chunk count.
    """
    ends = np.minimum(np.arange(chunk_elems, n + chunk_elems, chunk_elems), n) - 1
    through = tokens_through[np.searchsorted(pos, ends)]
    return np.diff(through, prepend=0).astype(np.int64)


def chunk_token_counts(x: np.ndarray, chunk_elems: int) -> np.ndarray:
    """Number of RLE tokens of each chunk of ``chunk_elems`` elements (counts only)."""
    if x.size == 0:
        return np.zeros(0, np.int64)
    pos, zeros = _events(x, chunk_elems)
    return _per_chunk(x.size, chunk_elems, pos, np.cumsum(zeros // 256 + 1))


def encode_stream(x: np.ndarray, chunk_elems: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """RLE-encode element words ``x`` cut into chunks of ``chunk_elems``.

    Returns ``(bytes as uint8, payload bytes of each chunk)``; the chunks'
    payloads follow each other in the byte array.
    """
    if x.size == 0:
        return np.zeros(0, np.uint8), np.zeros(0, np.int64)
    chunk_elems = chunk_elems or x.size
    eb = x.dtype.itemsize
    pos, zeros = _events(x, chunk_elems)
    ntok = zeros // 256 + 1
    last = np.cumsum(ntok) - 1
    tokens = np.zeros((int(last[-1]) + 1, 1 + eb), np.uint8)
    tokens[:, 0] = MAX_RUN                       # fillers (255, 0) unless overwritten
    tokens[last, 0] = zeros % 256
    tokens[last, 1:] = x[pos].view(np.uint8).reshape(-1, eb)
    return tokens.reshape(-1), _per_chunk(x.size, chunk_elems, pos, last + 1) * (1 + eb)


def encode(data, elem_bits: int | None = None) -> bytes:
    """RLE encoding of ``data`` as one chunk (no frame, no padding)."""
    stream, _ = encode_stream(as_elements(data, elem_bits))
    return stream.tobytes()


def encoded_size(data, elem_bits: int | None = None) -> int:
    """``len(encode(data))`` computed from counts only."""
    x = as_elements(data, elem_bits)
    return int(chunk_token_counts(x, max(x.size, 1)).sum()) * (1 + x.dtype.itemsize)


def decode_chunks(buf: np.ndarray, starts, lengths, counts, elem_bits: int):
    """Decode several RLE payloads of one buffer at once.

    Same contract as :func:`golden.zvc.decode_chunks`: returns the concatenated
    elements, or ``(None, error)`` for the error found earliest in ``buf``.
    """
    dt = elem_dtype(elem_bits)
    eb = dt.itemsize
    tb = 1 + eb
    starts = np.asarray(starts, np.int64)
    lengths = np.asarray(lengths, np.int64)
    counts = np.asarray(counts, np.int64)
    ntok = lengths // tb
    if starts.size == 1:
        tok = buf[starts[0]: starts[0] + ntok[0] * tb]
    else:
        tok = np.concatenate([buf[s: s + n * tb] for s, n in zip(starts.tolist(), ntok.tolist())])
    tok = tok.reshape(-1, tb)
    chunk = np.repeat(np.arange(starts.size), ntok)
    first_tok = np.cumsum(ntok) - ntok
    run = np.cumsum(tok[:, 0].astype(np.int64) + 1)
    before = np.zeros(starts.size, np.int64)
    nonempty = ntok > 0
    before[nonempty] = run[first_tok[nonempty]] - (tok[first_tok[nonempty], 0].astype(np.int64) + 1)
    run -= before[chunk]                          # elements decoded so far, within the chunk
    # First error of each chunk, in stream order: a token that overshoots the
    # chunk, else a payload that ends short or inside a token.
    err_off = np.full(starts.size, np.iinfo(np.int64).max, np.int64)
    over = np.flatnonzero(run > counts[chunk])
    if over.size:
        oc = chunk[over]
        firsts = np.unique(oc, return_index=True)[1]
        oc, ot = oc[firsts], over[firsts]
        err_off[oc] = starts[oc] + (ot - first_tok[oc]) * tb
    total = np.zeros(starts.size, np.int64)
    total[nonempty] = run[first_tok[nonempty] + ntok[nonempty] - 1]
    short = (err_off == np.iinfo(np.int64).max) & ((total != counts) | (lengths % tb != 0))
    err_off[short] = starts[short] + ntok[short] * tb
    if (err_off != np.iinfo(np.int64).max).any():
        c = int(np.argmin(err_off))
        off = int(err_off[c])
        if short[c]:
            if total[c] < counts[c] and lengths[c] % tb:
                why = f"chunk payload ends inside a token after {int(total[c])} of {int(counts[c])} elements"
            elif total[c] < counts[c]:
                why = f"chunk payload ends after {int(total[c])} of {int(counts[c])} elements"
            else:
                why = f"{int(lengths[c] % tb)} bytes left in the chunk payload after its last token"
            return None, FormatError(off, ErrorCode.LENGTH_MISMATCH, why)
        return None, FormatError(off, ErrorCode.RUN_OVERSHOOT,
                                 f"token overshoots the chunk's {int(counts[c])} elements")
    out = np.zeros(int(counts.sum()), dt)
    out_base = np.cumsum(counts) - counts
    out[out_base[chunk] + run - 1] = np.ascontiguousarray(tok[:, 1:]).view(dt)[:, 0]
    return out, None


def decode(payload, count: int, elem_bits: int) -> np.ndarray:
    """Decode one RLE payload of ``count`` elements.

    Raises
    ------
    FormatError
        A token overshoots ``count``, the payload ends early or inside a token,
        or bytes follow the last token; the offset is relative to ``payload``.
    """
    return decode_payload(decode_chunks, payload, count, elem_bits)
