"""``cdma bench rle``: measured cycles of the generated RLE blocks, beside ZVC's.

For each configuration (element bits, lanes, encoded-side beat bytes) and each
density, the cocotb benches in ``sim/rle`` stream one transfer (default 64 KiB of
raw data, one chunk) through the encoder and through the decoder with no idle
cycles and no backpressure, check every byte against ``golden.rle``, and count
the cycles from the first input transfer to the last output transfer.  The
same transfers go through the ZVC blocks (``cdma.bench.zvc.measure``) so the
table puts both codecs side by side: cycles per 32 elements, raw bytes per
cycle, and the bound ``min(raw width, encoded width x ratio)``.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from . import blocks
from .blocks import DENSITIES, add_common_arguments, bound

__all__ = ["add_arguments", "run", "measure", "bound", "merge", "format_table", "plot"]

DEFAULT_CONFIGS = ("8:16", "32:16")
# block -> (generator module, cocotb test module, encoded-side beat parameter)
DUTS = {"compress": ("rle-encode", "cdma.sim.rle.test_rle_encode", "out_bytes"),
        "decompress": ("rle-decode", "cdma.sim.rle.test_rle_decode", "in_bytes")}


def add_arguments(p) -> None:
    """Declare the options of ``cdma bench rle``."""
    add_common_arguments(p, DEFAULT_CONFIGS, "encoded")
    p.add_argument("--no-zvc", action="store_true", help="measure RLE only")


def _complete(row):
    blocks.complete(row)
    row["cycles_per_32"] = 32 * row["cycles"] / row["elements"]
    row["enc_per_cycle"] = row["enc_bytes"] / row["cycles"]
    return row


def measure(configs, duts=("compress", "decompress"), densities=DENSITIES, nbytes=64 << 10,
            chunk_bytes=0, sim="icarus", progress=None, *, build_root=None):
    """Run the RLE benches; one dict per (configuration, block, density)
    (see :func:`cdma.bench.blocks.measure`)."""
    return blocks.measure(DUTS, configs, duts, densities, nbytes, chunk_bytes, sim, progress,
                          complete_row=_complete, build_root=build_root)


def _zvc_rows(configs, duts, densities, nbytes, chunk_bytes, sim, progress):
    """ZVC rows from ``cdma.bench.zvc.measure``, completed like ours."""
    from . import zvc as zvc_bench
    rows = zvc_bench.measure(configs, duts, densities, nbytes, chunk_bytes, sim, progress)
    for r in rows:
        r.setdefault("elements", r["raw_bytes"] // (r["elem_bits"] // 8))
        r["codec"] = "zvc"
        _complete(r)
    return rows


def merge(rle_rows, zvc_rows):
    """Pairs ``(rle_row, zvc_row or None)`` of the same block, configuration and density."""
    def key(r):
        return (r["dut"], r["elem_bits"], r["lanes"], r["in_bytes"], r["out_bytes"], r["density"])
    zvc = {key(r): r for r in zvc_rows}
    return [(r, zvc.get(key(r))) for r in rle_rows]


HEADER = ("block", "E", "lanes", "in B", "out B", "density",
          "RLE ratio", "RLE cyc/32", "RLE raw B/cyc", "RLE bound", "RLE % bound",
          "ZVC ratio", "ZVC cyc/32", "ZVC raw B/cyc", "ZVC bound", "ZVC % bound")


def format_table(pairs):
    """Markdown table: one line per (block, configuration, density), RLE then ZVC."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for r, z in pairs:
        cells = [r["dut"], r["elem_bits"], r["lanes"], r["in_bytes"], r["out_bytes"],
                 f"{r['density']:.2f}"]
        for row in (r, z):
            if row is None:
                cells += ["-"] * 5
            else:
                cells += [f"{row['ratio']:.2f}", f"{row['cycles_per_32']:.3f}",
                          f"{row['raw_per_cycle']:.2f}", f"{row['bound']:.2f}",
                          f"{100 * row['efficiency']:.1f}"]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def plot(pairs, path):
    """Raw bytes per cycle vs density, RLE (dots) and ZVC (crosses), bounds as lines."""
    blocks.plot(path, {"RLE": [r for r, _ in pairs], "ZVC": [z for _, z in pairs if z]},
                lambda dut: f"{'encoder' if dut == 'compress' else 'decoder'}: measured "
                            "(marks) vs bound (RLE solid, ZVC dashed)")


def run(args) -> int:
    """Entry point of ``cdma bench rle``."""
    if args.nbytes < 1 or args.chunk_bytes < 0:
        print(f"cdma bench rle: need --bytes >= 1 and --chunk-bytes >= 0 "
              f"(got {args.nbytes}, {args.chunk_bytes})")
        return 2
    sim, sim_text, configs, duts = blocks.selection(args, DEFAULT_CONFIGS)
    codecs = 1 if args.no_zvc else 2
    total = len(configs) * len(duts) * len(args.densities) * codecs
    t0 = time.time()
    def label(row):
        return (f"{row.get('codec', 'zvc')} {row['dut']} E{row['elem_bits']} x{row['lanes']} "
                f"d={row['density']:.2f}")
    with blocks.progress_bar(total, "cdma bench rle", label) as progress:
        rle_rows = measure(configs, duts, args.densities, args.nbytes, args.chunk_bytes,
                           sim, progress)
        zvc_rows = [] if args.no_zvc else _zvc_rows(configs, duts, args.densities, args.nbytes,
                                                    args.chunk_bytes, sim, progress)
    pairs = merge(rle_rows, zvc_rows)
    print(blocks.describe_run(f"RLE{'' if args.no_zvc else ' and ZVC'} blocks", sim_text,
                              args.nbytes, args.chunk_bytes, t0))
    print("bound = min(raw width, encoded width x ratio), raw bytes per cycle; "
          "cyc/32 = cycles per 32 elements\n")
    print(format_table(pairs))
    worst = min(rle_rows, key=lambda r: r["efficiency"])
    print(f"\nRLE worst: {100 * worst['efficiency']:.1f}% of the bound ({worst['dut']} "
          f"E{worst['elem_bits']} x{worst['lanes']} at density {worst['density']})")
    if args.json:
        Path(args.json).write_text(json.dumps(rle_rows + zvc_rows, indent=1))
    if args.plot:
        plot(pairs, args.plot)
        print(f"plot written to {args.plot}")
    return 0
