# amaranth: UnusedElaboratable=no
"""Amaranth-simulator unit tests of hw.rle against the golden RLE codec.

Expected bytes and elements always come from ``golden.rle``; the RTL runs with
random input gaps and output backpressure, and a monitor checks the stream
rules on every output (valid never drops and the payload holds until the
transfer).
"""
from __future__ import annotations


import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from cdma import golden
from cdma.golden import rle as grle
from cdma.hw.rle import RLEDecoder, RLEEncoder, RLEError
import hwsim
from hwsim import byte_beats, element_beats, elements, latency, put_beats, simulate


# ---- harness ------------------------------------------------------------------------

def run_encoder(elem_bits, lanes, out_bytes, chunks, seed=0, gap=0.3, backpressure=0.3,
                null_close=False):
    """Encode each chunk of ``chunks``; returns the output bytes of each packet.
    The piece FIFO must never overflow (its credits must cover what is in flight)."""
    dut = RLEEncoder(elem_bits, lanes, out_bytes)
    overflows = []

    async def overflow_watch(ctx):
        async for _, _, over in ctx.tick().sample(dut._overflow):
            if over:
                overflows.append(1)

    results = hwsim.run_encoder(dut, chunks, seed, gap, backpressure, null_close=null_close,
                                background=[overflow_watch])
    assert not overflows, "piece FIFO overflow"
    return results


def run_decoder(elem_bits, lanes, in_bytes, chunks, seed=0, gap=0.3, backpressure=0.3):
    """``chunks``: [(payload, count)].  Returns ([(elements, user)], [error codes])."""
    return hwsim.run_decoder(RLEDecoder(elem_bits, lanes, in_bytes), chunks, seed, gap,
                             backpressure)


# ---- tests: parameters --------------------------------------------------------------

def test_bad_count_bits():
    with pytest.raises(ValueError, match="^count_bits must be from 6 to 64, not 65$"):
        RLEDecoder(32, 8, 32, count_bits=65)
    with pytest.raises(TypeError, match="^count_bits must be an integer, not 'x'$"):
        RLEDecoder(32, 8, 32, count_bits="x")


def test_error_codes_match_golden():
    for code in RLEError:
        assert int(code) == int(golden.ErrorCode[code.name])


def test_repr_and_properties():
    # never elaborated on purpose (the pragma on line 1 silences Amaranth's warning)
    enc, dec = RLEEncoder(16, 4, 8), RLEDecoder(8, 2, 3, count_bits=20)
    assert repr(enc) == "RLEEncoder(elem_bits=16, lanes=4, out_bytes=8)"
    assert repr(dec) == "RLEDecoder(elem_bits=8, lanes=2, in_bytes=3)"
    assert (enc.elem_bits, enc.lanes, enc.out_bytes) == (16, 4, 8)
    assert (dec.elem_bits, dec.lanes, dec.in_bytes, dec.count_bits) == (8, 2, 3, 20)


# ---- payload classes ----------------------------------------------------------------

def edge_chunks(elem_bits, lanes, rng):
    """Chunks around every run-splitting and beat boundary."""
    dt = golden.elem_dtype(elem_bits)
    chunks = [np.zeros(1, dt), np.ones(1, dt), np.full(40, (1 << elem_bits) - 1, dt)]
    for z in (255, 256, 257, 511, 512, 513):
        x = np.zeros(z + 1, dt)
        x[-1] = 0x5A
        chunks.append(x)                             # z zeros then a value
        chunks.append(np.zeros(z, dt))               # z trailing zeros only
        y = np.zeros(z + 2, dt)
        y[0] = 3
        chunks.append(y)                             # a value then z + 1 trailing zeros
    for pos in range(lanes):                         # a single nonzero at every lane
        x = np.zeros(lanes * 2, dt)
        x[lanes + pos] = 1 << (elem_bits - 1)
        chunks.append(x)
    for nbeats in range(1, 5):                       # 1..4 beats, full and partial last
        chunks.append(elements(nbeats * lanes, 0.5, elem_bits, rng))
        chunks.append(elements(nbeats * lanes - 1 or 1, 0.5, elem_bits, rng))
    if elem_bits == 32:                              # -0.0, NaN, denormal are nonzero
        chunks.append(np.array([0.0, -0.0, np.nan, 0.0, 1e-45, 0.0], np.float32).view(dt))
    if elem_bits == 16:
        chunks.append(np.array([0, 0x8000, 0x7E01, 0, 0], dt))
    return chunks


