"""cdma analyze --by-layer: every ratio equals len(encode(x)); totals worked by hand."""
import argparse
import json
import zlib

import numpy as np
import pytest

from cdma import golden
from cdma.study import layers as study
from cdma.study import analyze as an


def bf16(a):
    """bf16 by hand: the top 16 bits of fp32, rounded to nearest even (no NaNs here)."""
    u = a.view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def _args(paths, *extra):
    p = argparse.ArgumentParser()
    an.add_arguments(p)
    return p.parse_args([*map(str, paths), *extra])


def test_ratios_equal_encoded_lengths_on_the_small_model(tmp_path):
    pytest.importorskip("onnxruntime")
    from test_capture import small_cnn
    from cdma.study import capture as cap
    rng = np.random.default_rng(3)
    files = []
    for k in range(2):
        files.append(tmp_path / f"x{k}.npy")
        np.save(files[-1], rng.standard_normal((1, 1, 8, 8)).astype(np.float32))
    cap.capture(small_cnn(tmp_path / "m.onnx"), files, tmp_path / "acts")
    layers, meta = study.load_layers(tmp_path / "acts")
    assert [lay["name"] for lay in layers] == ["r1", "p1", "r2"]
    for dtype in (None, "bf16"):
        rows = study.study_layers(layers, dtype=dtype)
        for lay, row in zip(layers, rows):
            xs = [np.load(f) for f in lay["files"]]
            if dtype:
                xs_enc = [bf16(x) for x in xs]
            else:
                xs_enc = [x.view(np.uint32) for x in xs]
            raw = sum(x.nbytes for x in xs_enc)
            zvc = sum(len(golden.zvc.encode(x)) for x in xs_enc)
            rle = sum(len(golden.rle.encode(x)) for x in xs_enc)
            nhwc = sum(len(golden.rle.encode(np.ascontiguousarray(x.transpose(0, 2, 3, 1))))
                       if x.ndim == 4 else len(golden.rle.encode(x)) for x in xs_enc)
            frame = sum(len(golden.encode_frame(x)) for x in xs_enc)
            zl = sum(len(zlib.compress(x.tobytes(), 6)) for x in xs_enc)
            # -0.0 -> +0.0 first; ReLU/MaxPool give no -0.0, so the same as zvc here.
            canon = [np.where(x == 0, np.float32(0), x) for x in xs]
            canon = [bf16(c) if dtype else c.view(np.uint32) for c in canon]
            assert row["bytes_zvc_canon"] == sum(len(golden.zvc.encode(c)) for c in canon)
            assert row["raw_bytes"] == raw
            assert (row["bytes_zvc"], row["bytes_rle"], row["bytes_rle_nhwc"], row["bytes_frame"],
                    row["bytes_zlib"]) == (zvc, rle, nhwc, frame, zl)
            assert row["ratio_zvc"] == raw / zvc and row["ratio_frame"] == raw / frame
            # ZVCE: each of the two inputs coded with the other's table (the previous input's;
            # input 0 takes the last one's)
            tables = [golden.zvce.build_table(x) for x in xs_enc]
            assert row["bytes_frame_zvce"] == sum(
                len(golden.encode_frame(x, "zvce", table=tables[k - 1])) for k, x in enumerate(xs_enc))
            # zlib-6 per 4 KiB chunk in the frame's container: these tensors are one chunk each
            assert all(x.nbytes <= 4096 for x in xs_enc)
            assert row["bytes_zlib_chunk"] == sum(
                16 + 4 + -(-min(len(zlib.compress(x.tobytes(), 6)), x.nbytes) // 4) * 4 for x in xs_enc)
            nz = sum(np.count_nonzero(x) for x in xs_enc)
            assert row["density"] == nz / sum(x.size for x in xs_enc)
            assert row["inputs"] == 2
    # FLOPs travel from capture to the study rows: per input 4864, 64, 1290 (test_model).
    rows = study.study_layers(layers)
    assert [r["flops"] for r in rows] == [2 * 4864, 2 * 64, 2 * 1290]
    assert meta["tail_flops"] == 0


def test_summary_by_hand():
    rows = [{"name": "a", "raw_bytes": 100, "elements": 25, "density": 0.4, "value_density": 0.2},
            {"name": "b", "raw_bytes": 300, "elements": 75, "density": 0.8, "value_density": 0.8}]
    for r, b in zip(rows, (50, 100)):
        for c in study.STUDY_CODECS:
            r[f"bytes_{c}"] = b
            r[f"ratio_{c}"] = r["raw_bytes"] / b
    s = study.summarize(rows)
    # size-weighted 400/150; layer ratios 2 and 3: mean 2.5, max 3 (layer b)
    assert s["ratio_zvc"] == pytest.approx(400 / 150)
    assert s["mean_zvc"] == pytest.approx(2.5) and s["max_zvc"] == 3.0 and s["argmax_zvc"] == "b"
    assert s["density"] == pytest.approx((0.4 * 25 + 0.8 * 75) / 100)
    assert s["value_density"] == pytest.approx((0.2 * 25 + 0.8 * 75) / 100)


def test_negative_zero_counts_as_nonzero_bits(tmp_path):
    d = tmp_path / "acts" / "img0"
    d.mkdir(parents=True)
    x = np.zeros((1, 2, 4, 4), np.float32)
    x[0, 0, 0, :2] = -0.0
    x[0, 1, 1, 1] = 5.0
    np.save(d / "layer.npy", x)
    layers, _ = study.load_layers(tmp_path / "acts")
    (row,) = study.study_layers(layers)
    assert row["density"] == 3 / 32 and row["value_density"] == 1 / 32
    # 32 elements = one ZVC window: 4 mask bytes + 3 nonzero words; canonical: 4 + 1 word.
    assert row["bytes_zvc"] == 4 + 3 * 4 and row["bytes_zvc_canon"] == 4 + 4


def test_cli_by_layer_writes_table_json_plot(tmp_path, capsys):
    for k in range(2):
        d = tmp_path / "acts" / f"in{k}"
        d.mkdir(parents=True)
        np.save(d / "conv1.npy", np.maximum(np.random.default_rng(k).standard_normal((1, 4, 8, 8)), 0)
                .astype(np.float32))
        np.save(d / "fc.npy", np.zeros((1, 64), np.float32))
    args = _args([tmp_path / "acts"], "--json", str(tmp_path / "s.json"), "--plot",
                 str(tmp_path / "s.png"), "--csv", str(tmp_path / "s.csv"), "--no-progress")
    assert study.run_by_layer(args) == 0
    out = capsys.readouterr().out
    assert "2 activation layers x 2 inputs" in out and "size-weighted" in out
    doc = json.loads((tmp_path / "s.json").read_text())
    assert [r["name"] for r in doc["layers"]] == ["conv1", "fc"]
    # fc is all zeros: ZVC keeps just the masks, 2 windows x 4 bytes per input.
    assert doc["layers"][1]["bytes_zvc"] == 2 * 2 * 4
    assert (tmp_path / "s.png").stat().st_size > 0
    assert (tmp_path / "s.csv").read_text().startswith("order,name,op_type")


def test_cli_by_layer_errors(tmp_path, capsys):
    assert study.run_by_layer(_args([tmp_path / "nothing"])) == 2
    assert "needs a folder written by cdma capture" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert study.run_by_layer(_args([tmp_path / "empty"])) == 2
    assert "no .npy activations found" in capsys.readouterr().err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "index.json").write_text("[1, 2]")
    assert study.run_by_layer(_args([tmp_path / "bad"])) == 2
    assert "not a cdma capture index" in capsys.readouterr().err


def test_end_to_end_through_the_cli(tmp_path, capsys):
    """cdma capture -> cdma analyze --by-layer -> cdma model, as a user types them."""
    pytest.importorskip("onnxruntime")
    from test_capture import small_cnn
    from cdma.cli import main
    model = small_cnn(tmp_path / "m.onnx")
    np.save(tmp_path / "x.npy", np.random.default_rng(5).standard_normal((1, 1, 8, 8)).astype(np.float32))
    acts, js = tmp_path / "acts", tmp_path / "study.json"
    assert main(["capture", str(model), "--input", str(tmp_path / "x.npy"), "--out", str(acts)]) == 0
    assert main(["analyze", str(acts), "--by-layer", "--json", str(js)]) == 0
    doc = json.loads(js.read_text())
    assert [r["name"] for r in doc["layers"]] == ["r1", "p1", "r2"]
    assert doc["settings"]["tail_flops"] == 0
    assert main(["model", str(js), "--no-compression"]) == 0
    assert "speedup of cDMA over vDNN: 1.000x" in capsys.readouterr().out
