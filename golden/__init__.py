"""Golden model of the compressing DMA engine: the normative codecs and frame format.

Pure Python + numpy.  Never imports :mod:`hw` or :mod:`sim`.
"""
from . import rle, zvc, zvce
from .elements import ELEM_BITS, as_elements, elem_dtype
from .errors import ErrorCode, FormatError
from .frame import (CHUNK_BYTES, DEFAULT_CHUNK_BYTES, Codec, DecodedFrame, FrameHeader,
                    chunk_payload_sizes, decode_frame, encode_frame, frame_size, header_bytes)

__all__ = ["zvc", "rle", "zvce", "ELEM_BITS", "as_elements", "elem_dtype", "ErrorCode", "FormatError",
           "CHUNK_BYTES", "DEFAULT_CHUNK_BYTES", "Codec", "DecodedFrame", "FrameHeader",
           "chunk_payload_sizes", "decode_frame", "encode_frame", "frame_size", "header_bytes"]
