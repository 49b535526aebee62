"""``cdma bench golden``: software speed of the golden codecs, beside zlib.

Encode and decode throughput (MB/s of raw data, 1 MB = 10^6 B) of ZVC, RLE and
the full frame on a synthetic ReLU-like fp32 tensor, and of zlib level 1 on the
same bytes in the same run.  ZVC and RLE are measured the way the format uses
them: payloads of ``--chunk-bytes`` chunks, decoded all chunks in lock-step.
"""
from __future__ import annotations

import platform
import time
import zlib

import numpy as np

from cdma import golden
from cdma.golden import rle, zvc

from cdma.study.synthetic import relu_tensor


def _best(fn, repeat):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def measure(nbytes=64 << 20, density=0.5, chunk_bytes=4096, repeat=3, seed=0):
    """Rows of (codec, encode MB/s, decode MB/s, ratio); each result is checked."""
    x = relu_tensor(nbytes, density, seed)
    u = golden.as_elements(x)
    raw = x.tobytes()
    mb = x.nbytes / 1e6
    chunk_elems = chunk_bytes // 4
    rows = []

    def codec_bench(name, module, encode):
        t_enc, (stream, sizes) = _best(encode, repeat)
        starts = np.cumsum(sizes) - sizes
        counts = np.diff(np.append(np.arange(0, u.size, chunk_elems), u.size))
        t_dec, (out, err) = _best(lambda: module.decode_chunks(stream, starts, sizes, counts, 32), repeat)
        assert err is None and np.array_equal(out, u), f"{name} round trip failed"
        rows.append((name, mb / t_enc, mb / t_dec, x.nbytes / stream.size))

    def chunked_zvc():
        stream, ws = zvc.encode_stream(u)
        return stream, np.add.reduceat(ws, np.arange(0, ws.size, chunk_elems // zvc.WINDOW))

    codec_bench("zvc", zvc, chunked_zvc)
    codec_bench("rle", rle, lambda: rle.encode_stream(u, chunk_elems))
    t_enc, frame = _best(lambda: golden.encode_frame(x, "zvc", chunk_bytes), repeat)
    t_dec, dec = _best(lambda: golden.decode_frame(frame), repeat)
    assert np.array_equal(dec.data, np.frombuffer(raw, np.uint8)), "frame round trip failed"
    rows.append(("frame (zvc)", mb / t_enc, mb / t_dec, x.nbytes / len(frame)))
    t_enc, z = _best(lambda: zlib.compress(raw, 1), repeat)
    t_dec, back = _best(lambda: zlib.decompress(z), repeat)
    assert back == raw
    rows.append(("zlib level 1", mb / t_enc, mb / t_dec, x.nbytes / len(z)))
    return rows


def add_arguments(p):
    p.add_argument("--mib", type=int, default=64, help="tensor size in MiB (default %(default)s)")
    p.add_argument("--density", type=float, default=0.5, help="nonzero fraction (default %(default)s)")
    p.add_argument("--chunk-bytes", type=int, default=4096, help="chunk size (default %(default)s)")
    p.add_argument("--repeat", type=int, default=3, help="best of N runs (default %(default)s)")


def run(args) -> int:
    if args.mib < 1 or not 0 <= args.density <= 1 or args.chunk_bytes not in golden.CHUNK_BYTES:
        print("cdma bench golden: need --mib >= 1, 0 <= --density <= 1, --chunk-bytes a power "
              f"of two in 512..65536 (got {args.mib}, {args.density}, {args.chunk_bytes})")
        return 2
    print(f"golden codecs on {args.mib} MiB fp32, density {args.density}, {args.chunk_bytes} B chunks, "
          f"best of {args.repeat}; {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, numpy {np.__version__}")
    rows = measure(args.mib << 20, args.density, args.chunk_bytes, args.repeat)
    print(f"{'codec':<14}{'encode MB/s':>12}{'decode MB/s':>12}{'ratio':>8}")
    for name, enc, dec, ratio in rows:
        print(f"{name:<14}{enc:>12.0f}{dec:>12.0f}{ratio:>8.2f}")
    return 0
