"""AXI4-Lite register front end of the engine: submission and status queues, interrupt, counters.

:class:`EngineCSR` sits between a host's AXI4-Lite master and the engine's
descriptor and status streams.  The register map is the table
:data:`REGISTERS`, written once: the hardware decodes it, ``docs/REGISTERS.md``
is generated from it (:func:`registers_markdown`, ``cdma registers``) and the
driver-style bench (``sim/engine/driver.py``) takes its offsets from it.

Every access answers in a fixed number of cycles (a write's B two cycles after
the cycle AW and W are taken, a read's R one cycle after AR): a full submission
queue or an empty status queue is answered with SLVERR, never by holding the bus.  The
two low address bits are ignored (AXI4-Lite's strobes say which bytes of the
word a write carries; a read returns the whole word).  An
access the map does not allow (unmapped address, a write to a
read-only register, a read of a write-only one, partial strobes on a register
that needs all four, a value out of a register's range) answers SLVERR and
changes nothing.
"""
from __future__ import annotations

import dataclasses

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from cdma.golden.engine import DESCRIPTOR_BYTES, PREFETCH, STATUS_BYTES
from cdma.golden.zvce import TABLE_BYTES

from ..streams import check_positive_int
from .params import EngineParams

__all__ = ["Field", "Register", "REGISTERS", "COUNTERS", "COUNTER_BASE", "ADD_BITS",
           "CSR_ADDR_WIDTH", "CSR_ID", "CSR_VERSION", "IRQ_TIMEOUT_BITS", "EngineCSR",
           "axil_slave_members", "register", "registers_markdown", "registers_verilog_header",
           "config_words", "add_registers_arguments", "run_registers"]

#: Address bits of the register map (256 bytes): ``s_axil_awaddr``/``araddr`` width.
CSR_ADDR_WIDTH = 8
#: Value of the ``ID`` register: the bytes ``cDMA`` read as a little-endian word.
CSR_ID = int.from_bytes(b"cDMA", "little")
#: Register map version (``VERSION``): major in bits 15..8, minor in bits 7..0.
CSR_VERSION = 0x0101
#: Bits of ``IRQ_TIMEOUT``.
IRQ_TIMEOUT_BITS = 16
#: AXI response codes.
OKAY, SLVERR = 0, 2


@dataclasses.dataclass(frozen=True)
class Field:
    """A field of a register: bits ``[lsb, lsb + width)``."""

    name: str
    lsb: int
    width: int
    doc: str


@dataclasses.dataclass(frozen=True)
class Register:
    """One 32-bit register of the map.

    Attributes
    ----------
    name : str
    offset : int
        Byte address (a multiple of 4).
    access : {"RO", "RW", "WO"}
    doc : str
        What it is, and the side effects of accessing it.
    fields : tuple of Field
    byte_strobes : bool
        Writes may use partial strobes (only the strobed bytes change);
        otherwise a write needs all four strobes.
    """

    name: str
    offset: int
    access: str
    doc: str
    fields: tuple = ()
    byte_strobes: bool = False


#: The free-running 64-bit counters, in address order: (name, what it counts).
COUNTERS = (
    ("OFF_RAW_BYTES", "offload: bytes read from memory (R beats x `mem_bytes`; a length that "
                      "is not a multiple of `mem_bytes` reads its last beat whole)"),
    ("OFF_FRAME_BYTES", "offload: frame bytes sent on C2H (`tkeep` bytes of every transfer)"),
    ("OFF_DONE", "status words of offload descriptors (direction 0, and descriptors of an "
                 "unknown direction)"),
    ("OFF_ERRORS", "status words of OFF_DONE with a nonzero code"),
    ("PRE_FRAME_BYTES", "prefetch: bytes taken from H2C (`tkeep` bytes of every transfer)"),
    ("PRE_RAW_BYTES", "prefetch: bytes written to memory (`wstrb` bytes of every W beat)"),
    ("PRE_DONE", "status words of prefetch descriptors (direction 1)"),
    ("PRE_ERRORS", "status words of PRE_DONE with a nonzero code"),
)
#: Offset of the first counter; counter k's low word is at COUNTER_BASE + 8 k.
COUNTER_BASE = 0x80
#: Offset and words of ``ZVCE_TABLE0..3``.
ZVCE_TABLE_BASE = 0x50
ZVCE_TABLE_WORDS = TABLE_BYTES // 4


