# amaranth: UnusedElaboratable=no
"""hw.fifo.WideFIFO in the Amaranth simulator: order, flags and holding outputs."""
from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from cdma.hw.fifo import WideFIFO


@pytest.mark.parametrize("width, depth, copies", [(8, 4, 1), (70, 8, 3), (33, 16, 8)])
@pytest.mark.parametrize("p_write, p_read", [(1.0, 1.0), (0.6, 0.3), (0.3, 0.9)])
def test_words_come_out_in_order(width, depth, copies, p_write, p_read):
    """A producer that never overfills it (it counts its own writes, as the codec
    blocks do) and a consumer with random stalls: every word arrives once, in order,
    and r_valid/r_data hold while not read."""
    dut = WideFIFO(width, depth, copies=copies)
    rng = np.random.default_rng(width + depth)
    words = [int.from_bytes(rng.bytes(-(-width // 8)), "little") % (1 << width)
             for _ in range(200)]
    got, problems = [], []
    state = {"inflight": 0}

    async def producer(ctx):
        k = 0
        while k < len(words):
            ok = state["inflight"] < depth and rng.random() < p_write
            ctx.set(dut.w_en, ok)
            ctx.set(dut.w_data, words[k] if ok else 0)
            if ok:
                state["inflight"] += 1
                k += 1
            await ctx.tick()
        ctx.set(dut.w_en, 0)

    async def consumer(ctx):
        held = None
        while len(got) < len(words):
            valid = ctx.get(dut.r_valid)
            data = ctx.get(dut.r_data)
            if held is not None and (not valid or data != held):
                problems.append(("dropped or changed", held, valid, data))
            ready = rng.random() < p_read
            ctx.set(dut.r_en, ready)
            if valid and ready:
                got.append(data)
                state["inflight"] -= 1
                held = None
            elif valid:
                held = data
            await ctx.tick()
            if ctx.get(dut.level) > depth:
                problems.append(("level", ctx.get(dut.level)))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run_until(1e-8 * 20000)
    assert not problems, problems[:3]
    assert got == words


def test_rejects():
    with pytest.raises(ValueError, match="^depth must be a power of two, not 6$"):
        WideFIFO(8, 6)
    with pytest.raises(ValueError, match="^depth must be an integer >= 2, not 1$"):
        WideFIFO(8, 1)
    with pytest.raises(TypeError, match="^width must be an integer, not '8'$"):
        WideFIFO("8", 4)
