"""Formal proofs of the ``hw`` blocks (``cdma formal``, ``make formal``).

Property sets (:mod:`cdma.formal.props`) become SymbiYosys tasks
(:mod:`cdma.formal.run`): each set is proven (``prove``, k-induction) or
checked to a depth (``bmc``), and its ``Cover`` statements are reached in a
``cover`` task of their own, so that no set passes for nothing.  The broken
variants of :mod:`cdma.formal.faults` must fail the set they target
(``tests/test_formal.py``).  What is proven and what is not:
``docs/FORMAL.md``.
"""
from __future__ import annotations

from .run import Check, FormalToolError, Result, run_check, tool_paths

__all__ = ["CHECKS", "PropertySet", "SETS", "Check", "Result", "FormalToolError", "run_check",
           "tool_paths", "select", "add_arguments", "run"]

import dataclasses
from typing import Callable


@dataclasses.dataclass(frozen=True)
class PropertySet:
    """A property set: its proof task, its cover task and its broken variants.

    Attributes
    ----------
    name : str
        E.g. ``"zvc-compress stream rules"``; the cover task is ``name + " (cover)"``.
    module : str
        ``cdma generate`` name of the design.
    mode : str
        ``prove`` or ``bmc``.
    depth : int
        Induction depth or BMC depth.
    cover_depth : int
        Depth of the cover task.
    build : callable
        ``build(fault=None)`` -> harness.
    faults : dict of str to int
        Broken variant -> BMC depth at which it must fail.
    quick : bool
        In the default test suite.
    what : str
        What the set shows.
    memory_map : bool
        See :class:`~cdma.formal.run.Check`.
    """

    name: str
    module: str
    mode: str
    depth: int
    cover_depth: int
    build: Callable
    faults: dict = dataclasses.field(default_factory=dict)
    quick: bool = False
    what: str = ""
    memory_map: bool = True

    def checks(self):
        """The proof task and the cover task."""
        faults = tuple(self.faults)
        return [Check(self.name, self.module, self.mode, self.depth, self.build, self.what,
                      self.quick, faults, self.memory_map),
                Check(f"{self.name} (cover)", self.module, "cover", self.cover_depth, self.build,
                      f"covers of: {self.what}", self.quick, (), self.memory_map)]

    def fault_check(self, fault):
        """The BMC task that the broken variant ``fault`` must fail."""
        return Check(f"{self.name} [{fault}]", self.module, "bmc", self.faults[fault],
                     self.build, f"broken variant {fault}", self.quick, (fault,),
                     self.memory_map)


def _sets():
    from . import props, units
    out = []
    for mod in ("zvc-compress", "zvc-decompress", "rle-encode", "rle-decode"):
        out.append(PropertySet(
            f"{mod} stream rules", mod, "prove", 3, 24,
            lambda fault=None, mod=mod: props.StreamRules(mod, fault),
            faults={"fifo-slip": 24}, quick=True,
            what="E=8 x 4 lanes: outputs hold valid and payload until the transfer; "
                 "no valid out of reset"))
    for mod in ("zvc-compress", "zvc-decompress", "rle-encode", "rle-decode"):
        out.append(PropertySet(
            f"{mod} stream rules 32x2", mod, "prove", 3, 24,
            lambda fault=None, mod=mod: props.StreamRules(mod, fault, elem_bits=32, lanes=2,
                                                          beat_bytes=8),
            faults={"fifo-slip": 24},
            what="the same at E=32 x 2 lanes, 8-byte compressed beats"))
    out.append(PropertySet(
        "engine write-range guard", "engine", "prove", 3, 12,
        lambda fault=None: props.WriteGuard("buffer", fault=fault),
        faults={"guard-off-by-one": 8}, quick=True, memory_map=False,
        what="the write unit's AW bursts, W beats and buffered strobes stay inside "
             "[addr, addr + length)"))
    out.append(PropertySet(
        "engine write-range guard on W", "engine", "bmc", 10, 12,
        lambda fault=None: props.WriteGuard("w", fault=fault),
        faults={"guard-off-by-one": 8}, memory_map=False,
        what="the strobes on the W channel stay inside [addr, addr + length), end to end"))
    for name, (cls, cfg, cover, fault, fault_depth, quick, what) in UNIT_SETS.items():
        out.append(PropertySet(
            f"engine {name} stream rules", "engine", "prove", 3, cover,
            lambda fault=None, cls=cls, cfg=cfg: getattr(units, cls)(fault=fault, **cfg),
            faults={fault: fault_depth}, quick=quick, memory_map=False, what=what))
    for name, (cls, cfg, depth, cover, fault, fault_depth, what) in UNIT_STATUS.items():
        out.append(PropertySet(
            f"engine {name} status stream rules", "engine", "bmc", depth, cover,
            lambda fault=None, cls=cls, cfg=cfg: getattr(units, cls)(fault=fault, status=True,
                                                                     **cfg),
            faults={fault: fault_depth}, memory_map=False, what=what))
    for name, (codec, depth, cfg, note) in ROUND_TRIPS.items():
        lo = cfg.get("min_elems", 0)
        out.append(PropertySet(
            name, f"{codec}-loopback", "bmc", depth, depth,
            lambda fault=None, codec=codec, cfg=cfg: props.RoundTrip(codec, fault=fault, **cfg),
            faults={"piece-flip": depth},
            what=f"compressor into decompressor, {cfg['lanes']} lanes, full rate, "
                 + (f"{lo} <= " if lo else "") + f"n <= {cfg['max_elems']}{note}: "
                 "element j comes out as it went in, exactly n elements"))
    for mod, (depth, cfg) in HOSTILE.items():
        out.append(PropertySet(
            f"{mod} hostile input", mod, "bmc", depth, depth,
            lambda fault=None, mod=mod, cfg=cfg: props.HostileInput(mod, fault=fault, **cfg),
            faults={"count-plus-one": depth},
            what="any bytes, any counts: never more elements than the count; a short chunk "
                 "is flagged; documented error codes"))
    return out


