"""The worked examples of docs/FORMAT.md, checked byte for byte against golden/."""
import re
from pathlib import Path

import numpy as np
import pytest

from cdma import golden

DOC = Path(__file__).resolve().parents[1] / "docs" / "FORMAT.md"


def parse_vectors():
    vectors = []
    for block in re.findall(r"```vector\n(.*?)```", DOC.read_text(), re.S):
        fields, key = {}, None
        for line in block.splitlines():
            m = re.match(r"(\w+):\s*(.*)", line)
            if m:
                key = m.group(1)
                fields[key] = m.group(2)
            elif key:
                fields[key] += " " + line.strip()
        vectors.append(fields)
    return vectors


def elements(text, elem_bits):
    words = []
    for tok in text.split():
        word, _, count = tok.partition("*")
        words += [int(word, 16)] * (int(count) if count else 1)
    return np.array(words, dtype=golden.elem_dtype(elem_bits))


VECTORS = parse_vectors()


def test_doc_has_vectors():
    kinds = {v["codec"] for v in VECTORS}
    assert {"zvc", "rle", "zvce", "frame-zvc", "frame-rle", "frame-zvce"} <= kinds


@pytest.mark.parametrize("vec", VECTORS, ids=[f"{v['codec']}-{i}" for i, v in enumerate(VECTORS)])
def test_vector(vec):
    eb = int(vec["elem_bits"])
    x = elements(vec["input"], eb)
    expected = bytes.fromhex(vec["output"])
    codec = vec["codec"]
    # ZVCE vectors name their code table; the other codecs take none.
    kw = {"table": golden.zvce.CodeTable.unpack(bytes.fromhex(vec["table"]))} if "table" in vec else {}
    if codec.startswith("frame-"):
        got = golden.encode_frame(x, codec.split("-")[1], int(vec["chunk_bytes"]), **kw)
        assert got == expected
        assert golden.frame_size(x, codec.split("-")[1], int(vec["chunk_bytes"]), **kw) == len(expected)
        back = golden.decode_frame(expected)
        assert np.array_equal(back.elements(), x)
        assert back.header.table == kw.get("table")
    else:
        module = getattr(golden, codec)
        assert module.encode(x, **kw) == expected
        assert module.encoded_size(x, **kw) == len(expected)
        assert np.array_equal(module.decode(expected, x.size, eb, **kw), x)