def _registers() -> tuple:
    R, F = Register, Field
    regs = [
        R("ID", 0x00, "RO", f"`{CSR_ID:#010x}`: the bytes `cDMA` as a little-endian word"),
        R("VERSION", 0x04, "RO", "register map version",
          (F("minor", 0, 8, "1 (1.1: ZVCE_TABLE0..3)"), F("major", 8, 8, "1"))),
        R("CONFIG0", 0x08, "RO", "how the engine was generated",
          (F("elem_bits", 0, 8, "element width: 8, 16 or 32"),
           F("mem_bytes", 8, 8, "AXI4 data bytes per beat (Wm)"),
           F("pcie_bytes", 16, 8, "C2H/H2C bytes per beat (Wp)"),
           F("log2_chunk", 24, 8, "log2 of the offload chunk size in bytes"))),
        R("CONFIG1", 0x0C, "RO", "how the engine and this front end were generated",
          (F("codecs", 0, 8, "codecs built in: bit 0 raw, 1 ZVC, 2 RLE, 3 ZVCE"),
           F("addr_width", 8, 8, "AXI4 address bits"),
           F("sub_depth", 16, 8, "submission queue slots per direction"),
           F("status_depth", 24, 8, "status queue slots"))),
        R("DESC_ADDR_LO", 0x10, "RW", "descriptor being written: address bits 31..0",
          byte_strobes=True),
        R("DESC_ADDR_HI", 0x14, "RW", "descriptor being written: address bits 63..32",
          byte_strobes=True),
        R("DESC_LENGTH", 0x18, "RW", "descriptor being written: raw length in bytes",
          byte_strobes=True),
        R("DESC_CTRL", 0x1C, "RW", "descriptor being written: the rest of it (docs/ENGINE.md)",
          (F("tag", 0, 8, "returned in the status"),
           F("codec", 8, 8, "offload codec: 0 raw, 1 ZVC, 2 RLE, 3 ZVCE"),
           F("direction", 16, 8, "0 offload, 1 prefetch"),
           F("reserved", 24, 8, "passed to the engine as written (write 0)")),
          byte_strobes=True),
        R("DOORBELL", 0x20, "WO", "any value: the four DESC_ words go as one descriptor "
          "into the submission queue of its direction (prefetch for direction 1, offload "
          "for every other); they keep their values. SLVERR when that queue is full: "
          "nothing is queued, retry after SUB_FREE says there is room. The engine gets one "
          "descriptor of each direction at a time, the next when its status is back"),
        R("SUB_FREE", 0x24, "RO", "free slots of the submission queues",
          (F("offload", 0, 8, "offload queue (descriptors of every direction but 1)"),
           F("prefetch", 8, 8, "prefetch queue (direction 1)"),
           F("reserved", 16, 16, "0"))),
        R("STATUS_LO", 0x30, "RO", "oldest status word, bits 31..0: the length (docs/ENGINE.md)."
          " SLVERR when the status queue is empty"),
        R("STATUS_HI", 0x34, "RO", "oldest status word, bits 63..32; reading it removes that "
          "status from the queue. SLVERR (and nothing removed) when the queue is empty",
          (F("tag", 0, 8, "the descriptor's"), F("code", 8, 8, "error code, 0 = OK"),
           F("direction", 16, 8, "the descriptor's"), F("reserved", 24, 8, "0"))),
        R("STATUS_COUNT", 0x38, "RO", "status words in the queue"),
        R("IRQ_ENABLE", 0x40, "RW", "interrupt mask",
          (F("status", 0, 1, "1: `irq` follows IRQ_PENDING.status; 0: `irq` stays low"),
           F("reserved", 1, 31, "0 (other values answer SLVERR)"))),
        R("IRQ_PENDING", 0x44, "RO", "interrupt state (level: it clears when the cause does)",
          (F("status", 0, 1, "STATUS_COUNT >= IRQ_THRESHOLD, or the queue has not been empty "
                             "for IRQ_TIMEOUT cycles since the last pop (IRQ_TIMEOUT != 0)"),
           F("irq", 1, 1, "the `irq` output"))),
        R("IRQ_THRESHOLD", 0x48, "RW", "coalescing: status words that raise the interrupt, "
          "1..status_depth (reset 1); other values answer SLVERR"),
        R("IRQ_TIMEOUT", 0x4C, "RW", f"coalescing time-out in cycles, 0 (off, reset) .. "
          f"{(1 << IRQ_TIMEOUT_BITS) - 1}: a status waits at most this long below the "
          "threshold; larger values answer SLVERR"),
    ]
    for k in range(ZVCE_TABLE_WORDS):
        regs.append(R(f"ZVCE_TABLE{k}", ZVCE_TABLE_BASE + 4 * k, "RW",
                      f"code table of ZVCE offloads, bytes {4 * k + 3}..{4 * k} (the 16 bytes of "
                      "`golden.zvce.CodeTable.pack()`, byte 0 in bits 7..0 of ZVCE_TABLE0; "
                      "reset: 0, a valid table). Sampled as each offload descriptor starts; a "
                      "malformed table makes its ZVCE offloads BAD_PARAMS. Unused without ZVCE "
                      "(CONFIG1.codecs bit 3)" if k == 0 else
                      f"code table of ZVCE offloads, bytes {4 * k + 3}..{4 * k} (ZVCE_TABLE0)",
                      byte_strobes=True))
    for k, (name, what) in enumerate(COUNTERS):
        off = COUNTER_BASE + 8 * k
        regs.append(R(f"{name}_LO", off, "RO", f"counter: {what}; bits 31..0. Reading it "
                      "latches bits 63..32 of the same instant for the next *_HI read"))
        regs.append(R(f"{name}_HI", off + 4, "RO", "bits 63..32 latched by the last read of a "
                      "counter's _LO word (read _LO first)"))
    return tuple(regs)


