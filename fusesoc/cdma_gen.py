#!/usr/bin/env python3
"""FuseSoC generator of the cDMA core (``cdma.core``): runs ``cdma generate``.

FuseSoC calls it with one argument, the generator input (YAML: ``files_root``,
``vlnv``, ``parameters``), in the folder where the generated files belong.
Parameters: ``module`` (a ``cdma generate`` module, default ``engine-axil``),
``top`` (the Verilog module name) and that module's integer options under their
``cdma generate`` names with ``_`` (``elem_bits``, ``mem_bytes``, ...).  It
writes ``<top>.v``, ``cdma_regs.vh`` (the register offsets as defines, for
testbenches), the project's Verilator lint waivers and a core file that lists
them.

The Python that runs it needs the ``cdma`` package: when the ``python3`` that
FuseSoC found cannot import it, the script restarts under the checkout's own
``.venv/bin/python`` (what ``make`` creates).
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _reexec_with_project_python():
    venv_python = REPO / ".venv" / "bin" / "python"
    if importlib.util.find_spec("cdma") is None or importlib.util.find_spec("yaml") is None:
        # (a venv's python is a symlink to the base interpreter: compare prefixes)
        if venv_python.exists() and Path(sys.prefix) != REPO / ".venv":
            os.execv(str(venv_python), [str(venv_python), __file__, *sys.argv[1:]])
        sys.exit(f"cdma_gen.py: {sys.executable} cannot import cdma and yaml; run `make` in "
                 f"{REPO} (it creates .venv) or install cdma into this Python")


def main(argv):
    _reexec_with_project_python()
    import yaml
    from cdma.eda.tools import LINT_WAIVERS
    from cdma.hw.engine.csr import registers_verilog_header

    if len(argv) != 2:
        sys.exit("usage: cdma_gen.py GENERATOR_INPUT.yml")
    config = yaml.safe_load(Path(argv[1]).read_text())
    params = dict(config.get("parameters") or {})
    module = params.pop("module", "engine-axil")
    top = params.pop("top", module.replace("-", "_"))
    cmd = [sys.executable, "-m", "cdma.cli", "generate", module, "--top", top, "-o", f"{top}.v"]
    for name, value in params.items():
        cmd += ["--" + name.replace("_", "-"), str(int(value))]
    print(" ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True)
    waivers = Path("verilator_lint.vlt")
    waivers.write_text(Path(LINT_WAIVERS).read_text())
    header = Path("cdma_regs.vh")
    header.write_text(registers_verilog_header() + "\n")
    core = {
        "name": config["vlnv"],
        "description": f"cdma generate {module} (generated)",
        "filesets": {"rtl": {"files": [{f"{top}.v": {"file_type": "verilogSource"}},
                                       {header.name: {"file_type": "verilogSource",
                                                      "is_include_file": True}}]},
                     "waivers": {"files": [{waivers.name: {"file_type": "vlt"}}]}},
        "targets": {"default": {"filesets": ["rtl", "waivers"]}},
    }
    Path(f"{top}.core").write_text("CAPI=2:\n" + yaml.safe_dump(core, sort_keys=False))


if __name__ == "__main__":
    main(sys.argv)
