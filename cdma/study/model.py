"""``cdma model``: the vDNN offload timeline, with and without cDMA.

vDNN (Rhu et al., MICRO 2016) offloads each layer's input activation to host
memory during the forward pass and prefetches it back during the backward
pass, overlapping each copy with the compute of a layer.  A copy that takes
longer than that compute stalls training.  cDMA compresses the copy, so it
takes ``wire bytes / link bandwidth`` instead of ``raw bytes / link
bandwidth``, unless the engine itself is slower (``raw bytes / engine
throughput``).

The model, per activation ``k`` of the network (in forward order):

* ``F_k``: the forward compute that overlaps the offload of activation ``k``
  (the compute of the layers that consume it, up to the next activation);
  ``B_k = bwd_factor x F_k`` is the backward compute that overlaps its
  prefetch (default factor 2: the backward pass computes two gradients).
* ``T_k = max(wire_k / link, raw_k / engine)``: the copy time, the same in
  both directions (PCIe is full duplex and symmetric).
* forward step ``max(F_k, T_k)``, backward step ``max(B_k, T_k)``; the
  compute ``H`` before the first activation (and its backward ``bwd_factor x H``)
  overlaps no copy.
* iteration time ``(1 + bwd_factor) H + sum_k max(F_k, T_k) + max(B_k, T_k)``;
  stall = iteration time - pure compute time.

vDNN uses ``wire = raw``; cDMA uses the frame bytes measured by ``cdma analyze
--by-layer`` (ZVC chunks with raw fallback and headers).  The speedup is the
vDNN iteration time over the cDMA one, so it is exactly 1.0 when compression
is disabled.  Compute times come from a FLOP count of the ONNX graph (stored
by ``cdma capture``) divided by ``--gpu-tflops``, or from a CSV.
"""
from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

import numpy as np

__all__ = ["LINKS", "node_flops", "segment_flops", "load_study", "simulate", "compare",
           "format_timeline", "plot_timeline", "add_arguments", "run"]

#: Link presets, GB/s (1e9 bytes/s) each way.
LINKS = {
    "gen3": 16.0,   # PCIe gen3 x16, nominal, as in the paper (vDNN measured ~12.8 effective)
    "gen4": 32.0,   # PCIe gen4 x16, nominal
    "gen5": 55.0,   # PCIe gen5 x16 as measured on an H200 (docs/DESIGN: 55 GB/s each way)
}


# ----------------------------------------------------------------------------- FLOPs
def _shapes(model, input_shape):
    """Shape of every tensor after fixing the (single) input to ``input_shape``."""
    import onnx
    from onnx import numpy_helper
    m = onnx.ModelProto()
    m.CopyFrom(model)
    inits = {t.name for t in m.graph.initializer}
    inp = [i for i in m.graph.input if i.name not in inits][0]
    dims = inp.type.tensor_type.shape.dim
    if len(dims) != len(input_shape):
        raise ValueError(f"input shape {tuple(input_shape)} has {len(input_shape)} dims, the "
                         f"model's input {inp.name!r} has {len(dims)}")
    for d, v in zip(dims, input_shape):
        d.Clear()
        d.dim_value = int(v)
    for o in m.graph.output:        # declared output shapes may pin the old batch size
        o.type.tensor_type.ClearField("shape")
    m.graph.ClearField("value_info")
    try:
        m = onnx.shape_inference.infer_shapes(m, data_prop=True)
    except Exception:  # inference is best effort: unknown shapes count 0 FLOPs
        pass
    shapes = {}
    for vi in list(m.graph.input) + list(m.graph.value_info) + list(m.graph.output):
        d = [x.dim_value if x.HasField("dim_value") else None for x in vi.type.tensor_type.shape.dim]
        if vi.type.tensor_type.HasField("shape") and None not in d:
            shapes[vi.name] = tuple(d)
    for t in m.graph.initializer:
        shapes[t.name] = tuple(t.dims)
    for n in m.graph.node:
        if n.op_type == "Constant":
            a = next((a for a in n.attribute if a.name == "value"), None)
            if a is not None:
                shapes[n.output[0]] = tuple(numpy_helper.to_array(a.t).shape)
    return shapes


