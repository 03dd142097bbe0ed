"""The app's public operations. Everything else in the product embeds through `embed_texts`.

from embeddings.services import embed_texts
vectors = embed_texts(["Too expensive", "Friendly staff"])  # float32, shape (2, 384)
"""

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from embeddings import codec, counters, keys
from embeddings.backends import BaseBackend, get_backend
from embeddings.conf import get_config
from embeddings.exceptions import CacheError, CacheUnavailable
from embeddings.stores import BaseStore, get_store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbeddingReport:
    """The vectors of one call and what it took to get them."""

    vectors: np.ndarray
    hits: int  # input texts served from the cache
    misses: int  # input texts whose vector was computed in this call
    encoded: int  # distinct texts given to the model
    stored: int  # of those, how many the cache accepted (fewer when it refused writes)
    corrupt: int  # cached values that failed validation (recomputed and overwritten)
    cache_available: bool
    seconds: float
    encode_seconds: float


def embed_texts(texts: Sequence[str], *, model: str | None = None) -> np.ndarray:
    """Return the embeddings of `texts`: float32, shape (len(texts), dim), rows in input order.

    Cached vectors come from the store in one round trip; the others are computed (each distinct
    text once) and written back in one pipeline. If the store is unreachable the vectors are
    computed all the same. `model` is a sentence-transformers name or folder (default: the
    configured model).

    Raises TypeError if `texts` is not a list or tuple of str.
    """
    return embed_texts_with_report(texts, model=model).vectors


def embed_texts_with_report(texts: Sequence[str], *, model: str | None = None) -> EmbeddingReport:
    """Like `embed_texts`, also returning hits, misses and timings of the call."""
    started = time.perf_counter()
    _check_texts(texts)
    backend = get_backend(model)
    config = get_config()
    dtype = config["STORAGE_DTYPE"]
    dim = backend.dimension
    if not texts:
        empty = np.empty((0, dim), dtype=np.float32)
        return EmbeddingReport(empty, 0, 0, 0, 0, 0, True, time.perf_counter() - started, 0.0)

    # Dedup: each distinct text is looked up and encoded once.
    position_of: dict[str, int] = {}
    inverse = np.fromiter(
        (position_of.setdefault(t, len(position_of)) for t in texts),
        dtype=np.intp,
        count=len(texts),
    )
    unique = list(position_of)
    fingerprint = model_fingerprint(backend)
    namespace = keys.namespace(config["KEY_PREFIX"], fingerprint)
    cache_keys = keys.text_keys(namespace, unique)
    description = json.dumps({"label": backend.label, "dim": dim, "storage_dtype": dtype})

    store = get_store()
    lookup_counts = counters.take(fingerprint, {"requested": len(texts)}, description=description)
    values, cache_available = _lookup(store, cache_keys, lookup_counts)
    decoded = codec.decode_many(values, dtype=dtype, dim=dim)
    if decoded.corrupt:
        logger.warning(
            "%d cached embedding value(s) failed validation (e.g. key %s); recomputing them",
            len(decoded.corrupt),
            cache_keys[decoded.corrupt[0]],
        )

    matrix = np.empty((len(unique), dim), dtype=np.float32)
    if decoded.found:
        matrix[decoded.found] = decoded.vectors
    missing = _missing_positions(len(unique), decoded.found)
    encode_seconds = 0.0
    if missing:
        encode_started = time.perf_counter()
        computed = backend.encode([unique[i] for i in missing])
        encode_seconds = time.perf_counter() - encode_started
        if computed.shape != (len(missing), dim):
            raise ValueError(
                f"backend returned shape {computed.shape}, expected {(len(missing), dim)}"
            )
        # Return what a later hit will return: identical for float32, rounded for float16.
        matrix[missing] = codec.round_trip(computed, dtype=dtype)

    vectors = matrix[inverse] if len(unique) != len(texts) else matrix
    missed_unique = np.zeros(len(unique), dtype=bool)
    missed_unique[missing] = True
    misses = int(missed_unique[inverse].sum())
    stored = 0
    if missing:
        write_counts = counters.take(
            fingerprint,
            {
                "misses": misses,
                "corrupt": len(decoded.corrupt),
                "encode_us": round(encode_seconds * 1e6),
            },
            description=description,
            register=True,
        )
        if cache_available:
            payload = dict(
                zip(
                    [cache_keys[i] for i in missing],
                    codec.encode(computed, dtype=dtype),
                    strict=True,
                )
            )
            cache_available, accepted = _write(store, payload, write_counts, ttl=config["TTL"])
            stored = len(payload) if accepted else 0
        else:
            counters.give_back(write_counts)
    report = EmbeddingReport(
        vectors=vectors,
        hits=len(texts) - misses,
        misses=misses,
        encoded=len(missing),
        stored=stored,
        corrupt=len(decoded.corrupt),
        cache_available=cache_available,
        seconds=time.perf_counter() - started,
        encode_seconds=encode_seconds,
    )
    _log(report, dim=dim, big=len(texts) >= config["LOG_INFO_MIN_TEXTS"])
    return report


