# amaranth: UnusedElaboratable=no
"""Amaranth-simulator tests of the register front end (``hw/engine/csr.py``).

The AXI4-Lite accesses here are the few lines of :func:`_write`/:func:`_read`;
the driver-style cocotb bench (``sim/engine/test_axil.py``) drives the same
block with cocotbext-axi's ``AxiLiteMaster`` inside the whole engine.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from amaranth.sim import Simulator
from hwsim import add_rule_monitor

from cdma.golden.engine import OFFLOAD, PREFETCH, Descriptor, Status
from cdma.hw.engine import EngineParams
from cdma.hw.engine.csr import (COUNTERS, CSR_ID, REGISTERS, EngineCSR, config_words, register,
                                registers_markdown)

ROOT = Path(__file__).resolve().parents[1]
A = {r.name: r.offset for r in REGISTERS}
OKAY, SLVERR = 0, 2


def test_register_map_is_consistent():
    """Offsets word-aligned, unique, inside the 8-bit map; fields inside 32 bits, disjoint."""
    offsets = [r.offset for r in REGISTERS]
    assert offsets == sorted(set(offsets))
    assert all(o % 4 == 0 and o < 256 for o in offsets)
    assert {r.access for r in REGISTERS} <= {"RO", "RW", "WO"}
    for r in REGISTERS:
        used = 0
        for f in r.fields:
            bits = ((1 << f.width) - 1) << f.lsb
            assert bits < 1 << 32 and not used & bits, (r.name, f.name)
            used |= bits
    with pytest.raises(KeyError, match="NOPE"):
        register("NOPE")


def test_registers_md_is_generated_from_the_table():
    """docs/REGISTERS.md is exactly what `cdma registers` writes (regenerate it if not)."""
    text = (ROOT / "docs" / "REGISTERS.md").read_text()
    assert text == registers_markdown() + "\n", "run: cdma registers -o docs/REGISTERS.md"
    assert "REGISTERS.md" in (ROOT / "docs" / "ENGINE.md").read_text()


def test_cli_writes_the_map(tmp_path):
    from cdma.cli import main
    out = tmp_path / "r.md"
    assert main(["registers", "-o", str(out)]) == 0
    assert out.read_text() == registers_markdown() + "\n"


@pytest.mark.parametrize("kwargs, exc, text", [
    (dict(sub_depth=0), ValueError, "sub_depth.*0"),
    (dict(status_depth=256), ValueError, "status_depth.*256"),
    (dict(sub_depth="4"), TypeError, "sub_depth.*'4'"),
])
def test_parameters_validated(kwargs, exc, text):
    with pytest.raises(exc, match=text):
        EngineCSR(EngineParams(), **kwargs)
    with pytest.raises(TypeError, match="EngineParams"):
        EngineCSR({"elem_bits": 32})


# ---- simulation -----------------------------------------------------------------

async def _write(ctx, dut, addr, value, strb=0xF):
    """One AXI4-Lite write (AW and W together); returns BRESP."""
    ctx.set(dut.s_axil_awaddr, addr)
    ctx.set(dut.s_axil_wdata, value)
    ctx.set(dut.s_axil_wstrb, strb)
    ctx.set(dut.s_axil_awvalid, 1)
    ctx.set(dut.s_axil_wvalid, 1)
    ctx.set(dut.s_axil_bready, 1)
    await ctx.tick().until(dut.s_axil_awready & dut.s_axil_wready)
    ctx.set(dut.s_axil_awvalid, 0)
    ctx.set(dut.s_axil_wvalid, 0)
    if not ctx.get(dut.s_axil_bvalid):
        await ctx.tick().until(dut.s_axil_bvalid)
    resp = ctx.get(dut.s_axil_bresp)
    await ctx.tick()
    ctx.set(dut.s_axil_bready, 0)
    return resp


async def _read(ctx, dut, addr):
    """One AXI4-Lite read; returns (RDATA, RRESP)."""
    ctx.set(dut.s_axil_araddr, addr)
    ctx.set(dut.s_axil_arvalid, 1)
    ctx.set(dut.s_axil_rready, 1)
    await ctx.tick().until(dut.s_axil_arready)
    ctx.set(dut.s_axil_arvalid, 0)
    if not ctx.get(dut.s_axil_rvalid):
        await ctx.tick().until(dut.s_axil_rvalid)
    out = ctx.get(dut.s_axil_rdata), ctx.get(dut.s_axil_rresp)
    await ctx.tick()
    ctx.set(dut.s_axil_rready, 0)
    return out


def _run(dut, bench):
    """Run ``bench`` with the stream-rule monitor on the descriptor output."""
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    violations = []
    add_rule_monitor(sim, dut.desc, violations)
    sim.run()
    assert not violations, violations[:5]


async def _read_all(ctx, dut, skip=("STATUS_HI",)):
    """Every readable register over the bus, except those whose read has an effect."""
    out = {}
    for r in REGISTERS:
        if r.access != "WO" and r.name not in skip and not r.name.endswith("_LO"):
            out[r.name] = await _read(ctx, dut, r.offset)
    return out


def test_identity_and_config():
    p = EngineParams(elem_bits=16, mem_bytes=32, pcie_bytes=16, chunk_bytes=1024, codecs=3)
    dut = EngineCSR(p, sub_depth=3, status_depth=5)
    c0, c1 = config_words(p, 3, 5)

    async def bench(ctx):
        assert await _read(ctx, dut, A["ID"]) == (CSR_ID, OKAY)
        assert await _read(ctx, dut, A["CONFIG0"]) == (16 | 32 << 8 | 16 << 16 | 10 << 24, OKAY)
        assert await _read(ctx, dut, A["CONFIG0"]) == (c0, OKAY)
        assert await _read(ctx, dut, A["CONFIG1"]) == (3 | 32 << 8 | 3 << 16 | 5 << 24, OKAY)
        assert c1 == 3 | 32 << 8 | 3 << 16 | 5 << 24
        assert await _read(ctx, dut, A["SUB_FREE"]) == (3 | 3 << 8, OKAY)
        assert await _read(ctx, dut, A["IRQ_THRESHOLD"]) == (1, OKAY)
    _run(dut, bench)


def test_zvce_table_registers():
    """ZVCE_TABLE0..3 read back what was written (byte strobes too) and are the
    ``zvce_table`` output, ZVCE_TABLE0's byte 0 in bits 7..0; reset 0."""
    dut = EngineCSR(EngineParams(codecs=0b1111, elem_bits=32))
    table = bytes(range(0x31, 0x41))

    async def bench(ctx):
        assert ctx.get(dut.zvce_table) == 0
        for k in range(4):
            assert await _read(ctx, dut, A[f"ZVCE_TABLE{k}"]) == (0, OKAY)
            word = int.from_bytes(table[4 * k:4 * k + 4], "little")
            assert await _write(ctx, dut, A[f"ZVCE_TABLE{k}"], word) == OKAY
        assert ctx.get(dut.zvce_table) == int.from_bytes(table, "little")
        assert await _write(ctx, dut, A["ZVCE_TABLE2"], 0xFFFFFFFF, strb=0b0010) == OKAY
        want = bytearray(table)
        want[9] = 0xFF
        assert ctx.get(dut.zvce_table) == int.from_bytes(want, "little")
        assert await _read(ctx, dut, A["ZVCE_TABLE2"]) == (int.from_bytes(want[8:12], "little"),
                                                           OKAY)
    _run(dut, bench)


