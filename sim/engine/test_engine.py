"""cocotb tests of the generated cDMA engine against the golden transaction model.

Run from pytest (``tests/test_sim_engine.py``) or with ``make -C sim/engine``.
"""
from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, with_timeout

from golden.engine import OFFLOAD, PREFETCH, Descriptor

from .tb import TB, activations

CODECS = {"raw": 0, "zvc": 1, "rle": 2}


def _codecs(tb):
    """Codec ids built into the DUT (``codecs`` mask), optionally narrowed by CDMA_CODECS."""
    names = os.environ.get("CDMA_CODECS", "raw,zvc,rle").split(",")
    return [CODECS[n] for n in names if (tb.params["codecs"] >> CODECS[n]) & 1]


def _lengths(tb):
    """Raw lengths around every boundary: 1 element up to several chunks, odd sizes."""
    eb = tb.params["elem_bits"] // 8
    c = tb.params["chunk_bytes"]
    mb = tb.params["mem_bytes"]
    return [eb, 3 * eb, mb - eb, mb + eb, 37 * eb, c - eb, c, c + eb,
            2 * c + 45 * eb, 3 * c + mb]


def _place(tb, rng, lengths, base=0x1000, gap=256):
    """Aligned, non-overlapping addresses with guard gaps for ``lengths``."""
    mb = tb.params["mem_bytes"]
    addrs, a = [], base
    for n in lengths:
        a += rng.integers(0, 4) * mb          # vary the 4 KiB phase
        addrs.append(int(a))
        a += -(-n // mb) * mb + gap
    return addrs


async def _run_offload(tb, descs, timeout_us=2000):
    """Submit offload ``descs`` back to back; return (frames, statuses)."""
    async def submit():
        for d in descs:
            await tb.submit(d)
    cocotb.start_soon(submit())
    frames, statuses = [], []
    for d in descs:
        statuses.append(await with_timeout(tb.get_status(), timeout_us, "us"))
        if statuses[-1].code == 0:
            frames.append(await with_timeout(tb.get_c2h_frame(), timeout_us, "us"))
        else:
            frames.append(b"")
    return frames, statuses


async def _offload_case(dut, mem_pause, pcie_pause, latency, seed):
    tb = TB(dut, read_latency=latency)
    tb.set_memory_pauses(mem_pause, seed)
    tb.set_pcie_pauses(pcie_pause, seed + 7)
    await tb.reset()
    rng = np.random.default_rng(seed)
    E = tb.params["elem_bits"]
    eb = E // 8
    lengths = _lengths(tb)
    codecs = _codecs(tb)
    descs = []
    addrs = _place(tb, rng, lengths * len(codecs))
    for k, (a, n) in enumerate(zip(addrs, lengths * len(codecs))):
        codec = codecs[k // len(lengths)]
        density = [0.0, 0.1, 0.5, 0.9, 1.0][k % 5]
        x = activations(n // eb, density, E, rng)
        tb.write_mem(a, x.tobytes())
        descs.append(Descriptor(a, n, OFFLOAD, codec, tag=k & 0xFF))
    mem = tb.read_mem(0, addrs[-1] + lengths[-1] + 64)
    frames, statuses = await _run_offload(tb, descs)
    for d, f, s in zip(descs, frames, statuses):
        want_f, want_s = tb.model.offload(mem, d)
        assert s == want_s, f"{d}: status {s}, golden {want_s}"
        assert f == want_f, (f"{d}: frame of {len(f)} bytes differs from golden ({len(want_f)});"
                             f" first difference at byte "
                             f"{next((i for i, (u, v) in enumerate(zip(f, want_f)) if u != v), None)}")
    tb.log.info("offload: %d descriptors byte-exact in %d cycles", len(descs), tb.cycle)


@cocotb.test()
async def test_offload_clean(dut):
    """Offload, no pauses, no latency: frames and status == golden."""
    await _offload_case(dut, 0.0, 0.0, 0, seed=1)


@cocotb.test()
async def test_offload_stress(dut):
    """Offload with random memory pauses, PCIe backpressure and 24-cycle read latency."""
    await _offload_case(dut, 0.3, 0.4, 24, seed=2)


@cocotb.test()
async def test_offload_bad_descriptors(dut):
    """Misaligned address, odd length and unknown codec are reported; the engine goes on."""
    tb = TB(dut)
    await tb.reset()
    mb, eb = tb.params["mem_bytes"], tb.params["elem_bits"] // 8
    tb.write_mem(0x2000, bytes(range(256)) * 4)
    descs = [Descriptor(0x2000 + mb // 2, 64, OFFLOAD, 1, 1),
             Descriptor(0x2000, 64 + 1, OFFLOAD, 1, 2) if eb > 1 else
             Descriptor(0x2000, 64, OFFLOAD, 9, 2),
             Descriptor(0x2000, 64, OFFLOAD, 3, 3),
             Descriptor(0x2000, 1024, OFFLOAD, 0, 4)]
    mem = tb.read_mem(0, 0x3000)
    frames, statuses = await _run_offload(tb, descs)
    for d, f, s in zip(descs, frames, statuses):
        want_f, want_s = tb.model.offload(mem, d)
        assert (f, s) == (want_f, want_s), f"{d}: {s} vs golden {want_s}"
