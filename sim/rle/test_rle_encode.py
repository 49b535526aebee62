"""cocotb tests of the generated RLE encoder (``cdma generate rle-encode``).

Every output byte is compared with ``golden.rle.encode`` of the same elements.
"""
from __future__ import annotations

import numpy as np

import cocotb
from cocotbext.axi import AxiStreamFrame

from cdma import golden
from cdma.sim.stream_tb import StreamTB, bench_settings, random_pauses, report

from .payloads import bench_data, payload_classes, random_elements


async def check_chunks(tb, chunks, names=None):
    for x in chunks:
        tb.source.send_nowait(AxiStreamFrame(x.tobytes()))
    for k, x in enumerate(chunks):
        data, _ = await tb.recv()
        expected = golden.rle.encode(x, tb.elem_bits)
        name = names[k] if names else f"chunk {k}"
        assert data == expected, (f"{name} ({x.size} elements): got {len(data)} bytes "
                                  f"{data[:20].hex()}..., golden {len(expected)} bytes "
                                  f"{expected[:20].hex()}...")
    tb.check_rules()


@cocotb.test(timeout_time=50, timeout_unit="ms")
async def test_payload_classes(dut):
    """Every payload class, random idle cycles on s_axis and backpressure on m_axis."""
    tb = StreamTB(dut)
    tb.set_idle_generator(random_pauses(0.2, 1))
    tb.set_backpressure_generator(random_pauses(0.3, 2))
    await tb.reset()
    cases = payload_classes(tb.elem_bits, tb.lanes, np.random.default_rng(tb.elem_bits + tb.lanes))
    tb.log.info("%d chunks", len(cases))
    await check_chunks(tb, [x for _, x in cases], [n for n, _ in cases])


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def test_back_to_back(dut):
    """Short random chunks back to back at full rate, then under heavy backpressure."""
    tb = StreamTB(dut)
    await tb.reset()
    rng = np.random.default_rng(3)
    chunks = [random_elements(int(rng.integers(1, 5 * tb.lanes)), float(rng.random()),
                              tb.elem_bits, rng) for _ in range(40)]
    await check_chunks(tb, chunks)
    tb.set_backpressure_generator(random_pauses(0.7, 4))
    await check_chunks(tb, chunks[::-1])


@cocotb.test(timeout_time=2000, timeout_unit="ms")
async def test_throughput(dut):
    """Bench: cycles for a transfer at each density, no idle, no backpressure."""
    tb = StreamTB(dut)
    out_bytes = tb.params.get("out_bytes") or tb.raw_bytes
    densities, nbytes, chunk_bytes, out = bench_settings()
    await tb.reset()
    for density in densities:
        x, chunks = bench_data(nbytes, density, tb.elem_bits, chunk_bytes,
                               seed=int(density * 1000))
        tb.start_measure()
        await check_chunks(tb, chunks)
        cycles = tb.measured_cycles()
        enc = sum(golden.rle.encoded_size(c, tb.elem_bits) for c in chunks)
        report(out, codec="rle", dut="compress", elem_bits=tb.elem_bits, lanes=tb.lanes,
               in_bytes=tb.raw_bytes, out_bytes=out_bytes, density=density,
               raw_bytes=int(x.nbytes), enc_bytes=enc, chunks=len(chunks),
               elements=int(x.size), cycles=cycles)
        tb.log.info("density %.2f: %d cycles for %d raw bytes", density, cycles, x.nbytes)


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def test_null_closing_beat(dut):
    """Chunks of whole beats closed by a beat with tkeep = 0 (also an empty chunk)."""
    tb = StreamTB(dut)
    tb.set_backpressure_generator(random_pauses(0.3, 13))
    await tb.reset()
    rng = np.random.default_rng(14)
    dt = golden.elem_dtype(tb.elem_bits)
    lanes = tb.lanes
    chunks = [np.zeros(256 + lanes, dt), np.zeros(0, dt), np.zeros(lanes, dt),
              random_elements(4 * lanes, 0.3, tb.elem_bits, rng), np.zeros(512, dt)]
    for x in chunks:
        data = x.tobytes()
        tb.source.send_nowait(AxiStreamFrame(data + b"\x00", tkeep=[1] * len(data) + [0]))
    for k, x in enumerate(chunks):
        data, _ = await tb.recv()
        assert data == golden.rle.encode(x, tb.elem_bits), f"chunk {k} ({x.size} elements)"
    tb.check_rules()
