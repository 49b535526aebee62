"""Stimulus of the RLE benches: the ZVC benches' payload classes plus RLE's own.

Plain numpy with fixed seeds.  Expected bytes and verdicts always come from
``golden.rle`` applied to these elements, never from the DUT.
"""
from __future__ import annotations

import numpy as np

from cdma import golden
from cdma.sim.zvc.payloads import payload_classes as zvc_payload_classes
from cdma.sim.zvc.payloads import random_elements

__all__ = ["random_elements", "payload_classes", "malformed_cases"]


def run_classes(elem_bits, lanes):
    """Zero runs around the token limit: exactly 255, 256, 257 (and 511..513) zeros.

    Each run appears before a value, as trailing zeros after a value, alone (an
    all-zero chunk), and starting at every lane offset of a beat for 255..257.
    """
    dt = golden.elem_dtype(elem_bits)
    out = []
    for z in (255, 256, 257, 511, 512, 513):
        x = np.zeros(z + 1, dt)
        x[-1] = 0x5A
        out.append((f"run{z}-value", x))
        y = np.zeros(z + 1, dt)
        y[0] = 3
        out.append((f"value-run{z}", y))
        out.append((f"all-zero{z}", np.zeros(z, dt)))
    for z in (255, 256, 257):
        for off in range(0, lanes, max(1, lanes // 4)):
            x = np.zeros(off + z + 2, dt)
            x[off] = 1
            x[off + z + 1] = 2
            out.append((f"lane{off}-run{z}", x))
    out.append(("all-zero-1", np.zeros(1, dt)))
    out.append(("sparse-long", random_elements(3000, 0.003, elem_bits,
                                               np.random.default_rng(elem_bits))))
    return out


def payload_classes(elem_bits, lanes, rng):
    """``[(name, elements)]``: every ZVC bench class, then :func:`run_classes`."""
    return zvc_payload_classes(elem_bits, lanes, rng) + run_classes(elem_bits, lanes)


def malformed_cases(elem_bits, rng):
    """``[(name, payload, count)]`` of malformed RLE chunks (golden rejects each one)."""
    T = 1 + elem_bits // 8
    x = random_elements(70, 0.3, elem_bits, rng)
    x[69] = 1
    good = golden.rle.encode(x, elem_bits)
    dense = golden.rle.encode(random_elements(64, 1.0, elem_bits, rng), elem_bits)
    return [
        ("truncated-token", good[:-1], 70),
        ("one-token-short", good[:-T], 70),
        ("trailing-byte", good + b"\x00", 70),
        ("trailing-token", good + bytes(T), 70),
        ("trailing-beats", good + bytes(64), 70),
        ("dense-trailing-token", dense + bytes(T), 64),
        ("overshoot-last", good, 69),
        ("overshoot-filler", bytes([255]) + bytes(T - 1), 100),
        ("ends-early", good, 200),
        ("empty-payload", b"", 5),
        ("bytes-for-zero-count", bytes(T), 0),
    ]
