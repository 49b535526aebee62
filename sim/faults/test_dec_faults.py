"""Fault campaign of the chunk decompressors (``zvc-decompress``, ``rle-decode`` and
``zvce-decompress``).

Each case takes a golden encoding of random elements, applies one or two
mutations (bit flip, byte overwrite, truncation = ``tlast`` early, extension =
``tlast`` late, splice with another payload, a count that disagrees with the
payload) and sends it followed by a good chunk.  Checks per case:

- verdict: the packet's ``tuser`` error flag and the ``error_code`` pulses equal
  the golden decoder's (``golden.zvc.decode`` / ``golden.rle.decode`` /
  ``golden.zvce.decode`` raising ``golden.FormatError`` with ``.code``); a
  mutation golden accepts must decode to golden's output exactly;
- the packet never has more than ``count`` elements;
- the next good chunk decodes exactly, with no error;
- watchdog: both packets come out within a cycle bound linear in the input
  and the count (a hang is a finding).

The DUT is picked from ``CDMA_MODULE``.  Knobs: CDMA_FAULT_CASES, CDMA_FAULT_SEED,
CDMA_FAULT_OUT (JSON line with outcome counts).
"""
from __future__ import annotations

import os

import numpy as np

import cocotb
from cocotb.triggers import ClockCycles, with_timeout
from cocotbext.axi import AxiStreamFrame

from cdma import golden
from cdma.sim.stream_tb import StreamTB, random_pauses

from .common import Campaign, settings

CLOCK_NS = 4


class _ZVCE:
    """``golden.zvce`` with one code table, in the ``encode``/``decode`` shape of
    the other codecs (the table: built from ReLU-like activations, which
    :func:`_elements` also gives, so that most top bytes are coded)."""

    def __init__(self, elem_bits):
        from cdma.sim.zvce.payloads import activations
        self.table = golden.zvce.build_table(activations(4000, 0.5, elem_bits,
                                                         np.random.default_rng(0)), elem_bits)

    def encode(self, x, elem_bits):
        return golden.zvce.encode(x, self.table, elem_bits)

    def decode(self, payload, count, elem_bits):
        return golden.zvce.decode(payload, count, elem_bits, self.table)


def _codec(elem_bits):
    module = os.environ.get("CDMA_MODULE", "zvc-decompress")
    if module == "zvc-decompress":
        return golden.zvc, "zvc"
    if module == "rle-decode":
        return golden.rle, "rle"
    if module == "zvce-decompress":
        return _ZVCE(elem_bits), "zvce"
    raise ValueError(f"no decompressor fault campaign for {module!r}")


def _elements(n, density, elem_bits, rng, cname="zvc"):
    """Random bit patterns, or for ZVCE, ReLU-like activations half of the time."""
    if cname == "zvce" and rng.random() < 0.5:
        from cdma.sim.zvce.payloads import activations
        return activations(n, density, elem_bits, rng)
    dt = golden.elem_dtype(elem_bits)
    x = rng.integers(1, 1 << elem_bits, n, dtype=np.uint64)
    x[rng.random(n) >= density] = 0
    return x.astype(dt)


MUTATIONS = ("flip", "overwrite", "truncate", "extend-zero", "extend-random", "splice",
             "count-plus", "count-minus", "count-random", "none")


def mutate(rng, payload, count, other, elem_bits):
    """One mutation of ``(payload, count)``: returns ``(name, payload, count)``."""
    b = bytearray(payload)
    name = MUTATIONS[int(rng.integers(len(MUTATIONS)))]
    if name == "flip" and b:
        i = int(rng.integers(len(b)))
        b[i] ^= 1 << int(rng.integers(8))
    elif name == "overwrite" and b:
        b[int(rng.integers(len(b)))] = int(rng.integers(256))
    elif name == "truncate":
        b = b[:int(rng.integers(len(b) + 1))]
    elif name == "extend-zero":
        b += bytes(int(rng.integers(1, 70)))
    elif name == "extend-random":
        b += rng.integers(0, 256, int(rng.integers(1, 70)), dtype=np.uint8).tobytes()
    elif name == "splice":
        b = b[:int(rng.integers(len(b) + 1))] + other[int(rng.integers(len(other) + 1)):]
    elif name == "count-plus":
        count += int(rng.choice([1, 2, 31, 32, 33, 256, 1000]))
    elif name == "count-minus":
        count = max(0, count - int(rng.choice([1, 2, 31, 32, 33, 256])))
    elif name == "count-random":
        count = int(rng.choice([0, 1, int(rng.integers(0, 2000)), (1 << 32) - 1]))
    return name, bytes(b), min(count, (1 << 32) - 1)     # the count port is 32 bits


