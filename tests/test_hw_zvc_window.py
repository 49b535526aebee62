# amaranth: UnusedElaboratable=no
"""Amaranth-simulator tests of hw.zvc_window (the ZVC decompressor for <= 16 lanes).

Expected results come from ``golden.zvc``: good chunks decode to the golden
elements, malformed ones close with ``user`` set and the golden error code, never
with more elements than their count.  Inputs arrive with random gaps, the output
is back-pressured, and a monitor checks the output's stream rules.  The
structure's own hazards get cases of their own: failures while the step loop
still emits earlier chunks, and chunks longer than the ring.
"""
from __future__ import annotations

import numpy as np
import pytest

from cdma.golden import zvc as gzvc
from cdma.hw.zvc import ZVCDecompressor
from cdma.hw.zvc_window import ZVCWindowDecoder
import hwsim
from hwsim import elements


def run(elem_bits, lanes, in_bytes, chunks, seed, gap=0.3, backpressure=0.3):
    """Decode ``chunks`` [(payload, count)] and check them against golden."""
    expect = hwsim.golden_verdicts(gzvc, chunks, elem_bits)
    got, errors = hwsim.run_decoder(ZVCWindowDecoder(elem_bits, lanes, in_bytes), chunks,
                                    seed=seed, gap=gap, backpressure=backpressure)
    hwsim.check_decoded(chunks, expect, got, errors)
    return expect


def random_chunks(elem_bits, rng, n):
    """Good chunks of every size class and density, and malformed ones (cut
    short, bytes added, a bit flipped, a count off by up to 3)."""
    chunks = []
    for _ in range(n):
        size = int(rng.choice([0, 1, 2, 31, 32, 33, 63, 64, 65, int(rng.integers(1, 200))]))
        x = elements(size, float(rng.choice([0.0, 0.1, 0.5, 0.9, 1.0])), elem_bits, rng)
        enc = bytearray(gzvc.encode(x, elem_bits))
        count = size
        kind = int(rng.integers(0, 8))
        if kind == 1 and enc:
            enc = enc[:int(rng.integers(0, len(enc)))]
        elif kind == 2:
            enc += bytes(int(rng.integers(1, 9)))
        elif kind == 3 and enc:
            enc[int(rng.integers(0, len(enc)))] ^= 1 << int(rng.integers(0, 8))
        elif kind == 4:
            count = max(0, size + int(rng.integers(-3, 4)))
        chunks.append((bytes(enc), count))
    return chunks


# (8 x 8, 16 x 4, 32 x 4, 32 x 16 at their own width are the sweep's; 1-byte
# and 64-byte beats, 1 and 2 lanes, 4-byte units with 1 unit a beat, two steps a
# window with the mask across beats)
CONFIGS = [(8, 8, 8), (16, 4, 8), (32, 4, 16), (32, 16, 64), (16, 8, 16), (8, 1, 1),
           (32, 1, 4), (8, 2, 64), (32, 4, 64), (8, 16, 16), (16, 16, 4)]


@pytest.mark.parametrize("elem_bits, lanes, in_bytes", CONFIGS)
def test_random_good_and_malformed_chunks(elem_bits, lanes, in_bytes):
    rng = np.random.default_rng(elem_bits * 1000 + lanes * 100 + in_bytes)
    expect = run(elem_bits, lanes, in_bytes, random_chunks(elem_bits, rng, 40),
                 seed=lanes, gap=0.2, backpressure=0.2)
    assert any(hasattr(e, "shape") for e in expect) and not all(hasattr(e, "shape") for e in expect)


@pytest.mark.parametrize("elem_bits, lanes", [(8, 2), (32, 16)])
def test_failure_while_an_earlier_chunk_is_emitted(elem_bits, lanes):
    """A chunk fails while the step loop still emits a chunk two before it (an
    empty chunk between): the failure flushes only its own chunk's windows
    (descriptors carry the chunk number mod 4; with a parity bit this case lost
    the first chunk's last window and hung).  At two steps a window the chunk
    before may also still wait in R2, the stage after the move."""
    rng = np.random.default_rng(5)
    good = elements(64, 0.9, elem_bits, rng)
    chunks = [(gzvc.encode(good, elem_bits), 64), (b"", 0), (b"\x01\x00\x00\x00", 1),
              (gzvc.encode(good, elem_bits), 64)]
    expect = run(elem_bits, lanes, 64, chunks, seed=1, gap=0.0, backpressure=0.6)
    assert [hasattr(e, "shape") for e in expect] == [True, True, False, True]


@pytest.mark.parametrize("tail", [400, 3])
def test_bytes_after_the_last_window_beyond_the_ring(tail):
    """Bytes after a chunk's last window, more than the ring holds (4-byte beats
    of one unit): refused as soon as a beat that is not the chunk's last reaches
    past the window, not after its end, which could never land."""
    rng = np.random.default_rng(6)
    x = elements(32, 1.0, 32, rng)
    y = elements(40, 0.5, 32, rng)
    chunks = [(gzvc.encode(x, 32) + bytes(tail), 32), (gzvc.encode(y, 32), 40)]
    expect = run(32, 1, 4, chunks, seed=2)
    assert [hasattr(e, "shape") for e in expect] == [False, True]


def test_empty_chunk_with_many_beats():
    """A count of 0 with more bytes than the ring holds: refused once a full beat
    has landed (the chunk's end cannot land while the ring is full)."""
    rng = np.random.default_rng(7)
    y = elements(40, 0.5, 8, rng)
    chunks = [(bytes(600), 0), (gzvc.encode(y, 8), 40), (b"", 0)]
    expect = run(8, 8, 8, chunks, seed=3)
    assert [hasattr(e, "shape") for e in expect] == [False, True, True]


def test_the_decompressor_uses_it():
    """``ZVCDecompressor`` elaborates this structure exactly where it is supported."""
    from amaranth.hdl import Fragment
    for args, windowed in [((8, 8, 8), True), ((32, 4, 16), True), ((32, 16, 64), True),
                           ((8, 32, 32), False), ((32, 4, 5), False), ((16, 8, 12), False)]:
        assert ZVCWindowDecoder.supports(*args) == windowed
        frag = Fragment.get(ZVCDecompressor(*args), None)
        names = [name for _, name, _ in frag.subfragments]
        assert ("windows" in names) == windowed, (args, names)


@pytest.mark.parametrize("args, what", [
    ((8, 32, 32), "lanes=32"),
    ((32, 4, 12), "in_bytes=12"),
])
def test_unsupported_configurations_are_refused(args, what):
    with pytest.raises(ValueError, match=what):
        ZVCWindowDecoder(*args)


def test_bad_parameters():
    with pytest.raises(TypeError):
        ZVCWindowDecoder(8, "8", 8)
    with pytest.raises(ValueError, match="elem_bits"):
        ZVCWindowDecoder(12, 8, 8)
