"""``cdma bench engine``: argument checks and the table, without running a simulation."""
from __future__ import annotations

import argparse

from cdma import bench
from cdma.bench import engine as bench_engine


def _rows():
    rows = []
    for direction in ("offload", "prefetch"):
        for density, ratio in ((0.1, 8.0), (0.9, 1.1)):
            bound = min(64, 32 * ratio)
            rows.append(dict(direction=direction, codec="zvc", density=density, ratio=ratio,
                             raw_per_cycle=0.97 * bound, bound=bound, efficiency=0.97))
            rows.append(dict(direction=direction, codec="raw", density=density, ratio=1.0,
                             raw_per_cycle=31.5, bound=32, efficiency=31.5 / 32))
    return rows


def test_table():
    text = bench_engine.table(_rows())
    lines = text.splitlines()
    assert len(lines) == 5 and "speedup" in lines[0]
    assert lines[1].split()[:2] == ["offload", "0.10"]
    assert lines[1].split()[-1] == f"{0.97 * 64 / 31.5:.2f}x"
    assert "97.0%" in lines[3]


def test_registered_and_rejects_bad_arguments(capsys):
    assert bench.KINDS["engine"][0] == "cdma.bench.engine"
    p = argparse.ArgumentParser()
    bench_engine.add_arguments(p)
    assert bench_engine.run(p.parse_args(["--densities", "0.1,x"])) == 2
    assert "--densities must be numbers, not '0.1,x'" in capsys.readouterr().out
    assert bench_engine.run(p.parse_args(["--densities", "1.5"])) == 2
    assert bench_engine.run(p.parse_args(["--kib", "0"])) == 2


def test_reports_and_fails_below_min_share(monkeypatch, capsys, tmp_path):
    """A point below ``--min-share``: the table is still printed, then FAIL and exit 1."""
    rows = _rows()
    rows[2] = dict(rows[2], raw_per_cycle=0.5 * rows[2]["bound"], efficiency=0.5)
    seen = {}

    def failing(*args, **kw):
        seen.update(kw)
        raise bench_engine.BenchFailed("below the bound", rows)
    monkeypatch.setattr(bench_engine, "measure", failing)
    p = argparse.ArgumentParser()
    bench_engine.add_arguments(p)
    out = tmp_path / "rows.json"
    assert bench_engine.run(p.parse_args(["--min-share", "0.9", "--json", str(out)])) == 1
    assert seen["min_share"] == 0.9
    text = capsys.readouterr().out
    assert bench_engine.table(rows) in text
    assert "FAIL: offload zvc density 0.90: 50.0% of the bound, below 90%" in text
    assert out.exists()
    assert bench_engine.run(p.parse_args(["--min-share", "1.5"])) == 2
