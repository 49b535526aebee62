"""cdma capture: activations of a small ONNX model built here, checked against NumPy."""
import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from cdma.study import capture as cap  # noqa: E402

RNG = np.random.default_rng(7)
W1 = RNG.standard_normal((4, 1, 3, 3)).astype(np.float32)
B1 = np.array([-0.5, 0.2, -1.0, 0.0], np.float32)          # negative biases: real zeros
W2 = RNG.standard_normal((64, 10)).astype(np.float32) * 0.3
B2 = np.linspace(-1, 1, 10).astype(np.float32)


def small_cnn(path, in_shape=(1, 1, 8, 8)):
    """Conv(3x3, pad 1) -> Relu -> MaxPool(2) -> Flatten -> Gemm -> Relu."""
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["conv"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("Relu", ["conv"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], name="pool1"),
        helper.make_node("Flatten", ["p1"], ["flat"], axis=1, name="flat"),
        helper.make_node("Gemm", ["flat", "w2", "b2"], ["fc"], name="fc"),
        helper.make_node("Relu", ["fc"], ["r2"], name="relu2"),
    ]
    graph = helper.make_graph(
        nodes, "small_cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))],
        [helper.make_tensor_value_info("r2", TensorProto.FLOAT, [in_shape[0], 10])],
        [numpy_helper.from_array(W1, "w1"), numpy_helper.from_array(B1, "b1"),
         numpy_helper.from_array(W2, "w2"), numpy_helper.from_array(B2, "b2")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def numpy_reference(x):
    """The same network, written out with loops and NumPy."""
    n, _, h, w = x.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    conv = np.zeros((n, 4, h, w))
    for o in range(4):
        for i in range(h):
            for j in range(w):
                conv[:, o, i, j] = (xp[:, 0, i:i + 3, j:j + 3] * W1[o, 0]).sum(axis=(1, 2)) + B1[o]
    r1 = np.maximum(conv, 0)
    p1 = r1.reshape(n, 4, h // 2, 2, w // 2, 2).max(axis=(3, 5))
    r2 = np.maximum(p1.reshape(n, -1) @ W2.astype(np.float64) + B2, 0)
    return {"r1": r1, "p1": p1, "r2": r2}


@pytest.fixture
def model_path(tmp_path):
    return small_cnn(tmp_path / "small.onnx")


def test_finds_every_activation(model_path):
    acts = cap.find_activations(onnx.load(str(model_path)))
    assert [(a["name"], a["op_type"], a["node"]) for a in acts] == [
        ("r1", "Relu", "relu1"), ("p1", "MaxPool", "pool1"), ("r2", "Relu", "relu2")]


def test_saved_tensors_equal_numpy(model_path, tmp_path):
    xs = [RNG.standard_normal((1, 1, 8, 8)).astype(np.float32) for _ in range(2)]
    files = []
    for k, x in enumerate(xs):
        files.append(tmp_path / f"in{k}.npy")
        np.save(files[-1], x[0] if k == 1 else x)     # the second one without batch dim
    out = tmp_path / "acts"
    index = cap.capture(model_path, files, out)
    on_disk = json.loads((out / "index.json").read_text())
    assert on_disk == json.loads(json.dumps(index))
    assert [layer["name"] for layer in on_disk["layers"]] == ["r1", "p1", "r2"]
    assert len(on_disk["tensors"]) == 6
    for x, stem in zip(xs, ("in0", "in1")):
        ref = numpy_reference(x)
        np.testing.assert_array_equal(np.load(out / stem / "input.npy"), x)
        for t in (t for t in on_disk["tensors"] if t["input"] == stem):
            got = np.load(out / t["file"])
            assert got.dtype == np.float32 and list(got.shape) == t["shape"]
            assert t["layout"] == ("nchw" if got.ndim == 4 else "nc")
            np.testing.assert_allclose(got, ref[t["layer"]], rtol=1e-5, atol=1e-5)
            # ReLU zeros are exact zeros, where the reference is clearly zero.
            assert np.all(got[ref[t["layer"]] == 0] == 0)
        assert np.count_nonzero(np.load(out / stem / "000_r1.npy") == 0) > 0


def test_image_input_is_scaled_and_normalised(tmp_path, model_path):
    from PIL import Image
    pixels = (np.arange(64, dtype=np.uint8) * 4).reshape(8, 8)
    Image.fromarray(pixels, "L").save(tmp_path / "img.png")
    x = cap.prepare_input(tmp_path / "img.png", [1, 1, 8, 8], mean="0.5", std="0.25")
    # Hand-worked: pixel p -> (p / 255 - 0.5) / 0.25; pixel 0 -> -2, pixel 252 -> 1.952...
    assert x.shape == (1, 1, 8, 8)
    assert x[0, 0, 0, 0] == pytest.approx(-2.0)
    assert x[0, 0, 7, 7] == pytest.approx((252 / 255 - 0.5) / 0.25, rel=1e-6)
    index = cap.capture(model_path, [tmp_path / "img.png"], tmp_path / "o", mean="0.5", std="0.25")
    assert index["inputs"][0]["shape"] == [1, 1, 8, 8]


def test_rgb_image_resized_and_bgr(tmp_path):
    from PIL import Image
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[..., 0], rgb[..., 2] = 255, 51          # red 1.0, blue 0.2
    Image.fromarray(rgb, "RGB").save(tmp_path / "c.png")
    x = cap.prepare_input(tmp_path / "c.png", [1, 3, None, None], size=(8, 12), bgr=True)
    assert x.shape == (1, 3, 8, 12)
    np.testing.assert_allclose(x[0, :, 3, 5], [0.2, 0.0, 1.0], atol=1e-6)


def test_decomposed_hardswish_and_silu_are_recognised(tmp_path):
    three = numpy_helper.from_array(np.array(3.0, np.float32), "three")
    six = numpy_helper.from_array(np.array(6.0, np.float32), "six")
    zero = numpy_helper.from_array(np.array(0.0, np.float32), "zero")
    nodes = [
        helper.make_node("Add", ["x", "three"], ["a"]),
        helper.make_node("Clip", ["a", "zero", "six"], ["c"]),
        helper.make_node("Mul", ["x", "c"], ["m"]),
        helper.make_node("Div", ["m", "six"], ["hs"]),
        helper.make_node("Sigmoid", ["hs"], ["s"]),
        helper.make_node("Mul", ["hs", "s"], ["silu"]),
    ]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                          [helper.make_tensor_value_info("silu", TensorProto.FLOAT, [1, 8])],
                          [three, six, zero])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    acts = cap.find_activations(model)
    assert [(a["name"], a["op_type"]) for a in acts] == [("hs", "HardSwish*"), ("silu", "SiLU*")]
    # Run it: hard-swish of x <= -3 is x * 0 / 6 = -0.0 (a nonzero bit pattern for ZVC).
    onnx.save(model, str(tmp_path / "hs.onnx"))
    x = np.array([[-5, -3, -1, 0, 1, 2, 3, 4]], np.float32)
    np.save(tmp_path / "x.npy", x)
    cap.capture(tmp_path / "hs.onnx", [tmp_path / "x.npy"], tmp_path / "o")
    hs = np.load(tmp_path / "o" / "x" / "000_hs.npy")
    np.testing.assert_allclose(hs, x * np.clip(x + 3, 0, 6) / 6, rtol=1e-6)
    assert np.signbit(hs[0, 0]) and hs[0, 0] == 0


def test_error_model_cannot_load(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not a protobuf at all \x00\xff")
    with pytest.raises(cap.CaptureError, match=r"bad\.onnx: cannot load as an ONNX model"):
        cap.capture(bad, [], tmp_path / "o")
    with pytest.raises(cap.CaptureError, match="no such model file"):
        cap.capture(tmp_path / "missing.onnx", [], tmp_path / "o")


def test_error_wrong_input_shape(model_path, tmp_path):
    np.save(tmp_path / "rgb.npy", np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(cap.CaptureError, match=r"rgb\.npy: input shape \(1, 3, 8, 8\) does not fit "
                       r"the model's input \(1, 1, 8, 8\): dim 1 is 3, the model wants 1"):
        cap.capture(model_path, [tmp_path / "rgb.npy"], tmp_path / "o")
    np.save(tmp_path / "flat.npy", np.zeros(64, np.float32))
    with pytest.raises(cap.CaptureError, match="1 dimensions instead of 4"):
        cap.capture(model_path, [tmp_path / "flat.npy"], tmp_path / "o")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(cap.CaptureError, match=r"notes\.txt: not an image"):
        cap.capture(model_path, [tmp_path / "notes.txt"], tmp_path / "o")


def test_error_no_activation_nodes(tmp_path):
    g = helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    path = tmp_path / "add.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    with pytest.raises(cap.CaptureError, match=r"no activation nodes .*the model has Add"):
        cap.capture(path, [tmp_path / "x.npy"], tmp_path / "o")


def test_cli_reports_errors_and_succeeds(model_path, tmp_path, capsys):
    import argparse
    p = argparse.ArgumentParser()
    cap.add_arguments(p)
    np.save(tmp_path / "x.npy", np.ones((1, 1, 8, 8), np.float32))
    assert cap.run(p.parse_args([str(model_path), "-i", str(tmp_path / "x.npy"), "-o",
                                 str(tmp_path / "o"), "--no-progress"])) == 0
    assert "captured 3 activations (MaxPool, Relu) x 1 inputs = 3 tensors" in capsys.readouterr().out
    assert cap.run(p.parse_args([str(model_path), "-i", str(tmp_path / "x.npy"), "-o",
                                 str(tmp_path / "o"), "--size", "8by8"])) == 2
    assert "--size must be HxW" in capsys.readouterr().err


def test_folder_of_inputs(model_path, tmp_path):
    d = tmp_path / "ins"
    d.mkdir()
    for name in ("b.npy", "a.npy"):
        np.save(d / name, np.ones((1, 1, 8, 8), np.float32))
    (d / "notes.txt").write_text("ignored")
    index = cap.capture(model_path, [d], tmp_path / "o")
    assert [i["name"] for i in index["inputs"]] == ["a", "b"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(cap.CaptureError, match="folder holds no images or .npy files"):
        cap.capture(model_path, [tmp_path / "empty"], tmp_path / "o")
