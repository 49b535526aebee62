"""The checks the ZVC and RLE cocotb benches share, for either codec.

``codec`` is the golden codec module, :mod:`cdma.golden.zvc` or
:mod:`cdma.golden.rle`: every expected byte, element and error code comes from
it.  The test modules in ``sim/zvc`` and ``sim/rle`` choose the payloads, the
pauses and the seeds; these coroutines drive a :class:`~cdma.sim.stream_tb.StreamTB`
and assert.
"""
from __future__ import annotations

import importlib
import os

import numpy as np

import cocotb
from cocotb.triggers import ClockCycles
from cocotbext.axi import AxiStreamFrame

from cdma import golden
from cdma.sim.stream_tb import StreamTB, bench_settings, random_pauses, report
from cdma.sim.zvc.payloads import random_elements

__all__ = ["codec_under_test", "start", "random_chunks", "check_encoder", "check_decoder",
           "send_chunks", "malformed_recovery", "round_trip", "throughput"]


def codec_under_test():
    """``(golden codec module, its stimulus module sim/<codec>/payloads.py)`` of the
    generated module being tested (``CDMA_MODULE``, set by ``sim/runner.py`` and the
    Makefiles: ``zvc-...`` or ``rle-...``)."""
    name = os.environ.get("CDMA_MODULE", "zvc-").partition("-")[0]
    return getattr(golden, name), importlib.import_module(f"cdma.sim.{name}.payloads")


async def start(dut, idle=None, backpressure=None):
    """A reset :class:`StreamTB` on ``dut``; ``idle``/``backpressure``: ``(probability,
    seed)`` of random pauses on the input / output stream."""
    tb = StreamTB(dut)
    if idle:
        tb.set_idle_generator(random_pauses(*idle))
    if backpressure:
        tb.set_backpressure_generator(random_pauses(*backpressure))
    await tb.reset()
    return tb


def random_chunks(tb, payloads, rng, count=40):
    """``count`` short chunks of random elements (1 to 5 beats' worth, random
    density) from ``payloads`` (the codec's stimulus module), for back-to-back runs."""
    return [payloads.random_elements(int(rng.integers(1, 5 * tb.lanes)), float(rng.random()),
                                     tb.elem_bits, rng) for _ in range(count)]


def _names(chunks, names):
    return names or [f"chunk {k}" for k in range(len(chunks))]


async def check_encoder(tb, codec, chunks, names=None):
    """Each chunk of elements in, exactly ``codec.encode`` of it out."""
    for x in chunks:
        tb.source.send_nowait(AxiStreamFrame(x.tobytes()))
    for name, x in zip(_names(chunks, names), chunks):
        data, _ = await tb.recv()
        expected = codec.encode(x, tb.elem_bits)
        assert data == expected, (f"{name} ({x.size} elements): got {len(data)} bytes "
                                  f"{data[:20].hex()}..., golden {len(expected)} bytes "
                                  f"{expected[:20].hex()}...")
    tb.check_rules()


def _frame_of(payload):
    """An AXI4-Stream frame of ``payload``; an empty payload is one null beat (tkeep 0).

    (cocotbext-axi skips a frame without bytes, so the null beat carries one
    byte whose tkeep bit is clear.)
    """
    if not payload:
        return AxiStreamFrame(b"\x00", tkeep=[0])
    return AxiStreamFrame(payload)


async def send_chunks(tb, items):
    """Queue ``(payload, count)`` chunks on s_axis and s_count."""
    for payload, _ in items:
        tb.source.send_nowait(_frame_of(payload))
    for _, count in items:
        await tb.send_count(count)


async def check_decoder(tb, codec, chunks, names=None):
    """``codec.encode`` of each chunk in, exactly its elements out, no error."""
    items = [(codec.encode(x, tb.elem_bits), x.size) for x in chunks]
    cocotb.start_soon(send_chunks(tb, items))
    for name, x in zip(_names(chunks, names), chunks):
        data, user = await tb.recv()
        expected = x.tobytes()
        assert user == 0, f"{name}: error flag on a well-formed chunk"
        assert data == expected, (f"{name} ({x.size} elements): got {len(data)} bytes "
                                  f"{data[:16].hex()}..., expected {expected[:16].hex()}...")
    assert tb.errors == [], f"error pulses on well-formed input: {tb.errors}"
    tb.check_rules()


