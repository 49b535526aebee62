"""cocotb fault campaigns (malformed inputs, hostile descriptors, memory errors, reset)."""
