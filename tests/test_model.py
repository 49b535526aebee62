"""cdma model: the vDNN timeline on hand-worked examples, FLOP counts, CLI paths."""
import argparse
import json

import numpy as np
import pytest

from cdma.study import model as mdl

# Two layers, worked by hand.  Link 10 B/s, backward = 2 x forward, head compute 1 s.
#   A: raw 100 B, compressed 25 B, forward compute overlapping its copy 2 s
#   B: raw  60 B, compressed 60 B, forward 10 s
# vDNN copies: A 100/10 = 10 s, B 6 s.
#   forward  1 + max(2, 10) + max(10, 6)        = 21
#   backward max(4, 10) + max(20, 6) + 2 x 1    = 32     -> iteration 53, compute 39, stall 14
# cDMA copies: A 25/10 = 2.5 s, B 6 s.
#   forward  1 + max(2, 2.5) + 10 = 13.5; backward max(4, 2.5) + 20 + 2 = 26 -> 39.5, stall 0.5
LAYERS = [{"name": "A", "raw_bytes": 100, "compressed_bytes": 25, "fwd_s": 2.0},
          {"name": "B", "raw_bytes": 60, "compressed_bytes": 60, "fwd_s": 10.0}]
GB = 1e-9   # link_gbps is in GB/s: 10 B/s = 1e-8 GB/s


def test_two_layer_hand_worked():
    r = mdl.compare(LAYERS, link_gbps=10 * GB, head_s=1.0, bwd_factor=2.0)
    v, c = r["vdnn"], r["cdma"]
    assert v["forward_s"] == pytest.approx(21) and v["iteration_s"] == pytest.approx(53)
    assert v["compute_s"] == pytest.approx(39) and v["stall_s"] == pytest.approx(14)
    assert [s["copy_s"] for s in v["layers"]] == pytest.approx([10, 6])
    assert [s["fwd_stall_s"] for s in v["layers"]] == pytest.approx([8, 0])
    assert [s["bwd_stall_s"] for s in v["layers"]] == pytest.approx([6, 0])
    assert c["forward_s"] == pytest.approx(13.5) and c["iteration_s"] == pytest.approx(39.5)
    assert c["stall_s"] == pytest.approx(0.5)
    assert r["speedup"] == pytest.approx(53 / 39.5)


def test_engine_slower_than_the_link_limits_cdma():
    # Engine 20 B/s: A takes max(25/10, 100/20) = 5 s.  forward 1 + 5 + 10 = 16,
    # backward max(4, 5) + 20 + 2 = 27 -> 43.  vDNN does not use the engine: still 53.
    r = mdl.compare(LAYERS, link_gbps=10 * GB, engine_gbps=20 * GB, head_s=1.0)
    assert r["cdma"]["iteration_s"] == pytest.approx(43)
    assert r["vdnn"]["iteration_s"] == pytest.approx(53)


def test_speedup_is_one_without_compression():
    r = mdl.compare(LAYERS, link_gbps=10 * GB, engine_gbps=1 * GB, head_s=1.0, compression=False)
    assert r["speedup"] == 1.0
    assert r["cdma"]["iteration_s"] == r["vdnn"]["iteration_s"]


def test_compute_bound_network_gains_nothing():
    fast = [dict(lay, fwd_s=100.0) for lay in LAYERS]
    assert mdl.compare(fast, link_gbps=10 * GB)["speedup"] == 1.0


def test_invalid_bandwidth():
    with pytest.raises(ValueError, match="link bandwidth must be positive"):
        mdl.compare(LAYERS, link_gbps=0)
    with pytest.raises(ValueError, match="engine throughput must be positive"):
        mdl.compare(LAYERS, link_gbps=1, engine_gbps=-1)


def test_flops_of_the_small_cnn(tmp_path):
    pytest.importorskip("onnx")
    import onnx
    from test_capture import small_cnn
    m = onnx.load(str(small_cnn(tmp_path / "m.onnx")))
    # conv: 2 x (4x8x8 outputs) x (1x3x3) = 4608, relu 256 -> 4864; maxpool 4x4x4 = 64;
    # flatten 0, gemm 2 x 10 x 64 = 1280, relu 10 -> 1290; nothing after r2.
    per, tail = mdl.segment_flops(m, ["r1", "p1", "r2"], (1, 1, 8, 8))
    assert per == [4864, 64, 1290] and tail == 0
    per2, _ = mdl.segment_flops(m, ["r1", "p1", "r2"], (3, 1, 8, 8))
    assert per2 == [3 * 4864, 3 * 64, 3 * 1290]


def _parser():
    p = argparse.ArgumentParser()
    mdl.add_arguments(p)
    return p


