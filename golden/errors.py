"""Error codes shared by the golden decoders and the hardware status word.

A decoder that rejects its input raises :class:`FormatError`, which carries the
byte offset at which the problem was detected (counted from the start of the
buffer handed to the decoder) and an :class:`ErrorCode`.  The same numeric codes
are what the hardware reports in its status/error outputs, so a test can compare
``golden`` and RTL verdicts directly.  ``docs/FORMAT.md`` lists them.
"""
from __future__ import annotations

import enum

__all__ = ["ErrorCode", "FormatError"]


class ErrorCode(enum.IntEnum):
    """Why a frame or a chunk payload was rejected; codes 16 and up are engine-only."""

    OK = 0
    #: The frame header does not start with the magic bytes ``b"cDMA"``.
    BAD_MAGIC = 1
    #: The frame header carries a version this decoder does not implement.
    BAD_VERSION = 2
    #: Unsupported element width, chunk size or codec in the frame header, or a
    #: raw length that is not a multiple of the element size.
    BAD_PARAMS = 3
    #: The input ends inside the frame header, a chunk header or a payload.
    TRUNCATED = 4
    #: A chunk header names a codec other than raw or the frame's codec.
    BAD_CHUNK_CODEC = 5
    #: A chunk's payload length disagrees with its contents: bytes left over
    #: after the last ZVC window / RLE token, a payload too short for its masks
    #: or tokens, or a raw chunk whose length is not the chunk's raw size.
    LENGTH_MISMATCH = 6
    #: An RLE token's zero run (plus its value) overshoots the chunk's end.
    RUN_OVERSHOOT = 7
    #: A ZVC mask sets bits for elements past the end of the chunk.
    BAD_MASK = 8
    #: A padding byte after a chunk payload is not zero.
    BAD_PADDING = 9
    #: Bytes follow the last chunk of the frame.
    TRAILING_BYTES = 10
    # ---- engine-only codes (status word of the hardware engine, docs/ENGINE.md) ----
    #: Descriptor address not aligned to the engine's memory beat (``mem_bytes``).
    DESC_ALIGN = 16
    #: Descriptor length not a multiple of the element size.
    DESC_LENGTH = 17
    #: Offload descriptor names a codec that is unknown or not built into the engine.
    DESC_CODEC = 18
    #: The memory answered SLVERR (AXI RRESP/BRESP = 2).
    AXI_SLVERR = 19
    #: The memory answered DECERR (AXI RRESP/BRESP = 3).
    AXI_DECERR = 20
    #: The frame's raw length differs from the prefetch descriptor's length.
    FRAME_LENGTH = 21
    #: The frame's element width differs from the engine's.
    FRAME_ELEM_BITS = 22
    #: The frame's codec is valid but not built into the engine.
    FRAME_CODEC = 23
    #: Descriptor direction is neither 0 (offload) nor 1 (prefetch).
    DESC_DIRECTION = 24
    #: Descriptor range ``[addr, addr + length)`` does not lie inside the engine's
    #: address space ``[0, 2**addr_width)`` (it would wrap or be truncated).
    DESC_RANGE = 25
    #: An H2C beat before a frame's last does not carry all ``pcie_bytes`` bytes
    #: (the engine takes frames as AXI4-Stream packets of full beats; only the
    #: last may be partial).  A transport fault: a byte string has no beats, so
    #: the golden decoder never reports it.
    H2C_BEAT = 26


class FormatError(ValueError):
    """Malformed compressed input.

    Attributes
    ----------
    offset : int
        Byte offset, from the start of the decoded buffer, where the problem
        was detected.
    code : ErrorCode
        Machine-readable class of the problem (the hardware reports the same).
    """

    def __init__(self, offset: int, code: ErrorCode, message: str):
        self.offset = int(offset)
        self.code = ErrorCode(code)
        self.detail = message
        super().__init__(f"at byte offset {self.offset}: {message} [{self.code.name}]")
