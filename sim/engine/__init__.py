"""cocotb benches of the cDMA engine (``CDMAEngine``) under Icarus."""
