# amaranth: UnusedElaboratable=no
"""Verilog generator: a registry of generatable top-level modules.

Each entry names a factory that returns an Amaranth component with AXI-named
ports (usually an :class:`cdma.hw.axis.AXIStreamTop` around a ``cdma.hw`` block)
and the integer parameters it takes.  Adding a module is one :func:`register` call::

    register("my-block", "mypackage.blocks:my_block_top", "my block, AXI4-Stream ports",
             Param("elem_bits", 32, "element width: 8, 16 or 32"),
             Param("lanes", 16, "elements per input beat"))

Factories are given as ``"module:function"`` strings and imported only when
used.  :func:`generate_verilog` returns the Verilog text; the ``cdma generate``
subcommand (the one way to write Verilog from the command line) is
:func:`add_generate_arguments` + :func:`run_generate`.
"""
# (The pragma above: a block built here with parameters it refuses is never
# elaborated; the TypeError/ValueError says why, and Amaranth's "never used"
# warning would only add noise to `cdma generate`'s message.)
from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
from pathlib import Path
from typing import Callable

__all__ = ["Param", "Generatable", "REGISTRY", "register", "build", "generate_verilog",
           "add_generate_arguments", "run_generate", "interface_summary"]


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
    """A registered module: its factory, parameters, description and the notes
    ``cdma generate`` prints under its port summary."""

    name: str
    factory: str | Callable
    help: str
    params: tuple
    notes: str = ""

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


def register(name: str, factory, help: str, *params: Param, notes: str = "") -> Generatable:
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
    notes : str, optional
        Lines printed under the port summary when ``cdma generate`` writes a file
        (e.g. the layout of a descriptor).

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
    entry = Generatable(name, factory, help, tuple(params), notes)
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


def _convert(component, name: str, top: str | None) -> str:
    from amaranth.back import verilog
    return verilog.convert(component, name=top or default_top_name(name),
                           emit_src=False, strip_internal_attrs=True)


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
    return _convert(build(name, **params), name, top)


def interface_summary(component) -> str:
    """Ports of a generated top level, one line per bus and direction.

    A bus is the ports sharing a name prefix up to their last ``_`` (``m_axi_araddr``
    -> ``m_axi``, ``m_axis_c2h_tdata`` -> ``m_axis_c2h``); ports that share it with
    no other port (``error``, ``error_code``) are listed by full name.
    """
    from amaranth.hdl import Shape
    from amaranth.lib.wiring import In
    members = component.signature.members
    prefixes = {name: name.rpartition("_")[0] for name in members}
    count = {}
    for prefix in prefixes.values():
        count[prefix] = count.get(prefix, 0) + 1
    groups = {}
    for name, member in members.items():
        prefix = prefixes[name]
        bus = prefix if prefix and count[prefix] > 1 and prefix not in members else ""
        width = Shape.cast(member.shape).width
        label = (name[len(bus) + 1:] if bus else name) + (f"[{width}]" if width > 1 else "")
        groups.setdefault(bus, ([], []))[0 if member.flow == In else 1].append(label)
    lines = ["  clk, rst (sync domain, active-high synchronous reset)"]
    for bus, (ins, outs) in groups.items():
        for flow, labels in (("out", outs), ("in", ins)):
            if labels:
                lines.append(f"  {bus + '_*' if bus else 'other':<14} {flow + ':':<4} "
                             f"{' '.join(labels)}")
    return "\n".join(lines)


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
                        help="output Verilog file (default: standard output); with a file, "
                        "its ports are summarized on standard error")


def run_generate(args) -> int:
    """Write the Verilog chosen by :func:`add_generate_arguments`' arguments."""
    entry = _entry(args.module)
    params = {p.name: getattr(args, p.name) for p in entry.params}
    try:
        component = build(args.module, **params)
        text = _convert(component, args.module, args.top)
    except (TypeError, ValueError) as exc:
        print(f"cdma generate {args.module}: {exc}", file=sys.stderr)
        return 2
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    # Derived parameters (None here) as the component resolved them, when it keeps them.
    resolved = getattr(component, "params", None)
    shown = {k: getattr(resolved, k, v) for k, v in params.items()}
    print(f"wrote {out}: module {args.top or default_top_name(args.module)}, "
          f"{len(text.splitlines())} lines of Verilog ({args.module}, "
          + ", ".join(f"{k}={v}" for k, v in shown.items()) + ")", file=sys.stderr)
    print(interface_summary(component), file=sys.stderr)
    if entry.notes:
        print(entry.notes, file=sys.stderr)
    return 0


# ---- the codec blocks (ZVC and RLE) ----------------------------------------------------

