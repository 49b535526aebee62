"""Helpers shared by the ZVC cocotb test modules: parameters and bench reporting."""
from __future__ import annotations

import json
import os

import numpy as np

import golden

from .payloads import random_elements

__all__ = ["elem_params", "bench_settings", "bench_pauses", "bench_data", "report"]


def elem_params(params):
    """``(elem_bits, lanes)`` from the generator parameters (with their defaults)."""
    return params.get("elem_bits", 32), params.get("lanes", 16)


def bench_settings():
    """Bench knobs from the environment: densities, transfer bytes, chunk bytes, output file."""
    dens = os.environ.get("CDMA_BENCH_DENSITIES", "0,0.5,1")
    return ([float(d) for d in dens.split(",")],
            int(os.environ.get("CDMA_BENCH_BYTES", "4096")),
            int(os.environ.get("CDMA_BENCH_CHUNK_BYTES", "0")),
            os.environ.get("CDMA_BENCH_OUT"))


def bench_pauses(tb):
    """Apply ``CDMA_BENCH_IDLE`` / ``CDMA_BENCH_BACKPRESSURE`` (probabilities, default 0)."""
    from sim.stream_tb import random_pauses
    idle = float(os.environ.get("CDMA_BENCH_IDLE", "0"))
    bp = float(os.environ.get("CDMA_BENCH_BACKPRESSURE", "0"))
    tb.set_idle_generator(random_pauses(idle, 21) if idle else None)
    tb.set_backpressure_generator(random_pauses(bp, 22) if bp else None)
    return idle, bp


def bench_data(nbytes, density, elem_bits, chunk_bytes, seed):
    """Elements of one transfer, cut into chunks (``chunk_bytes`` 0: one chunk)."""
    rng = np.random.default_rng(seed)
    x = random_elements(nbytes // (elem_bits // 8), density, elem_bits, rng)
    per = (chunk_bytes or nbytes) // (elem_bits // 8)
    return x, [x[k:k + per] for k in range(0, x.size, per)]


def report(path, **row):
    """Append one JSON line to the bench's result file (if any)."""
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(row) + "\n")


def encoded(chunks, elem_bits):
    return [golden.zvc.encode(c, elem_bits) for c in chunks]
