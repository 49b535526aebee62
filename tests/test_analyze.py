"""`cdma analyze`: sizes equal real encodings; table, CSV, JSON and PNG outputs."""
import csv
import json
import subprocess
import sys
import zlib

import numpy as np
import pytest

from cdma import golden
from cdma.study import analyze, measure
from cdma.cli import main
from cdma.study.synthetic import relu_activations


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "acts"
    (d / "sub").mkdir(parents=True)
    np.save(d / "conv.npy", relu_activations((2, 16, 12, 12), 0.4, seed=1))
    np.save(d / "sub" / "deep.npy", relu_activations((2, 32, 6, 6), 0.1, seed=2))
    np.savez(d / "fc.npz", fc1=relu_activations((3, 300), 0.2, seed=3),
             ints=np.array([0, 5, 0, 0, 7], np.int8))
    return d


def test_sizes_equal_encoder_output(folder):
    for name, arr in measure.load_tensors(measure.find_tensors([folder])):
        row = measure.analyze_array(name, arr, chunk_bytes=512)
        x = golden.as_elements(arr)
        assert row["bytes_zvc"] == len(golden.zvc.encode(x))
        assert row["bytes_rle"] == len(golden.rle.encode(x))
        assert row["bytes_frame"] == len(golden.encode_frame(x, "zvc", 512))
        assert row["bytes_zlib"] == len(zlib.compress(x.tobytes(), 6))
        if x.dtype.itemsize == 1:
            assert row["bytes_frame_zvce"] is None        # ZVCE codes 16- and 32-bit elements
        else:
            assert row["bytes_frame_zvce"] == len(golden.encode_frame(x, "zvce", 512))
        # zlib-6 of each 512-byte chunk alone; a chunk stays raw unless that is strictly smaller
        per_chunk = [x.tobytes()[i:i + 512] for i in range(0, x.nbytes, 512)]
        used = [min(len(zlib.compress(c, 6)), len(c)) for c in per_chunk]
        assert row["bytes_zlib_chunk"] == 16 + sum(4 + (u + 3) // 4 * 4 for u in used)
        assert row["density"] == np.count_nonzero(x) / x.size
        assert row["ratio_zvc"] == x.nbytes / row["bytes_zvc"]


def test_layout_changes_rle_not_zvc():
    x = relu_activations((2, 8, 10, 10), 0.3, seed=4)
    a = measure.analyze_array("x", x, layout="nchw", baselines={})
    b = measure.analyze_array("x", x, layout="nhwc", baselines={})
    assert a["bytes_zvc"] == b["bytes_zvc"]          # 4 bytes per window + nonzeros: layout-free
    assert b["bytes_rle"] == len(golden.rle.encode(np.ascontiguousarray(x.transpose(0, 2, 3, 1))))
    assert a["bytes_rle"] == len(golden.rle.encode(x))
    assert a["density"] == b["density"]


def test_bf16_reencoding():
    x = np.array([1.0, 0.0, -0.0, 3.14159, np.nan, 1e-40], np.float32)
    u = measure.to_16bit(x, "bf16")
    assert u.tolist()[:3] == [0x3F80, 0x0000, 0x8000]
    assert u[3] == 0x4049                     # 3.14159 rounds to 0x4049 (3.140625)
    assert (u[4] & 0x7F80) == 0x7F80 and (u[4] & 0x7F)   # still NaN
    row = measure.analyze_array("x", x, dtype="bf16", baselines={})
    assert row["elem_bits"] == 16 and row["dtype"] == "float32->bf16"
    assert row["bytes_zvc"] == len(golden.zvc.encode(u))


def test_cli_writes_table_csv_json_png(folder, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    rc = main(["analyze", str(folder), "--chunk-bytes", "1024", "--csv", str(out / "a.csv"),
               "--json", str(out / "a.json"), "--plot", str(out / "a.png"), "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    for name in ("conv.npy", "deep.npy", "fc.npz:fc1", "fc.npz:ints", "TOTAL", "frame_zvce", "zlib_chunk"):
        assert name in text
    data = json.loads((out / "a.json").read_text())
    assert len(data["tensors"]) == 4
    total = data["total"]
    assert total["raw_bytes"] == sum(t["raw_bytes"] for t in data["tensors"])
    assert total["bytes_frame"] == sum(t["bytes_frame"] for t in data["tensors"])
    assert total["ratio_zvc"] == pytest.approx(total["raw_bytes"] / total["bytes_zvc"])
    with open(out / "a.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["name"] for r in rows][-1] == "TOTAL" and len(rows) == 5
    assert int(rows[0]["bytes_frame"]) == data["tensors"][0]["bytes_frame"]
    assert (out / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_reports_unavailable_baselines(folder, capsys, monkeypatch):
    monkeypatch.setattr(analyze, "available_baselines",
                        lambda: {"zlib": lambda b: zlib.compress(b, 6),
                                 "zlib_chunk": lambda b: zlib.compress(b, 6), "zstd": None, "lz4": None})
    assert main(["analyze", str(folder), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "unavailable (not installed): zstd, lz4" in out


@pytest.mark.parametrize("args,message", [
    (["/nonexistent/path"], "no such file"),
    (["--chunk-bytes", "1000", "."], "--chunk-bytes"),
    (["--baselines", "brotli", "."], "unknown baseline"),
])
def test_cli_errors(args, message, capsys):
    assert main(["analyze", *args]) == 2
    assert message in capsys.readouterr().err


def test_cli_rejects_non_numpy_files(tmp_path, capsys):
    (tmp_path / "x.txt").write_text("hi")
    assert main(["analyze", str(tmp_path / "x.txt")]) == 2
    assert "not a .npy" in capsys.readouterr().err
    (tmp_path / "bad.npy").write_bytes(b"garbage")
    assert main(["analyze", str(tmp_path / "bad.npy")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_console_script_runs(folder):
    r = subprocess.run([sys.executable, "-m", "cdma.cli", "analyze", str(folder), "--baselines", "none"],
                       capture_output=True, text=True, check=True)
    assert "TOTAL" in r.stdout


def test_bench_golden_prints_numbers(capsys):
    assert main(["bench", "golden", "--mib", "1", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    names = [line.split()[0] for line in out.splitlines()[2:]]
    assert names == ["zvc", "rle", "frame", "zlib"]
    for line in out.splitlines()[2:]:
        enc, dec, ratio = map(float, line.split()[-3:])
        assert enc > 0 and dec > 0 and ratio > 1
