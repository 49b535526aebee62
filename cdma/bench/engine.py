"""``cdma bench engine``: cycle-accurate throughput of the generated engine under Icarus.

For one configuration (default: the generator's, fp32, ``mem_bytes`` and
``pcie_bytes`` 16, 4 KiB chunks) the bench generates the engine's Verilog, and
for each density moves one transfer of ``--kib`` KiB through it in both
directions, compressed (ZVC by
default; RLE, or ZVCE, of ReLU-like activations that the engine's code table
fits) and uncompressed (codec raw: a plain DMA of the same widths), with a
memory that answers reads after ``--latency`` cycles.  It prints raw bytes per
cycle beside the bound ``min(mem_bytes, pcie_bytes x ratio)`` (ratio = raw bytes /
frame bytes, headers included) and the speedup over the uncompressed DMA.
Every transfer is checked against the golden model on the way.
"""
from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path

__all__ = ["add_arguments", "run", "measure", "BenchFailed"]

class BenchFailed(RuntimeError):
    """The bench's cocotb test failed (a point below ``min_share`` of its bound, or a
    transfer that differs from golden); ``rows`` holds the points measured."""

    def __init__(self, message, rows):
        super().__init__(message)
        self.rows = rows


def measure(densities, kib=256, elem_bits=32, mem_bytes=None, pcie_bytes=None, chunk_bytes=4096,
            codec="zvc", latency=24, sim="icarus", *, baseline=True, min_share=0.95,
            dec_instances=None):
    """Rows (dicts) of the engine bench: one per (direction, codec, density).

    ``mem_bytes``/``pcie_bytes`` None take the generator's defaults
    (:class:`~cdma.hw.engine.params.EngineParams`); ``baseline`` adds the
    uncompressed DMA (codec raw) at each density;
    ``dec_instances`` (None: the generator's default) sets the prefetch
    decompressors per codec.  The
    cocotb test fails when a point reaches less than ``min_share`` of its bound;
    then :class:`BenchFailed` is raised with the rows (outside pytest; under
    pytest the cocotb runner fails the calling test itself).
    """
    from cocotb_tools.check_results import get_results

    from cdma.hw.engine.params import EngineParams
    from cdma.sim.runner import run_cocotb
    default = EngineParams()
    mem_bytes = default.mem_bytes if mem_bytes is None else mem_bytes
    pcie_bytes = default.pcie_bytes if pcie_bytes is None else pcie_bytes
    params = dict(elem_bits=elem_bits, mem_bytes=mem_bytes, pcie_bytes=pcie_bytes,
                  chunk_bytes=chunk_bytes)
    if dec_instances is not None:
        params["dec_instances"] = dec_instances
    if codec == "zvce":
        # (ZVCE: built in beside the other codecs)
        params["codecs"] = 0b1111
    # Parameters at the generator's defaults are left out of the build key, so the
    # bench shares its build directory with tests/test_sim_engine.py.
    params = {k: v for k, v in params.items() if k == "elem_bits" or v != getattr(default, k)}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.jsonl"
        env = {"CDMA_BENCH_DENSITIES": ",".join(str(d) for d in densities),
               "CDMA_BENCH_BYTES": str(kib << 10),
               "CDMA_BENCH_CODECS": f"{codec},raw" if baseline else codec,
               "CDMA_BENCH_OUT": str(out), "CDMA_BENCH_LATENCY": str(latency),
               "CDMA_BENCH_MIN_SHARE": str(min_share)}
        results = run_cocotb("engine", params, "cdma.sim.engine.test_engine",
                             testcase="test_throughput", extra_env=env, sim=sim, check=False)
        rows = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
        ntests, nfailed = get_results(results)
        if nfailed or not ntests:
            raise BenchFailed(f"the engine bench failed ({params}); see {results}", rows)
        return rows


