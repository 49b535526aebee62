"""cocotb benches of the generated RLE encoder, decoder and their round trip."""
