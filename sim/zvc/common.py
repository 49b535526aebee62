"""Helpers shared by the ZVC cocotb test modules: parameters and bench reporting."""
from __future__ import annotations

import os

import numpy as np

from cdma import golden
from cdma.sim.stream_tb import bench_settings, random_pauses, report

from .payloads import random_elements

__all__ = ["elem_params", "bench_settings", "bench_pauses", "bench_data", "report"]


def elem_params(params):
    """``(elem_bits, lanes)`` from the generator parameters (with their defaults)."""
    return params.get("elem_bits", 32), params.get("lanes", 16)


def bench_pauses(tb):
    """Apply ``CDMA_BENCH_IDLE`` / ``CDMA_BENCH_BACKPRESSURE`` (probabilities, default 0)."""
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


def encoded(chunks, elem_bits):
    return [golden.zvc.encode(c, elem_bits) for c in chunks]