def _codec_top(block: str, beat_param: str):
    """Generator factory of codec block ``block`` (``"zvc:ZVCCompressor"``) with AXI4-Stream
    ports: ``s_axis``/``m_axis``, and on a block with a ``count`` input (decoders,
    loopbacks) ``s_count``, ``error`` and ``error_code`` (``m_axis_tuser`` marks the
    beat that closes a malformed chunk).  ``beat_param`` (the coded side's beat
    bytes) defaults to the raw width, ``lanes * elem_bits / 8``."""
    def factory(elem_bits=32, lanes=16, **beat):
        from .axis import AXIStreamTop
        module, _, name = block.partition(":")
        cls = getattr(importlib.import_module(f"{__package__}.{module}"), name)
        width = beat.get(beat_param)
        dut = cls(elem_bits, lanes, width if width is not None else lanes * elem_bits // 8)
        if "count" not in dut.signature.members:
            return AXIStreamTop(dut, {"i": "s_axis", "o": "m_axis"})
        return AXIStreamTop(dut, {"i": "s_axis", "count": "s_count", "o": "m_axis"},
                            {"error": "error", "error_code": "error_code"})
    return factory


def _register_codec(name, block, help_text, beat_param, beat_help):
    register(name, _codec_top(block, beat_param), help_text,
             Param("elem_bits", 32, "element width: 8, 16 or 32"),
             Param("lanes", 16, "elements per raw beat: a power of two, 1..32"),
             Param(beat_param, None, beat_help))


_register_codec("zvc-compress", "zvc:ZVCCompressor",
                "ZVC compressor: raw elements on s_axis, ZVC bytes on m_axis",
                "out_bytes", "bytes per m_axis beat (default: input width)")
_register_codec("zvc-decompress", "zvc:ZVCDecompressor",
                "ZVC decompressor: ZVC bytes on s_axis + element count on s_count, elements on "
                "m_axis", "in_bytes", "bytes per s_axis beat (default: output width)")
_register_codec("zvc-loopback", "zvc:ZVCLoopback",
                "ZVC compressor into decompressor (round-trip test top)",
                "mid_bytes", "bytes per compressed beat (default: raw width)")
_register_codec("rle-encode", "rle:RLEEncoder",
                "RLE encoder: raw elements on s_axis, RLE tokens on m_axis",
                "out_bytes", "bytes per m_axis beat (default: input width)")
_register_codec("rle-decode", "rle:RLEDecoder",
                "RLE decoder: RLE bytes on s_axis + element count on s_count, elements on m_axis",
                "in_bytes", "bytes per s_axis beat (default: output width)")
_register_codec("rle-loopback", "rle:RLELoopback",
                "RLE encoder into decoder (round-trip test top)",
                "mid_bytes", "bytes per encoded beat (default: raw width)")


def _zvce_top(block: str, beat_param: str):
    """Generator factory of a ZVCE block: the codec tops' ports plus ``code_table[127:0]``
    (``golden.zvce.CodeTable.pack()``, byte 0 in bits 7:0), sampled once per chunk."""
    def factory(elem_bits=32, lanes=16, **beat):
        from .axis import AXIStreamTop
        from . import zvce
        width = beat.get(beat_param)
        dut = getattr(zvce, block)(elem_bits, lanes, width if width is not None
                                   else lanes * elem_bits // 8)
        if "count" not in dut.signature.members:
            return AXIStreamTop(dut, {"i": "s_axis", "o": "m_axis"}, {"code_table": "code_table"})
        return AXIStreamTop(dut, {"i": "s_axis", "count": "s_count", "o": "m_axis"},
                            {"code_table": "code_table", "error": "error",
                             "error_code": "error_code"})
    return factory


for _name, _block, _help, _beat, _beat_help in (
        ("zvce-compress", "ZVCECompressor",
         "ZVCE compressor: raw elements on s_axis, code table on code_table, ZVCE bytes on m_axis",
         "out_bytes", "bytes per m_axis beat (default: input width)"),
        ("zvce-decompress", "ZVCEDecompressor",
         "ZVCE decompressor: ZVCE bytes on s_axis + element count on s_count + code table, "
         "elements on m_axis", "in_bytes", "bytes per s_axis beat (default: output width)"),
        ("zvce-loopback", "ZVCELoopback",
         "ZVCE compressor into decompressor (round-trip test top)",
         "mid_bytes", "bytes per compressed beat (default: raw width)")):
    register(_name, _zvce_top(_block, _beat), _help,
             Param("elem_bits", 32, "element width: 16 or 32 (8-bit elements: use zvc)"),
             Param("lanes", 16, "elements per raw beat: a power of two, 1..32"),
             Param(_beat, None, _beat_help),
             notes="  code_table: the 16-byte code table (golden.zvce.CodeTable.pack(), byte 0 in "
                   "bits 7:0), sampled with each chunk's first beat (compressor) or count "
                   "(decompressor)")


def _engine_params():
    # The engine's options are EngineParams' fields: defaults and help written once.
    from .engine.params import EngineParams
    return tuple(Param(f.name, f.default, f.metadata["help"])
                 for f in dataclasses.fields(EngineParams))


register("engine", "cdma.hw.engine:engine_top",
         "cDMA engine: m_axi memory side, m_axis_c2h / s_axis_h2c PCIe side, descriptors/status",
         *_engine_params(),
         notes="  descriptor (s_axis_desc, 16 B LE): addr u64 | length u32 | tag u8 | codec u8 | "
               "direction u8 (0 offload, 1 prefetch) | 0\n"
               "  status (m_axis_status, 8 B LE): length u32 | tag u8 | code u8 | direction u8 | 0"
               "   (codes: docs/FORMAT.md, docs/ENGINE.md)")


_CSR_PARAMS = (Param("sub_depth", 4, "submission queue slots of the register front end (1..255)"),
               Param("status_depth", 16, "status queue slots of the register front end (1..255)"))

register("engine-axil", "cdma.hw.engine:engine_axil_top",
         "cDMA engine behind an AXI4-Lite register front end (s_axil_*, irq; docs/REGISTERS.md)",
         *_engine_params(), *_CSR_PARAMS,
         notes="  registers (s_axil, 32-bit, 8-bit addresses): docs/REGISTERS.md "
               "(`cdma registers` prints the map)")
register("engine-csr", "cdma.hw.engine:engine_csr_top",
         "the engine's AXI4-Lite register front end alone: s_axil_*, m_axis_desc, "
         "s_axis_status, add_* byte counts, irq", *_engine_params(), *_CSR_PARAMS)
