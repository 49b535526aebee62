"""Bench knobs and result rows shared by the RLE cocotb tests (``test_throughput``)."""
from __future__ import annotations

import json
import os

__all__ = ["bench_settings", "report"]


def bench_settings():
    """``(densities, transfer bytes, chunk bytes, output file)`` from the environment.

    ``CDMA_BENCH_DENSITIES`` (comma-separated, default ``0,0.5,1``),
    ``CDMA_BENCH_BYTES`` (default 4096), ``CDMA_BENCH_CHUNK_BYTES`` (0: the whole
    transfer is one chunk) and ``CDMA_BENCH_OUT`` (JSON lines, optional).
    """
    dens = os.environ.get("CDMA_BENCH_DENSITIES", "0,0.5,1")
    return ([float(d) for d in dens.split(",")],
            int(os.environ.get("CDMA_BENCH_BYTES", "4096")),
            int(os.environ.get("CDMA_BENCH_CHUNK_BYTES", "0")),
            os.environ.get("CDMA_BENCH_OUT"))


def report(path, **row):
    """Append one JSON line to the bench's result file (if any)."""
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(row) + "\n")
