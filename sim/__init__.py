"""cocotb benches of the generated Verilog (run through :mod:`cdma.sim.runner`)."""
import warnings

# cocotbext-axi 0.1.28 (pinned: it predates cocotb 2 but runs on it) calls cocotb
# APIs that cocotb 2 deprecates (`Edge(signal)`, `Task.kill()`); the warnings
# say nothing about the design under test and filled every bench's log.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"cocotbext\.axi")