#: The register map, in address order.
REGISTERS = _registers()


def register(name: str) -> Register:
    """The :class:`Register` called ``name``.

    Raises
    ------
    KeyError
        No such register.
    """
    for r in REGISTERS:
        if r.name == name:
            return r
    raise KeyError(f"no register {name!r}")


def config_words(params: EngineParams, sub_depth: int, status_depth: int) -> tuple[int, int]:
    """Values of ``CONFIG0`` and ``CONFIG1`` for a configuration."""
    c0 = (params.elem_bits | params.mem_bytes << 8 | params.pcie_bytes << 16
          | (params.chunk_bytes.bit_length() - 1) << 24)
    c1 = params.codecs | 1 | params.addr_width << 8 | sub_depth << 16 | status_depth << 24
    return c0, c1


def registers_markdown() -> str:
    """``docs/REGISTERS.md``: the register map as Markdown, generated from :data:`REGISTERS`."""
    lines = [
        "# Register map of the AXI4-Lite front end (`engine-axil`)",
        "",
        "Generated from `cdma.hw.engine.csr.REGISTERS` by `cdma registers -o docs/REGISTERS.md`;",
        "`tests/test_hw_engine_csr.py` checks that this file is what the table gives.",
        "The front end, the interrupt and the counters are described in",
        "[ENGINE.md](ENGINE.md#axi4-lite-register-front-end-engine-axil).",
        "",
        f"32-bit registers, {CSR_ADDR_WIDTH}-bit byte addresses (`s_axil_awaddr`/`araddr`). "
        "Address bits 1..0 are ignored (the write strobes say which bytes a write "
        "carries; a read returns the whole word). Every access is answered in a fixed "
        "number of cycles (R one cycle after AR, B two after AW and W), never held; "
        "an access the table does not allow answers SLVERR and changes nothing: an "
        "unmapped address, a write to "
        "RO or a read of WO, partial strobes on a register that needs all four, a value "
        "out of range, a doorbell on a full submission queue, a status read on an empty "
        "status queue.",
        "",
        "| offset | name | access | strobes | description |",
        "|---|---|---|---|---|",
    ]
    for r in REGISTERS:
        strobes = "any" if r.byte_strobes else ("all 4" if r.access != "RO" else "-")
        lines.append(f"| `{r.offset:#04x}` | {r.name} | {r.access} | {strobes} | {r.doc} |")
    lines.append("")
    for r in REGISTERS:
        if r.fields:
            lines += [f"### {r.name} fields", "", "| bits | field | description |",
                      "|---|---|---|"]
            for f in r.fields:
                bits = f"{f.lsb + f.width - 1}..{f.lsb}" if f.width > 1 else f"{f.lsb}"
                lines.append(f"| {bits} | `{f.name}` | {f.doc} |")
            lines.append("")
    return "\n".join(lines)


