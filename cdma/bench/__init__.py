"""``cdma bench KIND``: benchmarks that print numbers (never timed tests).

Each kind lives in its own module of this package (:mod:`cdma.bench.golden`:
software codec speed; :mod:`cdma.bench.zvc`, :mod:`cdma.bench.rle`: the codec
blocks under a simulator; :mod:`cdma.bench.engine`: the whole engine) offering ``add_arguments(parser)`` and
``run(args) -> int``; this module only dispatches.
"""
from __future__ import annotations

import importlib

# kind -> (module, help)
KINDS = {
    "golden": ("cdma.bench.golden", "encode/decode MB/s of the golden codecs beside zlib"),
    "zvc": ("cdma.bench.zvc", "cycles per window and bytes/cycle of the ZVC blocks vs density and the bound"),
    "zvce": ("cdma.bench.zvce", "cycles of the ZVCE blocks vs density and the bound (activations)"),
    "engine": ("cdma.bench.engine", "engine raw bytes/cycle per direction vs density, bound and plain DMA"),
    "rle": ("cdma.bench.rle", "cycles of the generated RLE encoder/decoder vs density, beside ZVC"),
}


def add_arguments(p):
    sub = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    for kind, (module, help_text) in KINDS.items():
        sp = sub.add_parser(kind, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(sp)


def run(args) -> int:
    return importlib.import_module(KINDS[args.kind][0]).run(args)
