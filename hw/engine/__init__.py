"""The cDMA engine: AXI4 memory side, compressing offload, decompressing prefetch.

``docs/ENGINE.md`` describes the architecture, the descriptor and status formats,
the error codes and the measured throughput.
"""
from .params import CODEC_MASK_ALL, EngineError, EngineParams
from .top import CDMAEngine, DESCRIPTOR_BYTES, STATUS_BYTES, descriptor_layout, status_word_layout

__all__ = ["CDMAEngine", "EngineParams", "EngineError", "CODEC_MASK_ALL", "DESCRIPTOR_BYTES",
           "STATUS_BYTES", "descriptor_layout", "status_word_layout", "engine_top"]


def engine_top(elem_bits=32, mem_bytes=64, pcie_bytes=32, chunk_bytes=4096, addr_width=32,
               codecs=CODEC_MASK_ALL, fetch_beats=None, max_outstanding=8, write_beats=None,
               chunk_banks=4, dec_instances=2):
    """Factory for ``cdma generate engine`` (see :class:`EngineParams`)."""
    return CDMAEngine(EngineParams(elem_bits=elem_bits, mem_bytes=mem_bytes,
                                   pcie_bytes=pcie_bytes, chunk_bytes=chunk_bytes,
                                   addr_width=addr_width, codecs=codecs,
                                   fetch_beats=fetch_beats, max_outstanding=max_outstanding,
                                   write_beats=write_beats, chunk_banks=chunk_banks,
                                   dec_instances=dec_instances))