def model_fingerprint(backend: BaseBackend) -> str:
    """The fingerprint of everything that changes `backend`'s vectors as they are stored."""
    fields = {
        **backend.fingerprint_fields(),
        "storage_dtype": get_config()["STORAGE_DTYPE"],
        "format": codec.FORMAT_VERSION,
    }
    return keys.fingerprint(fields)


def namespace_for(backend: BaseBackend) -> str:
    """The key prefix shared by every vector of `backend` under the current settings."""
    return keys.namespace(get_config()["KEY_PREFIX"], model_fingerprint(backend))


def _check_texts(texts: object) -> None:
    if not isinstance(texts, list | tuple):
        raise TypeError(f"texts must be a list or tuple of str, not {type(texts).__name__}")
    for position, text in enumerate(texts):
        if type(text) is not str and not isinstance(text, str):
            raise TypeError(f"texts[{position}] must be str, not {type(text).__name__}")


def _missing_positions(count: int, found: list[int]) -> list[int]:
    if not found:
        return list(range(count))
    present = np.zeros(count, dtype=bool)
    present[found] = True
    return np.flatnonzero(~present).tolist()


def _lookup(
    store: BaseStore, cache_keys: list[str], increments: counters.Increments
) -> tuple[list[object], bool]:
    """Values for the keys, and whether the store answered; all None when it did not."""
    if not store.breaker.allow():
        counters.give_back(increments)
        return [None] * len(cache_keys), False
    try:
        values = store.get_many(cache_keys, increments=increments)
    except CacheUnavailable as exc:
        counters.give_back(increments, errors=1)
        store.breaker.record_failure(exc)
        return [None] * len(cache_keys), False
    except CacheError as exc:
        counters.give_back(increments, errors=1)
        logger.warning(
            "embedding cache refused a lookup (%s); computing all %d", exc, len(cache_keys)
        )
        return [None] * len(cache_keys), True
    store.breaker.record_success()
    return values, True


def _write(
    store: BaseStore, payload: dict[str, bytes], increments: counters.Increments, *, ttl: int | None
) -> tuple[bool, bool]:
    """Write the payload; return (store reachable, writes accepted)."""
    try:
        store.set_many(payload, ttl=ttl, increments=increments)
    except CacheUnavailable as exc:
        counters.give_back(increments, errors=1)
        store.breaker.record_failure(exc)
        return False, False
    except CacheError as exc:
        # E.g. Redis full under noeviction: the vectors are correct, they just are not kept.
        counters.give_back(increments, errors=1)
        logger.warning("embedding cache refused %d write(s): %s", len(payload), exc)
        return True, False
    return True, True


def _log(report: EmbeddingReport, *, dim: int, big: bool) -> None:
    level = logging.INFO if big else logging.DEBUG
    if logger.isEnabledFor(level):
        total = report.hits + report.misses
        logger.log(
            level,
            "embedded %d texts (%d-d): %d cache hits, %d misses, %.2f s%s",
            total,
            dim,
            report.hits,
            report.misses,
            report.seconds,
            "" if report.cache_available else " (cache unavailable)",
        )


def refresh_entry_counts() -> dict[str, int]:
    """Count the cached vectors per model fingerprint (SCAN, never KEYS) and keep the result in
    the store with its time, for the stats to show. Returns fingerprint -> entries."""
    config = get_config()
    prefix = config["KEY_PREFIX"]
    namespace = f"{prefix}:v{keys.KEY_VERSION}:"
    store = get_store()
    started = time.perf_counter()
    by_model: dict[str, int] = {}
    for page in store.scan(namespace, batch=5000):
        for key in page:
            fingerprint = key[len(namespace) : len(namespace) + keys.FINGERPRINT_LENGTH]
            by_model[fingerprint] = by_model.get(fingerprint, 0) + 1
    payload = {"counted_at": time.time(), "by_model": by_model}
    store.set_bytes(keys.entry_counts_key(prefix), json.dumps(payload).encode(), ttl=None)
    logger.info(
        "counted %d cached embeddings of %d model(s) in %.1f s",
        sum(by_model.values()),
        len(by_model),
        time.perf_counter() - started,
    )
    return by_model


def reset_counters(*, fingerprint: str | None = None) -> None:
    """Zero the usage counters of one model fingerprint, or of all (the vectors stay)."""
    get_store().reset_counters(fingerprint)
    logger.info("reset embedding cache counters of %s", fingerprint or "every model")