def registers_verilog_header() -> str:
    """The register offsets (and ``ID``, ``VERSION``) as Verilog ``define``s, from
    :data:`REGISTERS`: ``CDMA_REG_<NAME>`` is the byte address of register NAME."""
    lines = ["// cDMA register map (engine-axil), generated by `cdma registers --format vh`",
             "// from cdma.hw.engine.csr.REGISTERS; docs/REGISTERS.md describes it.",
             f"`define CDMA_ID 32'h{CSR_ID:08x}", f"`define CDMA_VERSION 32'h{CSR_VERSION:08x}"]
    lines += [f"`define CDMA_REG_{r.name} {CSR_ADDR_WIDTH}'h{r.offset:02x}" for r in REGISTERS]
    return "\n".join(lines)


def add_registers_arguments(parser) -> None:
    """``cdma registers [--format md|vh] [-o FILE]``."""
    parser.add_argument("--format", choices=("md", "vh"), default="md",
                        help="md: the Markdown of docs/REGISTERS.md (default); vh: Verilog "
                             "defines of the offsets, for testbenches and firmware")
    parser.add_argument("-o", "--output", default="-",
                        help="file to write (default: standard output)")


def run_registers(args) -> int:
    """Write :func:`registers_markdown` or :func:`registers_verilog_header` to ``args.output``."""
    import sys
    from pathlib import Path
    text = (registers_markdown() if args.format == "md" else registers_verilog_header()) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text)
    return 0


def axil_slave_members(addr_width: int = CSR_ADDR_WIDTH) -> dict:
    """AXI4-Lite slave ports (32-bit data) as component members, named ``s_axil_*``."""
    check_positive_int("addr_width", addr_width)
    return {
        "s_axil_awaddr": In(addr_width), "s_axil_awprot": In(3), "s_axil_awvalid": In(1),
        "s_axil_awready": Out(1),
        "s_axil_wdata": In(32), "s_axil_wstrb": In(4), "s_axil_wvalid": In(1),
        "s_axil_wready": Out(1),
        "s_axil_bresp": Out(2), "s_axil_bvalid": Out(1), "s_axil_bready": In(1),
        "s_axil_araddr": In(addr_width), "s_axil_arprot": In(3), "s_axil_arvalid": In(1),
        "s_axil_arready": Out(1),
        "s_axil_rdata": Out(32), "s_axil_rresp": Out(2), "s_axil_rvalid": Out(1),
        "s_axil_rready": In(1),
    }


#: Counter byte increments per cycle (``add_*`` inputs): bits.
ADD_BITS = 8


