"""A host driver for the ``engine-axil`` register front end, written as a real one would be.

:class:`CDMADriver` talks to the engine only through an AXI4-Lite master
(cocotbext-axi's :class:`~cocotbext.axi.AxiLiteMaster`) and the ``irq`` line,
with the offsets of the one register table (:data:`cdma.hw.engine.csr.REGISTERS`):
it reads the engine's configuration, submits descriptors (backing off while
the submission queue is full), waits for the interrupt, reads status words and
counters.  The benches in ``sim/engine/test_axil.py`` use it as the host.
"""
from __future__ import annotations

import dataclasses

from cocotb.triggers import ClockCycles, First, RisingEdge
from cocotbext.axi import AxiResp

from cdma.golden.engine import PREFETCH, Descriptor, Status
from cdma.hw.engine.csr import COUNTERS, CSR_ID, REGISTERS

__all__ = ["CDMADriver", "DriverError", "EngineConfig", "REG"]

#: Register offsets by name.
REG = {r.name: r.offset for r in REGISTERS}


class DriverError(RuntimeError):
    """The engine answered an access the driver expected to succeed with an error."""


@dataclasses.dataclass(frozen=True)
class EngineConfig:
    """What ``CONFIG0``/``CONFIG1`` say about the engine."""

    elem_bits: int
    mem_bytes: int
    pcie_bytes: int
    chunk_bytes: int
    codecs: int
    addr_width: int
    sub_depth: int
    status_depth: int

    @classmethod
    def decode(cls, c0: int, c1: int) -> "EngineConfig":
        b = lambda w, k: (w >> 8 * k) & 0xFF
        return cls(b(c0, 0), b(c0, 1), b(c0, 2), 1 << b(c0, 3), b(c1, 0), b(c1, 1), b(c1, 2),
                   b(c1, 3))


