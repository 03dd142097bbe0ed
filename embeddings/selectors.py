"""Read-only views of the cache: one stats object for the admin page, the API, the metrics
endpoint and `manage.py embeddings_stats`.

Nothing here scans the keyspace or writes: the total comes from the store's own count (INFO's
keyspace on Redis, exact when the embeddings alias has its own Redis database, which a system
check asks for), the per-model counts from the last count taken by
`maintenance.refresh_entry_counts()`, shown with its age; when that count is stale,
`embeddings.recount` redoes it in the background. What the store is and what is wrong with it
comes from the store itself (`describe()`, `settings_warnings()`, `health_warnings()`); the
rules about the cache's use are in `embeddings.health`.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from embeddings import health, keys, recount
from embeddings.backends import BaseBackend, get_backend
from embeddings.conf import get_config
from embeddings.counters import Totals, pending
from embeddings.exceptions import CacheError, EmbeddingsError
from embeddings.services import model_fingerprint
from embeddings.stores import BaseStore, HealthWarning, get_store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Usage:
    requests: int
    hits: int
    misses: int
    hit_rate: float | None
    corrupt: int
    errors: int
    encode_seconds: float

    @classmethod
    def of(cls, totals: Totals) -> Usage:
        return cls(
            requests=totals.requested,
            hits=totals.hits,
            misses=totals.misses,
            hit_rate=totals.hit_rate,
            corrupt=totals.corrupt,
            errors=totals.errors,
            encode_seconds=round(totals.encode_seconds, 3),
        )


@dataclass(frozen=True)
class ModelStats:
    fingerprint: str
    label: str
    dimension: int | None
    storage_dtype: str | None
    current: bool
    entries: int | None
    lifetime: Usage
    last_hour: Usage


StatsWarning = HealthWarning  # code, level, message (+ hint, check_id)


@dataclass(frozen=True)
class CacheStats:
    backend: str  # the store's kind: "redis", "sentinel", "cluster" or "disk"
    location: str
    tls: bool
    authenticated: bool
    reachable: bool
    error: str | None
    ttl_seconds: int | None
    model: str
    fingerprint: str
    model_loaded: bool
    storage_dtype: str
    entries_total: int | None
    entries_current_model: int | None
    entries_counted_at: float | None
    entries_count_age_seconds: float | None
    used_memory: int | None
    maxmemory: int | None
    maxmemory_policy: str | None
    evicted_keys: int | None
    persistence: dict[str, Any]
    server_version: str | None
    servers: list[str]  # from settings: the server, the sentinels, or the cluster seed nodes
    nodes: list[dict[str, Any]]  # per server when there are several (cluster): memory, keys
    lifetime: Usage
    last_hour: Usage
    models: list[ModelStats] = field(default_factory=list)
    warnings: list[StatsWarning] = field(default_factory=list)
    serving: dict[str, Any] = field(default_factory=dict)  # engine, precision, load_seconds
    generated_at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def get_cache_stats(*, wait_for_recount: bool = False) -> CacheStats:
    """Everything an operator wants to know about the cache. Never raises for a store that is
    down: the stats then say so, with what this process knows. `wait_for_recount`: a stale
    entry count is redone before answering (commands), not in the background (pages)."""
    config = get_config()
    backend = get_backend()
    store = get_store()
    description = store.describe()
    model_error = None
    try:
        fingerprint = model_fingerprint(backend)
    except EmbeddingsError as exc:  # MODEL names no model here: the store still answers
        fingerprint, model_error = "", str(exc)
    read = _read_store(store, fingerprint, prefix=config["KEY_PREFIX"])
    info, counted, reachable = read.info, read.counted, read.error is None
    total = info.get("entries")
    auto = reachable and config["STATS"]["AUTO_RECOUNT"]
    if auto and recount.recount_if_stale(counted, total, wait=wait_for_recount):
        return get_cache_stats()  # with the count just made

    waiting = Totals.from_mapping(pending(fingerprint))
    current = read.per_model.get(fingerprint, (Totals(), Totals(), {}))
    by_model = counted.get("by_model") or {}
    counted_at = counted.get("counted_at")
    stats = CacheStats(
        backend=description.kind,
        location=description.location,
        tls=description.tls,
        authenticated=description.authenticated,
        reachable=reachable,
        error=read.error,
        ttl_seconds=config["TTL"],
        model=backend.label,
        fingerprint=fingerprint,
        model_loaded=backend.is_loaded,
        serving=backend.serving_info() if fingerprint else {},
        storage_dtype=config["STORAGE_DTYPE"],
        entries_total=total,
        entries_current_model=by_model.get(fingerprint, 0 if counted else None),
        entries_counted_at=counted_at,
        entries_count_age_seconds=round(time.time() - counted_at, 1) if counted_at else None,
        used_memory=_int(info.get("used_memory")),
        maxmemory=_int(info.get("maxmemory")),
        maxmemory_policy=info.get("maxmemory_policy"),
        evicted_keys=_int(info.get("evicted_keys")),
        persistence=store.persistence(info) if info else {},
        server_version=info.get("redis_version"),
        servers=list(description.servers),
        nodes=list(info.get("nodes") or []),
        lifetime=Usage.of(current[0] + waiting),
        last_hour=Usage.of(current[1] + waiting),
        models=_model_stats(read.per_model, by_model, fingerprint, backend, config),
    )
    found = _warnings(stats, store, info, model_error=model_error, thresholds=config["STATS"])
    return CacheStats(**{**stats.__dict__, "warnings": found})


@dataclass(frozen=True)
class _StoreRead:
    """What one read of the store gave (empty where it failed), and why it failed."""

    info: dict[str, Any]
    per_model: dict[str, tuple[Totals, Totals, dict]]  # lifetime, last hour, about the model
    counted: dict[str, Any]  # the last entry count: by_model, counted_at
    error: str | None


def _read_store(store: BaseStore, fingerprint: str, *, prefix: str) -> _StoreRead:
    """The server's info, the counters (per model, the current one's even when unused) and
    the last entry count, read through the store's breaker as lookups are: while it is open
    the stats answer at once with its last error (a Redis that hangs cost every page, API
    call and scrape its timeout), and once its back-off has passed they may be the call that
    probes."""

    def read() -> tuple[dict, dict, dict]:
        return (
            store.server_info(),
            store.read_counters(also=[fingerprint] if fingerprint else []),
            _read_entry_counts(store, prefix),
        )

    try:
        info, per_model, counted = store.breaker.call(read)
    except (CacheError, EmbeddingsError) as exc:  # the store is down; the model folder went
        return _StoreRead({}, {}, {}, str(exc))
    error = store.breaker.last_error if store.breaker.is_open else None
    return _StoreRead(info, per_model, counted, error)


def _model_stats(
    per_model: dict[str, tuple[Totals, Totals, dict]],
    entries: dict[str, int],
    fingerprint: str,
    backend: BaseBackend,
    config: dict[str, Any],
) -> list[ModelStats]:
    """Per model the cache has counters for (the current one always, an old one while it was
    used): what it is, its entries at the last count, its lifetime and last hour's use."""
    models = []
    for fp, (lifetime, recent, about) in sorted(per_model.items()):
        if fp == fingerprint:
            about = {
                "label": backend.label,
                "dim": backend.dimension,
                "storage_dtype": config["STORAGE_DTYPE"],
                **about,
            }
        elif not lifetime.requested:
            continue
        models.append(
            ModelStats(
                fingerprint=fp,
                label=about.get("label", fp),
                dimension=about.get("dim"),
                storage_dtype=about.get("storage_dtype"),
                current=fp == fingerprint,
                entries=entries.get(fp),
                lifetime=Usage.of(lifetime),
                last_hour=Usage.of(recent),
            )
        )
    return models


def _warnings(
    stats: CacheStats,
    store: BaseStore,
    info: dict[str, Any],
    *,
    model_error: str | None,
    thresholds: dict[str, Any],
) -> list[StatsWarning]:
    """What is wrong, worst first: the model, the cache's use (`embeddings.health`), the
    server's state and the store's settings."""
    usage = health.usage_warnings(
        reachable=stats.reachable,
        error=stats.error,
        last_hour=stats.last_hour,
        thresholds=thresholds,
    )
    if model_error:
        usage.insert(
            0,
            HealthWarning(
                "model_unavailable",
                f"The embedding model cannot be used ({model_error}): nothing that is not "
                "cached can be embedded.",
                level="critical",
                hint="Check EMBEDDINGS['MODEL'] (manage.py check reports it as embeddings.E007).",
            ),
        )
    return health.ordered(
        usage,
        store.health_warnings(info) if info else [],
        store.settings_warnings(),
    )


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _read_entry_counts(store: BaseStore, prefix: str) -> dict[str, Any]:
    raw = store.get_bytes(keys.entry_counts_key(prefix))
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return {}
