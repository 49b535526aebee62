"""cocotb tests of the generated ZVC decompressor (``cdma generate zvc-decompress``): the
decoder tests of ``sim/decoder_tests.py`` (cocotb finds them in this module's namespace),
run with ``golden.zvc`` as the reference.
"""
from cdma.sim.decoder_tests import (test_back_to_back, test_malformed_recovery,
                                    test_payload_classes, test_throughput)

# cocotb collects the tests from this module's namespace
__all__ = ["test_payload_classes", "test_malformed_recovery", "test_back_to_back",
           "test_throughput"]
