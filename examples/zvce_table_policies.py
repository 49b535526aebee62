#!/usr/bin/env python3
"""ZVCE code-table policies on a ``cdma capture`` folder: the numbers behind FORMAT.md's choice.

For every tensor of the capture, the ZVCE frame size (``golden.frame_size``,
4 KiB chunks, ZVC chunks where smaller, raw fallback, headers) with four
tables, and the size-weighted ratio of each:

* ``own``: built from the tensor itself (a driver that histograms the
  activation on the GPU just before offloading it);
* ``prev``: built from the previous input's tensor of the same layer (input 0
  takes the last input's): the previous-iteration policy of ``cdma analyze
  --by-layer``;
* ``network``: one table for the whole network (all layers, all inputs);
* ``default``: ``golden.zvce.DEFAULT_TABLE``.

Run:  python examples/zvce_table_policies.py build/real_cnn/table_acts [--dtype bf16]
      (after ``make demo-real``, which writes the captures)
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from cdma import golden
from cdma.golden import zvce
from cdma.study.measure import prepare_elements


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("capture", type=Path, help="folder written by cdma capture (with index.json)")
    ap.add_argument("--dtype", choices=("bf16", "fp16"), default=None)
    args = ap.parse_args()
    index = json.loads((args.capture / "index.json").read_text())
    layers: dict[int, list[Path]] = {}
    for t in sorted(index["tensors"], key=lambda t: t["order"]):
        layers.setdefault(t["order"], []).append(args.capture / t["file"])

    def elements(f):
        return prepare_elements(np.load(f), dtype=args.dtype)[0]

    counts = {o: [zvce.top_byte_counts(elements(f)) for f in files] for o, files in layers.items()}
    network = zvce.build_table(counts=sum(sum(c) for c in counts.values()))
    raw, sizes = 0, dict.fromkeys(("own", "prev", "network", "default"), 0)
    for o, files in layers.items():
        for i, f in enumerate(files):
            x = elements(f)
            raw += x.nbytes
            for name, table in (("own", None), ("prev", zvce.build_table(counts=counts[o][i - 1])),
                                ("network", network), ("default", zvce.DEFAULT_TABLE)):
                sizes[name] += golden.frame_size(x, "zvce", table=table)
    print(f"{args.capture} ({args.dtype or 'as stored'}): network table {network}")
    print("  ".join(f"{name} {raw / size:.4f}x" for name, size in sizes.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
