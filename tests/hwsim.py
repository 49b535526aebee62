"""Shared Amaranth-simulator harness for the ``hw`` stream blocks.

Producers with random gaps, consumers with random backpressure, and monitors:

* :func:`add_rule_monitor` -- the :mod:`amaranth.lib.stream` rules on a stream:
  once ``valid`` is high it stays high, and the payload holds, until the
  transfer;
* :func:`get_packet` with ``probe=`` -- *ready isolation*: in every cycle the
  consumer flips the output's ``ready`` and checks that the probed input
  ``ready`` signals do not move (no combinational path from an output's ready
  to an input's ready).
"""
from __future__ import annotations

__all__ = ["put_beats", "get_packet", "add_rule_monitor", "fields_of"]


def fields_of(s):
    """Payload field names of stream ``s`` (``None`` for a plain payload)."""
    try:
        return [name for name, _ in s.p.shape()]
    except TypeError:
        return None


def _payload(s):
    return s.p if fields_of(s) is None else [getattr(s.p, f) for f in fields_of(s)]


async def put_beats(ctx, s, beats, rng, gap):
    """Drive ``beats`` (dicts of payload fields) on stream ``s``; each beat waits
    ``gap``-probable idle cycles first."""
    for beat in beats:
        while rng.random() < gap:
            ctx.set(s.valid, 0)
            await ctx.tick()
        ctx.set(s.valid, 1)
        for name, value in beat.items():
            ctx.set(getattr(s.p, name), value)
        await ctx.tick().until(s.ready)
    ctx.set(s.valid, 0)


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