async def malformed_recovery(tb, codec, cases, rng, density):
    """Each malformed ``(name, payload, count)`` case, then a good chunk: the bad one
    closes with ``tuser`` and the golden error code, never more elements than its
    count; the good one decodes exactly."""
    items, expect = [], []
    for name, payload, count in cases:
        try:
            codec.decode(payload, count, tb.elem_bits)
        except golden.FormatError as exc:
            code = int(exc.code)
        else:
            raise AssertionError(f"golden accepts the malformed case {name}")
        good = random_elements(45, density, tb.elem_bits, rng)
        items += [(payload, count), (codec.encode(good, tb.elem_bits), good.size)]
        expect += [(name, code, count), (f"good after {name}", None, good)]
    cocotb.start_soon(send_chunks(tb, items))
    for name, code, ref in expect:
        data, user = await tb.recv()
        if code is None:
            assert user == 0 and data == ref.tobytes(), f"{name}: not decoded exactly"
        else:
            assert user == 1, f"{name}: no error flag on the closing beat"
            assert len(data) <= ref * (tb.elem_bits // 8), f"{name}: more elements than the count"
    await ClockCycles(tb.dut.clk, 5)
    codes = [c for _, c, _ in expect if c is not None]
    assert tb.errors == codes, f"error codes {tb.errors}, golden {codes}"
    tb.check_rules()


async def round_trip(tb, cases):
    """Every ``(name, elements)`` case through a loopback top restores it exactly."""
    for _, x in cases:
        tb.source.send_nowait(AxiStreamFrame(x.tobytes()))

    async def counts():
        for _, x in cases:
            await tb.send_count(x.size)
    cocotb.start_soon(counts())
    for name, x in cases:
        data, user = await tb.recv()
        assert user == 0 and data == x.tobytes(), f"{name}: round trip differs"
    assert tb.errors == []
    tb.check_rules()


def _bench_data(nbytes, density, elem_bits, chunk_bytes, seed):
    """Elements of one transfer and their chunks (``chunk_bytes`` 0: one chunk)."""
    rng = np.random.default_rng(seed)
    x = random_elements(nbytes // (elem_bits // 8), density, elem_bits, rng)
    per = (chunk_bytes or nbytes) // (elem_bits // 8)
    return x, [x[k:k + per] for k in range(0, x.size, per)]


async def throughput(tb, codec, dut, check):
    """The ``test_throughput`` bench of a block: per density (``bench_settings``), one
    transfer through ``check(chunks)`` (which compares every byte with golden), its
    cycles from the first input to the last output transfer, one JSON row.

    ``dut`` is "compress" or "decompress" (which side is coded);
    ``CDMA_BENCH_IDLE``/``CDMA_BENCH_BACKPRESSURE`` (probabilities, default 0)
    add random pauses.
    """
    coded = tb.params.get("out_bytes" if dut == "compress" else "in_bytes") or tb.raw_bytes
    widths = (dict(in_bytes=tb.raw_bytes, out_bytes=coded) if dut == "compress"
              else dict(in_bytes=coded, out_bytes=tb.raw_bytes))
    idle = float(os.environ.get("CDMA_BENCH_IDLE", "0"))
    backpressure = float(os.environ.get("CDMA_BENCH_BACKPRESSURE", "0"))
    tb.set_idle_generator(random_pauses(idle, 21) if idle else None)
    tb.set_backpressure_generator(random_pauses(backpressure, 22) if backpressure else None)
    densities, nbytes, chunk_bytes, out = bench_settings()
    await tb.reset()
    for density in densities:
        x, chunks = _bench_data(nbytes, density, tb.elem_bits, chunk_bytes,
                                seed=int(density * 1000))
        tb.start_measure()
        await check(chunks)
        cycles = tb.measured_cycles()
        enc = sum(codec.encoded_size(c, tb.elem_bits) for c in chunks)
        report(out, codec=codec.__name__.rpartition(".")[2], dut=dut, elem_bits=tb.elem_bits,
               lanes=tb.lanes, **widths, density=density, raw_bytes=int(x.nbytes),
               enc_bytes=enc, chunks=len(chunks), elements=int(x.size),
               windows=-(-x.size // 32), cycles=cycles, idle=idle, backpressure=backpressure)
        tb.log.info("density %.2f: %d cycles for %d raw bytes", density, cycles, x.nbytes)
