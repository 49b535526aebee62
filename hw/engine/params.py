"""Configuration and error codes of the cDMA engine."""
from __future__ import annotations

import dataclasses

from amaranth.hdl import Mux
from amaranth.lib import wiring

from cdma.golden.errors import ErrorCode
from cdma.golden.elements import ELEM_BITS
from cdma.golden.frame import CHUNK_BYTES, VERSION, VERSION_CODECS, VERSION_TABLE, Codec
from cdma.golden.zvce import ELEM_BITS as ZVCE_ELEM_BITS

from ..streams import check_positive_int
from .axi import AXIResp, max_burst_beats

__all__ = ["EngineParams", "EngineError", "EngineUnit", "codec_blocks", "axi_error_code",
           "CODEC_MASK_ALL", "CODEC_MASK_DEFAULT", "ENGINE_CODECS",
           "LENGTH_BITS", "WRITE_BURST_BYTES", "write_burst_beats"]

#: The codecs the engine knows: raw, ZVC and RLE (version-1 frames) and ZVCE
#: (codec 3, version-2 frames, which carry its code table).
ENGINE_CODECS = tuple(sorted({*VERSION_CODECS[VERSION], *VERSION_CODECS[VERSION_TABLE]}))
#: ``codecs`` bit mask with every codec built in.
CODEC_MASK_ALL = sum(1 << c for c in ENGINE_CODECS)
#: The default ``codecs``: raw, ZVC and RLE (ZVCE's blocks are several times
#: ZVC's area, docs/ZVCE.md; build them in with bit 3).
CODEC_MASK_DEFAULT = sum(1 << c for c in VERSION_CODECS[VERSION])
#: Bits of a descriptor's raw length (and of every byte count derived from it).
LENGTH_BITS = 32
#: Longest write burst of the prefetch path, in bytes.  The write unit issues a
#: burst only once all of it is buffered, so the transfer's last burst is written
#: after the last beat comes in: a 4 KiB burst (64 beats of 64 bytes) added 64
#: cycles to every prefetch, 1.4 % of a 256 KiB transfer at density 0.5.
WRITE_BURST_BYTES = 1024


