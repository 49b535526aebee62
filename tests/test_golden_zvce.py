"""golden.zvce: the code table, a bit-by-bit reference encoder, round trips, frames, errors.

Expected bytes of the worked examples live in docs/FORMAT.md
(tests/test_format_vectors.py); here the vectorized codec is compared with a
slow reference written straight from FORMAT.md's rules, and every malformed
class is checked for its code and offset, worked out by hand.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from cdma import golden
from cdma.golden import ErrorCode, FormatError, zvce
from cdma.golden.engine import OFFLOAD, PREFETCH, Descriptor, EngineModel, Status

#: The table of FORMAT.md's examples: widths (0, 1, 2), classes {3F}, {3E, 40}, {3D, 3C, 41, 42}.
T = zvce.CodeTable((0, 1, 2), (0x3F, 0x3E, 0x40, 0x3D, 0x3C, 0x41, 0x42))
TRIPLES = [(a, b, c) for a in range(4) for b in range(4) for c in range(4)
           if (1 << a) + (1 << b) + (1 << c) <= 15]


def reference_zvce(x, table):
    """Window by window, bit by bit, from FORMAT.md (slow, obvious)."""
    eb = x.dtype.itemsize
    entries, pos = [], 0
    for c, w in enumerate(table.widths):
        entries += [(c, i, w, table.symbols[pos + i]) for i in range(1 << w)]
        pos += 1 << w
    out = bytearray()
    for a in range(0, x.size, 32):
        win = x[a:a + 32].tolist()
        nz = [v for v in win if v]
        out += sum(1 << i for i, v in enumerate(win) if v).to_bytes(4, "little")
        heads, tails = [], []
        for v in nz:
            b = v >> (8 * eb - 8)
            hit = next(((c, i, w) for c, i, w, s in entries if s == b), None)
            heads.append(hit[0] if hit else 3)
            tails.append((hit[1], hit[2]) if hit else (b, 8))
        bits = [h >> k & 1 for h in heads for k in (0, 1)]
        bits += [t >> k & 1 for t, w in tails for k in range(w)]
        bits += [0] * (-len(bits) % 8)
        out += bytes(sum(bits[i + k] << k for k in range(8)) for i in range(0, len(bits), 8))
        for v in nz:
            out += int(v).to_bytes(eb, "little")[: eb - 1]
    return bytes(out)


@st.composite
def activations(draw, max_len=3000):
    """ReLU-like floats (few top bytes) mixed with arbitrary bit patterns, 16 or 32 bits."""
    eb = draw(st.sampled_from([16, 32]))
    n = draw(st.integers(0, max_len))
    density = draw(st.sampled_from([0.0, 0.05, 0.4, 0.9, 1.0]))
    wild = draw(st.sampled_from([0.0, 0.02, 0.5]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    f = np.abs(rng.standard_normal(n)).astype(np.float32) * np.float32(draw(st.sampled_from([0.01, 1, 100])))
    x = f.view(np.uint32) if eb == 32 else (f.view(np.uint32) >> 16).astype(np.uint16)
    odd = rng.random(n) < wild
    x[odd] = rng.integers(1, 2**eb, int(odd.sum()))
    x[rng.random(n) >= density] = 0
    return x


@st.composite
def tables(draw):
    w = draw(st.sampled_from(TRIPLES))
    n = sum(1 << v for v in w)
    return zvce.CodeTable(w, tuple(draw(st.lists(st.integers(0, 255), min_size=n, max_size=n))))


def test_table_pack_unpack_by_hand():
    assert T.pack() == bytes.fromhex("243F3E403D3C414200000000000000 00".replace(" ", ""))
    assert zvce.CodeTable.unpack(T.pack()) == T
    assert zvce.DEFAULT_TABLE.pack()[:7] == bytes([0x20, 0x3E, 0x3F, 0x3D, 0x40, 0x3C, 0x3B])
    # code lengths: class 0 = 2 bits, class 1 = 3, class 2 = 4, literal = 10
    bits = T.code_bits()
    assert (bits[0x3F], bits[0x40], bits[0x42], bits[0x00], bits[0xC0]) == (2, 3, 4, 10, 10)


@pytest.mark.parametrize("widths, symbols, match", [
    ((0, 0), (1, 2), "three"), ((0, 0, 4), (0,) * 18, "0..3"), ((3, 3, 0), (0,) * 17, "at most 15"),
    ((0, 0, 0), (1, 2), "need 3"), ((0, 0, 0), (1, 2, 256), "bytes")])
def test_table_rejects_bad_arguments(widths, symbols, match):
    with pytest.raises(ValueError, match=match):
        zvce.CodeTable(widths, symbols)


def test_build_table_picks_the_cheapest_widths():
    # 0x3E 60 %, 0x3F 30 %, 0x40 8 %, 0x41 2 %: a 2-bit code for each of the
    # first two and a 3-bit class for the last two (widths (0, 0, 1)):
    # 0.6*2 + 0.3*2 + 0.1*3 = 2.1 bits, cheaper than (0, 1, 1): 0.6*2 + 0.4*3.
    counts = np.zeros(256, np.int64)
    counts[[0x3E, 0x3F, 0x40, 0x41]] = [60, 30, 8, 2]
    assert zvce.build_table(counts=counts) == zvce.CodeTable((0, 0, 1), (0x3E, 0x3F, 0x40, 0x41))
    # from data: counts come from nonzero elements' top bytes only
    x = np.array([0x3E000001] * 5 + [0x3F000000] * 3 + [0] * 40 + [0x41000000], np.uint32)
    t = zvce.build_table(x)
    assert t.symbols[:3] == (0x3E, 0x3F, 0x41)
    with pytest.raises(ValueError, match="16- or 32-bit"):
        zvce.build_table(np.zeros(4, np.uint8))


@pytest.mark.parametrize("eb", [16, 32])
def test_decoder_ignores_table_entries_the_encoder_would_not_use(eb):
    # a literal of a byte the table holds, and a table with a repeated byte
    t = zvce.CodeTable((0, 0, 0), (0x3F, 0x3F, 0x11))
    x = np.array([0x3F], golden.elem_dtype(eb)) << (eb - 8)
    enc = zvce.encode(x, t)
    assert enc[4] == 0x00                           # head 0: the first entry wins
    lit = bytearray(enc)
    lit[4:5] = bytes([0x03 | (0x3F << 2) & 0xFF, 0x3F >> 6])   # head 3, tail 3F: 10 bits
    assert np.array_equal(zvce.decode(bytes(lit), 1, eb, t), x)
    head1 = bytearray(enc)
    head1[4] = 0x01                                 # head 1: the repeated 3F
    assert np.array_equal(zvce.decode(bytes(head1), 1, eb, t), x)


@settings(max_examples=120, deadline=None)
@given(x=activations(), table=st.one_of(tables(), st.just(zvce.DEFAULT_TABLE), st.none()))
def test_codec_matches_reference_and_round_trips(x, table):
    t = zvce.build_table(x) if table is None else table
    enc = zvce.encode(x, table)
    assert enc == reference_zvce(x, t)
    assert zvce.encoded_size(x, table) == len(enc)
    assert np.array_equal(zvce.decode(enc, x.size, x.dtype.itemsize * 8, t), x)


@settings(max_examples=60, deadline=None)
@given(x=activations(max_len=40000), chunk_bytes=st.sampled_from([512, 4096, 65536]),
       table=st.one_of(tables(), st.none()))
def test_frame_round_trip_size_and_chunks(x, chunk_bytes, table):
    f = golden.encode_frame(x, "zvce", chunk_bytes, table=table)
    assert len(f) == golden.frame_size(x, "zvce", chunk_bytes, table=table)
    d = golden.decode_frame(f)
    t = zvce.build_table(x) if table is None else table
    assert d.header.table == t and f[4] == 2 and f[16:32] == t.pack()
    assert np.array_equal(d.elements(), x)
    # chunk by chunk: ZVCE, or ZVC if strictly smaller, then raw unless strictly smaller
    eb, off, per = x.dtype.itemsize, 32, chunk_bytes // x.dtype.itemsize
    for c in range(0, x.size, per):
        comp, cid = zvce.encode(x[c:c + per], t), 3
        alt = golden.zvc.encode(x[c:c + per])
        if len(alt) < len(comp):
            comp, cid = alt, 1
        raw = x[c:c + per].tobytes()
        payload, cid = (comp, cid) if len(comp) < len(raw) else (raw, 0)
        assert int.from_bytes(f[off:off + 4], "little") == len(payload) | cid << 24
        assert f[off + 4: off + 4 + len(payload)] == payload
        off += 4 + len(payload) + (-len(payload)) % 4
    assert off == len(f)


def test_zvce_never_worse_than_zvc_by_more_than_the_table_on_relu_data():
    rng = np.random.default_rng(5)
    x = np.maximum(rng.standard_normal(1 << 16).astype(np.float32), 0)
    zvc_f, zvce_f = golden.frame_size(x, "zvc"), golden.frame_size(x, "zvce")
    assert zvce_f < 0.88 * zvc_f
    # random top bytes, half dense: ZVC beats ZVCE's literals and raw in every chunk,
    # so the ZVCE frame is the ZVC frame plus its 16-byte table
    wild = rng.integers(1, 2**32, 50000, dtype=np.uint64).astype(np.uint32)
    wild[rng.random(wild.size) < 0.5] = 0
    f = golden.encode_frame(wild, "zvce")
    assert len(f) == len(golden.encode_frame(wild, "zvc")) + 16
    assert set(golden.decode_frame(f).chunk_codecs.tolist()) == {1}


def test_encoder_argument_errors():
    with pytest.raises(ValueError, match="16- or 32-bit"):
        golden.encode_frame(np.zeros(64, np.uint8), "zvce")
    with pytest.raises(ValueError, match="zvce only"):
        golden.encode_frame(np.zeros(64, np.uint32), "zvc", table=T)
    with pytest.raises(ValueError, match="CodeTable"):
        golden.encode_frame(np.zeros(64, np.uint32), "zvce", table=b"\0" * 16)
    with pytest.raises(ValueError, match="16- or 32-bit"):
        zvce.decode(b"", 0, 8, T)


# ---- malformed input: codes and offsets worked by hand ------------------------------------

def check(buf, code, offset):
    with pytest.raises(FormatError) as e:
        golden.decode_frame(bytes(buf))
    assert (e.value.code, e.value.offset) == (code, offset), str(e.value)


def frame(x, chunk_bytes=512):
    return bytearray(golden.encode_frame(x, "zvce", chunk_bytes, table=T))


#: FORMAT.md's first example: 3 nonzeros, code field 34 60 (15 bits), 15-byte payload.
EX = np.array([0x3F800000, 0, 0x3E99999A, 0xC0490FDB], np.uint32)


def test_version_and_codec_rules():
    f = frame(EX)
    g = bytearray(f)
    g[4] = 3
    check(g, ErrorCode.BAD_VERSION, 4)
    g = bytearray(f)
    g[7] = 1                                    # ZVC in a version-2 frame
    check(g, ErrorCode.BAD_PARAMS, 7)
    v1 = bytearray(golden.encode_frame(EX, "zvc", 512))
    v1[7] = 3                                   # ZVCE in a version-1 frame
    check(v1, ErrorCode.BAD_PARAMS, 7)
    g = bytearray(f)
    g[5] = 8                                    # ZVCE with 8-bit elements
    check(g, ErrorCode.BAD_PARAMS, 7)
    g = bytearray(f)
    g[35] = 2                                   # an RLE chunk in a ZVCE frame
    check(g, ErrorCode.BAD_CHUNK_CODEC, 35)
    g[35] = 1      # a ZVC chunk is allowed: these 15 ZVCE bytes read as ZVC are 3 elements short
    check(g, ErrorCode.LENGTH_MISMATCH, 51)


@pytest.mark.parametrize("cut", [16, 17, 31])
def test_truncated_table(cut):
    check(frame(EX)[:cut], ErrorCode.TRUNCATED, cut)


def test_bad_tables():
    f = frame(EX)
    g = bytearray(f)
    g[16] |= 0x40                               # bit 6 of the widths byte
    check(g, ErrorCode.BAD_PARAMS, 16)
    g = bytearray(f)
    g[16] = 0x3F                                # widths (3, 3, 3): 24 symbols
    check(g, ErrorCode.BAD_PARAMS, 16)
    g = bytearray(f)
    g[16 + 1 + 7 + 3] = 0x99                    # a byte after T's 7 symbols
    check(g, ErrorCode.BAD_PARAMS, 27)


def test_payload_errors_of_the_worked_example():
    # payload at 36: mask 36-39, field 40-41, low bytes 42-50, frame padding 51
    f = frame(EX)
    assert f[32:36] == bytes([15, 0, 0, 3])
    g = bytearray(f)
    g[41] |= 0x80                               # padding bit 15 of the code field
    check(g, ErrorCode.BAD_PADDING, 41)
    g = bytearray(f)
    g[36] |= 0x10                               # mask bit 4 of a 4-element chunk
    check(g, ErrorCode.BAD_MASK, 36)
    g = bytearray(f)
    g[36] = 0x0F            # 4 nonzeros: heads 0, 1, 3, 0 (byte 34), tails 0 + 1 + 8 + 0 bits:
    check(g, ErrorCode.LENGTH_MISMATCH, 51)     # 17 bits -> 3 field bytes + 12 low bytes > 15
    for plen, at in ((3, 39), (5, 41), (14, 50), (2, 38)):
        g = bytearray(f[:32]) + bytes([plen, 0, 0, 3]) + f[36:36 + plen] + bytes(-plen % 4)
        check(g, ErrorCode.LENGTH_MISMATCH, at)


def test_payload_errors_single_payload_offsets():
    enc = zvce.encode(EX, T)
    assert len(enc) == 15
    for cut, what in ((3, "mask"), (4, "heads"), (5, "code field"), (6, "low bytes"), (14, "low bytes")):
        with pytest.raises(FormatError, match=what) as e:
            zvce.decode(enc[:cut], 4, 32, T)
        assert (e.value.code, e.value.offset) == (ErrorCode.LENGTH_MISMATCH, cut)
    with pytest.raises(FormatError) as e:
        zvce.decode(enc + b"\0", 4, 32, T)
    assert (e.value.code, e.value.offset) == (ErrorCode.LENGTH_MISMATCH, 15)
    # 33 elements, second window's mask at 15 marks element 1 of a 1-element window
    x = np.concatenate([EX, np.zeros(28, np.uint32), [0x3F800000]]).astype(np.uint32)
    enc = bytearray(zvce.encode(x, T))
    assert enc[15:19] == bytes([1, 0, 0, 0])
    enc[15] = 3
    with pytest.raises(FormatError) as e:
        zvce.decode(bytes(enc), 33, 32, T)
    assert (e.value.code, e.value.offset) == (ErrorCode.BAD_MASK, 15)


def test_engine_model_zvce_when_built():
    """The engine reads and writes ZVCE frames (version 2) when ZVCE is built in;
    without it a ZVCE frame is FRAME_CODEC and a ZVCE offload DESC_CODEC."""
    f = bytes(frame(EX))
    without = EngineModel(elem_bits=32, mem_bytes=64, chunk_bytes=512)
    _, st = without.prefetch(Descriptor(0, 16, PREFETCH), f)
    assert st.code == ErrorCode.FRAME_CODEC
    model = EngineModel(elem_bits=32, mem_bytes=64, chunk_bytes=512, codecs=0b1111)
    data, st = model.prefetch(Descriptor(0, 16, PREFETCH), f)
    assert (st.code, data) == (ErrorCode.OK, EX.tobytes())
    # the table's checks come after the engine's own (offset >= 16)
    bad = bytearray(f)
    bad[16] |= 0x40
    assert model.prefetch(Descriptor(0, 16, PREFETCH), bytes(bad))[1].code == ErrorCode.BAD_PARAMS
    assert model.prefetch(Descriptor(0, 20, PREFETCH), bytes(bad))[1].code == ErrorCode.FRAME_LENGTH
    mem = np.zeros(4096, np.uint8)
    mem[:EX.nbytes] = EX.view(np.uint8)
    d = Descriptor(0, EX.nbytes, OFFLOAD, 3, tag=7)
    assert without.offload(mem, d) == (b"", Status(0, 7, ErrorCode.DESC_CODEC, OFFLOAD))
    # the offload encodes with the engine's table (zvce_table), not one built from the data
    table = T.pack()
    f, st = EngineModel(32, 64, 512, 0b1111, zvce_table=table).offload(mem, d)
    assert f == golden.encode_frame(EX, "zvce", 512, table=T) and f[16:32] == table
    assert st == Status(len(f), 7, ErrorCode.OK, OFFLOAD)
    for k, v in ((0, 0x40), (0, 0x3F), (15, 1)):       # widths bits 6-7, 24 symbols, filler
        bad = bytearray(table)
        bad[k] = v
        got = EngineModel(32, 64, 512, 0b1111, zvce_table=bytes(bad)).offload(mem, d)
        assert got == (b"", Status(0, 7, ErrorCode.BAD_PARAMS, OFFLOAD)), k
    with pytest.raises(ValueError, match="zvce_table must be 16 bytes"):
        EngineModel(zvce_table=bytes(15))
    with pytest.raises(ValueError, match="need elem_bits 16 or 32"):
        EngineModel(elem_bits=8, mem_bytes=16, codecs=0b1111)
