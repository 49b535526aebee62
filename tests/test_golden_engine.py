"""golden.engine: the descriptor checks of the engine model (docs/ENGINE.md, codes 16-25).

Expected codes are worked by hand from the rules in docs/ENGINE.md: a range
``[addr, addr + length)`` must lie inside ``[0, 2**addr_width)``; address
alignment, then length, then range, then (offload) codec.
"""
from __future__ import annotations

import numpy as np
import pytest

from cdma import golden
from cdma.golden.engine import OFFLOAD, PREFETCH, Descriptor, EngineModel, Status

E = golden.ErrorCode


def _mem(n=1 << 16):
    return np.arange(n, dtype=np.uint32).astype(np.uint8)


@pytest.mark.parametrize("aw, addr, length, code", [
    (32, (1 << 32) - 1024, 1024, E.OK),              # ends exactly at 2**32
    (32, (1 << 32) - 1024, 1028, E.DESC_RANGE),      # one fp32 element past it
    (32, (1 << 32) - 256, 1024, E.DESC_RANGE),       # wraps to address 0
    (32, 1 << 32, 0, E.DESC_RANGE),                  # empty, but the address is not representable
    (32, (1 << 40) | 0x1000, 256, E.DESC_RANGE),     # high bits would be dropped
    (32, (1 << 64) - 256, 1024, E.DESC_RANGE),       # wraps 2**64
    (16, 0xFC00, 1024, E.OK),
    (16, 0xFC00, 1028, E.DESC_RANGE),
    (64, (1 << 64) - 1024, 1024, E.OK),
    (64, (1 << 64) - 256, 1024, E.DESC_RANGE),
    (32, (1 << 32) - 256 + 4, 1024, E.DESC_ALIGN),   # alignment is checked first
    (32, (1 << 32) - 256, 1022, E.DESC_LENGTH),      # then the length
])
def test_descriptor_range(aw, addr, length, code):
    model = EngineModel(elem_bits=32, mem_bytes=64, chunk_bytes=1024, addr_width=aw)

    class Top:                       # memory where only the range's bytes matter
        def __getitem__(self, sl):
            return bytes((a * 5) & 0xFF for a in range(sl.start - addr, sl.stop - addr))

    frame, st = model.offload(Top(), Descriptor(addr, length, OFFLOAD, 1, tag=9))
    assert st == Status(len(frame), 9, int(code), OFFLOAD)
    if code:
        assert frame == b""
    else:
        assert golden.decode_frame(frame).data.tobytes() == bytes(
            (a * 5) & 0xFF for a in range(length))
    good = golden.encode_frame(np.zeros(length // 4, np.float32), "zvc", 1024)
    data, st = model.prefetch(Descriptor(addr, length, PREFETCH, 0, tag=3), good)
    assert st == Status(len(good), 3, int(code), PREFETCH)     # the frame is drained either way
    assert (data is None) == bool(code)


def test_range_precedes_codec_check():
    """An out-of-range offload with an unknown codec reports the range."""
    model = EngineModel(addr_width=32)
    _, st = model.offload(_mem(), Descriptor(1 << 32, 64, OFFLOAD, 7, tag=1))
    assert st.code == E.DESC_RANGE
    _, st = model.offload(_mem(), Descriptor(0, 64, OFFLOAD, 7, tag=1))
    assert st.code == E.DESC_CODEC
