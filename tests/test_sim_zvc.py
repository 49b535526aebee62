"""cocotb/Icarus regressions of the generated ZVC Verilog (driven through sim.runner).

Each configuration builds in its own directory under ``build/sim/icarus/`` so
``pytest -n auto`` can run them in parallel.  The default set covers element
widths 8/16/32 with 8 and 16 lanes for both blocks and the round trip; wider
sweeps are marked ``slow`` (the 64 KiB throughput check is in
``tests/test_sim_throughput.py``).
"""
from __future__ import annotations

import shutil

import pytest

from cdma.sim.runner import run_cocotb

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")

CONFIGS = [(e, l) for e in (8, 16, 32) for l in (8, 16)]
SLOW_CONFIGS = [(8, 32, None), (32, 4, None), (32, 16, 24), (16, 8, 64), (8, 1, 3)]


@pytest.mark.parametrize("elem_bits, lanes", CONFIGS)
def test_compressor(elem_bits, lanes, sim):
    run_cocotb("zvc-compress", dict(elem_bits=elem_bits, lanes=lanes),
               "cdma.sim.zvc.test_zvc_compress", sim=sim)


@pytest.mark.parametrize("elem_bits, lanes", CONFIGS)
def test_decompressor(elem_bits, lanes, sim):
    run_cocotb("zvc-decompress", dict(elem_bits=elem_bits, lanes=lanes),
               "cdma.sim.zvc.test_zvc_decompress", sim=sim)


@pytest.mark.parametrize("elem_bits, lanes", [(8, 16), (16, 8), (32, 16)])
def test_round_trip(elem_bits, lanes, sim):
    run_cocotb("zvc-loopback", dict(elem_bits=elem_bits, lanes=lanes),
               "cdma.sim.zvc.test_zvc_loopback", sim=sim)


@pytest.mark.slow
@pytest.mark.parametrize("elem_bits, lanes, nbytes", SLOW_CONFIGS)
def test_other_widths(elem_bits, lanes, nbytes, sim):
    run_cocotb("zvc-compress", dict(elem_bits=elem_bits, lanes=lanes, out_bytes=nbytes),
               "cdma.sim.zvc.test_zvc_compress", sim=sim)
    run_cocotb("zvc-decompress", dict(elem_bits=elem_bits, lanes=lanes, in_bytes=nbytes),
               "cdma.sim.zvc.test_zvc_decompress", sim=sim)
    run_cocotb("zvc-loopback", dict(elem_bits=elem_bits, lanes=lanes, mid_bytes=nbytes),
               "cdma.sim.zvc.test_zvc_loopback", sim=sim)
