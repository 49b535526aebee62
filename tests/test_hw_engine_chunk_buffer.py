# amaranth: UnusedElaboratable=no
"""Amaranth-simulator tests of the offload chunk buffer (``hw/engine/chunk_buffer.py``):
both halves of each chunk in, the raw fallback's choice and the chosen payload out,
checked against golden's frame (tests/engine_chunks.py)."""
from __future__ import annotations

import random

import pytest

from cdma.hw.engine.chunk_buffer import ChunkBuffer
from cdma.hw.engine.params import EngineParams
from engine_chunks import CHUNK, MB, golden_chunks, golden_chunks_zvce, transfer, transfer_zvce
from hwsim import byte_beats, put_beats, simulate


def _chunk_beats(raw):
    """The chunker's beats of ``raw`` bytes (fp32 elements, 16-byte beats), the elements
    past the end filled with junk that the raw half must not keep."""
    out = []
    for k in range(-(-len(raw) // CHUNK)):
        part = raw[k * CHUNK:(k + 1) * CHUNK]
        nbeats = -(-len(part) // MB)
        for b in range(nbeats):
            piece = part[b * MB:(b + 1) * MB]
            n = len(piece) // 4
            data = int.from_bytes(piece + b"\xa5" * (MB - len(piece)), "little")
            out.append({"data": data, "keep": (1 << n) - 1, "n": n, "last": int(b == nbeats - 1),
                        "final": int(k * CHUNK + (b + 1) * MB >= len(raw))})
    return out


def _counted(data, width):
    """The codec stage's beats of ``data`` bytes, ``width`` bytes a beat, each with
    its byte count."""
    return [{"data": d, "keep": k, "last": last, "n": bin(k).count("1")}
            for d, k, last in byte_beats(data, width)]


def _benches(dut, nchunks, rng, got, fields):
    """The codec stage's side of ``enc`` (random ``ready``), and a reader that
    takes ``nchunks`` chunks at random times, reads each one's payload from the
    port its verdict names and appends ``(verdict fields, payload)`` to ``got``."""
    async def enc_sink(ctx):
        while True:
            ctx.set(dut.enc.ready, rng.random() < 0.7)
            await ctx.tick()

    async def reader(ctx):
        for _ in range(nchunks):
            while True:
                await ctx.tick()
                if ctx.get(dut.chunk.valid) and rng.random() < 0.5:
                    break
            info = {f: ctx.get(getattr(dut.chunk.p, f)) for f in fields}
            alt = ctx.get(dut.chunk.p.alt)
            port = dut.rd_comp if ctx.get(dut.chunk.p.comp) else dut.rd_alt if alt else dut.rd_raw
            length = ctx.get(dut.chunk.p.length)
            # (a compressed copy comes `comp_bytes` a read: the beat's part of it)
            ratio = 1 if port is dut.rd_raw else dut.params.comp_bytes // MB
            data = bytearray()
            for beat in range(-(-length // MB)):
                ctx.set(dut.rd_addr, beat)
                ctx.set(dut.rd_en, 1)
                await ctx.tick()
                ctx.set(dut.rd_en, 0)
                row = ctx.get(port).to_bytes(ratio * MB, "little")
                data += row[beat % ratio * MB:][:MB]
            ctx.set(dut.chunk.ready, 1)
            await ctx.tick()
            ctx.set(dut.chunk.ready, 0)
            got.append((info, bytes(data[:length])))
    return enc_sink, reader


@pytest.mark.parametrize("banks, codecs, comp_bytes", [(2, 0b111, 2 * MB), (4, 0b111, 2 * MB),
                                                      (4, 0b111, MB), (4, 0b1011, 2 * MB)])
def test_raw_fallback_and_payloads_vs_golden(banks, codecs, comp_bytes):
    """A ZVC frame (with ZVCE built in too: its ZVC-copy half stays off); the
    compressed half written ``comp_bytes`` a beat (twice the read width, or once)."""
    p = EngineParams(elem_bits=32, mem_bytes=MB, pcie_bytes=16, chunk_bytes=CHUNK,
                     chunk_banks=banks, codecs=codecs, comp_bytes=comp_bytes)
    dut = ChunkBuffer(p)
    x = transfer(banks)
    _, chunks = golden_chunks(x)
    rng = random.Random(banks)
    got = []

    async def chunker(ctx):
        ctx.set(dut.codec_on, 1)
        if p.zvce:
            ctx.set(dut.alt_on, 0)
        await put_beats(ctx, dut.i, _chunk_beats(x.tobytes()), rng, 0.2)

    async def codec(ctx):               # the compressor: takes beats, sends golden's ZVC bytes
        await put_beats(ctx, dut.comp, [b for _, comp, *_ in chunks
                                         for b in _counted(comp, comp_bytes)], rng, 0.4)

    enc_sink, reader = _benches(dut, len(chunks), rng, got, ("length", "comp", "alt", "final"))
    simulate(dut, [chunker, codec, reader], [enc_sink], rules_on=[dut.i, dut.comp, dut.enc])
    expected = [({"length": length, "comp": int(comp), "alt": 0,
                  "final": int(k == len(chunks) - 1)}, payload)
                for k, (_, _, length, comp, payload) in enumerate(chunks)]
    assert got == expected
    assert [info["comp"] for info, _ in expected] == [1, 0, 1, 1]       # the dense one raw


def test_zvce_frame_takes_the_shortest_copy():
    """With ZVCE, each chunk comes in three times (raw, ZVCE, ZVC, each from its
    own producer with its own gaps); the buffer sends the copy golden's frame
    holds: ZVCE, ZVCE on a tie with ZVC, ZVC, raw, ZVCE."""
    p = EngineParams(elem_bits=32, mem_bytes=MB, pcie_bytes=16, chunk_bytes=CHUNK,
                     codecs=0b1011)
    dut = ChunkBuffer(p)
    x, table = transfer_zvce(5)
    _, chunks = golden_chunks_zvce(x, table)
    rng = random.Random(5)
    got = []

    async def chunker(ctx):
        ctx.set(dut.codec_on, 1)
        ctx.set(dut.alt_on, 1)
        await put_beats(ctx, dut.i, _chunk_beats(x.tobytes()), rng, 0.2)

    async def zvce(ctx):
        await put_beats(ctx, dut.comp, [b for c in chunks for b in _counted(c[1], p.comp_bytes)],
                        rng, 0.5)

    async def zvc(ctx):
        await put_beats(ctx, dut.alt, [b for c in chunks for b in _counted(c[2], p.comp_bytes)],
                        rng, 0.3)

    enc_sink, reader = _benches(dut, len(chunks), rng, got, ("length", "comp", "alt"))

    simulate(dut, [chunker, zvce, zvc, reader], [enc_sink],
             rules_on=[dut.i, dut.comp, dut.alt, dut.enc])
    expected = [({"length": length, "comp": int(codec == 3), "alt": int(codec == 1)}, payload)
                for _, _, _, length, codec, payload in chunks]
    assert got == expected
    assert [codec for *_, codec, _ in chunks] == [3, 3, 1, 0, 3]
