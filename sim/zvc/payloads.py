"""Stimulus for the ZVC benches: named payload classes of element words.

Everything here is plain numpy with fixed seeds; expected bytes are always
computed by ``golden.zvc`` from these elements, never by the benches' DUT.
"""
from __future__ import annotations

import numpy as np

from cdma import golden

__all__ = ["random_elements", "relu_elements", "payload_classes", "DENSITIES"]

#: Densities of the random payload class.
DENSITIES = (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99)


def random_elements(n, density, elem_bits, rng):
    """``n`` element words, each nonzero with probability ``density`` (random bits)."""
    dt = golden.elem_dtype(elem_bits)
    x = rng.integers(1, 1 << elem_bits, size=n, dtype=np.uint64).astype(dt)
    x[rng.random(n) >= density] = 0
    return x


def relu_elements(n, elem_bits, rng):
    """Real-looking ReLU activations: fp32, bf16 (fp32's top half) or int8, as words."""
    v = np.maximum(rng.standard_normal(n).astype(np.float32) * 1.5 - 0.3, 0)
    if elem_bits == 32:
        return v.view(np.uint32)
    if elem_bits == 16:
        return (v.view(np.uint32) >> 16).astype(np.uint16)
    return np.clip(np.round(v * 40), 0, 127).astype(np.uint8)


def _specials(elem_bits):
    """-0.0, NaN, infinities and denormal bit patterns (all nonzero) between zeros."""
    if elem_bits == 32:
        vals = [0x80000000, 0x7FC00000, 0x7F800001, 0xFF800000, 0x00000001, 0x807FFFFF]
    elif elem_bits == 16:
        vals = [0x8000, 0x7E00, 0x7C01, 0xFC00, 0x0001, 0x83FF]
    else:
        vals = [0x80, 0x7F, 0xFF, 0x01, 0x79, 0xF8]
    x = np.zeros(4 * len(vals), golden.elem_dtype(elem_bits))
    x[1::4] = vals
    x[2::4] = vals[::-1]
    return x


def payload_classes(elem_bits, lanes, rng, chunk_bytes=(512, 4096)):
    """``[(name, elements)]``: every payload class the acceptance list names.

    All zeros, no zeros, a single nonzero at every lane position, -0.0/NaN/denormal
    patterns, random densities 0.01..0.99, lengths of 1..4 beats and around window
    (32 elements) and chunk (``chunk_bytes``) boundaries, and ReLU activations.
    """
    dt = golden.elem_dtype(elem_bits)
    eb = elem_bits // 8
    out = [("zeros", np.zeros(lanes * 4, dt)),
           ("no-zeros", random_elements(lanes * 4 + 3, 1.0, elem_bits, rng)),
           ("all-ones", np.full(70, (1 << elem_bits) - 1, dt)),
           ("specials", _specials(elem_bits))]
    for pos in range(lanes):
        x = np.zeros(lanes * 2, dt)
        x[lanes + pos] = 1 << ((pos * 5) % elem_bits)
        out.append((f"single-lane{pos}", x))
    for d in DENSITIES:
        out.append((f"density{d}", random_elements(int(rng.integers(200, 300)), d, elem_bits, rng)))
    for n in sorted({1, lanes - 1, lanes, lanes + 1, 2 * lanes, 3 * lanes + 1, 4 * lanes} - {0}):
        out.append((f"len{n}", random_elements(n, 0.6, elem_bits, rng)))
    for n in (31, 32, 33, 63, 64, 65, 96, 97):
        out.append((f"len{n}", random_elements(n, 0.5, elem_bits, rng)))
    for c in chunk_bytes:
        for n in (c // eb - 1, c // eb, c // eb + 1):
            out.append((f"chunk{c}B{n - c // eb:+d}", random_elements(n, 0.4, elem_bits, rng)))
    out.append(("relu", relu_elements(1000, elem_bits, rng)))
    return out


def malformed_cases(elem_bits, rng):
    """``[(name, payload, count)]`` of malformed ZVC chunks (golden rejects each one).

    One byte short, ending inside the first mask, one extra byte, extra beats,
    a count that disagrees with the last mask, a mask bit past the count, and a
    payload that ends before its count's last window.
    """
    x = random_elements(70, 0.6, elem_bits, rng)
    x[69] = 1
    good = golden.zvc.encode(x, elem_bits)
    bad_mask = bytearray(golden.zvc.encode(x[:40], elem_bits))
    off = 4 + int(np.count_nonzero(x[:32])) * (elem_bits // 8)   # mask of window 1
    bad_mask[off + 2] |= 0x10                                     # element 52 > 40
    return [
        ("short1", good[:-1], 70),
        ("inside-mask", good[:3], 70),
        ("extra1", good + b"\x00", 70),
        ("extra-beats", good + bytes(64), 70),
        ("count-too-small", good, 69),
        ("mask-past-count", bytes(bad_mask), 40),
        ("count-too-large", good, 100),
    ]