def _study_json(path, flops=True):
    layers = [{"name": "A", "raw_bytes": 4000, "bytes_frame": 1000, "flops": 10_000 if flops else None},
              {"name": "B", "raw_bytes": 2000, "bytes_frame": 2000, "flops": 20_000 if flops else None}]
    if not flops:
        for lay in layers:
            del lay["flops"]
    path.write_text(json.dumps({"settings": {"network": "toy", "tail_flops": 40_000 if flops else None},
                                "layers": layers}))
    return path


def test_cli_from_flops(tmp_path, capsys):
    # 1 TFLOPS = 1e12 FLOP/s; link 1e-6 GB/s = 1000 B/s.  Head = A's segment 10 ns;
    # A overlaps B's segment 20 ns, B overlaps the tail 40 ns.  Copies: vDNN 4 s + 2 s,
    # cDMA 1 s + 2 s, both ways.  Every copy outlasts its compute, so only the head
    # (forward 10 ns + backward 20 ns) adds: vDNN 12 s + 30 ns, cDMA 6 s + 30 ns.
    j = _study_json(tmp_path / "s.json")
    out = tmp_path / "t.json"
    assert mdl.run(_parser().parse_args([str(j), "--link-gbps", "1e-6", "--gpu-tflops", "1",
                                         "--json", str(out), "--plot", str(tmp_path / "t.png")])) == 0
    res = json.loads(out.read_text())
    assert res["speedup"] == pytest.approx((12 + 30e-9) / (6 + 30e-9), rel=1e-12)
    assert res["vdnn"]["compute_s"] == pytest.approx(3 * 70e-9)
    assert (tmp_path / "t.png").stat().st_size > 0
    assert "speedup of cDMA over vDNN: 2.000x" in capsys.readouterr().out


def test_cli_compute_csv_and_errors(tmp_path, capsys):
    j = _study_json(tmp_path / "s.json", flops=False)
    assert mdl.run(_parser().parse_args([str(j)])) == 2
    assert "has no FLOP counts" in capsys.readouterr().err
    csvf = tmp_path / "c.csv"
    csvf.write_text("layer,forward_ms\nA,1000\n")
    assert mdl.run(_parser().parse_args([str(j), "--compute-csv", str(csvf)])) == 2
    assert "no compute time for layer(s) B" in capsys.readouterr().err
    # A: forward 1 s, backward 2 s; B: 0.5 s / 1 s.  Link 1000 B/s: vDNN copies 4 s, 2 s;
    # cDMA copies 1 s, 2 s.  vDNN: max(1,4)+max(.5,2) + max(2,4)+max(1,2) = 12;
    # cDMA: max(1,1)+max(.5,2) + max(2,1)+max(1,2) = 7.
    csvf.write_text("layer,forward_ms,backward_ms\nA,1000,2000\nB,500,1000\n")
    out = tmp_path / "t.json"
    assert mdl.run(_parser().parse_args([str(j), "--compute-csv", str(csvf), "--link-gbps", "1e-6",
                                         "--json", str(out)])) == 0
    assert json.loads(out.read_text())["speedup"] == pytest.approx(12 / 7)
    assert mdl.run(_parser().parse_args([str(tmp_path / "nope.json")])) == 2
    assert "nope.json: no such file" in capsys.readouterr().err
    (tmp_path / "x.json").write_text("{\"tensors\": [{\"name\": \"A\", \"raw_bytes\": 4}]}")
    assert mdl.run(_parser().parse_args([str(tmp_path / "x.json")])) == 2
    assert "layer 'A' has no bytes_frame" in capsys.readouterr().err


def test_cli_engine_from_bytes_per_cycle(tmp_path, capsys):
    # Wm 64 B/cycle at 250 MHz = 16 GB/s.  Link 32 GB/s (gen4).  Layer A: 4000 raw, 1000 wire:
    # cDMA copy = max(1000 / 32e9, 4000 / 16e9) = 250 ns, vDNN copy 4000 / 32e9 = 125 ns.
    j = _study_json(tmp_path / "s.json")
    out = tmp_path / "t.json"
    assert mdl.run(_parser().parse_args([str(j), "--link", "gen4", "--engine-bytes-per-cycle", "64",
                                         "--engine-mhz", "250", "--json", str(out)])) == 0
    res = json.loads(out.read_text())
    assert res["settings"]["engine_gbps"] == 16.0
    assert res["cdma"]["layers"][0]["copy_s"] == pytest.approx(250e-9)
    assert res["vdnn"]["layers"][0]["copy_s"] == pytest.approx(125e-9)
    assert "engine 16 GB/s" in capsys.readouterr().out
    assert mdl.run(_parser().parse_args([str(j), "--engine-mhz", "250"])) == 2
    assert "go together" in capsys.readouterr().err
