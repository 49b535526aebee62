"""``sim.runner.write_verilog``: generated once per (hw/ sources, parameters), in a
fresh process, and identical to what ``hw.generate`` gives in this one."""
from __future__ import annotations

import subprocess

import pytest

from cdma.hw.generate import generate_verilog
from cdma.sim import runner

PARAMS = dict(elem_bits=8, lanes=4)


def test_generated_once_per_key(tmp_path, monkeypatch):
    path = tmp_path / "dut.v"
    runner.write_verilog("zvc-compress", PARAMS, path, "dut")
    assert path.read_text() == generate_verilog("zvc-compress", top="dut", **PARAMS)
    calls = []
    real_run = subprocess.run

    def counting_run(*args, **kw):
        calls.append(args)
        return real_run(*args, **kw)
    monkeypatch.setattr(subprocess, "run", counting_run)
    mtime = path.stat().st_mtime_ns
    runner.write_verilog("zvc-compress", PARAMS, path, "dut")
    assert calls == [] and path.stat().st_mtime_ns == mtime      # same key: not generated
    key = runner._generator_key("zvc-compress", PARAMS, "dut")
    assert key != runner._generator_key("zvc-compress", dict(PARAMS, lanes=8), "dut")
    monkeypatch.setattr(runner, "_generator_key", lambda *a: key[::-1])   # as if hw/ changed
    runner.write_verilog("zvc-compress", PARAMS, path, "dut")
    assert len(calls) == 1
    assert path.stat().st_mtime_ns == mtime                       # same text: file untouched
    assert (tmp_path / "dut.v.key").read_text() == key[::-1]


def test_generator_error_is_reported(tmp_path):
    with pytest.raises(RuntimeError, match=r"ValueError: lanes must be an integer >= 1, not 0"):
        runner.write_verilog("zvc-compress", dict(elem_bits=8, lanes=0), tmp_path / "x.v", "x")
