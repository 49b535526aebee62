"""Driver-style cocotb benches of ``engine-axil``: the host drives the engine through its registers.

Run from pytest (``tests/test_sim_engine_axil.py``) or with
``make -C sim/engine TOP=engine-axil``.  Every frame, memory image and status
word is compared with the golden model (``cdma.golden.engine.EngineModel``),
every counter with the bytes that crossed the ports.
"""
from __future__ import annotations

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, RisingEdge, with_timeout
from cocotbext.axi import AxiResp

from cdma.golden import ErrorCode
from cdma.golden.engine import OFFLOAD, PREFETCH, Descriptor, Status
from cdma.hw.engine.csr import COUNTERS, REGISTERS
from cdma.sim.zvce.payloads import activations as relu_activations

from .driver import REG, EngineConfig
from .tb import activations, place_ranges
from .tb_axil import AxilTB

GUARD = 0xA5


def _mem_bytes_read(tb, descs, statuses):
    """Bytes an offload reads from memory: whole beats of every descriptor it ran."""
    mb = tb.params["mem_bytes"]
    ran = (ErrorCode.OK, ErrorCode.AXI_SLVERR, ErrorCode.AXI_DECERR)
    return sum(-(-d.length // mb) * mb for d, s in zip(descs, statuses)
               if d.direction == OFFLOAD and s.code in ran)


async def _host_run(tb, descs, frames_in=None, timeout_us=3000):
    """The driver's main loop: submit while there is room, otherwise (and after
    the last one) wait for the interrupt and drain the status queue.  H2C frames
    ``frames_in`` are fed beside it; C2H frames are collected.  Returns
    ``(statuses in descriptor order, C2H frames)``."""
    drv = tb.drv
    frames = []

    async def collect():
        while True:
            frames.append(await tb.get_c2h_frame())
    collector = cocotb.start_soon(collect())
    if frames_in:
        async def feed():
            for f in frames_in:
                await tb.send_h2c_frame(f)
        cocotb.start_soon(feed())

    async def loop():
        pending, done = list(descs), []
        while len(done) < len(descs):
            while pending and await drv.try_submit(pending[0]):
                pending.pop(0)
            assert await drv.wait_irq(), f"no interrupt; {len(done)} of {len(descs)} statuses"
            done += await drv.drain()
        return done
    done = await with_timeout(loop(), timeout_us, "us")
    await ClockCycles(tb.dut.clk, 4)
    collector.cancel()
    by_tag = {s.tag: s for s in done}
    assert len(by_tag) == len(done) == len(descs), "statuses lost or duplicated"
    return [by_tag[d.tag] for d in descs], frames


async def _check_counters(tb, want):
    """Counters == the bytes the monitor saw on the ports, and == ``want`` (golden)."""
    got = await tb.drv.counters()
    for name, value in tb.moved.items():
        assert got[name] == value, f"{name}: counter {got[name]}, bytes on the ports {value}"
    for name, value in want.items():
        assert got[name] == value, f"{name}: counter {got[name]}, golden {value}"
    return got


@cocotb.test()
async def test_identity_and_illegal_accesses(dut):
    """ID/CONFIG describe the build; every illegal access answers SLVERR and changes
    nothing (registers, queues, counters, buses); the engine works afterwards."""
    tb = AxilTB(dut)
    await tb.reset()
    drv = tb.drv
    p = tb.params
    cfg = await drv.probe()
    assert cfg == EngineConfig(p["elem_bits"], p["mem_bytes"], p["pcie_bytes"],
                               p["chunk_bytes"], p["codecs"] | 1, p["addr_width"],
                               p["sub_depth"], p["status_depth"]), cfg
    assert await drv.read_ok("VERSION") == 0x0101
    await drv.write_ok("DESC_LENGTH", 0x12345678)
    await drv.write_ok("IRQ_THRESHOLD", 2)

    readable = [r.name for r in REGISTERS if r.access != "WO" and not r.name.startswith(
        ("STATUS_LO", "STATUS_HI")) and r.name[:-3] not in dict(COUNTERS)]

    async def state():
        return ({n: await drv.read(n) for n in readable}, await drv.counters())
    before = await state()
    mapped = {r.offset for r in REGISTERS}
    unmapped = [a for a in range(0, 256, 4) if a not in mapped]
    assert len(unmapped) > 10
    illegal = []
    for a in unmapped:
        illegal += [("write", a, 0xFFFFFFFF, 0xF), ("read", a)]
    for r in REGISTERS:
        if r.access == "RO":
            illegal.append(("write", r.offset, 0, 0xF))
        if r.access == "WO":
            illegal.append(("read", r.offset))
        if r.access != "RO" and not r.byte_strobes:
            illegal += [("write", r.offset, 1, 0b0011), ("write", r.offset, 1, 0b0001),
                        ("write", r.offset, 1 << 16, 0b1100)]
    illegal += [("write", REG["IRQ_THRESHOLD"], 0, 0xF),
                ("write", REG["IRQ_THRESHOLD"], p["status_depth"] + 1, 0xF),
                ("write", REG["IRQ_TIMEOUT"], 1 << 16, 0xF), ("write", REG["IRQ_ENABLE"], 3, 0xF),
                ("read", REG["STATUS_LO"]), ("read", REG["STATUS_HI"])]
    for access in illegal:
        if access[0] == "write":
            resp = await drv.write(access[1], access[2], access[3])
        else:
            resp = (await drv.read(access[1]))[1]
        assert resp == AxiResp.SLVERR, f"{access}: answered {resp!r}"
    # address bits 1..0 are ignored: a read at ID + 2 is the ID's upper half
    resp = await tb.axil.read(REG["ID"] + 2, 2)
    assert resp.resp == AxiResp.OKAY and resp.data == b"MA"
    await ClockCycles(dut.clk, 50)
    after = await state()
    assert after == before, "an illegal access changed a register"
    assert tb.moved == dict.fromkeys(tb.moved, 0), f"bus traffic: {tb.moved}"
    assert int(dut.irq.value) == 0
    tb.log.info("%d illegal accesses answered SLVERR, nothing changed", len(illegal))

    # byte strobes where allowed, then one offload through the same front end
    await drv.write_ok("DESC_LENGTH", 0)
    assert await drv.write("DESC_LENGTH", 0x0400, strobes=0b0010) == AxiResp.OKAY
    assert await drv.read_ok("DESC_LENGTH") == 0x0400
    rng = np.random.default_rng(1)
    x = activations(256, 0.3, p["elem_bits"], rng).tobytes()[:1024]
    tb.write_mem(0x1000, x)
    d = Descriptor(0x1000, 1024, OFFLOAD, 1, tag=7)
    await drv.set_irq(True, 1)
    statuses, frames = await _host_run(tb, [d])
    want_f, want_s = tb.model.offload(tb.read_mem(0, 0x2000), d)
    assert (frames, statuses) == ([want_f], [want_s])
    await _check_counters(tb, {"OFF_FRAME_BYTES": len(want_f), "OFF_DONE": 1, "OFF_ERRORS": 0})


@cocotb.test()
async def test_round_trip(dut):
    """Offload a multi-layer activation set, then prefetch it elsewhere, as a driver:
    interrupts, queue-full back-off, random pauses on every bus; bytes == golden,
    counters == bytes moved."""
    tb = AxilTB(dut)
    tb.set_pauses(0.2, 40)
    await tb.reset()
    drv = tb.drv
    await drv.probe()
    await drv.set_irq(True, threshold=2, timeout=200)
    rng = np.random.default_rng(6)
    E = tb.params["elem_bits"]
    eb, c = E // 8, tb.params["chunk_bytes"]
    layers = [(3 * c // eb + 17, 0.45), (c // eb, 0.08), (2 * c // eb - 5, 0.7), (999, 0.25),
              (c // (2 * eb), 1.0), (c // eb + 3, 0.0), (77, 0.5), (2 * c // eb, 0.3)]
    sizes = [n * eb for n, _ in layers]
    mb = tb.params["mem_bytes"]
    srcs = place_ranges(mb, rng, sizes, 0x1000)
    dsts = place_ranges(mb, rng, sizes, srcs[-1] + sizes[-1] + 0x1000)
    size = dsts[-1] + sizes[-1] + 512
    tb.write_mem(0, bytes([GUARD]) * size)
    tensors, offs = [], []
    codecs = [k for k in (0, 1, 2, 3) if tb.params["codecs"] >> k & 1]
    if 3 in codecs:         # ZVCE: its code table through ZVCE_TABLE0..3, ReLU-like data
        await drv.set_zvce_table(tb.zvce_table)
    for k, ((n, dens), a) in enumerate(zip(layers, srcs)):
        codec = codecs[(k + 1) % len(codecs)]
        x = (relu_activations if codec == 3 else activations)(n, dens, E, rng)
        tensors.append(x.tobytes())
        tb.write_mem(a, tensors[-1])
        offs.append(Descriptor(a, n * eb, OFFLOAD, codec, tag=k))
    mem = tb.read_mem(0, size)
    statuses, frames = await _host_run(tb, offs)
    for d, f, s in zip(offs, frames, statuses):
        assert (f, s) == tb.model.offload(mem, d), f"offload {d}: {s}"
    pres = [Descriptor(dst, len(t), PREFETCH, 0, tag=50 + k)
            for k, (dst, t) in enumerate(zip(dsts, tensors))]
    pstat, _ = await _host_run(tb, pres, frames_in=frames)
    for d, f, s in zip(pres, frames, pstat):
        assert s == tb.model.prefetch(d, f)[1], f"prefetch {d}: {s}"
    after = tb.read_mem(0, size)
    for dst, t in zip(dsts, tensors):
        assert after[dst:dst + len(t)] == t
    written = bytearray(size)
    for dst, t in zip(dsts, tensors):
        written[dst:dst + len(t)] = b"\1" * len(t)
    assert all(after[a] == mem[a] for a in range(size) if not written[a]), "guard bytes written"
    fbytes = sum(len(f) for f in frames)
    got = await _check_counters(tb, {
        "OFF_RAW_BYTES": _mem_bytes_read(tb, offs, statuses), "OFF_FRAME_BYTES": fbytes,
        "OFF_DONE": len(offs), "OFF_ERRORS": 0, "PRE_FRAME_BYTES": fbytes,
        "PRE_RAW_BYTES": sum(sizes), "PRE_DONE": len(pres), "PRE_ERRORS": 0})
    tb.log.info("round trip of %d layers (%d bytes, ratio %.2f): %d interrupts, %d back-offs, "
                "counters %s", len(layers), sum(sizes), sum(sizes) / fbytes, drv.interrupts,
                drv.backoffs, got)
    assert drv.backoffs > 0, "the submission queue never filled: the back-off was not exercised"


def _offloads(tb, n, rng, base=0x1000, length=512, tag=0):
    """``n`` small offload descriptors of random activations (memory written)."""
    E = tb.params["elem_bits"]
    out = []
    for k in range(n):
        a = base + k * 2 * length
        tb.write_mem(a, activations(length * 8 // E, 0.5, E, rng).tobytes())
        out.append(Descriptor(a, length, OFFLOAD, 1, tag=tag + k))
    return out


async def _wait_count(tb, n, limit=20000):
    for _ in range(limit // 8):
        if await tb.drv.read_ok("STATUS_COUNT") >= n:
            return
        await ClockCycles(tb.dut.clk, 8)
    raise AssertionError(f"STATUS_COUNT did not reach {n}")


@cocotb.test()
async def test_irq_mask_and_coalescing(dut):
    """The mask holds irq low; a threshold of n interrupts at the n-th status; the
    time-out reports a lone status after IRQ_TIMEOUT cycles, not before."""
    tb = AxilTB(dut)
    await tb.reset()
    drv = tb.drv
    rng = np.random.default_rng(9)
    irq_seen = []
    last_tlast = [0]

    async def watch():
        while True:
            await RisingEdge(dut.clk)
            if int(dut.irq.value):
                irq_seen.append(tb.cycle)
            if (int(dut.m_axis_c2h_tvalid.value) and int(dut.m_axis_c2h_tready.value)
                    and int(dut.m_axis_c2h_tlast.value)):
                last_tlast[0] = tb.cycle
    cocotb.start_soon(watch())

    async def frames(n):
        return [await with_timeout(tb.get_c2h_frame(), 500, "us") for _ in range(n)]

    # masked: three statuses, no interrupt; IRQ_PENDING shows the cause
    await drv.set_irq(False, 1)
    descs = _offloads(tb, 3, rng)
    for d in descs:
        await drv.submit(d)
    await frames(3)
    await _wait_count(tb, 3)
    await ClockCycles(dut.clk, 100)
    assert not irq_seen, "irq rose while masked"
    assert await drv.read_ok("IRQ_PENDING") == 1
    await drv.write_ok("IRQ_ENABLE", 1)
    await ClockCycles(dut.clk, 2)
    assert int(dut.irq.value) == 1 and await drv.read_ok("IRQ_PENDING") == 3
    got = await drv.drain()
    assert [s.tag for s in got] == [0, 1, 2] and all(s.code == 0 for s in got)
    await ClockCycles(dut.clk, 2)
    assert int(dut.irq.value) == 0

    # threshold 3, no time-out: two statuses do not interrupt, the third does
    await drv.set_irq(True, threshold=3)
    irq_seen.clear()
    descs = _offloads(tb, 3, rng, tag=10)
    for d in descs[:2]:
        await drv.submit(d)
    await frames(2)
    await _wait_count(tb, 2)
    await ClockCycles(dut.clk, 500)
    assert not irq_seen, "irq below the threshold"
    await drv.submit(descs[2])
    assert await drv.wait_irq(20000)
    assert await drv.read_ok("STATUS_COUNT") == 3
    await frames(1)
    assert [s.tag for s in await drv.drain()] == [10, 11, 12]
    await ClockCycles(dut.clk, 2)
    assert int(dut.irq.value) == 0

    # threshold 4 with a time-out of T cycles: one status interrupts T cycles after it came
    T = 400
    await drv.set_irq(True, threshold=4, timeout=T)
    irq_seen.clear()
    (d,) = _offloads(tb, 1, rng, tag=20)
    await drv.submit(d)
    await frames(1)
    assert await drv.wait_irq(20000)
    await ClockCycles(dut.clk, 2)                  # let the monitor see it
    waited = irq_seen[0] - last_tlast[0]
    # the status follows the frame's last beat within a few cycles, then the time-out runs
    assert T <= waited <= T + 30, f"irq {waited} cycles after the frame, time-out {T}"
    assert [s.tag for s in await drv.drain()] == [20]
    tb.log.info("time-out %d: irq %d cycles after the frame's last beat", T, waited)
    c = await drv.counters()
    assert c["OFF_DONE"] == 7 and c["OFF_ERRORS"] == 0


@cocotb.test()
async def test_errors_and_full_queue(dut):
    """Error statuses come back with the golden codes and are counted per direction;
    a full offload queue (C2H stalled) answers the doorbell SLVERR, queues nothing
    and holds up nothing else: prefetches run meanwhile, registers answer in a
    few cycles."""
    size = 1 << 18
    tb = AxilTB(dut, mem_size=size)
    tb.set_error_range(size - 1024, size)
    await tb.reset()
    drv = tb.drv
    await drv.set_irq(True, 1)
    p = tb.params
    mb, eb = p["mem_bytes"], p["elem_bits"] // 8
    rng = np.random.default_rng(12)
    x = activations(2048 // eb, 0.4, p["elem_bits"], rng).tobytes()
    tb.write_mem(0x2000, x)
    good = tb.model.offload(tb.read_mem(0, 0x3000), Descriptor(0x2000, 2048, OFFLOAD, 1))[0]
    bad_frame = bytearray(good)
    bad_frame[0] ^= 1
    descs = [Descriptor(0x2000 + mb // 2, 256, OFFLOAD, 1, 1),            # DESC_ALIGN
             Descriptor(0x2000, 256, OFFLOAD, 7, 2),                      # DESC_CODEC
             Descriptor(0x2000, 256, 3, 1, 3),                            # DESC_DIRECTION
             Descriptor(size - 2048, 2048, OFFLOAD, 1, 4),                # AXI_SLVERR (read)
             Descriptor(0x2000, 2048, OFFLOAD, 2, 5),                     # OK
             Descriptor(0x8000, 2048, PREFETCH, 0, 6),                    # BAD_MAGIC
             Descriptor(0x9000, 2048, PREFETCH, 0, 7),                    # OK
             Descriptor(size - 2 * mb, 2048, PREFETCH, 0, 8),             # AXI_SLVERR (write)
             Descriptor((1 << p["addr_width"]) - 1024, 2048, PREFETCH, 0, 10)]  # DESC_RANGE
    if eb > 1:
        descs.append(Descriptor(0x2000, 256 + 1, OFFLOAD, 1, 9))         # DESC_LENGTH
    h2c = [bytes(bad_frame), good, good, good]
    mem = tb.read_mem(0, size)
    statuses, frames = await _host_run(tb, descs, frames_in=h2c)
    want, want_frames = [], []
    it = iter(h2c)
    for d, got in zip(descs, statuses):
        if d.direction == PREFETCH and size - 2048 <= d.addr < size:
            want.append(Status(len(next(it)), d.tag, ErrorCode.AXI_SLVERR, PREFETCH))
        elif d.direction == PREFETCH:
            want.append(tb.model.prefetch(d, next(it))[1])
        elif d.direction != OFFLOAD:      # answered by the engine's dispatcher
            want.append(Status(0, d.tag, ErrorCode.DESC_DIRECTION, d.direction))
        elif d.addr >= size - 2048:       # the memory answers SLVERR: frame sent whole
            want.append(Status(got.length, d.tag, ErrorCode.AXI_SLVERR, OFFLOAD))
            want_frames.append(got.length)    # its bytes are what the memory returned
        else:
            f, st = tb.model.offload(mem, d)
            want.append(st)
            if st.code == ErrorCode.OK:
                want_frames.append(f)
    assert statuses == want, f"statuses {statuses}\ngolden {want}"
    assert len(frames) == len(want_frames)
    for f, w in zip(frames, want_frames):
        assert f == w if isinstance(w, bytes) else len(f) == w
    assert {s.code for s in statuses} >= {ErrorCode.DESC_ALIGN, ErrorCode.DESC_CODEC,
                                          ErrorCode.DESC_DIRECTION, ErrorCode.AXI_SLVERR,
                                          ErrorCode.BAD_MAGIC, ErrorCode.DESC_RANGE}
    assert tb.read_mem(0x9000, 2048) == x
    off_err = sum(1 for d, s in zip(descs, statuses) if d.direction != PREFETCH and s.code)
    pre_err = sum(1 for d, s in zip(descs, statuses) if d.direction == PREFETCH and s.code)
    await _check_counters(tb, {"OFF_ERRORS": off_err, "PRE_ERRORS": pre_err,
                               "OFF_DONE": sum(d.direction != PREFETCH for d in descs),
                               "PRE_DONE": sum(d.direction == PREFETCH for d in descs),
                               "OFF_RAW_BYTES": _mem_bytes_read(tb, descs, statuses),
                               "OFF_FRAME_BYTES": sum(len(f) for f in frames),
                               "PRE_FRAME_BYTES": sum(len(f) for f in h2c)})
    # (PRE_RAW_BYTES includes what the SLVERR prefetch wrote before it stopped: only
    # the port monitor knows it, and _check_counters compares with the monitor.)

    # A full offload queue blocks nothing else: with C2H stalled, offloads are
    # submitted until the doorbell fails; prefetches still run to completion, and
    # every register answers within a few cycles.
    tb.c2h.pause = True
    tb.c2h.set_pause_generator(None)
    fill = _offloads(tb, 12, rng, base=0x10000, tag=100)
    accepted = []
    for d in fill:
        if not await drv.try_submit(d):
            break
        accepted.append(d)
    n = len(accepted)
    assert n == p["sub_depth"] + 1, f"{n} offloads accepted"     # the queue + one running
    assert await drv.read_ok("SUB_FREE") == p["sub_depth"] << 8  # offload full, prefetch free
    for name in ("ID", "SUB_FREE", "STATUS_COUNT", "IRQ_PENDING", "OFF_DONE_LO", "OFF_DONE_HI",
                 "DESC_LENGTH"):
        t0 = tb.cycle
        value, resp = await drv.read(name)
        assert resp == AxiResp.OKAY and tb.cycle - t0 <= 8, (name, tb.cycle - t0)
    t0 = tb.cycle
    assert not await drv.try_submit(fill[n])             # still full: SLVERR again
    assert tb.cycle - t0 <= 40, tb.cycle - t0            # five writes, none held
    pre_jobs = []
    for k in range(3):
        y = activations(1024 // eb, 0.3, p["elem_bits"], rng).tobytes()
        f = tb.model.offload(y, Descriptor(0, len(y), OFFLOAD, 1))[0]
        pre_jobs.append((Descriptor(0x30000 + k * 0x1000, len(y), PREFETCH, 0, tag=200 + k), f, y))
    pstat, _ = await _host_run(tb, [d for d, _, _ in pre_jobs],
                               frames_in=[f for _, f, _ in pre_jobs])
    assert all(s.code == 0 for s in pstat), pstat
    for d, _, y in pre_jobs:
        assert tb.read_mem(d.addr, d.length) == y
    assert await drv.read_ok("SUB_FREE") & 0xFF == 0, "the offloads moved while C2H was stalled"
    tb.c2h.pause = False
    statuses, frames2 = [], []
    while len(statuses) < n:
        assert await drv.wait_irq(50000)
        statuses += await drv.drain()
    await ClockCycles(dut.clk, 200)
    assert await drv.read_ok("STATUS_COUNT") == 0, "a refused doorbell queued a descriptor"
    mem = tb.read_mem(0, size)
    while not tb.c2h.empty():
        frames2.append(await tb.get_c2h_frame())
    assert [s.tag for s in statuses] == [d.tag for d in accepted]
    assert [(f, s) for f, s in zip(frames2, statuses)] == [tb.model.offload(mem, d)
                                                           for d in accepted]
    tb.log.info("offload queue full after %d descriptors (%d back-offs); %d prefetches ran "
                "meanwhile; all registers answered", n, drv.backoffs, len(pre_jobs))
