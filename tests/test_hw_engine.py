"""Amaranth-simulator unit tests of the engine's building blocks (hw/engine/).

The whole engine is checked byte for byte against ``golden.engine`` by the
cocotb benches (``tests/test_sim_engine.py``); here the pieces are checked
alone: parameter validation, the fetch unit's bursts (AXI rules: <= 256 beats,
never across 4 KiB, outstanding bursts bounded), the write unit's
destination-range guard and the top level's descriptor range check.
"""
from __future__ import annotations

import random
import re

import pytest
from amaranth.sim import Simulator

from cdma import golden
from cdma.hw.engine import CDMAEngine, EngineError, EngineParams
from cdma.hw.engine.fetch import FetchUnit
from cdma.hw.engine.writer import WriteUnit
from hwsim import add_watchdog


# ---- parameters and codes -----------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    (dict(elem_bits=12), "elem_bits must be 8, 16 or 32, not 12"),
    (dict(mem_bytes=48), "mem_bytes must be a power of two from 16 to 128, not 48"),
    (dict(elem_bits=8, mem_bytes=64),
     "mem_bytes must hold at most 32 elements of 8 bits (<= 32), not 64"),
    (dict(pcie_bytes=2), "pcie_bytes must be a power of two from 4 to 128, not 2"),
    (dict(chunk_bytes=1000), "chunk_bytes must be a power of two from 512 to 65536, not 1000"),
    (dict(addr_width=70), "addr_width must be from 12 to 64, not 70"),
    (dict(codecs=9), "codecs must be a mask of bits 0..2, not 9"),
    (dict(fetch_beats=8), "fetch_beats must be an integer >= 64, not 8"),
    (dict(chunk_banks=3), "chunk_banks must be 2 or 4, not 3"),
    (dict(dec_instances=3), "dec_instances must be 1 or 2, not 3"),
])
def test_params_rejected(kwargs, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        EngineParams(**kwargs)


def test_params_type():
    with pytest.raises(TypeError, match="mem_bytes must be an integer, not '64'"):
        EngineParams(mem_bytes="64")
    with pytest.raises(TypeError, match="params must be an EngineParams"):
        CDMAEngine(params={"mem_bytes": 64})


def test_error_codes_match_golden():
    """The hardware status codes are golden.ErrorCode, number for number."""
    assert {e.name: e.value for e in EngineError} == {e.name: e.value for e in golden.ErrorCode}


# ---- fetch unit -----------------------------------------------------------------------

@pytest.mark.parametrize("data_bytes, start_beat, beats", [(64, 0, 300), (64, 37, 150),
                                                           (16, 250, 700), (64, 63, 1)])
def test_fetch_bursts(data_bytes, start_beat, beats):
    """Bursts <= 256 beats never crossing 4 KiB; data in order; outstanding bounded."""
    rng = random.Random(beats)
    dut = FetchUnit(addr_width=32, data_bytes=data_bytes, buffer_beats=4 * min(256, 4096 // data_bytes),
                    max_outstanding=3)
    addr0 = 0x10000 + start_beat * data_bytes
    bursts, got = [], []
    pending = []

    async def cmd(ctx):
        ctx.set(dut.cmd.valid, 1)
        ctx.set(dut.cmd.p.addr, addr0)
        ctx.set(dut.cmd.p.beats, beats)
        await ctx.tick().until(dut.cmd.ready)
        ctx.set(dut.cmd.valid, 0)

    async def mem(ctx):
        """AR accepted at random; R beats (data = address) after a latency."""
        queue = []
        while len(got) < beats:
            ctx.set(dut.arready, rng.random() < 0.6)
            if queue and queue[0][0] <= 0:
                _, a, last = queue[0]
                ctx.set(dut.rvalid, 1)
                ctx.set(dut.rdata, a)
                ctx.set(dut.rlast, last)
                ctx.set(dut.rresp, 0)
            else:
                ctx.set(dut.rvalid, 0)
            _, _, arv, arr, ara, arl, rv, rr = await ctx.tick().sample(
                dut.arvalid, dut.arready, dut.araddr, dut.arlen, dut.rvalid, dut.rready)
            if rv and rr:
                queue.pop(0)
            queue = [(t - 1, a, l) for t, a, l in queue]
            if arv and arr:
                n = arl + 1
                bursts.append((ara, n))
                queue += [(8, ara + k * data_bytes, k == n - 1) for k in range(n)]
            pending.append(sum(1 for q in queue if q[2]))     # bursts not yet completed

    async def out(ctx):
        ctx.set(dut.o.ready, 1)
        while len(got) < beats:
            ctx.set(dut.o.ready, rng.random() < 0.8)
            _, _, v, r, d = await ctx.tick().sample(dut.o.valid, dut.o.ready, dut.o.payload)
            if v and r:
                got.append(d)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(cmd)
    sim.add_testbench(mem)
    sim.add_testbench(out)
    add_watchdog(sim, 500_000)
    sim.run()
    assert got == [addr0 + k * data_bytes for k in range(beats)]
    assert sum(n for _, n in bursts) == beats
    for a, n in bursts:
        assert 1 <= n <= 256 and a // 4096 == (a + n * data_bytes - 1) // 4096, (hex(a), n)
    # At most max_outstanding bursts in flight, and that many are used (the
    # memory answers 8 cycles after an AR, so a unit that waits for each burst
    # before the next would stay at 1).
    assert max(pending) == min(3, len(bursts)), (max(pending), len(bursts))


# ---- write unit: the destination-range guard ------------------------------------------

@pytest.mark.parametrize("mem_bytes, start_beat, length, extra, ok", [
    (64, 0, 64 * 150 + 20, 7, True), (64, 50, 4096 + 4, 3, True), (16, 3, 100, 40, True),
    (64, 10, 64 * 200, 0, False)])
def test_writer_guard(mem_bytes, start_beat, length, extra, ok):
    """Extra input beats and strobes past addr + length never reach the bus."""
    rng = random.Random(length)
    p = EngineParams(elem_bits=32, mem_bytes=mem_bytes)
    dut = WriteUnit(p)
    addr0 = 0x20000 + start_beat * mem_bytes
    nbeats = -(-length // mem_bytes) + extra
    if not ok:
        nbeats = nbeats // 2          # an error frame: stops early
    written = {}
    state = dict(done=None)

    async def ctrl(ctx):
        ctx.set(dut.start.valid, 1)
        ctx.set(dut.start.p.addr, addr0)
        ctx.set(dut.start.p.length, length)
        await ctx.tick().until(dut.start.ready)
        ctx.set(dut.start.valid, 0)
        for k in range(nbeats):
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.p.data, int.from_bytes(bytes([(k + j) & 0xFF for j in range(mem_bytes)]),
                                                 "little"))
            ctx.set(dut.i.p.strb, (1 << mem_bytes) - 1)
            await ctx.tick().until(dut.i.ready)
        ctx.set(dut.i.valid, 0)
        ctx.set(dut.finish.valid, 1)
        ctx.set(dut.finish.p.ok, ok)
        await ctx.tick().until(dut.finish.ready)
        ctx.set(dut.finish.valid, 0)
        ctx.set(dut.done.ready, 1)
        (resp,) = await ctx.tick().sample(dut.done.p.resp).until(dut.done.valid)
        state["done"] = resp

    async def mem(ctx):
        bursts = []
        cur = None
        pend_b = 0
        while state["done"] is None:
            ctx.set(dut.awready, rng.random() < 0.5)
            ctx.set(dut.wready, rng.random() < 0.7)
            ctx.set(dut.bvalid, pend_b > 0)
            ctx.set(dut.bresp, 0)
            _, _, awv, awr, awa, awl, wv, wr, wd, ws, wl, bv = await ctx.tick().sample(
                dut.awvalid, dut.awready, dut.awaddr, dut.awlen, dut.wvalid, dut.wready,
                dut.wdata, dut.wstrb, dut.wlast, dut.bvalid)
            if bv:
                pend_b -= 1
            if awv and awr:
                assert awl + 1 <= 256 and awa // 4096 == (awa + (awl + 1) * mem_bytes - 1) // 4096
                bursts.append([awa, awl + 1])
            if wv and wr:
                if cur is None:
                    cur = bursts.pop(0)
                a = cur[0]
                for j in range(mem_bytes):
                    if ws >> j & 1:
                        written[a + j] = (wd >> (8 * j)) & 0xFF
                cur[0] += mem_bytes
                cur[1] -= 1
                assert bool(wl) == (cur[1] == 0), "WLAST not on the burst's last beat"
                if cur[1] == 0:
                    cur = None
                    pend_b += 1

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(ctrl)
    sim.add_testbench(mem, background=True)
    add_watchdog(sim, 500_000)
    sim.run()
    assert state["done"] == 0
    assert all(addr0 <= a < addr0 + length for a in written), "write outside the range"
    if ok:
        assert len(written) == length
        for a, v in written.items():
            k, j = divmod(a - addr0, mem_bytes)
            assert v == (k + j) & 0xFF


# ---- descriptor range check of the top level -------------------------------------------

@pytest.mark.parametrize("aw", [12, 64])
def test_top_rejects_out_of_range(aw):
    """Descriptors outside [0, 2**addr_width) get DESC_RANGE as golden and no AR/AW.

    The top level checks the full 64-bit address (the units only see
    ``addr_width`` bits), so the extremes of both ends of ``addr_width`` are
    covered here; the full engine is checked in ``sim/faults``.
    """
    from cdma.golden.engine import OFFLOAD, PREFETCH, Descriptor, EngineModel, Status
    p = EngineParams(elem_bits=32, mem_bytes=16, pcie_bytes=8, chunk_bytes=512, codecs=1,
                     addr_width=aw)
    model = EngineModel(32, 16, 512, 1, aw)
    dut = CDMAEngine(p)
    top = 1 << aw
    frame = bytes(range(8))                  # one H2C beat, drained whatever it holds
    beyond = (1 << 63) | 64 if aw < 64 else (1 << 64) - 64      # bits above addr_width / wraps
    cases = [Descriptor(top - 64, 128, OFFLOAD, 0, 1),
             Descriptor(beyond, 0 if aw < 64 else 128, OFFLOAD, 0, 2),
             Descriptor((1 << 64) - 64, 128, OFFLOAD, 0, 3),
             Descriptor(top - 16, 32, PREFETCH, 0, 4), Descriptor(beyond, 128, PREFETCH, 0, 5)]
    got, bursts = [], []

    async def bench(ctx):
        ctx.set(dut.m_axis_status_tready, 1)
        for d in cases:
            if d.direction == PREFETCH:
                ctx.set(dut.s_axis_h2c_tdata, int.from_bytes(frame, "little"))
                ctx.set(dut.s_axis_h2c_tkeep, 0xFF)
                ctx.set(dut.s_axis_h2c_tlast, 1)
                ctx.set(dut.s_axis_h2c_tvalid, 1)
            ctx.set(dut.s_axis_desc_tdata, int.from_bytes(d.pack(), "little"))
            ctx.set(dut.s_axis_desc_tvalid, 1)
            for _ in range(200):             # bounded: a busy engine must not hang the test
                _, _, taken = await ctx.tick().sample(dut.s_axis_desc_tready)
                if taken:
                    break
            ctx.set(dut.s_axis_desc_tvalid, 0)
            for _ in range(200):
                _, _, arv, awv, h2c_ready, sv, sd = await ctx.tick().sample(
                    dut.m_axi_arvalid, dut.m_axi_awvalid, dut.s_axis_h2c_tready,
                    dut.m_axis_status_tvalid, dut.m_axis_status_tdata)
                if arv or awv:
                    bursts.append(d)
                if h2c_ready:
                    ctx.set(dut.s_axis_h2c_tvalid, 0)
                if sv:
                    got.append(Status.unpack(int(sd).to_bytes(8, "little")))
                    break

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    add_watchdog(sim, 500_000)
    sim.run()
    want = [model.offload(bytes(64), d)[1] if d.direction == OFFLOAD else model.prefetch(d, frame)[1]
            for d in cases]
    assert got == want
    assert all(s.code == EngineError.DESC_RANGE for s in want)
    assert not bursts


# ---- generated top level --------------------------------------------------------------

def test_generated_ports(tmp_path, capsys):
    """`cdma generate engine` writes a module with the conventional AXI port names."""
    import re

    from cdma.cli import main
    out = tmp_path / "e.v"
    assert main(["generate", "engine", "--mem-bytes", "16", "--pcie-bytes", "8", "--chunk-bytes", "512",
                 "--codecs", "1", "--top", "eng", "-o", str(out)]) == 0
    text = out.read_text()
    err = capsys.readouterr().err
    # The port summary (what `make` shows of the default engine) and the descriptor notes.
    assert f"wrote {out}: module eng, {len(text.splitlines())} lines of Verilog" in err
    assert "fetch_beats=1024" in err   # derived: 4 longest bursts (4 KiB / 16 B = 256 beats)
    assert "  m_axis_c2h_*   out: tdata[64] tkeep[8] tlast tvalid\n" in err
    assert "  descriptor (s_axis_desc, 16 B LE): addr u64 | length u32" in err
    ports = {name: d for d, name in re.findall(r"^\s*(input|output)\s+(?:\[\d+:0\]\s+)?(\w+);",
                                               text, re.M)}
    for name in ("m_axi_araddr", "m_axi_arlen", "m_axi_arvalid", "m_axi_wdata", "m_axi_wstrb",
                 "m_axi_wlast", "m_axis_c2h_tdata", "m_axis_c2h_tkeep", "m_axis_c2h_tlast",
                 "m_axis_status_tvalid", "m_axi_awid", "m_axi_bresp"):
        assert ports.get(name) == ("input" if name == "m_axi_bresp" else "output"), name
    for name in ("m_axi_arready", "m_axi_rdata", "s_axis_h2c_tdata", "s_axis_desc_tdata",
                 "s_axis_h2c_tlast", "m_axis_c2h_tready", "clk", "rst"):
        assert ports.get(name) == "input", name
    assert re.search(r"input\s+\[127:0\]\s+m_axi_rdata;", text)
    assert re.search(r"output\s+\[63:0\]\s+m_axis_c2h_tdata;", text)
    with pytest.raises(ValueError, match="pcie_bytes must be a power of two from 4 to 128, not 3"):
        CDMAEngine(pcie_bytes=3)
