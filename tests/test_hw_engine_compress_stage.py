# amaranth: UnusedElaboratable=no
"""Amaranth-simulator tests of the offload codec stage (``hw/engine/compress_stage.py``):
the selected compressor's output is golden's encoding of each chunk."""
from __future__ import annotations

import numpy as np
import pytest

from cdma import golden
from cdma.golden import rle as grle, zvc as gzvc, zvce as gzvce
from cdma.hw.engine.compress_stage import CompressStage
from cdma.hw.engine.params import EngineParams
import hwsim
from cdma.sim.zvce.payloads import activations as relu_activations
from hwsim import bytes_of, element_beats, get_packet, put_beats, simulate

P = EngineParams(elem_bits=32, mem_bytes=16, pcie_bytes=16, chunk_bytes=512)


@pytest.mark.parametrize("comp_bytes", [16, 32])
@pytest.mark.parametrize("codec, encode", [(golden.Codec.ZVC, gzvc.encode),
                                           (golden.Codec.RLE, grle.encode)])
def test_selected_compressor_vs_golden(codec, encode, comp_bytes):
    """Each codec at both output widths (``comp_bytes``: the memory side's 16 B or twice)."""
    rng = np.random.default_rng(int(codec))
    chunks = [hwsim.elements(128, d, 32, rng) for d in (0.2, 0.9)] + [hwsim.elements(37, 0.5, 32, rng)]
    p = EngineParams(elem_bits=32, mem_bytes=16, pcie_bytes=16, chunk_bytes=512,
                     comp_bytes=comp_bytes)
    dut = CompressStage(p)
    got = []

    async def producer(ctx):
        ctx.set(dut.codec, int(codec))
        await ctx.tick()                # (the codec is set a cycle before the first beat)
        for x in chunks:
            await put_beats(ctx, dut.i, element_beats(x, 32, 4), rng, 0.3)

    counts = []

    async def consumer(ctx):
        for _ in chunks:
            beats = await get_packet(ctx, dut.o, rng, 0.3)
            counts.extend((b["n"], bin(b["keep"]).count("1")) for b in beats)
            got.append(bytes_of(beats, comp_bytes))

    simulate(dut, [producer, consumer], rules_on=[dut.i, dut.o])
    assert got == [encode(c, 32) for c in chunks]
    assert all(n == kept for n, kept in counts)          # each beat's count is its keep's


def test_zvce_feeds_both_compressors():
    """A ZVCE frame: every chunk goes to the ZVCE compressor (``o``) and the ZVC
    one (``alt``), each output with its own gaps; both equal golden's encodings."""
    p = EngineParams(elem_bits=32, mem_bytes=16, pcie_bytes=16, chunk_bytes=512, codecs=0b1011)
    rng = np.random.default_rng(3)
    table = gzvce.build_table(relu_activations(4096, 0.4, 32, rng))
    chunks = ([relu_activations(128, d, 32, rng) for d in (0.1, 0.5, 1.0)]
              + [hwsim.elements(n, d, 32, rng) for n, d in ((128, 1.0), (37, 0.5), (256, 0.9))]
              + [np.zeros(5, np.uint32)])
    dut = CompressStage(p)
    got = {"o": [], "alt": []}

    async def producer(ctx):
        ctx.set(dut.codec, int(golden.Codec.ZVCE))
        ctx.set(dut.code_table, int.from_bytes(table.pack(), "little"))
        await ctx.tick()
        for x in chunks:
            await put_beats(ctx, dut.i, element_beats(x, 32, 4), rng, 0.1)

    def consumer(name, backpressure):
        async def run(ctx):
            for _ in chunks:
                beats = await get_packet(ctx, getattr(dut, name), rng, backpressure)
                assert all(b["n"] == bin(b["keep"]).count("1") for b in beats)
                got[name].append(bytes_of(beats, p.comp_bytes))
        return run

    # (the two outputs stall apart, so each compressor takes a beat in its own cycle)
    simulate(dut, [producer, consumer("o", 0.2), consumer("alt", 0.7)],
             rules_on=[dut.i, dut.o, dut.alt])
    assert got["o"] == [gzvce.encode(c, table) for c in chunks]
    assert got["alt"] == [gzvc.encode(c, 32) for c in chunks]


def test_raw_takes_everything_and_sends_nothing():
    dut = CompressStage(P)
    seen = []

    async def bench(ctx):
        ctx.set(dut.codec, 0)
        await ctx.tick()
        await put_beats(ctx, dut.i, [(k, 0xF, k == 3) for k in range(4)],
                        np.random.default_rng(0), 0.0)

    async def watch(ctx):
        while True:
            seen.append(ctx.get(dut.o.valid))
            await ctx.tick()

    simulate(dut, [bench], [watch], cycles=100, rules_on=[dut.i])
    assert not any(seen)
