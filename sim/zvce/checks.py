"""The checks of the ZVCE cocotb benches: golden bytes in or out, with a code table.

Every expected byte, element and error code comes from ``golden.zvce``.  The
table is the ``code_table`` port; a batch of chunks runs with one table, and
the table changes only between batches, once every output of the previous
batch has arrived (the blocks sample it once per chunk).
"""
from __future__ import annotations

import os

import numpy as np

import cocotb
from cocotb.triggers import ClockCycles
from cocotbext.axi import AxiStreamFrame

from cdma import golden
from cdma.golden import zvce as gz
from cdma.sim.codec_checks import round_trip, send_chunks
from cdma.sim.stream_tb import StreamTB, bench_settings, random_pauses, report
from cdma.sim.zvce import payloads

__all__ = ["start", "set_table", "check_encoder", "check_decoder", "malformed_recovery",
           "round_trip", "throughput"]


def set_table(tb, table):
    """Drive ``code_table`` with a :class:`~cdma.golden.zvce.CodeTable` or 16 raw bytes."""
    raw = table.pack() if isinstance(table, gz.CodeTable) else bytes(table)
    tb.dut.code_table.value = int.from_bytes(raw, "little")
    tb.table = table


async def start(dut, idle=None, backpressure=None, table=gz.DEFAULT_TABLE):
    """A reset :class:`StreamTB` on ``dut`` with ``table`` on ``code_table``;
    ``idle``/``backpressure``: ``(probability, seed)`` of random pauses."""
    dut.code_table.value = 0
    tb = StreamTB(dut)
    set_table(tb, table)
    if idle:
        tb.set_idle_generator(random_pauses(*idle))
    if backpressure:
        tb.set_backpressure_generator(random_pauses(*backpressure))
    await tb.reset()
    return tb


def _names(chunks, names):
    return names or [f"chunk {k}" for k in range(len(chunks))]


async def check_encoder(tb, chunks, names=None):
    """Each chunk in, exactly ``golden.zvce.encode(chunk, tb.table)`` out."""
    for x in chunks:
        tb.source.send_nowait(AxiStreamFrame(x.tobytes()))
    for name, x in zip(_names(chunks, names), chunks):
        data, _ = await tb.recv()
        expected = gz.encode(x, tb.table, tb.elem_bits)
        assert data == expected, (f"{name} ({x.size} elements): got {len(data)} bytes "
                                  f"{data[:24].hex()}..., golden {len(expected)} bytes "
                                  f"{expected[:24].hex()}...")
    tb.check_rules()


async def check_decoder(tb, chunks, names=None):
    """``golden.zvce.encode`` of each chunk in, exactly its elements out, no error."""
    items = [(gz.encode(x, tb.table, tb.elem_bits), x.size) for x in chunks]
    cocotb.start_soon(send_chunks(tb, items))
    for name, x in zip(_names(chunks, names), chunks):
        data, user = await tb.recv()
        assert user == 0, f"{name}: error flag on a well-formed chunk"
        assert data == x.tobytes(), (f"{name} ({x.size} elements): got {len(data)} bytes "
                                     f"{data[:16].hex()}..., expected {x.tobytes()[:16].hex()}...")
    assert tb.errors == [], f"error pulses on well-formed input: {tb.errors}"
    tb.check_rules()


async def malformed_recovery(tb, cases, rng):
    """Each malformed ``(name, payload, count)`` case then a good chunk: the bad one
    closes with ``tuser`` and the golden code, never more elements than its count;
    the good one decodes exactly."""
    items, expect = [], []
    for name, payload, count in cases:
        try:
            gz.decode(payload, count, tb.elem_bits, tb.table)
        except golden.FormatError as exc:
            code = int(exc.code)
        else:
            raise AssertionError(f"golden accepts the malformed case {name}")
        good = payloads.activations(45, 0.5, tb.elem_bits, rng)
        items += [(payload, count), (gz.encode(good, tb.table, tb.elem_bits), good.size)]
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


async def throughput(tb, dut, check):
    """The bench of a block (``cdma bench zvce``): per density (``bench_settings``),
    one transfer of activations coded with the table built from them, through
    ``check(chunks)`` (golden comparison), its cycles from the first input to
    the last output transfer, one JSON row (the rows of ``cdma bench zvc``)."""
    coded = tb.params.get("out_bytes" if dut == "compress" else "in_bytes") or tb.raw_bytes
    widths = (dict(in_bytes=tb.raw_bytes, out_bytes=coded) if dut == "compress"
              else dict(in_bytes=coded, out_bytes=tb.raw_bytes))
    idle = float(os.environ.get("CDMA_BENCH_IDLE", "0"))
    backpressure = float(os.environ.get("CDMA_BENCH_BACKPRESSURE", "0"))
    tb.set_idle_generator(random_pauses(idle, 21) if idle else None)
    tb.set_backpressure_generator(random_pauses(backpressure, 22) if backpressure else None)
    densities, nbytes, chunk_bytes, out = bench_settings()
    eb = tb.elem_bits // 8
    for density in densities:
        rng = np.random.default_rng(int(density * 1000))
        x = payloads.activations(nbytes // eb, density, tb.elem_bits, rng)
        per = (chunk_bytes or nbytes) // eb
        chunks = [x[k:k + per] for k in range(0, x.size, per)]
        set_table(tb, gz.build_table(x, tb.elem_bits) if x.any() else gz.DEFAULT_TABLE)
        await tb.reset()
        tb.start_measure()
        await check(chunks)
        cycles = tb.measured_cycles()
        enc = sum(gz.encoded_size(c, tb.table, tb.elem_bits) for c in chunks)
        report(out, codec="zvce", dut=dut, elem_bits=tb.elem_bits, lanes=tb.lanes, **widths,
               density=density, raw_bytes=int(x.nbytes), enc_bytes=enc, chunks=len(chunks),
               elements=int(x.size), windows=-(-x.size // 32), cycles=cycles, idle=idle,
               backpressure=backpressure)
        tb.log.info("density %.2f: %d cycles for %d raw bytes", density, cycles, x.nbytes)
