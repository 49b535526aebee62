"""Mutation fuzzing of the golden frame decoder (``cdma fuzz``).

A case takes a valid frame, applies one or more mutations (bit flips, byte
overwrites, truncation, extension, splicing with another frame, a length or
header field set to an extreme) and decodes the result.  The only acceptable
outcomes are: the exact original data (the mutation was benign, e.g. it hit a
byte the decoder must ignore — there are none in this format except when the
mutation wrote the value already there) or a :class:`golden.FormatError`.
Anything else — another exception, a wrong result, an allocation beyond a
bound derived from the input size — is a finding.
"""
from __future__ import annotations

import collections
import struct
import sys
import time
import tracemalloc

import numpy as np

from cdma import golden

__all__ = ["MUTATIONS", "make_frame", "mutate", "run_case", "campaign", "add_arguments", "run"]

#: Largest raw/compressed ratio any valid frame can reach (an fp32 RLE filler
#: token: 5 bytes for 256 elements = 1024 bytes) — bounds what a decoder may
#: allocate for a given input size.
MAX_EXPANSION = 1024 / 5


def make_frame(rng: np.random.Generator):
    """A random valid frame: ``(frame bytes, raw bytes)``."""
    eb = int(rng.choice([8, 16, 32]))
    n = int(rng.choice([0, 1, 7, 32, 33, 100, 257, 1000, 3000]))
    density = float(rng.choice([0.0, 0.05, 0.3, 0.8, 1.0]))
    x = rng.integers(1, 2**eb, n, dtype=np.uint64)
    x[rng.random(n) >= density] = 0
    x = x.astype(golden.elem_dtype(eb))
    codec = str(rng.choice(["zvc", "rle", "raw", "zvce"] if eb > 8 else ["zvc", "rle", "raw"]))
    chunk = int(rng.choice([512, 1024]))
    table = None
    if codec == "zvce":
        # ZVCE: top bytes from a small set, so most codes hit the table; the
        # table built from the data or a random one
        top = rng.choice(rng.integers(0, 256, 6), n).astype(np.uint64)
        x = np.where(x != 0, (x & ((1 << (eb - 8)) - 1)) | (top << (eb - 8)) | 1, 0).astype(x.dtype)
        if rng.random() < 0.3:
            w = tuple(int(v) for v in rng.choice(golden.zvce.WIDTH_TRIPLES))
            table = golden.zvce.CodeTable(w, tuple(rng.integers(0, 256, sum(1 << v for v in w)).tolist()))
    return golden.encode_frame(x, codec, chunk, table=table), x.tobytes()


def _flip(rng, b, other):
    if b:
        i = int(rng.integers(len(b)))
        b[i] ^= 1 << int(rng.integers(8))
    return b


def _overwrite(rng, b, other):
    if b:
        b[int(rng.integers(len(b)))] = int(rng.integers(256))
    return b


def _truncate(rng, b, other):
    return b[: int(rng.integers(len(b) + 1))]


def _extend(rng, b, other):
    return b + bytearray(rng.integers(0, 256, int(rng.integers(1, 9)), dtype=np.uint8).tobytes())


def _splice(rng, b, other):
    cut = int(rng.integers(len(b) + 1))
    cut2 = int(rng.integers(len(other) + 1))
    return b[:cut] + other[cut2:]


def _extreme_raw_length(rng, b, other):
    if len(b) >= 16:
        values = [0, 1, 4, (1 << 63) - 4, (1 << 64) - 1, 1 << 62, len(b) * 300]
        value = values[int(rng.integers(len(values)))]
        b[8:16] = struct.pack("<Q", value)
    return b


def _extreme_chunk_length(rng, b, other):
    if len(b) >= 20:
        word = int.from_bytes(b[16:20], "little")
        plen = int(rng.choice([0, 1, 3, 0xFFFFFF, (word & 0xFFFFFF) + 4, max((word & 0xFFFFFF) - 4, 0)]))
        b[16:20] = (plen | (word & 0xFF000000)).to_bytes(4, "little")
    return b


def _header_field(rng, b, other):
    if len(b) >= 8:
        b[int(rng.integers(4, 8))] = int(rng.integers(256))
    return b


MUTATIONS = {f.__name__.lstrip("_"): f for f in (
    _flip, _overwrite, _truncate, _extend, _splice, _extreme_raw_length,
    _extreme_chunk_length, _header_field)}


def mutate(rng, frame: bytes, other: bytes, count: int = 1):
    b = bytearray(frame)
    names = []
    for _ in range(count):
        name = str(rng.choice(list(MUTATIONS)))
        b = MUTATIONS[name](rng, b, bytearray(other))
        names.append(name)
    return bytes(b), names


def run_case(buf: bytes, original: bytes, measure_memory: bool = False) -> str:
    """Decode ``buf``; return the outcome name or raise AssertionError on a finding."""
    if measure_memory:
        tracemalloc.start()
    try:
        out = golden.decode_frame(buf)
    except golden.FormatError as e:
        outcome = e.code.name
    else:
        data = out.data.tobytes()
        outcome = "ok-original" if data == original else "ok-other"
        if outcome == "ok-other":
            # A different but valid frame (e.g. a splice of two frames, or a flip
            # in a value byte): must re-encode to the very same bytes when the
            # mutation kept the encoder's choices; at least it must round-trip.
            again = golden.decode_frame(golden.encode_frame(out.elements(), out.header.codec,
                                                            out.header.chunk_bytes,
                                                            table=out.header.table))
            assert again.data.tobytes() == data, "decoded data does not round-trip"
    finally:
        if measure_memory:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            bound = 8 * MAX_EXPANSION * len(buf) + (4 << 20)
            assert peak <= bound, f"decoder allocated {peak} bytes for a {len(buf)}-byte input"
    return outcome


def campaign(cases: int, seed: int = 0, progress: bool = False, memory_every: int = 50):
    """Run ``cases`` random cases; return a Counter of outcomes (raises on a finding)."""
    rng = np.random.default_rng(seed)
    counts = collections.Counter()
    it = range(cases)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, unit="case", file=sys.stderr, desc="fuzz golden")
    pool = [make_frame(rng) for _ in range(16)]
    for i in it:
        frame, raw = pool[int(rng.integers(len(pool)))]
        other, _ = pool[int(rng.integers(len(pool)))]
        buf, names = mutate(rng, frame, other, int(rng.integers(1, 4)))
        try:
            counts[run_case(buf, raw, measure_memory=(i % memory_every == 0))] += 1
        except AssertionError as e:
            raise AssertionError(f"case {i} (seed {seed}, mutations {names}): {e}; "
                                 f"input {buf[:64].hex()}...") from e
        except Exception as e:  # any other exception is a decoder bug
            raise AssertionError(f"case {i} (seed {seed}, mutations {names}): "
                                 f"{type(e).__name__}: {e}; input {buf[:64].hex()}...") from e
        if i % 500 == 499:
            pool[int(rng.integers(len(pool)))] = make_frame(rng)
    return counts


def add_arguments(p):
    p.add_argument("--cases", type=int, default=20000, help="number of cases (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")


def run(args) -> int:
    t = time.perf_counter()
    counts = campaign(args.cases, args.seed, progress=sys.stderr.isatty())
    dt = time.perf_counter() - t
    print(f"golden decoder fuzz: {sum(counts.values())} cases, seed {args.seed}, {dt:.1f} s, "
          f"0 findings (no other exception, no wrong output, no allocation past bound)")
    for name, n in counts.most_common():
        print(f"  {name:<18}{n:>8}")
    return 0
