"""Stimulus for the ZVCE benches: payload classes of element words and code tables.

Plain numpy with fixed seeds; expected bytes are always computed by
``golden.zvce`` from these elements and tables, never by the DUT.
"""
from __future__ import annotations

import numpy as np

from cdma import golden
from cdma.golden import zvce as gz
from cdma.sim.zvc import payloads as zvc_payloads

__all__ = ["activations", "payload_classes", "tables", "malformed_cases"]


def activations(n, density, elem_bits, rng):
    """``n`` ReLU-like activations (fp32 or bf16 words), about ``density`` of them
    nonzero: magnitudes of a unit normal, so the top bytes sit in a few values."""
    v = np.abs(rng.standard_normal(n)).astype(np.float32)
    v[rng.random(n) >= density] = 0
    w = v.view(np.uint32)
    return w if elem_bits == 32 else (w >> 16).astype(np.uint16)


def tables(elem_bits, rng):
    """``[(name, CodeTable)]``: the default table, one built from activations, one
    with 0-width classes and a 3-bit class, one with a symbol listed twice, and
    a table of three 1-symbol classes whose bytes never occur in activations
    (every top byte a literal)."""
    return [("default", gz.DEFAULT_TABLE),
            ("built", gz.build_table(activations(4000, 0.5, elem_bits, rng), elem_bits)),
            ("widths013", gz.CodeTable((0, 1, 3), tuple(range(0x38, 0x38 + 11)))),
            ("repeated", gz.CodeTable((3, 0, 0), (0x3F, 0x3E, 0x3F, 0x40, 0x41, 0x3D, 0x3C,
                                                  0x00, 0x3E, 0xFF))),
            ("literal", gz.CodeTable((0, 0, 0), (0x11, 0x22, 0x33)))]


def payload_classes(elem_bits, lanes, rng):
    """``[(name, elements)]``: ZVC's payload classes (all-zero, all-nonzero, a
    nonzero at every lane, specials, densities, 1..4 beats, 31/32/33 and more
    elements around windows, chunk sizes, ReLU) plus ZVCE's own: activations
    at densities 0.1/0.5/0.9 and a chunk whose every top byte hits one table
    class."""
    out = zvc_payloads.payload_classes(elem_bits, lanes, rng, chunk_bytes=(512,))
    for d in (0.1, 0.5, 0.9):
        out.append((f"activations{d}", activations(int(rng.integers(150, 260)), d, elem_bits, rng)))
    top = elem_bits - 8
    dt = golden.elem_dtype(elem_bits)
    out.append(("one-class", np.full(45, 0x3F << top, dt) | np.arange(45, dtype=dt)))
    return out


def malformed_cases(elem_bits, table, rng):
    """``[(name, payload, count)]`` of malformed ZVCE chunks (golden rejects each):
    short, inside the first mask, inside the heads, inside the code field, one
    extra byte, extra beats, counts that disagree, a mask bit past the count,
    and a code field with a padding bit set (alone and with the payload cut)."""
    x = zvc_payloads.random_elements(70, 0.6, elem_bits, rng)
    x[69] = 1
    good = gz.encode(x, table, elem_bits)
    bad_mask = bytearray(gz.encode(x[:40], table, elem_bits))
    bad_mask[int(gz.window_sizes(x[:40], table)[0]) + 2] |= 0x10     # element 52 of 40
    k0 = int(np.count_nonzero(x[:32]))
    hb = 4 + (2 * k0 + 7) // 8
    out = [("short1", good[:-1], 70), ("inside-mask", good[:3], 70),
           ("inside-heads", good[:hb - 1], 70), ("inside-field", good[:hb + 1], 70),
           ("extra1", good + b"\x00", 70), ("extra-beats", good + bytes(64), 70),
           ("count-too-small", good, 69), ("mask-past-count", bytes(bad_mask), 40),
           ("count-too-large", good, 100), ("zero-count-with-bytes", b"\x01\x02", 0)]
    for seed in range(8):
        y = activations(40, 0.7, elem_bits, np.random.default_rng(seed))
        enc = bytearray(gz.encode(y, table, elem_bits))
        w = y[:32]
        nbits = int(table.code_bits()[(w[w != 0] >> (elem_bits - 8)).astype(np.int64)].sum())
        if nbits % 8:
            enc[4 + (nbits + 7) // 8 - 1] |= 0x80
            out += [(f"padding{seed}", bytes(enc), 40), (f"padding-and-short{seed}", bytes(enc[:-1]), 40)]
            break
    return out