def node_flops(node, shapes) -> int:
    """FLOPs of one node (a multiply-add counts 2), from the tensor shapes.

    Conv: ``2 x out elements x (Cin/group x kernel)``; ConvTranspose: ``2 x in
    elements x (Cout/group x kernel)``; Gemm/MatMul: ``2 x out elements x K``;
    anything else: one per output element.  Unknown shapes count 0.
    """
    out = shapes.get(node.output[0]) if node.output else None
    op = node.op_type
    if op in ("Constant", "Shape", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity",
              "Cast", "Gather", "Slice", "ConstantOfShape", "Transpose"):
        return 0
    if out is None:
        return 0
    n_out = int(np.prod(out, dtype=np.int64))
    w = shapes.get(node.input[1]) if len(node.input) > 1 else None
    if op == "Conv" and w is not None:
        return 2 * n_out * int(np.prod(w[1:], dtype=np.int64))
    if op == "ConvTranspose" and w is not None:
        x = shapes.get(node.input[0])
        return 2 * int(np.prod(x, dtype=np.int64)) * int(np.prod(w[1:], dtype=np.int64)) if x else 0
    if op in ("Gemm", "MatMul"):
        a = shapes.get(node.input[0])
        if a is None:
            return 0
        trans_a = any(at.name == "transA" and at.i for at in node.attribute)
        k = a[-2] if (op == "Gemm" and trans_a) else a[-1]
        return 2 * n_out * int(k)
    return n_out


def segment_flops(model, activation_names, input_shape) -> tuple[list[int], int]:
    """FLOPs per activation segment: the nodes after the previous activation up to its producer.

    Returns ``(per_activation, tail)`` where ``tail`` is the compute after the
    last activation (the network's head).  Nodes are taken in graph order.
    """
    shapes = _shapes(model, input_shape)
    where = {name: k for k, name in enumerate(activation_names)}
    per, acc = [0] * len(activation_names), 0
    for node in model.graph.node:
        acc += node_flops(node, shapes)
        hit = [where[o] for o in node.output if o in where]
        if hit:
            per[hit[0]] = acc
            acc = 0
    return per, acc


# ----------------------------------------------------------------------------- timeline
def simulate(layers, *, link_gbps, engine_gbps=None, bwd_factor=2.0, head_s=0.0,
             wire_key="wire_bytes") -> dict:
    """Run the timeline.  ``layers``: dicts with ``raw_bytes``, ``wire_key`` and ``fwd_s``
    (optional ``bwd_s``, else ``bwd_factor x fwd_s``).  Returns per-layer steps and totals
    (seconds)."""
    if not link_gbps or link_gbps <= 0:
        raise ValueError(f"link bandwidth must be positive, not {link_gbps!r} GB/s")
    if engine_gbps is not None and engine_gbps <= 0:
        raise ValueError(f"engine throughput must be positive, not {engine_gbps!r} GB/s")
    link, eng = link_gbps * 1e9, (engine_gbps * 1e9 if engine_gbps else math.inf)
    steps, t = [], head_s
    events = [("compute", "fwd", "head", 0.0, head_s)] if head_s else []
    for lay in layers:
        f = float(lay["fwd_s"])
        b = float(lay["bwd_s"]) if lay.get("bwd_s") is not None else bwd_factor * f
        copy = max(lay[wire_key] / link, lay["raw_bytes"] / eng)
        steps.append({"name": lay["name"], "raw_bytes": lay["raw_bytes"], "wire_bytes": lay[wire_key],
                      "fwd_s": f, "bwd_s": b, "copy_s": copy,
                      "fwd_stall_s": max(0.0, copy - f), "bwd_stall_s": max(0.0, copy - b)})
        events += [("compute", "fwd", lay["name"], t, t + f), ("copy", "fwd", lay["name"], t, t + copy)]
        t += max(f, copy)
    fwd_end = t
    for s in reversed(steps):
        events += [("compute", "bwd", s["name"], t, t + s["bwd_s"]),
                   ("copy", "bwd", s["name"], t, t + s["copy_s"])]
        t += max(s["bwd_s"], s["copy_s"])
    if head_s:
        events.append(("compute", "bwd", "head", t, t + bwd_factor * head_s))
        t += bwd_factor * head_s
    compute = (1 + bwd_factor) * head_s + sum(s["fwd_s"] + s["bwd_s"] for s in steps)
    return {"layers": steps, "events": events, "forward_s": fwd_end, "iteration_s": t,
            "compute_s": compute, "stall_s": t - compute}


