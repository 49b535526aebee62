# amaranth: UnusedElaboratable=no
"""Amaranth-simulator tests of the prefetch decode stage (``hw/engine/decode_stage.py``):
chunk jobs and payloads as the frame parser hands them over, restored bytes in
order, checked against golden's frame (tests/engine_chunks.py)."""
from __future__ import annotations

import random

import pytest

from cdma.golden import ErrorCode
from cdma.hw.engine.decode_stage import DecodeStage
from cdma.hw.engine.params import EngineParams
from engine_chunks import CHUNK, MB, golden_chunks, transfer
from hwsim import byte_beats, put_beats, simulate


def _run(dut, chunks, end_code, seed):
    """Jobs and payloads of ``chunks`` = [(raw, length, compressed?, payload)], then the
    end job with ``end_code``; returns the bytes written and the frame's code."""
    rng = random.Random(seed)
    out = bytearray()
    result = {}
    total = sum(len(raw) for raw, *_ in chunks)

    async def jobs(ctx):
        js = [{"end": 0, "codec": 1 if comp else 0, "count": len(raw) // 4, "code": 0,
               "accepted": 0} for raw, _, comp, _ in chunks]
        js.append({"end": 1, "codec": 0, "count": 0, "code": end_code, "accepted": len(chunks)})
        await put_beats(ctx, dut.jobs, js, rng, 0.2)

    async def pay(ctx):
        beats = [b for *_, payload in chunks for b in byte_beats(payload, 16)]
        await put_beats(ctx, dut.pay, beats, rng, 0.2)

    async def writer(ctx):
        while not ctx.get(dut.all_out):
            ctx.set(dut.o.ready, rng.random() < 0.7)
            if ctx.get(dut.o.valid) and ctx.get(dut.o.ready):
                data, strb = ctx.get(dut.o.p.data), ctx.get(dut.o.p.strb)
                out.extend(b for k, b in enumerate(data.to_bytes(MB, "little")) if strb >> k & 1)
            await ctx.tick()
        result["code"] = ctx.get(dut.code)
        ctx.set(dut.clear, 1)
        await ctx.tick()
        ctx.set(dut.clear, 0)
        assert not ctx.get(dut.all_out)        # the end job is forgotten
        assert len(out) == total

    simulate(dut, [jobs, pay, writer], rules_on=[dut.o, dut.jobs, dut.pay])
    return bytes(out), result["code"]


@pytest.mark.parametrize("dec_instances", [1, 2])
def test_restores_golden_frame(dec_instances):
    p = EngineParams(elem_bits=32, mem_bytes=MB, pcie_bytes=16, chunk_bytes=CHUNK,
                     dec_instances=dec_instances)
    x = transfer(dec_instances)
    _, chunks = golden_chunks(x)
    got, code = _run(DecodeStage(p), [(raw, n, c, pl) for raw, _, n, c, pl in chunks], 0,
                     dec_instances)
    assert got == x.tobytes()
    assert code == 0


def test_parser_verdict_is_the_code():
    p = EngineParams(elem_bits=32, mem_bytes=MB, pcie_bytes=16, chunk_bytes=CHUNK)
    x = transfer(3)
    _, chunks = golden_chunks(x)
    got, code = _run(DecodeStage(p), [(raw, n, c, pl) for raw, _, n, c, pl in chunks[:2]],
                     int(ErrorCode.BAD_PADDING), 3)
    assert got == x.tobytes()[:2 * CHUNK]
    assert code == ErrorCode.BAD_PADDING
