"""Fuzz properties of the golden frame decoder (a short campaign; `make fuzz` runs a long one)."""
import numpy as np
from hypothesis import given, settings, strategies as st

from cdma import golden
from cdma.fuzz import golden as fuzz


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(1, 4))
def test_mutated_frames_decode_to_original_or_raise_format_error(seed, count):
    rng = np.random.default_rng(seed)
    frame, raw = fuzz.make_frame(rng)
    other, _ = fuzz.make_frame(rng)
    buf, _ = fuzz.mutate(rng, frame, other, count)
    outcome = fuzz.run_case(buf, raw, measure_memory=seed % 10 == 0)
    if buf == frame:
        assert outcome == "ok-original"


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300))
def test_random_bytes_never_crash(data):
    for prefix in (b"", golden.encode_frame(np.zeros(0, np.uint32), "zvc")[:16]):
        try:
            golden.decode_frame(prefix + data)
        except golden.FormatError:
            pass


def test_short_campaign_counts_outcomes():
    counts = fuzz.campaign(3000, seed=1)
    assert sum(counts.values()) == 3000
    # The mutations reach most verdicts, not only the header checks.
    assert {"TRUNCATED", "LENGTH_MISMATCH", "BAD_MAGIC", "TRAILING_BYTES"} <= set(counts)
