"""Verilog generator: a registry of generatable top-level modules.

Each entry names a factory that returns an Amaranth component with AXI-named
ports (usually an :class:`hw.axis.AXIStreamTop` around a ``hw`` block) and the
integer parameters it takes.  Adding a module is one :func:`register` call::

    register("rle-encode", "hw.rle:rle_encode_top", "RLE encoder, AXI4-Stream ports",
             Param("elem_bits", 32, "element width: 8, 16 or 32"),
             Param("lanes", 16, "elements per input beat"))

Factories are given as ``"module:function"`` strings and imported only when
used.  :func:`generate_verilog` returns the Verilog text; the ``cdma generate``
subcommand is :func:`add_generate_arguments` + :func:`run_generate` (also
runnable as ``python -m hw.generate``).
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
from typing import Callable

__all__ = ["Param", "Generatable", "REGISTRY", "register", "build", "generate_verilog",
           "add_generate_arguments", "run_generate", "zvc_compress_top", "zvc_decompress_top",
           "zvc_loopback_top"]


@dataclasses.dataclass(frozen=True)
class Param:
    """One integer parameter of a generatable module.

    Attributes
    ----------
    name : str
        Keyword argument of the factory (``--name-with-dashes`` on the command line).
    default : int or None
        Default value; ``None`` lets the factory derive it from the others.
    help : str
        One line for ``--help``.
    """

    name: str
    default: int | None = None
    help: str = ""


@dataclasses.dataclass(frozen=True)
class Generatable:
    """A registered module: its factory, parameters and description."""

    name: str
    factory: str | Callable
    help: str
    params: tuple

    def resolve(self) -> Callable:
        """The factory callable (imports ``"module:function"`` on first use)."""
        if callable(self.factory):
            return self.factory
        module, _, func = self.factory.partition(":")
        return getattr(importlib.import_module(module), func)

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}


#: Registered modules, by name.
REGISTRY: dict[str, Generatable] = {}


def register(name: str, factory, help: str, *params: Param) -> Generatable:
    """Add a generatable module to :data:`REGISTRY`.

    Parameters
    ----------
    name : str
        Command-line name, e.g. ``"zvc-compress"``.
    factory : str or callable
        ``"module:function"`` or a callable taking the parameters as keyword
        arguments and returning an Amaranth component with AXI-named ports.
    help : str
        One line for ``cdma generate --help``.
    *params : Param
        The factory's parameters.

    Raises
    ------
    TypeError
        ``factory`` is neither callable nor a ``"module:function"`` string, or a
        parameter is not a :class:`Param`.
    ValueError
        ``name`` is already registered.
    """
    if name in REGISTRY:
        raise ValueError(f"module {name!r} is already registered")
    if not callable(factory) and not (isinstance(factory, str) and ":" in factory):
        raise TypeError(f"factory must be a callable or a 'module:function' string, "
                        f"not {factory!r}")
    for p in params:
        if not isinstance(p, Param):
            raise TypeError(f"parameters must be Param instances, not {p!r}")
    entry = Generatable(name, factory, help, tuple(params))
    REGISTRY[name] = entry
    return entry


def _entry(name) -> Generatable:
    if name not in REGISTRY:
        raise ValueError(f"unknown module {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def build(name: str, **params):
    """Instantiate registered module ``name`` with ``params`` over its defaults.

    Raises
    ------
    ValueError
        Unknown module or parameter (the factory raises for bad values).
    """
    entry = _entry(name)
    args = entry.defaults()
    for key in params:
        if key not in args:
            raise ValueError(f"module {name!r} has no parameter {key!r}; "
                             f"it takes {', '.join(args) or 'none'}")
    args.update({k: v for k, v in params.items() if v is not None})
    return entry.resolve()(**args)


def default_top_name(name: str) -> str:
    """Verilog module name used when none is given: ``zvc-compress`` -> ``zvc_compress``."""
    return name.replace("-", "_")


def generate_verilog(name: str, *, top: str | None = None, **params) -> str:
    """Verilog text of registered module ``name``.

    Parameters
    ----------
    name : str
        Registered module name (see :data:`REGISTRY`).
    top : str, optional
        Verilog module name (default: ``name`` with ``-`` replaced by ``_``).
    **params
        The module's parameters; omitted ones take their defaults.
    """
    from amaranth.back import verilog
    component = build(name, **params)
    return verilog.convert(component, name=top or default_top_name(name),
                           emit_src=False, strip_internal_attrs=True)


# ---- command line -----------------------------------------------------------------

def add_generate_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``cdma generate MODULE [--param N ...] [--top NAME] -o FILE``."""
    sub = parser.add_subparsers(dest="module", metavar="MODULE", required=True)
    for entry in REGISTRY.values():
        sp = sub.add_parser(entry.name, help=entry.help, description=entry.help)
        for p in entry.params:
            default = "derived" if p.default is None else p.default
            sp.add_argument("--" + p.name.replace("_", "-"), dest=p.name, type=int,
                            default=p.default, metavar="N", help=f"{p.help} (default: {default})")
        sp.add_argument("--top", default=None, help="Verilog module name "
                        f"(default: {default_top_name(entry.name)})")
        sp.add_argument("-o", "--output", default="-",
                        help="output Verilog file (default: standard output)")


