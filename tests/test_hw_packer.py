# amaranth: UnusedElaboratable=no
"""hw.packer and hw.skid in the Amaranth simulator, against plain-Python references.

Each primitive runs with random input gaps and output backpressure; monitors
check the stream rules on every output and that no input ``ready`` follows an
output ``ready`` combinationally.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from amaranth.sim import Simulator

from cdma.hw.packer import CreditedPacker, Packer, Unpacker
from cdma.hw.skid import SkidBuffer
from hwsim import add_rule_monitor, add_watchdog, get_packet, latency, put_beats


def _run(dut, producers, consumers, monitors=(), background=()):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    for p in producers:
        sim.add_testbench(p)
    for c in consumers:
        sim.add_testbench(c)
    for b in background:
        sim.add_testbench(b, background=True)
    violations = []
    for s in monitors:
        add_rule_monitor(sim, s, violations)
    add_watchdog(sim, 100_000)
    sim.run()
    return violations


# ---- SkidBuffer --------------------------------------------------------------------

@pytest.mark.parametrize("copies", [1, 3])
@pytest.mark.parametrize("gap, backpressure", [(0.0, 0.0), (0.3, 0.5), (0.7, 0.1)])
def test_skid_buffer_passes_every_beat_in_order(copies, gap, backpressure):
    from amaranth.lib import data
    layout = data.StructLayout({"data": 20, "last": 1})
    dut = SkidBuffer(layout, copies=copies)
    rng = np.random.default_rng(copies)
    sent = [{"data": int(v), "last": int(k % 7 == 6)}
            for k, v in enumerate(rng.integers(0, 1 << 20, 70))]
    got, isolation, cycles = [], [], {}

    async def producer(ctx):
        await put_beats(ctx, dut.i, sent, rng, gap)

    async def consumer(ctx):
        start = 0
        while sum(len(p) for p in got) < len(sent):
            got.append(await get_packet(ctx, dut.o, rng, backpressure, probe=[dut.i.ready],
                                        isolation=isolation))
        cycles["n"] = start

    violations = _run(dut, [producer], [consumer], [dut.o])
    assert [b for p in got for b in p] == sent
    assert not violations and not isolation


def test_skid_buffer_full_throughput():
    """No gaps, no backpressure: one transfer per cycle, latency one cycle."""
    dut = SkidBuffer(8)
    seen = []

    async def tb(ctx):
        ctx.set(dut.o.ready, 1)
        for v in range(20):
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.p, v)
            assert ctx.get(dut.i.ready)
            await ctx.tick()
            if ctx.get(dut.o.valid):
                seen.append(ctx.get(dut.o.p))
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    assert seen == list(range(20))


def test_skid_buffer_rejects():
    with pytest.raises(TypeError, match="'x'"):
        SkidBuffer("x")
    with pytest.raises(ValueError, match="0"):
        SkidBuffer(8, copies=0)


# ---- Packer ------------------------------------------------------------------------

def packer_reference(pieces, unit_bits, out_units):
    """Packets of the dense unit stream: ``pieces`` = [(units list, last)]."""
    packets, cur = [], []
    for units, last in pieces:
        cur += units
        if last:
            packets.append(cur)
            cur = []
    return packets


def run_packer(unit_bits, in_units, out_units, pieces, seed, gap, backpressure):
    dut = Packer(unit_bits, in_units, out_units)
    rng = np.random.default_rng(seed)
    mask = (1 << unit_bits) - 1
    beats = []
    for units, last in pieces:
        word = sum(u << (k * unit_bits) for k, u in enumerate(units))
        # garbage above n must be ignored
        junk = int(rng.integers(0, 1 << 30)) << (len(units) * unit_bits)
        beats.append({"data": (word | junk) & ((1 << (in_units * unit_bits)) - 1),
                      "n": len(units), "last": int(last)})
    npackets = sum(last for _, last in pieces)
    got, isolation = [], []

    async def producer(ctx):
        await put_beats(ctx, dut.i, beats, rng, gap)

    async def consumer(ctx):
        for _ in range(npackets):
            got.append(await get_packet(ctx, dut.o, rng, backpressure, probe=[dut.i.ready],
                                        isolation=isolation))

    violations = _run(dut, [producer], [consumer], [dut.o])
    assert not violations, violations[:3]
    assert not isolation, isolation[:3]
    out = []
    for packet in got:
        units = []
        for k, b in enumerate(packet):
            n = bin(b["keep"]).count("1")
            assert b["keep"] == (1 << n) - 1, "keep is not a prefix"
            if k < len(packet) - 1:
                assert n == out_units, "a non-final beat is not full"
            words = [(b["data"] >> (j * unit_bits)) & mask for j in range(out_units)]
            assert all(w == 0 for w in words[n:]), "units above keep are not zero"
            units += words[:n]
        out.append((units, len(packet)))
    return out


def random_pieces(rng, in_units, unit_bits, npieces, p_last=0.15, p_empty=0.1):
    pieces = []
    for _ in range(npieces):
        n = 0 if rng.random() < p_empty else int(rng.integers(1, in_units + 1))
        pieces.append(([int(v) for v in rng.integers(0, 1 << unit_bits, n)],
                       rng.random() < p_last))
    pieces[-1] = (pieces[-1][0], True)
    return pieces


PACKER_CONFIGS = [(32, 17, 16), (8, 12, 8), (8, 5, 8), (16, 6, 4), (32, 17, 4), (8, 3, 1),
                  (8, 1, 1), (4, 9, 2),
                  (32, 16, 8), (8, 32, 64)]   # the engine's offload and raw packers


@pytest.mark.parametrize("unit_bits, in_units, out_units", PACKER_CONFIGS)
@pytest.mark.parametrize("gap, backpressure", [(0.0, 0.0), (0.3, 0.4)])
def test_packer_vs_reference(unit_bits, in_units, out_units, gap, backpressure):
    rng = np.random.default_rng(unit_bits * 1000 + in_units * 10 + out_units)
    pieces = random_pieces(rng, in_units, unit_bits, 120)
    # edge cases: an empty packet, a packet of exactly one beat, one ending with an
    # empty piece after full beats, the largest pieces back to back
    full = [int(v) for v in rng.integers(0, 1 << unit_bits, out_units)]
    one_beat = [(full[k:k + in_units], False) for k in range(0, out_units, in_units)]
    pieces += [([], True)] + one_beat[:-1] + [(one_beat[-1][0], True)] + one_beat + [([], True)]
    pieces += [([int(v) for v in rng.integers(0, 1 << unit_bits, in_units)], False)] * 5
    pieces += [([1], True)]
    got = run_packer(unit_bits, in_units, out_units, pieces, 1, gap, backpressure)
    ref = packer_reference(pieces, unit_bits, out_units)
    assert [units for units, _ in got] == ref
    for (units, nbeats) in got:
        # as few beats as the units need, a single null beat for nothing -- or one
        # more null beat when the packet closed with an empty piece after full beats
        need = max(1, -(-len(units) // out_units))
        assert nbeats in (need, need + 1)
        if nbeats == need + 1:
            assert len(units) % out_units == 0


def test_packer_full_throughput():
    """Pieces of out_units units with no gaps and no backpressure: a beat per cycle."""
    U, PI, PO = 32, 17, 16
    dut = Packer(U, PI, PO)
    stats = {"in_stalls": 0, "beats": 0}

    async def tb(ctx):
        ctx.set(dut.o.ready, 1)
        for k in range(64):
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.p.data, k)
            ctx.set(dut.i.p.n, PO if k % 2 else PO + 1 if k % 4 == 0 else PO - 1)
            ctx.set(dut.i.p.last, int(k == 63))
            while not ctx.get(dut.i.ready):
                stats["in_stalls"] += 1
                await ctx.tick()
            await ctx.tick()
        ctx.set(dut.i.valid, 0)

    async def count(ctx):
        async for _, _, valid in ctx.tick().sample(dut.o.valid):
            stats["beats"] += int(valid)

    _run(dut, [tb], [], background=[count])
    assert stats["in_stalls"] == 0


@pytest.mark.parametrize("unit_bits, in_units, out_units", [(8, 32, 16), (8, 3, 1)])
def test_packer_full_banks(unit_bits, in_units, out_units):
    """Pieces that complete two beats each against an output that is mostly
    stalled: the banks run full, and `room` must stop the ops in time (a
    reservation too small for the two ops in flight overwrites beats)."""
    rng = np.random.default_rng(7)
    pieces = [([int(v) for v in rng.integers(0, 1 << unit_bits, in_units)], k % 40 == 39)
              for k in range(120)]
    got = run_packer(unit_bits, in_units, out_units, pieces, 3, 0.0, 0.9)
    assert [units for units, _ in got] == packer_reference(pieces, unit_bits, out_units)


# the RLE encoders' packers at int8 x 16 and fp32 x 16
@pytest.mark.parametrize("unit_bits, in_units, out_units", [(8, 32, 16), (8, 80, 64)])
def test_packer_absorbs_runs_of_large_pieces(unit_bits, in_units, out_units):
    """Runs of the largest pieces, then runs of pieces as much below a beat,
    no gaps, no backpressure: a piece is taken every cycle (the beats a large
    piece completes wait in the output banks) and, once the first beat is out,
    a beat leaves every cycle until the packet's end (the banks drain during
    the small pieces)."""
    U, PI, PO = unit_bits, in_units, out_units
    dut = Packer(U, PI, PO)
    run = 4
    # (the packet ends with a 1-unit piece: an empty one would add a null beat)
    sizes = ([PI] * run + [2 * PO - PI] * run) * 8 + [1]
    units = sum(sizes)
    stats = {"in_stalls": 0, "valid": []}

    async def tb(ctx):
        ctx.set(dut.o.ready, 1)
        for k, n in enumerate(sizes):
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.p.data, (1 << (n * U)) - 1)
            ctx.set(dut.i.p.n, n)
            ctx.set(dut.i.p.last, int(k == len(sizes) - 1))
            while not ctx.get(dut.i.ready):
                stats["in_stalls"] += 1
                await ctx.tick()
            await ctx.tick()
        ctx.set(dut.i.valid, 0)
        for _ in range(len(sizes) + 20):
            await ctx.tick()

    async def watch(ctx):
        async for _, _, valid in ctx.tick().sample(dut.o.valid):
            stats["valid"].append(int(valid))

    _run(dut, [tb], [], background=[watch])
    assert stats["in_stalls"] == 0
    valid = "".join(map(str, stats["valid"])).strip("0")
    assert valid == "1" * -(-units // PO)


@pytest.mark.parametrize("kwargs, exc, text", [
    (dict(unit_bits=0), ValueError, "0"),
    (dict(in_units="4"), TypeError, "'4'"),
    (dict(out_units=-1), ValueError, "-1"),
])
def test_packer_rejects(kwargs, exc, text):
    args = dict(unit_bits=8, in_units=4, out_units=4)
    args.update(kwargs)
    with pytest.raises(exc, match=text):
        Packer(**args)


# ---- CreditedPacker ----------------------------------------------------------------

def run_credited(unit_bits, in_units, out_units, inflight, pieces, seed, gap, backpressure,
                 obey_room=True):
    """A free-running producer: it decides to take a piece when ``room`` is high
    (and, with ``gap``, a piece is there), and pushes it ``inflight - 1`` cycles
    later whatever happens meanwhile, so that with the one decided now
    ``inflight`` pieces are on their way.  Returns (packets, overflowed)."""
    dut = CreditedPacker(unit_bits, in_units, out_units, inflight=inflight)
    rng = np.random.default_rng(seed)
    npackets = sum(last for _, last in pieces)
    got, isolation, flags = [], [], {"overflow": False}

    async def producer(ctx):
        line = [None] * (inflight - 1)    # pieces on their way, oldest first
        todo = list(pieces)
        while todo or any(x is not None for x in line):
            room = ctx.get(dut.room)
            take = None
            if todo and (room or not obey_room) and rng.random() >= gap:
                take = todo.pop(0)
            line.append(take)
            head = line.pop(0)
            ctx.set(dut.push, head is not None)
            if head is not None:
                units, last = head
                ctx.set(dut.piece.data, sum(u << (k * unit_bits) for k, u in enumerate(units)))
                ctx.set(dut.piece.n, len(units))
                ctx.set(dut.piece.last, last)
            await ctx.tick()
        ctx.set(dut.push, 0)

    async def consumer(ctx):
        for _ in range(npackets):
            got.append(await get_packet(ctx, dut.o, rng, backpressure, isolation=isolation))

    async def watch(ctx):
        async for _, _, over in ctx.tick().sample(dut.overflow):
            flags["overflow"] |= bool(over)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.add_testbench(watch, background=True)
    violations = []
    add_rule_monitor(sim, dut.o, violations)
    if obey_room:
        add_watchdog(sim, 100_000)
        sim.run()
    else:                                # (the consumer never finishes: stalled output)
        sim.run_until(2e-8 * (len(pieces) * (out_units + in_units) + 200))
    assert not violations, violations[:3]
    mask = (1 << unit_bits) - 1
    out = []
    for packet in got:
        units = []
        for b in packet:
            n = bin(b["keep"]).count("1")
            units += [(b["data"] >> (j * unit_bits)) & mask for j in range(n)]
        out.append(units)
    return out, flags["overflow"]


@pytest.mark.parametrize("unit_bits, in_units, out_units, inflight",
                         [(32, 17, 16, 12), (8, 12, 8, 16), (8, 5, 8, 3), (8, 66, 64, 9), (8, 3, 1, 1)])
@pytest.mark.parametrize("gap, backpressure", [(0.0, 0.0), (0.0, 0.8), (0.3, 0.4)])
def test_credited_packer_vs_reference(unit_bits, in_units, out_units, inflight, gap,
                                      backpressure):
    """Pieces pushed by a producer that obeys ``room`` with ``inflight`` pieces in
    flight: every unit comes out in order, the FIFO never overflows (heavy
    backpressure makes ``room`` fall)."""
    rng = np.random.default_rng(in_units * 100 + inflight)
    pieces = random_pieces(rng, in_units, unit_bits, 150)
    got, overflowed = run_credited(unit_bits, in_units, out_units, inflight, pieces, 2, gap,
                                   backpressure)
    assert got == packer_reference(pieces, unit_bits, out_units)
    assert not overflowed


def test_credited_packer_overflow_hook():
    """A producer that ignores ``room`` against a stalled output raises ``overflow``
    (the hook the codec tests watch can fire)."""
    rng = np.random.default_rng(5)
    pieces = random_pieces(rng, 4, 8, 200, p_last=0.0)
    _, overflowed = run_credited(8, 4, 4, 2, pieces, 3, 0.0, 1.0, obey_room=False)
    assert overflowed


def test_credited_packer_depth_and_rejects():
    assert CreditedPacker(8, 4, 4, inflight=12).depth == 32     # >= 2 * 12 + 2
    assert CreditedPacker(8, 4, 4, inflight=15).depth == 32
    assert CreditedPacker(8, 4, 4, inflight=16).depth == 64
    with pytest.raises(ValueError, match="inflight must be"):
        CreditedPacker(8, 4, 4, inflight=0)


# ---- Unpacker ----------------------------------------------------------------------

def _side_of(unit, side_bits):
    """The per-unit side bits the tests attach: a hash of the unit."""
    return (unit * 0x9E3779B1 >> 7) & ((1 << side_bits) - 1)


def run_unpacker(unit_bits, in_units, out_units, align, packets, seed, gap, early_drop=0.0,
                 copies=1, side_bits=0, registered=False, marks=None, fixed_take=None):
    """Feed ``packets`` (lists of units) as dense beats; a consumer takes random
    aligned amounts, checks the window against the reference at every step and
    drops at the end of each packet (or early, with probability ``early_drop``).
    It also checks that the ring ``beats`` from ``start`` on (wrapping around)
    is the window, that the ``side`` bits travel with their units, and that
    ``start`` moves on by each take (modulo the ring).  With ``registered``
    the window is checked a cycle late: ``data`` must show the units the
    window held in the cycle before.  ``marks`` (default: every level from 1
    to the ring's units) are the level flags the Unpacker keeps, each checked
    against the level in every cycle.  With ``fixed_take`` every take is
    that many units (taken only when the level holds them), and the packet's
    rest goes with the drop."""
    probe = Unpacker(unit_bits, in_units, out_units, align=align)
    marks = tuple(range(1, probe.ring_units + 1)) if marks is None else marks
    dut = Unpacker(unit_bits, in_units, out_units, align=align, copies=copies,
                   side_bits=side_bits, registered=registered, level_marks=marks,
                   fixed_take=fixed_take)
    take_port = dut.take if fixed_take is None else None

    def set_take(ctx, n):
        if take_port is not None:
            ctx.set(take_port, n)
    rng = np.random.default_rng(seed)
    mask = (1 << unit_bits) - 1
    smask = (1 << side_bits) - 1
    allc = (1 << copies) - 1
    ring = dut.ring_units
    beats = []
    for units in packets:
        for b in range(max(1, -(-len(units) // in_units))):
            part = units[b * in_units:(b + 1) * in_units]
            beat = {"data": sum(u << (k * unit_bits) for k, u in enumerate(part)),
                    "n": len(part), "last": int((b + 1) * in_units >= len(units))}
            if side_bits:
                beat["side"] = sum(_side_of(u, side_bits) << (k * side_bits)
                                   for k, u in enumerate(part))
            beats.append(beat)
    got = []

    async def producer(ctx):
        await put_beats(ctx, dut.i, beats, rng, gap)

    async def consumer(ctx):
        # (a mismatch raises at once, naming what differed: returning would
        # leave the producer blocked and the watchdog's timeout as the report)
        expect = {}
        before = None                    # (registered) the window of the cycle before
        for units in packets:
            taken, stop = [], False
            while not stop:
                set_take(ctx, 0)
                ctx.set(dut.take_en, 0)
                ctx.set(dut.drop, 0)
                level, ended = ctx.get(dut.level), ctx.get(dut.ended)
                avail = min(level, out_units)
                flags = ctx.get(dut.level_ge)
                if flags != sum(int(level >= t) << i for i, t in enumerate(marks)):
                    raise AssertionError(("level_ge", len(taken), level, bin(flags)))
                if ended and level > out_units and level != len(units) - len(taken):
                    raise AssertionError(("level", len(taken), level, len(units) - len(taken)))
                pos = len(taken)
                if registered:
                    if before is not None:
                        shown = [(ctx.get(dut.data) >> (k * unit_bits)) & mask
                                 for k in range(len(before))]
                        if shown != before:
                            raise AssertionError(("late window", pos, shown, before))
                    window = before = units[pos:pos + avail]
                else:
                    window = [(ctx.get(dut.data) >> (k * unit_bits)) & mask
                              for k in range(avail)]
                    if window != units[pos:pos + avail]:
                        raise AssertionError(("window", pos, window, units[pos:pos + avail]))
                start = ctx.get(dut.start)
                if "start" in expect and start != expect.pop("start"):
                    raise AssertionError(("start", pos, start))
                all_beats, all_side = ctx.get(dut.beats), ctx.get(dut.beats_side)
                at = [(start + k) % ring for k in range(avail)]
                seen = [(all_beats >> (a * unit_bits)) & mask for a in at]
                side = [(all_side >> (a * side_bits)) & smask for a in at]
                if seen != window or (side_bits and
                                      side != [_side_of(u, side_bits) for u in window]):
                    raise AssertionError(("beats", pos, start, seen, side))
                if ended and avail < out_units and avail != len(units) - pos:
                    raise AssertionError(("avail", pos, avail, len(units) - pos))
                if ended and pos + avail == len(units) and (
                        avail == 0 or rng.random() < 0.5
                        or (fixed_take is not None and level < fixed_take)):
                    set_take(ctx, avail)             # the last units and the drop together
                    ctx.set(dut.take_en, allc)
                    ctx.set(dut.drop, allc)
                    taken += window
                    stop = True
                elif rng.random() < early_drop and pos > 0:
                    ctx.set(dut.drop, allc)
                    stop = True
                elif fixed_take is not None:
                    if level >= fixed_take and rng.random() < 0.8:
                        ctx.set(dut.take_en, allc)
                        taken += units[pos:pos + fixed_take]
                elif rng.random() < 0.8 and avail:
                    left = len(units) - pos
                    n = int(rng.integers(0, avail + 1))
                    if n < left:
                        n -= n % align
                    set_take(ctx, n)
                    ctx.set(dut.take_en, allc if rng.random() < 0.9 or n == 0 else 0)
                    if not ctx.get(dut.take_en):
                        n = 0
                    taken += window[:n]
                    if n % align:                    # an unaligned take ends the packet
                        ctx.set(dut.drop, allc)
                        stop = True
                if not stop:
                    expect["start"] = (start + len(taken) - pos) % ring
                await ctx.tick()
            got.append(taken)
        ctx.set(dut.drop, 0)
        set_take(ctx, 0)
        ctx.set(dut.take_en, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    add_watchdog(sim, 100_000)
    sim.run()
    for units, taken in zip(packets, got):
        assert taken == units[:len(taken)]
    return got


UNPACKER_CONFIGS = [(32, 16, 17, 1), (8, 8, 12, 1), (8, 5, 8, 1), (16, 4, 6, 1), (32, 4, 17, 1),
                    (8, 64, 80, 16), (8, 16, 32, 16), (8, 1, 3, 1)]


@pytest.mark.parametrize("unit_bits, in_units, out_units, align, copies, side_bits",
                         [(32, 16, 17, 1, 3, 5), (8, 8, 12, 4, 2, 3), (16, 4, 6, 1, 1, 1)])
def test_unpacker_copies_and_side(unit_bits, in_units, out_units, align, copies, side_bits):
    """Several copies of the consumer's decision, per-unit side bits, the
    ``beats``/``start`` view: same window as with one copy."""
    rng = np.random.default_rng(in_units + copies)
    lengths = [0, 1, in_units, in_units + 1, 3 * in_units - 1]
    lengths += [int(v) for v in rng.integers(0, 5 * max(in_units, out_units), 20)]
    packets = [[int(v) for v in rng.integers(0, 1 << unit_bits, n)] for n in lengths]
    got = run_unpacker(unit_bits, in_units, out_units, align, packets, 5, 0.3,
                       copies=copies, side_bits=side_bits)
    assert got == packets


@pytest.mark.parametrize("unit_bits, in_units, out_units, align", UNPACKER_CONFIGS)
@pytest.mark.parametrize("gap, early_drop", [(0.0, 0.0), (0.4, 0.05)])
def test_unpacker_window(unit_bits, in_units, out_units, align, gap, early_drop):
    rng = np.random.default_rng(unit_bits + in_units * 7 + out_units)
    lengths = [0, 1, in_units, in_units + 1, out_units, 3 * in_units - 1]
    lengths += [int(v) for v in rng.integers(0, 6 * max(in_units, out_units), 25)]
    packets = [[int(v) for v in rng.integers(0, 1 << unit_bits, n)] for n in lengths]
    got = run_unpacker(unit_bits, in_units, out_units, align, packets, 3, gap, early_drop)
    if not early_drop:
        assert got == packets


@pytest.mark.parametrize("unit_bits, in_units, out_units, align", UNPACKER_CONFIGS)
@pytest.mark.parametrize("copies", [1, 3])
def test_unpacker_registered_window(unit_bits, in_units, out_units, align, copies):
    """``registered``: every cycle's window shows up, whole, in the next."""
    rng = np.random.default_rng(unit_bits + in_units * 5 + out_units)
    lengths = [0, 1, in_units, in_units + 1, out_units, 3 * in_units - 1]
    lengths += [int(v) for v in rng.integers(0, 6 * max(in_units, out_units), 25)]
    packets = [[int(v) for v in rng.integers(0, 1 << unit_bits, n)] for n in lengths]
    got = run_unpacker(unit_bits, in_units, out_units, align, packets, 4, 0.3, 0.05,
                       copies=copies, registered=True)
    for units, taken in zip(packets, got):
        assert taken == units[:len(taken)]


@pytest.mark.parametrize("unit_bits, in_units, out_units, align, fixed_take",
                         [(8, 16, 37, 4, 20), (8, 8, 17, 8, 8), (8, 16, 33, 16, 16),
                          (8, 64, 193, 16, 80), (16, 4, 9, 1, 3), (8, 5, 12, 1, 7)])
@pytest.mark.parametrize("registered", [False, True])
def test_unpacker_fixed_take(unit_bits, in_units, out_units, align, fixed_take, registered):
    """``fixed_take`` (the RLE decoder's group): the beats a take pops kept as
    a register, a cycle ahead; same window as with a ``take`` port."""
    rng = np.random.default_rng(in_units * 3 + fixed_take)
    lengths = [0, 1, fixed_take - 1, fixed_take, fixed_take + 1, in_units, 3 * in_units - 1,
               2 * fixed_take, 4 * fixed_take + in_units]
    # (packets whose last take ends exactly at the end of a full last beat)
    lengths += [math.lcm(fixed_take, in_units) * k for k in (1, 1, 2, 2, 3)]
    lengths += [int(v) for v in rng.integers(0, 6 * max(in_units, out_units), 25)]
    packets = [[int(v) for v in rng.integers(0, 1 << unit_bits, n)] for n in lengths]
    got = run_unpacker(unit_bits, in_units, out_units, align, packets, 6, 0.3, 0.05,
                       copies=2, registered=registered, fixed_take=fixed_take)
    for units, taken in zip(packets, got):
        assert taken == units[:len(taken)]


def test_unpacker_rejects():
    with pytest.raises(ValueError, match="3"):
        Unpacker(8, 16, 8, align=3)
    with pytest.raises(TypeError, match="registered must be a bool, not 1"):
        Unpacker(8, 16, 8, registered=1)
    with pytest.raises(ValueError, match=r"level_marks must be integers in 1\.\.\d+ .*not 0"):
        Unpacker(8, 16, 8, level_marks=(1, 0))
    with pytest.raises(ValueError, match="not 999"):
        Unpacker(8, 16, 8, level_marks=(999,))
    with pytest.raises(TypeError, match="level_marks must be a tuple of ints, not 3"):
        Unpacker(8, 16, 8, level_marks=3)
    with pytest.raises(ValueError, match=r"fixed_take must be a multiple of align \(4\) .*not 6"):
        Unpacker(8, 16, 8, align=4, fixed_take=6)
    with pytest.raises(ValueError, match=r"in 1\.\.8, not 12"):
        Unpacker(8, 16, 8, fixed_take=12)
    with pytest.raises(TypeError, match="fixed_take"):
        Unpacker(8, 16, 8, fixed_take=2.0)


@pytest.mark.parametrize("unit_bits, in_units, out_units", [(8, 4, 8), (32, 17, 16), (8, 66, 64)])
def test_packer_documented_latency(unit_bits, in_units, out_units):
    """Packer docstring: a beat is valid 5 cycles after the edge that took the
    piece completing it (control, two shift stages, merge into the FIFO, FIFO
    output)."""
    assert latency(Packer(unit_bits, in_units, out_units),
                   dict(data=0, n=min(in_units, out_units), last=1)) == 5