def test_submission_queues_and_illegal_writes():
    """One queue per direction; a doorbell on a full queue, RO writes, partial
    strobes and bad values answer SLVERR and change nothing; one descriptor per
    direction is issued until its status comes back, so a stalled direction never
    holds up the other."""
    dut = EngineCSR(EngineParams(), sub_depth=2, status_depth=8)
    off = [Descriptor(0x1000 * (k + 1) + (7 << 36), 100 + k, OFFLOAD, 1, tag=k) for k in range(4)]
    pre = [Descriptor(0x9000 * (k + 1), 200 + k, PREFETCH, 0, tag=10 + k) for k in range(3)]
    odd = Descriptor(0x100, 64, 3, 1, tag=20)           # unknown direction: the offload queue

    async def stage(ctx, d):
        raw = d.pack()
        for k, name in enumerate(("DESC_ADDR_LO", "DESC_ADDR_HI", "DESC_LENGTH", "DESC_CTRL")):
            assert await _write(ctx, dut, A[name], int.from_bytes(raw[4 * k:4 * k + 4], "little")) \
                == OKAY

    async def submit(ctx, d):
        await stage(ctx, d)
        return await _write(ctx, dut, A["DOORBELL"], 1)

    async def issued(ctx, cycles=6):
        """Descriptors taken from ``desc`` (ready high) in ``cycles`` cycles."""
        got = []
        ctx.set(dut.desc.ready, 1)
        for _ in range(cycles):
            if ctx.get(dut.desc.valid):             # ready is high: taken at this edge
                got.append(Descriptor.unpack(ctx.get(dut.desc.p).to_bytes(16, "little")))
            await ctx.tick()
        ctx.set(dut.desc.ready, 0)
        return got

    async def status(ctx, d):
        ctx.set(dut.status.p, int.from_bytes(Status(0, d.tag, 0, d.direction).pack(), "little"))
        ctx.set(dut.status.valid, 1)
        await ctx.tick().until(dut.status.ready)
        ctx.set(dut.status.valid, 0)

    async def bench(ctx):
        ctx.set(dut.desc.ready, 0)
        for d in off[:3]:                   # one moves on to the output register
            assert await submit(ctx, d) == OKAY
        for d in pre[:2]:
            assert await submit(ctx, d) == OKAY
        assert await _read(ctx, dut, A["SUB_FREE"]) == (0, OKAY)
        await stage(ctx, pre[2])
        assert await _write(ctx, dut, A["DOORBELL"], 1) == SLVERR     # prefetch queue full
        await stage(ctx, off[3])
        before = await _read_all(ctx, dut)
        assert await _write(ctx, dut, A["DOORBELL"], 1) == SLVERR     # offload queue full
        # illegal accesses
        assert await _write(ctx, dut, A["SUB_FREE"], 5) == SLVERR          # read-only
        assert await _write(ctx, dut, A["ID"], 5) == SLVERR
        assert await _write(ctx, dut, 0x28, 5) == SLVERR                   # unmapped
        assert await _write(ctx, dut, 0xFC, 5) == SLVERR
        # the low address bits are ignored: 0x41 is IRQ_ENABLE, and 1 << 8 is out of its range
        assert await _write(ctx, dut, A["IRQ_ENABLE"] + 1, 1 << 8) == SLVERR
        assert await _write(ctx, dut, A["IRQ_ENABLE"], 1, strb=0b0001) == SLVERR  # partial
        assert await _write(ctx, dut, A["DOORBELL"], 1, strb=0b0011) == SLVERR
        assert await _write(ctx, dut, A["IRQ_THRESHOLD"], 0) == SLVERR     # out of range
        assert await _write(ctx, dut, A["IRQ_THRESHOLD"], 9) == SLVERR
        assert await _write(ctx, dut, A["IRQ_TIMEOUT"], 1 << 16) == SLVERR
        assert await _write(ctx, dut, A["IRQ_ENABLE"], 2) == SLVERR
        assert await _read(ctx, dut, 0x28) == (0, SLVERR)
        assert await _read(ctx, dut, A["DOORBELL"]) == (0, SLVERR)         # write-only
        assert await _read(ctx, dut, A["ID"] + 2) == (CSR_ID, OKAY)        # whole word
        assert await _read(ctx, dut, A["STATUS_LO"]) == (0, SLVERR)        # queue empty
        assert await _read(ctx, dut, A["STATUS_HI"]) == (0, SLVERR)
        after = await _read_all(ctx, dut)
        assert after == before
        # byte strobes on the descriptor words
        assert await _write(ctx, dut, A["DESC_LENGTH"], 0xAABBCCDD) == OKAY
        assert await _write(ctx, dut, A["DESC_LENGTH"], 0x11111111, strb=0b0100) == OKAY
        assert await _read(ctx, dut, A["DESC_LENGTH"]) == (0xAA11CCDD, OKAY)
        # issue: one per direction until its status is back, each direction in order
        assert await issued(ctx) == [off[0], pre[0]]
        assert await _read(ctx, dut, A["SUB_FREE"]) == (0 | 1 << 8, OKAY)   # off[1:3] wait
        await status(ctx, pre[0])
        assert await issued(ctx) == [pre[1]]            # offload still busy: only prefetch
        await status(ctx, off[0])
        assert await issued(ctx) == [off[1]]
        assert await submit(ctx, odd) == OKAY
        await status(ctx, off[1])
        assert await issued(ctx) == [off[2]]
        await status(ctx, off[2])
        assert await issued(ctx) == [odd]
        await status(ctx, odd)                          # direction 3 ends the offload slot
        assert await issued(ctx) == []
        assert await submit(ctx, off[3]) == OKAY
        assert await issued(ctx) == [off[3]]
        assert await _read(ctx, dut, A["SUB_FREE"]) == (2 | 2 << 8, OKAY)
    _run(dut, bench)


