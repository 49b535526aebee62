# amaranth: UnusedElaboratable=no
"""Amaranth-simulator unit tests of hw.zvce against the golden ZVCE codec.

Expected bytes and error codes always come from ``golden.zvce``; the RTL runs
with random input gaps and output backpressure, and a monitor checks the
stream rules on every output.
"""
from __future__ import annotations

import numpy as np
import pytest

from cdma import golden
from cdma.golden import zvce as gz
from cdma.hw.generate import build
from cdma.hw.zvce import ZVCECompressor, ZVCEDecompressor, ZVCEError, ZVCELoopback
import hwsim
from hwsim import byte_beats, bytes_of, element_beats, elements, get_packet, put_beats, simulate

# ---- harness ------------------------------------------------------------------------


def _table_value(table):
    return int.from_bytes(table.pack() if isinstance(table, gz.CodeTable) else bytes(table), "little")


def run_compressor(dut, chunks, tables, seed=0, gap=0.3, backpressure=0.3, probe=False):
    """Compress ``chunks`` (element arrays), chunk *c* with ``tables[c]``: each chunk's
    table is driven from its first beat to its last.  Returns each packet's bytes
    (and the ready-isolation findings with ``probe``)."""
    rng = np.random.default_rng(seed)
    results, isolation, hooks = [], [], []

    async def producer(ctx):
        for x, table in zip(chunks, tables):
            ctx.set(dut.code_table, _table_value(table))
            await put_beats(ctx, dut.i, element_beats(x, dut.elem_bits, dut.lanes), rng, gap)

    async def consumer(ctx):
        for _ in chunks:
            beats = await get_packet(ctx, dut.o, rng, backpressure,
                                     probe=[dut.i.ready] if probe else (), isolation=isolation)
            results.append(bytes_of(beats, dut.out_bytes))

    async def hook_watch(ctx):
        async for _, _, over, flow in ctx.tick().sample(dut._overrun, dut._overflow):
            if over or flow:
                hooks.append((int(over), int(flow)))

    simulate(dut, [producer, consumer], [hook_watch], rules_on=[dut.o])
    assert hooks == [], "a window was overwritten or the piece FIFO overflowed"
    return (results, isolation) if probe else results


def run_decompressor(dut, chunks, tables, seed=0, gap=0.3, backpressure=0.3, probe=False):
    """``chunks``: [(payload, count)], chunk *c* decoded with ``tables[c]`` (driven
    until its count is taken).  Returns ([(elements, user)], [error codes])."""
    rng = np.random.default_rng(seed)
    results, errors, isolation = [], [], []
    dt = golden.elem_dtype(dut.elem_bits)
    eb = dut.elem_bits // 8

    async def producer(ctx):
        for payload, _ in chunks:
            await put_beats(ctx, dut.i, byte_beats(payload, dut.in_bytes), rng, gap)

    async def counts(ctx):
        for (_, count), table in zip(chunks, tables):
            ctx.set(dut.code_table, _table_value(table))
            await put_beats(ctx, dut.count, [count], rng, gap)

    async def consumer(ctx):
        for _ in chunks:
            beats = await get_packet(ctx, dut.o, rng, backpressure,
                                     probe=[dut.i.ready, dut.count.ready] if probe else (),
                                     isolation=isolation)
            raw = bytes_of(beats, dut.lanes * eb, unit=eb)
            results.append((np.frombuffer(raw, dt), beats[-1]["user"]))

    async def error_watch(ctx):
        async for _, _, err, code in ctx.tick().sample(dut.error, dut.error_code):
            if err:
                errors.append(int(code))

    simulate(dut, [producer, counts, consumer], [error_watch], rules_on=[dut.o])
    return (results, errors, isolation) if probe else (results, errors)


def relu(n, elem_bits, rng):
    v = np.maximum(rng.standard_normal(n).astype(np.float32) * 1.5 - 0.3, 0).view(np.uint32)
    return v if elem_bits == 32 else (v >> 16).astype(np.uint16)


