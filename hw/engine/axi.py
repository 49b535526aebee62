"""AXI4 memory-mapped master interface of the engine, as an Amaranth signature.

Only the signals the engine drives or needs are present (1-bit IDs tied to 0;
no locks, QoS or user fields): cocotbext-axi's ``AxiBus.from_prefix`` and vendor interconnects
treat them as optional and tie them to their defaults.  Bursts are always INCR
with full-width beats (``size`` = log2 of the data bytes).
"""
from __future__ import annotations

import enum

from amaranth.hdl import Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..streams import check_positive_int

__all__ = ["AXI4Signature", "AXIResp", "MAX_BURST_BEATS", "BOUNDARY_BYTES", "BOUNDARY_BITS",
           "BURST_INCR", "CACHE_BUFFERABLE_MODIFIABLE", "max_burst_beats", "next_burst",
           "read_members", "write_members", "forward"]

#: Longest AXI4 INCR burst.
MAX_BURST_BEATS = 256
#: Bursts never cross this address boundary (AXI4 rule)...
BOUNDARY_BYTES = 4096
#: ... so the address bits below this one stay inside a 4 KiB page.
BOUNDARY_BITS = BOUNDARY_BYTES.bit_length() - 1
#: ``AxBURST`` of an incrementing burst (the only kind the engine issues).
BURST_INCR = 0b01
#: ``AxCACHE`` = Normal Non-cacheable Bufferable: the interconnect may buffer and
#: merge the engine's accesses (streaming DMA data, never device registers).
CACHE_BUFFERABLE_MODIFIABLE = 0b0011


class AXIResp(enum.IntEnum):
    """``RRESP``/``BRESP`` codes; a larger code is the worse answer."""

    OKAY = 0
    EXOKAY = 1
    SLVERR = 2
    DECERR = 3


def max_burst_beats(data_bytes: int) -> int:
    """Longest burst of aligned ``data_bytes`` beats: min(256, 4096 / data_bytes)."""
    return min(MAX_BURST_BEATS, BOUNDARY_BYTES // data_bytes)


def next_burst(m, addr, remaining, data_bytes: int, longest=None):
    """Beats of the next burst from ``addr``: the beats ``remaining``, at most the
    longest burst (``longest``, default :func:`max_burst_beats`), never past the
    end of the 4 KiB page ``addr`` is in."""
    shift = data_bytes.bit_length() - 1
    if longest is None:
        longest = max_burst_beats(data_bytes)
    to_page_end = Signal(range(BOUNDARY_BYTES // data_bytes + 1))
    burst = Signal(range(longest + 1))
    m.d.comb += [
        to_page_end.eq((BOUNDARY_BYTES >> shift) - addr[shift:BOUNDARY_BITS]),
        burst.eq(Mux(remaining < to_page_end, Mux(remaining < longest, remaining, longest),
                     Mux(to_page_end < longest, to_page_end, longest))),
    ]
    return burst


def read_members(addr_width: int, data_bytes: int) -> dict:
    """The read channels a unit of the engine uses, as component members (the
    top level ties off IDs, size, burst type, cache and protection)."""
    return {"araddr": Out(addr_width), "arlen": Out(8), "arvalid": Out(1), "arready": In(1),
            "rdata": In(8 * data_bytes), "rresp": In(2), "rlast": In(1), "rvalid": In(1),
            "rready": Out(1)}


def write_members(addr_width: int, data_bytes: int) -> dict:
    """The write channels a unit of the engine uses, as component members."""
    return {"awaddr": Out(addr_width), "awlen": Out(8), "awvalid": Out(1), "awready": In(1),
            "wdata": Out(8 * data_bytes), "wstrb": Out(data_bytes), "wlast": Out(1),
            "wvalid": Out(1), "wready": In(1), "bresp": In(2), "bvalid": In(1),
            "bready": Out(1)}


def forward(m, outer, inner, members: dict, prefix: str = ""):
    """Connect the ``members`` of component ``inner`` to the same-named signals
    ``prefix + name`` of ``outer``: ``inner``'s outputs drive them, its inputs follow."""
    for name, member in members.items():
        o, i = getattr(outer, prefix + name), getattr(inner, name)
        m.d.comb += o.eq(i) if member.flow == Out else i.eq(o)


class AXI4Signature(wiring.Signature):
    """AXI4 master (manager) signature: AW, W, B, AR and R channels.

    Members are named as in the AXI4 specification without the ``m_axi_``
    prefix (``araddr``, ``arlen``, ..., ``bready``); the flows are those of the
    master, so use ``Out(AXI4Signature(...))`` on a master component.

    Parameters
    ----------
    addr_width : int
        Address bits, 12 to 64.
    data_bytes : int
        Bytes per data beat: a power of two from 1 to 128.

    Raises
    ------
    TypeError
        A parameter is not an integer.
    ValueError
        A parameter is out of range.
    """

    def __init__(self, *, addr_width: int, data_bytes: int):
        check_positive_int("addr_width", addr_width)
        check_positive_int("data_bytes", data_bytes)
        if not 12 <= addr_width <= 64:
            raise ValueError(f"addr_width must be from 12 to 64, not {addr_width!r}")
        if data_bytes > 128 or data_bytes & (data_bytes - 1):
            raise ValueError(f"data_bytes must be a power of two from 1 to 128, not {data_bytes!r}")
        self._addr_width, self._data_bytes = addr_width, data_bytes
        dw = 8 * data_bytes
        super().__init__({
            "awid": Out(1), "awaddr": Out(addr_width), "awlen": Out(8), "awsize": Out(3), "awburst": Out(2),
            "awcache": Out(4), "awprot": Out(3), "awvalid": Out(1), "awready": In(1),
            "wdata": Out(dw), "wstrb": Out(data_bytes), "wlast": Out(1), "wvalid": Out(1),
            "wready": In(1),
            "bid": In(1), "bresp": In(2), "bvalid": In(1), "bready": Out(1),
            "arid": Out(1), "araddr": Out(addr_width), "arlen": Out(8), "arsize": Out(3), "arburst": Out(2),
            "arcache": Out(4), "arprot": Out(3), "arvalid": Out(1), "arready": In(1),
            "rid": In(1), "rdata": In(dw), "rresp": In(2), "rlast": In(1), "rvalid": In(1), "rready": Out(1),
        })

    addr_width = property(lambda self: self._addr_width, doc="Address bits.")
    data_bytes = property(lambda self: self._data_bytes, doc="Bytes per data beat.")

    def __eq__(self, other):
        return (isinstance(other, AXI4Signature) and other.addr_width == self.addr_width
                and other.data_bytes == self.data_bytes)

    def __hash__(self):
        return hash((AXI4Signature, self._addr_width, self._data_bytes))

    def __repr__(self):
        return f"AXI4Signature(addr_width={self._addr_width}, data_bytes={self._data_bytes})"