def _frame(payload):
    """The chunk as a stream packet; an empty one is a single null beat (tkeep 0).

    (cocotbext-axi's source silently drops a frame with no bytes.)
    """
    if not payload:
        return AxiStreamFrame(b"\0", tkeep=[0])
    return AxiStreamFrame(payload)


@cocotb.test(timeout_time=2000, timeout_unit="ms")
async def test_fault_campaign(dut):
    """Mutated chunks then a good one: golden verdict, count bound, recovery, watchdog."""
    tb = StreamTB(dut)
    elem_bits, lanes = tb.elem_bits, tb.lanes
    codec, cname = _codec(elem_bits)
    if cname == "zvce":
        dut.code_table.value = int.from_bytes(codec.table.pack(), "little")
    in_bytes = tb.params.get("in_bytes") or lanes * elem_bits // 8
    eb = elem_bits // 8
    cases, seed, out = settings(60)
    camp = Campaign(f"{cname}-decode-e{elem_bits}-l{lanes}", seed, out, tb.log)
    rng = np.random.default_rng(seed)
    tb.set_idle_generator(None)
    await tb.reset()
    # pauses on after reset (the models are idle)
    tb.source.set_pause_generator(random_pauses(0.15, seed + 1))
    tb.sink.set_pause_generator(random_pauses(0.25, seed + 2))
    for case in range(cases):
        n = int(rng.choice([0, 1, 5, 31, 32, 33, 64, 100, 257, 600]))
        x = _elements(n, float(rng.choice([0.0, 0.05, 0.3, 0.7, 1.0])), elem_bits, rng, cname)
        y = _elements(int(rng.integers(1, 80)), 0.5, elem_bits, rng, cname)
        payload, other = codec.encode(x, elem_bits), codec.encode(y, elem_bits)
        names = []
        count = n
        for _ in range(int(rng.integers(1, 3))):
            name, payload, count = mutate(rng, payload, count, other, elem_bits)
            names.append(name)
        try:
            want = codec.decode(payload, count, elem_bits).tobytes()
            code = 0
        except golden.FormatError as exc:
            want, code = None, int(exc.code)
        good = _elements(int(rng.integers(1, 3 * lanes)), 0.6, elem_bits, rng, cname)
        # watchdog: input beats + output beats + per-window/token slack
        bound = 64 + 4 * (len(payload) // in_bytes + 1) + 4 * (min(count, 1 << 16) // lanes + 1) \
            + 4 * (len(payload) // (1 + eb) + 1) + 8 * good.size
        t0 = tb.cycle
        errs0 = len(tb.errors)
        tb.source.send_nowait(_frame(payload))
        tb.source.send_nowait(_frame(codec.encode(good, elem_bits)))
        cocotb.start_soon(tb.send_count(count))
        cocotb.start_soon(tb.send_count(good.size))
        label = golden.ErrorCode(code).name
        what = f"{names} n={n} count={count} payload={payload[:24].hex()}.. ({len(payload)} B)"
        try:
            data, user = await with_timeout(tb.recv(), bound * CLOCK_NS, "ns")
            gdata, guser = await with_timeout(tb.recv(), bound * CLOCK_NS, "ns")
        except cocotb.triggers.SimTimeoutError:
            camp.finding(case, f"HANG (no packet within {bound} cycles): {what}")
            break
        await ClockCycles(dut.clk, 3)
        camp.cycles_max = max(camp.cycles_max, tb.cycle - t0)
        errs = tb.errors[errs0:]
        problems = []
        if len(data) > count * eb:
            problems.append(f"{len(data)} bytes out for a count of {count}")
        if code == 0 and (user != 0 or data != want):
            problems.append(f"golden accepts, DUT user={user} {len(data)} B")
        if code != 0 and user != 1:
            problems.append(f"golden {label}, no tuser error flag")
        if errs != ([code] if code else []):
            problems.append(f"error pulses {errs}, golden {label}")
        if guser != 0 or gdata != good.tobytes():
            problems.append("next good chunk not decoded exactly")
        if problems:
            camp.finding(case, "; ".join(problems) + f" -- {what}")
        else:
            camp.outcome(label)
    tb.check_rules()
    camp.finish(elem_bits=elem_bits, lanes=lanes, in_bytes=in_bytes)