def random_chunks(elem_bits, rng, n=6, max_len=120):
    return [elements(int(rng.integers(1, max_len)), d, elem_bits, rng)
            for d in np.resize([0.0, 0.02, 0.1, 0.5, 0.9, 1.0], n)]


# (elem_bits, lanes, out_bytes / in_bytes)
CONFIGS = [(8, 8, 8), (16, 8, 16), (32, 8, 32), (32, 4, 5), (16, 16, 7), (8, 1, 1),
           (32, 32, 64)]


@pytest.mark.parametrize("elem_bits, lanes, nbytes", CONFIGS)
def test_encoder_vs_golden(elem_bits, lanes, nbytes):
    rng = np.random.default_rng(elem_bits * 100 + lanes)
    chunks = edge_chunks(elem_bits, lanes, rng) + random_chunks(elem_bits, rng)
    got = run_encoder(elem_bits, lanes, nbytes, chunks, seed=lanes)
    assert len(got) == len(chunks)
    for x, g in zip(chunks, got):
        assert g == grle.encode(x, elem_bits), f"chunk of {x.size} elements"


@pytest.mark.parametrize("elem_bits, lanes, nbytes", [(32, 8, 32), (8, 4, 3)])
def test_encoder_null_closing_beat(elem_bits, lanes, nbytes):
    """A chunk closed by a beat that keeps no element, including an empty chunk.

    Only the closing beat may keep fewer than ``lanes`` elements, so every chunk
    here is a whole number of beats.
    """
    rng = np.random.default_rng(3)
    dt = golden.elem_dtype(elem_bits)
    chunks = [np.zeros(0, dt), np.zeros(lanes, dt), np.ones(lanes, dt),
              np.zeros(256, dt), np.zeros(256 + lanes, dt), np.zeros(512, dt),
              np.r_[np.ones(1, dt), np.zeros(255, dt)], elements(lanes * 3, 0.3, elem_bits, rng)]
    got = run_encoder(elem_bits, lanes, nbytes, chunks, seed=4, null_close=True)
    for x, g in zip(chunks, got):
        assert g == grle.encode(x, elem_bits), f"chunk of {x.size} elements"


def cycles_to_run(dut, tb_fn):
    simulate(dut, [tb_fn])


@pytest.mark.parametrize("density", [0.0, 0.5, 1.0])
def test_encoder_full_throughput(density):
    """No gaps, no backpressure, wide output: one input beat per cycle."""
    elem_bits, lanes, out_bytes = 32, 8, 40           # 8 tokens of 5 bytes fit one beat
    x = elements(lanes * 40, density, elem_bits, np.random.default_rng(5))
    dut = RLEEncoder(elem_bits, lanes, out_bytes)
    stalls = []

    async def tb(ctx):
        ctx.set(dut.o.ready, 1)
        for data, keep, last in element_beats(x, elem_bits, lanes):
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.p.data, data)
            ctx.set(dut.i.p.keep, keep)
            ctx.set(dut.i.p.last, last)
            _, _, ready = await ctx.tick().sample(dut.i.ready)
            stalls.append(not ready)
            if not ready:
                await ctx.tick().until(dut.i.ready)
        ctx.set(dut.i.valid, 0)

    cycles_to_run(dut, tb)
    assert not any(stalls)


