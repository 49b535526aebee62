"""Every malformed-input class raises FormatError with the right code and offset."""
import struct
import time

import numpy as np
import pytest

from cdma import golden
from cdma.golden import ErrorCode, FormatError, rle, zvc


def frame(x, codec="zvc", chunk_bytes=512):
    return bytearray(golden.encode_frame(x, codec, chunk_bytes))


def sparse(n=300, eb=32, every=7):
    x = np.zeros(n, golden.elem_dtype(eb))
    x[::every] = 3
    return x


def check(buf, code, offset=None):
    with pytest.raises(FormatError) as e:
        golden.decode_frame(bytes(buf))
    assert e.value.code == code, str(e.value)
    if offset is not None:
        assert e.value.offset == offset, str(e.value)
    assert f"offset {e.value.offset}" in str(e.value)
    return e.value


def test_bad_magic():
    f = frame(sparse())
    f[1] = ord("X")
    check(f, ErrorCode.BAD_MAGIC, 0)
    check(b"nope", ErrorCode.BAD_MAGIC, 0)


def test_bad_version():
    f = frame(sparse())
    for v in (0, 3, 255):
        f[4] = v
        check(f, ErrorCode.BAD_VERSION, 4)
    f[4] = 2                 # version 2 exists, but carries codec 3 only (FORMAT.md)
    check(f, ErrorCode.BAD_PARAMS, 7)


@pytest.mark.parametrize("pos,value", [(5, 12), (5, 64), (6, 8), (6, 17), (7, 3), (7, 4)])
def test_unsupported_header_params(pos, value):
    f = frame(sparse())
    f[pos] = value
    check(f, ErrorCode.BAD_PARAMS, pos)


def test_raw_length_not_multiple_of_element():
    f = frame(sparse())
    f[8:16] = struct.pack("<Q", 1201)
    check(f, ErrorCode.BAD_PARAMS, 8)


@pytest.mark.parametrize("cut", [1, 3, 4, 10, 15])
def test_truncated_header(cut):
    check(frame(sparse())[:cut], ErrorCode.TRUNCATED, cut)


@pytest.mark.parametrize("codec", ["zvc", "rle", "raw"])
def test_truncated_chunk_header_and_payload(codec):
    f = frame(sparse(2000), codec)
    for cut in (17, 18, 21, 40, len(f) - 1):
        check(f[:cut], ErrorCode.TRUNCATED, cut)


def test_empty_input():
    check(b"", ErrorCode.TRUNCATED, 0)


def test_bad_chunk_codec():
    f = frame(sparse(), "zvc")
    f[16 + 3] = 2          # RLE chunk inside a ZVC frame
    check(f, ErrorCode.BAD_CHUNK_CODEC, 19)
    f[16 + 3] = 9
    check(f, ErrorCode.BAD_CHUNK_CODEC, 19)


def test_raw_chunk_length_mismatch():
    f = frame(np.arange(1, 201, dtype=np.uint32), "raw")   # chunk 0 holds 512 bytes
    f[16:20] = (508).to_bytes(3, "little") + b"\0"
    check(f, ErrorCode.LENGTH_MISMATCH, 16)


def test_zvc_payload_longer_than_masks_say():
    x = sparse(64)                   # one chunk, two full windows
    payload = bytearray(zvc.encode(x)) + bytes(4)
    with pytest.raises(FormatError) as e:
        zvc.decode(bytes(payload), 64, 32)
    assert e.value.code == ErrorCode.LENGTH_MISMATCH and e.value.offset == len(payload) - 4


def test_zvc_payload_shorter_than_masks_say():
    x = sparse(64)
    payload = zvc.encode(x)
    for cut in (2, 4, 6, len(payload) - 1):
        with pytest.raises(FormatError) as e:
            zvc.decode(payload[:cut], 64, 32)
        assert e.value.code == ErrorCode.LENGTH_MISMATCH and e.value.offset == cut


def test_zvc_mask_beyond_chunk():
    x = sparse(40)                   # second window has 8 elements
    payload = bytearray(zvc.encode(x))
    second_mask = 4 + 4 * int(np.count_nonzero(x[:32]))
    payload[second_mask + 1] |= 0x01          # element 8 of a window of 8
    with pytest.raises(FormatError) as e:
        zvc.decode(bytes(payload), 40, 32)
    assert e.value.code == ErrorCode.BAD_MASK and e.value.offset == second_mask


def test_zvc_mask_beyond_chunk_inside_frame():
    x = sparse(40)
    f = frame(x, "zvc")
    second_mask = 16 + 4 + 4 + 4 * int(np.count_nonzero(x[:32]))
    f[second_mask + 3] |= 0x80
    check(f, ErrorCode.BAD_MASK, second_mask)


