"""A wide first-word-fall-through FIFO built for fan-out, not for generality.

:class:`WideFIFO` holds the pieces of a free-running pipeline until a stalling
consumer takes them.  Its storage is split into ``copies`` memories (LUT RAM
on an FPGA) side by side, each written under its own copy of the write enable,
and every flag it drives (``r_valid``, the level) is a register: a write enable
that reaches a hundred RAM cells spread over a 512-bit datapath is otherwise
the slowest net of the block.  The producer gets no ``ready``: it must never
write more than the FIFO holds (it tracks :attr:`level` and stops early,
e.g. with credits).
"""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .skid import replicated
from .streams import check_positive_int

__all__ = ["WideFIFO"]


class WideFIFO(wiring.Component):
    """FIFO of ``depth`` words of ``width`` bits; reads fall through.

    Parameters
    ----------
    width : int
        Bits per word.
    depth : int
        Words (a power of two), including the output register.
    copies : int
        Memories side by side, each with its own write-enable register.

    Members
    -------
    w_en : In(1)
        Write ``w_data`` this cycle (the caller guarantees room).
    w_data : In(width)
    r_valid : Out(1)
        ``r_data`` holds the oldest word (a register).
    r_data : Out(width)
        The oldest word, from an output register.
    r_en : In(1)
        The oldest word is taken this cycle (only with ``r_valid``).
    level : Out(range(depth + 1))
        Words held (a register).

    Raises
    ------
    TypeError, ValueError
        A parameter is not a positive integer, or ``depth`` is not a power of two.
    """

    def __init__(self, width: int, depth: int, *, copies: int = 1):
        self._width = check_positive_int("width", width)
        self._depth = check_positive_int("depth", depth, minimum=2)
        if depth & (depth - 1):
            raise ValueError(f"depth must be a power of two, not {depth!r}")
        self._copies = min(check_positive_int("copies", copies), width)
        super().__init__({
            "w_en": In(1), "w_data": In(width),
            "r_valid": Out(1), "r_data": Out(width), "r_en": In(1),
            "level": Out(range(depth + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        W, D, NC = self._width, self._depth, self._copies
        abits = (D - 1).bit_length()
        # Writes are registered here (data, address and one enable per memory), so
        # the enable nets start at flip-flops placed next to their memories.
        we = replicated(m, "we", NC)
        wdata = Signal(W)
        waddr = replicated(m, "waddr", NC, width=abits)
        wptr = Signal(abits)
        m.d.sync += [wdata.eq(self.w_data), *[e.eq(self.w_en) for e in we],
                     *[a.eq(wptr) for a in waddr]]
        with m.If(self.w_en):
            m.d.sync += wptr.eq(wptr + 1)

        # Reads: every memory has an output register (with its own copy of the
        # valid flag and of the read pointer), loaded from the memory when it is
        # empty or being read; `r_en` only reaches the `copies` load decisions.
        outs = []
        o_valid = replicated(m, "o_valid", NC)
        rptrs = replicated(m, "rptr", NC, width=abits)
        has = Signal()                     # the memories hold a word, a register
        for k in range(NC):
            lo, hi = k * W // NC, (k + 1) * W // NC
            # LUT RAM, never block RAM: a block RAM's read register (the output
            # register below, merged into it) is slow to the fabric (5 ns at speed
            # 6), and the consumer adds the piece length at once (a 64-deep piece
            # FIFO became block RAM and capped the 8-byte ZVC compressor at 68 MHz)
            mem = Memory(shape=hi - lo, depth=D, init=[], attrs={"ram_style": "distributed"})
            m.submodules[f"mem{k}"] = mem
            wp = mem.write_port()
            rp = mem.read_port(domain="comb")
            m.d.comb += [wp.addr.eq(waddr[k]), wp.data.eq(wdata[lo:hi]), wp.en.eq(we[k]),
                         rp.addr.eq(rptrs[k])]
            data = Signal(hi - lo, name=f"r_data{k}")
            with m.If(~o_valid[k] | self.r_en):
                m.d.sync += [data.eq(rp.data), o_valid[k].eq(has)]
                with m.If(has):
                    m.d.sync += rptrs[k].eq(rptrs[k] + 1)
            outs.append(data)
        m.d.comb += [self.r_data.eq(Cat(*outs)), self.r_valid.eq(o_valid[0])]

        # `has` compares how many words have reached the memories with how many
        # have been loaded (counts one bit wider than an address, so a full memory
        # is not an empty one); both outcomes of this cycle's load are compared
        # ahead, and `r_en` only picks one (through an adder it was the critical
        # path of the RLE decoder's group FIFO).
        written = Signal(abits + 1)        # words written to the memories
        loaded = Signal(abits + 1)         # words loaded into the output register
        load = Signal()
        m.d.comb += load.eq((~o_valid[0] | self.r_en) & has)
        written_next = Signal(abits + 1)
        m.d.comb += written_next.eq(written + we[0])
        loaded_inc = Signal(abits + 1)     # (wraps like the counts)
        m.d.comb += loaded_inc.eq(loaded + 1)
        m.d.sync += [written.eq(written_next),
                     has.eq(Mux(load, written_next != loaded_inc, written_next != loaded))]
        with m.If(load):
            m.d.sync += loaded.eq(loaded_inc)

        # `level` counts words written to memory (one cycle after w_en) and not read.
        take = self.r_en & o_valid[0]
        level = Signal(range(D + 2))
        nxt = Signal(range(D + 2))
        m.d.comb += [nxt.eq(level + we[0] - take), self.level.eq(level)]
        m.d.sync += level.eq(nxt)
        return m
