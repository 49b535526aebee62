# amaranth: UnusedElaboratable=no
"""Amaranth-simulator tests of the offload chunker (``hw/engine/chunker.py``).

Expected beats from docs/FORMAT.md's chunking: chunk ``k`` holds raw bytes
``[k * chunk_bytes, (k + 1) * chunk_bytes)``; on the final memory beat only the
elements below ``length`` count.
"""
from __future__ import annotations

import random

import pytest

from cdma.hw.engine.chunker import Chunker
from cdma.hw.engine.params import EngineParams
from hwsim import get_packet, put_beats, simulate


def _expected(length, mem_bytes, elem_bytes, chunk_bytes):
    beats = -(-length // mem_bytes)
    lanes = mem_bytes // elem_bytes
    out = []
    for b in range(beats):
        keep = sum(1 << k for k in range(lanes) if b * mem_bytes + k * elem_bytes < length)
        final = b == beats - 1
        out.append({"keep": keep, "n": bin(keep).count("1"),
                    "last": int(final or (b + 1) * mem_bytes % chunk_bytes == 0),
                    "final": int(final)})
    return out


@pytest.mark.parametrize("elem_bits, length", [(32, 2 * 512 + 100), (8, 512), (16, 18)])
def test_chunk_beats(elem_bits, length):
    p = EngineParams(elem_bits=elem_bits, mem_bytes=16, pcie_bytes=16, chunk_bytes=512)
    dut = Chunker(p)
    rng = random.Random(length)
    expected = _expected(length, 16, elem_bits // 8, 512)
    words = [rng.getrandbits(128) for _ in expected]
    got = []

    async def driver(ctx):
        ctx.set(dut.length, length)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        assert not ctx.get(dut.i.ready)         # not running yet: nothing is taken
        ctx.set(dut.run, 1)
        await put_beats(ctx, dut.i, words, rng, 0.3)

    async def sink(ctx):
        while len(got) < len(expected):
            got.extend(await get_packet(ctx, dut.o, rng, 0.3))

    simulate(dut, [driver, sink], rules_on=[dut.o])
    assert [b["data"] for b in got] == words        # passed as fetched
    assert [{k: b[k] for k in ("keep", "n", "last", "final")} for b in got] == expected
