"""RTL fault campaign (issue 8, items 2-7), driven through sim.runner.

Default suite: a short campaign per block (decompressors: 80 mutated chunks per
configuration; engine: 40 mutated prefetch frames, hostile descriptors, address
width, DECERR/SLVERR, 13 resets; the engine with ZVCE: 20 frames, hostile
descriptors, 6 resets).  ``-m slow``: the long campaign (``cdma.fuzz.rtl``
defaults).  Every case compares the RTL verdict with the golden model; see
docs/FAULTS.md.
"""
from __future__ import annotations

import shutil

import pytest

from cdma.sim.runner import run_cocotb

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")

DEC_SHORT = [("zvc-decompress", 32, 8), ("zvc-decompress", 8, 16), ("rle-decode", 16, 8),
             ("rle-decode", 8, 16), ("zvce-decompress", 32, 4)]


def _env(cases, seed, out=None):
    env = dict(CDMA_FAULT_CASES=str(cases), CDMA_FAULT_SEED=str(seed))
    if out:
        env["CDMA_FAULT_OUT"] = str(out)
    return env


@pytest.mark.parametrize("module, elem_bits, lanes", DEC_SHORT)
def test_decompressor_faults(module, elem_bits, lanes):
    """Mutated/truncated/extended chunks and wrong counts: golden verdicts, recovery."""
    run_cocotb(module, dict(elem_bits=elem_bits, lanes=lanes), "cdma.sim.faults.test_dec_faults",
               extra_env=_env(80, 1))


def test_engine_faults():
    """Prefetch fuzz, hostile descriptors, address width, DECERR/SLVERR, reset mid-transfer."""
    from cdma.fuzz.rtl import ENGINE_TESTS
    run_cocotb("engine", dict(elem_bits=32), "cdma.sim.faults.test_engine_faults",
               testcase=ENGINE_TESTS, extra_env=_env(40, 1))


def test_engine_faults_zvce():
    """A 16 B/cycle engine with every codec, ZVCE too: prefetch fuzz with version-2
    frames among the mutated ones (code table, ZVCE chunks), hostile descriptors
    (ZVCE offloads among them) and resets during ZVCE offloads; golden verdicts,
    recovery."""
    run_cocotb("engine", dict(elem_bits=32, mem_bytes=16, pcie_bytes=16, codecs=0b1111),
               "cdma.sim.faults.test_engine_faults",
               testcase=["test_prefetch_fuzz", "test_hostile_descriptors", "test_reset_midway"],
               extra_env=_env(20, 1))


@pytest.mark.slow
def test_long_campaign(tmp_path):
    """The long campaign: thousands of cases, zero findings, counts by outcome."""
    from cdma.fuzz.rtl import campaign
    rows, failures = campaign(2000, 500, seed=2, log_dir=tmp_path)
    assert not failures, failures
    assert sum(r["cases"] for r in rows) >= 10000
    assert not any(r["findings"] for r in rows)


def test_fuzz_rtl_command(tmp_path, capsys, monkeypatch):
    """``cdma.fuzz.rtl`` CLI pieces on a tiny campaign: counts printed, exit 0, and a
    relative ``--log-dir`` works (the simulator runs in its own build directory)."""
    import argparse

    from cdma.fuzz import rtl as fuzz_rtl
    p = argparse.ArgumentParser()
    fuzz_rtl.add_arguments(p)
    monkeypatch.chdir(tmp_path)
    args = p.parse_args(["--dec-cases", "5", "--engine-cases", "0", "--log-dir", "logs"])
    orig = fuzz_rtl.DEC_CONFIGS
    fuzz_rtl.DEC_CONFIGS = [("rle-decode", 16, 8)]
    try:
        assert fuzz_rtl.run(args) == 0
    finally:
        fuzz_rtl.DEC_CONFIGS = orig
    out = capsys.readouterr().out
    assert "RTL fault campaign: 5 cases" in out and "0 findings" in out
    assert (tmp_path / "logs" / "outcomes.jsonl").read_text().count("\n") == 1


def _table(path, header):
    """Rows ``(code, name)`` of the markdown table whose header starts with ``header``."""
    from cdma.sim.runner import REPO
    lines = (REPO / path).read_text().splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows.append(cells)
    return rows


def test_error_code_table():
    """docs/FAULTS.md's code table == golden == RTL enums == FORMAT.md/ENGINE.md tables."""
    from cdma import golden
    from cdma.hw.engine.params import EngineError
    from cdma.hw.rle import RLEError
    from cdma.hw.zvc import ZVCError
    rows = _table("docs/FAULTS.md", "| code | name | golden |")
    table = {int(r[0]): r for r in rows}
    assert {c: r[1] for c, r in table.items()} == {int(e): e.name for e in golden.ErrorCode}
    for col, enum in ((3, EngineError), (4, ZVCError), (5, RLEError)):
        marked = {c for c, r in table.items() if r[col] == "yes"}
        assert marked == {int(e) for e in enum}, (enum.__name__, marked)
        assert all(table[int(e)][1] == e.name for e in enum)
    fmt = {int(r[0]): r[1] for r in _table("docs/FORMAT.md", "| code | name | meaning |")}
    eng = {int(r[0]): r[1] for r in _table("docs/ENGINE.md", "| code | name | meaning |")}
    assert {**fmt, **eng} == {c: r[1] for c, r in table.items()}
