# amaranth: UnusedElaboratable=no
"""Amaranth-simulator unit tests of hw.zvc against the golden ZVC codec.

Expected bytes always come from ``golden.zvc``; the RTL runs with random input
gaps and output backpressure, and a monitor checks the stream rules on every
output (valid never drops and the payload holds until the transfer).
"""
from __future__ import annotations


import numpy as np
import pytest
from amaranth.sim import Simulator

from cdma import golden
from cdma.golden import zvc as gzvc
from cdma.hw.zvc import ZVCCompressor, ZVCDecompressor, ZVCError, _at_most_pow2, _below_pow2
import hwsim
from hwsim import add_watchdog, bytes_of, element_beats, elements, get_packet, latency, put_beats


# ---- harness ------------------------------------------------------------------------

def run_compressor(elem_bits, lanes, out_bytes, chunks, seed=0, gap=0.3, backpressure=0.3):
    """Compress each chunk of ``chunks``; returns the output bytes of each packet."""
    return hwsim.run_encoder(ZVCCompressor(elem_bits, lanes, out_bytes), chunks, seed, gap,
                             backpressure)


def run_decompressor(elem_bits, lanes, in_bytes, chunks, seed=0, gap=0.3, backpressure=0.3):
    """``chunks``: list of (payload bytes, count).  Returns ([(elements, user)], [error codes])."""
    return hwsim.run_decoder(ZVCDecompressor(elem_bits, lanes, in_bytes), chunks, seed, gap,
                             backpressure)


# ---- tests: parameters --------------------------------------------------------------

def test_error_codes_match_golden():
    for code in ZVCError:
        assert int(code) == int(golden.ErrorCode[code.name])


# ---- tests: compressor --------------------------------------------------------------

def edge_chunks(elem_bits, lanes, rng):
    dt = golden.elem_dtype(elem_bits)
    ones = np.full(40, (1 << elem_bits) - 1, dt)
    chunks = [np.zeros(1, dt), np.ones(1, dt), np.zeros(64, dt), ones,
              elements(33, 0.5, elem_bits, rng), elements(31, 0.5, elem_bits, rng),
              elements(lanes * 3 + 1, 0.7, elem_bits, rng)]
    for pos in range(lanes):                 # a single nonzero at every lane position
        x = np.zeros(lanes * 2, dt)
        x[lanes + pos] = 1 << (elem_bits - 1)
        chunks.append(x)
    if elem_bits == 32:                      # -0.0 and NaN bit patterns are nonzero
        chunks.append(np.array([0.0, -0.0, np.nan, 0.0, 1e-45], np.float32).view(dt))
    return chunks


CONFIGS = [(8, 8, 8), (16, 8, 16), (32, 8, 32), (32, 16, 64), (8, 32, 4), (32, 4, 5),
           (16, 16, 128), (8, 1, 1)]


@pytest.mark.parametrize("elem_bits, lanes, nbytes", CONFIGS)
def test_compressor_vs_golden(elem_bits, lanes, nbytes):
    rng = np.random.default_rng(elem_bits * 100 + lanes)
    chunks = edge_chunks(elem_bits, lanes, rng)
    chunks += [elements(int(rng.integers(1, 100)), d, elem_bits, rng)
               for d in (0.0, 0.05, 0.5, 0.95, 1.0)]
    got = run_compressor(elem_bits, lanes, nbytes, chunks, seed=lanes)
    assert len(got) == len(chunks)
    for x, g in zip(chunks, got):
        assert g == gzvc.encode(x, elem_bits), f"chunk of {x.size} elements"


def test_compressor_full_throughput():
    """No gaps, no backpressure: one input beat per cycle when the output keeps up,
    and the packet is golden's encoding."""
    elem_bits, lanes, out_bytes = 32, 8, 64
    rng = np.random.default_rng(5)
    x = elements(32 * 16, 0.5, elem_bits, rng)
    beats = element_beats(x, elem_bits, lanes)
    dut = ZVCCompressor(elem_bits, lanes, out_bytes)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    taken, packet = [], []

    async def producer(ctx):
        await put_beats(ctx, dut.i, beats, rng, 0.0)

    async def consumer(ctx):
        packet.extend(await get_packet(ctx, dut.o, rng, 0.0))

    async def input_transfers(ctx):
        cycle = 0
        async for _, _, valid, ready in ctx.tick().sample(dut.i.valid, dut.i.ready):
            cycle += 1
            if valid and ready:
                taken.append(cycle)

    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.add_testbench(input_transfers, background=True)
    add_watchdog(sim, 200_000)
    sim.run()
    assert bytes_of(packet, out_bytes) == gzvc.encode(x, elem_bits)
    assert len(taken) == len(beats) == 64
    assert taken[-1] - taken[0] == len(beats) - 1, "input stalled"


