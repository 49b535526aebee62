"""cocotb tests of the generated ZVC decompressor (``cdma generate zvc-decompress``).

Input chunks are ``golden.zvc.encode`` payloads (or malformed variants that
``golden.zvc.decode`` rejects); outputs are compared with the original elements
and error codes with the golden verdicts.
"""
from __future__ import annotations

import numpy as np

import cocotb
from cocotb.triggers import ClockCycles
from cocotbext.axi import AxiStreamFrame

from cdma import golden
from cdma.sim.stream_tb import StreamTB, random_pauses

from .common import bench_data, bench_pauses, bench_settings, elem_params, report
from .payloads import malformed_cases, payload_classes, random_elements


async def send_chunks(tb, items):
    """Queue ``(payload, count)`` chunks on s_axis and s_count."""
    for payload, count in items:
        tb.source.send_nowait(AxiStreamFrame(payload))
    for _, count in items:
        await tb.send_count(count)


async def check_chunks(tb, chunks, elem_bits):
    items = [(golden.zvc.encode(x, elem_bits), x.size) for x in chunks]
    cocotb.start_soon(send_chunks(tb, items))
    for k, x in enumerate(chunks):
        data, user = await tb.recv()
        assert user == 0, f"chunk {k}: error flag on a well-formed chunk"
        assert data == x.tobytes(), (f"chunk {k} ({x.size} elements): got {len(data)} bytes "
                                     f"{data[:16].hex()}..., expected {x.tobytes()[:16].hex()}...")
    assert tb.errors == [], f"error pulses on well-formed input: {tb.errors}"
    tb.check_rules()


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def test_payload_classes(dut):
    """Golden encodings of every payload class, random idle cycles and backpressure."""
    tb = StreamTB(dut)
    elem_bits, lanes = elem_params(tb.params)
    tb.set_idle_generator(random_pauses(0.2, 5))
    tb.set_backpressure_generator(random_pauses(0.3, 6))
    await tb.reset()
    cases = payload_classes(elem_bits, lanes, np.random.default_rng(elem_bits + lanes + 1))
    await check_chunks(tb, [x for _, x in cases], elem_bits)


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def test_malformed_recovery(dut):
    """Each malformed chunk raises the golden error code; the next good chunk decodes."""
    tb = StreamTB(dut)
    elem_bits, lanes = elem_params(tb.params)
    tb.set_idle_generator(random_pauses(0.2, 7))
    tb.set_backpressure_generator(random_pauses(0.3, 8))
    await tb.reset()
    rng = np.random.default_rng(9)
    items, expect = [], []
    for name, payload, count in malformed_cases(elem_bits, rng):
        try:
            golden.zvc.decode(payload, count, elem_bits)
        except golden.FormatError as exc:
            code = int(exc.code)
        else:
            raise AssertionError(f"golden accepts the malformed case {name}")
        good = random_elements(45, 0.5, elem_bits, rng)
        items += [(payload, count), (golden.zvc.encode(good, elem_bits), good.size)]
        expect += [(name, code, count), ("good", None, good)]
    cocotb.start_soon(send_chunks(tb, items))
    for name, code, ref in expect:
        data, user = await tb.recv()
        if code is None:
            assert user == 0 and data == ref.tobytes(), "good chunk after a malformed one"
        else:
            assert user == 1, f"{name}: no error flag on the closing beat"
            assert len(data) <= ref * (elem_bits // 8), f"{name}: more elements than the count"
    await ClockCycles(dut.clk, 5)
    codes = [c for _, c, _ in expect if c is not None]
    assert tb.errors == codes, f"error codes {tb.errors}, golden {codes}"
    tb.check_rules()


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def test_back_to_back(dut):
    """Short random chunks back to back at full rate."""
    tb = StreamTB(dut)
    elem_bits, lanes = elem_params(tb.params)
    await tb.reset()
    rng = np.random.default_rng(10)
    chunks = [random_elements(int(rng.integers(1, 5 * lanes)), float(rng.random()), elem_bits, rng)
              for _ in range(40)]
    await check_chunks(tb, chunks, elem_bits)


@cocotb.test(timeout_time=1000, timeout_unit="ms")
async def test_throughput(dut):
    """Bench: cycles for a transfer at each density (no idle, no backpressure unless asked)."""
    tb = StreamTB(dut)
    elem_bits, lanes = elem_params(tb.params)
    in_bytes = tb.params.get("in_bytes") or lanes * elem_bits // 8
    densities, nbytes, chunk_bytes, out = bench_settings()
    idle, backpressure = bench_pauses(tb)
    await tb.reset()
    for density in densities:
        x, chunks = bench_data(nbytes, density, elem_bits, chunk_bytes, seed=int(density * 1000))
        tb.start_measure()
        await check_chunks(tb, chunks, elem_bits)
        cycles = tb.last_out - tb.first_in + 1
        enc = sum(golden.zvc.encoded_size(c, elem_bits) for c in chunks)
        report(out, dut="decompress", elem_bits=elem_bits, lanes=lanes, in_bytes=in_bytes,
               out_bytes=lanes * elem_bits // 8, density=density, raw_bytes=int(x.nbytes),
               enc_bytes=enc, chunks=len(chunks), windows=-(-x.size // 32), cycles=cycles,
               idle=idle, backpressure=backpressure)
        tb.log.info("density %.2f: %d cycles for %d raw bytes", density, cycles, x.nbytes)