#: Stream rules of the engine's units (``cdma.formal.units``, configuration
#: ``units.UNIT_CONFIG``): harness class, overrides, cover depth, broken
#: variant and the BMC depth at which it fails, quick, what.
UNIT_SETS = {
    "frame-parser": ("ParserRules", {}, 18, "skid-slip", 12, True,
                     "FrameParser, 4-byte H2C beats: jobs and pay hold valid and payload until "
                     "the transfer, no valid out of reset; pay beats before the last are full; "
                     "H2C taken only inside a frame"),
    "fetch": ("FetchRules", {}, 11, "skid-slip", 12, True,
              "FetchUnit, 16-byte beats, a legal AXI read slave: AR and o hold valid and "
              "payload; RREADY high while beats are in flight"),
    "offload": ("OffloadRules", {}, 27, "fifo-slip", 14, False,
                "OffloadUnit (raw codec, 2 banks of 512 B): AR, C2H and the reader's stream "
                "into the frame packer hold valid and payload; no valid out of reset"),
    "prefetch": ("PrefetchRules", {"pcie_bytes": 16}, 27, "slip-behind-full-writer", 21, False,
                 "PrefetchUnit (raw codec, 16-byte H2C beats): the stream into the write unit "
                 "holds valid and payload; no valid out of reset"),
}
#: The status outputs of the offload and prefetch units, bounded: their
#: payload holds only because the frame's last beat has left the packer (or
#: the parser's end job has been taken) before the status rises, and an
#: induction would need invariants over the contents of the packer's FIFOs.
#: Harness class, overrides, BMC depth, cover depth, broken variant and its
#: depth, what.
UNIT_STATUS = {
    "offload": ("OffloadRules", {}, 27, 27, "fifo-slip", 14,
                "the offload set with the status output too (bounded)"),
    "prefetch": ("PrefetchRules", {"pcie_bytes": 16}, 27, 27, "slip-behind-full-writer", 21,
                 "the prefetch set with the status output too (bounded)"),
}
#: Round trips: BMC depth (cycles; a cover at that depth sees the chunk's
#: last element out) and configuration.
ROUND_TRIPS = {
    "zvc round trip": ("zvc", 33, dict(lanes=16, max_elems=16, stalls=False), ""),
    # one beat is one window of 32 elements: the chunk crosses into the second
    # window; the first is a full window of ones (its mask and 32 elements),
    # so the second window's mask straddles two compressed beats
    "zvc round trip over two windows": (
        "zvc", 33, dict(lanes=32, min_elems=33, max_elems=40, stalls=False, fixed_first=1),
        ", first window all ones, j in the second"),
    "rle round trip": ("rle", 38, dict(lanes=2, max_elems=4, stalls=False), ""),
}
#: Hostile-input sets: BMC depth and configuration overrides.
HOSTILE = {
    # (the ZVC window decoder's covers are reached at steps 13, 13 and 16: its
    # latency is 13 cycles at 4 lanes since session 37, 15 in session 36,
    # when a depth of 16 left the last one out of reach)
    "zvc-decompress": (22, {}),
    "rle-decode": (22, dict(lanes=2, beat_bytes=2)),
}

