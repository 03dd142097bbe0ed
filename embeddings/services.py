"""The app's public operations. Everything else in the product embeds through `embed_texts`.

from embeddings.services import embed_texts
vectors = embed_texts(["Too expensive", "Friendly staff"])  # float32, shape (2, 384)
"""

import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from embeddings import codec, counters, keys
from embeddings.backends import BaseBackend, get_backend
from embeddings.conf import get_config
from embeddings.exceptions import CacheError, CacheSkipped, CacheUnavailable
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
    unique = list(dict.fromkeys(texts))
    inverse = None  # None: no repeats, row i is text i
    if len(unique) != len(texts):
        position_of = {text: i for i, text in enumerate(unique)}
        inverse = np.fromiter(map(position_of.__getitem__, texts), dtype=np.intp, count=len(texts))
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

    if len(decoded.found) == len(unique):
        matrix = decoded.vectors  # all cached: rows already in order, no further copy
    else:
        matrix = np.empty((len(unique), dim), dtype=np.float32)
        if decoded.found:
            matrix[decoded.found] = decoded.vectors
    call = _Misses(
        backend=backend,
        store=store,
        unique=unique,
        cache_keys=cache_keys,
        matrix=matrix,
        inverse=inverse,
        fingerprint=fingerprint,
        description=description,
        cache_available=cache_available,
    )
    call.resolve(_missing_positions(len(unique), decoded.found), corrupt=len(decoded.corrupt))

    vectors = matrix if inverse is None else matrix[inverse]
    report = EmbeddingReport(
        vectors=vectors,
        hits=len(texts) - call.misses,
        misses=call.misses,
        encoded=call.encoded,
        stored=call.stored,
        corrupt=len(decoded.corrupt),
        cache_available=call.cache_available,
        seconds=time.perf_counter() - started,
        encode_seconds=call.encode_seconds,
    )
    _log(report, dim=dim, big=len(texts) >= config["LOG_INFO_MIN_TEXTS"])
    return report


