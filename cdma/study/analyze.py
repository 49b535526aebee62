"""``cdma analyze``: how much do these activations compress?

For every tensor in ``.npy``/``.npz`` files (or folders of them) a table row
with its density and the compression ratio (raw bytes / compressed bytes) of
ZVC, RLE, the cDMA frame (ZVC), the ZVCE frame and the software baselines,
zlib per chunk among them (measured by
:mod:`cdma.study.measure`), and a byte-weighted total; ``--by-layer`` runs the
per-layer study of a ``cdma capture`` folder instead (:mod:`cdma.study.layers`).
"""
from __future__ import annotations

import csv
import json
import os
import sys
import time

import numpy as np

from cdma import golden

from .measure import (BASELINES, HW_CODECS, analyze_arrays, available_baselines, find_tensors,
                      load_tensors, total_row)

__all__ = ["format_table", "write_csv", "plot", "add_arguments", "run"]


def _fmt_ratio(v):
    return "n/a" if v is None else f"{v:.2f}"


def format_table(rows, codecs) -> str:
    head = ["tensor", "shape", "dtype", "elements", "density"] + codecs
    body = [[r["name"], "x".join(map(str, r["shape"])) or "-", r["dtype"] or "-",
             f"{r['elements']:,}", f"{r['density']:.3f}"]
            + [_fmt_ratio(r.get(f"ratio_{c}")) for c in codecs] for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) if i < 3 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths)))]
    lines.append("  ".join("-" * w for w in widths))
    for k, b in enumerate(body):
        if k == len(body) - 1 and rows[-1]["name"] == "TOTAL":
            lines.append("  ".join("-" * w for w in widths))
        lines.append("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(b, widths))))
    return "\n".join(lines)


def write_csv(path, rows, codecs):
    cols = ["name", "shape", "dtype", "elements", "raw_bytes", "density"]
    cols += [f"bytes_{c}" for c in codecs] + [f"ratio_{c}" for c in codecs]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in rows:
            w.writerow(["x".join(map(str, r["shape"])) if c == "shape" else
                        ("" if r.get(c) is None else r.get(c)) for c in cols])


def plot(path, rows, codecs, title="compression by tensor"):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = [r["name"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(max(6, 0.45 * len(rows) + 3), 7), sharex=True,
                                   gridspec_kw={"height_ratios": [3, 1]})
    width = 0.8 / len(codecs)
    xs = np.arange(len(rows))
    for i, c in enumerate(codecs):
        vals = [r.get(f"ratio_{c}") or np.nan for r in rows]
        ax1.bar(xs + (i - (len(codecs) - 1) / 2) * width, vals, width, label=c)
    ax1.axhline(1.0, color="k", lw=0.6)
    ax1.set_yscale("log")
    ax1.set_ylabel("compression ratio (raw / compressed)")
    ax1.set_title(title)
    ax1.legend(ncol=len(codecs), fontsize="small")
    ax2.bar(xs, [r["density"] for r in rows], color="gray")
    ax2.set_ylim(0, 1)
    ax2.set_ylabel("density")
    ax2.set_xticks(xs, names, rotation=60, ha="right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def add_arguments(p):
    p.add_argument("paths", nargs="+", metavar="PATH", help=".npy/.npz files or folders of them")
    p.add_argument("--layout", choices=("nchw", "nhwc"), default="nchw",
                   help="memory layout to measure 4-D tensors in (stored as NCHW); changes RLE, not ZVC")
    p.add_argument("--dtype", choices=("bf16", "fp16"), default=None,
                   help="re-encode float tensors as 16-bit before measuring")
    p.add_argument("--chunk-bytes", type=int, default=golden.DEFAULT_CHUNK_BYTES,
                   help="frame chunk size in bytes (512..65536, power of two; default %(default)s)")
    p.add_argument("--baselines", default="zlib,zlib_chunk,zstd,lz4",
                   help="software compressors to run, comma-separated, or 'none' (default %(default)s)")
    p.add_argument("--csv", metavar="FILE", help="write the table as CSV")
    p.add_argument("--json", metavar="FILE", help="write rows, total and settings as JSON")
    p.add_argument("--plot", metavar="FILE.png", help="plot ratio per tensor per codec, and density")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--by-layer", action="store_true",
                   help="per-layer study of one cdma capture folder (cdma/study/layers.py); reports "
                   "RLE in both NCHW and NHWC order, so --layout does not apply")


def run(args) -> int:
    if getattr(args, "by_layer", False):
        from .layers import run_by_layer
        return run_by_layer(args)
    if args.chunk_bytes not in golden.CHUNK_BYTES:
        print(f"cdma analyze: --chunk-bytes must be a power of two from 512 to 65536, "
              f"not {args.chunk_bytes}", file=sys.stderr)
        return 2
    wanted = [] if args.baselines.strip() == "none" else [b.strip() for b in args.baselines.split(",") if b.strip()]
    unknown = [b for b in wanted if b not in BASELINES]
    if unknown:
        print(f"cdma analyze: unknown baseline(s) {', '.join(unknown)}; choose from "
              f"{', '.join(BASELINES)} or none", file=sys.stderr)
        return 2
    found = available_baselines()
    baselines = {b: found[b] for b in wanted}
    missing = [b for b, fn in baselines.items() if fn is None]
    try:
        files = find_tensors(args.paths)
        t0 = time.perf_counter()
        rows = analyze_arrays(load_tensors(files), layout=args.layout, dtype=args.dtype,
                              chunk_bytes=args.chunk_bytes, baselines=baselines,
                              progress=not args.no_progress and sys.stderr.isatty())
    except (ValueError, FileNotFoundError) as e:
        print(f"cdma analyze: {e}", file=sys.stderr)
        return 2
    if not rows:
        print("cdma analyze: no tensors found", file=sys.stderr)
        return 2
    rows.append(total_row(rows))
    codecs = list(HW_CODECS) + [b for b in wanted if baselines[b] is not None]
    print(format_table(rows, codecs))
    mb = rows[-1]["raw_bytes"] / 2**20
    print(f"\n{len(rows) - 1} tensors, {mb:.1f} MiB in {time.perf_counter() - t0:.2f} s; "
          f"ratios are raw/compressed bytes; frame = ZVC chunks of {args.chunk_bytes} B with raw "
          f"fallback and headers; frame_zvce = the same with ZVCE chunks (code table built from "
          f"each tensor; n/a for 8-bit elements); zlib_chunk = zlib-6 of each chunk alone, same "
          f"container; layout {args.layout}"
          + (f"; re-encoded as {args.dtype}" if args.dtype else ""))
    if missing:
        print(f"unavailable (not installed): {', '.join(missing)}  (pip install 'cdma[compress]')")
    if args.csv:
        write_csv(args.csv, rows, codecs)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"settings": {"layout": args.layout, "dtype": args.dtype,
                                    "chunk_bytes": args.chunk_bytes, "codecs": codecs,
                                    "unavailable": missing},
                       "tensors": rows[:-1], "total": rows[-1]}, f, indent=1)
    if args.plot:
        plot(args.plot, rows, codecs)
    for what, path in (("CSV", args.csv), ("JSON", args.json), ("plot", args.plot)):
        if path:
            print(f"wrote {what}: {os.fspath(path)}")
    return 0
