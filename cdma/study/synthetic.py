"""Synthetic ReLU activations for demos, benchmarks and tests.

Real activations are sparse in a structured way: whole channels die, and
nonzeros cluster spatially.  This generator imitates that with a per-channel
bias and a smoothed Gaussian field, then applies ReLU, so that densities and
run lengths look like those of a trained CNN (not like i.i.d. coin flips).
"""
from __future__ import annotations

import numpy as np

__all__ = ["relu_tensor", "relu_activations", "write_demo_set", "DEMO_LAYERS"]

#: (name, shape NCHW or NC, target density), a small VGG-like stack.
DEMO_LAYERS = (
    ("conv1_relu", (4, 64, 56, 56), 0.55),
    ("conv2_relu", (4, 128, 28, 28), 0.40),
    ("conv3_relu", (4, 256, 14, 14), 0.25),
    ("conv4_relu", (4, 512, 7, 7), 0.12),
    ("pool4", (4, 512, 3, 3), 0.30),
    ("fc1_relu", (4, 4096), 0.08),
    ("fc2_relu", (4, 1024), 0.15),
)


def relu_tensor(nbytes: int, density: float, seed: int = 0) -> np.ndarray:
    """fp32, i.i.d.: a ``density`` fraction of positive values, the rest exactly 0."""
    rng = np.random.default_rng(seed)
    n = nbytes // 4
    x = np.abs(rng.standard_normal(n, dtype=np.float32)) + np.float32(1e-3)
    x[rng.random(n, dtype=np.float32) >= density] = 0
    return x


def relu_activations(shape, density: float, seed: int = 0) -> np.ndarray:
    """ReLU of a spatially smooth field with per-channel bias, about ``density`` nonzero."""
    if not 0 <= density <= 1:
        raise ValueError(f"density must be in [0, 1], not {density!r}")
    rng = np.random.default_rng(seed)
    field = rng.standard_normal(shape, dtype=np.float32)
    if len(shape) == 4:                       # smooth over H and W: clustered nonzeros
        for axis in (2, 3):
            if shape[axis] < 5:               # a wrap-around sum would make all equal
                continue
            field = (field + np.roll(field, 1, axis) + np.roll(field, -1, axis)) / np.float32(1.7)
    chan_shape = (1, shape[1]) + (1,) * (len(shape) - 2)
    field += rng.normal(0, 0.7, chan_shape).astype(np.float32)     # dead and lively channels
    if density == 0:
        return np.zeros(shape, np.float32)
    if density == 1:
        return np.abs(field) + np.float32(1e-3)
    return np.maximum(field - np.quantile(field, 1 - density), 0).astype(np.float32)


def write_demo_set(folder, seed: int = 0):
    """Write DEMO_LAYERS as ``.npy`` files into ``folder``; returns the paths."""
    from pathlib import Path
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (name, shape, density) in enumerate(DEMO_LAYERS):
        p = folder / f"{i:02d}_{name}.npy"
        np.save(p, relu_activations(shape, density, seed + i))
        paths.append(p)
    return paths


def add_arguments(p):
    p.add_argument("out", metavar="DIR", help="folder to write the .npy files into")
    p.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")


def run(args) -> int:
    paths = write_demo_set(args.out, args.seed)
    print(f"wrote {len(paths)} synthetic activation tensors to {args.out}")
    return 0