def compare(layers, *, link_gbps, engine_gbps=None, bwd_factor=2.0, head_s=0.0,
            compression=True) -> dict:
    """vDNN (raw copies) vs cDMA (compressed copies).  ``layers`` need ``compressed_bytes``."""
    rows = [dict(lay, raw_copy=lay["raw_bytes"],
                 cdma_copy=lay["compressed_bytes"] if compression else lay["raw_bytes"])
            for lay in layers]
    vdnn = simulate(rows, link_gbps=link_gbps, engine_gbps=None, bwd_factor=bwd_factor,
                    head_s=head_s, wire_key="raw_copy")
    cdma = simulate(rows, link_gbps=link_gbps, engine_gbps=engine_gbps if compression else None,
                    bwd_factor=bwd_factor, head_s=head_s, wire_key="cdma_copy")
    return {"vdnn": vdnn, "cdma": cdma, "speedup": vdnn["iteration_s"] / cdma["iteration_s"],
            "settings": {"link_gbps": link_gbps, "engine_gbps": engine_gbps,
                         "bwd_factor": bwd_factor, "head_s": head_s, "compression": compression}}


# ----------------------------------------------------------------------------- inputs
def load_study(path, codec="frame"):
    """Layers (name, raw_bytes, compressed_bytes, flops) from ``cdma analyze`` JSON.

    Accepts the ``--by-layer`` JSON (``layers``) and the plain JSON (``tensors``).
    Returns ``(layers, tail_flops or None, settings)``.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except ValueError as e:
        raise ValueError(f"{path}: not JSON ({e})") from e
    rows = doc.get("layers") if isinstance(doc, dict) else None
    rows = rows if rows is not None else (doc.get("tensors") if isinstance(doc, dict) else None)
    if not rows:
        raise ValueError(f"{path}: no 'layers' or 'tensors' list: not the JSON of cdma analyze")
    out = []
    for r in rows:
        b = r.get(f"bytes_{codec}")
        if b is None:
            raise ValueError(f"{path}: layer {r.get('name')!r} has no bytes_{codec} "
                             f"(codecs measured: {', '.join(k[6:] for k in r if k.startswith('bytes_'))})")
        out.append({"name": r["name"], "raw_bytes": int(r["raw_bytes"]), "compressed_bytes": int(b),
                    "flops": r.get("flops")})
    settings = doc.get("settings", {})
    return out, settings.get("tail_flops"), settings


def _read_compute_csv(path, names):
    """CSV with columns layer, forward_ms[, backward_ms]; a row 'HEAD' gives H."""
    table = {}
    try:
        with open(path, newline="") as f:
            rd = csv.DictReader(f)
            if not rd.fieldnames or "layer" not in rd.fieldnames or "forward_ms" not in rd.fieldnames:
                raise ValueError(f"{path}: needs columns layer,forward_ms[,backward_ms], "
                                 f"found {rd.fieldnames}")
            for i, row in enumerate(rd, start=2):
                try:
                    fwd = float(row["forward_ms"]) / 1e3
                    bwd = float(row["backward_ms"]) / 1e3 if row.get("backward_ms") else None
                except ValueError:
                    raise ValueError(f"{path}:{i}: forward_ms/backward_ms must be numbers") from None
                if fwd < 0 or (bwd is not None and bwd < 0):
                    raise ValueError(f"{path}:{i}: compute times must not be negative")
                table[row["layer"]] = (fwd, bwd)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    missing = [n for n in names if n not in table]
    if missing:
        raise ValueError(f"{path}: no compute time for layer(s) {', '.join(missing[:5])}"
                         + (f" and {len(missing) - 5} more" if len(missing) > 5 else ""))
    return table


def build_layers(study, tail_flops, *, gpu_tflops=None, compute_csv=None):
    """Attach ``fwd_s`` (and ``bwd_s``) to each layer; returns ``(layers, head_s)``.

    From FLOPs: activation k's offload overlaps the compute of segment k + 1
    (the last one overlaps the tail), the first segment is the head.
    """
    if compute_csv:
        table = _read_compute_csv(compute_csv, [s["name"] for s in study])
        head = table.get("HEAD", (0.0, None))[0]
        return [dict(s, fwd_s=table[s["name"]][0], bwd_s=table[s["name"]][1]) for s in study], head
    if any(s["flops"] is None for s in study) or tail_flops is None:
        raise ValueError("the analysis has no FLOP counts (run cdma analyze --by-layer on a "
                         "cdma capture folder), so give --compute-csv")
    rate = gpu_tflops * 1e12
    nxt = [s["flops"] for s in study[1:]] + [tail_flops]
    return [dict(s, fwd_s=f / rate) for s, f in zip(study, nxt)], study[0]["flops"] / rate


# ----------------------------------------------------------------------------- output
def _us(s):
    return f"{s * 1e6:,.1f}"


def format_timeline(result) -> str:
    v, c = result["vdnn"], result["cdma"]
    head = ["layer", "raw KiB", "ratio", "fwd us", "vDNN copy", "cDMA copy", "vDNN stall",
            "cDMA stall"]
    body = []
    for a, b in zip(v["layers"], c["layers"]):
        ratio = a["raw_bytes"] / b["wire_bytes"] if b["wire_bytes"] else float("inf")
        body.append([a["name"], f"{a['raw_bytes'] / 1024:,.1f}", f"{ratio:.2f}", _us(a["fwd_s"]),
                     _us(a["copy_s"]), _us(b["copy_s"]), _us(a["fwd_stall_s"] + a["bwd_stall_s"]),
                     _us(b["fwd_stall_s"] + b["bwd_stall_s"])])
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(head)]
    fmt = lambda r: "  ".join(x.ljust(w) if i == 0 else x.rjust(w)  # noqa: E731
                              for i, (x, w) in enumerate(zip(r, widths)))
    lines = [fmt(head), "  ".join("-" * w for w in widths)] + [fmt(r) for r in body]
    lines.append("")
    for name, r in (("vDNN (uncompressed offload)", v), ("cDMA (compressed offload)", c)):
        lines.append(f"{name:30s} iteration {r['iteration_s'] * 1e3:9.3f} ms = compute "
                     f"{r['compute_s'] * 1e3:.3f} ms + stall {r['stall_s'] * 1e3:.3f} ms")
    lines.append(f"speedup of cDMA over vDNN: {result['speedup']:.3f}x "
                 f"(no-offload bound {v['iteration_s'] / v['compute_s']:.3f}x)")
    return "\n".join(lines)


def plot_timeline(path, result, title):
    """Two Gantt charts (vDNN, cDMA): a compute lane and a PCIe lane, forward then backward."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 1, figsize=(11, 4.2), sharex=True)
    colors = {("compute", "fwd"): "#4c72b0", ("compute", "bwd"): "#8c9fca",
              ("copy", "fwd"): "#dd8452", ("copy", "bwd"): "#55a868"}
    for ax, key, label in ((axes[0], "vdnn", "vDNN"), (axes[1], "cdma", "cDMA")):
        r = result[key]
        for kind, phase, _name, t0, t1 in r["events"]:
            y = 1 if kind == "compute" else 0
            ax.broken_barh([(t0 * 1e3, (t1 - t0) * 1e3)], (y - 0.4, 0.8),
                           facecolors=colors[(kind, phase)], edgecolor="white", linewidth=0.3)
        ax.set_yticks([0, 1], ["PCIe copy", "GPU compute"])
        ax.set_title(f"{label}: iteration {r['iteration_s'] * 1e3:.3f} ms, stall "
                     f"{r['stall_s'] * 1e3:.3f} ms", fontsize="small", loc="left")
    axes[1].set_xlabel("time (ms): forward with offload, then backward with prefetch")
    handles = [matplotlib.patches.Patch(color=c, label=f"{k} {p}") for (k, p), c in colors.items()]
    axes[0].legend(handles=handles, fontsize="x-small", ncol=4, loc="upper right")
    fig.suptitle(title + f"  (speedup {result['speedup']:.2f}x)", fontsize="medium")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ----------------------------------------------------------------------------- CLI
