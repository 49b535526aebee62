"""Shared Amaranth-simulator harness for the ``hw`` stream blocks.

Producers with random gaps (:func:`put_beats`), consumers with random
backpressure (:func:`get_packet`), :func:`latency` of one beat, and monitors:

* :func:`add_rule_monitor` -- the :mod:`amaranth.lib.stream` rules on a stream:
  once ``valid`` is high it stays high, and the payload holds, until the
  transfer;
* :func:`get_packet` with ``probe=`` -- *ready isolation*: in every cycle the
  consumer flips the output's ``ready`` and checks that the probed input
  ``ready`` signals do not move (no combinational path from an output's ready
  to an input's ready).

:func:`simulate` runs a design with its testbenches, a watchdog and the rule
monitor; :func:`run_encoder` / :func:`run_decoder` drive the codec blocks'
ports, and :func:`golden_verdicts` / :func:`check_decoded` compare a decoder's
results with the golden model's.
"""
from __future__ import annotations

__all__ = ["put_beats", "get_packet", "add_rule_monitor", "add_watchdog", "fields_of", "byte_beats",
           "golden_verdicts", "check_decoded", "malformed_then_good",
           "element_beats", "bytes_of", "latency", "elements", "simulate", "run_encoder",
           "run_decoder"]


def fields_of(s):
    """Payload field names of stream ``s`` (``None`` for a plain payload)."""
    try:
        return [name for name, _ in s.p.shape()]
    except TypeError:
        return None


def _payload(s):
    return s.p if fields_of(s) is None else [getattr(s.p, f) for f in fields_of(s)]


def _set_beat(ctx, s, beat):
    """Drive one beat: a dict of payload fields, a tuple of all of them in the
    layout's order, or the value of a plain payload."""
    names = fields_of(s)
    if names is None:
        ctx.set(s.p, beat)
        return
    if not isinstance(beat, dict):
        beat = dict(zip(names, beat, strict=True))
    for name, value in beat.items():
        ctx.set(getattr(s.p, name), value)


async def put_beats(ctx, s, beats, rng, gap):
    """Drive ``beats`` on stream ``s`` (each a dict of payload fields, a tuple of
    them in the layout's order, or a plain payload's value); each beat waits
    ``gap``-probable idle cycles first."""
    for beat in beats:
        while rng.random() < gap:
            ctx.set(s.valid, 0)
            await ctx.tick()
        ctx.set(s.valid, 1)
        _set_beat(ctx, s, beat)
        await ctx.tick().until(s.ready)
    ctx.set(s.valid, 0)


