"""``cdma bench zvc``: measured cycles of the generated ZVC blocks under cocotb.

For each configuration (element bits, lanes, compressed-side beat bytes) and each
density, the cocotb benches in ``sim/zvc`` stream one transfer (default 64 KiB of
raw data, one chunk) through the compressor and through the decompressor with
no idle cycles and no backpressure, check every byte against ``golden.zvc``, and
count the cycles from the first input transfer to the last output transfer.
The table gives cycles per 32-element window, bytes per cycle in and out, and
the bound ``min(raw width, compressed width x ratio)`` in raw bytes per cycle.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from . import blocks
from .blocks import DENSITIES, add_common_arguments, bound

__all__ = ["add_arguments", "run", "measure", "bound", "format_table", "plot"]

DEFAULT_CONFIGS = ("8:8", "8:16", "16:8", "16:16", "32:8", "32:16", "32:16:16")
# block -> (generator module, cocotb test module, compressed-side beat parameter)
DUTS = {"compress": ("zvc-compress", "cdma.sim.zvc.test_zvc_compress", "out_bytes"),
        "decompress": ("zvc-decompress", "cdma.sim.zvc.test_zvc_decompress", "in_bytes")}


def add_arguments(p) -> None:
    """Declare the options of ``cdma bench zvc``."""
    add_common_arguments(p, DEFAULT_CONFIGS, "compressed")
    p.add_argument("--idle", type=float, default=0.0, metavar="P",
                   help="probability of an idle cycle on the input stream (default 0)")
    p.add_argument("--backpressure", type=float, default=0.0, metavar="P",
                   help="probability of tready low on the output stream (default 0)")


def _complete(row):
    blocks.complete(row)
    c = row["cycles"]
    enc_in = row["dut"] == "decompress"
    row["cycles_per_window"] = c / row["windows"]
    row["in_per_cycle"] = (row["enc_bytes"] if enc_in else row["raw_bytes"]) / c
    row["out_per_cycle"] = (row["raw_bytes"] if enc_in else row["enc_bytes"]) / c
    return row


def measure(configs, duts=("compress", "decompress"), densities=DENSITIES, nbytes=64 << 10,
            chunk_bytes=0, sim="icarus", progress=None, *, idle=0.0, backpressure=0.0,
            build_root=None):
    """Run the ZVC benches; one dict per (configuration, block, density).

    As :func:`cdma.bench.blocks.measure`, plus ``idle`` and ``backpressure``: the
    probability of an idle input cycle and of ``tready`` low on the output.
    """
    return blocks.measure(DUTS, configs, duts, densities, nbytes, chunk_bytes, sim, progress,
                          complete_row=_complete, build_root=build_root,
                          env={"CDMA_BENCH_IDLE": str(idle),
                               "CDMA_BENCH_BACKPRESSURE": str(backpressure)})


HEADER = ("block", "E", "lanes", "in B", "out B", "density", "ratio", "cycles",
          "cyc/window", "in B/cyc", "out B/cyc", "bound", "% bound")


def format_table(rows):
    """Markdown table of the measured rows."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for r in rows:
        cells = (r["dut"], r["elem_bits"], r["lanes"], r["in_bytes"], r["out_bytes"],
                 f"{r['density']:.2f}", f"{r['ratio']:.2f}", r["cycles"],
                 f"{r['cycles_per_window']:.3f}", f"{r['in_per_cycle']:.2f}",
                 f"{r['out_per_cycle']:.2f}", f"{r['bound']:.2f}",
                 f"{100 * r['efficiency']:.1f}")
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def plot(rows, path):
    """Raw bytes per cycle (markers) against the bound (lines), one panel per block."""
    blocks.plot(path, {"ZVC": rows}, lambda dut: f"ZVC {dut}: measured (dots) vs bound (lines)")


def run(args) -> int:
    """Entry point of ``cdma bench zvc``."""
    for name in ("idle", "backpressure"):
        if not 0 <= getattr(args, name) < 1:
            print(f"cdma bench zvc: --{name} must be a probability in [0, 1), "
                  f"not {getattr(args, name)!r}")
            return 2
    sim, sim_text, configs, duts = blocks.selection(args, DEFAULT_CONFIGS)
    total = len(configs) * len(duts) * len(args.densities)
    t0 = time.time()
    def label(row):
        return (f"{row['dut']} E{row['elem_bits']} x{row['lanes']} d={row['density']:.2f}: "
                f"{100 * row['efficiency']:.1f}%")
    with blocks.progress_bar(total, "cdma bench zvc", label) as progress:
        rows = measure(configs, duts, args.densities, args.nbytes, args.chunk_bytes, sim,
                       progress, idle=args.idle, backpressure=args.backpressure)
    print(blocks.describe_run(
        "ZVC blocks", sim_text, args.nbytes, args.chunk_bytes, t0,
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
        plot(rows, args.plot)
        print(f"plot written to {args.plot}")
    return 0
