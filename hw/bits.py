"""Small combinational helpers shared by the codec blocks and the engine."""
from __future__ import annotations

from amaranth.hdl import C

__all__ = ["popcount"]


def popcount(bits):
    """Sum of 1-bit values as a balanced adder tree (0 for no bits)."""
    terms = list(bits)
    while len(terms) > 1:
        nxt = [terms[k] + terms[k + 1] for k in range(0, len(terms) - 1, 2)]
        if len(terms) % 2:
            nxt.append(terms[-1])
        terms = nxt
    return terms[0] if terms else C(0, 1)