def run_generate(args) -> int:
    """Write the Verilog chosen by :func:`add_generate_arguments`' arguments."""
    entry = _entry(args.module)
    params = {p.name: getattr(args, p.name) for p in entry.params}
    try:
        text = generate_verilog(args.module, top=args.top, **params)
    except (TypeError, ValueError) as exc:
        print(f"cdma generate {args.module}: {exc}", file=sys.stderr)
        return 2
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w") as f:
            f.write(text)
        print(f"wrote {args.output} ({args.module}, "
              + ", ".join(f"{k}={v}" for k, v in params.items()) + ")", file=sys.stderr)
    return 0


# ---- the ZVC blocks ---------------------------------------------------------------

def _beat_bytes(elem_bits, lanes, value):
    return value if value is not None else lanes * elem_bits // 8


def zvc_compress_top(elem_bits=32, lanes=16, out_bytes=None):
    """:class:`hw.zvc.ZVCCompressor` with ``s_axis``/``m_axis`` ports.

    ``out_bytes`` defaults to the input width, ``lanes * elem_bits / 8``.
    """
    from .axis import AXIStreamTop
    from .zvc import ZVCCompressor
    dut = ZVCCompressor(elem_bits, lanes, _beat_bytes(elem_bits, lanes, out_bytes))
    return AXIStreamTop(dut, {"i": "s_axis", "o": "m_axis"})


def zvc_decompress_top(elem_bits=32, lanes=16, in_bytes=None):
    """:class:`hw.zvc.ZVCDecompressor` with ``s_axis``, ``s_count``, ``m_axis`` ports.

    Also ``error`` (one-cycle pulse) and ``error_code``; ``m_axis_tuser`` marks
    the null beat that closes a malformed chunk.  ``in_bytes`` defaults to the
    output width, ``lanes * elem_bits / 8``.
    """
    from .axis import AXIStreamTop
    from .zvc import ZVCDecompressor
    dut = ZVCDecompressor(elem_bits, lanes, _beat_bytes(elem_bits, lanes, in_bytes))
    return AXIStreamTop(dut, {"i": "s_axis", "count": "s_count", "o": "m_axis"},
                        {"error": "error", "error_code": "error_code"})


def zvc_loopback_top(elem_bits=32, lanes=16, mid_bytes=None):
    """:class:`hw.zvc.ZVCLoopback` (compressor into decompressor) with AXI ports.

    Ports as :func:`zvc_decompress_top`, but ``s_axis`` takes raw elements.
    ``mid_bytes`` defaults to the raw width, ``lanes * elem_bits / 8``.
    """
    from .axis import AXIStreamTop
    from .zvc import ZVCLoopback
    dut = ZVCLoopback(elem_bits, lanes, _beat_bytes(elem_bits, lanes, mid_bytes))
    return AXIStreamTop(dut, {"i": "s_axis", "count": "s_count", "o": "m_axis"},
                        {"error": "error", "error_code": "error_code"})


_ZVC_PARAMS = (Param("elem_bits", 32, "element width: 8, 16 or 32"),
               Param("lanes", 16, "elements per raw beat: a power of two, 1..32"))
register("zvc-compress", zvc_compress_top,
         "ZVC compressor: raw elements on s_axis, ZVC bytes on m_axis",
         *_ZVC_PARAMS, Param("out_bytes", None, "bytes per m_axis beat (default: input width)"))
register("zvc-decompress", zvc_decompress_top,
         "ZVC decompressor: ZVC bytes on s_axis + element count on s_count, elements on m_axis",
         *_ZVC_PARAMS, Param("in_bytes", None, "bytes per s_axis beat (default: output width)"))
register("zvc-loopback", zvc_loopback_top,
         "ZVC compressor into decompressor (round-trip test top)",
         *_ZVC_PARAMS, Param("mid_bytes", None, "bytes per compressed beat (default: raw width)"))

register("rle-encode", "hw.rle:rle_encode_top",
         "RLE encoder: raw elements on s_axis, RLE tokens on m_axis",
         *_ZVC_PARAMS, Param("out_bytes", None, "bytes per m_axis beat (default: input width)"))
register("rle-decode", "hw.rle:rle_decode_top",
         "RLE decoder: RLE bytes on s_axis + element count on s_count, elements on m_axis",
         *_ZVC_PARAMS, Param("in_bytes", None, "bytes per s_axis beat (default: output width)"))
register("rle-loopback", "hw.rle:rle_loopback_top",
         "RLE encoder into decoder (round-trip test top)",
         *_ZVC_PARAMS, Param("mid_bytes", None, "bytes per encoded beat (default: raw width)"))

register("engine", "hw.engine:engine_top",
         "cDMA engine: m_axi memory side, m_axis_c2h / s_axis_h2c PCIe side, descriptors/status",
         Param("elem_bits", 32, "element width: 8, 16 or 32"),
         Param("mem_bytes", 64, "AXI4 data bytes per beat (Wm)"),
         Param("pcie_bytes", 32, "AXI4-Stream bytes per beat on the PCIe side (Wp)"),
         Param("chunk_bytes", 4096, "raw bytes per offload chunk"),
         Param("addr_width", 32, "AXI address bits"),
         Param("codecs", 7, "bit mask of codecs built in: 1 raw, 2 ZVC, 4 RLE"),
         Param("fetch_beats", None, "fetch buffer beats (default: 4 longest bursts)"),
         Param("max_outstanding", 8, "AXI read bursts in flight"),
         Param("write_beats", None, "write buffer beats (default: 2 longest bursts)"),
         Param("chunk_banks", 4, "offload chunk buffer banks: 2 or 4"),
         Param("dec_instances", 2, "prefetch decompressors per codec: 1 or 2"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hw.generate",
                                     description="Generate Verilog for a cDMA block.")
    add_generate_arguments(parser)
    return run_generate(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
