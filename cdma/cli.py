"""The ``cdma`` command line: one entry point, one subcommand per job."""
from __future__ import annotations

import argparse
import importlib
import sys

# Subcommand name -> (module, help[, add-arguments function, run function]).
# The functions default to add_arguments(parser) and run(args) -> int.  Modules
# are imported only when their subcommand runs, so `cdma analyze` does not pay
# for Amaranth or cocotb imports.
SUBCOMMANDS = {
    "analyze": ("cdma.study.analyze", "compression study of .npy/.npz activations"),
    "bench": ("cdma.bench", "benchmarks: golden codecs, hardware blocks"),
    "generate": ("cdma.hw.generate", "Verilog for a block: zvc-compress, zvc-decompress, ...", "add_generate_arguments", "run_generate"),
    "registers": ("cdma.hw.engine.csr", "the AXI4-Lite register map of engine-axil, as Markdown (docs/REGISTERS.md)",
                  "add_registers_arguments", "run_registers"),
    "synth": ("cdma.eda.synth", "ECP5 area/Fmax and gate count of a generated module (yowasp tools)"),
    "fuzz": ("cdma.fuzz.golden", "mutation fuzzing of the golden frame decoder"),
    "formal": ("cdma.formal", "formal proofs (SymbiYosys): stream rules, round trips, write-range guard"),
    "fuzz-rtl": ("cdma.fuzz.rtl", "RTL fault campaign: decompressors and engine prefetch under Icarus"),
    "demo-data": ("cdma.study.synthetic", "write a folder of synthetic ReLU activations (.npy)"),
    "capture": ("cdma.study.capture", "run an ONNX model, save every activation (.npy + index.json)"),
    "model": ("cdma.study.model", "vDNN offload timeline: speedup of cDMA over uncompressed offload"),
}


def _entry(name):
    module, help_text, *funcs = SUBCOMMANDS[name]
    add_name, run_name = funcs or ("add_arguments", "run")
    return module, help_text, add_name, run_name


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    parser = argparse.ArgumentParser(
        prog="cdma", description="Compressing DMA engine: generate, analyze, bench, synth.")
    parser.add_argument("--version", action="version", version=f"cdma {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        # Arguments are added in main(), for the chosen command only.
        sub.add_parser(name, help=_entry(name)[1], add_help=False)
    return parser


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # Find the subcommand first, then let its module declare its arguments.
    if not argv or argv[0] not in SUBCOMMANDS:
        parser.parse_args(argv)          # prints help, or the error for a bad command
        return 2
    module_name, help_text, add_name, run_name = _entry(argv[0])
    module = importlib.import_module(module_name)
    sub = argparse.ArgumentParser(prog=f"cdma {argv[0]}", description=help_text)
    getattr(module, add_name)(sub)
    args = sub.parse_args(argv[1:])
    try:
        return int(getattr(module, run_name)(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into `head` or similar: not an error of ours.  Point
        # stdout at devnull so the interpreter's final flush stays quiet.
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