@dataclass
class _Misses:
    """Computes and stores the vectors one call did not find, encoding each text once across
    concurrent callers: misses are claimed first; the ones another caller already claimed are
    waited for (bounded), and computed here only if they do not arrive.

    Claims hold this call's own token and are released by compare-and-delete, whatever happens
    to the model: a claimer whose lease ran out cannot release the next claimer's claim. Every
    store operation goes through the breaker, so a call pays for at most one failure."""

    backend: BaseBackend
    store: BaseStore
    unique: list[str]
    cache_keys: list[str]
    matrix: np.ndarray  # rows of `unique`; filled in place
    inverse: np.ndarray | None  # input position -> row of `unique`; None when no repeats
    fingerprint: str
    description: str
    cache_available: bool
    misses: int = 0  # input texts computed (repeats included)
    encoded: int = 0
    stored: int = 0
    encode_seconds: float = 0.0
    weights: np.ndarray | None = None  # how many input texts each row stands for
    config: dict = field(default_factory=get_config)
    token: str = field(default_factory=lambda: uuid.uuid4().hex)

    def resolve(self, missing: list[int], *, corrupt: int) -> None:
        if not missing:
            return
        self._check_encodable(missing)
        self.weights = (
            np.ones(len(self.unique), dtype=np.intp)
            if self.inverse is None
            else np.bincount(self.inverse, minlength=len(self.unique))
        )
        mine, theirs, claims = missing, [], []
        if self.cache_available and self.config["COALESCE_MISSES"]:
            mine, theirs, claims = self._claim(missing)
        try:
            self._compute(mine, corrupt=corrupt if mine else 0)
        finally:
            self._release(claims)  # after the write: waiters find the value, then no claim
        if corrupt and not mine:
            # Another caller computes them, but the damage was found here: count it with this
            # process' next round trip (the first wait below).
            counters.give_back(counters.Increments(self.fingerprint, {"corrupt": corrupt}))
        if theirs:
            self._compute(self._wait_for(theirs), corrupt=0)

    def _claim(self, missing: list[int]) -> tuple[list[int], list[int], list[str]]:
        claim_keys = [keys.claim_key(self.cache_keys[i]) for i in missing]
        # Long enough for the model to get through this many texts on a slow CPU.
        lease = int(min(600, 30 + 0.05 * len(missing)))
        try:
            granted = self.store.breaker.call(
                self.store.claim_many, claim_keys, lease=lease, token=self.token
            )
        except CacheError as exc:
            logger.debug("could not claim misses (%s); computing them all", exc)
            return missing, [], []
        mine = [i for i, ok in zip(missing, granted, strict=True) if ok]
        theirs = [i for i, ok in zip(missing, granted, strict=True) if not ok]
        return mine, theirs, [k for k, ok in zip(claim_keys, granted, strict=True) if ok]

    def _wait_for(self, positions: list[int]) -> list[int]:
        """Wait for the vectors other callers claimed; return the positions to compute here
        (their claimer gave up or failed, or COALESCE_MAX_WAIT ran out)."""
        dtype, dim = self.config["STORAGE_DTYPE"], self.backend.dimension
        deadline = time.monotonic() + float(self.config["COALESCE_MAX_WAIT"])
        pause = 0.02
        waiting, orphaned = list(positions), []
        while waiting and time.monotonic() < deadline:
            time.sleep(pause)
            pause = min(pause * 1.5, 0.25)
            value_keys = [self.cache_keys[i] for i in waiting]
            # Counters waiting in this process (e.g. corrupt values found) ride along.
            increments = (
                counters.take(self.fingerprint, {}, description=self.description)
                if counters.pending(self.fingerprint)
                else None
            )
            try:
                # Values and their claims in one round trip.
                both = self.store.breaker.call(
                    self.store.get_many,
                    value_keys + [keys.claim_key(k) for k in value_keys],
                    increments=increments,
                )
                values, claims = both[: len(value_keys)], both[len(value_keys) :]
            except CacheError as exc:
                if increments is not None:
                    counters.give_back(increments)
                logger.debug("stopped waiting for other callers' vectors: %s", exc)
                break
            decoded = codec.decode_many(values, dtype=dtype, dim=dim)
            if decoded.found:
                self.matrix[[waiting[j] for j in decoded.found]] = decoded.vectors
            arrived = set(decoded.found)
            still = []
            for j, position in enumerate(waiting):
                if j in arrived:
                    continue
                (still if claims[j] is not None else orphaned).append(position)
            waiting = still
        if waiting:
            logger.warning(
                "waited %.0f s for %d vectors other callers were computing; computing them here",
                float(self.config["COALESCE_MAX_WAIT"]),
                len(waiting),
            )
        return orphaned + waiting

    def _check_encodable(self, positions: list[int]) -> None:
        """A text the model is to read must be valid Unicode: one with a lone surrogate (from
        JSON's "\\ud800") hashes to a key, but failed in the tokenizer with a TypeError that
        named neither the text nor its place, and took the whole call down. Raises ValueError
        naming its position in the input, before anything is claimed or counted."""
        for i in positions:
            try:
                self.unique[i].encode("utf-8")
            except UnicodeEncodeError:
                where = i if self.inverse is None else int(np.flatnonzero(self.inverse == i)[0])
                raise ValueError(
                    f"texts[{where}] is not valid Unicode (a lone surrogate): it cannot be embedded"
                ) from None

    def _compute(self, positions: list[int], *, corrupt: int) -> None:
        if not positions:
            return
        dtype, dim = self.config["STORAGE_DTYPE"], self.backend.dimension
        misses = int(self.weights[positions].sum())
        self.misses += misses
        # Counted before the model runs, in a round trip of their own: hits are requested
        # (counted with the lookup) minus misses, so the misses of a process killed while it
        # encodes (a worker stopped mid-job) or of a model that raises were read as hits.
        counted = counters.take(
            self.fingerprint, {"misses": misses, "corrupt": corrupt}, description=self.description
        )
        if self.cache_available:
            self.cache_available = _lookup(self.store, [], counted)[1]
        else:
            counters.give_back(counted)
        started = time.perf_counter()
        computed = self.backend.encode([self.unique[i] for i in positions])
        seconds = time.perf_counter() - started
        if computed.shape != (len(positions), dim):
            raise ValueError(
                f"backend returned shape {computed.shape}, expected {(len(positions), dim)}"
            )
        # Return what a later hit will return: identical for float32, rounded for float16.
        self.matrix[positions] = codec.round_trip(computed, dtype=dtype)
        self.encoded += len(positions)
        self.encode_seconds += seconds
        increments = counters.take(
            self.fingerprint,
            {"encode_us": round(seconds * 1e6)},
            description=self.description,
            register=True,
        )
        if not self.cache_available:
            counters.give_back(increments)
            return
        payload = dict(
            zip(
                [self.cache_keys[i] for i in positions],
                codec.encode(computed, dtype=dtype),
                strict=True,
            )
        )
        self.cache_available, accepted = _write(
            self.store, payload, increments, ttl=self.config["TTL"]
        )
        self.stored += len(payload) if accepted else 0

    def _release(self, claim_keys: list[str]) -> None:
        if not claim_keys:
            return
        try:
            self.store.breaker.call(self.store.release_many, claim_keys, token=self.token)
        except CacheError as exc:  # the claims expire by themselves
            logger.debug("could not release claims: %s", exc)


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
    if set(map(type, texts)) <= {str}:
        return
    for position, text in enumerate(texts):
        if not isinstance(text, str):
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
    try:
        values = store.breaker.call(store.get_many, cache_keys, increments=increments)
    except CacheSkipped:
        counters.give_back(increments)
        return [None] * len(cache_keys), False
    except CacheUnavailable:
        counters.give_back(increments, errors=1)
        return [None] * len(cache_keys), False
    except CacheError as exc:
        counters.give_back(increments, errors=1)
        logger.warning(
            "embedding cache refused a lookup (%s); computing all %d", exc, len(cache_keys)
        )
        return [None] * len(cache_keys), True
    return values, True


def _write(
    store: BaseStore, payload: dict[str, bytes], increments: counters.Increments, *, ttl: int | None
) -> tuple[bool, bool]:
    """Write the payload; return (store reachable, writes accepted)."""
    try:
        store.breaker.call(store.set_many, payload, ttl=ttl, increments=increments)
    except CacheSkipped:
        counters.give_back(increments)
        return False, False
    except CacheUnavailable:
        counters.give_back(increments, errors=1)
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


def reset_counters(*, fingerprint: str | None = None) -> None:
    """Zero the usage counters of one model fingerprint, or of all (the vectors stay)."""
    get_store().reset_counters(fingerprint)
    logger.info("reset embedding cache counters of %s", fingerprint or "every model")