def byte_beats(payload, nbytes):
    """``(data, keep, last)`` beats of ``nbytes`` carrying ``payload`` (one null beat
    with ``keep`` 0 when it is empty)."""
    out = []
    nbeats = max(1, -(-len(payload) // nbytes))
    for b in range(nbeats):
        part = payload[b * nbytes:(b + 1) * nbytes]
        out.append((int.from_bytes(part, "little"), (1 << len(part)) - 1, int(b == nbeats - 1)))
    return out


def latency(dut, beat, setup=None):
    """Cycles from the edge that transfers ``beat`` on ``dut.i`` until ``dut.o.valid``
    rises (``dut.o.ready`` held high); ``setup(ctx)``, if given, runs first."""
    from amaranth.sim import Simulator
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    res = {}

    async def tb(ctx):
        ctx.set(dut.o.ready, 1)
        if setup is not None:
            await setup(ctx)
        ctx.set(dut.i.valid, 1)
        _set_beat(ctx, dut.i, beat)
        await ctx.tick().until(dut.i.ready)
        ctx.set(dut.i.valid, 0)
        n = 0
        while not ctx.get(dut.o.valid):
            await ctx.tick()
            n += 1
            assert n < 1000, "no output beat within 1000 cycles"
        res["n"] = n

    sim.add_testbench(tb)
    sim.run()
    return res["n"]


async def get_packet(ctx, s, rng, backpressure, *, probe=(), isolation=None):
    """Beats of one packet from ``s`` (dicts of its payload fields, up to ``last``).

    ``probe``: ``ready`` signals that must not depend on ``s.ready``; any cycle in
    which one of them changes when ``s.ready`` flips is appended to ``isolation``.
    """
    names = fields_of(s)
    beats = []
    while True:
        while True:
            if probe:
                ctx.set(s.ready, 0)
                low = [ctx.get(r) for r in probe]
                ctx.set(s.ready, 1)
                high = [ctx.get(r) for r in probe]
                if low != high:
                    isolation.append((len(beats), low, high))
            stall = rng.random() < backpressure
            ctx.set(s.ready, 0 if stall else 1)
            if not stall and ctx.get(s.valid):
                break
            await ctx.tick()
        vals = [int(ctx.get(v)) for v in _payload(s)]
        await ctx.tick()
        beats.append(dict(zip(names, vals)))
        if beats[-1]["last"]:
            ctx.set(s.ready, 0)
            return beats


def add_rule_monitor(sim, s, violations):
    """Check the valid/ready rules on stream ``s`` at every clock edge."""
    async def monitor(ctx):
        prev = None
        async for _, _, valid, ready, *vals in ctx.tick().sample(s.valid, s.ready,
                                                                 *_payload(s)):
            vals = [int(v) for v in vals]
            if prev is not None and prev[0] and not prev[1]:
                if not valid or vals != prev[2]:
                    violations.append((prev, (int(valid), int(ready), vals)))
            prev = (int(valid), int(ready), vals)
    sim.add_testbench(monitor, background=True)


def add_watchdog(sim, cycles, what="the simulation"):
    """Fail ``sim.run()`` with an ``AssertionError`` after ``cycles`` clock cycles:
    a design that loses a beat makes its consumer wait forever, and a test must
    fail then, not hang."""
    async def watchdog(ctx):
        for _ in range(cycles):
            await ctx.tick()
        raise AssertionError(f"{what} did not finish within {cycles} cycles")
    sim.add_testbench(watchdog, background=True)


def element_beats(x, elem_bits, lanes, null_close=False):
    """(data, keep, last) beats of element words ``x`` (numpy), ``lanes`` per beat;
    with ``null_close`` the last element beat is full-keep and a null beat
    (keep 0) carries ``last``."""
    from cdma import golden
    out = []
    nbeats = max(1, -(-x.size // lanes)) if not null_close else -(-x.size // lanes)
    for b in range(nbeats):
        part = x[b * lanes:(b + 1) * lanes]
        word = int.from_bytes(part.astype(golden.elem_dtype(elem_bits)).tobytes(), "little")
        last = int(b == nbeats - 1 and not null_close)
        out.append((word, (1 << part.size) - 1 if last else (1 << lanes) - 1, last))
    if null_close:
        out.append((0, 0, 1))
    return out


def bytes_of(beats, nbytes, unit=1):
    """Bytes kept by ``beats`` (``keep`` bit per ``unit`` bytes); checks the keep rules."""
    out = bytearray()
    lanes = nbytes // unit
    for b in beats:
        n = bin(b["keep"]).count("1")
        assert b["keep"] == (1 << n) - 1, "keep is not a prefix"
        assert b["last"] or n == lanes, "hole in a non-final beat"
        out += b["data"].to_bytes(nbytes, "little")[:n * unit]
    return bytes(out)


def elements(n, density, elem_bits, rng):
    """``n`` random element words of which about ``density`` are nonzero."""
    import numpy as np

    from cdma import golden
    dt = golden.elem_dtype(elem_bits)
    x = rng.integers(1, 1 << elem_bits, size=n, dtype=np.uint64).astype(dt)
    x[rng.random(n) >= density] = 0
    return x


def simulate(dut, benches, background=(), *, cycles=200_000, rules_on=()):
    """Run ``dut`` with the testbenches ``benches`` (and ``background`` ones) under a
    :func:`add_watchdog` of ``cycles``; fail if a stream of ``rules_on`` breaks the
    stream rules (:func:`add_rule_monitor`)."""
    from amaranth.sim import Simulator
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    for bench in benches:
        sim.add_testbench(bench)
    for bench in background:
        sim.add_testbench(bench, background=True)
    violations = {id(s): [] for s in rules_on}
    for s in rules_on:
        add_rule_monitor(sim, s, violations[id(s)])
    add_watchdog(sim, cycles)
    sim.run()
    broken = [v[:3] for v in violations.values() if v]
    assert not broken, f"stream rule violated: {broken}"


def run_encoder(dut, chunks, seed=0, gap=0.3, backpressure=0.3, *, null_close=False,
                background=()):
    """Run an encoder with the codec encoders' ports (``i`` elements, ``o`` bytes)
    on ``chunks`` (element arrays; ``null_close``: see :func:`element_beats`), with
    random input gaps and output backpressure, the stream rules checked on ``o``.
    ``background``: more testbenches (monitors).  Returns each packet's bytes."""
    import numpy as np
    rng = np.random.default_rng(seed)
    results = []

    async def producer(ctx):
        for x in chunks:
            await put_beats(ctx, dut.i, element_beats(x, dut.elem_bits, dut.lanes, null_close),
                            rng, gap)

    async def consumer(ctx):
        for _ in chunks:
            beats = await get_packet(ctx, dut.o, rng, backpressure)
            results.append(bytes_of(beats, dut.out_bytes))

    simulate(dut, [producer, consumer], background, rules_on=[dut.o])
    return results


def run_decoder(dut, chunks, seed=0, gap=0.3, backpressure=0.3):
    """Run a decoder with the codec decoders' ports (``i`` bytes, ``count``, ``o``
    elements with ``user``, ``error``/``error_code``) on ``chunks`` = [(payload,
    count)], with random input gaps and output backpressure, the stream rules
    checked on ``o``.  Returns ([(elements, user)], [error codes])."""
    import numpy as np

    from cdma import golden
    rng = np.random.default_rng(seed)
    results, errors = [], []
    dt = golden.elem_dtype(dut.elem_bits)
    eb = dut.elem_bits // 8

    async def producer(ctx):
        for payload, _ in chunks:
            await put_beats(ctx, dut.i, byte_beats(payload, dut.in_bytes), rng, gap)

    async def counts(ctx):
        await put_beats(ctx, dut.count, [count for _, count in chunks], rng, gap)

    async def consumer(ctx):
        for _ in chunks:
            beats = await get_packet(ctx, dut.o, rng, backpressure)
            raw = bytes_of(beats, dut.lanes * eb, unit=eb)
            results.append((np.frombuffer(raw, dt), beats[-1]["user"]))

    async def error_watch(ctx):
        async for _, _, err, code in ctx.tick().sample(dut.error, dut.error_code):
            if err:
                errors.append(int(code))

    simulate(dut, [producer, counts, consumer], [error_watch], rules_on=[dut.o])
    return results, errors


def golden_verdicts(codec, chunks, elem_bits):
    """Per chunk ``(payload, count)``, what the golden ``codec`` (``golden.zvc`` or
    ``golden.rle``) says: the decoded elements, or the ``ErrorCode`` it raises."""
    from cdma import golden
    out = []
    for payload, count in chunks:
        try:
            out.append(codec.decode(payload, count, elem_bits))
        except golden.FormatError as exc:
            out.append(exc.code)
    return out


def check_decoded(chunks, expect, got, errors):
    """A decoder's results (``run_decoder``) against :func:`golden_verdicts`: every
    chunk closes, a rejected one with ``user`` set, never more elements than its
    count, a good one with exactly the golden elements; the ``error`` pulses carry
    the golden codes in order."""
    import numpy as np

    from cdma import golden
    assert errors == [int(e) for e in expect if isinstance(e, golden.ErrorCode)]
    assert len(got) == len(chunks)
    for (_, count), exp, (y, user) in zip(chunks, expect, got):
        assert y.size <= count
        if isinstance(exp, golden.ErrorCode):
            assert user == 1
        else:
            assert user == 0
            np.testing.assert_array_equal(y, exp)


def malformed_then_good(codec, cases, elem_bits, rng, density):
    """Chunks ``(payload, count)``: each malformed ``(payload, count)`` of ``cases``
    followed by a good ``codec`` chunk of 45 elements, and their golden verdicts
    (:func:`golden_verdicts`; every malformed case must be refused by golden)."""
    from cdma import golden
    chunks = []
    for payload, count in cases:
        ok = elements(45, density, elem_bits, rng)
        chunks += [(payload, count), (codec.encode(ok, elem_bits), ok.size)]
    expect = golden_verdicts(codec, chunks, elem_bits)
    assert all(isinstance(e, golden.ErrorCode) for e in expect[::2]), "golden accepts a case"
    return chunks, expect