def table(rows):
    """Text table: per direction and density, compressed vs uncompressed and the bound."""
    lines = [f"{'direction':<10}{'density':>8}{'ratio':>7}{'B/cycle':>9}{'bound':>8}{'% bound':>9}"
             f"{'raw DMA':>9}{'speedup':>9}"]
    for direction in ("offload", "prefetch"):
        comp = [r for r in rows if r["direction"] == direction and r["codec"] != "raw"]
        for r in comp:
            base = next(b for b in rows if b["direction"] == direction and b["codec"] == "raw"
                        and b["density"] == r["density"])
            lines.append(f"{direction:<10}{r['density']:>8.2f}{r['ratio']:>7.2f}"
                         f"{r['raw_per_cycle']:>9.2f}{r['bound']:>8.2f}"
                         f"{100 * r['efficiency']:>8.1f}%{base['raw_per_cycle']:>9.2f}"
                         f"{r['raw_per_cycle'] / base['raw_per_cycle']:>8.2f}x")
    return "\n".join(lines)


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, direction in zip(axes, ("offload", "prefetch")):
        comp = sorted((r for r in rows if r["direction"] == direction and r["codec"] != "raw"),
                      key=lambda r: r["density"])
        raw = sorted((r for r in rows if r["direction"] == direction and r["codec"] == "raw"),
                     key=lambda r: r["density"])
        d = [r["density"] for r in comp]
        ax.plot(d, [r["bound"] for r in comp], "k--", label="bound min(Wm, Wp x ratio)")
        ax.plot(d, [r["raw_per_cycle"] for r in comp], "o-", label=f"{comp[0]['codec']} engine")
        ax.plot([r["density"] for r in raw], [r["raw_per_cycle"] for r in raw], "s-",
                label="uncompressed DMA")
        ax.set_title(direction)
        ax.set_xlabel("density (nonzero fraction)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("raw bytes / cycle")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def add_arguments(p):
    from cdma.hw.engine.params import EngineParams
    default = EngineParams()
    p.add_argument("--densities", default="0.1,0.5,0.9",
                   help="comma-separated nonzero fractions (default %(default)s)")
    p.add_argument("--kib", type=int, default=256, help="transfer size in KiB (default %(default)s)")
    p.add_argument("--elem-bits", type=int, default=32, help="element width (default %(default)s)")
    p.add_argument("--mem-bytes", type=int, default=default.mem_bytes,
                   help="AXI4 bytes/beat (default %(default)s)")
    p.add_argument("--pcie-bytes", type=int, default=default.pcie_bytes,
                   help="AXI4-Stream bytes/beat (default %(default)s)")
    p.add_argument("--chunk-bytes", type=int, default=4096, help="chunk size (default %(default)s)")
    p.add_argument("--dec-instances", type=int, default=None, choices=(1, 2),
                   help="prefetch decompressors per codec (default: the generator's, "
                        "see `cdma generate engine --help`)")
    p.add_argument("--codec", default="zvc", choices=("zvc", "rle", "zvce"),
                   help="compressing codec (default %(default)s; zvce: of ReLU-like "
                        "activations, the engine built with every codec)")
    p.add_argument("--latency", type=int, default=24,
                   help="memory read latency in cycles (default %(default)s)")
    p.add_argument("--min-share", type=float, default=0.95, metavar="S",
                   help="fail (exit 1) when a point reaches less than this share of its "
                        "bound (default %(default)s, the claim for 256 KiB transfers)")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    p.add_argument("--plot", default=None, nargs="?", const="build/bench_engine.png",
                   help="save a plot (default path %(const)s)")


def run(args) -> int:
    try:
        densities = [float(d) for d in args.densities.split(",")]
    except ValueError:
        print(f"cdma bench engine: --densities must be numbers, not {args.densities!r}")
        return 2
    if args.kib < 1 or not all(0 <= d <= 1 for d in densities):
        print(f"cdma bench engine: need --kib >= 1 and densities in [0, 1] "
              f"(got {args.kib}, {densities})")
        return 2
    if not 0 <= args.min_share <= 1:
        print(f"cdma bench engine: --min-share must be in [0, 1], not {args.min_share!r}")
        return 2
    t0 = time.time()
    failed = None
    try:
        rows = measure(densities, args.kib, args.elem_bits, args.mem_bytes, args.pcie_bytes,
                       args.chunk_bytes, args.codec, args.latency, min_share=args.min_share,
                       dec_instances=args.dec_instances)
    except BenchFailed as exc:
        rows, failed = exc.rows, exc
    dec = "" if args.dec_instances is None else f", {args.dec_instances} decompressor(s) per codec"
    print(f"cDMA engine, Icarus: E={args.elem_bits}, mem_bytes={args.mem_bytes}, "
          f"pcie_bytes={args.pcie_bytes}{dec}, chunk {args.chunk_bytes} B, {args.kib} KiB transfers, "
          f"read latency {args.latency} cycles; {platform.machine()}, "
          f"{time.time() - t0:.0f} s")
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    if args.plot and rows:
        os.makedirs(os.path.dirname(args.plot) or ".", exist_ok=True)
        plot(rows, args.plot)
        print(f"plot: {args.plot}")
    if failed is not None:
        low = [r for r in rows if r["efficiency"] < args.min_share]
        for r in low:
            print(f"FAIL: {r['direction']} {r['codec']} density {r['density']:.2f}: "
                  f"{100 * r['efficiency']:.1f}% of the bound, below "
                  f"{100 * args.min_share:g}%")
        if not low:
            print(f"FAIL: {failed}")
        return 1
    return 0
