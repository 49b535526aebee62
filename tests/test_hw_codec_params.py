# amaranth: UnusedElaboratable=no
"""The constructor checks the ZVC and RLE blocks share: element width, lanes and
the coded side's beat bytes, each refused with a message that quotes the value.
(The pragma: a refused block is never elaborated.)"""
from __future__ import annotations

import re

import pytest

from cdma.hw.rle import RLEDecoder, RLEEncoder
from cdma.hw.zvc import ZVCCompressor, ZVCDecompressor

#: block -> the name of its coded-side width parameter
BLOCKS = {ZVCCompressor: "out_bytes", ZVCDecompressor: "in_bytes",
          RLEEncoder: "out_bytes", RLEDecoder: "in_bytes"}


@pytest.mark.parametrize("cls", list(BLOCKS), ids=lambda c: c.__name__)
@pytest.mark.parametrize("kwargs, exc, text", [
    (dict(elem_bits=12), ValueError, "elem_bits must be one of (8, 16, 32), not 12"),
    (dict(elem_bits="32"), TypeError,
     "elem_bits must be an integer, one of (8, 16, 32), not '32'"),
    (dict(lanes=6), ValueError, "lanes must be a power of two from 1 to 32, not 6"),
    (dict(lanes=64), ValueError, "lanes must be a power of two from 1 to 32, not 64"),
    (dict(lanes=0), ValueError, "lanes must be an integer >= 1, not 0"),
    (dict(lanes=4.0), TypeError, "lanes must be an integer, not 4.0"),
    (dict(nbytes=0), ValueError, "{nbytes} must be an integer >= 1, not 0"),
    (dict(nbytes=1000), ValueError, "{nbytes} must be from 1 to 256, not 1000"),
    (dict(nbytes=None), TypeError, "{nbytes} must be an integer, not None"),
])
def test_bad_parameters(cls, kwargs, exc, text):
    args = dict(elem_bits=32, lanes=8, nbytes=32)
    args.update(kwargs)
    args[BLOCKS[cls]] = args.pop("nbytes")
    with pytest.raises(exc, match="^" + re.escape(text.format(nbytes=BLOCKS[cls])) + "$"):
        cls(**args)
