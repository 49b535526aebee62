"""``cdma synth``: area, Fmax and gate count of a generated module.

``cdma synth MODULE [generate options]`` generates the module's Verilog (as
``cdma generate`` would), then runs, all from PyPI (``pip install 'cdma[synth]'``):

* Yosys ``synth_ecp5`` and nextpnr-ecp5 on an LFE5U-85F, out of context: LUT4
  (a CCU2C carry cell counts as 2), flip-flops, EBR and DSP blocks, and the Fmax
  nextpnr achieves on ``clk`` (router2 by default, ``--router``).  Yosys runs
  once; nextpnr runs once per speed grade of ``--speed`` (default ``6,8``): the
  table has an Fmax column per grade (the first, 6 by default, is the yardstick
  ``fmax_mhz``), and a note under it per design names the critical path at the
  first grade (start and end cell, delay, routing share, logic levels, from
  nextpnr's ``--report``; per grade in the JSON).  A design that does not fit,
  or whose place-and-route exceeds ``--pnr-timeout``, keeps its synthesis
  figures and shows "—" for Fmax, with the reason under the table;
* Yosys generic ``synth`` + ABC to 2-input gates: a gate count and gate
  equivalents (NAND2 = 1, weights in :data:`cdma.eda.tools.GATE_WEIGHTS`), for
  comparison with ASIC papers that report kGE.

``cdma synth --sweep`` runs a list of configurations and writes a table
(Markdown), JSON and a plot of LUTs and Fmax against bytes per cycle.  The
options before MODULE (``--json``, ``--speed``, ``--no-pnr``, ...) are also
accepted after it and its generate options.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

from . import tools as eda

__all__ = ["SWEEP", "SWEEP_ENGINES", "DEFAULT_SPEEDS", "SHARED_OPTIONS", "TABLE_HEAD", "table_head", "unit_table",
           "synth_module", "add_arguments", "run"]

#: nextpnr-ecp5 speed grades of ``cdma synth`` without ``--speed``: the first (6,
#: the slowest) is the yardstick ``fmax_mhz``; 8 is the fastest.
DEFAULT_SPEEDS = (6, 8)

#: Configurations of ``--sweep``: (module, parameters).  8 to 64 raw bytes per
#: cycle; 32 x 16 is the engine's default codec width.  Each places in minutes
#: with the WebAssembly nextpnr on a 2-core machine.  The ZVCE blocks come in the
#: widths of the ZVC ones they are compared with, less E = 8 (ZVCE codes 16- and
#: 32-bit elements only).
SWEEP = tuple(
    (module, {"elem_bits": eb, "lanes": lanes})
    for module in ("zvc-compress", "zvc-decompress", "rle-encode", "rle-decode")
    for eb, lanes in ((8, 8), (16, 4), (32, 4), (32, 16))
) + tuple(
    (module, {"elem_bits": eb, "lanes": lanes})
    for module in ("zvce-compress", "zvce-decompress")
    for eb, lanes in ((16, 4), (32, 4), (32, 16))
)
#: Engine configurations that ``--sweep`` runs after the codec blocks: the
#: defaults (all codecs, 16 B/cycle), then raw+ZVC and all codecs at 64/32
#: B/cycle (the latter needs more of the LFE5U-85F than nextpnr can place).
SWEEP_ENGINES = (
    ("engine", {}),
    ("engine", {"mem_bytes": 64, "pcie_bytes": 32, "codecs": 3}),
    ("engine", {"mem_bytes": 64, "pcie_bytes": 32}),
)


def _bytes_per_cycle(params: dict) -> int | None:
    if "elem_bits" in params and "lanes" in params:
        return params["elem_bits"] * params["lanes"] // 8
    return params.get("mem_bytes")


def synth_module(module: str, params: dict, workdir: Path, *, freq_mhz=100.0, pnr=True,
                 gates=True, pnr_timeout=1800, router=eda.DEFAULT_ROUTER,
                 placer=eda.DEFAULT_PLACER, ripup_margin=None, synth_timeout=3600,
                 speed=DEFAULT_SPEEDS, per_unit=False, seed=1,
                 wire_delay_ps=eda.DEFAULT_WIRE_DELAY_PS, jobs=1) -> dict:
    """Generate ``module`` with ``params`` and measure it.

    Parameters
    ----------
    module : str
        A module of :data:`hw.generate.REGISTRY`.
    params : dict
        Its generate parameters (None: the default).
    workdir : Path
        Verilog here, Yosys/nextpnr in ``ecp5/`` (nextpnr per grade in
        ``ecp5/speed<N>/``), the gate count in ``gates/``.
    freq_mhz, pnr, pnr_timeout, router, placer, ripup_margin, synth_timeout, speed, per_unit, seed, wire_delay_ps, jobs
        As for :func:`cdma.eda.tools.synth_ecp5` (place-and-route failures are kept
        in the row, not raised; ``per_unit``: the hierarchy kept, the area of
        every module in ``units``, no place-and-route).
    gates : bool
        Also run :func:`cdma.eda.tools.gate_count`.

    Returns
    -------
    dict
        One result row: ``module``, ``params`` (with the defaults filled in),
        ``bytes_per_cycle``, the keys of :func:`cdma.eda.tools.synth_ecp5` and of
        :func:`cdma.eda.tools.gate_count`, and ``seconds`` in all.
    """
    from cdma.hw.generate import REGISTRY, default_top_name, generate_verilog
    if module not in REGISTRY:
        raise ValueError(f"unknown module {module!r}; known: {', '.join(sorted(REGISTRY))}")
    full = {**REGISTRY[module].defaults(), **{k: v for k, v in params.items() if v is not None}}
    top = default_top_name(module)
    workdir.mkdir(parents=True, exist_ok=True)
    src = workdir / f"{top}.v"
    src.write_text(generate_verilog(module, top=top, **params))
    row = {"module": module, "params": {k: v for k, v in full.items() if v is not None},
           "bytes_per_cycle": _bytes_per_cycle(full)}
    t = time.perf_counter()
    row.update(eda.synth_ecp5(src, top, workdir / "ecp5", freq_mhz=freq_mhz, pnr=pnr,
                              pnr_timeout=pnr_timeout, router=router, placer=placer,
                              ripup_margin=ripup_margin, pnr_errors="keep",
                              synth_timeout=synth_timeout, speed=speed, per_unit=per_unit,
                              seed=seed, wire_delay_ps=wire_delay_ps, jobs=jobs))
    if gates:
        row.update(eda.gate_count(src, top, workdir / "gates"))
    row["seconds"] = round(time.perf_counter() - t, 1)
    return row


def unit_table(row, depth: int = 2) -> str:
    """Markdown table of a ``per_unit`` row's ``units`` down to ``depth`` levels below
    the top: LUT4, FF and EBR of each unit with its submodules, and the LUT4
    and FF of its own logic (the part outside its submodules)."""
    lines = ["| unit | LUT4 | FF | EBR | own LUT4 | own FF |",
             "|---|---:|---:|---:|---:|---:|"]
    for u in row["units"]:
        if u["depth"] > depth:
            continue
        name = u["unit"] or "(whole design)"
        lines.append(f"| {name} | {u['lut4']} | {u['ff']} | {u['ebr']} | {u['own']['lut4']} "
                     f"| {u['own']['ff']} |")
    return "\n".join(lines)


def _fmax_cell(row, grade, first: bool) -> str:
    """Fmax at one speed grade: MHz, "—" (place-and-route failed) or "n/a" (not run)."""
    t = row.get("timing", {}).get(str(grade))
    if t is None:       # no place-and-route, or a row without per-grade figures
        fmax, err = (row.get("fmax_mhz"), row.get("pnr_error")) if first else (None, None)
    else:
        fmax, err = t.get("fmax_mhz"), t.get("pnr_error")
    if fmax is None:
        return "—" if err else "n/a"
    spread = [v for v in (t or {}).get("fmax_by_seed", {}).values() if v is not None]
    if len(spread) > 1:                   # several seeds: the median run, and the range
        return f"{fmax:.1f} ({min(spread):.1f}-{max(spread):.1f})"
    return f"{fmax:.1f}"


def _fmt(row, speeds=DEFAULT_SPEEDS) -> str:
    """One table row (columns of :func:`table_head` with the same ``speeds``)."""
    fmax = " | ".join(_fmax_cell(row, g, i == 0) for i, g in enumerate(speeds))
    p = ", ".join(f"{k}={v}" for k, v in row["params"].items())
    kge = f"{row['ge'] / 1000:.1f}" if "ge" in row else "n/a"
    if row.get("ram_bits"):               # memories are not in the GE (see eda.gate_count)
        kge += f" + {row['ram_bits'] / 1024:.1f} kbit RAM"
    return (f"| {row['module']} | {p} | {row['bytes_per_cycle']} | {row['lut4']} | {row['ff']} | "
            f"{row['ebr']} | {row['dsp']} | {fmax} | {kge} |")


def _crit_text(row) -> str | None:
    """``critical path FROM.PORT -> TO.PORT, NS ns (R% routing, L logic levels)``, or None.

    From the row's ``crit_*`` keys (the first speed grade); a path rippling
    through carry chains also gives their steps.
    """
    if row.get("crit_from") is None or row.get("crit_ns") is None:
        return None

    def point(cell, port):
        return f"{cell}.{port}" if port else cell
    levels = row.get("crit_levels")
    detail = [f"{row['crit_route_pct']:.0f}% routing"] if row.get("crit_route_pct") is not None else []
    if levels is not None:
        detail.append(f"{levels} logic level{'' if levels == 1 else 's'}")
    if row.get("crit_carry"):
        detail.append(f"{row['crit_carry']} carry-chain step{'' if row['crit_carry'] == 1 else 's'}")
    if len(row.get("seeds") or ()) > 1 and row.get("crit_seed") is not None:
        detail.append(f"seed {row['crit_seed']}, the median run")
    return (f"critical path {point(row['crit_from'], row.get('crit_from_port'))} -> "
            f"{point(row['crit_to'], row.get('crit_to_port'))}, {row['crit_ns']:.2f} ns"
            + (f" ({', '.join(detail)})" if detail else ""))


def _notes(row) -> list[str]:
    """The lines under the table for one design: its critical path, or why it has no Fmax."""
    desc = _describe(row["module"], row["params"])
    lines = []
    crit = _crit_text(row)
    if crit:
        lines.append(f"- {desc}: {crit}")
    if row.get("pnr_error"):
        lines.append(f"- {desc}: no Fmax, {row['pnr_error']}")
    else:       # the first grade placed; a later one may still have failed
        lines += [f"- {desc}: no Fmax at speed {g}, {t['pnr_error']}"
                  for g, t in row.get("timing", {}).items() if t.get("pnr_error")]
    lines += [f"- {desc}: speed {g}, seed {sd} dropped from the median: {err}"
              for g, t in row.get("timing", {}).items()
              for sd, err in t.get("seed_errors", {}).items() if not t.get("pnr_error")]
    lines += [f"- {desc}: {_ripup_text(g, t['ripup'])}"
              for g, t in row.get("timing", {}).items() if t.get("ripup")]
    return lines


def _ripup_text(grade, ripup: dict) -> str:
    """The rip-up runs of one grade (``ripup`` of :func:`cdma.eda.tools.synth_ecp5`):
    each seed's plain Fmax, the rip-up run's target and result, and which was kept."""
    def one(sd, r):
        err = r.get("error") or ""
        got = (f"{r['fmax_mhz']:.1f}" if r.get("fmax_mhz") is not None
               else "stopped at its time limit" if r.get("timed_out")
               else f"no result ({err})" if err else "no Fmax")
        return (f"seed {sd} {r['plain_mhz']:.1f} in {r['plain_s']:.0f} s -> {got} at "
                f"{r['target_mhz']:.1f} in {r['s']:.0f} s"
                + (", kept" if r["kept"] else ""))
    return (f"speed {grade}, plain run -> rip-up run at its target: "
            + "; ".join(one(sd, r) for sd, r in ripup.items()))


def _seed_text(seeds) -> str:
    """The table header's words for the placement seed(s)."""
    if len(seeds) == 1:
        return f"seed {seeds[0]}"
    return (f"seeds {', '.join(map(str, seeds))} (each Fmax the median run's, "
            "the range over the seeds in brackets)")


