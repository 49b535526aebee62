# amaranth: UnusedElaboratable=no
"""Amaranth-simulator tests of the descriptor dispatch and the status arbiter
(``hw/engine/dispatch.py``); the whole engine's descriptor and status paths are
also covered by ``tests/test_hw_engine.py`` and the cocotb benches.

Expected verdicts follow docs/ENGINE.md's descriptor rules (checks in the order
DESC_ALIGN, DESC_LENGTH, DESC_RANGE; unknown direction -> DESC_DIRECTION).
"""
from __future__ import annotations

import pytest
from amaranth.sim import Simulator

from cdma.golden.engine import OFFLOAD, PREFETCH
from cdma.hw.engine.dispatch import DescriptorDispatch, StatusArbiter
from cdma.hw.engine.params import EngineError, EngineParams

PARAMS = EngineParams(mem_bytes=16, pcie_bytes=16, addr_width=32)


def test_parameters_validated():
    with pytest.raises(TypeError, match="EngineParams"):
        DescriptorDispatch({"mem_bytes": 16})
    with pytest.raises(TypeError, match="EngineParams"):
        StatusArbiter(None)


# (addr, length, direction) -> (where it goes, code)
CASES = [
    ((0x1000, 64, OFFLOAD), ("offload", 0)),
    ((0x2000, 4, PREFETCH), ("prefetch", 0)),
    ((0x1008, 64, OFFLOAD), ("offload", EngineError.DESC_ALIGN)),        # not 16-aligned
    ((0x1000, 6, PREFETCH), ("prefetch", EngineError.DESC_LENGTH)),      # not whole fp32
    ((0xFFFF_FFF0, 32, OFFLOAD), ("offload", EngineError.DESC_RANGE)),   # wraps 2**32
    ((1 << 32, 16, PREFETCH), ("prefetch", EngineError.DESC_RANGE)),     # above addr_width
    ((0xFFFF_FFF0, 16, OFFLOAD), ("offload", 0)),                       # ends exactly at 2**32
    ((0x1008, 6, OFFLOAD), ("offload", EngineError.DESC_ALIGN)),        # first check wins
    ((0x1000, 16, 7), ("rejected", EngineError.DESC_DIRECTION)),
]


def test_dispatch_routes_and_checks():
    dut = DescriptorDispatch(PARAMS)
    got = []

    async def bench(ctx):
        for n, ((addr, length, direction), _) in enumerate(CASES):
            ctx.set(dut.desc.p, {"addr": addr, "length": length, "tag": n, "codec": 2,
                                 "direction": direction, "reserved": 0})
            ctx.set(dut.desc.valid, 1)
            await ctx.tick().until(dut.desc.ready)
            await ctx.tick()
            ctx.set(dut.desc.valid, 0)
            # the outputs: held until taken, taken after a stall of two cycles
            for waited in range(8):
                outs = [name for name in ("offload", "prefetch", "rejected")
                        if ctx.get(getattr(dut, name).valid)]
                if outs:
                    break
                await ctx.tick()
            assert len(outs) == 1, (n, outs)
            port = getattr(dut, outs[0])
            first = ctx.get(port.p)
            await ctx.tick().repeat(2)
            assert ctx.get(port.valid) and ctx.get(port.p) == first
            if outs[0] != "rejected":
                # one descriptor at a time (a rejected one has left the register)
                assert not ctx.get(dut.desc.ready)
            ctx.set(port.ready, 1)
            await ctx.tick()
            ctx.set(port.ready, 0)
            got.append((outs[0], int(first.code), int(first.tag)))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert got == [(where, int(code), n) for n, (_, (where, code)) in enumerate(CASES)]


def test_status_arbiter_priority_round_robin_and_hold():
    dut = StatusArbiter(PARAMS)
    words = []

    async def bench(ctx):
        # all three wait: the rejected one first, then the units alternate
        ctx.set(dut.rejected.p, {"length": 0, "tag": 9, "code": EngineError.DESC_DIRECTION,
                                 "direction": 7, "reserved": 0})
        ctx.set(dut.rejected.valid, 1)
        ctx.set(dut.offload.p, {"length": 100, "tag": 1, "code": 0})
        ctx.set(dut.offload.valid, 1)
        ctx.set(dut.prefetch.p, {"length": 200, "tag": 2, "code": 3})
        ctx.set(dut.prefetch.valid, 1)
        ctx.set(dut.status.ready, 0)
        # (a source is taken only while the word register is free: so when a word
        # shows, the source it came from is known, and is withdrawn once it has
        # given its words, before the word is taken)
        pending = {"rejected": 1, "offload": 2, "prefetch": 2}
        by_tag = {9: "rejected", 1: "offload", 2: "prefetch"}
        for _ in range(60):
            await ctx.tick()
            if not ctx.get(dut.status.valid):
                continue
            word = ctx.get(dut.status.p)
            name = by_tag[int(word.tag)]
            pending[name] -= 1
            if pending[name] == 0:
                ctx.set(getattr(dut, name).valid, 0)
            await ctx.tick().repeat(2)                 # a word holds while the sink stalls
            assert ctx.get(dut.status.valid) and ctx.get(dut.status.p) == word
            ctx.set(dut.status.ready, 1)
            await ctx.tick()
            ctx.set(dut.status.ready, 0)
            words.append((int(word.tag), int(word.direction), int(word.length), int(word.code)))
            if len(words) == 5:
                break

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert words[0] == (9, 7, 0, int(EngineError.DESC_DIRECTION))
    units = [(tag, d) for tag, d, _, _ in words[1:]]
    assert sorted(units) == [(1, OFFLOAD), (1, OFFLOAD), (2, PREFETCH), (2, PREFETCH)]
    # round robin: the two units alternate while both wait
    assert [d for _, d in units] in ([OFFLOAD, PREFETCH] * 2, [PREFETCH, OFFLOAD] * 2)
    assert (1, OFFLOAD, 100, 0) in words and (2, PREFETCH, 200, 3) in words