def test_rle_run_overshoots_chunk():
    payload = bytes([5, 1, 0, 0, 0])          # 6 elements, chunk has 4
    with pytest.raises(FormatError) as e:
        rle.decode(payload, 4, 32)
    assert e.value.code == ErrorCode.RUN_OVERSHOOT and e.value.offset == 0
    payload = bytes([0, 1, 0, 0, 0, 200, 0, 0, 0, 0])
    with pytest.raises(FormatError) as e:
        rle.decode(payload, 100, 32)
    assert e.value.code == ErrorCode.RUN_OVERSHOOT and e.value.offset == 5


def test_rle_truncated_token_and_short_payload():
    x = np.array([0, 0, 7, 0, 9, 0], np.uint16)
    payload = rle.encode(x)
    with pytest.raises(FormatError) as e:
        rle.decode(payload[:-1], x.size, 16)          # ends inside the last token
    assert e.value.code == ErrorCode.LENGTH_MISMATCH and e.value.offset == len(payload) - 3
    with pytest.raises(FormatError) as e:
        rle.decode(payload[:-3], x.size, 16)          # whole tokens, too few elements
    assert e.value.code == ErrorCode.LENGTH_MISMATCH and e.value.offset == len(payload) - 3
    with pytest.raises(FormatError) as e:
        rle.decode(payload + b"\0", x.size, 16)       # a byte after the last token
    assert e.value.code == ErrorCode.LENGTH_MISMATCH and e.value.offset == len(payload)


def test_rle_overshoot_inside_frame():
    x = np.zeros(20, np.uint8)
    x[3] = 1
    f = frame(x, "rle")
    assert f[16 + 3] == 2                      # stored as RLE
    f[16 + 4] = 50                             # first token's run: 50 zeros > 20 elements
    check(f, ErrorCode.RUN_OVERSHOOT, 20)


def test_nonzero_padding():
    x = np.zeros(8, np.uint16)
    x[2] = 0x0102
    f = frame(x, "rle")                        # payload 6 bytes + 2 padding
    f[-1] = 0xAA
    check(f, ErrorCode.BAD_PADDING, len(f) - 1)


def test_trailing_bytes():
    f = frame(sparse())
    n = len(f)
    check(f + b"\0", ErrorCode.TRAILING_BYTES, n)
    empty = frame(np.zeros(0, np.uint32))
    check(empty + b"\0\0\0\0", ErrorCode.TRAILING_BYTES, 16)


def test_first_error_in_stream_order_wins():
    x = sparse(4000)                           # several 512-byte chunks
    f = frame(x, "zvc")
    second = 16 + 4 + ((int.from_bytes(f[16:20], "little") & 0xFFFFFF) + 3) // 4 * 4
    f[20] ^= 0xFF                              # corrupt chunk 0's first mask
    f[second + 3] = 9                          # and chunk 1's codec
    err = check(f, ErrorCode.LENGTH_MISMATCH)
    assert err.offset < second


def test_hostile_length_fails_fast_without_allocating():
    f = frame(sparse())
    f[8:16] = struct.pack("<Q", (1 << 63) - 4)
    t = time.perf_counter()
    # The last real chunk (44 elements) is now read as a full 128-element chunk:
    # its masks run out where the input ends; that content verdict ties with
    # the truncation at the same offset and wins (FORMAT.md).
    check(f, ErrorCode.LENGTH_MISMATCH, len(f))
    f[8:16] = struct.pack("<Q", (1 << 63) - 4 - 512 * 2**40)
    check(f[:16], ErrorCode.TRUNCATED, 16)       # header alone: nothing but truncation
    assert time.perf_counter() - t < 5          # a hang guard, not a performance claim


def test_hostile_length_on_a_large_buffer_is_linear_in_the_input():
    # 1 MiB of valid-looking zero-length ZVC chunk headers: walked, then rejected
    # at the first chunk's content; nothing of the claimed size is allocated.
    f = frame(sparse())[:16] + bytes([0, 0, 0, 1]) * (1 << 18)
    f[8:16] = struct.pack("<Q", 1 << 62)
    check(f, ErrorCode.LENGTH_MISMATCH, 20)


def test_zero_count_payloads():
    assert zvc.decode(b"", 0, 32).size == 0
    with pytest.raises(FormatError):
        rle.decode(b"\0\0", 0, 8)


def test_content_error_wins_a_tie_with_trailing_bytes():
    # One ZVC chunk whose header says payload length 0 (LENGTH_MISMATCH at the
    # payload end, offset 20), then 4 bytes after the last chunk (offset 20 too).
    f = bytes.fromhex("63444d4101200a011c000000000000000000000100000000")
    check(f, ErrorCode.LENGTH_MISMATCH, 20)
