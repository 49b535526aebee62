"""cocotb benches of the ZVC compressor, decompressor and their loopback."""