# ---- tests: decompressor ------------------------------------------------------------

@pytest.mark.parametrize("elem_bits, lanes, nbytes", CONFIGS)
def test_decompressor_vs_golden(elem_bits, lanes, nbytes):
    rng = np.random.default_rng(elem_bits * 100 + lanes + 1)
    chunks = edge_chunks(elem_bits, lanes, rng)
    chunks += [elements(int(rng.integers(1, 100)), d, elem_bits, rng)
               for d in (0.0, 0.05, 0.5, 0.95, 1.0)]
    got, errors = run_decompressor(elem_bits, lanes, nbytes,
                                   [(gzvc.encode(x, elem_bits), x.size) for x in chunks],
                                   seed=lanes)
    assert errors == []
    assert len(got) == len(chunks)
    for x, (y, user) in zip(chunks, got):
        assert user == 0
        np.testing.assert_array_equal(y, x)


def malformed_cases(elem_bits, rng):
    """(payload, count) of malformed chunks, each between two good ones."""
    x = elements(70, 0.6, elem_bits, rng)
    x[69] = 1
    good = gzvc.encode(x, elem_bits)
    bad_mask = bytearray(gzvc.encode(x[:40], elem_bits))
    # window 1 has 8 elements: set mask bit 20 (the mask is at a known offset)
    off = 4 + int(np.count_nonzero(x[:32])) * (elem_bits // 8)
    bad_mask[off + 2] |= 0x10
    return [
        (good[:-1], 70),             # one byte short
        (good[:3], 70),              # ends inside the first mask
        (good + b"\x00", 70),        # one extra byte
        (good + bytes(64), 70),      # extra beats
        (good, 69),                  # count disagrees (the last mask marks element 69)
        (bytes(bad_mask), 40),       # mask bit past the count
        (good, 100),                 # stream ends before window 3
        (b"\x00" * 4, 0),            # bytes for a zero-element chunk
    ]


@pytest.mark.parametrize("elem_bits, lanes, nbytes", [(32, 8, 32), (8, 16, 4), (16, 4, 64), (8, 4, 8)])
def test_decompressor_malformed_recovers(elem_bits, lanes, nbytes):
    """Each malformed chunk is followed by a good one, which must come out whole."""
    rng = np.random.default_rng(7)
    chunks, expect = hwsim.malformed_then_good(gzvc, malformed_cases(elem_bits, rng), elem_bits,
                                               rng, density=0.5)
    got, errors = run_decompressor(elem_bits, lanes, nbytes, chunks, seed=3)
    hwsim.check_decoded(chunks, expect, got, errors)


def test_round_trip_random_relu():
    """Compressor output fed to the decompressor restores ReLU-like data exactly."""
    rng = np.random.default_rng(11)
    x = np.maximum(rng.standard_normal(300).astype(np.float32), 0).view(np.uint32)
    enc = run_compressor(32, 8, 32, [x], seed=1)[0]
    assert enc == gzvc.encode(x, 32)
    got, errors = run_decompressor(32, 8, 32, [(enc, x.size)], seed=2)
    assert errors == [] and len(got) == 1
    y, user = got[0]
    assert user == 0
    np.testing.assert_array_equal(y, x)


def test_empty_chunks_and_null_last_beats():
    """A last beat that keeps nothing closes the chunk; an empty chunk gives a null beat."""
    elem_bits, lanes, nbytes = 16, 8, 8
    rng = np.random.default_rng(12)
    x = elements(32, 0.5, elem_bits, rng)
    dut = ZVCCompressor(elem_bits, lanes, nbytes)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    beats = [b[:2] + (0,) for b in element_beats(x, elem_bits, lanes)] + [(0, 0, 1)]
    results = []

    async def producer(ctx):
        await put_beats(ctx, dut.i, [(0, 0, 1)], rng, 0.3)          # empty chunk
        await put_beats(ctx, dut.i, beats, rng, 0.3)                # 32 elements + null beat

    async def consumer(ctx):
        for _ in range(2):
            results.append(await get_packet(ctx, dut.o, rng, 0.3))

    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    add_watchdog(sim, 200_000)
    sim.run()
    assert [b["keep"] for b in results[0]] == [0]
    assert bytes_of(results[0], nbytes) == gzvc.encode(x[:0], elem_bits) == b""
    assert bytes_of(results[1], nbytes) == gzvc.encode(x, elem_bits)

    # The decompressor: a zero count with a null beat is a well-formed empty chunk.
    got, errors = run_decompressor(elem_bits, lanes, nbytes,
                                   [(b"", 0), (gzvc.encode(x, elem_bits), 32), (b"", 0)])
    assert errors == []
    assert [(y.size, user) for y, user in got] == [(0, 0), (32, 0), (0, 0)]
    np.testing.assert_array_equal(got[1][0], x)


@pytest.mark.parametrize("elem_bits, lanes, nbytes", CONFIGS)
def test_decompressor_empty_chunks_between(elem_bits, lanes, nbytes):
    """Empty chunks (count 0, a null beat) before, between and after full ones,
    at full rate: the chunk after each starts a cycle after its drop, at the
    next packet's first unit."""
    rng = np.random.default_rng(elem_bits + lanes)
    x = [elements(n, 0.5, elem_bits, rng) for n in (lanes, 33, 2 * lanes + 1, 64)]
    dt = golden.elem_dtype(elem_bits)
    chunks = [np.zeros(0, dt), x[0], np.zeros(0, dt), np.zeros(0, dt), x[1], np.zeros(0, dt),
              x[2], x[3], np.zeros(0, dt)]
    got, errors = run_decompressor(elem_bits, lanes, nbytes,
                                   [(gzvc.encode(c, elem_bits), c.size) for c in chunks],
                                   seed=3, gap=0.0, backpressure=0.0)
    assert errors == []
    assert len(got) == len(chunks)
    for c, (y, user) in zip(chunks, got):
        assert user == 0
        np.testing.assert_array_equal(y, c)


try:
    from hypothesis import given, settings, strategies as st
except ImportError:                                   # pragma: no cover
    given = None

if given is not None:
    @settings(max_examples=20, deadline=None)
    @given(st.sampled_from([(8, 4, 3), (16, 8, 16), (32, 2, 8)]),
           st.lists(st.tuples(st.integers(1, 80), st.floats(0, 1)), min_size=1, max_size=4),
           st.integers(0, 2**32 - 1))
    def test_property_round_trip(config, shapes, seed):
        """Random configurations and chunks: compressor == golden, decompressor inverts it."""
        elem_bits, lanes, nbytes = config
        rng = np.random.default_rng(seed)
        chunks = [elements(n, d, elem_bits, rng) for n, d in shapes]
        enc = run_compressor(elem_bits, lanes, nbytes, chunks, seed=seed)
        assert enc == [gzvc.encode(x, elem_bits) for x in chunks]
        got, errors = run_decompressor(elem_bits, lanes, nbytes,
                                       [(e, x.size) for e, x in zip(enc, chunks)], seed=seed)
        assert errors == []
        for x, (y, user) in zip(chunks, got):
            assert user == 0
            np.testing.assert_array_equal(y, x)


# ---- the generator and the AXI wrapper ----------------------------------------------

def test_generated_ports():
    from cdma.hw.generate import generate_verilog
    v = generate_verilog("zvc-decompress", elem_bits=16, lanes=8, in_bytes=4, top="zd")
    header = v[v.index("module zd("):].split(";")[0]
    for port in ("clk", "rst", "s_axis_tdata", "s_axis_tkeep", "s_axis_tvalid", "s_axis_tready",
                 "s_axis_tlast", "m_axis_tdata", "m_axis_tkeep", "m_axis_tvalid", "m_axis_tready",
                 "m_axis_tlast", "m_axis_tuser", "s_count_tdata", "s_count_tvalid",
                 "s_count_tready", "error", "error_code"):
        assert port in header.replace("(", " ").replace(")", " ").replace(",", " ").split(), port
    assert "input [31:0] s_axis_tdata;" in v and "output [127:0] m_axis_tdata;" in v
    assert "output [15:0] m_axis_tkeep;" in v


def test_registry_errors():
    from cdma.hw.generate import build, register
    with pytest.raises(ValueError, match="'zvc-nope'"):
        build("zvc-nope")
    with pytest.raises(ValueError, match="'width'"):
        build("zvc-compress", width=3)
    with pytest.raises(ValueError, match="'zvc-compress'"):
        register("zvc-compress", "cdma.hw.zvc:ZVCCompressor", "again")
    with pytest.raises(TypeError, match="^factory must be a callable or a 'module:function' "
                                        "string, not 42$"):
        register("zvc-other", 42, "bad factory")
    with pytest.raises(TypeError, match="'lanes'"):
        register("zvc-other", "cdma.hw.zvc:ZVCCompressor", "bad param", "lanes")
    with pytest.raises(ValueError, match="^lanes must be a power of two from 1 to 32, not 7$"):
        build("zvc-compress", lanes=7)


def test_generate_cli(tmp_path, capsys):
    from cdma.cli import main
    out = tmp_path / "c.v"
    assert main(["generate", "zvc-compress", "--elem-bits", "8", "--lanes", "16", "--out-bytes", "8",
                 "--top", "zc", "-o", str(out)]) == 0
    text = out.read_text()
    assert "module zc(" in text and "output [63:0] m_axis_tdata;" in text
    assert main(["generate", "zvc-compress", "--lanes", "12", "-o", str(out)]) == 2
    assert ("cdma generate zvc-compress: lanes must be a power of two from 1 to 32, not 12"
            in capsys.readouterr().err)


def test_axis_wrapper_rejects():
    from cdma.hw.axis import AXIStreamTop
    with pytest.raises(TypeError, match="'x'"):
        AXIStreamTop("x", {})
    inner = ZVCCompressor(8, 8, 8)        # never elaborated on purpose (pragma, line 1)
    with pytest.raises(ValueError, match="'q'"):
        AXIStreamTop(inner, {"q": "s_axis"})


@pytest.mark.parametrize("elem_bits, lanes", [(32, 1), (16, 4), (8, 8), (32, 8), (32, 16),
                                              (8, 32)])
def test_documented_latency(elem_bits, lanes):
    """docs/ZVC.md: compressor 13 + ceil(log2(lanes) / 2) cycles (two network
    levels per stage) + max(0, ceil(log2(lanes) / 2) - 1) (the scan's stages
    past the first); decompressor, for a chunk of one short window with its
    count already taken: the window decoder (<= 16 lanes) 13 cycles at <= 4
    lanes, 14 at 8 (one more expansion stage) and 16 (two steps a window: the
    move a stage earlier, the last window's checks a stage later, the
    expansion a stage more), one more where a step's units are more than 128
    bits (their shift in two stages); the step-at-a-time decoder (32 lanes)
    10."""
    async def nothing(ctx):
        await ctx.tick()
    n = latency(ZVCCompressor(elem_bits, lanes, 32), (5, (1 << lanes) - 1, 1), nothing)
    half = -(-(lanes.bit_length() - 1) // 2)
    assert n == 13 + half + max(0, half - 1)

    dec = ZVCDecompressor(elem_bits, lanes, 64)

    async def give_count(ctx):
        ctx.set(dec.count.valid, 1)
        ctx.set(dec.count.p, lanes)
        await ctx.tick().until(dec.count.ready)
        ctx.set(dec.count.valid, 0)
    payload = gzvc.encode(np.array([7] + [0] * (lanes - 1), golden.elem_dtype(elem_bits)))
    beat = (int.from_bytes(payload, "little"), (1 << len(payload)) - 1, 1)
    expect = 13 if lanes <= 4 else 14 + (lanes * elem_bits > 128) if lanes <= 16 else 10
    assert latency(dec, beat, give_count) == expect


def test_power_of_two_comparisons():
    """The decompressor's reductions for ``< 2**k`` and ``<= 2**k`` (written so
    that synthesis cannot merge them into one comparison behind a multiplexer)
    equal the operators, for every 9-bit value and every limit it uses."""
    from amaranth.hdl import Module, Signal
    x = Signal(9)
    m = Module()
    flags = {}
    for limit in (1, 2, 4, 8, 16, 32, 64):
        below, at_most = Signal(name=f"below{limit}"), Signal(name=f"at_most{limit}")
        m.d.comb += [below.eq(_below_pow2(x, limit)), at_most.eq(_at_most_pow2(x, limit))]
        flags[limit] = (below, at_most)
    sim = Simulator(m)
    wrong = []

    async def bench(ctx):
        for v in range(1 << len(x)):
            ctx.set(x, v)
            for limit, (below, at_most) in flags.items():
                if (ctx.get(below), ctx.get(at_most)) != (v < limit, v <= limit):
                    wrong.append((v, limit))
    sim.add_testbench(bench)
    sim.run()
    assert wrong == []
