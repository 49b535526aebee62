"""cocotb round trip of the generated ZVC loopback (``cdma generate zvc-loopback``):
the tests of ``sim/loopback_tests.py`` (cocotb finds them in this module's
namespace), run with ``golden.zvc`` as the reference.
"""
from cdma.sim.loopback_tests import test_round_trip

# cocotb collects the tests from this module's namespace
__all__ = ["test_round_trip"]