def edge_chunks(elem_bits, lanes, rng):
    """Lengths around beats and windows, all-zero, all-nonzero, all-literal
    (random bits), a single nonzero at every lane, -0.0/NaN/denormals, ReLU."""
    dt = golden.elem_dtype(elem_bits)
    top = elem_bits - 8
    out = [np.zeros(0, dt), np.zeros(1, dt), np.ones(1, dt), np.zeros(64, dt),
           np.full(40, (1 << elem_bits) - 1, dt),                       # literals
           np.full(33, 0x3F << top, dt) | np.arange(33, dtype=dt),      # a 2-bit code each
           relu(100, elem_bits, rng)]
    for n in sorted({1, lanes - 1, lanes, lanes + 1, 2 * lanes, 3 * lanes + 1, 4 * lanes,
                     31, 32, 33} - {0}):
        out.append(elements(n, 0.6, elem_bits, rng))
    for pos in range(0, lanes, max(1, lanes // 4)):
        x = np.zeros(lanes * 2, dt)
        x[lanes + pos] = 0x3E << top
        out.append(x)
    if elem_bits == 32:
        out.append(np.array([0.0, -0.0, np.nan, 0.0, 1e-45], np.float32).view(dt))
    return out


def table_variants(elem_bits, rng):
    """The default table, a table built from data, widths with 0-width classes and
    3-bit classes, a table with a byte listed twice, an empty-ish one (1 symbol each)."""
    data = relu(2000, elem_bits, rng)
    return [gz.DEFAULT_TABLE, gz.build_table(data, elem_bits),
            gz.CodeTable((0, 1, 3), tuple(range(0x38, 0x38 + 11))),
            gz.CodeTable((3, 0, 0), (0x3F, 0x3E, 0x3F, 0x40, 0x41, 0x3D, 0x3C, 0x00, 0x3E, 0xFF)),
            gz.CodeTable((0, 0, 0), (0x80, 0x00, 0x3F))]


CONFIGS = [(32, 4, 16), (16, 8, 16), (32, 16, 64), (16, 1, 3), (32, 2, 5), (16, 32, 64)]

# ---- tests: parameters --------------------------------------------------------------


def test_error_codes_match_golden():
    for code in ZVCEError:
        assert int(code) == int(golden.ErrorCode[code.name])


@pytest.mark.parametrize("cls", [ZVCECompressor, ZVCEDecompressor, ZVCELoopback])
def test_parameters_refused(cls):
    with pytest.raises(ValueError, match=r"not 8 .*use ZVC"):
        cls(8, 4, 16)
    with pytest.raises(ValueError, match="not 24"):
        cls(24, 4, 16)
    with pytest.raises(ValueError, match="not 3"):
        cls(32, 3, 16)
    with pytest.raises(ValueError, match="not 64"):
        cls(32, 64, 16)
    with pytest.raises(ValueError, match="not 0"):
        cls(32, 4, 0)
    with pytest.raises(ValueError, match="not 257"):
        cls(32, 4, 257)
    with pytest.raises(TypeError, match="not '4'"):
        cls(32, "4", 16)
    with pytest.raises(TypeError, match="not True"):
        cls(True, 4, 16)


def test_decompressor_count_bits_refused():
    with pytest.raises(ValueError, match="not 5"):
        ZVCEDecompressor(32, 4, 16, count_bits=5)


def test_generator():
    top = build("zvce-decompress", elem_bits=16, lanes=8)
    members = top.signature.members
    for port in ("s_axis_tdata", "s_count_tdata", "m_axis_tuser", "code_table", "error_code"):
        assert port in members
    assert build("zvce-compress", elem_bits=32, lanes=4).inner.out_bytes == 16
    with pytest.raises(ValueError, match="not 8"):
        build("zvce-compress", elem_bits=8)


def test_generate_cli(tmp_path, capsys):
    from cdma.cli import main
    out = tmp_path / "z.v"
    assert main(["generate", "zvce-compress", "--elem-bits", "16", "--lanes", "4", "--out-bytes",
                 "6", "--top", "zc", "-o", str(out)]) == 0
    text = out.read_text()
    assert "module zc(" in text and "input [127:0] code_table;" in text
    assert "output [47:0] m_axis_tdata;" in text
    assert main(["generate", "zvce-decompress", "--elem-bits", "8", "-o", str(out)]) == 2
    assert ("cdma generate zvce-decompress: elem_bits must be one of (16, 32) for ZVCE, not 8 "
            "(8-bit elements have no low bytes: use ZVC)" in capsys.readouterr().err)


def test_repr():
    assert repr(ZVCECompressor(32, 4, 16)) == "ZVCECompressor(elem_bits=32, lanes=4, out_bytes=16)"
    assert repr(ZVCEDecompressor(16, 8, 8)) == "ZVCEDecompressor(elem_bits=16, lanes=8, in_bytes=8)"

# ---- tests: compressor --------------------------------------------------------------


@pytest.mark.parametrize("elem_bits, lanes, out_bytes", CONFIGS)
def test_compressor_matches_golden(elem_bits, lanes, out_bytes):
    rng = np.random.default_rng(elem_bits * lanes + out_bytes)
    chunks = edge_chunks(elem_bits, lanes, rng)
    tables = table_variants(elem_bits, rng)
    # every chunk with the first table, then the tables cycling chunk by chunk
    chunks2 = chunks + chunks[::-1]
    per = [tables[0]] * len(chunks) + [tables[k % len(tables)] for k in range(len(chunks))]
    got = run_compressor(ZVCECompressor(elem_bits, lanes, out_bytes), chunks2, per, seed=lanes)
    for x, table, y in zip(chunks2, per, got):
        assert y == gz.encode(x, table, elem_bits), (x.size, table)


def test_compressor_ready_isolation():
    rng = np.random.default_rng(1)
    chunks = [elements(200, d, 32, rng) for d in (0.1, 0.9)]
    dut = ZVCECompressor(32, 4, 16)
    got, isolation = run_compressor(dut, chunks, [gz.DEFAULT_TABLE] * 2, probe=True)
    assert isolation == []
    assert got == [gz.encode(x, gz.DEFAULT_TABLE, 32) for x in chunks]

# ---- tests: decompressor ------------------------------------------------------------


@pytest.mark.parametrize("elem_bits, lanes, in_bytes", CONFIGS)
def test_decompressor_matches_golden(elem_bits, lanes, in_bytes):
    rng = np.random.default_rng(elem_bits * lanes + in_bytes + 1)
    xs = edge_chunks(elem_bits, lanes, rng)
    tables = table_variants(elem_bits, rng)
    per = [tables[k % len(tables)] for k in range(len(xs))]
    chunks = [(gz.encode(x, t, elem_bits), x.size) for x, t in zip(xs, per)]
    got, errors = run_decompressor(ZVCEDecompressor(elem_bits, lanes, in_bytes), chunks, per,
                                   seed=lanes)
    assert errors == []
    for x, (y, user) in zip(xs, got):
        assert user == 0
        np.testing.assert_array_equal(y, x)


def _padding_payload(x, table, elem_bits):
    """``x`` encoded with a padding bit of the first window's code field set, or None
    when that field has no padding bits."""
    enc = bytearray(gz.encode(x, table, elem_bits))
    w = x[:32]
    tops = (w[w != 0] >> (elem_bits - 8)).astype(np.int64)
    nbits = int(table.code_bits()[tops].sum())
    if nbits % 8 == 0:
        return None
    enc[4 + (nbits + 7) // 8 - 1] |= 0x80
    return bytes(enc)


def malformed_cases(elem_bits, table, rng):
    """``[(payload, count)]`` the golden decoder refuses, one of every kind."""
    x = elements(70, 0.6, elem_bits, rng)
    x[69] = 1
    good = gz.encode(x, table, elem_bits)
    bad_mask = bytearray(gz.encode(x[:40], table, elem_bits))
    bad_mask[int(gz.window_sizes(x[:40], table)[0]) + 2] |= 0x10    # element 52 of 40
    k0 = int(np.count_nonzero(x[:32]))
    cases = [(good[:-1], 70), (good[:3], 70), (good + b"\0", 70), (good + bytes(40), 70),
             (good, 69), (bytes(bad_mask), 40), (good, 100), (b"\1\2", 0),
             (good[:4 + (2 * k0 + 7) // 8 - 1], 70),                   # inside the heads
             (good[:4 + (2 * k0 + 7) // 8 + 1], 70)]                   # inside the field
    for seed in range(8):
        y = elements(40, 0.7, elem_bits, np.random.default_rng(seed))
        p = _padding_payload(y, table, elem_bits)
        if p is not None:
            cases += [(p, 40), (p[:-1], 40)]    # BAD_PADDING before a short payload
    return cases


@pytest.mark.parametrize("elem_bits, lanes, in_bytes", [(32, 4, 16), (16, 16, 8), (32, 1, 4)])
def test_decompressor_malformed(elem_bits, lanes, in_bytes):
    rng = np.random.default_rng(7)
    table = gz.DEFAULT_TABLE
    chunks = []
    for payload, count in malformed_cases(elem_bits, table, rng):
        ok = elements(45, 0.5, elem_bits, rng)
        chunks += [(payload, count), (gz.encode(ok, table, elem_bits), ok.size)]
    expect = []
    for payload, count in chunks:
        try:
            expect.append(gz.decode(payload, count, elem_bits, table))
        except golden.FormatError as exc:
            expect.append(exc.code)
    assert all(isinstance(e, golden.ErrorCode) for e in expect[::2])
    assert {golden.ErrorCode.BAD_PADDING, golden.ErrorCode.BAD_MASK} <= set(expect[::2])
    got, errors = run_decompressor(ZVCEDecompressor(elem_bits, lanes, in_bytes), chunks,
                                   [table] * len(chunks), seed=3)
    hwsim.check_decoded(chunks, expect, got, errors)


def _window(kind, elem_bits, rng):
    """One window (32 elements) of an extreme code-field length: no nonzero (F =
    0), 32 literals (the longest field, 40 bytes), 32 two-bit codes (8 bytes),
    one nonzero in its last element, or random ReLU values."""
    dt = golden.elem_dtype(elem_bits)
    top = elem_bits - 8
    if kind == "zero":
        return np.zeros(32, dt)
    if kind == "literal":
        return np.full(32, (1 << elem_bits) - 1, dt) ^ rng.integers(0, 255, 32).astype(dt)
    if kind == "short":
        return np.full(32, 0x3F << top, dt) | np.arange(1, 33, dtype=dt)
    if kind == "last":
        x = np.zeros(32, dt)
        x[31] = (0x3E << top) | 5
        return x
    return relu(32, elem_bits, rng)


KINDS = ("zero", "literal", "short", "last", "relu")


def window_sequences(elem_bits, rng):
    """Chunks of windows of extreme field lengths back to back: every ordered pair
    of kinds, then random runs; lengths a multiple of 32 (the chunk ends right
    after a window), one more and one less."""
    pairs = [np.concatenate([_window(a, elem_bits, rng), _window(b, elem_bits, rng),
                             _window(a, elem_bits, rng)]) for a in KINDS for b in KINDS]
    runs = []
    for extra in (0, 1, -1, 0, 17):
        ws = [_window(KINDS[int(k)], elem_bits, rng) for k in rng.integers(0, len(KINDS), 9)]
        x = np.concatenate(ws)
        runs.append(x[:x.size + extra] if extra <= 0 else
                    np.concatenate([x, relu(extra, elem_bits, rng)]))
    return pairs + runs


@pytest.mark.parametrize("elem_bits, lanes, in_bytes, gap",
                         [(32, 4, 16, 0.0), (32, 8, 32, 0.0), (16, 4, 8, 0.0), (32, 16, 64, 0.0),
                          (32, 4, 7, 0.3), (16, 2, 3, 0.0)])
def test_decompressor_window_sequences(elem_bits, lanes, in_bytes, gap):
    """The framer running a window ahead (docs/ZVCE.md): windows of every field
    length after each other, headers straddling input beats, chunks ending right
    after a window, at full rate (no gaps, no backpressure: the header steps
    merge with the windows' last steps) and with gaps."""
    rng = np.random.default_rng(lanes * 7 + in_bytes)
    xs = window_sequences(elem_bits, rng)
    table = gz.build_table(relu(2000, elem_bits, rng), elem_bits)
    chunks = [(gz.encode(x, table, elem_bits), x.size) for x in xs]
    got, errors = run_decompressor(ZVCEDecompressor(elem_bits, lanes, in_bytes), chunks,
                                   [table] * len(chunks), seed=lanes, gap=gap, backpressure=gap)
    assert errors == []
    for x, (y, user) in zip(xs, got):
        assert user == 0
        np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize("elem_bits, lanes", [(32, 4), (32, 8)])
def test_decompressor_malformed_later_window(elem_bits, lanes):
    """Errors in a chunk's third window, whose header the framer reads while the
    second window's steps run: the chunk cut inside its mask, heads, field or
    low bytes, a padding bit set, a mask past the count; each followed by a good
    chunk, at full rate."""
    rng = np.random.default_rng(11)
    table = gz.DEFAULT_TABLE
    ws = [_window(k, elem_bits, rng) for k in ("literal", "short", "relu")]
    x = np.concatenate(ws)
    x[64:] = relu(32, elem_bits, rng)
    x[64] = x[95] = 1                         # the field has padding bits; x[95]: BAD_MASK
    enc = gz.encode(x, table, elem_bits)
    sizes = [int(v) for v in gz.window_sizes(x, table)]
    w2 = sizes[0] + sizes[1]                  # the third window's first byte
    k2 = int(np.count_nonzero(x[64:]))
    nbits = int(table.code_bits()[(x[64:][x[64:] != 0] >> (elem_bits - 8)).astype(np.int64)].sum())
    fb = (nbits + 7) // 8
    cases = [(enc[:w2 + 2], x.size), (enc[:w2 + 4 + (2 * k2) // 8 - 1], x.size),
             (enc[:w2 + 4 + fb - 1], x.size), (enc[:-1], x.size), (enc, x.size - 1),
             (enc + b"\0", x.size)]
    if nbits % 8:
        bad = bytearray(enc)
        bad[w2 + 4 + fb - 1] |= 0x80
        cases.append((bytes(bad), x.size))
    chunks = []
    for payload, count in cases:
        ok = elements(70, 0.5, elem_bits, rng)
        chunks += [(payload, count), (gz.encode(ok, table, elem_bits), ok.size)]
    expect = []
    for payload, count in chunks:
        try:
            expect.append(gz.decode(payload, count, elem_bits, table))
        except golden.FormatError as exc:
            expect.append(exc.code)
    assert all(isinstance(e, golden.ErrorCode) for e in expect[::2])
    assert golden.ErrorCode.BAD_MASK in expect[::2]
    got, errors = run_decompressor(ZVCEDecompressor(elem_bits, lanes, 4 * lanes), chunks,
                                   [table] * len(chunks), seed=5, gap=0.0, backpressure=0.0)
    hwsim.check_decoded(chunks, expect, got, errors)


@pytest.mark.parametrize("elem_bits, lanes", [(32, 4), (16, 4), (32, 8)])
def test_decompressor_full_throughput(elem_bits, lanes):
    """docs/ZVCE.md: with the input and the output keeping up, a window takes
    32 / lanes cycles at 4 and 8 lanes (the header step merges with the last
    step of the window before): one output beat per cycle after the first."""
    rng = np.random.default_rng(6)
    x = np.concatenate([_window(KINDS[k % len(KINDS)], elem_bits, rng) for k in range(20)])
    enc = gz.encode(x, gz.DEFAULT_TABLE, elem_bits)
    dut = ZVCEDecompressor(elem_bits, lanes, elem_bits // 8 * lanes)
    cycles, packet = [], []

    async def producer(ctx):
        await put_beats(ctx, dut.i, byte_beats(enc, dut.in_bytes), rng, 0.0)

    async def counts(ctx):
        ctx.set(dut.code_table, _table_value(gz.DEFAULT_TABLE))
        await put_beats(ctx, dut.count, [x.size], rng, 0.0)

    async def consumer(ctx):
        packet.extend(await get_packet(ctx, dut.o, rng, 0.0))

    async def transfers(ctx):
        cycle = 0
        async for _, _, valid, ready in ctx.tick().sample(dut.o.valid, dut.o.ready):
            cycle += 1
            if valid and ready:
                cycles.append(cycle)

    simulate(dut, [producer, counts, consumer], [transfers], rules_on=[dut.o])
    eb = elem_bits // 8
    y = np.frombuffer(bytes_of(packet, lanes * eb, unit=eb), golden.elem_dtype(elem_bits))
    np.testing.assert_array_equal(y, x)
    beats = x.size // lanes
    assert len(cycles) == beats
    # (one cycle per window more would be 20 cycles; allow the first window's fill)
    assert cycles[-1] - cycles[0] <= beats - 1 + 4, cycles


def test_decompressor_bad_table():
    """A table golden's ``CodeTable.unpack`` refuses is BAD_PARAMS; the next chunk decodes."""
    bad = [bytes([0x3F]) + bytes(15), bytes([0x40]) + bytes(15),
           gz.DEFAULT_TABLE.pack()[:15] + b"\x01"]
    for raw in bad:
        with pytest.raises(golden.FormatError) as info:
            gz.CodeTable.unpack(raw)
        assert info.value.code == golden.ErrorCode.BAD_PARAMS
    rng = np.random.default_rng(4)
    x = elements(50, 0.5, 32, rng)
    enc = gz.encode(x, gz.DEFAULT_TABLE, 32)
    chunks, tables = [], []
    for raw in bad:
        chunks += [(enc, x.size), (enc, x.size)]
        tables += [raw, gz.DEFAULT_TABLE]
    got, errors = run_decompressor(ZVCEDecompressor(32, 4, 16), chunks, tables)
    assert errors == [int(golden.ErrorCode.BAD_PARAMS)] * len(bad)
    for k, (y, user) in enumerate(got):
        if k % 2:
            assert user == 0
            np.testing.assert_array_equal(y, x)
        else:
            assert user == 1 and y.size == 0


def test_decompressor_ready_isolation():
    rng = np.random.default_rng(2)
    xs = [elements(150, d, 16, rng) for d in (0.2, 1.0)]
    chunks = [(gz.encode(x, gz.DEFAULT_TABLE, 16), x.size) for x in xs]
    got, errors, isolation = run_decompressor(ZVCEDecompressor(16, 8, 16), chunks,
                                              [gz.DEFAULT_TABLE] * 2, probe=True)
    assert isolation == [] and errors == []
    for x, (y, _) in zip(xs, got):
        np.testing.assert_array_equal(y, x)


def test_loopback_round_trip():
    rng = np.random.default_rng(5)
    table = gz.build_table(relu(500, 32, rng), 32)
    xs = [relu(n, 32, rng) for n in (1, 31, 32, 33, 130)] + [elements(77, 0.5, 32, rng)]
    dut = ZVCELoopback(32, 8, 12)
    out = []

    async def producer(ctx):
        ctx.set(dut.code_table, _table_value(table))
        for x in xs:
            await put_beats(ctx, dut.i, element_beats(x, 32, 8), rng, 0.2)

    async def counts(ctx):
        await put_beats(ctx, dut.count, [x.size for x in xs], rng, 0.2)

    async def consumer(ctx):
        for _ in xs:
            beats = await get_packet(ctx, dut.o, rng, 0.2)
            out.append(np.frombuffer(bytes_of(beats, 32, unit=4), np.uint32))

    simulate(dut, [producer, counts, consumer], rules_on=[dut.o])
    for x, y in zip(xs, out):
        np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize("elem_bits, lanes", [(16, 1), (32, 4), (32, 8), (16, 16), (32, 32)])
def test_decompressor_documented_latency(elem_bits, lanes):
    """docs/ZVCE.md: a chunk of one short window (its count taken first) reaches the
    output 15 cycles after the edge that transferred its beat at 8 and 16 lanes,
    16 at 4 lanes or fewer (the framer's B1S stage) and at 32 lanes."""
    dut = ZVCEDecompressor(elem_bits, lanes, 64)

    async def give_count(ctx):
        ctx.set(dut.code_table, _table_value(gz.DEFAULT_TABLE))
        ctx.set(dut.count.valid, 1)
        ctx.set(dut.count.p, lanes)
        await ctx.tick().until(dut.count.ready)
        ctx.set(dut.count.valid, 0)
    x = np.array([7] + [0] * (lanes - 1), golden.elem_dtype(elem_bits))
    payload = gz.encode(x, gz.DEFAULT_TABLE, elem_bits)
    beat = (int.from_bytes(payload, "little"), (1 << len(payload)) - 1, 1)
    assert hwsim.latency(dut, beat, give_count) == (15 if 8 <= lanes <= 16 else 16)
