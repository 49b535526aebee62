"""cocotb tests of the generated ZVC compressor (``cdma generate zvc-compress``).

Every output byte is compared with ``golden.zvc.encode`` of the same elements.
"""
from __future__ import annotations

import numpy as np

import cocotb
from cocotbext.axi import AxiStreamFrame

from cdma import golden
from cdma.sim.stream_tb import StreamTB, random_pauses

from .common import bench_data, bench_pauses, bench_settings, elem_params, report
from .payloads import payload_classes, random_elements


async def check_chunks(tb, chunks, elem_bits):
    for x in chunks:
        tb.source.send_nowait(AxiStreamFrame(x.tobytes()))
    for k, x in enumerate(chunks):
        data, _ = await tb.recv()
        expected = golden.zvc.encode(x, elem_bits)
        assert data == expected, (f"chunk {k} ({x.size} elements): got {len(data)} bytes "
                                  f"{data[:16].hex()}..., golden {len(expected)} bytes "
                                  f"{expected[:16].hex()}...")
    tb.check_rules()


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def test_payload_classes(dut):
    """Every payload class, random idle cycles on s_axis and backpressure on m_axis."""
    tb = StreamTB(dut)
    elem_bits, lanes = elem_params(tb.params)
    tb.set_idle_generator(random_pauses(0.2, 1))
    tb.set_backpressure_generator(random_pauses(0.3, 2))
    await tb.reset()
    cases = payload_classes(elem_bits, lanes, np.random.default_rng(elem_bits + lanes))
    tb.log.info("%d chunks", len(cases))
    await check_chunks(tb, [x for _, x in cases], elem_bits)


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def test_back_to_back(dut):
    """Short random chunks back to back at full rate (chunk boundaries without gaps)."""
    tb = StreamTB(dut)
    elem_bits, lanes = elem_params(tb.params)
    await tb.reset()
    rng = np.random.default_rng(3)
    chunks = [random_elements(int(rng.integers(1, 5 * lanes)), float(rng.random()), elem_bits, rng)
              for _ in range(40)]
    await check_chunks(tb, chunks, elem_bits)
    tb.set_backpressure_generator(random_pauses(0.7, 4))
    await check_chunks(tb, chunks[::-1], elem_bits)


@cocotb.test(timeout_time=1000, timeout_unit="ms")
async def test_throughput(dut):
    """Bench: cycles for a transfer at each density (no idle, no backpressure unless asked)."""
    tb = StreamTB(dut)
    elem_bits, lanes = elem_params(tb.params)
    out_bytes = tb.params.get("out_bytes") or lanes * elem_bits // 8
    densities, nbytes, chunk_bytes, out = bench_settings()
    idle, backpressure = bench_pauses(tb)
    await tb.reset()
    for density in densities:
        x, chunks = bench_data(nbytes, density, elem_bits, chunk_bytes, seed=int(density * 1000))
        tb.start_measure()
        await check_chunks(tb, chunks, elem_bits)
        cycles = tb.last_out - tb.first_in + 1
        enc = sum(golden.zvc.encoded_size(c, elem_bits) for c in chunks)
        report(out, dut="compress", elem_bits=elem_bits, lanes=lanes, in_bytes=lanes * elem_bits // 8,
               out_bytes=out_bytes, density=density, raw_bytes=int(x.nbytes), enc_bytes=enc,
               chunks=len(chunks), windows=-(-x.size // 32), cycles=cycles,
               idle=idle, backpressure=backpressure)
        tb.log.info("density %.2f: %d cycles for %d raw bytes", density, cycles, x.nbytes)
