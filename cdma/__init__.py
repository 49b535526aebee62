"""cDMA: a compressing DMA engine generator with its golden model and benches."""
__version__ = "0.1.0"