class CDMADriver:
    """Submit, wait for the interrupt, read statuses and counters.

    Parameters
    ----------
    master : cocotbext.axi.AxiLiteMaster
        The host's AXI4-Lite master on ``s_axil``.
    irq : cocotb handle
        The ``irq`` output.
    clk : cocotb handle
        The clock (for back-off delays and time-outs).

    Attributes
    ----------
    backoffs : int
        Doorbells answered SLVERR because the submission queue was full.
    interrupts : int
        Interrupts :meth:`wait_irq` has returned on.
    """

    def __init__(self, master, irq, clk):
        self.master, self.irq, self.clk = master, irq, clk
        self.backoffs = 0
        self.interrupts = 0
        self.config: EngineConfig | None = None

    # ---- raw accesses ----------------------------------------------------------------

    async def write(self, name_or_addr, value: int, strobes: int = 0xF) -> AxiResp:
        """Write ``value`` to a register (name or byte address); returns the response.
        ``strobes`` other than 0xF write only those bytes (a 1-, 2- or 3-byte access)."""
        addr = REG[name_or_addr] if isinstance(name_or_addr, str) else name_or_addr
        data = value.to_bytes(4, "little")
        lanes = [k for k in range(4) if strobes >> k & 1]
        if lanes != list(range(lanes[0], lanes[-1] + 1)):
            raise ValueError(f"strobes must be contiguous, not {strobes:#x}")
        resp = await self.master.write(addr + lanes[0], data[lanes[0]:lanes[-1] + 1])
        return resp.resp

    async def read(self, name_or_addr) -> tuple[int, AxiResp]:
        """``(value, response)`` of one register read."""
        addr = REG[name_or_addr] if isinstance(name_or_addr, str) else name_or_addr
        resp = await self.master.read(addr, 4)
        return int.from_bytes(resp.data, "little"), resp.resp

    async def read_ok(self, name: str) -> int:
        value, resp = await self.read(name)
        if resp != AxiResp.OKAY:
            raise DriverError(f"read of {name} answered {resp!r}")
        return value

    async def write_ok(self, name: str, value: int):
        resp = await self.write(name, value)
        if resp != AxiResp.OKAY:
            raise DriverError(f"write of {value:#x} to {name} answered {resp!r}")

    # ---- driver operations -----------------------------------------------------------

    async def probe(self) -> EngineConfig:
        """Check ``ID`` and read the configuration."""
        ident = await self.read_ok("ID")
        if ident != CSR_ID:
            raise DriverError(f"ID is {ident:#010x}, not a cDMA engine ({CSR_ID:#010x})")
        self.config = EngineConfig.decode(await self.read_ok("CONFIG0"),
                                          await self.read_ok("CONFIG1"))
        return self.config

    async def set_irq(self, enable: bool = True, threshold: int = 1, timeout: int = 0):
        """Interrupt mask, coalescing threshold and time-out (cycles, 0 = off)."""
        await self.write_ok("IRQ_THRESHOLD", threshold)
        await self.write_ok("IRQ_TIMEOUT", timeout)
        await self.write_ok("IRQ_ENABLE", int(enable))

    async def set_zvce_table(self, table: bytes):
        """The code table of ZVCE offloads (16 bytes, ``CodeTable.pack()``)."""
        if len(table) != 16:
            raise DriverError(f"a ZVCE code table is 16 bytes, not {len(table)}")
        for k in range(4):
            await self.write_ok(f"ZVCE_TABLE{k}", int.from_bytes(table[4 * k:4 * k + 4], "little"))

    async def try_submit(self, d: Descriptor) -> bool:
        """Write ``d`` and ring the doorbell once: False if its direction's queue was full."""
        raw = d.pack()
        for k, name in enumerate(("DESC_ADDR_LO", "DESC_ADDR_HI", "DESC_LENGTH", "DESC_CTRL")):
            await self.write_ok(name, int.from_bytes(raw[4 * k:4 * k + 4], "little"))
        resp = await self.write("DOORBELL", 1)
        if resp == AxiResp.SLVERR:
            self.backoffs += 1
            return False
        if resp != AxiResp.OKAY:
            raise DriverError(f"doorbell answered {resp!r}")
        return True

    async def submit(self, d: Descriptor, backoff_cycles: int = 16, timeout_cycles=200_000):
        """Submit ``d``; while its direction's queue is full, wait ``backoff_cycles`` and
        poll ``SUB_FREE``."""
        waited = 0
        while not await self.try_submit(d):
            while True:
                await ClockCycles(self.clk, backoff_cycles)
                waited += backoff_cycles
                if waited > timeout_cycles:
                    raise DriverError(f"submission queue full for {waited} cycles")
                free = await self.read_ok("SUB_FREE")
                if (free >> 8 if d.direction == PREFETCH else free) & 0xFF:
                    break

    async def wait_irq(self, timeout_cycles: int = 200_000) -> bool:
        """Wait until ``irq`` is high; False after ``timeout_cycles`` without it."""
        if int(self.irq.value):
            self.interrupts += 1
            return True
        for _ in range(timeout_cycles // 64 + 1):
            await First(RisingEdge(self.irq), ClockCycles(self.clk, 64))
            if int(self.irq.value):
                self.interrupts += 1
                return True
        return False

    async def read_status(self) -> Status | None:
        """The oldest status word (removed from the queue), or None if there is none."""
        lo, resp = await self.read("STATUS_LO")
        if resp == AxiResp.SLVERR:
            return None
        hi = await self.read_ok("STATUS_HI")
        return Status.unpack((lo | hi << 32).to_bytes(8, "little"))

    async def drain(self) -> list[Status]:
        """Every status word queued now (``STATUS_COUNT`` of them)."""
        n = await self.read_ok("STATUS_COUNT")
        out = []
        for _ in range(n):
            s = await self.read_status()
            if s is None:
                raise DriverError("STATUS_COUNT said more than the queue held")
            out.append(s)
        return out

    async def counters(self) -> dict[str, int]:
        """The 64-bit counters, each read low word first (the high word is latched)."""
        out = {}
        for name, _ in COUNTERS:
            lo = await self.read_ok(name + "_LO")
            out[name] = lo | await self.read_ok(name + "_HI") << 32
        return out
