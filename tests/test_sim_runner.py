"""``sim.runner.write_verilog``: generated once per (hw/ sources, parameters), in a
fresh process, and identical to what ``hw.generate`` gives in this one."""
from __future__ import annotations

import os
import subprocess

import pytest

from cdma.hw.generate import generate_verilog
from cdma.sim import runner

PARAMS = dict(elem_bits=8, lanes=4)


def test_generated_once_per_key(tmp_path, monkeypatch):
    store = tmp_path / "store"
    path = tmp_path / "dut.v"
    runner.write_verilog("zvc-compress", PARAMS, path, "dut", store=store)
    assert path.read_text() == generate_verilog("zvc-compress", top="dut", **PARAMS)
    calls = []
    real_run = subprocess.run

    def counting_run(*args, **kw):
        calls.append(args)
        return real_run(*args, **kw)
    monkeypatch.setattr(subprocess, "run", counting_run)
    mtime = path.stat().st_mtime_ns
    runner.write_verilog("zvc-compress", PARAMS, path, "dut", store=store)
    assert calls == [] and path.stat().st_mtime_ns == mtime      # same key: not generated
    # another build of the same configuration (the defaults spelt out or not)
    # takes the stored file
    other = tmp_path / "other" / "dut.v"
    runner.write_verilog("zvc-compress", dict(PARAMS, out_bytes=None), other, "dut", store=store)
    assert calls == [] and other.read_text() == path.read_text()
    key = runner._generator_key("zvc-compress", PARAMS, "dut")
    assert (runner._generator_key("zvc-compress", dict(lanes=4), "dut")       # elem_bits: 32
            == runner._generator_key("zvc-compress", dict(lanes=4, elem_bits=32), "dut"))
    assert key != runner._generator_key("zvc-compress", dict(PARAMS, lanes=8), "dut")
    assert key != runner._generator_key("zvc-compress", PARAMS, "top")
    monkeypatch.setattr(runner, "_generator_key", lambda *a: key[::-1])   # as if hw/ changed
    runner.write_verilog("zvc-compress", PARAMS, path, "dut", store=store)
    assert len(calls) == 1
    assert path.stat().st_mtime_ns == mtime                       # same text: file untouched
    assert sorted(f.name for f in store.glob("*.v")) == sorted([f"{key}.v", f"{key[::-1]}.v"])


def test_store_keeps_the_most_recently_used(tmp_path, monkeypatch):
    store = tmp_path / "store"
    store.mkdir()
    for k in range(5):
        (store / f"k{k}.v").write_text("")
        os.utime(store / f"k{k}.v", (k, k))
    monkeypatch.setattr(runner, "STORE_FILES", 3)
    runner._prune(store)
    assert sorted(f.name for f in store.glob("*.v")) == ["k2.v", "k3.v", "k4.v"]


def test_generator_error_is_reported(tmp_path):
    with pytest.raises(RuntimeError, match=r"ValueError: lanes must be an integer >= 1, not 0"):
        runner.write_verilog("zvc-compress", dict(elem_bits=8, lanes=0), tmp_path / "x.v", "x",
                             store=tmp_path / "store")