def test_decoder_long_runs_one_beat_per_cycle():
    """A (255, 0) filler costs 256 / lanes output beats, one per cycle."""
    elem_bits, lanes, in_bytes = 16, 8, 6
    x = np.zeros(256 * 4 + 3, np.uint16)
    x[[300, 301, 700]] = 7
    payload = grle.encode(x, elem_bits)
    dut = RLEDecoder(elem_bits, lanes, in_bytes)
    seen = {"beats": 0, "first": None, "last": None, "cycle": 0}

    async def feed(ctx):
        ctx.set(dut.count.valid, 1)
        ctx.set(dut.count.p, x.size)
        await ctx.tick().until(dut.count.ready)
        ctx.set(dut.count.valid, 0)

    async def bytes_in(ctx):
        await put_beats(ctx, dut.i, byte_beats(payload, in_bytes), np.random.default_rng(0), 0)

    async def sink(ctx):
        ctx.set(dut.o.ready, 1)
        out = bytearray()
        async for _, _, valid, data, keep, last in ctx.tick().sample(
                dut.o.valid, dut.o.p.data, dut.o.p.keep, dut.o.p.last):
            seen["cycle"] += 1
            if valid:
                seen["first"] = seen["first"] or seen["cycle"]
                seen["beats"] += 1
                n = bin(int(keep)).count("1")
                out += int(data).to_bytes(lanes * 2, "little")[:n * 2]
                if last:
                    seen["last"] = seen["cycle"]
                    seen["out"] = bytes(out)
                    return

    simulate(dut, [feed, bytes_in, sink])
    assert seen["out"] == x.tobytes()
    assert seen["beats"] == -(-x.size // lanes)
    assert seen["last"] - seen["first"] + 1 == seen["beats"]      # no bubble


@pytest.mark.parametrize("elem_bits, lanes, nbytes", CONFIGS)
def test_decoder_vs_golden(elem_bits, lanes, nbytes):
    rng = np.random.default_rng(elem_bits * 100 + lanes + 1)
    chunks = edge_chunks(elem_bits, lanes, rng) + random_chunks(elem_bits, rng)
    got, errors = run_decoder(elem_bits, lanes, nbytes,
                              [(grle.encode(x, elem_bits), x.size) for x in chunks], seed=lanes)
    assert errors == []
    assert len(got) == len(chunks)
    for x, (y, user) in zip(chunks, got):
        assert user == 0
        np.testing.assert_array_equal(y, x)


def test_decoder_non_canonical_tokens():
    """Any token sequence that adds up to the count decodes (golden accepts it too)."""
    payload = bytes([0, 1, 3, 0, 255, 0, 0, 0, 2, 9])      # 1, 4, 256, 1, 3 elements
    count = 1 + 4 + 256 + 1 + 3
    (y, user), = run_decoder(8, 4, 3, [(payload, count)])[0]
    assert user == 0
    np.testing.assert_array_equal(y, grle.decode(payload, count, 8))


def malformed_cases(elem_bits, rng):
    """(payload, count) of malformed chunks."""
    x = elements(70, 0.3, elem_bits, rng)
    x[69] = 1
    good = grle.encode(x, elem_bits)
    T = 1 + elem_bits // 8
    dense = grle.encode(elements(64, 1.0, elem_bits, rng), elem_bits)   # 64 tokens
    return [
        (dense + bytes(T), 64),          # whole beats of tokens, then one token too many
        (good[:-1], 70),                 # ends inside the last token
        (good[:-T], 70),                 # ends one token early
        (good + b"\x00", 70),            # one stray byte
        (good + bytes(T), 70),           # a whole extra token: overshoot
        (good + bytes(64), 70),          # extra beats
        (good, 69),                      # last token goes one past the count
        (bytes([255]) + bytes(T - 1), 100),   # a filler past a short chunk
        (good, 200),                     # stream ends long before the count
        (b"", 5),                        # empty payload for 5 elements
        (bytes(T), 0),                   # a token for a zero-element chunk
        (b"\x01", 0),                    # a byte for a zero-element chunk
    ]


@pytest.mark.parametrize("elem_bits, lanes, nbytes", [(32, 8, 32), (8, 16, 4), (16, 4, 64)])
def test_decoder_malformed_recovers(elem_bits, lanes, nbytes):
    """Each malformed chunk is followed by a good one, which must come out whole."""
    rng = np.random.default_rng(7)
    chunks, expect = hwsim.malformed_then_good(grle, malformed_cases(elem_bits, rng), elem_bits,
                                               rng, density=0.3)
    got, errors = run_decoder(elem_bits, lanes, nbytes, chunks, seed=3)
    hwsim.check_decoded(chunks, expect, got, errors)


def test_decoder_zero_count_empty_chunk():
    (y, user), = run_decoder(16, 4, 4, [(b"", 0)])[0]
    assert y.size == 0 and user == 0


def test_round_trip_random_relu():
    """Encoder output fed to the decoder restores sparse ReLU-like data exactly."""
    rng = np.random.default_rng(11)
    x = np.maximum(rng.standard_normal(600).astype(np.float32) - 1.2, 0).view(np.uint32)
    enc = run_encoder(32, 8, 16, [x], seed=1)[0]
    assert enc == grle.encode(x, 32)
    (y, user), = run_decoder(32, 8, 16, [(enc, x.size)], seed=2)[0]
    assert user == 0
    np.testing.assert_array_equal(y, x)


def random_tokens(elem_bits, rng, n):
    """Bytes of ``n`` arbitrary tokens (any run, zero or nonzero values) and their element count."""
    runs = np.where(rng.random(n) < 0.3, rng.integers(0, 256, n), rng.integers(0, 4, n))
    vals = elements(n, 0.7, elem_bits, rng)
    tb = 1 + elem_bits // 8
    tok = np.zeros((n, tb), np.uint8)
    tok[:, 0] = runs
    tok[:, 1:] = vals.view(np.uint8).reshape(n, -1)
    return tok.tobytes(), int((runs + 1).sum())


@pytest.mark.parametrize("elem_bits, lanes, nbytes", [(8, 4, 4), (16, 8, 5), (32, 2, 16)])
def test_decoder_random_token_streams(elem_bits, lanes, nbytes):
    """Arbitrary (non-canonical) token streams and counts near theirs: golden decides."""
    rng = np.random.default_rng(elem_bits + lanes)
    chunks, expect = [], []
    for k in range(24):
        payload, count = random_tokens(elem_bits, rng, int(rng.integers(1, 12)))
        count += int(rng.choice([0, 0, 0, -1, 1, -300, 5]))
        count = max(count, 0)
        try:
            expect.append(golden.rle.decode(payload, count, elem_bits))
        except golden.FormatError as exc:
            expect.append(exc.code)
        chunks.append((payload, count))
    got, errors = run_decoder(elem_bits, lanes, nbytes, chunks, seed=k)
    assert errors == [int(e) for e in expect if isinstance(e, golden.ErrorCode)]
    for exp, (y, user) in zip(expect, got):
        if isinstance(exp, golden.ErrorCode):
            assert user == 1
        else:
            assert user == 0
            np.testing.assert_array_equal(y, exp)


@pytest.mark.parametrize("elem_bits, lanes", [(32, 1), (32, 8), (16, 16), (8, 32)])
def test_documented_latency(elem_bits, lanes):
    """docs/RLE.md: encoder 14 + ceil(log2(lanes) / 2) cycles (two compaction
    network levels per stage); decoder (count already taken) 16 cycles + the
    prefix-sum stages, max(1, ceil(log2(lanes) / 2)), + the placement stages,
    max(0, log2(lanes) - 1) (2 log2(lanes) network levels, two per stage, the
    last two into the output FIFO), or, with W > 0 levels per direction that
    move values by 128 bits or more (a stage each), 2 W + 2 ceil((log2(lanes)
    - W) / 2) - 1; +1 for the registered unpacker window."""
    async def nothing(ctx):
        await ctx.tick()
    n = latency(RLEEncoder(elem_bits, lanes, 32), (5, (1 << lanes) - 1, 1), nothing)
    assert n == 14 + -(-(lanes.bit_length() - 1) // 2)

    dec = RLEDecoder(elem_bits, lanes, 64)

    async def give_count(ctx):
        ctx.set(dec.count.valid, 1)
        ctx.set(dec.count.p, lanes)
        await ctx.tick().until(dec.count.ready)
        ctx.set(dec.count.valid, 0)
    payload = grle.encode(np.array([7] + [0] * (lanes - 1), golden.elem_dtype(elem_bits)))
    beat = (int.from_bytes(payload, "little"), (1 << len(payload)) - 1, 1)
    lg = (lanes - 1).bit_length()
    wide = max(0, lg - ((128 // elem_bits).bit_length() - 1))
    place = 2 * wide + 2 * -(-(lg - wide) // 2) - 1 if wide else max(0, lg - 1)
    assert latency(dec, beat, give_count) == 17 + max(1, -(-lg // 2)) + place


def chunk_of_runs(elem_bits, runs, rng):
    """Elements made of ``runs``: (zeros, nonzero?) pairs, e.g. zeros then a value."""
    dt = golden.elem_dtype(elem_bits)
    parts = []
    for zeros, has_value in runs:
        parts.append(np.zeros(zeros, dt))
        if has_value:
            parts.append(elements(1, 1.0, elem_bits, rng))
    x = np.concatenate(parts) if parts else np.zeros(0, dt)
    return x if x.size else np.zeros(1, dt)


_RUN = st.one_of(st.integers(0, 6), st.integers(250, 262), st.integers(508, 516))


@settings(max_examples=15, deadline=None)
@given(st.sampled_from([(8, 4, 3), (16, 8, 16), (32, 2, 8), (32, 16, 20)]),
       st.lists(st.lists(st.tuples(_RUN, st.booleans()), max_size=5), min_size=1, max_size=3),
       st.integers(0, 2**32 - 1))
def test_property_round_trip(config, chunk_runs, seed):
    """Chunks built from zero runs around 256: encoder == golden, decoder inverts it."""
    elem_bits, lanes, nbytes = config
    rng = np.random.default_rng(seed)
    chunks = [chunk_of_runs(elem_bits, runs, rng) for runs in chunk_runs]
    enc = run_encoder(elem_bits, lanes, nbytes, chunks, seed=seed % 1000)
    assert enc == [grle.encode(x, elem_bits) for x in chunks]
    got, errors = run_decoder(elem_bits, lanes, nbytes,
                              [(e, x.size) for e, x in zip(enc, chunks)], seed=seed % 1000)
    assert errors == []
    for x, (y, user) in zip(chunks, got):
        assert user == 0
        np.testing.assert_array_equal(y, x)


def test_decoder_large_counts():
    """Counts far above what one cycle can expand (the decoder splits `rem` for speed)."""
    elem_bits, lanes, in_bytes = 8, 2, 4            # element sums per cycle < 2**10
    rng = np.random.default_rng(21)
    x = elements(2500, 0.01, elem_bits, rng)
    x[-1] = 9
    payload = grle.encode(x, elem_bits)
    chunks = [(payload, x.size), (payload, x.size - 1), (payload, x.size + 1),
              (payload, 1 << 20), (payload, x.size)]
    expect = hwsim.golden_verdicts(grle, chunks, elem_bits)
    got, errors = run_decoder(elem_bits, lanes, in_bytes, chunks, gap=0.1, backpressure=0.1)
    hwsim.check_decoded(chunks, expect, got, errors)
    assert len(errors) == 3


def test_encoder_output_stalled_long():
    """The output is mostly stopped while dense input keeps coming: the input
    stalls (the piece FIFO's credits run out), nothing is lost or overflows."""
    rng = np.random.default_rng(17)
    x = elements(16 * 24, 0.9, 32, rng)
    got = run_encoder(32, 16, 16, [x, x[:100]], seed=5, gap=0.0, backpressure=0.97)
    assert got == [grle.encode(x, 32), grle.encode(x[:100], 32)]
