# amaranth: UnusedElaboratable=no
"""The cDMA engine: AXI4 memory side, compressing offload, decompressing prefetch.

``docs/ENGINE.md`` describes the architecture, the descriptor and status formats,
the error codes and the measured throughput.
"""
# (The pragma above: an engine built by engine_top() with parameters it refuses is
# never elaborated; the ValueError says why, Amaranth's "never used" warning would
# only add noise.)
from .params import CODEC_MASK_ALL, EngineError, EngineParams
from .top import CDMAEngine, DESCRIPTOR_BYTES, STATUS_BYTES, descriptor_layout, status_word_layout

__all__ = ["CDMAEngine", "EngineParams", "EngineError", "CODEC_MASK_ALL", "DESCRIPTOR_BYTES",
           "STATUS_BYTES", "descriptor_layout", "status_word_layout", "engine_top"]


def engine_top(**params):
    """Factory for ``cdma generate engine``: a :class:`CDMAEngine` of
    ``EngineParams(**params)`` (the defaults are :class:`EngineParams`')."""
    return CDMAEngine(EngineParams(**params))
