"""``cdma capture``: collect real activations from an ONNX model with onnxruntime.

The model is loaded with :mod:`onnx`, the output of every *activation node*
is added to the graph outputs, and the model is run with onnxruntime on each
input (an image, resized and normalised per the options, or a ``.npy``
tensor).  For every input this writes one ``.npy`` per activation plus the
input itself into ``OUT/<input-stem>/``, and an ``OUT/index.json`` that lists
every file with its layer name, op type, shape, layout and dtype.

What counts as an activation (what vDNN would offload for the backward pass):

* the output of an activation op: ``Relu``, ``LeakyRelu``, ``PRelu``, ``Elu``,
  ``Selu``, ``Celu``, ``Gelu``, ``HardSwish``, ``Mish``, ``Softplus``,
  ``ThresholdedRelu`` and ``Clip`` (ReLU6);
* pooling and concatenation outputs: ``MaxPool``, ``AveragePool``, ``Concat``;
* activations that exporters decompose into elementwise ops:
  hard-swish ``x * Clip(x + 3, 0, 6) / 6`` (or ``x * HardSigmoid(x)``) and
  SiLU/swish ``x * Sigmoid(x)``, reported with op type ``HardSwish*`` or
  ``SiLU*`` (the star marks a recognised pattern, the node is the last one of
  it).  The ``Clip``/``HardSigmoid``/``Sigmoid`` inside such a pattern is not
  reported on its own.

``--ops`` replaces the op list (patterns are then kept only if ``HardSwish``
or ``SiLU`` is in the list).  Needs the optional extra ``cdma[capture]``.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np

__all__ = ["ACTIVATION_OPS", "CaptureError", "find_activations", "load_model", "prepare_input",
           "expand_inputs", "capture", "add_arguments", "run"]

#: Ops whose output is an activation by default.
ACTIVATION_OPS = ("Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Gelu", "HardSwish",
                  "Mish", "Softplus", "ThresholdedRelu", "Clip", "MaxPool", "AveragePool",
                  "Concat", "SiLU")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
_ONNX_FLOAT = 1


class CaptureError(Exception):
    """A model, input or option that capture cannot use; the message says which and why."""


def _import_onnx():
    try:
        import onnx
        import onnxruntime
    except ImportError as e:
        raise CaptureError(f"cdma capture needs onnx and onnxruntime ({e}); "
                           "install them with: pip install 'cdma[capture]'") from e
    return onnx, onnxruntime


def load_model(path):
    """Load and check an ONNX model; raises :class:`CaptureError` naming the file."""
    onnx, _ = _import_onnx()
    path = Path(path)
    if not path.is_file():
        raise CaptureError(f"{path}: no such model file")
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as e:  # protobuf DecodeError, ValidationError, ...
        raise CaptureError(f"{path}: cannot load as an ONNX model ({type(e).__name__}: "
                           f"{str(e).strip().splitlines()[0] if str(e).strip() else 'no detail'})") from e
    return model


# ----------------------------------------------------------------------------- graph analysis
def _constant_value(name, inits, producers):
    """Scalar value of an initializer or Constant node output, else None."""
    from onnx import numpy_helper
    if name in inits:
        arr = numpy_helper.to_array(inits[name])
    elif name in producers and producers[name].op_type == "Constant":
        node = producers[name]
        attr = next((a for a in node.attribute if a.name == "value"), None)
        if attr is None:
            return None
        arr = numpy_helper.to_array(attr.t)
    else:
        return None
    return float(arr.reshape(-1)[0]) if arr.size == 1 else None


def find_activations(model, ops=ACTIVATION_OPS) -> list[dict]:
    """Activation tensors of a model, in graph order.

    Returns dicts with ``name`` (the tensor), ``op_type`` and ``node`` (the
    node name, or its index when unnamed).
    """
    ops = set(ops)
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    producers = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    def prod(name, op):
        n = producers.get(name)
        return n if n is not None and n.op_type == op else None

    found, inner = {}, set()      # tensor -> (op_type, node); tensors hidden inside patterns
    for idx, node in enumerate(graph.node):
        if node.op_type != "Mul" or len(node.input) != 2:
            continue
        a, b = node.input
        for x, g in ((a, b), (b, a)):
            # x * Clip(x + 3, 0, 6) [/ 6]
            clip = prod(g, "Clip")
            if clip is not None:
                add = prod(clip.input[0], "Add")
                if add is not None and x in add.input and "HardSwish" in ops:
                    other = [i for i in add.input if i != x]
                    if other and _constant_value(other[0], inits, producers) == 3.0:
                        out, last = node.output[0], node
                        nxt = consumers.get(out, [])
                        if (len(nxt) == 1 and nxt[0].op_type == "Div"
                                and _constant_value(nxt[0].input[1], inits, producers) == 6.0):
                            last = nxt[0]
                            inner.add(out)
                        found[last.output[0]] = ("HardSwish*", last.name or f"#{idx}")
                        inner.update([clip.output[0], add.output[0]])
                        break
            hs = prod(g, "HardSigmoid")
            if hs is not None and hs.input[0] == x and "HardSwish" in ops:
                found[node.output[0]] = ("HardSwish*", node.name or f"#{idx}")
                inner.add(g)
                break
            sg = prod(g, "Sigmoid")
            if sg is not None and sg.input[0] == x and "SiLU" in ops:
                found[node.output[0]] = ("SiLU*", node.name or f"#{idx}")
                inner.add(g)
                break
    result = []
    for idx, node in enumerate(graph.node):
        for out in node.output[:1]:
            if out in found:
                op, name = found[out]
                result.append({"name": out, "op_type": op, "node": name})
            elif node.op_type in ops and out not in inner and out:
                result.append({"name": out, "op_type": node.op_type,
                               "node": node.name or f"#{idx}"})
    return result


# ----------------------------------------------------------------------------- inputs
def _model_input(model):
    inits = {t.name for t in model.graph.initializer}
    real = [i for i in model.graph.input if i.name not in inits]
    if len(real) != 1:
        raise CaptureError(f"cdma capture handles models with exactly one input; this one has "
                           f"{len(real)}: {', '.join(i.name for i in real) or 'none'}")
    inp = real[0]
    tt = inp.type.tensor_type
    if tt.elem_type != _ONNX_FLOAT:
        raise CaptureError(f"model input {inp.name!r} is not float32 (ONNX elem_type {tt.elem_type})")
    dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
            for d in tt.shape.dim]
    return inp.name, dims


def _fmt_dims(dims):
    return "(" + ", ".join("?" if d is None else str(d) for d in dims) + ")"


def _parse_floats(text, what, n=None):
    try:
        vals = [float(v) for v in str(text).split(",")]
    except ValueError:
        raise CaptureError(f"{what} must be comma-separated numbers, not {text!r}") from None
    if n is not None and len(vals) not in (1, n):
        raise CaptureError(f"{what} needs 1 or {n} values, not {len(vals)} ({text!r})")
    return vals


def prepare_input(path, dims, *, size=None, scale=1 / 255, mean="0", std="1", bgr=False):
    """Turn an image or ``.npy`` file into a float32 batch matching the model's input dims.

    ``dims`` is the model's input shape with ``None`` for dynamic dimensions.
    Images: converted to the model's channel count (1 = grayscale, 3 = RGB or
    BGR), resized to the model's static H, W (or ``size`` = (H, W)), scaled by
    ``scale``, then ``(x - mean) / std`` per channel, laid out NCHW with N = 1.
    ``.npy``: used as is (a missing batch dimension is added); the shape must
    agree with every static dimension.
    """
    path = Path(path)
    if not path.is_file():
        raise CaptureError(f"{path}: no such input file")
    if path.suffix.lower() == ".npy":
        try:
            x = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise CaptureError(f"{path}: cannot read as a numpy array ({e})") from e
        if x.ndim == len(dims) - 1:
            x = x[None]
        x = np.asarray(x, np.float32)
    elif path.suffix.lower() in IMAGE_SUFFIXES:
        if len(dims) != 4:
            raise CaptureError(f"{path}: an image needs a model with a 4-D (N, C, H, W) input, "
                               f"this model's input is {_fmt_dims(dims)}")
        from PIL import Image
        c = dims[1]
        if c not in (1, 3):
            raise CaptureError(f"{path}: the model's input has {c} channels; images give 1 or 3 "
                               "(pass a .npy tensor instead)")
        h, w = size if size is not None else (dims[2], dims[3])
        if h is None or w is None:
            raise CaptureError(f"{path}: the model's input height/width are dynamic "
                               f"{_fmt_dims(dims)}: give --size HxW")
        try:
            with Image.open(path) as im:
                im = im.convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR)
                a = np.asarray(im, np.float32)
        except OSError as e:
            raise CaptureError(f"{path}: cannot read as an image ({e})") from e
        a = a[:, :, None] if c == 1 else a[:, :, ::-1] if bgr else a
        m = np.asarray(_parse_floats(mean, "--mean", c), np.float32)
        s = np.asarray(_parse_floats(std, "--std", c), np.float32)
        if np.any(s == 0):
            raise CaptureError(f"--std must not contain 0 ({std!r})")
        x = ((a * np.float32(scale) - m) / s).transpose(2, 0, 1)[None].astype(np.float32)
    else:
        raise CaptureError(f"{path}: not an image ({', '.join(IMAGE_SUFFIXES)}) or .npy file")
    bad = [i for i, (d, s) in enumerate(zip(dims, x.shape)) if d is not None and d != s]
    if x.ndim != len(dims) or bad:
        why = (f"{x.ndim} dimensions instead of {len(dims)}" if x.ndim != len(dims)
               else "; ".join(f"dim {i} is {x.shape[i]}, the model wants {dims[i]}" for i in bad))
        raise CaptureError(f"{path}: input shape {tuple(x.shape)} does not fit the model's input "
                           f"{_fmt_dims(dims)}: {why}")
    return x


def expand_inputs(paths) -> list[Path]:
    """Files as given; a folder stands for its images and .npy files, sorted by name."""
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.is_file()
                           and q.suffix.lower() in IMAGE_SUFFIXES + (".npy",))
            if not found:
                raise CaptureError(f"{p}: folder holds no images or .npy files")
            out += found
        else:
            out.append(p)
    if not out:
        raise CaptureError("no inputs given (--input FILE...)")
    return out


# ----------------------------------------------------------------------------- capture
def _safe(name):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "t"


def _layout(shape):
    return {4: "nchw", 3: "ncl", 2: "nc", 5: "ncdhw"}.get(len(shape), "flat")


def capture(model_path, inputs, out_dir, *, ops=ACTIVATION_OPS, size=None, scale=1 / 255,
            mean="0", std="1", bgr=False, progress=False, threads=1) -> dict:
    """Run the model on every input and save its activations; returns the index dict."""
    onnx, ort = _import_onnx()
    model = load_model(model_path)
    acts = find_activations(model, ops)
    if not acts:
        present = sorted({n.op_type for n in model.graph.node})
        raise CaptureError(f"{model_path}: no activation nodes (looked for "
                           f"{', '.join(sorted(set(ops)))}; the model has {', '.join(present)})")
    inputs = expand_inputs(inputs)
    in_name, dims = _model_input(model)
    graph_outputs = {o.name for o in model.graph.output}
    for a in acts:
        if a["name"] not in graph_outputs:
            model.graph.output.append(onnx.ValueInfoProto(name=a["name"]))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        sess = ort.InferenceSession(model.SerializeToString(), opts,
                                    providers=["CPUExecutionProvider"])
    except Exception as e:
        raise CaptureError(f"{model_path}: onnxruntime cannot create a session "
                           f"({type(e).__name__}: {e})") from e
    batches = [(Path(p), prepare_input(p, dims, size=size, scale=scale, mean=mean, std=std,
                                       bgr=bgr)) for p in inputs]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [a["name"] for a in acts]
    index = {"model": str(model_path), "input_name": in_name, "input_dims": dims,
             "preprocess": {"size": list(size) if size else None, "scale": scale, "mean": mean,
                            "std": std, "channel_order": "bgr" if bgr else "rgb"},
             "layers": [{"order": k, "name": a["name"], "op_type": a["op_type"], "node": a["node"]}
                        for k, a in enumerate(acts)],
             "inputs": [], "tensors": []}
    stems, flops_cache = set(), {}
    it = batches
    if progress:
        from tqdm import tqdm
        it = tqdm(batches, unit="input", desc="capture", file=sys.stderr)
    for path, x in it:
        stem = _safe(path.stem)
        while stem in stems:
            stem += "_"
        stems.add(stem)
        try:
            outs = sess.run(names, {in_name: x})
        except Exception as e:
            raise CaptureError(f"{path}: onnxruntime failed on this input, shape {tuple(x.shape)} "
                               f"({type(e).__name__}: {str(e).strip().splitlines()[0]})") from e
        if not index["tensors"]:
            # Shape arithmetic (an int64 Concat of dims, say) is no activation: keep float outputs.
            keep = [k for k, y in enumerate(outs) if np.issubdtype(np.asarray(y).dtype, np.floating)]
            if not keep:
                raise CaptureError(f"{model_path}: no activation node produces a float tensor")
            acts, names = [acts[k] for k in keep], [names[k] for k in keep]
            outs = [outs[k] for k in keep]
            index["layers"] = [{"order": k, "name": a["name"], "op_type": a["op_type"],
                                "node": a["node"]} for k, a in enumerate(acts)]
        key = tuple(x.shape)
        if key not in flops_cache:
            from .model import segment_flops
            flops_cache[key] = segment_flops(model, names, key)
        seg, tail = flops_cache[key]
        sub = out_dir / stem
        sub.mkdir(exist_ok=True)
        np.save(sub / "input.npy", x)
        index["inputs"].append({"name": stem, "source": str(path), "file": f"{stem}/input.npy",
                                "shape": list(x.shape), "dtype": str(x.dtype), "tail_flops": tail})
        for k, (a, y) in enumerate(zip(acts, outs)):
            y = np.asarray(y)
            fname = f"{stem}/{k:03d}_{_safe(a['name'])}.npy"
            np.save(out_dir / fname, y)
            index["tensors"].append({"input": stem, "layer": a["name"], "order": k,
                                     "op_type": a["op_type"], "file": fname,
                                     "shape": list(y.shape), "layout": _layout(y.shape),
                                     "dtype": str(y.dtype), "flops": seg[k]})
    with open(out_dir / "index.json", "w") as f:
        json.dump(index, f, indent=1)
    return index


# ----------------------------------------------------------------------------- CLI
def _parse_size(text):
    m = re.fullmatch(r"\s*(\d+)\s*[xX,]\s*(\d+)\s*", text or "")
    if not m or int(m.group(1)) == 0 or int(m.group(2)) == 0:
        raise CaptureError(f"--size must be HxW with positive integers, e.g. 224x224, not {text!r}")
    return int(m.group(1)), int(m.group(2))


def add_arguments(p):
    p.add_argument("model", metavar="MODEL.onnx", help="ONNX model with one float32 input")
    p.add_argument("--input", "-i", nargs="+", required=True, metavar="FILE",
                   help="images (png, jpg, ...) or .npy tensors, one run each; a folder "
                   "stands for the images and .npy files in it")
    p.add_argument("--out", "-o", required=True, metavar="DIR",
                   help="output folder: DIR/<input>/NNN_<layer>.npy and DIR/index.json")
    p.add_argument("--size", metavar="HxW", help="resize images to HxW (needed when the model's "
                   "input height/width are dynamic; default: the model's static size)")
    p.add_argument("--scale", type=float, default=1 / 255,
                   help="multiply pixel values by this first (default 1/255)")
    p.add_argument("--mean", default="0", help="subtract per channel after scaling, "
                   "comma-separated (default 0; ImageNet: 0.485,0.456,0.406)")
    p.add_argument("--std", default="1", help="then divide per channel (default 1; "
                   "ImageNet: 0.229,0.224,0.225)")
    p.add_argument("--bgr", action="store_true", help="feed channels as BGR (OpenCV-trained models)")
    p.add_argument("--ops", help="comma-separated op types to capture instead of the default "
                   f"({','.join(ACTIVATION_OPS)})")
    p.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads (default 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    try:
        size = _parse_size(args.size) if args.size else None
        ops = ACTIVATION_OPS if not args.ops else tuple(o.strip() for o in args.ops.split(",") if o.strip())
        index = capture(args.model, args.input, args.out, ops=ops, size=size, scale=args.scale,
                        mean=args.mean, std=args.std, bgr=args.bgr, threads=max(1, args.threads),
                        progress=not args.no_progress and sys.stderr.isatty())
    except CaptureError as e:
        print(f"cdma capture: {e}", file=sys.stderr)
        return 2
    nbytes = sum(int(np.prod(t["shape"])) * np.dtype(t["dtype"]).itemsize for t in index["tensors"])
    ops_seen = sorted({layer["op_type"] for layer in index["layers"]})
    print(f"captured {len(index['layers'])} activations ({', '.join(ops_seen)}) x "
          f"{len(index['inputs'])} inputs = {len(index['tensors'])} tensors, "
          f"{nbytes / 2**20:.1f} MiB in {args.out}")
    print(f"index: {Path(args.out) / 'index.json'}")
    return 0
