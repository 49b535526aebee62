"""Fault campaign of the cDMA engine (``engine`` top): prefetch path, descriptors,
memory errors, reset and isolation.

Every check compares with ``golden.engine.EngineModel`` (which wraps
``golden.decode_frame``) and watches the AXI bus:

- ``test_prefetch_fuzz``: random golden frames (``golden.encode_frame``) mutated
  with ``cdma.fuzz.golden.mutate`` (flips, overwrites, truncation, extension, splices,
  extreme raw/chunk lengths, header fields), plus descriptor lengths that
  disagree with the frame (frame longer / shorter than the descriptor).  Per
  case: status word == golden (code and H2C byte count); no AXI write burst
  outside ``[dst, dst + len)`` and every byte of the 64 KiB memory outside it
  still holds the guard pattern; a watchdog bound on cycles; then a good
  descriptor into a marker-filled range completes exactly (recovery and
  isolation).
- ``test_hostile_descriptors``: zero lengths, odd lengths, misaligned and
  unknown codec/direction — golden status, nothing read or written (AR/AW
  monitors), and the next good descriptor exact.
- ``test_address_width``: ranges ending exactly at ``2**addr_width`` run;
  ranges past it, wrapping it or ``2**64``, and addresses beyond it are rejected
  with DESC_RANGE, nothing read or written.
- ``test_axi_decerr``: DECERR on reads and on writes (the memory model's
  answer rewritten), status 20; SLVERR on a write in the middle of a frame.
- ``test_reset_midway``: reset at random cycles during an offload and a
  prefetch; afterwards the outputs are quiescent and the next transfers exact.

Knobs: CDMA_FAULT_CASES, CDMA_FAULT_SEED, CDMA_FAULT_OUT (see ``common.py``).
"""
from __future__ import annotations

import os

import numpy as np

import cocotb
from cocotb.triggers import ClockCycles, RisingEdge, with_timeout
from cocotbext.axi import AxiStreamFrame
from cocotbext.axi.constants import AxiResp

from cdma import golden
from cdma.fuzz.golden import mutate
from cdma.golden.engine import OFFLOAD, PREFETCH, Descriptor, Status
from cdma.sim.engine.tb import TB, activations
from cdma.sim.zvce.payloads import activations as relu_activations

from .common import Campaign, settings

ErrorCode = golden.ErrorCode
#: Status codes after which the offload frame is still sent (AXI errors: cut short).
FRAME_SENT = (ErrorCode.OK, ErrorCode.AXI_SLVERR, ErrorCode.AXI_DECERR)

CLOCK_NS = 4
MEM = 1 << 16
GUARD = 0xA5


