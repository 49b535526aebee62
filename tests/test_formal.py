# amaranth: UnusedElaboratable=no
"""Formal proofs (SymbiYosys via yowasp, yices): the quick property sets, their covers,
and the broken variants that each set must catch.

The long sets (round trips, hostile input, the end-to-end W strobes) run with
``make formal`` / ``cdma formal``; docs/FORMAL.md lists them all.
"""
from __future__ import annotations

import json

import pytest

from cdma import formal
from cdma.formal import FormalToolError, run_check, tool_paths

try:
    tool_paths()
except FormalToolError as exc:          # `make` installs them (extra `formal`)
    pytest.skip(str(exc), allow_module_level=True)

QUICK = [s for s in formal.SETS if s.quick]


@pytest.mark.parametrize("pset", QUICK, ids=lambda s: s.name)
def test_proof(pset, tmp_path):
    proof, _ = pset.checks()
    r = run_check(proof, tmp_path)
    assert r.status == "pass", f"{proof.name}: {r.status}\n{r.detail}"


@pytest.mark.parametrize("pset", QUICK, ids=lambda s: s.name)
def test_covers_reached(pset, tmp_path):
    """Every Cover of the set is reached: the proof is not vacuous (inputs are
    really free, the clock really steps, the interesting case exists)."""
    _, cover = pset.checks()
    r = run_check(cover, tmp_path)
    assert r.status == "pass", f"{cover.name}: {r.status}\n{r.detail}"


@pytest.mark.parametrize("pset,fault", [(s, f) for s in QUICK for f in s.faults],
                         ids=lambda x: getattr(x, "name", x))
def test_broken_variant_fails(pset, fault, tmp_path):
    """The set finds a real counterexample (BMC, not an induction artefact) in
    a design with one deliberate fault."""
    check = pset.fault_check(fault)
    r = run_check(check, tmp_path, fault=fault)
    assert r.status == "fail", f"{check.name}: expected a failure, got {r.status}\n{r.detail}"
    assert "Assert failed" in r.detail


def test_every_set_has_a_fault_and_a_cover():
    for s in formal.SETS:
        assert s.faults, f"{s.name} has no broken variant"
        assert s.cover_depth > 0
        assert s.mode in ("prove", "bmc")


def test_acceptance_names():
    names = {c.name for c in formal.CHECKS.values()}
    assert any("round trip" in n and "zvc" in n for n in names)
    assert any("round trip" in n and "rle" in n for n in names)
    proved = {s.module for s in formal.SETS if s.mode == "prove"}
    assert {"zvc-compress", "zvc-decompress", "rle-encode", "rle-decode", "engine"} <= proved
    units = {s.name for s in formal.SETS if s.mode == "prove" and s.module == "engine"}
    assert {f"engine {u} stream rules" for u in ("frame-parser", "fetch", "offload",
                                                  "prefetch")} <= units
    from cdma.hw.generate import REGISTRY
    assert {c.module for c in formal.CHECKS.values()} <= set(REGISTRY)


def test_unknown_task_lists_valid_names(capsys):
    from cdma.cli import main
    assert main(["formal", "--only", "no-such-proof"]) == 2
    err = capsys.readouterr().err
    assert "unknown formal task 'no-such-proof'" in err
    assert "zvc-compress stream rules" in err and "engine write-range guard" in err


def test_round_trip_refuses_bad_min_elems():
    from cdma.formal.props import RoundTrip
    with pytest.raises(ValueError, match="min_elems must be from 0 to max_elems"):
        RoundTrip("zvc", max_elems=16, min_elems=17)


def test_unknown_fault_is_refused(tmp_path):
    proof, _ = QUICK[0].checks()
    with pytest.raises(ValueError, match="no fault 'nope'"):
        run_check(proof, tmp_path, fault="nope")


def test_cli_json_and_table(tmp_path, capsys, monkeypatch):
    from cdma.cli import main
    out = tmp_path / "formal.json"
    # a work folder relative to the current directory, as `make formal` passes it
    # (sby runs inside the work folder: a relative path once pointed nowhere)
    monkeypatch.chdir(tmp_path)
    rc = main(["formal", "--only", "zvc-compress stream rules", "--json", str(out),
               "--work", "work"])
    text = capsys.readouterr().out
    assert rc == 0, text
    results = json.loads(out.read_text())["results"]
    assert [(r["name"], r["module"], r["mode"], r["status"]) for r in results] == [
        ("zvc-compress stream rules", "zvc-compress", "prove", "pass"),
        ("zvc-compress stream rules (cover)", "zvc-compress", "cover", "pass")]
    assert all(set(r) == {"name", "module", "mode", "depth", "status", "seconds"} for r in results)
    assert "[1/2] zvc-compress stream rules" in text and "2 passed, 0 failed" in text


def test_undriven_clock_would_be_caught(tmp_path):
    """The runner makes the clock a port: with it, a counter's cover is reached
    (a constant clock would freeze every register and pass every proof)."""
    from amaranth.hdl import Cover, Signal
    from cdma.formal.harness import FormalTop

    class Counter(FormalTop):
        def build(self, m, platform):
            x = Signal(3)
            m.d.sync += x.eq(x + 1)
            m.d.comb += Cover(x == 5)

    check = formal.Check("counter", "zvc-compress", "cover", 8, lambda fault=None: Counter())
    assert run_check(check, tmp_path).status == "pass"


LONG = [s for s in formal.SETS if not s.quick]


@pytest.mark.slow
@pytest.mark.parametrize("pset,fault", [(s, f) for s in LONG for f in s.faults],
                         ids=lambda x: getattr(x, "name", x))
def test_long_broken_variant_fails(pset, fault, tmp_path):
    """The broken variants of the `make formal` sets (make test-slow)."""
    check = pset.fault_check(fault)
    r = run_check(check, tmp_path, fault=fault)
    assert r.status == "fail", f"{check.name}: expected a failure, got {r.status}\n{r.detail}"
    assert "Assert failed" in r.detail
