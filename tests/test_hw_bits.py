# amaranth: UnusedElaboratable=no
"""hw.bits networks against plain Python: compaction and its inverse, every mask
of a few lanes and random masks of 16 and 32 lanes."""
from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from cdma.hw.bits import (compact_level, count_after, expand_controls, expand_level, popcount,
                     prefix_counts, leading_ones, prefix_length, room_after,
                     thermometer)


def _network(n, width):
    m = Module()
    lanes = [Signal(width, name=f"in{k}") for k in range(n)]
    mask = Signal(n)
    bits = max(1, (n - 1).bit_length())
    p = prefix_counts(m, [mask[k] for k in range(n)], "p")
    amts = [Signal(bits, name=f"a{k}") for k in range(n)]
    for k in range(n):
        m.d.comb += amts[k].eq((k - p[k])[:bits] if k else 0)
    # compaction of the masked lanes (empty lanes carry zero data and amount)
    data = [lanes[k] & mask[k].replicate(width) for k in range(n)]
    am = [a & mask[k].replicate(bits) for k, a in enumerate(amts)]
    for b in range(bits if n > 1 else 0):
        data, am = compact_level(m, data, am, b, f"c{b}")
    compacted = data
    # expansion of the slots back to the mask's lanes
    levels = expand_controls(m, mask, "x")
    data = list(lanes)
    for b in reversed(range(len(levels))):
        stay, came = levels[b]
        data = expand_level(m, data, stay, came, b, f"e{b}")
    count = Signal(range(n + 1))
    m.d.comb += count.eq(popcount([mask[k] for k in range(n)]))
    therm = Signal(n)
    m.d.comb += therm.eq(thermometer(count, n))
    return m, lanes, mask, compacted, data, count, therm


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 16, 32])
def test_compact_and_expand(n):
    m, lanes, mask, compacted, expanded, count, therm = _network(n, 8)
    rng = np.random.default_rng(n)
    masks = (range(1 << n) if n <= 5 else
             [0, (1 << n) - 1, 1, 1 << (n - 1)] + [int(v) for v in rng.integers(0, 1 << n, 60)])
    failures = []

    async def tb(ctx):
        for msk in masks:
            vals = [int(v) for v in rng.integers(1, 256, n)]
            for k in range(n):
                ctx.set(lanes[k], vals[k])
            ctx.set(mask, msk)
            sel = [vals[k] for k in range(n) if msk >> k & 1]
            want_c = sel + [0] * (n - len(sel))
            got_c = [ctx.get(x) for x in compacted]
            # expanding the first len(sel) inputs sends input j to the j-th set lane
            it = iter(vals)
            want_e = [next(it) if msk >> k & 1 else 0 for k in range(n)]
            got_e = [ctx.get(x) for x in expanded]
            if got_c != want_c or got_e != want_e or ctx.get(count) != len(sel) \
                    or ctx.get(therm) != (1 << len(sel)) - 1:
                failures.append((msk, got_c, want_c, got_e, want_e))
            await ctx.delay(1e-9)

    sim = Simulator(m)
    sim.add_testbench(tb)
    sim.run()
    assert not failures, failures[:2]


def _counts(count_fn, width, masks):
    """``count_fn`` over a ``width``-bit mask, simulated for each of ``masks``."""
    m = Module()
    mask = Signal(width)
    n = Signal(range(width + 1))
    m.d.comb += n.eq(count_fn([mask[k] for k in range(width)]))
    got = []

    async def tb(ctx):
        for value in masks:
            ctx.set(mask, value)
            got.append(ctx.get(n))

    sim = Simulator(m)
    sim.add_testbench(tb)
    sim.run()
    return got


@pytest.mark.parametrize("width", [1, 2, 3, 4, 7, 16, 32, 64])
def test_prefix_length_counts_every_prefix(width):
    got = _counts(prefix_length, width, [(1 << count) - 1 for count in range(width + 1)])
    assert got == list(range(width + 1))


@pytest.mark.parametrize("width", [1, 2, 3, 5, 8])
def test_leading_ones_counts_every_mask(width):
    """Every mask, prefix or not: the run of set bits from bit 0."""
    def ref(value):
        count = 0
        while count < width and value >> count & 1:
            count += 1
        return count

    got = _counts(leading_ones, width, range(1 << width))
    assert got == [ref(v) for v in range(1 << width)]


@pytest.mark.parametrize("n,cuts", [(1, {0}), (2, {1}), (3, None), (8, {2}), (16, None),
                                    (16, {0, 4}), (32, None), (32, {1, 3, 5})])
def test_prefix_counts_staged(n, cuts):
    """A scan registered after the levels in ``cuts`` gives the counts of the bits
    that entered as many cycles before as it has stages."""
    m = Module()
    bits = Signal(n)
    stages = []

    def stage(values):
        regs = [Signal.like(v, name=f"st{len(stages)}_{k}") for k, v in enumerate(values)]
        m.d.sync += [r.eq(v) for r, v in zip(regs, values)]
        stages.append(regs)
        return regs
    p = prefix_counts(m, [bits[k] for k in range(n)], "p", stage=stage, cuts=cuts)
    levels = (n - 1).bit_length()
    want_stages = len(set(range(2, levels, 2) if cuts is None else cuts))
    assert len(stages) == want_stages
    rng = np.random.default_rng(n)
    inputs = [int(v) for v in rng.integers(0, 1 << n, 40)]
    mismatches = []

    async def tb(ctx):
        for t, value in enumerate(inputs + [0] * want_stages):
            ctx.set(bits, value)
            if t >= want_stages:
                src = inputs[t - want_stages]
                want = [bin(src & ((1 << k) - 1)).count("1") for k in range(n + 1)]
                got = [ctx.get(x) for x in p]
                if got != want:
                    mismatches.append((t, got, want))
            if stages:
                await ctx.tick()
            else:                        # (no register: no clock domain either)
                await ctx.delay(1e-6)

    sim = Simulator(m)
    if stages:
        sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert mismatches == []


def test_prefix_counts_refuses_bad_cuts():
    with pytest.raises(ValueError, match=r"cuts must be level counts from 0 to 3, not \[4\]"):
        prefix_counts(Module(), [Signal() for _ in range(8)], "p", stage=lambda v: v, cuts={4})


@pytest.mark.parametrize("emit_bits", [1, 2])
@pytest.mark.parametrize("depth,most", [(2, None), (3, None), (16, None), (15, 16), (3, 5), (29, 32)])
def test_room_after_is_the_count_compare(depth, most, emit_bits):
    """room_after = issued + emit - take < depth and count_after = issued + emit
    - take, for every issued <= most (default depth) and every emit of
    ``emit_bits`` bits (a take only ever follows an issued beat: issued >= take)."""
    m = Module()
    top = depth if most is None else most
    issued = Signal(range(top + 1))
    emit, take, room = Signal(emit_bits), Signal(), Signal()
    count = Signal(range(top + 2 ** emit_bits))
    m.d.comb += [room.eq(room_after(m, issued, depth, emit, take, most=most)),
                 count.eq(count_after(issued, emit, take))]
    got, want = [], []

    async def tb(ctx):
        for i in range(top + 1):
            for e in range(2 ** emit_bits):
                for t in (0, 1) if i else (0,):
                    ctx.set(issued, i)
                    ctx.set(emit, e)
                    ctx.set(take, t)
                    got.append((ctx.get(room), ctx.get(count)))
                    want.append((int(i + e - t < depth), i + e - t))

    sim = Simulator(m)
    sim.add_testbench(tb)
    sim.run()
    assert got == want
