"""cocotb round trip of the generated RLE loopback (``cdma generate rle-loopback``):
the tests of ``sim/loopback_tests.py`` (cocotb finds them in this module's
namespace), run with ``golden.rle`` as the reference.
"""
from cdma.sim.loopback_tests import test_round_trip

# cocotb collects the tests from this module's namespace
__all__ = ["test_round_trip"]
