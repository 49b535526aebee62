"""Compressed sizes of activation tensors: the measurements behind ``cdma analyze``.

For one tensor: its density (fraction of nonzero elements) and the size under
ZVC, RLE, the full cDMA frame (ZVC chunks with raw fallback and headers), the
ZVCE frame (ZVC with an entropy-coded top byte, 16- and 32-bit elements; the
code table built from the tensor unless one is given) and software baselines
(zlib level 6 of the whole tensor, zlib level 6 of each chunk alone in the
frame's container -- ``zlib_chunk``, the comparison on equal terms -- and zstd
and lz4 when importable).  ZVC, RLE and frame sizes come from counts, which
:mod:`cdma.golden` guarantees equal ``len(encode(x))``; only the software
baselines really compress.  Used by the
per-tensor table (:mod:`cdma.study.analyze`) and the per-layer study
(:mod:`cdma.study.layers`).
"""
from __future__ import annotations

import sys
import zlib
from pathlib import Path

import numpy as np

from cdma import golden

__all__ = ["HW_CODECS", "BASELINES", "find_tensors", "load_tensors", "analyze_array",
           "analyze_arrays", "total_row", "available_baselines", "to_16bit", "prepare_elements", "measure_elements",
           "chunked_frame_size"]

HW_CODECS = ("zvc", "rle", "frame", "frame_zvce")
#: Software baselines; ``zlib_chunk`` is zlib-6 chunk by chunk (:func:`chunked_frame_size`).
BASELINES = ("zlib", "zlib_chunk", "zstd", "lz4")


def _zlib6(b: bytes) -> bytes:
    return zlib.compress(b, 6)


def available_baselines() -> dict[str, object]:
    """Software compressors: name -> ``compress(bytes) -> bytes``, or None if missing."""
    found: dict[str, object] = {"zlib": _zlib6, "zlib_chunk": _zlib6}
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


def chunked_frame_size(compress, data: bytes, chunk_bytes: int) -> int:
    """Bytes of a frame whose chunks are ``compress``-ed one by one, like the cDMA frame:
    16-byte header, 4-byte chunk headers, a chunk stored raw unless compressing
    makes it strictly smaller, payloads padded to 4 bytes."""
    total = golden.frame.HEADER_BYTES
    for i in range(0, len(data), chunk_bytes):
        raw = len(data[i: i + chunk_bytes])
        used = min(len(compress(data[i: i + chunk_bytes])), raw)
        total += golden.frame.CHUNK_HEADER_BYTES + (used + 3) // 4 * 4
    return total


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


def prepare_elements(arr, *, layout: str = "nchw", dtype: str | None = None):
    """``(element words, dtype note)`` of a tensor as :func:`analyze_array` measures it."""
    if layout not in ("nchw", "nhwc"):
        raise ValueError(f"layout must be nchw or nhwc, not {layout!r}")
    arr, note = _prepare(np.asarray(arr), layout, dtype)
    return golden.as_elements(arr), note


def analyze_array(name: str, arr: np.ndarray, *, layout: str = "nchw", dtype: str | None = None,
                  chunk_bytes: int = golden.DEFAULT_CHUNK_BYTES, baselines=None,
                  zvce_table="own") -> dict:
    """Measure one tensor; returns a row with sizes in bytes and ratios.

    ``zvce_table``: the ZVCE code table, ``"own"`` (built from this tensor) or
    None to skip the ZVCE frame; it is None (n/a) for 8-bit elements anyway.
    """
    x, note = prepare_elements(arr, layout=layout, dtype=dtype)
    return measure_elements(name, np.shape(arr), note, x, chunk_bytes=chunk_bytes,
                            baselines=baselines, zvce_table=zvce_table)


def measure_elements(name: str, shape, note: str, x: np.ndarray, *,
                     chunk_bytes: int = golden.DEFAULT_CHUNK_BYTES, baselines=None,
                     zvce_table="own") -> dict:
    """:func:`analyze_array` on element words already prepared by :func:`prepare_elements`."""
    shape = tuple(int(s) for s in shape)
    raw = x.nbytes
    row = {"name": name, "shape": list(shape), "dtype": note, "elem_bits": x.dtype.itemsize * 8,
           "elements": int(x.size), "raw_bytes": int(raw),
           "density": float(np.count_nonzero(x) / x.size) if x.size else 0.0}
    sizes = {"zvc": golden.zvc.encoded_size(x), "rle": golden.rle.encoded_size(x),
             "frame": golden.frame_size(x, "zvc", chunk_bytes), "frame_zvce": None}
    if zvce_table is not None and x.dtype.itemsize * 8 in golden.zvce.ELEM_BITS:
        sizes["frame_zvce"] = golden.frame_size(x, "zvce", chunk_bytes,
                                                table=None if zvce_table == "own" else zvce_table)
    baselines = available_baselines() if baselines is None else baselines
    data = x.view(np.uint8).tobytes() if any(baselines.values()) else b""
    for codec, fn in baselines.items():
        if fn is None:
            sizes[codec] = None
        elif codec == "zlib_chunk":
            sizes[codec] = chunked_frame_size(fn, data, chunk_bytes)
        else:
            sizes[codec] = len(fn(data))
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
