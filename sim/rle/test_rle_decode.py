"""cocotb tests of the generated RLE decoder (``cdma generate rle-decode``).

Input chunks are ``golden.rle.encode`` payloads (or malformed variants that
``golden.rle.decode`` rejects); outputs are compared with the original elements
and error codes with the golden verdicts.
"""
from __future__ import annotations

import numpy as np

import cocotb
from cocotb.triggers import ClockCycles
from cocotbext.axi import AxiStreamFrame

from cdma import golden
from cdma.sim.stream_tb import StreamTB, bench_settings, random_pauses, report

from .payloads import bench_data, malformed_cases, payload_classes, random_elements


def frame_of(payload):
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
        tb.source.send_nowait(frame_of(payload))
    for _, count in items:
        await tb.send_count(count)


async def check_chunks(tb, chunks, names=None):
    items = [(golden.rle.encode(x, tb.elem_bits), x.size) for x in chunks]
    cocotb.start_soon(send_chunks(tb, items))
    for k, x in enumerate(chunks):
        data, user = await tb.recv()
        name = names[k] if names else f"chunk {k}"
        expected = x.tobytes()
        assert user == 0, f"{name}: error flag on a well-formed chunk"
        assert data == expected, (f"{name} ({x.size} elements): got {len(data)} bytes "
                                  f"{data[:16].hex()}..., expected {expected[:16].hex()}...")
    assert tb.errors == [], f"error pulses on well-formed input: {tb.errors}"
    tb.check_rules()


@cocotb.test(timeout_time=50, timeout_unit="ms")
async def test_payload_classes(dut):
    """Golden encodings of every payload class, random idle cycles and backpressure."""
    tb = StreamTB(dut)
    tb.set_idle_generator(random_pauses(0.2, 5))
    tb.set_backpressure_generator(random_pauses(0.3, 6))
    await tb.reset()
    cases = payload_classes(tb.elem_bits, tb.lanes,
                            np.random.default_rng(tb.elem_bits + tb.lanes + 1))
    await check_chunks(tb, [x for _, x in cases], [n for n, _ in cases])


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def test_malformed_recovery(dut):
    """Each malformed chunk raises the golden error code; the next good chunk decodes."""
    tb = StreamTB(dut)
    eb = tb.elem_bits // 8
    tb.set_idle_generator(random_pauses(0.2, 7))
    tb.set_backpressure_generator(random_pauses(0.3, 8))
    await tb.reset()
    rng = np.random.default_rng(9)
    items, expect = [], []
    for name, payload, count in malformed_cases(tb.elem_bits, rng):
        try:
            golden.rle.decode(payload, count, tb.elem_bits)
        except golden.FormatError as exc:
            code = int(exc.code)
        else:
            raise AssertionError(f"golden accepts the malformed case {name}")
        good = random_elements(45, 0.3, tb.elem_bits, rng)
        items += [(payload, count), (golden.rle.encode(good, tb.elem_bits), good.size)]
        expect += [(name, code, count), (f"good after {name}", None, good)]
    cocotb.start_soon(send_chunks(tb, items))
    for name, code, ref in expect:
        data, user = await tb.recv()
        if code is None:
            assert user == 0 and data == ref.tobytes(), f"{name}: not decoded exactly"
        else:
            assert user == 1, f"{name}: no error flag on the closing beat"
            assert len(data) <= ref * eb, f"{name}: more elements than the count"
    await ClockCycles(dut.clk, 5)
    codes = [c for _, c, _ in expect if c is not None]
    assert tb.errors == codes, f"error codes {tb.errors}, golden {codes}"
    tb.check_rules()


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def test_back_to_back(dut):
    """Short random chunks back to back at full rate."""
    tb = StreamTB(dut)
    await tb.reset()
    rng = np.random.default_rng(10)
    chunks = [random_elements(int(rng.integers(1, 5 * tb.lanes)), float(rng.random()),
                              tb.elem_bits, rng) for _ in range(40)]
    await check_chunks(tb, chunks)


@cocotb.test(timeout_time=2000, timeout_unit="ms")
async def test_throughput(dut):
    """Bench: cycles for a transfer at each density, no idle, no backpressure."""
    tb = StreamTB(dut)
    in_bytes = tb.params.get("in_bytes") or tb.raw_bytes
    densities, nbytes, chunk_bytes, out = bench_settings()
    await tb.reset()
    for density in densities:
        x, chunks = bench_data(nbytes, density, tb.elem_bits, chunk_bytes,
                               seed=int(density * 1000))
        tb.start_measure()
        await check_chunks(tb, chunks)
        cycles = tb.measured_cycles()
        enc = sum(golden.rle.encoded_size(c, tb.elem_bits) for c in chunks)
        report(out, codec="rle", dut="decompress", elem_bits=tb.elem_bits, lanes=tb.lanes,
               in_bytes=in_bytes, out_bytes=tb.raw_bytes, density=density,
               raw_bytes=int(x.nbytes), enc_bytes=enc, chunks=len(chunks),
               elements=int(x.size), cycles=cycles)
        tb.log.info("density %.2f: %d cycles for %d raw bytes", density, cycles, x.nbytes)
