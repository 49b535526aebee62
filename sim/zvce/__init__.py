"""cocotb benches of the ZVCE compressor, decompressor and their loopback."""