def add_arguments(p):
    p.add_argument("analysis", metavar="ANALYSIS.json",
                   help="JSON from cdma analyze --by-layer (or plain cdma analyze with --compute-csv)")
    p.add_argument("--link", choices=sorted(LINKS), default="gen3",
                   help="PCIe x16 preset, GB/s each way: " +
                   ", ".join(f"{k} {v:g}" for k, v in LINKS.items()) + " (default gen3, the paper's)")
    p.add_argument("--link-gbps", type=float, help="link bandwidth in GB/s, overrides --link")
    p.add_argument("--engine-gbps", type=float,
                   help="raw bytes per second the engine sustains, GB/s (measured on the "
                   "hardware bench, or Wm x clock); default: unlimited, the link is the bound")
    p.add_argument("--engine-bytes-per-cycle", type=float, metavar="WM",
                   help="or give the engine as memory-side bytes/cycle (Wm) ...")
    p.add_argument("--engine-mhz", type=float, help="... and clock in MHz: engine = Wm x MHz / 1000 GB/s")
    p.add_argument("--gpu-tflops", type=float, default=10.0,
                   help="effective GPU throughput for the FLOP-count compute times (default 10)")
    p.add_argument("--compute-csv", metavar="FILE",
                   help="per-layer compute times instead: columns layer,forward_ms[,backward_ms]; "
                   "the forward time is the compute that overlaps that layer's offload; "
                   "optional row HEAD")
    p.add_argument("--bwd-factor", type=float, default=2.0,
                   help="backward compute = factor x forward (default 2)")
    p.add_argument("--codec", default="frame", choices=("frame", "frame_zvce", "zvc", "zvc_canon", "rle", "rle_nhwc", "zlib", "zlib_chunk"),
                   help="whose compressed bytes cross the link (default frame: what cDMA sends)")
    p.add_argument("--no-compression", action="store_true",
                   help="cDMA with compression disabled (sanity check: speedup 1.0)")
    p.add_argument("--json", metavar="FILE", help="write per-layer steps and totals as JSON")
    p.add_argument("--plot", metavar="FILE.png", help="timeline plot")


