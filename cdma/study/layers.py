"""``cdma analyze DIR --by-layer``: the per-layer study in the style of the paper.

Reads a folder written by ``cdma capture`` (its ``index.json`` gives each
tensor's layer, op type and order) or any folder of ``.npy`` files laid out as
``DIR/<input>/<layer>.npy`` (layers are then matched by file name across the
input folders).  The inputs of a capture are treated as one mini-batch: per
layer, bytes are summed over inputs, so each layer's ratio is
``sum(raw) / sum(compressed)``.

Per layer: density (fraction of elements whose bits are not all zero, the
thing ZVC and RLE see), value density (fraction != 0.0, which differs when a
layer emits ``-0.0``), and the ratio of ZVC, RLE in NCHW and NHWC order, the
cDMA frame (ZVC chunks with raw fallback and headers), the ZVCE frame
(``frame_zvce``: ZVCE chunks, each input coded with the table built from the
*previous* input's activations of the same layer -- the first input takes the
last one's -- as a driver would use the previous iteration's), zlib of the
whole tensor and zlib-6 chunk by chunk in the frame's container
(``zlib_chunk``, the comparison on equal terms).  Per network:
the size-weighted ratio (total raw / total compressed) and the maximum and
arithmetic mean over layers.  ``zvc_canon`` is a what-if: ZVC after turning
``-0.0`` into ``+0.0`` (exporters' hard-swish ``x * 0`` makes ``-0.0``, which
the golden format, comparing bits, keeps as a nonzero).  Every ZVC/RLE/frame size comes from the golden
model (:func:`cdma.study.measure.analyze_array`), equal to ``len(encode(x))``.
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np

from cdma import golden

from . import measure

__all__ = ["load_layers", "study_layers", "summarize", "format_study", "plot_study",
           "run_by_layer", "STUDY_CODECS"]

#: Codec columns of the study, in table order.  rle_nhwc is RLE measured in NHWC order;
#: zvc_canon is ZVC after turning -0.0 into +0.0 (a what-if: the golden format keeps -0.0).
STUDY_CODECS = ("zvc", "zvc_canon", "rle", "rle_nhwc", "frame", "frame_zvce", "zlib", "zlib_chunk")


def load_layers(path) -> tuple[list[dict], dict]:
    """Group the tensors of a capture folder by layer.

    Returns ``(layers, meta)``: ``layers`` in network order, each a dict with
    ``name``, ``op_type``, ``order`` and ``files`` (one per input); ``meta`` is
    the ``index.json`` content (or ``{}``).
    """
    path = Path(path)
    if not path.is_dir():
        raise ValueError(f"{path}: --by-layer needs a folder written by cdma capture "
                         "(or DIR/<input>/<layer>.npy)")
    index_file = path / "index.json"
    layers: "OrderedDict[str, dict]" = OrderedDict()
    if index_file.is_file():
        try:
            meta = json.loads(index_file.read_text())
            tensors = meta["tensors"]
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{index_file}: not a cdma capture index ({e})") from e
        for t in sorted(tensors, key=lambda t: t["order"]):
            lay = layers.setdefault(t["layer"], {"name": t["layer"], "op_type": t["op_type"],
                                                 "order": t["order"], "files": []})
            lay["files"].append(path / t["file"])
            if "flops" in t and lay.get("flops", 0) is not None:
                lay["flops"] = lay.get("flops", 0) + int(t["flops"])
            else:
                lay["flops"] = None
        tails = [i.get("tail_flops") for i in meta.get("inputs", [])]
        meta["tail_flops"] = sum(tails) if tails and None not in tails else None
        return list(layers.values()), meta
    subdirs = sorted(d for d in path.iterdir() if d.is_dir())
    groups = subdirs or [path]
    for d in groups:
        for f in sorted(d.glob("*.npy")):
            if f.name == "input.npy":
                continue
            lay = layers.setdefault(f.stem, {"name": f.stem, "op_type": "", "order": len(layers),
                                             "files": []})
            lay["files"].append(f)
    if not layers:
        raise ValueError(f"{path}: no .npy activations found (expected index.json from "
                         "cdma capture, or DIR/<input>/<layer>.npy)")
    return list(layers.values()), {}


def study_layers(layers, *, dtype=None, chunk_bytes=golden.DEFAULT_CHUNK_BYTES, baselines=None,
                 progress=False) -> list[dict]:
    """One row per layer: shape, bytes per codec summed over inputs, ratios, densities."""
    if baselines is None:
        found = measure.available_baselines()
        baselines = {"zlib": found["zlib"], "zlib_chunk": found["zlib_chunk"]}
    rows = []
    it = layers
    if progress:
        from tqdm import tqdm
        it = tqdm(layers, unit="layer", desc="study", file=sys.stderr)
    for lay in it:
        acc = {"raw_bytes": 0, "elements": 0, "nonzero": 0.0, "value_nonzero": 0}
        sizes: dict[str, int | None] = {c: 0 for c in STUDY_CODECS}
        shape, note = None, ""
        counts, first = [], None          # top-byte counts per input; input 0's elements
        for i, f in enumerate(lay["files"]):
            try:
                a = np.load(f, allow_pickle=False)
            except (ValueError, OSError, EOFError) as e:
                raise ValueError(f"{f}: cannot read as a numpy array ({e})") from e
            if a.dtype.kind != "f":
                raise ValueError(f"{f}: layer {lay['name']!r} is {a.dtype}, not a float activation")
            x, xnote = measure.prepare_elements(a, dtype=dtype)
            r = measure.measure_elements(lay["name"], a.shape, xnote, x, chunk_bytes=chunk_bytes,
                                         baselines=baselines, zvce_table=None)
            if sizes["frame_zvce"] is not None and x.dtype.itemsize * 8 in golden.zvce.ELEM_BITS:
                counts.append(golden.zvce.top_byte_counts(x))
                if i == 0:
                    first = x
                else:
                    sizes["frame_zvce"] += golden.frame_size(
                        x, "zvce", chunk_bytes, table=golden.zvce.build_table(counts=counts[i - 1]))
            else:
                sizes["frame_zvce"] = None
            if a.ndim == 4:
                rn = measure.analyze_array(lay["name"], a, layout="nhwc", dtype=dtype,
                                       chunk_bytes=chunk_bytes, baselines={}, zvce_table=None)
                sizes["rle_nhwc"] += rn["bytes_rle"]
            else:
                sizes["rle_nhwc"] += r["bytes_rle"]
            canon = np.where(a == 0, np.zeros((), a.dtype), a)      # -0.0 -> +0.0
            sizes["zvc_canon"] += measure.analyze_array(lay["name"], canon, dtype=dtype,
                                                    chunk_bytes=chunk_bytes, baselines={},
                                                    zvce_table=None)["bytes_zvc"]
            shape, note = r["shape"], r["dtype"]
            acc["raw_bytes"] += r["raw_bytes"]
            acc["elements"] += r["elements"]
            acc["nonzero"] += r["density"] * r["elements"]
            acc["value_nonzero"] += int(np.count_nonzero(a))  # -0.0 == 0 here
            for c in ("zvc", "rle", "frame", "zlib", "zlib_chunk"):
                b = r.get(f"bytes_{c}")
                sizes[c] = None if b is None or sizes[c] is None else sizes[c] + b
        if sizes["frame_zvce"] is not None and first is not None:
            # input 0 takes the last input's table (its own when it is the only one)
            sizes["frame_zvce"] += golden.frame_size(
                first, "zvce", chunk_bytes, table=golden.zvce.build_table(counts=counts[-1]))
        n = acc["elements"]
        row = {"name": lay["name"], "op_type": lay.get("op_type", ""), "order": lay["order"],
               "inputs": len(lay["files"]), "shape": shape, "dtype": note, "elements": n,
               "raw_bytes": acc["raw_bytes"],
               "density": round(acc["nonzero"]) / n if n else 0.0,
               "value_density": acc["value_nonzero"] / n if n else 0.0}
        if lay.get("flops") is not None:
            row["flops"] = lay["flops"]
        for c, b in sizes.items():
            row[f"bytes_{c}"] = b
            row[f"ratio_{c}"] = (acc["raw_bytes"] / b) if b else None
        rows.append(row)
    return rows


def summarize(rows) -> dict:
    """Network totals: size-weighted ratio, max and arithmetic mean over layers, per codec."""
    raw = sum(r["raw_bytes"] for r in rows)
    n = sum(r["elements"] for r in rows)
    out = {"name": "NETWORK", "layers": len(rows), "raw_bytes": raw, "elements": n,
           "density": sum(r["density"] * r["elements"] for r in rows) / n if n else 0.0,
           "value_density": sum(r["value_density"] * r["elements"] for r in rows) / n if n else 0.0}
    for c in STUDY_CODECS:
        vals = [r[f"bytes_{c}"] for r in rows]
        ratios = [r[f"ratio_{c}"] for r in rows]
        ok = rows and all(v is not None for v in vals) and sum(vals) > 0
        out[f"bytes_{c}"] = sum(vals) if ok else None
        out[f"ratio_{c}"] = raw / sum(vals) if ok else None
        out[f"max_{c}"] = max(ratios) if ok else None
        out[f"mean_{c}"] = float(np.mean(ratios)) if ok else None
        out[f"argmax_{c}"] = rows[int(np.argmax(ratios))]["name"] if ok else None
    return out


def _f(v, fmt="{:.2f}"):
    return "n/a" if v is None else fmt.format(v)


def format_study(rows, summary, codecs=STUDY_CODECS) -> str:
    head = ["#", "layer", "op", "shape", "KiB", "density", "val.dens"] + list(codecs)
    body = [[str(r["order"]), r["name"], r["op_type"] or "-",
             "x".join(map(str, r["shape"] or [])) or "-", f"{r['raw_bytes'] / 1024:.1f}",
             f"{r['density']:.3f}", f"{r['value_density']:.3f}"]
            + [_f(r[f"ratio_{c}"]) for c in codecs] for r in rows]
    tail = [["", "size-weighted", "", "", f"{summary['raw_bytes'] / 1024:.1f}",
             f"{summary['density']:.3f}", f"{summary['value_density']:.3f}"]
            + [_f(summary[f"ratio_{c}"]) for c in codecs],
            ["", "mean of layers", "", "", "", "", ""] + [_f(summary[f"mean_{c}"]) for c in codecs],
            ["", "max of layers", "", "", "", "", ""] + [_f(summary[f"max_{c}"]) for c in codecs]]
    widths = [max(len(h), *(len(b[i]) for b in body + tail)) for i, h in enumerate(head)]
    left = 4

    def line(cells):
        return "  ".join(c.ljust(w) if 0 < i < left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(head), sep] + [line(b) for b in body] + [sep] + [line(t) for t in tail])


def plot_study(path, rows, summary, title):
    """Per-layer ratio (log) of each codec over density, like the paper's per-network figures."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    codecs = [c for c in ("zvc", "rle", "frame", "frame_zvce", "zlib", "zlib_chunk")
              if summary.get(f"ratio_{c}") is not None]
    xs = np.arange(len(rows))
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(max(7, 0.28 * len(rows) + 3), 6.5), sharex=True,
                                   gridspec_kw={"height_ratios": [3, 1.2]})
    for c, m in zip(codecs, "o^sDdv"):
        ax1.plot(xs, [r[f"ratio_{c}"] or np.nan for r in rows], marker=m, ms=4, lw=1,
                 label=f"{c} (network {summary[f'ratio_{c}']:.2f}x, max {summary[f'max_{c}']:.1f}x)")
    ax1.axhline(1.0, color="k", lw=0.6)
    ax1.set_yscale("log")
    ax1.set_ylabel("compression ratio")
    ax1.set_title(title, fontsize="medium")
    ax1.legend(fontsize="small")
    ax1.grid(alpha=0.3, which="both")
    ax2.bar(xs, [r["density"] for r in rows], color="gray", label="bit density (ZVC sees)")
    ax2.plot(xs, [r["value_density"] for r in rows], "k_", ms=8, label="value density (!= 0.0)")
    ax2.set_ylim(0, 1.05)
    ax2.set_ylabel("density")
    ax2.legend(fontsize="x-small", loc="lower left")
    ax2.set_xticks(xs, [f"{r['order']} {r['op_type']}" for r in rows], rotation=90,
                   fontsize="x-small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_by_layer(args) -> int:
    """``cdma analyze DIR --by-layer``: uses the args of :func:`cdma.study.analyze.add_arguments`."""
    if args.chunk_bytes not in golden.CHUNK_BYTES:
        print(f"cdma analyze: --chunk-bytes must be a power of two from 512 to 65536, "
              f"not {args.chunk_bytes}", file=sys.stderr)
        return 2
    if len(args.paths) != 1:
        print("cdma analyze --by-layer: give exactly one capture folder "
              f"(got {len(args.paths)} paths)", file=sys.stderr)
        return 2
    wanted = [] if args.baselines.strip() == "none" else [b.strip() for b in args.baselines.split(",")]
    found = measure.available_baselines()
    baselines = {b: found[b] for b in ("zlib", "zlib_chunk") if b in wanted}
    codecs = [c for c in STUDY_CODECS if c not in ("zlib", "zlib_chunk") or c in baselines]
    try:
        t0 = time.perf_counter()
        layers, meta = load_layers(args.paths[0])
        rows = study_layers(layers, dtype=args.dtype, chunk_bytes=args.chunk_bytes,
                            baselines=baselines,
                            progress=not args.no_progress and sys.stderr.isatty())
    except (ValueError, FileNotFoundError) as e:
        print(f"cdma analyze: {e}", file=sys.stderr)
        return 2
    summary = summarize(rows)
    net = Path(meta.get("model", args.paths[0])).stem
    print(f"network {net}: {len(rows)} activation layers x {rows[0]['inputs']} inputs, "
          f"{summary['raw_bytes'] / 2**20:.2f} MiB" + (f", measured as {args.dtype}" if args.dtype else ""))
    print(format_study(rows, summary, codecs))
    print(f"\nratios = raw / compressed bytes, summed over inputs; rle_nhwc = RLE of the same "
          f"tensors in NHWC order; frame = ZVC chunks of {args.chunk_bytes} B with raw fallback "
          f"and headers; frame_zvce = the same with ZVCE chunks, each input coded with the previous "
          f"input's table of the layer; zlib_chunk = zlib-6 per chunk in the same container; "
          f"{time.perf_counter() - t0:.1f} s")
    settings = {"network": net, "model": meta.get("model"), "dtype": args.dtype,
                "chunk_bytes": args.chunk_bytes, "codecs": codecs,
                "inputs": [i.get("source") for i in meta.get("inputs", [])],
                "tail_flops": meta.get("tail_flops")}
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"settings": settings, "layers": rows, "network": summary}, f, indent=1)
    if args.csv:
        import csv
        cols = ["order", "name", "op_type", "shape", "inputs", "elements", "raw_bytes", "density",
                "value_density"] + [f"bytes_{c}" for c in codecs] + [f"ratio_{c}" for c in codecs]
        with open(args.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(cols)
            for r in rows:
                w.writerow(["x".join(map(str, r["shape"] or [])) if c == "shape" else
                            ("" if r.get(c) is None else r.get(c)) for c in cols])
    if args.plot:
        plot_study(args.plot, rows, summary,
                   f"{net}: per-layer compression" + (f" ({args.dtype})" if args.dtype else " (fp32)"))
    for what, p in (("JSON", args.json), ("CSV", args.csv), ("plot", args.plot)):
        if p:
            print(f"wrote {what}: {os.fspath(p)}")
    return 0
