"""Operator work on the whole cache: warming it from a stream of texts, counting and flushing keys.

    stats = warm_texts(read_texts("answers.txt"), batch_size=2048)
    flush_keys(namespace=current_namespace())

Both stream: warming holds one batch of texts at a time, flushing one SCAN page of keys, so
millions of texts or keys cost bounded memory. Neither ever clears the whole cache: only keys
under our prefix are read or deleted, so sessions or other caches sharing the Redis database
are never touched.
"""

import json
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from embeddings import codec, keys
from embeddings.backends import get_backend
from embeddings.conf import get_config
from embeddings.exceptions import CacheError, CacheRefused, CacheUnavailable
from embeddings.services import embed_texts_with_report, namespace_for
from embeddings.sources import Record, SourceError
from embeddings.stores import get_store

logger = logging.getLogger(__name__)

DEFAULT_WARM_BATCH = 2048
DEFAULT_FLUSH_BATCH = 1000
_FINGERPRINT = re.compile(r"[0-9a-f]{1,64}")


@dataclass
class WarmStats:
    """Running totals of a warm, updated after every finished batch (so after an interrupt they
    describe exactly what is in the cache)."""

    read: int = 0  # records taken from the source, in finished batches
    skipped: int = 0  # blank or unusable records
    cached: int = 0  # texts whose vector was already in the cache
    embedded: int = 0  # distinct texts encoded and written (dry run: that would be)
    duplicates: int = 0  # repeats, within a batch, of a text encoded in that batch
    batches: int = 0
    encode_seconds: float = 0.0  # spent inside the model
    last_line: int = 0  # line (or record) number of the last record in a finished batch
    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None
    dry_run: bool = False

    @property
    def seconds(self) -> float:
        return (self.finished or time.perf_counter()) - self.started

    @property
    def rate(self) -> float:
        """Records per second."""
        return self.read / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class KeyCount:
    total: int
    by_model: dict[str, int]  # fingerprint -> keys


@dataclass(frozen=True)
class FlushResult:
    namespace: str
    deleted: int
    seconds: float


def current_namespace() -> str:
    """The key prefix of the configured model (computed without loading it)."""
    return namespace_for(get_backend())


def model_namespace(fingerprint: str) -> str:
    """The key prefix of another model configuration, by the fingerprint seen in its keys.

    Raises ValueError when `fingerprint` is not a lowercase hex string.
    """
    if not _FINGERPRINT.fullmatch(fingerprint):
        raise ValueError(f"a model fingerprint is lowercase hex, like {_current_fingerprint()!r}")
    return keys.namespace(get_config()["KEY_PREFIX"], fingerprint)


def all_models_namespace() -> str:
    """The prefix shared by the vectors of every model (not by anything else under our prefix,
    such as statistics counters)."""
    prefix = get_config()["KEY_PREFIX"]
    keys.namespace(prefix, "0")  # validates the prefix
    return f"{prefix}:v{keys.KEY_VERSION}:"