class EngineCSR(wiring.Component):
    """AXI4-Lite register front end of the engine (map: :data:`REGISTERS`).

    Parameters
    ----------
    params : EngineParams
        The engine's configuration (reported in ``CONFIG0``/``CONFIG1``).
    sub_depth : int
        Submission queue slots per direction, 1..255.
    status_depth : int
        Status queue slots, 1..255.

    Members
    -------
    s_axil_* : AXI4-Lite slave, 32-bit data, :data:`CSR_ADDR_WIDTH` address bits
    desc : Out(stream.Signature(128))
        Descriptors to the engine (``docs/ENGINE.md`` layout).
    status : In(stream.Signature(64))
        Status words from the engine; counted into ``*_DONE``/``*_ERRORS`` as
        they enter the status queue.
    add_off_raw, add_off_frame, add_pre_frame, add_pre_raw : In(8)
        Bytes to add this cycle to ``OFF_RAW_BYTES``, ``OFF_FRAME_BYTES``,
        ``PRE_FRAME_BYTES`` and ``PRE_RAW_BYTES``.
    irq : Out(1)
        Level interrupt (a register): ``IRQ_ENABLE.status`` and ``IRQ_PENDING.status``.
    zvce_table : Out(128)
        ``ZVCE_TABLE3..0``: the engine's ``zvce_table`` input.

    Raises
    ------
    TypeError
        ``params`` is not an :class:`EngineParams`, or a depth is not an int.
    ValueError
        A depth is out of range.
    """

    def __init__(self, params: EngineParams, *, sub_depth: int = 4, status_depth: int = 16):
        if not isinstance(params, EngineParams):
            raise TypeError(f"params must be an EngineParams, not {params!r}")
        for name, value in (("sub_depth", sub_depth), ("status_depth", status_depth)):
            check_positive_int(name, value)
            if value > 255:
                raise ValueError(f"{name} must be from 1 to 255, not {value!r}")
        self._p, self._sub_depth, self._status_depth = params, sub_depth, status_depth
        members = axil_slave_members()
        members.update({
            "desc": Out(stream.Signature(8 * DESCRIPTOR_BYTES)),
            "status": In(stream.Signature(8 * STATUS_BYTES)),
            "add_off_raw": In(ADD_BITS), "add_off_frame": In(ADD_BITS),
            "add_pre_frame": In(ADD_BITS), "add_pre_raw": In(ADD_BITS),
            "irq": Out(1),
            "zvce_table": Out(8 * TABLE_BYTES),
        })
        super().__init__(members)
        self._counters = {name: Signal(64, name=f"cnt_{name.lower()}") for name, _ in COUNTERS}

    params = property(lambda self: self._p, doc="The :class:`EngineParams`.")
    counters = property(lambda self: dict(self._counters),
                        doc="The counter registers by name (:data:`COUNTERS`), for tests.")
    sub_depth = property(lambda self: self._sub_depth,
                         doc="Submission queue slots per direction.")
    status_depth = property(lambda self: self._status_depth, doc="Status queue slots.")

    def __repr__(self):
        # (getattr: Amaranth's unused-elaboratable warning calls repr even on an
        # instance whose constructor refused its parameters)
        return (f"EngineCSR({getattr(self, '_p', None)!r}, "
                f"sub_depth={getattr(self, '_sub_depth', None)}, "
                f"status_depth={getattr(self, '_status_depth', None)})")

    def elaborate(self, platform):
        m = Module()
        SD, QD = self._sub_depth, self._status_depth
        reg = {r.name: r for r in REGISTERS}

        # One submission queue per direction, and at most one descriptor of each
        # direction inside the engine (issued, status not back yet): the engine's
        # descriptor register then never holds a descriptor whose unit is busy,
        # so a direction that is stalled (C2H backpressure, a slow H2C) never
        # holds up the other one.  The engine's units take one descriptor at a
        # time anyway; the cost is the few cycles from a status to the next issue.
        m.submodules.sub_off = sub_off = SyncFIFOBuffered(width=8 * DESCRIPTOR_BYTES, depth=SD)
        m.submodules.sub_pre = sub_pre = SyncFIFOBuffered(width=8 * DESCRIPTOR_BYTES, depth=SD)
        m.submodules.stq = stq = SyncFIFOBuffered(width=8 * STATUS_BYTES, depth=QD)
        m.d.comb += [stq.w_data.eq(self.status.p), stq.w_en.eq(self.status.valid),
                     self.status.ready.eq(stq.w_rdy)]

        # ---- state ---------------------------------------------------------------
        desc_words = {n: Signal(32, name=n.lower()) for n in
                      ("DESC_ADDR_LO", "DESC_ADDR_HI", "DESC_LENGTH", "DESC_CTRL")}
        table_words = {f"ZVCE_TABLE{k}": Signal(32, name=f"zvce_table{k}")
                       for k in range(ZVCE_TABLE_WORDS)}
        # (the registers written byte by byte)
        strobed = {**desc_words, **table_words}
        m.d.comb += self.zvce_table.eq(Cat(*table_words.values()))
        irq_enable = Signal()
        threshold = Signal(range(QD + 1), init=1)
        timeout = Signal(IRQ_TIMEOUT_BITS)
        timer = Signal(IRQ_TIMEOUT_BITS)
        counters = list(self._counters.values())
        snap_hi = Signal(32)
        m.d.comb += [sub_off.w_data.eq(Cat(*desc_words.values())),
                     sub_pre.w_data.eq(Cat(*desc_words.values()))]

        # ---- counters ------------------------------------------------------------
        adds = {"OFF_RAW_BYTES": self.add_off_raw, "OFF_FRAME_BYTES": self.add_off_frame,
                "PRE_FRAME_BYTES": self.add_pre_frame, "PRE_RAW_BYTES": self.add_pre_raw}
        st_in = Signal()
        st_pre = Signal()
        st_err = Signal()
        m.d.comb += [st_in.eq(self.status.valid & self.status.ready),
                     st_pre.eq(self.status.p[48:56] == PREFETCH),
                     st_err.eq(self.status.p[40:48] != 0)]
        adds["OFF_DONE"] = st_in & ~st_pre
        adds["OFF_ERRORS"] = st_in & ~st_pre & st_err
        adds["PRE_DONE"] = st_in & st_pre
        adds["PRE_ERRORS"] = st_in & st_pre & st_err
        for (name, _), cnt in zip(COUNTERS, counters):
            m.d.sync += cnt.eq(cnt + adds[name])

        # ---- issue: one descriptor in flight per direction, round robin -------------
        busy_off, busy_pre = Signal(), Signal()
        prefer_pre = Signal()
        can_off = sub_off.r_rdy & ~busy_off
        can_pre = sub_pre.r_rdy & ~busy_pre
        pick_pre = Signal()
        pick_off = Signal()
        load = ~self.desc.valid | self.desc.ready     # the output register is free next cycle
        m.d.comb += [pick_pre.eq(load & can_pre & (prefer_pre | ~can_off)),
                     pick_off.eq(load & can_off & ~pick_pre)]
        with m.If(self.desc.valid & self.desc.ready):
            m.d.sync += self.desc.valid.eq(0)
        with m.If(pick_off | pick_pre):
            m.d.sync += [self.desc.valid.eq(1),
                         self.desc.p.eq(Mux(pick_pre, sub_pre.r_data, sub_off.r_data)),
                         prefer_pre.eq(pick_off)]
            m.d.comb += [sub_pre.r_en.eq(pick_pre), sub_off.r_en.eq(pick_off)]
        # a status of a direction ends its descriptor (unknown directions: offload's)
        with m.If(pick_off):
            m.d.sync += busy_off.eq(1)
        with m.Elif(st_in & ~st_pre):
            m.d.sync += busy_off.eq(0)
        with m.If(pick_pre):
            m.d.sync += busy_pre.eq(1)
        with m.Elif(st_in & st_pre):
            m.d.sync += busy_pre.eq(0)

        # ---- interrupt -----------------------------------------------------------
        count = stq.r_level
        popped = Signal()
        with m.If((count == 0) | popped):
            m.d.sync += timer.eq(0)
        with m.Elif(timer != (1 << IRQ_TIMEOUT_BITS) - 1):
            m.d.sync += timer.eq(timer + 1)
        pending = Signal()
        m.d.comb += pending.eq((count >= threshold)
                               | ((timeout != 0) & (count != 0) & (timer >= timeout)))
        m.d.sync += self.irq.eq(irq_enable & pending)

        # ---- read channel ----------------------------------------------------------
        c0, c1 = config_words(self._p, SD, QD)
        free_off, free_pre = Signal(8), Signal(8)
        m.d.comb += [free_off.eq(SD - sub_off.level), free_pre.eq(SD - sub_pre.level)]
        ar_word = self.s_axil_araddr[2:]
        rdata = Signal(32)
        rok = Signal()
        pop = Signal()
        snap = Signal()
        snap_src = Signal(32)
        values = {
            "ID": Const(CSR_ID, 32), "VERSION": Const(CSR_VERSION, 32),
            "CONFIG0": Const(c0, 32), "CONFIG1": Const(c1, 32),
            **strobed,
            "SUB_FREE": Cat(free_off, free_pre),
            "STATUS_LO": stq.r_data[:32], "STATUS_HI": stq.r_data[32:],
            "STATUS_COUNT": count,
            "IRQ_ENABLE": irq_enable, "IRQ_PENDING": Cat(pending, self.irq),
            "IRQ_THRESHOLD": threshold, "IRQ_TIMEOUT": timeout,
        }
        for (name, _), cnt in zip(COUNTERS, counters):
            values[f"{name}_LO"] = cnt[:32]
            values[f"{name}_HI"] = snap_hi
        # rdata/rok: one case per readable register (every case and the default
        # assign both, so each becomes a full case); read side effects by compare.
        with m.Switch(ar_word):
            for r in REGISTERS:
                if r.access != "WO":
                    with m.Case(r.offset >> 2):
                        m.d.comb += [rdata.eq(values[r.name]),
                                     rok.eq(stq.r_rdy if r.name.startswith("STATUS_") and
                                            r.name != "STATUS_COUNT" else 1)]
            with m.Default():
                m.d.comb += [rdata.eq(0), rok.eq(0)]
        m.d.comb += pop.eq(ar_word == reg["STATUS_HI"].offset >> 2)
        for k, (name, _) in enumerate(COUNTERS):
            with m.If(ar_word == reg[f"{name}_LO"].offset >> 2):
                m.d.comb += [snap.eq(1), snap_src.eq(counters[k][32:])]
        rvalid = self.s_axil_rvalid
        m.d.comb += self.s_axil_arready.eq(~rvalid)
        with m.If(rvalid & self.s_axil_rready):
            m.d.sync += rvalid.eq(0)
        with m.If(self.s_axil_arvalid & ~rvalid):
            m.d.sync += [rvalid.eq(1), self.s_axil_rdata.eq(Mux(rok, rdata, 0)),
                         self.s_axil_rresp.eq(Mux(rok, OKAY, SLVERR))]
            with m.If(rok & pop):
                m.d.comb += [stq.r_en.eq(1), popped.eq(1)]
            with m.If(rok & snap):
                m.d.sync += snap_hi.eq(snap_src)

        # ---- write channel ---------------------------------------------------------
        # A write is taken into registers (word address, data, strobes) and carried
        # out the next cycle from them: no path from the bus inputs into the decode,
        # and the decode reaches the queues' write enables from flip-flops.
        # The address is decoded as it is taken: one flag per writable register.
        bvalid = self.s_axil_bvalid
        pend = Signal()
        writable = [r for r in REGISTERS if r.access != "RO"]
        hits = {r.name: Signal(name=f"whit_{r.name.lower()}") for r in writable}
        wdata, wstrb = Signal(32), Signal(4)
        full = Signal()
        go = Signal()
        m.d.comb += go.eq(self.s_axil_awvalid & self.s_axil_wvalid & ~bvalid & ~pend)
        m.d.comb += [self.s_axil_awready.eq(go), self.s_axil_wready.eq(go)]
        with m.If(go):
            m.d.sync += [pend.eq(1), wdata.eq(self.s_axil_wdata), wstrb.eq(self.s_axil_wstrb),
                         full.eq(self.s_axil_wstrb == 0b1111)]
            m.d.sync += [hits[r.name].eq(self.s_axil_awaddr[2:] == r.offset >> 2)
                         for r in writable]
        with m.If(bvalid & self.s_axil_bready):
            m.d.sync += bvalid.eq(0)
        wok = Signal()
        push = Signal()
        # the staged descriptor's queue, kept as a flag beside DESC_CTRL
        to_pre = Signal()
        with m.If(pend & hits["DESC_CTRL"] & wstrb[2]):
            m.d.sync += to_pre.eq(wdata[16:24] == PREFETCH)
        for r in writable:
            hit = hits[r.name]
            if r.byte_strobes:
                with m.If(hit):
                    m.d.comb += wok.eq(1)
                with m.If(pend & hit):
                    word = strobed[r.name]
                    for b in range(4):
                        with m.If(wstrb[b]):
                            m.d.sync += word[8 * b:8 * b + 8].eq(wdata[8 * b:8 * b + 8])
                continue
            ok = {"DOORBELL": Mux(to_pre, sub_pre.w_rdy, sub_off.w_rdy),
                  "IRQ_ENABLE": wdata[1:] == 0,
                  "IRQ_THRESHOLD": (wdata != 0) & (wdata <= QD),
                  "IRQ_TIMEOUT": wdata[IRQ_TIMEOUT_BITS:] == 0}[r.name]
            with m.If(hit):
                m.d.comb += wok.eq(full & ok)
            if r.name == "DOORBELL":
                # a FIFO ignores a write while full, so the enable needs no w_rdy
                m.d.comb += push.eq(pend & hit & full)
                continue
            with m.If(pend & hit & full & ok):
                if r.name == "IRQ_ENABLE":
                    m.d.sync += irq_enable.eq(wdata[0])
                elif r.name == "IRQ_THRESHOLD":
                    m.d.sync += threshold.eq(wdata)
                else:
                    m.d.sync += timeout.eq(wdata)
        m.d.comb += [sub_off.w_en.eq(push & ~to_pre), sub_pre.w_en.eq(push & to_pre)]
        with m.If(pend):
            m.d.sync += [pend.eq(0), bvalid.eq(1), self.s_axil_bresp.eq(Mux(wok, OKAY, SLVERR))]
        return m
