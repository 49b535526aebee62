"""Transaction-level model of the cDMA engine: descriptors in, frames/memory/status out.

This is the scoreboard of the engine benches: for an offload descriptor it gives
the exact frame the C2H stream must carry and the status word; for a prefetch
descriptor and an H2C frame it gives the memory image of the destination range
and the status word.  Descriptor and status formats are in ``docs/ENGINE.md``.
"""
from __future__ import annotations

import dataclasses
import struct

from .errors import ErrorCode, FormatError
from .frame import HEADER_BYTES, Codec, decode_frame, encode_frame
from .zvce import ELEM_BITS as ZVCE_ELEM_BITS, TABLE_BYTES, CodeTable

__all__ = ["OFFLOAD", "PREFETCH", "DESCRIPTOR_BYTES", "STATUS_BYTES", "Descriptor", "Status",
           "EngineModel"]

#: Descriptor ``direction`` values.
OFFLOAD, PREFETCH = 0, 1
_DESC = struct.Struct("<QIBBBB")
_STATUS = struct.Struct("<IBBBB")
#: Bytes of a descriptor (addr u64, length u32, tag, codec, direction, reserved) and
#: of a status word (length u32, tag, code, direction, reserved).
DESCRIPTOR_BYTES = _DESC.size
STATUS_BYTES = _STATUS.size


@dataclasses.dataclass(frozen=True)
class Descriptor:
    """One DMA request: ``addr`` (source or destination), raw ``length`` in bytes."""

    addr: int
    length: int
    direction: int = OFFLOAD
    codec: int = int(Codec.ZVC)
    tag: int = 0

    def pack(self) -> bytes:
        """The 16-byte descriptor word."""
        return _DESC.pack(self.addr, self.length, self.tag, self.codec, self.direction, 0)

    @classmethod
    def unpack(cls, raw: bytes) -> "Descriptor":
        addr, length, tag, codec, direction, _ = _DESC.unpack(bytes(raw))
        return cls(addr, length, direction, codec, tag)


@dataclasses.dataclass(frozen=True)
class Status:
    """One status word: ``length`` (offload: frame bytes; prefetch: H2C bytes taken),
    ``tag``, error ``code`` (:class:`~golden.errors.ErrorCode`) and ``direction``."""

    length: int
    tag: int
    code: int
    direction: int

    def pack(self) -> bytes:
        return _STATUS.pack(self.length, self.tag, self.code, self.direction, 0)

    @classmethod
    def unpack(cls, raw: bytes) -> "Status":
        length, tag, code, direction, _ = _STATUS.unpack(bytes(raw))
        return cls(length, tag, code, direction)


@dataclasses.dataclass(frozen=True)
class EngineModel:
    """The engine's behaviour for one configuration.

    Parameters
    ----------
    elem_bits : int
        8, 16 or 32.
    mem_bytes : int
        AXI data bytes per beat: addresses must be multiples of it.
    chunk_bytes : int
        Offload chunk size.
    codecs : int
        Bit mask of the codecs built in (bit 0 raw, 1 ZVC, 2 RLE, 3 ZVCE).  An
        offload asking for a codec not built in is ``DESC_CODEC``; a frame
        whose codec is not built in (a ZVCE frame, version 2, without ZVCE)
        is ``FRAME_CODEC``.
    addr_width : int
        Address bits of the memory side: a descriptor's range must lie inside
        ``[0, 2**addr_width)``.
    zvce_table : bytes
        The engine's ``zvce_table`` input: the packed code table (16 bytes,
        :meth:`golden.zvce.CodeTable.pack`) its ZVCE offloads encode with and
        carry in their frame header.  A malformed table makes them
        ``BAD_PARAMS`` (no frame).  The default, 16 zero bytes, is a valid
        table (three classes of one symbol, 0x00).
    """

    elem_bits: int = 32
    mem_bytes: int = 16
    chunk_bytes: int = 4096
    codecs: int = 0b111
    addr_width: int = 32
    zvce_table: bytes = bytes(TABLE_BYTES)

    def __post_init__(self):
        table = bytes(self.zvce_table)
        if len(table) != TABLE_BYTES:
            raise ValueError(f"zvce_table must be {TABLE_BYTES} bytes, not {len(table)}")
        object.__setattr__(self, "zvce_table", table)
        if self.codecs >> Codec.ZVCE & 1 and self.elem_bits not in ZVCE_ELEM_BITS:
            raise ValueError(f"codecs with ZVCE (bit 3) need elem_bits 16 or 32, "
                             f"not {self.elem_bits!r}")

    def _check(self, d: Descriptor):
        """The descriptor's own error code, or None; checked in this order."""
        if d.addr % self.mem_bytes:
            return ErrorCode.DESC_ALIGN
        if d.length % (self.elem_bits // 8):
            return ErrorCode.DESC_LENGTH
        if d.addr >> self.addr_width or d.addr + d.length > 1 << self.addr_width:
            # the AXI address would be truncated or wrap to 0: never read or write there
            return ErrorCode.DESC_RANGE
        return None

    def offload(self, memory, d: Descriptor):
        """``(frame bytes, Status)`` of offload descriptor ``d`` over ``memory``.

        ``memory`` is indexable by address (bytes, bytearray or uint8 array).
        """
        code = self._check(d)
        if code is None and (d.codec not in set(Codec) or not (self.codecs >> d.codec) & 1):
            code = ErrorCode.DESC_CODEC
        table = None
        if code is None and d.codec == Codec.ZVCE:
            try:
                table = CodeTable.unpack(self.zvce_table)
            except FormatError as exc:
                code = exc.code
        if code is not None:
            return b"", Status(0, d.tag, int(code), OFFLOAD)
        raw = bytes(memory[d.addr:d.addr + d.length])
        frame = encode_frame(raw, Codec(d.codec), self.chunk_bytes, self.elem_bits, table)
        return frame, Status(len(frame), d.tag, 0, OFFLOAD)

    def prefetch(self, d: Descriptor, frame: bytes):
        """``(restored bytes or None, Status)`` of prefetch descriptor ``d`` given ``frame``.

        The restored bytes are the destination range's new contents when the
        status is OK; on an error the range's contents are unspecified (the
        engine may have written part of it) and None is returned.  Bytes
        outside ``[addr, addr + length)`` are never written in any case.
        """
        frame = bytes(frame)
        code = self._check(d)
        if code is not None:
            return None, Status(len(frame), d.tag, int(code), PREFETCH)
        try:
            decoded = decode_frame(frame)
            err = None
        except FormatError as exc:
            decoded, err = None, exc
        if err is not None and err.offset < HEADER_BYTES:
            return None, Status(len(frame), d.tag, int(err.code), PREFETCH)
        elem_bits, codec = frame[5], frame[7]
        length = int.from_bytes(frame[8:16], "little")
        if elem_bits != self.elem_bits:
            code = ErrorCode.FRAME_ELEM_BITS
        elif not (self.codecs >> codec) & 1:
            code = ErrorCode.FRAME_CODEC
        elif length != d.length:
            code = ErrorCode.FRAME_LENGTH
        elif err is not None:
            code = err.code
        if code is not None:
            return None, Status(len(frame), d.tag, int(code), PREFETCH)
        return decoded.data.tobytes(), Status(len(frame), d.tag, 0, PREFETCH)
