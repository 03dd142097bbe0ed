"""Vector <-> bytes, with a validated header. Pure: no Django, no I/O.

A value is an 8-byte header followed by the raw little-endian vector:

    b"EMB"  format version (1 byte)  dtype code (1 byte: f=float32, e=float16)  pad  dim (uint16 LE)

Nothing is ever unpickled: a value that is not exactly header + dim * itemsize bytes with the
expected header is reported as corrupt, and the caller recomputes and overwrites it.
"""

import struct
from dataclasses import dataclass

import numpy as np

FORMAT_VERSION = 1
MAGIC = b"EMB"
_HEADER = struct.Struct("<3sBcxH")
HEADER_SIZE = _HEADER.size
_DTYPES = {"float32": (b"f", np.dtype("<f4")), "float16": (b"e", np.dtype("<f2"))}
STORAGE_DTYPES = tuple(_DTYPES)


def header(*, dtype: str, dim: int) -> bytes:
    """Return the header that every value of this dtype and dimension starts with."""
    code, _ = _storage(dtype)
    return _HEADER.pack(MAGIC, FORMAT_VERSION, code, dim)


def value_size(*, dtype: str, dim: int) -> int:
    return HEADER_SIZE + dim * _storage(dtype)[1].itemsize


def encode(vectors: np.ndarray, *, dtype: str) -> list[bytes]:
    """Return one value per row of the 2-D float `vectors`."""
    if vectors.ndim != 2:
        raise ValueError(f"expected a 2-D array, got shape {vectors.shape}")
    head = header(dtype=dtype, dim=vectors.shape[1])
    rows = np.ascontiguousarray(vectors, dtype=_storage(dtype)[1])
    return [head + row.tobytes() for row in rows]


@dataclass(frozen=True)
class Decoded:
    """What came back from the store for a list of keys."""

    vectors: np.ndarray  # float32, one row per valid value, in the order of `found`
    found: list[int]  # positions whose value was valid
    corrupt: list[int]  # positions whose value was present but invalid


def decode_many(values: list[object], *, dtype: str, dim: int) -> Decoded:
    """Validate and decode store values; `None` means absent, anything invalid is corrupt."""
    head = header(dtype=dtype, dim=dim)
    size = value_size(dtype=dtype, dim=dim)
    fast = _decode_all_valid(values, head=head, size=size, dtype=dtype)
    if fast is not None:
        return Decoded(fast, list(range(len(values))), [])
    found: list[int] = []
    corrupt: list[int] = []
    good: list[bytes] = []
    for position, value in enumerate(values):
        if value is None:
            continue
        if type(value) is bytes and len(value) == size and value.startswith(head):
            found.append(position)
            good.append(value)
        else:
            corrupt.append(position)
    if not good:
        return Decoded(np.empty((0, dim), dtype=np.float32), found, corrupt)
    raw = np.frombuffer(b"".join(good), dtype=np.uint8).reshape(len(good), size)
    stored = raw[:, HEADER_SIZE:].view(_storage(dtype)[1])
    return Decoded(stored.astype(np.float32, order="C"), found, corrupt)


def _decode_all_valid(values: list[object], *, head: bytes, size: int, dtype: str):
    """The common case in one pass of C loops: every value present, bytes, of the right size
    and header. None when any is not (the caller then sorts them one by one)."""
    if not values:
        return None
    try:
        if set(map(len, values)) != {size}:
            return None
        raw = b"".join(values)  # TypeError for None or str
    except TypeError:
        return None
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(len(values), size)
    if not (rows[:, :HEADER_SIZE] == np.frombuffer(head, dtype=np.uint8)).all():
        return None
    return rows[:, HEADER_SIZE:].view(_storage(dtype)[1]).astype(np.float32, order="C")


def round_trip(vectors: np.ndarray, *, dtype: str) -> np.ndarray:
    """Return `vectors` as a later cache hit would return them (rounded when dtype is float16)."""
    return np.asarray(vectors, dtype=_storage(dtype)[1]).astype(np.float32, order="C")


def _storage(dtype: str) -> tuple[bytes, np.dtype]:
    try:
        return _DTYPES[dtype]
    except KeyError:
        raise ValueError(f"storage dtype must be one of {STORAGE_DTYPES}, not {dtype!r}") from None