def _describe(module: str, params: dict) -> str:
    """``module k=v, ...``: a configuration in the notes under the table."""
    return f"{module} {', '.join(f'{k}={v}' for k, v in params.items())}"


def _config_label(row) -> str:
    p = row["params"]
    if "lanes" in p:
        return f"E{p['elem_bits']} x {p['lanes']}\n{row['bytes_per_cycle']} B/cycle"
    return f"{row['module']}\n{row['bytes_per_cycle']} B/cycle"


def table_head(speeds=DEFAULT_SPEEDS) -> str:
    """Markdown table header: an Fmax column per nextpnr speed grade, in ``speeds`` order."""
    fmax = "".join(f" Fmax MHz (speed {g}) |" for g in speeds)
    return (f"| module | parameters | bytes/cycle | LUT4 | FF | EBR | DSP |{fmax} kGE |\n"
            "|---|---|---:|---:|---:|---:|---:|" + "---:|" * len(speeds) + "---:|")


#: The table header with the default speed grades.
TABLE_HEAD = table_head()


def plot(rows, path):
    """LUT4 and Fmax per configuration, grouped by module (bars; a missing Fmax is marked "—").

    The Fmax is ``fmax_mhz``, at the first speed grade of the run.

    Configurations are categories (E x lanes, with raw bytes/cycle), not a numeric
    axis: several share the same bytes/cycle.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    modules = list(dict.fromkeys(r["module"] for r in rows))
    configs = list(dict.fromkeys(_config_label(r) for r in rows))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.4))
    width = 0.8 / max(1, len(modules))
    for k, module in enumerate(modules):
        by_cfg = {_config_label(r): r for r in rows if r["module"] == module}
        xs = [i + (k - (len(modules) - 1) / 2) * width for i, c in enumerate(configs) if c in by_cfg]
        rs = [by_cfg[c] for c in configs if c in by_cfg]
        a1.bar(xs, [r["lut4"] for r in rs], width, label=module)
        a2.bar(xs, [r.get("fmax_mhz") or 0 for r in rs], width, label=module)
        for x, r in zip(xs, rs):
            if r.get("fmax_mhz") is None:
                a2.text(x, 1, "—", ha="center", va="bottom", fontsize=8)
    for ax in (a1, a2):
        ax.set_xticks(range(len(configs)), configs, fontsize="small")
    a1.set(ylabel="LUT4 (ECP5, synth_ecp5)", yscale="log", title="area")
    grade = next((r["speed"][0] for r in rows if r.get("speed")), None)
    a2.set(ylabel="Fmax MHz (nextpnr-ecp5" + (f", speed {grade})" if grade else ")"),
           title="clock (\"—\": no Fmax, see the table)")
    a1.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _speed_list(text: str) -> tuple[int, ...]:
    """``--speed``: comma-separated distinct nextpnr-ecp5 speed grades, e.g. ``6,8``."""
    try:
        speeds = tuple(int(x) for x in text.split(","))
        eda._speeds(speeds)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give distinct speed grades of {', '.join(map(str, eda.SPEED_GRADES))}, "
            "comma-separated (e.g. 6,8)") from None
    return speeds


def _percent(text: str) -> float | None:
    """``--ripup-margin``: a percentage from 0 to 100, returned as a fraction (0: None, off)."""
    try:
        pct = float(text)
    except ValueError:
        pct = None
    if pct is None or not 0 <= pct <= 100:
        raise argparse.ArgumentTypeError(f"{text!r}: give a percentage from 0 (no rip-up run) "
                                         "to 100, e.g. 15")
    return pct / 100 or None


def _wire_delay(text: str) -> int:
    """``--wire-delay``: picoseconds, an integer from 1 to 100000."""
    try:
        return eda._wire_delay_ps(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give the wire delay in picoseconds, an "
                                         f"integer from 1 to 100000, e.g. "
                                         f"{eda.DEFAULT_WIRE_DELAY_PS}") from None


def _seed_list(text: str) -> tuple[int, ...]:
    """``--seed``: comma-separated distinct positive integers, e.g. ``1`` or ``1,2,3``."""
    try:
        seeds = tuple(int(x) for x in text.split(","))
        eda._seeds(seeds)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give a positive integer, or distinct ones comma-separated (e.g. 1,2,3)"
        ) from None
    return seeds


def _job_count(text: str) -> int:
    """``--jobs``: a positive integer."""
    try:
        return eda._jobs(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive integer, e.g. 2") from None


#: Options accepted before MODULE and after it: (flags, add_argument keywords).
SHARED_OPTIONS = (
    (("--json",), dict(metavar="FILE", nargs="?", const="-",
                       help="machine-readable results (to FILE, or standard output)")),
    (("--plot",), dict(metavar="FILE.png", help="with --sweep: LUTs and Fmax vs bytes/cycle")),
    (("--table",), dict(metavar="FILE.md", help="write the Markdown table")),
    (("--freq",), dict(type=float, default=100.0,
                       help="nextpnr target clock, MHz (default %(default)s)")),
    (("--speed",), dict(type=_speed_list, default=",".join(map(str, DEFAULT_SPEEDS)),
                        metavar="N[,N]",
                        help="nextpnr-ecp5 speed grades (6, 7, 8), one place-and-route each, "
                             "an Fmax column each; the first gives fmax_mhz (JSON, plot) and the "
                             "critical-path notes (default %(default)s)")),
    (("--no-pnr",), dict(action="store_true", help="synthesis only (no Fmax)")),
    (("--wire-delay",), dict(type=_wire_delay, default=eda.DEFAULT_WIRE_DELAY_PS, metavar="PS",
                             help="the LUT-to-LUT wire delay Yosys's LUT mapper (abc9 -W) "
                                  "assumes, picoseconds (default %(default)s; synth_ecp5's own, "
                                  "and the figures before 2026-12-07: 300)")),
    (("--per-unit",), dict(type=int, nargs="?", const=2, metavar="DEPTH",
                           help="keep the hierarchy (synth_ecp5 -noflatten, one Yosys run) and "
                                "also report LUT4/FF/EBR per unit, DEPTH levels down (default 2); "
                                "synthesis only")),
    (("--no-gates",), dict(action="store_true", help="skip the gate count")),
    (("--synth-timeout",), dict(type=int, default=3600,
                                help="seconds allowed for Yosys per design (default %(default)s); in "
                                     "a sweep a design that exceeds it is listed under the table, "
                                     "not fatal")),
    (("--pnr-timeout",), dict(type=int, default=1800,
                              help="seconds allowed for nextpnr per design and speed grade "
                                   "(default %(default)s)")),
    (("--router",), dict(choices=("router1", "router2"), default=eda.DEFAULT_ROUTER,
                         help="nextpnr router (default %(default)s)")),
    (("--placer",), dict(choices=eda.PLACERS, default=eda.DEFAULT_PLACER,
                         help="nextpnr placer (default %(default)s; 'heap' is nextpnr's own "
                              "default and the placer of the figures before 2026-12-04)")),
    (("--ripup-margin",), dict(type=_percent, default="15", metavar="PCT",
                               help="after each nextpnr run (Fmax F) a second one with its "
                                    "timing-driven rip-up (--tmg-ripup) at the target "
                                    "F x (1 + PCT/100), and the faster routing kept (default "
                                    "%(default)s; 0: the first run only); the second may take 8x "
                                    "the first's time (at least 180 s, at most --pnr-timeout)")),
    (("--seed",), dict(type=_seed_list, default="1", metavar="N[,N]",
                       help="nextpnr placement seed(s), positive integers (default %(default)s): "
                            "placement alone moves Fmax by several MHz, so compare changes "
                            "over a few seeds; with several (e.g. 1,2,3) nextpnr runs once per "
                            "seed and grade, and each Fmax is the median run's, with the range")),
    (("--jobs", "-j"), dict(type=_job_count, default=eda.default_jobs(), metavar="N",
                            help="tool runs at once (default %(default)s, the CPUs here): "
                                 "a design's nextpnr runs (its grades and seeds), or with "
                                 "--sweep its configurations; the results are the same as one "
                                 "at a time, only sooner")),
    (("--build",), dict(default="build/synth", help="work folder (default %(default)s)")),
)


def add_arguments(p):
    """``cdma synth`` options; :data:`SHARED_OPTIONS` both before and after MODULE.

    After MODULE they default to ``argparse.SUPPRESS``: an option not repeated
    there keeps the value (or default) of the parent parser.
    """
    from cdma.hw.generate import REGISTRY
    p.add_argument("--sweep", action="store_true",
                   help="run the configurations of cdma.eda.synth.SWEEP, then the engine configurations "
                        "of SWEEP_ENGINES (defaults, 64 B/cycle raw+ZVC and all codecs)")
    p.add_argument("--only", metavar="MODULE[,MODULE]",
                   help="with --sweep: only these modules' configurations (e.g. rle-encode,engine)")
    p.add_argument("--max-bytes", type=int, default=None, metavar="N",
                   help="with --sweep: only configurations of at most N raw bytes per cycle "
                        "(e.g. 16: the twelve small codec configurations and the 16 B/cycle engine)")
    for flags, kw in SHARED_OPTIONS:
        p.add_argument(*flags, **kw)
    sub = p.add_subparsers(dest="module", metavar="MODULE")
    for entry in REGISTRY.values():
        sp = sub.add_parser(entry.name, help=entry.help)
        for prm in entry.params:
            sp.add_argument("--" + prm.name.replace("_", "-"), dest=prm.name, type=int,
                            default=prm.default, metavar="N", help=prm.help)
        shared = sp.add_argument_group("cdma synth options (also accepted before MODULE)")
        for flags, kw in SHARED_OPTIONS:
            kw = dict(kw, default=argparse.SUPPRESS,
                      help=kw["help"].replace("%(default)s", str(kw.get("default"))))
            shared.add_argument(*flags, **kw)


def _terminate(signum, frame):
    """SIGTERM (a ``kill``, a CI job's time-out) stops a run as Ctrl-C does:
    ``subprocess.run`` kills the tool that is running and what finished is written."""
    raise KeyboardInterrupt


def run(args) -> int:
    from cdma.hw.generate import REGISTRY
    if args.sweep == bool(args.module):
        print("cdma synth: give either MODULE [options] or --sweep", file=sys.stderr)
        return 2
    configs = list(SWEEP) if args.sweep else [
        (args.module, {prm.name: getattr(args, prm.name) for prm in REGISTRY[args.module].params})]
    if args.sweep and "engine" in REGISTRY:
        configs += SWEEP_ENGINES
    if args.only:
        if not args.sweep:
            print("cdma synth: --only goes with --sweep", file=sys.stderr)
            return 2
        keep = set(args.only.split(","))
        unknown = keep - {m for m, _ in configs}
        if unknown:
            print(f"cdma synth: --only: no sweep configuration of {', '.join(sorted(unknown))}",
                  file=sys.stderr)
            return 2
        configs = [(m, p) for m, p in configs if m in keep]
    if args.max_bytes is not None:
        if not args.sweep or args.max_bytes < 1:
            print(f"cdma synth: --max-bytes goes with --sweep and is >= 1, not {args.max_bytes!r}",
                  file=sys.stderr)
            return 2
        from cdma.hw.engine.params import EngineParams
        default_width = EngineParams().mem_bytes

        def width(module, params):
            return _bytes_per_cycle(params) or (default_width if module == "engine" else 0)
        configs = [(m, p) for m, p in configs if width(m, p) <= args.max_bytes]
    versions = eda.tool_versions()
    rows, failed = [], []
    grades = ", ".join(map(str, args.speed))
    pnr_desc = f"abc9 -W {args.wire_delay}, " + ("synthesis only" if args.no_pnr else
                "synthesis only, hierarchy kept (synth_ecp5 -noflatten)" if args.per_unit is not None else
                f"nextpnr {args.router}" + (f", then --tmg-ripup at Fmax + {args.ripup_margin * 100:g} % "
                                             "(the faster routing kept)"
                                             if args.ripup_margin else "")
                + f", {args.placer} placer, " + _seed_text(args.seed) + ", "
                f"speed grade{'s' if len(args.speed) > 1 else ''} {grades}, "
                f"target {args.freq:g} MHz, {args.pnr_timeout} s limit per design and grade; "
                f"critical paths at speed {args.speed[0]}")

    def report(state=""):
        """The table and JSON of the rows so far.  A sweep writes them after every
        configuration (``state`` then says how far it is), so an hours-long run that
        is stopped or killed keeps every result it finished."""
        notes = [line for r in rows for line in _notes(r)] + failed
        text = (f"ECP5 LFE5U-85F out of context ({pnr_desc}), {time.strftime('%Y-%m-%d', time.gmtime())}; "
                + ", ".join(f"{k} {v}" for k, v in versions.items()) + "\n\n"
                + (f"**{state}**\n\n" if state else "")
                + table_head(args.speed) + "\n" + "\n".join(_fmt(r, args.speed) for r in rows)
                + ("\n\n" + "\n".join(notes) if notes else "")
                + "".join(f"\n\nArea per unit, {_describe(r['module'], r['params'])}:\n\n"
                          + unit_table(r, args.per_unit) for r in rows if "units" in r))
        doc = json.dumps({"tools": versions, "results": rows, **({"state": state} if state else {})},
                         indent=1)
        if args.json and args.json != "-":
            Path(args.json).write_text(doc)
        if args.table:
            Path(args.table).write_text(text + "\n")
        return text, doc

    # A sweep runs --jobs configurations at once (each design's nextpnr runs
    # one at a time then); a single design runs --jobs of its nextpnr runs at
    # once.  One at a time, each configuration runs when its result is read.
    at_once = min(args.jobs, len(configs))

    def measure(i, module, params, tag):
        print(f"[{i}/{len(configs)}] {tag} ...", file=sys.stderr, flush=True)
        return synth_module(module, params, Path(args.build) / tag, freq_mhz=args.freq,
                            pnr=not args.no_pnr, gates=not args.no_gates,
                            pnr_timeout=args.pnr_timeout, router=args.router,
                            placer=args.placer, ripup_margin=args.ripup_margin,
                            synth_timeout=args.synth_timeout, speed=args.speed,
                            per_unit=args.per_unit is not None, seed=args.seed,
                            wire_delay_ps=args.wire_delay, jobs=args.jobs if at_once == 1 else 1)

    tags = ["-".join([module] + [f"{k}{v}" for k, v in params.items() if v is not None])
            for module, params in configs]
    interrupted = None
    previous_term = signal.signal(signal.SIGTERM, _terminate)   # run() is called from main()
    try:
        # (when the block ends, by an interrupt or an error too, what has not
        # started does not start, and what runs is killed)
        with eda.runs_at_once(at_once) as submit:
            jobs = [submit(measure, i, module, params, tag)
                    for i, ((module, params), tag) in enumerate(zip(configs, tags), 1)]
            for i, ((module, params), tag, job) in enumerate(zip(configs, tags, jobs), 1):
                try:
                    row = job.result()
                except KeyboardInterrupt:
                    interrupted = i
                    break
                except (eda.ToolMissing, ValueError, TypeError) as e:
                    print(f"cdma synth: {e}", file=sys.stderr)
                    return 2
                except eda.ToolFailed as e:
                    print(f"cdma synth: {tag}: {e}", file=sys.stderr, flush=True)
                    if not args.sweep:
                        return 1
                    # A sweep goes on: one configuration that Yosys cannot finish must
                    # not throw away the others; it is listed under the table.
                    failed.append(f"- {_describe(module, params)}: no result, {str(e).splitlines()[0]}")
                else:
                    rows.append(row)
                    times = ", ".join(f"{k[:-2]} {row[k]} s" for k in ("synth_s", "pnr_s", "gates_s")
                                      if k in row)
                    print(f"      {_fmt(row, args.speed)}  ({times})", file=sys.stderr, flush=True)
                    crit = _crit_text(row)
                    if crit:
                        print(f"      {crit}", file=sys.stderr, flush=True)
                    if row.get("pnr_error"):
                        print(f"      no Fmax: {row['pnr_error']}", file=sys.stderr, flush=True)
                    for g, t in row.get("timing", {}).items():
                        if t.get("pnr_error") and not row.get("pnr_error"):
                            print(f"      no Fmax at speed {g}: {t['pnr_error']}", file=sys.stderr, flush=True)
                        for sd, err in t.get("seed_errors", {}).items():
                            print(f"      speed {g}, seed {sd} dropped: {err}", file=sys.stderr, flush=True)
                        if t.get("ripup"):
                            print(f"      {_ripup_text(g, t['ripup'])}", file=sys.stderr, flush=True)
                if len(configs) > 1 and i < len(configs):
                    report(f"partial: {i} of {len(configs)} configurations done, the run goes on")
    finally:
        signal.signal(signal.SIGTERM, previous_term)
    if interrupted is not None:
        kept = ""
        if len(configs) > 1:
            failed += [f"- {_describe(m, p)}: no result (interrupted)" for m, p in configs[interrupted - 1:]]
            report(f"interrupted: {interrupted - 1} of {len(configs)} configurations done")
            if args.table or (args.json and args.json != "-"):
                kept = f"; the table and JSON keep the {interrupted - 1} finished before it"
            if args.plot and rows:
                plot(rows, args.plot)
        print(f"cdma synth: interrupted at configuration {interrupted} of {len(configs)}{kept}",
              file=sys.stderr)
        return 130
    text, doc = report()
    if args.json == "-":
        print(doc)
    else:
        print(text)
    if args.plot and rows:
        plot(rows, args.plot)
    pnr_failed = rows and (rows[0].get("pnr_error")
                           or any(t.get("pnr_error") for t in rows[0].get("timing", {}).values()))
    return 1 if failed or (not args.sweep and pnr_failed) else 0
