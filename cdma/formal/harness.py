"""Building blocks of the formal harnesses: free inputs, stream rules, internal invariants.

A harness is an :class:`~amaranth.hdl.Elaboratable` that instantiates the
design under test, drives every one of its inputs (free inputs with
``AnySeq``, never left undriven: an undriven input would become a constant
and a proof would pass for nothing), assumes the rules its inputs must keep,
and asserts what the design promises.  The design is elaborated *first*
(:class:`Elaborated`), so that the harness can also name signals inside it:
the copies that the ``hw`` blocks replicate for fan-out (``replicated``,
named ``<name>_c<k>``) are equal in every reachable state, and k-induction
needs to be told so (an induction trace may otherwise start from copies that
disagree, a state no reset ever leads to).

The harness owns the ``sync`` clock domain; its reset is a free input too
(``AnySeq``), so every property is checked across resets at any cycle.  The
harness's own registers are reset-less: they watch the design through its
resets instead of being cleared by them.
"""
from __future__ import annotations

import re
from collections import defaultdict

from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Assume, ClockDomain, Elaboratable, Fragment, Module, Signal, Value
from amaranth.lib import data

__all__ = ["Elaborated", "FormalTop", "free", "past", "assume_stream_in", "assert_stream_out",
           "replicated_groups", "assert_copies_equal", "find_origin", "find_signal"]


class Elaborated(Elaboratable):
    """An already elaborated design (a :class:`~amaranth.hdl.Fragment`), as a submodule."""

    def __init__(self, fragment: Fragment):
        self.fragment = fragment

    def elaborate(self, platform):
        return self.fragment


class FormalTop(Elaboratable):
    """Base of the harnesses: a ``sync`` domain whose reset is free.

    Subclasses implement :meth:`build` ``(m, platform)`` and use :attr:`rst`
    (the domain's reset, high in the cycles the design is reset).  The clock
    is the one port of the converted design (:attr:`clk`): a clock left
    undriven would be a constant, and no register would ever step.
    """

    def __init__(self):
        self._cd = ClockDomain("sync")
        self.clk, self.rst = self._cd.clk, self._cd.rst

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = cd = self._cd
        m.d.comb += cd.rst.eq(AnySeq(1))
        self.build(m, platform)
        return m

    def build(self, m, platform):  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def elaborate_dut(m, dut, platform, name="dut"):
        """Elaborate ``dut`` now, add it as submodule ``name``; return its fragment."""
        frag = Fragment.get(dut, platform)
        m.submodules[name] = Elaborated(frag)
        return frag


def _bits(value):
    return value.as_value() if isinstance(value, data.View) else Value.cast(value)


def free(m, *targets):
    """Drive every target (signal or view) with a fresh ``AnySeq`` each cycle."""
    for t in targets:
        v = _bits(t)
        m.d.comb += v.eq(AnySeq(len(v)))


def past(m, value, name=None):
    """A reset-less register holding ``value`` of the previous cycle."""
    v = _bits(value)
    reg = Signal(len(v), name=name, reset_less=True)
    m.d.sync += reg.eq(v)
    return reg


def _stream_history(m, s, rst, prefix):
    valid, ready, payload = s.valid, s.ready, _bits(s.payload)
    p_valid = past(m, valid, f"{prefix}_p_valid")
    p_ready = past(m, ready, f"{prefix}_p_ready")
    p_payload = past(m, payload, f"{prefix}_p_payload")
    p_rst = past(m, rst, f"{prefix}_p_rst")
    # the first cycle has no past (the harness registers start at 0 in BMC and
    # anywhere in an induction trace): `seen` gates every look back
    seen = Signal(reset_less=True, name=f"{prefix}_seen")
    m.d.sync += seen.eq(1)
    stalled = Signal(name=f"{prefix}_stalled")
    m.d.comb += stalled.eq(seen & ~p_rst & p_valid & ~p_ready)
    return stalled, p_payload, p_rst, seen


def assume_stream_in(m, s, rst, prefix):
    """Assume the stream rules on an input: once ``valid`` is up, ``valid`` and
    the payload hold until the transfer (outside resets)."""
    stalled, p_payload, _, _ = _stream_history(m, s, rst, prefix)
    with m.If(stalled & ~rst):
        m.d.comb += Assume(s.valid & (_bits(s.payload) == p_payload))


def assert_stream_out(m, s, rst, prefix):
    """Assert the stream rules on an output: ``valid`` and payload hold until the
    transfer, and ``valid`` is low in the cycle after a reset."""
    stalled, p_payload, p_rst, seen = _stream_history(m, s, rst, prefix)
    with m.If(stalled & ~rst):
        m.d.comb += Assert(s.valid, f"{prefix}: valid dropped before the transfer")
        m.d.comb += Assert(_bits(s.payload) == p_payload,
                           f"{prefix}: payload changed before the transfer")
    with m.If(seen & p_rst):
        m.d.comb += Assert(~s.valid, f"{prefix}: valid out of reset")


def _walk(fragment, path=()):
    yield path, fragment
    for sub, name, *_ in fragment.subfragments:
        yield from _walk(sub, path + (name or "?",))


def _driven(fragment):
    for domain, stmts in fragment.statements.items():
        for stmt in stmts:
            for sig in stmt._lhs_signals():
                yield domain, sig


def replicated_groups(fragment):
    """The register copies of ``hw.skid.replicated`` in ``fragment`` and below.

    Returns
    -------
    dict of str to list of Signal
        ``"path/name"`` -> the copies ``name_c0``, ``name_c1``, ... (only groups
        of two or more; a single copy has nothing to agree with).
    """
    groups = defaultdict(dict)
    for path, frag in _walk(fragment):
        for domain, sig in _driven(frag):
            match = re.fullmatch(r"(.+)_c(\d+)", sig.name)
            if match and domain != "comb" and sig.attrs.get("keep"):
                groups["/".join(path + (match[1],))][int(match[2])] = sig
    return {k: [v[i] for i in sorted(v)] for k, v in groups.items() if len(v) > 1}


def assert_copies_equal(m, fragment, rst, exclude=()):
    """Assert that every group of replicated registers holds equal copies.

    These are invariants (every copy takes the same next value), stated so
    that k-induction does not start from copies that disagree.  Returns the
    number of groups.
    """
    groups = replicated_groups(fragment)
    for name, sigs in groups.items():
        if any(re.search(x, name) for x in exclude):
            continue
        for s in sigs[1:]:
            m.d.comb += Assert(s == sigs[0], f"copies of {name} differ")
    return len(groups)


def find_origin(fragment, cls, path_contains=""):
    """The elaboratables of class ``cls`` in ``fragment`` and below (with their paths)."""
    out = []
    for path, frag in _walk(fragment):
        for origin in frag.origins or ():
            if isinstance(origin, cls) and path_contains in "/".join(path):
                out.append(("/".join(path), origin))
                break
    return out


def find_signal(fragment, name, path=None, register=False):
    """The signal named ``name`` driven in ``fragment`` (or in its sub-fragment at
    ``path``, a tuple of names; with ``register``, only a register: a port of
    the same name driven from it is left out); raises ``LookupError`` if there
    is none or several."""
    hits = []
    for p, frag in _walk(fragment):
        if path is not None and p != tuple(path):
            continue
        hits += [sig for domain, sig in _driven(frag)
                 if sig.name == name and not (register and domain == "comb")]
    hits = list({id(s): s for s in hits}.values())
    if len(hits) != 1:
        raise LookupError(f"{len(hits)} signals named {name!r} at {path!r}")
    return hits[0]
