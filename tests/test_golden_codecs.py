"""Round-trip and size properties of the golden codecs (hypothesis + edge cases)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from cdma import golden
from cdma.golden import rle, zvc


def reference_rle(x):
    """Token-by-token RLE straight from the FORMAT.md rules (slow, obvious)."""
    out, z, eb = bytearray(), 0, x.dtype.itemsize
    for i, v in enumerate(x.tolist()):
        last = i == x.size - 1
        if v == 0 and not last:
            z += 1
            continue
        while z >= 256:
            out += bytes([255]) + bytes(eb)
            z -= 256
        out += bytes([z]) + int(v).to_bytes(eb, "little")
        z = 0
    return bytes(out)


def reference_zvc(x):
    """Window-by-window ZVC straight from FORMAT.md (slow, obvious)."""
    out, eb = bytearray(), x.dtype.itemsize
    for w in range(0, x.size, 32):
        win = x[w:w + 32].tolist()
        out += sum(1 << i for i, v in enumerate(win) if v).to_bytes(4, "little")
        for v in win:
            if v:
                out += int(v).to_bytes(eb, "little")
    return bytes(out)


@st.composite
def tensors(draw, max_len=3000):
    eb = draw(st.sampled_from([8, 16, 32]))
    n = draw(st.integers(0, max_len))
    density = draw(st.sampled_from([0.0, 0.01, 0.1, 0.5, 0.9, 1.0]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    vals = rng.integers(1, 2**eb, n, dtype=np.uint64)
    vals[rng.random(n) >= density] = 0
    return vals.astype(golden.elem_dtype(eb))


@pytest.mark.parametrize("codec, reference", [(zvc, reference_zvc), (rle, reference_rle)],
                         ids=["zvc", "rle"])
@settings(max_examples=150, deadline=None)
@given(x=tensors())
def test_codec_matches_reference_and_round_trips(codec, reference, x):
    enc = codec.encode(x)
    assert enc == reference(x)
    assert codec.encoded_size(x) == len(enc)
    assert np.array_equal(codec.decode(enc, x.size, x.dtype.itemsize * 8), x)


@settings(max_examples=120, deadline=None)
@given(tensors(max_len=40000), st.sampled_from(["zvc", "rle", "raw"]),
       st.sampled_from([512, 1024, 4096, 65536]))
def test_frame_round_trip_and_size(x, codec, chunk_bytes):
    f = golden.encode_frame(x, codec, chunk_bytes)
    assert len(f) == golden.frame_size(x, codec, chunk_bytes)
    d = golden.decode_frame(f)
    assert d.header.raw_length == x.nbytes and d.header.elem_bits == x.dtype.itemsize * 8
    assert np.array_equal(d.elements(), x)


@settings(max_examples=60, deadline=None)
@given(tensors(max_len=20000), st.sampled_from(["zvc", "rle"]), st.sampled_from([512, 2048]))
def test_frame_chunks_are_the_codec_or_raw_whichever_is_smaller(x, codec, chunk_bytes):
    """Rebuild the frame chunk by chunk from the single-chunk codecs."""
    eb = x.dtype.itemsize
    f = golden.encode_frame(x, codec, chunk_bytes)
    off = 16
    per = chunk_bytes // eb
    for c in range(0, x.size, per):
        chunk = x[c:c + per]
        comp = getattr(golden, codec).encode(chunk)
        raw = chunk.tobytes()
        payload, cid = (comp, golden.Codec[codec.upper()]) if len(comp) < len(raw) else (raw, 0)
        word = int.from_bytes(f[off:off + 4], "little")
        assert word == len(payload) | (cid << 24)
        assert f[off + 4: off + 4 + len(payload)] == payload
        pad = (-len(payload)) % 4
        assert f[off + 4 + len(payload): off + 4 + len(payload) + pad] == bytes(pad)
        off += 4 + len(payload) + pad
    assert off == len(f)


@pytest.mark.parametrize("pattern", [0x80000000, 0x7FC00001, 0xFFFFFFFF, 0x00000001, 0x7F800000])
def test_special_bit_patterns_survive(pattern):
    x = np.zeros(100, np.uint32)
    x[[0, 31, 32, 99]] = pattern
    f32 = x.view(np.float32)
    for codec in ("zvc", "rle", "raw"):
        back = golden.decode_frame(golden.encode_frame(f32, codec, 512)).elements()
        assert back.tobytes() == f32.tobytes()


def test_dense_data_never_expands_beyond_headers():
    x = np.arange(1, 10001, dtype=np.uint32)
    f = golden.encode_frame(x, "zvc", 4096)
    nchunks = -(-x.nbytes // 4096)
    assert len(f) == 16 + 4 * nchunks + x.nbytes


def test_dtype_inference_and_bytes_input():
    x = np.array([0, 1.5, 0, -2], np.float16)
    assert golden.encode_frame(x, "zvc", 512) == golden.encode_frame(x.tobytes(), "zvc", 512, elem_bits=16)
    with pytest.raises(ValueError, match="float64"):
        golden.encode_frame(np.zeros(4), "zvc")
    with pytest.raises(ValueError, match="elem_bits"):
        golden.encode_frame(b"\0" * 8, "zvc")
    with pytest.raises(ValueError, match="whole number"):
        golden.encode_frame(b"\0" * 7, "zvc", elem_bits=32)
    with pytest.raises(ValueError, match="chunk_bytes"):
        golden.encode_frame(x, "zvc", 1000)
    with pytest.raises(ValueError, match="codec"):
        golden.encode_frame(x, "lz77")


def test_big_endian_arrays_keep_their_values():
    x = np.array([1.0, 0.0, -3.5], dtype=">f4")
    back = golden.decode_frame(golden.encode_frame(x, "zvc", 512)).elements().view(np.float32)
    assert back.tolist() == [1.0, 0.0, -3.5]