def test_status_queue_irq_and_counters():
    """Statuses are read word by word (HI pops); irq follows mask, threshold and
    time-out; counters add the byte inputs and count statuses by direction."""
    dut = EngineCSR(EngineParams(), sub_depth=2, status_depth=4)
    sts = [Status(100, 1, 0, OFFLOAD), Status(200, 2, 19, OFFLOAD), Status(300, 3, 0, PREFETCH),
           Status(400, 4, 7, PREFETCH), Status(500, 5, 24, 9)]

    async def push(ctx, s):
        ctx.set(dut.status.p, int.from_bytes(s.pack(), "little"))
        ctx.set(dut.status.valid, 1)
        await ctx.tick().until(dut.status.ready)
        ctx.set(dut.status.valid, 0)

    async def pop(ctx):
        lo, r1 = await _read(ctx, dut, A["STATUS_LO"])
        hi, r2 = await _read(ctx, dut, A["STATUS_HI"])
        assert (r1, r2) == (OKAY, OKAY)
        return Status.unpack((lo | hi << 32).to_bytes(8, "little"))

    async def counter(ctx, name):
        lo, r1 = await _read(ctx, dut, A[name + "_LO"])
        hi, r2 = await _read(ctx, dut, A[name + "_HI"])
        assert (r1, r2) == (OKAY, OKAY)
        return lo | hi << 32

    async def bench(ctx):
        assert ctx.get(dut.irq) == 0
        await push(ctx, sts[0])
        await ctx.tick().repeat(2)
        assert ctx.get(dut.irq) == 0                               # masked
        assert await _read(ctx, dut, A["IRQ_PENDING"]) == (1, OKAY)
        assert await _write(ctx, dut, A["IRQ_ENABLE"], 1) == OKAY
        await ctx.tick()
        assert ctx.get(dut.irq) == 1
        assert await _read(ctx, dut, A["IRQ_PENDING"]) == (3, OKAY)
        assert await _write(ctx, dut, A["IRQ_THRESHOLD"], 3) == OKAY   # coalesce 3
        await ctx.tick()
        assert ctx.get(dut.irq) == 0
        await push(ctx, sts[1])
        await ctx.tick().repeat(3)
        assert ctx.get(dut.irq) == 0
        await push(ctx, sts[2])
        await ctx.tick().repeat(2)
        assert ctx.get(dut.irq) == 1
        assert await _read(ctx, dut, A["STATUS_COUNT"]) == (3, OKAY)
        assert await pop(ctx) == sts[0]
        await ctx.tick()
        assert ctx.get(dut.irq) == 0                               # below the threshold
        # time-out: 20 cycles after the pop the two left interrupt
        assert await _write(ctx, dut, A["IRQ_TIMEOUT"], 20) == OKAY
        for _ in range(10):
            await ctx.tick()
        assert ctx.get(dut.irq) == 0
        await ctx.tick().repeat(15)
        assert ctx.get(dut.irq) == 1
        assert await pop(ctx) == sts[1]
        await ctx.tick()
        assert ctx.get(dut.irq) == 0                               # the pop restarts the timer
        for s in sts[3:]:
            await push(ctx, s)
        assert [await pop(ctx) for _ in range(3)] == sts[2:]
        assert await _read(ctx, dut, A["STATUS_COUNT"]) == (0, OKAY)
        await ctx.tick().repeat(30)
        assert ctx.get(dut.irq) == 0
        # byte counters: large enough to carry into the high word
        ctx.set(dut.add_off_raw, 200)
        ctx.set(dut.add_pre_raw, 1)
        await ctx.tick().repeat(1000)
        ctx.set(dut.add_off_raw, 0)
        ctx.set(dut.add_pre_raw, 0)
        await ctx.tick()
        want = {"OFF_RAW_BYTES": 200_000, "PRE_RAW_BYTES": 1000, "OFF_FRAME_BYTES": 0,
                "OFF_DONE": 3, "OFF_ERRORS": 2, "PRE_DONE": 2, "PRE_ERRORS": 1}
        for name, value in want.items():
            assert await counter(ctx, name) == value, name
        assert [n for n, _ in COUNTERS] == list(dict.fromkeys(n for n, _ in COUNTERS))
    _run(dut, bench)


def test_counter_snapshot():
    """A _HI read returns the high word latched by the last _LO read, not the live one."""
    dut = EngineCSR(EngineParams())
    cnt = dut.counters["PRE_FRAME_BYTES"]

    async def bench(ctx):
        ctx.set(cnt, (1 << 32) - 40 * 255)
        await ctx.tick()
        ctx.set(dut.add_pre_frame, 255)
        lo, _ = await _read(ctx, dut, A["PRE_FRAME_BYTES_LO"])   # before the carry
        await ctx.tick().repeat(60)
        assert ctx.get(cnt) >> 32 == 1                          # carried since
        assert await _read(ctx, dut, A["PRE_FRAME_BYTES_HI"]) == (0, OKAY)
        lo2, _ = await _read(ctx, dut, A["PRE_FRAME_BYTES_LO"])
        assert await _read(ctx, dut, A["PRE_FRAME_BYTES_HI"]) == (1, OKAY)
        assert lo > (1 << 31) and lo2 < 100 * 255
    _run(dut, bench)
