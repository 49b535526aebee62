"""cocotb tests of the generated ZVC compressor (``cdma generate zvc-compress``): the
encoder tests of ``sim/encoder_tests.py`` (cocotb finds them in this module's namespace),
run with ``golden.zvc`` as the reference.
"""
from cdma.sim.encoder_tests import test_back_to_back, test_payload_classes, test_throughput

# cocotb collects the tests from this module's namespace
__all__ = ["test_payload_classes", "test_back_to_back", "test_throughput"]
