# amaranth: UnusedElaboratable=no
"""The cDMA engine: AXI4 memory side, compressing offload, decompressing prefetch.

``docs/ENGINE.md`` describes the architecture, the descriptor and status formats,
the error codes and the measured throughput.
"""
# (The pragma above: an engine built by engine_top() with parameters it refuses is
# never elaborated; the ValueError says why, Amaranth's "never used" warning would
# only add noise.)
from .params import CODEC_MASK_ALL, CODEC_MASK_DEFAULT, EngineError, EngineParams
from .csr import EngineCSR
from .top import CDMAEngine, DESCRIPTOR_BYTES, STATUS_BYTES, descriptor_layout, status_word_layout
from .top_axil import CDMAEngineAXIL

__all__ = ["CDMAEngine", "EngineParams", "EngineError", "CODEC_MASK_ALL", "CODEC_MASK_DEFAULT",
           "DESCRIPTOR_BYTES",
           "STATUS_BYTES", "descriptor_layout", "status_word_layout", "engine_top", "EngineCSR",
           "CDMAEngineAXIL", "engine_axil_top", "engine_csr_top"]


def engine_top(**params):
    """Factory for ``cdma generate engine``: a :class:`CDMAEngine` of
    ``EngineParams(**params)`` (the defaults are :class:`EngineParams`')."""
    return CDMAEngine(EngineParams(**params))


def engine_axil_top(sub_depth=4, status_depth=16, **params):
    """Factory for ``cdma generate engine-axil``: a :class:`CDMAEngineAXIL` of
    ``EngineParams(**params)`` with the front end's queue depths."""
    return CDMAEngineAXIL(EngineParams(**params), sub_depth=sub_depth, status_depth=status_depth)


def engine_csr_top(sub_depth=4, status_depth=16, **params):
    """Factory for ``cdma generate engine-csr``: the register front end alone
    (:class:`EngineCSR`), its queues as AXI4-Stream ports ``m_axis_desc`` and
    ``s_axis_status`` (for lint and synthesis of the block by itself), and its
    ``zvce_table`` output."""
    from ..axis import AXIStreamTop
    csr = EngineCSR(EngineParams(**params), sub_depth=sub_depth, status_depth=status_depth)
    signals = {name: name for name in csr.signature.members
               if name.startswith(("s_axil_", "add_")) or name in ("irq", "zvce_table")}
    return AXIStreamTop(csr, {"desc": "m_axis_desc", "status": "s_axis_status"}, signals)