class BusWatch:
    """Records every AR and AW handshake as ``(addr, bytes)``."""

    def __init__(self, tb):
        self.tb, self.reads, self.writes = tb, [], []
        self.mb = tb.params["mem_bytes"]
        cocotb.start_soon(self._run())

    async def _run(self):
        dut = self.tb.dut
        edge = RisingEdge(dut.clk)
        while True:
            await edge
            if int(dut.m_axi_arvalid.value) and int(dut.m_axi_arready.value):
                self.reads.append((int(dut.m_axi_araddr.value),
                                   (int(dut.m_axi_arlen.value) + 1) * self.mb))
            if int(dut.m_axi_awvalid.value) and int(dut.m_axi_awready.value):
                self.writes.append((int(dut.m_axi_awaddr.value),
                                    (int(dut.m_axi_awlen.value) + 1) * self.mb))

    def clear(self):
        self.reads.clear()
        self.writes.clear()

    def outside(self, accesses, lo, n):
        """Accesses not inside ``[lo, lo + n)`` rounded out to whole beats."""
        hi = -(-(lo + n) // self.mb) * self.mb
        return [(a, k) for a, k in accesses if a < lo or a + k > hi]


def _frame(data):
    """An H2C packet; an empty frame is one null beat (cocotbext-axi drops empty frames)."""
    return AxiStreamFrame(b"\0", tkeep=[0]) if not data else AxiStreamFrame(data)


async def _prefetch(tb, d, frame, bound_cycles):
    """Submit ``d`` and its frame; the status, or None when the watchdog fires."""
    cocotb.start_soon(tb.submit(d))
    tb.h2c.send_nowait(_frame(frame))
    try:
        return await with_timeout(tb.get_status(), bound_cycles * CLOCK_NS, "ns")
    except cocotb.triggers.SimTimeoutError:
        return None


def _marker(addr, n):
    """Position-dependent marker bytes (never the guard byte)."""
    return bytes(((a * 7 + 3) & 0xFF) ^ 0x3C if ((a * 7 + 3) & 0xFF) ^ 0x3C != GUARD else 0x11
                 for a in range(addr, addr + n))


def _random_frame(rng, elem_bits, zvce=False):
    """A random golden frame and its raw bytes; with ``zvce``, a quarter of them
    ZVCE frames (version 2) of ReLU-like elements, which its code table fits."""
    n = int(rng.choice([0, 1, 7, 32, 33, 100, 257, 700, 1100]))
    density = float(rng.choice([0.0, 0.05, 0.3, 0.8, 1.0]))
    codec = str(rng.choice(["zvc", "rle", "raw", "zvce"] if zvce else ["zvc", "rle", "raw"]))
    x = (relu_activations if codec == "zvce" else activations)(n, density, elem_bits, rng)
    chunk = int(rng.choice([512, 1024]))
    return golden.encode_frame(x, codec, chunk, elem_bits), x.tobytes()


def _watchdog(tb, nframe, nraw):
    p = tb.params
    return 600 + 6 * (nframe // p["pcie_bytes"] + nraw // p["mem_bytes"]) + nframe // 4


@cocotb.test(timeout_time=5000, timeout_unit="ms")
async def test_prefetch_fuzz(dut):
    """Mutated frames and disagreeing lengths: golden status, guards, watchdog, recovery."""
    tb = TB(dut, mem_size=MEM)
    watch = BusWatch(tb)
    await tb.reset()
    cases, seed, out = settings(30)
    p = tb.params
    E, mb = p["elem_bits"], p["mem_bytes"]
    eb = E // 8
    zvce = bool(p["codecs"] >> golden.Codec.ZVCE & 1)
    camp = Campaign(f"engine-prefetch-e{E}" + ("-zvce" if zvce else ""), seed, out, tb.log)
    rng = np.random.default_rng(seed)
    tb.set_pcie_pauses(0.2, seed + 3)
    tb.set_memory_pauses(0.1, seed + 4)
    pool = [_random_frame(rng, E, zvce) for _ in range(12)]
    # frames of other element widths once in a while (FRAME_ELEM_BITS)
    pool += [_random_frame(rng, w) for w in (8, 16, 32) if w != E]
    start = int(os.environ.get("CDMA_FAULT_START", "0"))
    only = {int(c) for c in os.environ.get("CDMA_FAULT_ONLY", "").split(",") if c}
    for case in range(cases):
        frame, raw = pool[int(rng.integers(len(pool)))]
        other, _ = pool[int(rng.integers(len(pool)))]
        kind = int(rng.integers(10))
        names = []
        if kind < 7:
            frame, names = mutate(rng, frame, other, int(rng.integers(1, 3)))
        n = int.from_bytes(frame[8:16], "little") if len(frame) >= 16 else len(raw)
        n = n if n < 4096 else len(raw)
        if kind >= 7 or int(rng.integers(8)) == 0:         # descriptor length disagrees
            n = max(0, n + eb * int(rng.choice([-64, -3, -1, 1, 2, 50])))
            names.append(f"desc-length {n}")
        dst = 0x2000 + mb * int(rng.integers(0, 8))
        if case < start or (only and case not in only):
            # replay from a later case / only some cases: same random draws, no simulation
            rng.integers(0, 8)                                  # gdst
            if case % 50 == 49:
                pool[int(rng.integers(12))] = _random_frame(rng, E, zvce)
            continue
        d = Descriptor(dst, n, PREFETCH, 0, tag=case & 0xFF)
        want, want_s = tb.model.prefetch(d, frame)
        tb.write_mem(0, bytes([GUARD]) * MEM)
        watch.clear()
        t0 = tb.cycle
        bound = _watchdog(tb, len(frame), n)
        s = await _prefetch(tb, d, frame, bound)
        what = f"{names} desc {d} frame {len(frame)} B {frame.hex()}"
        if s is None:
            camp.finding(case, f"HANG: no status within {bound} cycles, golden {want_s}; {what}")
            break
        camp.cycles_max = max(camp.cycles_max, tb.cycle - t0)
        await ClockCycles(dut.clk, 4)
        problems = []
        if s != want_s:
            problems.append(f"status {s}, golden {want_s}")
        mem = tb.read_mem(0, MEM)
        if want is not None and mem[dst:dst + n] != want:
            problems.append("destination differs from golden")
        outside = [a for a in range(MEM) if (a < dst or a >= dst + n) and mem[a] != GUARD]
        if outside:
            problems.append(f"{len(outside)} bytes written outside the range, first {outside[0]:#x}")
        bad_aw = watch.outside(watch.writes, dst, n)
        if bad_aw or watch.reads:
            problems.append(f"AW outside {bad_aw}, AR {watch.reads[:3]}")
        # recovery + isolation: a good frame into a marker-filled range
        gframe, graw = pool[case % 12]
        gdst = 0x8000 + mb * int(rng.integers(0, 8))
        tb.write_mem(gdst - 64, _marker(gdst - 64, len(graw) + 128))
        gd = Descriptor(gdst, len(graw), PREFETCH, 0, tag=0xEE)
        gs = await _prefetch(tb, gd, gframe, _watchdog(tb, len(gframe), len(graw)))
        if gs is None:      # late or hung? give it 100x more before calling it a hang
            t1 = tb.cycle
            try:
                late = await with_timeout(tb.get_status(), 100 * bound * CLOCK_NS, "ns")
                problems.append(f"next good descriptor late: {late} after {tb.cycle - t0} cycles")
            except cocotb.triggers.SimTimeoutError:
                problems.append(f"next good descriptor HANG (no status in {tb.cycle - t1} more "
                                f"cycles; H2C tready {int(dut.s_axis_h2c_tready.value)}, "
                                f"{tb.h2c_beats} H2C beats in all)")
        if gs != Status(len(gframe), 0xEE, 0, PREFETCH):
            problems.append(f"next good descriptor ({len(gframe)}-byte frame, {len(graw)} B "
                            f"at {gdst:#x}: {gframe.hex()}): status {gs}")
        elif (tb.read_mem(gdst, len(graw)) != graw
              or tb.read_mem(gdst - 64, 64) != _marker(gdst - 64, 64)
              or tb.read_mem(gdst + len(graw), 64) != _marker(gdst + len(graw), 64)):
            problems.append("next good descriptor: memory not exact")
        if problems:
            camp.finding(case, "; ".join(problems) + f" -- {what}")
            if gs is None:
                break           # the engine's state is unknown from here on
        else:
            camp.outcome(golden.ErrorCode(want_s.code).name)
        if case % 50 == 49:
            pool[int(rng.integers(12))] = _random_frame(rng, E, zvce)
    camp.finish(elem_bits=E)


async def _offload(tb, d, bound):
    """Submit an offload; ``(status, frame)`` (frame b"" when none is expected)."""
    cocotb.start_soon(tb.submit(d))
    s = await with_timeout(tb.get_status(), bound * CLOCK_NS, "ns")
    f = b""
    if s.code in FRAME_SENT:
        f = await with_timeout(tb.get_c2h_frame(), bound * CLOCK_NS, "ns")
    return s, f


@cocotb.test(timeout_time=500, timeout_unit="ms")
async def test_hostile_descriptors(dut):
    """Zero/odd lengths, misaligned addresses, unknown codecs and directions."""
    tb = TB(dut, mem_size=MEM)
    watch = BusWatch(tb)
    await tb.reset()
    p = tb.params
    E, mb = p["elem_bits"], p["mem_bytes"]
    eb = E // 8
    rng = np.random.default_rng(3)
    src = 0x1000
    x = activations(1000 // eb * eb // eb, 0.4, E, rng)
    tb.write_mem(0, bytes([GUARD]) * MEM)
    tb.write_mem(src, x.tobytes())
    mem = tb.read_mem(0, MEM)
    good = Descriptor(src, 512, OFFLOAD, 1, tag=0x77)
    offloads = [Descriptor(src, 0, OFFLOAD, 1, 1),                  # zero length: header only
                Descriptor(src, 0, OFFLOAD, 2, 2),
                Descriptor(src + mb // 2, 256, OFFLOAD, 1, 3),       # misaligned
                Descriptor(src + 4, 0, OFFLOAD, 1, 4),              # misaligned, empty
                Descriptor(src, 3, OFFLOAD, 0, 5) if eb > 1 else Descriptor(src, 3, OFFLOAD, 7, 5),
                Descriptor(src, 256, OFFLOAD, 3, 6),                # ZVCE (unknown without it)
                Descriptor(src, 0, OFFLOAD, 3, 8),                  # ZVCE, header and table only
                Descriptor(src, 256, OFFLOAD, 255, 7)]              # unknown codec
    for d in offloads:
        watch.clear()
        want_f, want_s = tb.model.offload(mem, d)
        s, f = await _offload(tb, d, 2000)
        assert (s, f) == (want_s, want_f), f"{d}: {s} vs golden {want_s}"
        if want_s.code:
            assert not watch.reads and not watch.writes, f"{d}: bus accesses {watch.reads}"
        else:
            assert not watch.outside(watch.reads, d.addr, d.length), watch.reads
        s, f = await _offload(tb, good, 4000)
        assert (f, s) == tb.model.offload(mem, good), f"good offload after {d}: {s}"
    # prefetch: bad descriptors have their frame drained, nothing written
    zframe = golden.encode_frame(x[:128], "zvc", 512, E)
    empty = golden.encode_frame(x[:0], "zvc", 512, E)
    prefetches = [(Descriptor(0x4000, 0, PREFETCH, 0, 11), empty),          # zero length, OK
                  (Descriptor(0x4000, 0, PREFETCH, 0, 12), zframe),         # FRAME_LENGTH
                  (Descriptor(0x4000 + 8, 128 * eb, PREFETCH, 0, 13), zframe),
                  (Descriptor(0x4000, 128 * eb + 1, PREFETCH, 0, 14), zframe) if eb > 1 else
                  (Descriptor(0x4000, 128 * eb + 64, PREFETCH, 0, 14), zframe),
                  (Descriptor(0x4000, 128 * eb, PREFETCH, 9, 15), zframe)]  # codec ignored
    for d, fr in prefetches:
        tb.write_mem(0, bytes([GUARD]) * MEM)
        watch.clear()
        want, want_s = tb.model.prefetch(d, fr)
        s = await _prefetch(tb, d, fr, 3000)
        assert s == want_s, f"{d}: {s} vs golden {want_s}"
        m = tb.read_mem(0, MEM)
        if want is not None:
            assert m[d.addr:d.addr + d.length] == want
        assert all(m[a] == GUARD for a in range(MEM) if not d.addr <= a < d.addr + d.length
                   or want_s.code), f"{d}: memory written"
        assert not watch.reads and (not watch.writes or want_s.code == ErrorCode.OK), watch.writes
    tb.write_mem(src, x.tobytes())
    mem = tb.read_mem(0, MEM)
    # direction neither 0 nor 1: DESC_DIRECTION, nothing read, no frame taken or sent
    for direction in (2, 255):
        watch.clear()
        d = Descriptor(src, 256, direction, 1, 20 + direction % 8)
        cocotb.start_soon(tb.submit(d))
        s = await with_timeout(tb.get_status(), 4000, "ns")
        assert (s.code, s.tag) == (int(golden.ErrorCode.DESC_DIRECTION), d.tag), s
        assert not watch.reads and not watch.writes
        s, f = await _offload(tb, good, 4000)
        assert (f, s) == tb.model.offload(mem, good), f"good offload after direction {direction}"
    await ClockCycles(dut.clk, 20)
    assert tb.c2h.empty() and tb.status.empty(), "extra C2H frames or status words"
    tb.log.info("hostile descriptors: %d offload, %d prefetch, 2 direction cases as golden",
                len(offloads), len(prefetches))


class _Wrapped:
    """The memory as the AXI side sees it: ``AxiRam`` answers address ``a`` with byte
    ``a % MEM``, so the top of the address space is the top of the RAM."""

    def __init__(self, mem):
        self.mem = mem

    def __getitem__(self, sl):
        return bytes(self.mem[a % len(self.mem)] for a in range(sl.start, sl.stop))


@cocotb.test(timeout_time=500, timeout_unit="ms")
async def test_address_width(dut):
    """Ranges past ``addr_width`` or wrapping: DESC_RANGE, nothing read or written.

    ``[addr, addr + length)`` must lie in ``[0, 2**addr_width)``: a range that
    ends exactly at ``2**addr_width`` runs (offload and prefetch, bytes checked
    at the top of the RAM); one byte element more, an address at or beyond
    ``2**addr_width`` (even with length 0), or a range that wraps ``2**64`` is
    rejected with DESC_RANGE as golden, with no AR/AW burst and the prefetch
    frame drained; the next good descriptor is exact.
    """
    tb = TB(dut, mem_size=MEM)
    watch = BusWatch(tb)
    await tb.reset()
    E, eb = tb.params["elem_bits"], tb.params["elem_bits"] // 8
    aw = tb.params["addr_width"]
    top = 1 << aw
    rng = np.random.default_rng(4)
    x = activations(256, 0.5, E, rng)
    n = x.nbytes
    tb.write_mem(0, bytes([GUARD]) * MEM)
    tb.write_mem(0x1000, x.tobytes())
    tb.write_mem(MEM - n, x.tobytes())              # = addresses top - n .. top - 1
    good = Descriptor(0x1000, n, OFFLOAD, 1, tag=0x55)
    frame = golden.encode_frame(x, "zvc", 512, E)
    offloads = [Descriptor(top - n, n, OFFLOAD, 1, 1),             # ends at 2**aw: runs
                Descriptor(top - n, n + eb, OFFLOAD, 1, 2),        # one element past it
                Descriptor(top - 256, 1024, OFFLOAD, 0, 3),        # wraps past 2**aw
                Descriptor(top, 0, OFFLOAD, 0, 4),                 # empty, but not addressable
                Descriptor((1 << 40) | 0x1000, 256, OFFLOAD, 0, 5),  # beyond addr_width
                Descriptor((1 << 64) - 256, 1024, OFFLOAD, 0, 6)]  # wraps 2**64
    ram = _Wrapped(tb.read_mem(0, MEM))
    codes = []
    for d in offloads:
        watch.clear()
        s, f = await _offload(tb, d, 20000)
        want_f, want_s = tb.model.offload(ram, d)
        assert (s, f) == (want_s, want_f), f"{d}: status {s}, golden {want_s}"
        if want_s.code:
            assert not watch.reads and not watch.writes, f"{d}: bursts {watch.reads}"
        else:
            assert watch.reads and all(top - n <= a and a + k <= top for a, k in watch.reads)
        codes.append(s.code)
        s, f = await _offload(tb, good, 4000)
        assert (f, s) == tb.model.offload(tb.read_mem(0, MEM), good)
    prefetches = [Descriptor(top - n, n, PREFETCH, 0, 7),            # ends at 2**aw: runs
                  Descriptor(top - n // 2, n, PREFETCH, 0, 8),       # wraps past 2**aw
                  Descriptor((1 << 40) | 0x4000, n, PREFETCH, 0, 9),
                  Descriptor((1 << 64) - 64, n, PREFETCH, 0, 10)]
    for d in prefetches:
        tb.write_mem(0, bytes([GUARD]) * MEM)
        watch.clear()
        s = await _prefetch(tb, d, frame, 5000)
        want, want_s = tb.model.prefetch(d, frame)
        assert s == want_s, f"{d}: status {s}, golden {want_s}"
        mem = tb.read_mem(0, MEM)
        if want is None:
            assert not watch.writes and mem == bytes([GUARD]) * MEM, f"{d}: {watch.writes}"
        else:
            assert mem == bytes([GUARD]) * (MEM - n) + want
        codes.append(s.code)
        gd = Descriptor(0x8000, n, PREFETCH, 0, 11)
        s = await _prefetch(tb, gd, frame, 5000)
        assert s == Status(len(frame), 11, 0, PREFETCH) and tb.read_mem(0x8000, n) == x.tobytes()
    assert codes == [0] + [int(golden.ErrorCode.DESC_RANGE)] * 5 + [0] + \
        [int(golden.ErrorCode.DESC_RANGE)] * 3, codes
    tb.log.info("address width %d: codes %s as golden", aw, codes)


def _decerr(tb):
    """Make the memory answer DECERR wherever the model would answer SLVERR."""
    for ch, field in ((tb.ram.read_if.r_channel, "rresp"), (tb.ram.write_if.b_channel, "bresp")):
        orig = ch.send

        async def send(t, _orig=orig, _field=field):
            if getattr(t, _field) == AxiResp.SLVERR:
                setattr(t, _field, AxiResp.DECERR)
            return await _orig(t)
        ch.send = send


@cocotb.test(timeout_time=500, timeout_unit="ms")
async def test_axi_decerr(dut):
    """DECERR on reads and writes -> status 20; SLVERR on one write burst mid-frame -> 19;
    nothing written outside the range; the next descriptors are exact."""
    tb = TB(dut, mem_size=MEM)
    tb.set_error_range(0x9000, 0x9100)
    await tb.reset()
    E = tb.params["elem_bits"]
    eb = E // 8
    rng = np.random.default_rng(5)
    x = activations(4096 // eb, 0.5, E, rng)
    frame = golden.encode_frame(x, "zvc", 1024, E)
    tb.write_mem(0, bytes([GUARD]) * MEM)
    tb.write_mem(0x1000, x.tobytes())
    mem = tb.read_mem(0, MEM)
    good = Descriptor(0x1000, 4096, OFFLOAD, 1, tag=9)
    # SLVERR on a write burst in the middle of a prefetch
    s = await _prefetch(tb, Descriptor(0x8800, 4096, PREFETCH, 0, 1), frame, 8000)
    assert (s.code, s.length) == (ErrorCode.AXI_SLVERR, len(frame)), s
    m = tb.read_mem(0, MEM)
    assert m[:0x8800] == mem[:0x8800] and m[0x9800:] == mem[0x9800:], "written outside the range"
    _decerr(tb)
    s, f = await _offload(tb, Descriptor(0x8c00, 2048, OFFLOAD, 1, 2), 8000)
    assert s.code == ErrorCode.AXI_DECERR and len(f) == s.length, s
    s, f = await _offload(tb, good, 8000)
    assert (f, s) == tb.model.offload(mem, good)
    s = await _prefetch(tb, Descriptor(0x8800, 4096, PREFETCH, 0, 3), frame, 8000)
    assert (s.code, s.length) == (ErrorCode.AXI_DECERR, len(frame)), s
    tb.write_mem(0x4000, _marker(0x4000, 4096))
    s = await _prefetch(tb, Descriptor(0x4000, 4096, PREFETCH, 0, 4), frame, 8000)
    assert s == Status(len(frame), 4, 0, PREFETCH) and tb.read_mem(0x4000, 4096) == x.tobytes()


async def _quiescent(tb, cycles=16):
    dut = tb.dut
    for _ in range(cycles):
        await RisingEdge(dut.clk)
        busy = {n: int(getattr(dut, n).value) for n in (
            "m_axi_arvalid", "m_axi_awvalid", "m_axi_wvalid", "m_axis_c2h_tvalid",
            "m_axis_status_tvalid")}
        assert not any(busy.values()), f"not quiescent after reset: {busy}"


@cocotb.test(timeout_time=2000, timeout_unit="ms")
async def test_reset_midway(dut):
    """Reset at random cycles during an offload and a prefetch running together."""
    tb = TB(dut, mem_size=MEM)
    await tb.reset()
    cases, seed, out = settings(30)
    cases = max(2, cases // 3)
    E = tb.params["elem_bits"]
    eb = E // 8
    # (with ZVCE built in, every other case offloads ZVCE frames)
    zvce = bool(tb.params["codecs"] >> golden.Codec.ZVCE & 1)
    camp = Campaign(f"engine-reset-e{E}", seed, out, tb.log)
    rng = np.random.default_rng(seed + 100)
    tb.set_memory_pauses(0.2, seed)
    tb.set_pcie_pauses(0.2, seed + 9)
    for case in range(cases):
        n = int(rng.choice([1024, 4096, 6000])) // eb * eb
        x = activations(n // eb, float(rng.choice([0.1, 0.5, 1.0])), E, rng)
        y = activations(n // eb, 0.3, E, rng)
        tb.write_mem(0x1000, x.tobytes())
        frame = golden.encode_frame(y, str(rng.choice(["zvc", "rle", "raw"])), 1024, E)
        cocotb.start_soon(tb.submit(Descriptor(0x1000, n, OFFLOAD, 3 if zvce and case % 2 else 1,
                                               1)))
        cocotb.start_soon(tb.submit(Descriptor(0x6000, n, PREFETCH, 0, 2)))
        tb.h2c.send_nowait(AxiStreamFrame(frame))
        at = int(rng.integers(1, 400))
        await ClockCycles(dut.clk, at)
        dut.rst.value = 1
        await RisingEdge(dut.clk)
        for model in (tb.h2c, tb.desc, tb.c2h, tb.status):
            model.clear()
        await ClockCycles(dut.clk, 3)
        dut.rst.value = 0
        await ClockCycles(dut.clk, 2)
        await _quiescent(tb)
        for model in (tb.c2h, tb.status):
            model.clear()
        # the next transfers are exact (destination filled with a marker first)
        tb.write_mem(0xB000, _marker(0xB000, n + 64))
        mem = tb.read_mem(0, MEM)
        d = Descriptor(0x1000, n, OFFLOAD, 3 if zvce and not case % 2 else 2, 3)
        s, f = await _offload(tb, d, 20000)
        problems = []
        if (f, s) != tb.model.offload(mem, d):
            problems.append(f"offload after reset: {s}")
        s = await _prefetch(tb, Descriptor(0xB000, n, PREFETCH, 0, 4), frame, 20000)
        if s != Status(len(frame), 4, 0, PREFETCH) or tb.read_mem(0xB000, n) != y.tobytes() \
                or tb.read_mem(0xB000 + n, 64) != _marker(0xB000 + n, 64):
            problems.append(f"prefetch after reset: {s}")
        await ClockCycles(dut.clk, 10)
        if not tb.status.empty() or not tb.c2h.empty():
            problems.append("stale status or C2H frame after reset")
        if problems:
            camp.finding(case, f"reset at cycle {at}: " + "; ".join(problems))
        else:
            camp.outcome("RECOVERED")
    camp.finish(elem_bits=E)


@cocotb.test(timeout_time=200, timeout_unit="ms", skip="CDMA_REPRO_FRAME" not in os.environ)
async def test_repro(dut):
    """Replay one case: CDMA_REPRO_FRAME (hex), CDMA_REPRO_LENGTH, CDMA_REPRO_GOOD
    ("elements,density,codec,chunk" of the good frame that follows)."""
    frame = bytes.fromhex(os.environ.get("CDMA_REPRO_FRAME", ""))
    n = int(os.environ.get("CDMA_REPRO_LENGTH", "0"))
    tb = TB(dut, mem_size=MEM)
    watch = BusWatch(tb)
    await tb.reset()
    if os.environ.get("CDMA_REPRO_PAUSES"):
        tb.set_pcie_pauses(0.2, 2 + 3)
        tb.set_memory_pauses(0.1, 2 + 4)
    E = tb.params["elem_bits"]
    d = Descriptor(0x2000, n, PREFETCH, 0, tag=1)
    want, want_s = tb.model.prefetch(d, frame)
    s = await _prefetch(tb, d, frame, 5000)
    tb.log.info("REPRO status %s golden %s; AW %s; h2c beats %d", s, want_s, watch.writes,
                tb.h2c_beats)
    gn, gdens, gcodec, gchunk = os.environ.get("CDMA_REPRO_GOOD", "100,0.5,zvc,512").split(",")
    x = activations(int(gn), float(gdens), E, np.random.default_rng(0))
    g = golden.encode_frame(x, gcodec, int(gchunk), E)
    if os.environ.get("CDMA_REPRO_GOOD_FRAME"):
        g = bytes.fromhex(os.environ["CDMA_REPRO_GOOD_FRAME"])
        x = golden.decode_frame(g).data
    gs = await _prefetch(tb, Descriptor(0x8000, x.nbytes, PREFETCH, 0, 2), g, 5000)
    tb.log.info("REPRO next good: %s; h2c beats %d; h2c tready %s", gs, tb.h2c_beats,
                dut.s_axis_h2c_tready.value)
    tb.log.info("REPRO AW %s", watch.writes)
    assert s == want_s and gs == Status(len(g), 2, 0, PREFETCH)
    assert tb.read_mem(0x8000, x.nbytes) == x.tobytes()
