"""cocotb/Icarus regressions of the generated ZVCE Verilog (driven through sim.runner).

Each configuration builds in its own directory under ``build/sim/icarus/`` so
``pytest -n auto`` can run them in parallel.  The default set is the two
element widths with 4 and 16 lanes for both blocks and one round trip (one
compressed-side width other than the raw one among them); wider sweeps are
marked ``slow``.
"""
from __future__ import annotations

import shutil

import pytest

from cdma.sim.runner import run_cocotb

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")

CONFIGS = [(32, 4, None), (16, 16, 24)]
SLOW_CONFIGS = [(32, 16, None), (16, 4, 8), (32, 1, 3), (16, 32, None), (32, 8, 64)]


@pytest.mark.parametrize("elem_bits, lanes, nbytes", CONFIGS)
def test_compressor(elem_bits, lanes, nbytes, sim):
    run_cocotb("zvce-compress", dict(elem_bits=elem_bits, lanes=lanes, out_bytes=nbytes),
               "cdma.sim.zvce.test_zvce_compress", sim=sim,
               testcase=["test_payload_classes", "test_tables", "test_back_to_back"])


@pytest.mark.parametrize("elem_bits, lanes, nbytes", CONFIGS)
def test_decompressor(elem_bits, lanes, nbytes, sim):
    run_cocotb("zvce-decompress", dict(elem_bits=elem_bits, lanes=lanes, in_bytes=nbytes),
               "cdma.sim.zvce.test_zvce_decompress", sim=sim,
               testcase=["test_payload_classes", "test_tables", "test_malformed_recovery",
                         "test_back_to_back"])


def test_round_trip(sim):
    run_cocotb("zvce-loopback", dict(elem_bits=32, lanes=8, mid_bytes=20),
               "cdma.sim.zvce.test_zvce_loopback", sim=sim)


@pytest.mark.slow
@pytest.mark.parametrize("elem_bits, lanes, nbytes", SLOW_CONFIGS)
def test_other_widths(elem_bits, lanes, nbytes, sim):
    run_cocotb("zvce-compress", dict(elem_bits=elem_bits, lanes=lanes, out_bytes=nbytes),
               "cdma.sim.zvce.test_zvce_compress", sim=sim)
    run_cocotb("zvce-decompress", dict(elem_bits=elem_bits, lanes=lanes, in_bytes=nbytes),
               "cdma.sim.zvce.test_zvce_decompress", sim=sim)
