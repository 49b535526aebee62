"""``cdma bench zvce``: measured cycles of the generated ZVCE blocks under cocotb.

As ``cdma bench zvc`` (same rows, table and bound), with ReLU-like
activations (magnitudes of a unit normal, zeros at ``1 - density``) coded with
the table ``golden.zvce.build_table`` makes from them: random bit patterns
would make every top byte a literal.  Every byte is checked against
``golden.zvce``.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from . import blocks
from .blocks import add_common_arguments
from .zvc import _complete, format_table

__all__ = ["add_arguments", "run", "measure", "DEFAULT_CONFIGS", "DENSITIES"]

DEFAULT_CONFIGS = ("32:4", "16:4", "32:8", "32:16")
#: The densities of the issue's acceptance (``--densities`` for others).
DENSITIES = (0.1, 0.5, 0.9)
DUTS = {"compress": ("zvce-compress", "cdma.sim.zvce.test_zvce_compress", "out_bytes"),
        "decompress": ("zvce-decompress", "cdma.sim.zvce.test_zvce_decompress", "in_bytes")}


def add_arguments(p) -> None:
    """Declare the options of ``cdma bench zvce``."""
    add_common_arguments(p, DEFAULT_CONFIGS, "compressed")
    p.set_defaults(densities=list(DENSITIES))
    p.add_argument("--idle", type=float, default=0.0, metavar="P",
                   help="probability of an idle cycle on the input stream (default 0)")
    p.add_argument("--backpressure", type=float, default=0.0, metavar="P",
                   help="probability of tready low on the output stream (default 0)")


def measure(configs, duts=("compress", "decompress"), densities=DENSITIES, nbytes=64 << 10,
            chunk_bytes=0, sim="icarus", progress=None, *, idle=0.0, backpressure=0.0,
            build_root=None):
    """Run the ZVCE benches; one dict per (configuration, block, density)
    (:func:`cdma.bench.zvc.measure`'s rows)."""
    return blocks.measure(DUTS, configs, duts, densities, nbytes, chunk_bytes, sim, progress,
                          complete_row=_complete, build_root=build_root,
                          env={"CDMA_BENCH_IDLE": str(idle),
                               "CDMA_BENCH_BACKPRESSURE": str(backpressure)})


def run(args) -> int:
    """Entry point of ``cdma bench zvce``."""
    for name in ("idle", "backpressure"):
        if not 0 <= getattr(args, name) < 1:
            print(f"cdma bench zvce: --{name} must be a probability in [0, 1), "
                  f"not {getattr(args, name)!r}")
            return 2
    sim, sim_text, configs, duts = blocks.selection(args, DEFAULT_CONFIGS)
    bad = [c for c in configs if c[0] not in (16, 32)]
    if bad:
        print(f"cdma bench zvce: ZVCE codes 16- or 32-bit elements, not {bad[0][0]!r} "
              "(8-bit elements: use cdma bench zvc)")
        return 2
    total = len(configs) * len(duts) * len(args.densities)
    t0 = time.time()

    def label(row):
        return (f"{row['dut']} E{row['elem_bits']} x{row['lanes']} d={row['density']:.2f}: "
                f"{100 * row['efficiency']:.1f}%")
    with blocks.progress_bar(total, "cdma bench zvce", label) as progress:
        rows = measure(configs, duts, args.densities, args.nbytes, args.chunk_bytes, sim,
                       progress, idle=args.idle, backpressure=args.backpressure)
    print(blocks.describe_run(
        "ZVCE blocks (activations, table built from them)", sim_text, args.nbytes,
        args.chunk_bytes, t0,
        (f", idle {args.idle:g}" if args.idle else ", no idle")
        + (f", backpressure {args.backpressure:g}" if args.backpressure else ", no backpressure")))
    print("bound = min(raw width, compressed width x ratio), raw bytes per cycle\n")
    print(format_table(rows))
    worst = min(rows, key=lambda r: r["efficiency"])
    print(f"\nworst: {100 * worst['efficiency']:.1f}% of the bound ({worst['dut']} "
          f"E{worst['elem_bits']} x{worst['lanes']} at density {worst['density']})")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    if args.plot:
        blocks.plot(args.plot, {"ZVCE": rows},
                    lambda dut: f"ZVCE {dut}: measured (dots) vs bound (lines)")
        print(f"plot written to {args.plot}")
    return 0
