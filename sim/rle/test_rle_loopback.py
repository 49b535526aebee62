"""cocotb tests of the generated RLE encoder -> decoder loopback (``cdma generate rle-loopback``): the
round-trip tests of ``sim/loopback_tests.py`` (cocotb finds them in this module's namespace),
run with ``golden.rle`` as the reference.
"""
from cdma.sim.loopback_tests import test_round_trip

# cocotb collects the tests from this module's namespace
__all__ = ["test_round_trip"]