def warm_texts(
    records: Iterable[Record],
    *,
    batch_size: int = DEFAULT_WARM_BATCH,
    dry_run: bool = False,
    stats: WarmStats | None = None,
    on_batch: Callable[[WarmStats], None] | None = None,
) -> WarmStats:
    """Make sure every text of `records` ((line_number, text) pairs) is cached; return totals.

    Texts are taken `batch_size` at a time; each batch goes through `embed_texts_with_report`,
    which looks them all up in one round trip and encodes and writes only the missing ones, so
    rerunning an interrupted warm skips what is done. Blank texts and None are skipped. With
    `dry_run` nothing is encoded (the model is not even loaded): missing distinct texts are
    counted in `embedded`.

    Pass `stats` to keep the totals of finished batches when this raises (KeyboardInterrupt, a
    SourceError from the reader). A SourceError first finishes the batch collected so far.
    `on_batch` is called after every batch.

    Raises CacheUnavailable when the store cannot be reached: warming without a cache would only
    burn CPU. Errors from `records` propagate.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    stats = stats if stats is not None else WarmStats()
    stats.dry_run = dry_run
    _check_reachable()
    process = _DryRun() if dry_run else _warm_batch
    texts: list[str] = []
    pending = skipped = last_line = 0

    def finish_batch() -> None:
        nonlocal texts, pending, skipped
        if texts:
            process(texts, stats)
        stats.read += pending
        stats.skipped += skipped
        stats.last_line = last_line
        stats.batches += 1
        texts, pending, skipped = [], 0, 0
        if on_batch is not None:
            on_batch(stats)

    iterator = iter(records)
    while True:
        try:
            last_line, text = next(iterator)
        except StopIteration:
            break
        except SourceError:
            # Bad input further on: keep what was read before it.
            if pending:
                finish_batch()
            stats.finished = time.perf_counter()
            raise
        pending += 1
        if text is None or not text.strip():
            skipped += 1
        else:
            texts.append(text)
            if len(texts) >= batch_size:
                finish_batch()
    if pending:
        finish_batch()
    stats.finished = time.perf_counter()
    logger.info(
        "%s %d texts in %.1f s: %d already cached, %d %s, %d skipped",
        "checked (dry run)" if dry_run else "warmed",
        stats.read,
        stats.seconds,
        stats.cached,
        stats.embedded,
        "would be embedded" if dry_run else "embedded",
        stats.skipped,
    )
    return stats


def count_keys(*, namespace: str, batch: int = DEFAULT_FLUSH_BATCH) -> KeyCount:
    """Count the keys under `namespace`, per model fingerprint, with SCAN (never KEYS)."""
    by_model: dict[str, int] = {}
    total = 0
    for page in get_store().scan(namespace, batch=batch):
        total += len(page)
        for key in page:
            # {prefix}:v1:{fingerprint}:{digest}
            fingerprint = key.split(":", 3)[2] if key.count(":") >= 3 else ""
            by_model[fingerprint] = by_model.get(fingerprint, 0) + 1
    return KeyCount(total=total, by_model=by_model)


def refresh_entry_counts() -> dict[str, int]:
    """Count the cached vectors of every model (`count_keys` over all models) and keep the
    result in the store with its time, for the stats to show. Returns fingerprint -> entries."""
    store = get_store()
    started = time.perf_counter()
    by_model = count_keys(namespace=all_models_namespace(), batch=5000).by_model
    payload = {
        "counted_at": time.time(),
        "by_model": by_model,
        "seconds": round(time.perf_counter() - started, 3),
        "store_total": store.entry_total(),  # to tell later whether the store has changed
    }
    prefix = get_config()["KEY_PREFIX"]
    store.set_bytes(keys.entry_counts_key(prefix), json.dumps(payload).encode(), ttl=None)
    logger.info(
        "counted %d cached embeddings of %d model(s) in %.1f s",
        sum(by_model.values()),
        len(by_model),
        time.perf_counter() - started,
    )
    return by_model


def flush_keys(
    *,
    namespace: str,
    batch: int = DEFAULT_FLUSH_BATCH,
    on_batch: Callable[[int], None] | None = None,
) -> FlushResult:
    """Delete every key under `namespace` (SCAN pages of ~`batch` keys, each UNLINKed), and
    return how many were deleted. Never FLUSHDB: other keys in the store stay.

    `on_batch(deleted_so_far)` is called after every page. Raises CacheError from the store.
    """
    if not namespace.endswith(":") or namespace.count(":") < 2:
        raise ValueError(f"refusing to flush {namespace!r}: not an embeddings key namespace")
    store = get_store()
    started = time.perf_counter()
    deleted = 0
    for page in store.scan(namespace, batch=batch):
        deleted += store.delete_many(page)
        if on_batch is not None:
            on_batch(deleted)
    seconds = time.perf_counter() - started
    logger.info("flushed %d embedding keys under %s in %.1f s", deleted, namespace, seconds)
    try:  # the per-model counts said the flushed vectors were still there: drop them, so the
        # next look at the stats recounts (in the background, under the recount's claim)
        store.delete_many([keys.entry_counts_key(get_config()["KEY_PREFIX"])])
    except CacheError as exc:
        logger.warning("could not drop the entry counts after the flush: %s", exc)
    return FlushResult(namespace=namespace, deleted=deleted, seconds=seconds)


def _current_fingerprint() -> str:
    return current_namespace().split(":")[2]


def _check_reachable() -> None:
    """Fail before loading the model when the store is down."""
    store = get_store()
    store.breaker.call(store.get_many, [current_namespace() + "reachability-probe"])


def _warm_batch(texts: list[str], stats: WarmStats) -> None:
    report = embed_texts_with_report(texts)
    if not report.cache_available:
        raise CacheUnavailable(
            "the embedding cache stopped answering; stopped warming (finished batches are kept)"
        )
    if report.stored < report.encoded:
        raise CacheRefused(
            "the embedding cache refused to store new vectors (full under noeviction?); "
            "stopped warming (finished batches are kept)"
        )
    stats.cached += report.hits
    stats.embedded += report.encoded
    stats.encode_seconds += report.encode_seconds
    stats.duplicates += report.misses - report.encoded


class _DryRun:
    """Counts what a warm would encode: distinct texts without a valid cached value."""

    def __init__(self) -> None:
        backend = get_backend()
        config = get_config()
        self.namespace = namespace_for(backend)
        self.dtype = config["STORAGE_DTYPE"]
        self.dim = backend.dimension
        self.store = get_store()
        # Missing keys seen in earlier batches: a real warm would have written them by then.
        self.missing: set[str] = set()

    def __call__(self, texts: list[str], stats: WarmStats) -> None:
        counts = Counter(texts)
        cache_keys = keys.text_keys(self.namespace, counts)
        values = self.store.get_many(cache_keys)
        valid = set(codec.decode_many(values, dtype=self.dtype, dim=self.dim).found)
        # The same accounting as a real warm: repeats of a text that batch encodes are
        # duplicates; texts cached, or encoded by an earlier batch, are hits.
        for position, (key, count) in enumerate(zip(cache_keys, counts.values(), strict=True)):
            if position in valid or key in self.missing:
                stats.cached += count
            else:
                self.missing.add(key)
                stats.embedded += 1
                stats.duplicates += count - 1
