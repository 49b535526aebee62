"""``python -m hw.engine [-o FILE.v] [--param N ...]``: generate the engine, print its ports.

Writes the Verilog of :class:`~hw.engine.CDMAEngine` (default configuration
unless overridden) and prints an interface summary: every port with its
direction and width, grouped by bus.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def interface_summary(component) -> str:
    """Ports of a generated top level grouped by prefix, one line per bus."""
    from amaranth.hdl import Shape
    from amaranth.lib.wiring import In
    groups = {}
    for name, member in component.signature.members.items():
        parts = name.split("_")
        prefix = "_".join(parts[:3] if name.startswith(("m_axis", "s_axis")) else parts[:2])
        width = Shape.cast(member.shape).width
        short = name[len(prefix) + 1:] + (f"[{width}]" if width > 1 else "")
        flows = groups.setdefault(prefix, ([], []))
        flows[0 if member.flow == In else 1].append(short)
    lines = ["  clk, rst (sync domain, active-high synchronous reset)"]
    for prefix, (ins, outs) in groups.items():
        lines.append(f"  {prefix}_*  out: {' '.join(outs)}")
        lines.append(f"  {' ' * len(prefix)}    in: {' '.join(ins)}")
    return "\n".join(lines)


def main(argv=None) -> int:
    from amaranth.back import verilog

    from hw.generate import REGISTRY, build
    entry = REGISTRY["engine"]
    ap = argparse.ArgumentParser(prog="python -m hw.engine", description=__doc__.splitlines()[0])
    for p in entry.params:
        ap.add_argument("--" + p.name.replace("_", "-"), dest=p.name, type=int, default=p.default,
                        help=p.help)
    ap.add_argument("-o", "--output", default="build/cdma_engine.v")
    ap.add_argument("--top", default="cdma_engine")
    args = ap.parse_args(argv)
    params = {p.name: getattr(args, p.name) for p in entry.params}
    try:
        component = build("engine", **params)
        text = verilog.convert(component, name=args.top, emit_src=False,
                               strip_internal_attrs=True)
    except (TypeError, ValueError) as exc:
        print(f"python -m hw.engine: {exc}", file=sys.stderr)
        return 2
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    ep = component.params
    print(f"wrote {out}: module {args.top}, {len(text.splitlines())} lines of Verilog")
    print(f"  elem_bits={ep.elem_bits} mem_bytes={ep.mem_bytes} pcie_bytes={ep.pcie_bytes} "
          f"chunk_bytes={ep.chunk_bytes} addr_width={ep.addr_width} codecs={ep.codecs:#05b} "
          f"fetch_beats={ep.fetch_beats} max_outstanding={ep.max_outstanding} "
          f"write_beats={ep.write_beats} chunk_banks={ep.chunk_banks} "
          f"dec_instances={ep.dec_instances}")
    print(interface_summary(component))
    print("  descriptor (s_axis_desc, 16 B LE): addr u64 | length u32 | tag u8 | codec u8 | "
          "direction u8 (0 offload, 1 prefetch) | 0")
    print("  status (m_axis_status, 8 B LE): length u32 | tag u8 | code u8 | direction u8 | 0"
          "   (codes: docs/FORMAT.md, docs/ENGINE.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