#: The property sets, in run order.
SETS = _sets()
#: Every task of ``cdma formal``, by name.
CHECKS = {c.name: c for s in SETS for c in s.checks()}


def select(only=None, quick=False):
    """The tasks to run: all, the quick ones, or those named in ``only``.

    ``only`` is a list of task names, property-set names (a set's proof and
    cover) or module names.

    Raises
    ------
    ValueError
        A name matches nothing; the message lists the valid names.
    """
    checks = [c for c in CHECKS.values() if c.quick or not quick]
    if not only:
        return checks
    chosen = []
    for name in only:
        hits = [c for c in checks if name in (c.name, c.module) or c.name == f"{name} (cover)"]
        if not hits:
            valid = sorted({c.name for c in checks} | {c.module for c in checks})
            raise ValueError(f"unknown formal task {name!r}; valid names: " + ", ".join(valid))
        chosen += [c for c in hits if c not in chosen]
    return chosen


def format_table(results) -> str:
    """The results as a text table (name, module, mode, depth, status, seconds)."""
    rows = [("name", "module", "mode", "depth", "status", "seconds")]
    rows += [(r.name, r.module, r.mode, str(r.depth), r.status, f"{r.seconds:.1f}")
             for r in results]
    widths = [max(len(row[k]) for row in rows) for k in range(6)]
    lines = []
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) if k < 5 else cell.rjust(w)
                               for k, (cell, w) in enumerate(zip(row, widths))).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def add_arguments(p):
    p.add_argument("--only", metavar="NAME[,NAME...]",
                   help="run only these tasks (task, property-set or module names; "
                        "`--list` shows them)")
    p.add_argument("--quick", action="store_true",
                   help="only the quick tasks (those of the default test suite)")
    p.add_argument("--list", action="store_true", help="list the tasks and exit")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON")
    p.add_argument("--work", metavar="DIR", default="build/formal",
                   help="SymbiYosys work folders (default: build/formal)")
    p.add_argument("--timeout", type=float, default=3600.0, metavar="S",
                   help="seconds per task before it is stopped (default 3600)")


def run(args) -> int:
    import json
    import sys
    import time
    try:
        checks = select(args.only.split(",") if args.only else None, quick=args.quick)
    except ValueError as exc:
        print(f"cdma formal: error: {exc}", file=sys.stderr)
        return 2
    if args.list:
        for c in checks:
            print(f"{c.name:44s} {c.module:16s} {c.mode:6s} depth {c.depth:3d}  {c.what}")
        return 0
    if args.timeout <= 0:
        print(f"cdma formal: error: --timeout must be positive, not {args.timeout!r}",
              file=sys.stderr)
        return 2
    try:
        tool_paths()
    except FormalToolError as exc:
        print(f"cdma formal: error: {exc}", file=sys.stderr)
        return 2
    results = []
    t0 = time.monotonic()
    for k, c in enumerate(checks, 1):
        print(f"[{k}/{len(checks)}] {c.name} ({c.mode}, depth {c.depth}) ...", flush=True)
        r = run_check(c, args.work, timeout=args.timeout)
        results.append(r)
        print(f"      {r.status} in {r.seconds:.1f} s" + (f"  (work: {r.workdir})" if r.status != "pass" else ""),
              flush=True)
        if r.detail:
            print("      " + r.detail.replace("\n", "\n      "), flush=True)
    print()
    print(format_table(results))
    failed = [r for r in results if r.status != "pass"]
    print(f"\n{len(results) - len(failed)} passed, {len(failed)} failed "
          f"({time.monotonic() - t0:.0f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": [r.as_json() for r in results]}, f, indent=1)
            f.write("\n")
    return 1 if failed else 0
