# amaranth: UnusedElaboratable=no
"""Amaranth-simulator tests of the offload frame reader (``hw/engine/frame_reader.py``):
from the buffered chunks it must emit golden's frame, word for word."""
from __future__ import annotations

import random

import numpy as np
import pytest

from cdma.golden import frame as gframe
from cdma.hw.engine.frame_reader import FrameReader
from cdma.hw.engine.params import EngineParams
from engine_chunks import CHUNK, MB, golden_chunks, golden_chunks_zvce, transfer, transfer_zvce
from hwsim import simulate


def _run(dut, length, codec, chunks, seed, backpressure=0.3, table=None):
    """Start a frame, offer ``chunks`` = [(raw, comp, length, comp?)] or, in a
    ZVCE frame, [(raw, comp, length, comp?, alt, alt?)] on ``chunk`` with the
    read port served from them, and collect ``o`` up to ``last``."""
    rng = random.Random(seed)
    words = bytearray()
    nbytes = []

    async def bench(ctx):
        ctx.set(dut.length, length)
        ctx.set(dut.codec, codec)
        if table is not None:
            ctx.set(dut.code_table, int.from_bytes(table.pack(), "little"))
        ctx.set(dut.clear, 1)
        await ctx.tick()
        ctx.set(dut.clear, 0)
        assert ctx.get(dut.nbytes) == 0
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        k, offered = 0, False
        while True:
            if k < len(chunks) and (offered or rng.random() < 0.5):   # chunks arrive late too
                offered = True
                raw, comp, plen, use, *alt = chunks[k]
                ctx.set(dut.chunk.valid, 1)
                ctx.set(dut.chunk.p.length, plen)
                ctx.set(dut.chunk.p.comp, use)
                ctx.set(dut.chunk.p.alt, alt[1] if alt else 0)
                ctx.set(dut.chunk.p.final, k == len(chunks) - 1)
            else:
                ctx.set(dut.chunk.valid, 0)
            ctx.set(dut.o.ready, rng.random() >= backpressure)
            en, addr = ctx.get(dut.rd_en), ctx.get(dut.rd_addr)
            taken = ctx.get(dut.chunk.valid) and ctx.get(dut.chunk.ready)
            piece = None
            if ctx.get(dut.o.valid) and ctx.get(dut.o.ready):
                piece = (ctx.get(dut.o.p.data), ctx.get(dut.o.p.n), ctx.get(dut.o.p.last))
            await ctx.tick()
            if en and k < len(chunks):       # the chunk buffer's read port: data next cycle
                raw, comp, _, _, *alt = chunks[k]
                # (a compressed copy is read `comp_bytes` at a time: the
                # row that holds beat `addr`)
                cb = dut.params.comp_bytes
                row = addr // (cb // MB)
                ports = [(dut.rd_raw, raw[addr * MB:(addr + 1) * MB], MB),
                         (dut.rd_comp, comp[row * cb:(row + 1) * cb], cb)]
                if alt:
                    ports.append((dut.rd_alt, alt[0][row * cb:(row + 1) * cb], cb))
                for port, beat, width in ports:
                    ctx.set(port, int.from_bytes(beat.ljust(width, b"\0"), "little"))
            if taken:
                k, offered = k + 1, False
            if piece is not None:
                data, n, last = piece
                words.extend(data.to_bytes(MB, "little")[:4 * n])
                if last:
                    nbytes.append(ctx.get(dut.nbytes))
                    return

    simulate(dut, [bench], rules_on=[dut.o, dut.chunk], cycles=20_000)
    assert nbytes == [len(words)]           # the status length: the frame's bytes
    return bytes(words)


@pytest.mark.parametrize("comp_bytes", [MB, 2 * MB])
@pytest.mark.parametrize("seed", [0, 1])
def test_frame_vs_golden(seed, comp_bytes):
    """Compressed copies read a beat at a time, or two beats a row (``comp_bytes``)."""
    p = EngineParams(elem_bits=32, mem_bytes=MB, pcie_bytes=16, chunk_bytes=CHUNK,
                     comp_bytes=comp_bytes)
    x = transfer(seed)
    frame, chunks = golden_chunks(x)
    dut = FrameReader(p)
    got = _run(dut, len(x) * 4, 1, [(raw, comp, plen, use) for raw, comp, plen, use, _ in chunks],
               seed)
    assert got == frame


@pytest.mark.parametrize("seed", [0, 1])
def test_zvce_frame_vs_golden(seed):
    """A ZVCE frame: version 2, its code table after the header, and chunks that
    are ZVCE (codec 3), ZVC (1, the buffer's third copy) or raw."""
    p = EngineParams(elem_bits=32, mem_bytes=MB, pcie_bytes=16, chunk_bytes=CHUNK, codecs=0b1011)
    x, table = transfer_zvce(seed)
    frame, chunks = golden_chunks_zvce(x, table)
    got = _run(FrameReader(p), len(x) * 4, 3,
               [(raw, ce, plen, codec == 3, cz, codec == 1)
                for raw, ce, cz, plen, codec, _ in chunks],
               seed, table=table)
    assert got == frame


def test_empty_frame_is_its_header():
    p = EngineParams(elem_bits=32, mem_bytes=MB, pcie_bytes=16, chunk_bytes=CHUNK)
    got = _run(FrameReader(p), 0, 1, [], 0)
    assert got == gframe.encode_frame(b"", "zvc", CHUNK, 32)


@pytest.mark.parametrize("tail", [1, 3, 4, 5, 8, 9])
def test_payload_lengths_around_a_beat(tail):
    """A dense chunk, then a raw tail chunk of ``tail`` elements: payloads of 4,
    12, 16, 20, 32 and 36 bytes around the 16-byte beat end on the right beat."""
    p = EngineParams(elem_bits=32, mem_bytes=MB, pcie_bytes=16, chunk_bytes=CHUNK)
    rng = np.random.default_rng(tail)
    x = rng.integers(1, 1 << 32, CHUNK // 4 + tail).astype(np.uint32)
    frame, chunks = golden_chunks(x)
    assert [plen for _, _, plen, _, _ in chunks] == [CHUNK, 4 * tail]
    got = _run(FrameReader(p), len(x) * 4, 1,
               [(raw, comp, plen, use) for raw, comp, plen, use, _ in chunks], tail)
    assert got == frame


def test_empty_zvce_frame_is_its_header_and_table():
    p = EngineParams(elem_bits=32, mem_bytes=MB, pcie_bytes=16, chunk_bytes=CHUNK, codecs=0b1011)
    _, table = transfer_zvce(0)
    got = _run(FrameReader(p), 0, 3, [], 0, table=table)
    assert got == gframe.encode_frame(np.zeros(0, np.uint32), "zvce", CHUNK, 32, table)
