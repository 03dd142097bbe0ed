import pickle

import numpy as np
import pytest

from embeddings import codec


def _vectors(n=5, dim=384, seed=0):
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def test_float32_round_trip_is_bit_identical():
    vectors = _vectors()
    values = codec.encode(vectors, dtype="float32")
    decoded = codec.decode_many(values, dtype="float32", dim=384)
    assert decoded.found == [0, 1, 2, 3, 4]
    assert decoded.vectors.tobytes() == vectors.tobytes()


def test_value_is_header_plus_raw_bytes():
    [value] = codec.encode(_vectors(1), dtype="float32")
    assert len(value) == codec.HEADER_SIZE + 384 * 4 == 1544
    assert value.startswith(b"EMB")


def test_float16_halves_size_and_stays_close():
    vectors = _vectors(50)
    values = codec.encode(vectors, dtype="float16")
    assert len(values[0]) == codec.HEADER_SIZE + 384 * 2
    decoded = codec.decode_many(values, dtype="float16", dim=384).vectors
    cosine = (
        (decoded * vectors).sum(1)
        / np.linalg.norm(decoded, axis=1)
        / np.linalg.norm(vectors, axis=1)
    )
    assert cosine.min() > 0.9999


class _Exploit:
    def __reduce__(self):
        return (exec, ("raise SystemExit('unpickled!')",))


@pytest.mark.parametrize(
    "bad",
    [
        pickle.dumps(_Exploit()),
        b"",
        b"garbage",
        codec.encode(_vectors(1), dtype="float32")[0][:-4],  # truncated
        codec.encode(_vectors(1), dtype="float32")[0] + b"\0",  # too long
        codec.encode(_vectors(1, dim=383), dtype="float32")[0],  # wrong dimension
        codec.encode(_vectors(1), dtype="float16")[0],  # other dtype
        "a str, not bytes",
        b"XYZ" + codec.encode(_vectors(1), dtype="float32")[0][3:],  # wrong magic
    ],
)
def test_invalid_values_are_corrupt_never_unpickled(bad):
    good = codec.encode(_vectors(1), dtype="float32")[0]
    decoded = codec.decode_many([None, bad, good], dtype="float32", dim=384)
    assert decoded.found == [2]
    assert decoded.corrupt == [1]


def test_unknown_dtype_is_refused():
    with pytest.raises(ValueError, match="storage dtype"):
        codec.encode(_vectors(1), dtype="int8")