def _engine_gbps(args):
    """Engine throughput in GB/s from --engine-gbps, or Wm bytes/cycle x MHz, or None."""
    wm, mhz = args.engine_bytes_per_cycle, args.engine_mhz
    if (wm is None) != (mhz is None):
        raise ValueError("--engine-bytes-per-cycle and --engine-mhz go together")
    if wm is not None:
        if args.engine_gbps is not None:
            raise ValueError("give --engine-gbps or --engine-bytes-per-cycle/--engine-mhz, not both")
        if wm <= 0 or mhz <= 0:
            raise ValueError(f"engine bytes/cycle and MHz must be positive, not {wm:g} and {mhz:g}")
        return wm * mhz / 1e3
    return args.engine_gbps


def run(args) -> int:
    link = args.link_gbps if args.link_gbps is not None else LINKS[args.link]
    try:
        if args.gpu_tflops <= 0:
            raise ValueError(f"--gpu-tflops must be positive, not {args.gpu_tflops}")
        if args.bwd_factor < 0:
            raise ValueError(f"--bwd-factor must not be negative, not {args.bwd_factor}")
        engine = _engine_gbps(args)
        study, tail, settings = load_study(args.analysis, args.codec)
        layers, head = build_layers(study, tail, gpu_tflops=args.gpu_tflops,
                                    compute_csv=args.compute_csv)
        result = compare(layers, link_gbps=link, engine_gbps=engine,
                         bwd_factor=args.bwd_factor, head_s=head,
                         compression=not args.no_compression)
    except ValueError as e:
        print(f"cdma model: {e}", file=sys.stderr)
        return 2
    net = settings.get("network") or Path(args.analysis).stem
    src = (f"compute from {args.compute_csv}" if args.compute_csv else
           f"compute = FLOPs / {args.gpu_tflops:g} TFLOPS, backward = {args.bwd_factor:g} x forward")
    print(f"network {net}: link {link:g} GB/s each way, engine "
          f"{'unlimited' if not engine else f'{engine:g} GB/s'}, {src}; "
          f"copies carry {'raw bytes (compression disabled)' if args.no_compression else args.codec + ' bytes'}")
    print(format_timeline(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"network": net, "settings": result["settings"], "speedup": result["speedup"],
                       "vdnn": {k: v for k, v in result["vdnn"].items() if k != "events"},
                       "cdma": {k: v for k, v in result["cdma"].items() if k != "events"}}, f, indent=1)
        print(f"wrote JSON: {args.json}")
    if args.plot:
        plot_timeline(args.plot, result, f"{net}: vDNN offload timeline, link {link:g} GB/s")
        print(f"wrote plot: {args.plot}")
    return 0