def write_burst_beats(mem_bytes: int) -> int:
    """Longest write burst: min(256, WRITE_BURST_BYTES / mem_bytes) beats."""
    return max(1, min(max_burst_beats(mem_bytes), WRITE_BURST_BYTES // mem_bytes))

#: Status error codes: the frame codes of ``docs/FORMAT.md`` plus the engine-only
#: codes from 16 (``docs/ENGINE.md``).  The hardware reports exactly the golden
#: model's numbers, so the table is the golden one, written once.
EngineError = ErrorCode


def axi_error_code(resp):
    """The status code of the worst AXI response ``resp`` of a transfer (0 if OKAY)."""
    return Mux(resp == AXIResp.SLVERR, EngineError.AXI_SLVERR,
               Mux(resp == AXIResp.DECERR, EngineError.AXI_DECERR, EngineError.OK))


def codec_blocks(mask: int) -> dict:
    """``{codec id: (compressor class, decompressor class)}`` of the codecs in ``mask``."""
    out = {}
    if mask & (1 << Codec.ZVC):
        from ..zvc import ZVCCompressor, ZVCDecompressor
        out[int(Codec.ZVC)] = (ZVCCompressor, ZVCDecompressor)
    if mask & (1 << Codec.RLE):
        from ..rle import RLEDecoder, RLEEncoder
        out[int(Codec.RLE)] = (RLEEncoder, RLEDecoder)
    if mask & (1 << Codec.ZVCE):
        from ..zvce import ZVCECompressor, ZVCEDecompressor
        out[int(Codec.ZVCE)] = (ZVCECompressor, ZVCEDecompressor)
    return out


def _pow2(name, value, lo, hi):
    check_positive_int(name, value)
    if value & (value - 1) or not lo <= value <= hi:
        raise ValueError(f"{name} must be a power of two from {lo} to {hi}, not {value!r}")
    return value


def _field(default, help_text):
    """A dataclass field with the one-line help of its ``cdma generate`` option."""
    return dataclasses.field(default=default, metadata={"help": help_text})


@dataclasses.dataclass(frozen=True)
class EngineParams:
    """Validated configuration of :class:`~cdma.hw.engine.CDMAEngine`.

    Parameters
    ----------
    elem_bits : int
        Element width: 8, 16 or 32.
    mem_bytes : int
        AXI4 data bytes per beat (Wm): a power of two from 16 to 128, with at most
        32 elements per beat (the compressors' lane limit): <= 4 * elem_bits.
    pcie_bytes : int
        AXI4-Stream bytes per beat on the PCIe side (Wp): a power of two, 4..128.
    chunk_bytes : int
        Raw bytes per chunk for offload: a power of two, 512..65536, >= mem_bytes.
        (Prefetch accepts every chunk size of the format.)
    addr_width : int
        AXI address bits, 12..64.
    codecs : int
        Bit mask of the compressing codecs built in: bit 1 ZVC, bit 2 RLE, bit 3
        ZVCE (raw is always there).  ZVCE needs 16- or 32-bit elements and ZVC
        built in too: a ZVCE frame's chunks may be ZVC (the offload compresses
        each chunk both ways and sends the shorter).
    fetch_beats : int or None
        Fetch buffer depth in beats (default: 4 longest bursts).
    max_outstanding : int
        AXI read bursts in flight at most.
    write_beats : int or None
        Write buffer depth in beats (default: 2 longest write bursts, see
        :func:`write_burst_beats`).
    comp_bytes : int or None
        Bytes per cycle of the offload compressors' output and the chunk
        buffer's compressed halves: ``mem_bytes`` or ``2 * mem_bytes``.  By
        default twice ``mem_bytes`` when the PCIe side is at least as wide as
        the memory side, else ``mem_bytes``: a chunk that does not compress
        (RLE expands dense data up to 1.25x at 32-bit elements) is sent raw,
        at the memory side's rate, only if its compressor is not held below
        that rate by its own output meanwhile; when the PCIe side is narrower,
        it bounds the rate and ``mem_bytes`` suffices.
    chunk_banks : int
        Banks of the offload chunk buffer (each holds a chunk raw and
        compressed, and with ZVCE, ZVC-compressed too): 2 or 4.
    dec_instances : int
        Decompressors per codec on the prefetch path (1 or 2; default 1):
        with 2, consecutive chunks alternate between them, hiding each one's
        start-of-chunk cycle behind the other's work (worth 1.4 points of the
        bound at density 0.1 in the 64/32 B engine's prefetch, for a second
        copy of each decompressor).

    Raises
    ------
    TypeError
        A parameter is not an integer.
    ValueError
        A parameter is out of range; the message quotes it.
    """

    # The defaults are written here only: `cdma generate engine` takes its
    # options, defaults and help lines from these fields.  They are the widest
    # engine that fits the LFE5U-85F and closes timing there at every placement
    # seed measured (16 B/cycle both sides: about 24 % of its LUT4, 91-102 MHz,
    # docs/TIMING.md section 19); at 32 B/cycle it routes at 58-77 MHz, at
    # 64 B/cycle it does not place (README, "Area and clock").
    elem_bits: int = _field(32, "element width: 8, 16 or 32")
    mem_bytes: int = _field(16, "AXI4 data bytes per beat (Wm)")
    pcie_bytes: int = _field(16, "AXI4-Stream bytes per beat on the PCIe side (Wp)")
    chunk_bytes: int = _field(4096, "raw bytes per offload chunk")
    addr_width: int = _field(32, "AXI address bits")
    codecs: int = _field(CODEC_MASK_DEFAULT, "bit mask of codecs built in: 1 raw, 2 ZVC, 4 RLE, "
                                             "8 ZVCE (needs ZVC)")
    fetch_beats: int | None = _field(None, "fetch buffer beats (default: 4 longest bursts)")
    max_outstanding: int = _field(8, "AXI read bursts in flight")
    write_beats: int | None = _field(None, "write buffer beats (default: 2 longest write bursts, 2 KiB)")
    comp_bytes: int | None = _field(None, "offload compressor output bytes per cycle: mem_bytes or "
                                          "2 x mem_bytes (default: 2 x when pcie_bytes >= mem_bytes)")
    chunk_banks: int = _field(4, "offload chunk buffer banks: 2 or 4")
    dec_instances: int = _field(1, "prefetch decompressors per codec: 1 or 2")

    def __post_init__(self):
        check_positive_int("elem_bits", self.elem_bits)
        if self.elem_bits not in ELEM_BITS:
            raise ValueError(f"elem_bits must be 8, 16 or 32, not {self.elem_bits!r}")
        _pow2("mem_bytes", self.mem_bytes, 16, 128)
        if self.mem_bytes * 8 // self.elem_bits > 32:
            raise ValueError(f"mem_bytes must hold at most 32 elements of {self.elem_bits} bits "
                             f"(<= {4 * self.elem_bits}), not {self.mem_bytes!r}")
        _pow2("pcie_bytes", self.pcie_bytes, 4, 128)
        _pow2("chunk_bytes", self.chunk_bytes, min(CHUNK_BYTES), max(CHUNK_BYTES))
        check_positive_int("addr_width", self.addr_width)
        if not 12 <= self.addr_width <= 64:
            raise ValueError(f"addr_width must be from 12 to 64, not {self.addr_width!r}")
        check_positive_int("codecs", self.codecs, minimum=0)
        if self.codecs & ~CODEC_MASK_ALL:
            raise ValueError(f"codecs must be a mask of bits 0..3, not {self.codecs!r}")
        if self.zvce:
            if self.elem_bits not in ZVCE_ELEM_BITS:
                raise ValueError(f"codecs with ZVCE (bit 3) need elem_bits 16 or 32, "
                                 f"not {self.elem_bits!r}")
            if not self.codecs >> Codec.ZVC & 1:
                raise ValueError(f"codecs with ZVCE (bit 3) need ZVC (bit 1) too: a ZVCE frame's "
                                 f"chunks may be ZVC; not {self.codecs!r}")
        burst = max_burst_beats(self.mem_bytes)
        if self.fetch_beats is None:
            object.__setattr__(self, "fetch_beats", 4 * burst)
        check_positive_int("fetch_beats", self.fetch_beats, minimum=burst)
        check_positive_int("max_outstanding", self.max_outstanding)
        wburst = write_burst_beats(self.mem_bytes)
        if self.write_beats is None:
            object.__setattr__(self, "write_beats", 2 * wburst)
        check_positive_int("write_beats", self.write_beats, minimum=wburst)
        if self.comp_bytes is None:
            object.__setattr__(self, "comp_bytes", self.mem_bytes * (
                2 if self.pcie_bytes >= self.mem_bytes else 1))
        check_positive_int("comp_bytes", self.comp_bytes)
        if self.comp_bytes not in (self.mem_bytes, 2 * self.mem_bytes):
            raise ValueError(f"comp_bytes must be mem_bytes ({self.mem_bytes}) or twice that, "
                             f"not {self.comp_bytes!r}")
        check_positive_int("chunk_banks", self.chunk_banks)
        if self.chunk_banks not in (2, 4):
            raise ValueError(f"chunk_banks must be 2 or 4, not {self.chunk_banks!r}")
        check_positive_int("dec_instances", self.dec_instances)
        if self.dec_instances > 2:
            raise ValueError(f"dec_instances must be 1 or 2, not {self.dec_instances!r}")

    @property
    def zvce(self) -> bool:
        """ZVCE is built in (``codecs`` bit 3): both paths read and write it."""
        return bool(self.codecs >> Codec.ZVCE & 1)

    @property
    def comp_ratio_log2(self) -> int:
        """log2(comp_bytes / mem_bytes), 0 or 1: a compressed half of the chunk
        buffer is ``2 ** comp_ratio_log2`` memories side by side, and a read of
        it returns as many ``mem_bytes`` beats, picked by the read address's low
        bits."""
        return (self.comp_bytes // self.mem_bytes).bit_length() - 1

    @property
    def burst_beats(self) -> int:
        """Longest AXI burst: min(256, 4096 / mem_bytes) beats."""
        return max_burst_beats(self.mem_bytes)


class EngineUnit(wiring.Component):
    """A unit of the engine (offload, prefetch, frame parser, write unit): a
    component configured by one :class:`EngineParams`.

    Parameters
    ----------
    params : EngineParams
    members : callable
        ``members(params)``: the component's signature members.

    Raises
    ------
    TypeError
        ``params`` is not an :class:`EngineParams`.
    """

    def __init__(self, params, members):
        if not isinstance(params, EngineParams):
            raise TypeError(f"params must be an EngineParams, not {params!r}")
        self._p = params
        super().__init__(members(params))

    params = property(lambda self: self._p, doc="The :class:`EngineParams`.")
