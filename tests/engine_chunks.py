"""Shared expectations of the chunk buffer and frame reader tests: a transfer's
chunks as golden frames them (docs/FORMAT.md)."""
from __future__ import annotations

import numpy as np

from cdma.golden import frame as gframe, zvc as gzvc, zvce as gzvce
from cdma.sim.zvce.payloads import activations as relu_activations

MB, CHUNK = 16, 512


def transfer(seed=0):
    """fp32 elements of four chunks: sparse, dense (sent raw), sparse, and a short
    sparse tail (3 elements past the last whole beat)."""
    rng = np.random.default_rng(seed)
    n = 3 * 128 + 19
    x = (rng.random(n) < 0.25) * rng.integers(1, 1 << 32, n)
    x[128:256] = rng.integers(1, 1 << 32, 128)
    return x.astype(np.uint32)


def golden_chunks(x):
    """Per chunk: (raw bytes, ZVC bytes, payload length, compressed?, payload bytes),
    from golden's frame and codec."""
    raw = x.tobytes()
    frame = gframe.encode_frame(x, "zvc", CHUNK, 32)
    pos, out = gframe.HEADER_BYTES, []
    for k in range(-(-len(raw) // CHUNK)):
        part = raw[k * CHUNK:(k + 1) * CHUNK]
        word = int.from_bytes(frame[pos:pos + 4], "little")
        length, codec = word & ((1 << gframe.CHUNK_LENGTH_BITS) - 1), word >> gframe.CHUNK_LENGTH_BITS
        payload = frame[pos + 4:pos + 4 + length]
        out.append((part, gzvc.encode(np.frombuffer(part, np.uint32), 32), length, codec != 0,
                    payload))
        pos += 4 + -(-length // 4) * 4
    assert pos == len(frame)
    return frame, out


def transfer_zvce(seed=0):
    """fp32 elements of five chunks, one per choice of a ZVCE frame: ReLU-like
    (ZVCE), all zero (ZVCE and ZVC tie: ZVCE), sparse random bit patterns (ZVC:
    their top bytes are literals), dense random (raw) and a short ReLU-like tail;
    and a code table that fits the ReLU-like ones."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([relu_activations(128, 0.4, 32, rng), np.zeros(128, np.uint32),
                        (rng.random(128) < 0.25) * rng.integers(1, 1 << 32, 128),
                        rng.integers(1, 1 << 32, 128), relu_activations(19, 0.4, 32, rng)])
    table = gzvce.build_table(relu_activations(4096, 0.4, 32, rng))
    return x.astype(np.uint32), table


def golden_chunks_zvce(x, table):
    """Per chunk of a ZVCE frame: (raw bytes, ZVCE bytes, ZVC bytes, payload
    length, chunk codec, payload bytes), from golden's frame and codecs."""
    raw = x.tobytes()
    frame = gframe.encode_frame(x, "zvce", CHUNK, 32, table)
    pos, out = gframe.header_bytes("zvce"), []
    for k in range(-(-len(raw) // CHUNK)):
        part = raw[k * CHUNK:(k + 1) * CHUNK]
        word = int.from_bytes(frame[pos:pos + 4], "little")
        length, codec = word & ((1 << gframe.CHUNK_LENGTH_BITS) - 1), word >> gframe.CHUNK_LENGTH_BITS
        elems = np.frombuffer(part, np.uint32)
        out.append((part, gzvce.encode(elems, table), gzvc.encode(elems, 32), length, codec,
                    frame[pos + 4:pos + 4 + length]))
        pos += 4 + -(-length // 4) * 4
    assert pos == len(frame)
    return frame, out
