"""``cdma analyze``: how much do these activations compress?

For every tensor in ``.npy``/``.npz`` files (or folders of them) this reports
its density (fraction of nonzero elements) and the compression ratio
(raw bytes / compressed bytes) of ZVC, RLE, the full cDMA frame (ZVC chunks
with raw fallback and headers) and software baselines (zlib level 6, and zstd
and lz4 when importable).  ZVC, RLE and frame sizes come from counts, which
:mod:`golden` guarantees equal ``len(encode(x))``; only the software baselines
really compress.
"""
from __future__ import annotations

import csv
import json
import os
import sys
import time
import zlib
from pathlib import Path

import numpy as np

from cdma import golden

__all__ = ["find_tensors", "load_tensors", "analyze_array", "analyze_arrays", "total_row",
           "available_baselines", "to_16bit", "add_arguments", "run"]

HW_CODECS = ("zvc", "rle", "frame")
BASELINES = ("zlib", "zstd", "lz4")


def available_baselines() -> dict[str, object]:
    """Software compressors: name -> ``compress(bytes) -> bytes``, or None if missing."""
    found: dict[str, object] = {"zlib": lambda b: zlib.compress(b, 6)}
    try:
        import zstandard
        found["zstd"] = zstandard.ZstdCompressor(level=3).compress
    except ImportError:
        found["zstd"] = None
    try:
        import lz4.frame
        found["lz4"] = lz4.frame.compress
    except ImportError:
        found["lz4"] = None
    return found


def find_tensors(paths) -> list[Path]:
    """Expand files and folders into a sorted list of ``.npy``/``.npz`` files."""
    files = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.suffix in (".npy", ".npz") and q.is_file())
            if not found:
                raise ValueError(f"{p}: folder holds no .npy or .npz files")
            files += found
        elif p.is_file():
            if p.suffix not in (".npy", ".npz"):
                raise ValueError(f"{p}: not a .npy or .npz file")
            files.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return files


def load_tensors(files):
    """Yield ``(name, array)`` for every array in the files (npz members as file:key)."""
    for f in files:
        try:
            if f.suffix == ".npz":
                with np.load(f, allow_pickle=False) as z:
                    for key in z.files:
                        yield f"{f.name}:{key}", z[key]
            else:
                yield f.name, np.load(f, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise ValueError(f"{f}: cannot read as a numpy array ({e})") from e


def to_16bit(arr: np.ndarray, dtype: str) -> np.ndarray:
    """Re-encode a float tensor as bf16 (round to nearest even) or fp16 bit patterns."""
    a = np.asarray(arr, np.float32)
    if dtype == "fp16":
        return a.astype(np.float16).view(np.uint16)
    if dtype == "bf16":
        u = a.view(np.uint32).astype(np.uint64)
        rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
        nan = np.isnan(a)
        out = rounded.astype(np.uint16)
        out[nan] = ((u[nan] >> 16) | 0x40).astype(np.uint16)  # keep NaNs NaN
        return out
    raise ValueError(f"dtype must be bf16 or fp16, not {dtype!r}")


def _prepare(arr: np.ndarray, layout: str, dtype: str | None):
    note = str(arr.dtype)
    if dtype is not None:
        arr = to_16bit(arr, dtype)
        note += f"->{dtype}"
    elif arr.dtype == np.float64:
        arr = arr.astype(np.float32)
        note += "->float32"
    elif arr.dtype.itemsize * 8 not in golden.ELEM_BITS:
        raise ValueError(f"{arr.dtype.itemsize * 8}-bit elements are not supported")
    if layout == "nhwc" and arr.ndim == 4:
        arr = np.ascontiguousarray(arr.transpose(0, 2, 3, 1))
    return arr, note


def analyze_array(name: str, arr: np.ndarray, *, layout: str = "nchw", dtype: str | None = None,
                  chunk_bytes: int = golden.DEFAULT_CHUNK_BYTES, baselines=None) -> dict:
    """Measure one tensor; returns a row with sizes in bytes and ratios."""
    if layout not in ("nchw", "nhwc"):
        raise ValueError(f"layout must be nchw or nhwc, not {layout!r}")
    shape = tuple(int(s) for s in np.shape(arr))
    arr, note = _prepare(np.asarray(arr), layout, dtype)
    x = golden.as_elements(arr)
    raw = x.nbytes
    row = {"name": name, "shape": list(shape), "dtype": note, "elem_bits": x.dtype.itemsize * 8,
           "elements": int(x.size), "raw_bytes": int(raw),
           "density": float(np.count_nonzero(x) / x.size) if x.size else 0.0}
    sizes = {"zvc": golden.zvc.encoded_size(x), "rle": golden.rle.encoded_size(x),
             "frame": golden.frame_size(x, "zvc", chunk_bytes)}
    baselines = available_baselines() if baselines is None else baselines
    data = x.view(np.uint8).tobytes() if any(baselines.values()) else b""
    for codec, fn in baselines.items():
        sizes[codec] = len(fn(data)) if fn is not None else None
    for codec, size in sizes.items():
        row[f"bytes_{codec}"] = size
        row[f"ratio_{codec}"] = (raw / size if size else None) if size is not None else None
    return row


def total_row(rows) -> dict:
    """Byte-weighted totals: sum of raw bytes over sum of compressed bytes per codec."""
    raw = sum(r["raw_bytes"] for r in rows)
    elems = sum(r["elements"] for r in rows)
    tot = {"name": "TOTAL", "shape": [], "dtype": "", "elem_bits": None, "elements": elems,
           "raw_bytes": raw,
           "density": (sum(r["density"] * r["elements"] for r in rows) / elems) if elems else 0.0}
    for codec in HW_CODECS + BASELINES:
        vals = [r.get(f"bytes_{codec}") for r in rows]
        if rows and all(v is not None for v in vals):
            tot[f"bytes_{codec}"] = sum(vals)
            tot[f"ratio_{codec}"] = raw / sum(vals) if sum(vals) else None
        else:
            tot[f"bytes_{codec}"] = tot[f"ratio_{codec}"] = None
    return tot


def analyze_arrays(items, *, layout="nchw", dtype=None, chunk_bytes=golden.DEFAULT_CHUNK_BYTES,
                   baselines=None, progress=False, total=None) -> list[dict]:
    """Analyze ``(name, array)`` pairs; optional tqdm progress bar on stderr."""
    baselines = available_baselines() if baselines is None else baselines
    if progress:
        from tqdm import tqdm
        items = tqdm(items, total=total, unit="tensor", file=sys.stderr, desc="analyze")
    return [analyze_array(n, a, layout=layout, dtype=dtype, chunk_bytes=chunk_bytes,
                          baselines=baselines) for n, a in items]


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
    p.add_argument("--baselines", default="zlib,zstd,lz4",
                   help="software compressors to run, comma-separated, or 'none' (default %(default)s)")
    p.add_argument("--csv", metavar="FILE", help="write the table as CSV")
    p.add_argument("--json", metavar="FILE", help="write rows, total and settings as JSON")
    p.add_argument("--plot", metavar="FILE.png", help="plot ratio per tensor per codec, and density")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--by-layer", action="store_true",
                   help="per-layer study of one cdma capture folder (see cdma/study.py); reports "
                   "RLE in both NCHW and NHWC order, so --layout does not apply")


def run(args) -> int:
    if getattr(args, "by_layer", False):     # the per-layer study lives in cdma/study.py
        from .study import run_by_layer
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
          f"fallback and headers; layout {args.layout}"
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
