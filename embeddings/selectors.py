"""Read-only views of the cache: one stats object for the admin page, the API, the metrics
endpoint and `manage.py embeddings_stats`.

Nothing here scans the keyspace on a request: the total comes from DBSIZE (exact when the
embeddings alias has its own Redis database, which a system check asks for), the per-model
counts from the last count taken by `maintenance.refresh_entry_counts()`, shown with its age.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from embeddings import keys
from embeddings.backends import get_backend
from embeddings.conf import get_config
from embeddings.counters import Totals, pending
from embeddings.exceptions import CacheError, EmbeddingsError
from embeddings.services import model_fingerprint
from embeddings.stores import get_store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Location:
    backend: str  # "redis" or "disk"
    display: str  # where, password masked
    tls: bool = False
    authenticated: bool = False
    host: str | None = None
    port: int | None = None
    database: int | None = None


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


@dataclass(frozen=True)
class StatsWarning:
    code: str
    level: str  # "warning" or "critical"
    message: str


@dataclass(frozen=True)
class CacheStats:
    backend: str
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
    lifetime: Usage
    last_hour: Usage
    models: list[ModelStats] = field(default_factory=list)
    warnings: list[StatsWarning] = field(default_factory=list)
    serving: dict[str, Any] = field(default_factory=dict)  # engine, precision, load_seconds
    generated_at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def describe_location(alias: str | None = None) -> Location:
    """Where the embeddings alias keeps its data, from settings alone (no connection)."""
    alias = alias or get_config()["CACHE_ALIAS"]
    cache = settings.CACHES.get(alias, {})
    location = cache.get("LOCATION", "")
    if isinstance(location, list | tuple):
        location = location[0] if location else ""
    if not cache.get("BACKEND", "").startswith("django_redis."):
        return Location(backend="disk", display=str(location))
    url = urlsplit(str(location))
    netloc = url.hostname or ""
    if url.port:
        netloc += f":{url.port}"
    if url.password or url.username:
        netloc = (
            f"{url.username or ''}:***@{netloc}" if url.password else f"{url.username}@{netloc}"
        )
    path = url.path.strip("/")
    database = int(path) if path.isdigit() else 0
    options = cache.get("OPTIONS", {})
    password_option = bool(options.get("PASSWORD"))
    return Location(
        backend="redis",
        display=f"{url.scheme}://{netloc}/{database}",
        tls=url.scheme == "rediss",
        authenticated=bool(url.password) or password_option,
        host=url.hostname,
        port=url.port or 6379,
        database=database,
    )


def shared_with(alias: str | None = None) -> list[str]:
    """Other cache aliases that use the same Redis database as the embeddings alias."""
    alias = alias or get_config()["CACHE_ALIAS"]
    mine = describe_location(alias)
    if mine.backend != "redis":
        return []
    shared = []
    for other in settings.CACHES:
        theirs = describe_location(other)
        if other != alias and theirs.backend == "redis" and _same_db(theirs, mine):
            shared.append(other)
    return shared


def _same_db(a: Location, b: Location) -> bool:
    return (a.host, a.port, a.database) == (b.host, b.port, b.database)


def get_cache_stats() -> CacheStats:
    """Everything an operator wants to know about the cache. Never raises for a store that is
    down: the stats then say so, with what this process knows."""
    config = get_config()
    backend = get_backend()
    fingerprint = model_fingerprint(backend)
    location = describe_location()
    store = get_store()
    error = None
    info: dict[str, Any] = {}
    per_model: dict[str, tuple[Totals, Totals, dict]] = {}
    total = None
    counted: dict[str, Any] = {}
    try:
        info = store.server_info()
        total = info.get("entries")
        per_model = store.read_counters(also=[fingerprint])
        counted = _read_entry_counts(store)
    except CacheError as exc:
        error = str(exc)
    except EmbeddingsError as exc:  # e.g. the model folder went missing
        error = str(exc)
    if error is None and store.breaker.is_open:
        error = store.breaker.last_error
    reachable = error is None

    waiting = Totals.from_mapping(pending(fingerprint))
    models = []
    for fp, (lifetime, recent, description) in sorted(per_model.items()):
        if fp == fingerprint:
            description = {
                "label": backend.label,
                "dim": backend.dimension,
                "storage_dtype": config["STORAGE_DTYPE"],
                **description,
            }
        elif not lifetime.requested:
            continue
        models.append(
            ModelStats(
                fingerprint=fp,
                label=description.get("label", fp),
                dimension=description.get("dim"),
                storage_dtype=description.get("storage_dtype"),
                current=fp == fingerprint,
                entries=(counted.get("by_model") or {}).get(fp),
                lifetime=Usage.of(lifetime),
                last_hour=Usage.of(recent),
            )
        )
    current = per_model.get(fingerprint, (Totals(), Totals(), {}))
    lifetime = current[0] + waiting
    last_hour = current[1] + waiting
    counted_at = counted.get("counted_at")
    if reachable and config["STATS"]["AUTO_RECOUNT"]:
        _maybe_recount_in_background(counted, total)

    persistence = _persistence(info) if location.backend == "redis" and info else {}
    stats = CacheStats(
        backend=location.backend,
        location=location.display,
        tls=location.tls,
        authenticated=location.authenticated,
        reachable=reachable,
        error=error,
        ttl_seconds=config["TTL"],
        model=backend.label,
        fingerprint=fingerprint,
        model_loaded=backend.is_loaded,
        serving=backend.serving_info(),
        storage_dtype=config["STORAGE_DTYPE"],
        entries_total=total,
        entries_current_model=(counted.get("by_model") or {}).get(
            fingerprint, 0 if counted else None
        ),
        entries_counted_at=counted_at,
        entries_count_age_seconds=round(time.time() - counted_at, 1) if counted_at else None,
        used_memory=_int(info.get("used_memory")),
        maxmemory=_int(info.get("maxmemory")),
        maxmemory_policy=info.get("maxmemory_policy"),
        evicted_keys=_int(info.get("evicted_keys")),
        persistence=persistence,
        server_version=info.get("redis_version"),
        lifetime=Usage.of(lifetime),
        last_hour=Usage.of(last_hour),
        models=models,
    )
    return _with_warnings(stats, config["STATS"], shared=shared_with())


def _with_warnings(
    stats: CacheStats, thresholds: dict[str, Any], *, shared: list[str]
) -> CacheStats:
    found: list[StatsWarning] = []
    if not stats.reachable:
        found.append(
            StatsWarning(
                "unreachable",
                "critical",
                f"The cache is unreachable ({stats.error}); embeddings are computed without it.",
            )
        )
    recent = stats.last_hour
    if (
        recent.hit_rate is not None
        and recent.requests >= thresholds["MIN_REQUESTS_FOR_HIT_RATE"]
        and recent.hit_rate < thresholds["MIN_HIT_RATE"]
    ):
        found.append(
            StatsWarning(
                "low_hit_rate",
                "warning",
                f"Hit rate in the last hour is {recent.hit_rate:.0%} "
                f"(below {thresholds['MIN_HIT_RATE']:.0%}) over {recent.requests:,} lookups.",
            )
        )
    if recent.corrupt or recent.errors:
        found.append(
            StatsWarning(
                "errors",
                "warning",
                f"Last hour: {recent.errors:,} cache errors, {recent.corrupt:,} corrupt values "
                "(recomputed and overwritten).",
            )
        )
    used, limit = stats.used_memory, stats.maxmemory
    warn_bytes = thresholds["MEMORY_WARN_BYTES"]
    if used is not None and warn_bytes and used > warn_bytes:
        found.append(
            StatsWarning(
                "memory_high",
                "warning",
                f"Cache uses {used:,} bytes, above the {warn_bytes:,} bytes threshold.",
            )
        )
    if used is not None and limit and used >= limit * thresholds["MAXMEMORY_WARN_RATIO"]:
        found.append(
            StatsWarning(
                "near_maxmemory",
                "warning",
                f"Redis uses {used / limit:.0%} of maxmemory ({used:,} of {limit:,} bytes).",
            )
        )
    elif limit and stats.evicted_keys:
        # Usage dips below the threshold between evictions; the evictions say it is full.
        found.append(
            StatsWarning(
                "near_maxmemory",
                "warning",
                f"Redis reached maxmemory and has evicted {stats.evicted_keys:,} keys since it "
                "started: cached vectors are being dropped. Give it more memory.",
            )
        )
    if limit and stats.maxmemory_policy == "noeviction":
        found.append(
            StatsWarning(
                "noeviction",
                "warning",
                "maxmemory is set with maxmemory-policy noeviction: when Redis is full every new "
                "embedding write fails. Use allkeys-lru (or volatile-lru) for a cache.",
            )
        )
    if stats.persistence and not stats.persistence.get("enabled"):
        found.append(
            StatsWarning(
                "no_persistence",
                "warning",
                "Redis has neither AOF nor RDB snapshots: a Redis restart loses the whole cache.",
            )
        )
    if shared:
        found.append(
            StatsWarning(
                "shared_database",
                "warning",
                f"The embeddings share their Redis database with cache(s) {', '.join(shared)}: "
                "entry totals include their keys. Give the embeddings their own database number.",
            )
        )
    return CacheStats(**{**stats.__dict__, "warnings": found})


def _persistence(info: dict[str, Any]) -> dict[str, Any]:
    save = info.get("config_save")
    aof = bool(int(info.get("aof_enabled", 0) or 0))
    rdb = bool(save) if save is not None else None
    return {
        "enabled": aof or bool(rdb),
        "aof_enabled": aof,
        "rdb_snapshots": rdb,
        "save_config": save,
        "rdb_last_save_time": _int(info.get("rdb_last_save_time")),
        "rdb_last_bgsave_status": info.get("rdb_last_bgsave_status"),
        "rdb_changes_since_last_save": _int(info.get("rdb_changes_since_last_save")),
        "aof_last_write_status": info.get("aof_last_write_status") if aof else None,
    }


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _read_entry_counts(store) -> dict[str, Any]:
    raw = store.get_bytes(keys.entry_counts_key(get_config()["KEY_PREFIX"]))
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return {}


_recount_lock = threading.Lock()


def _maybe_recount_in_background(counted: dict[str, Any], total: int | None) -> None:
    """Recount when the last count is older than COUNT_MAX_AGE, or sooner when the store has
    changed since, but never more often than every 20 counts' worth of time (at least 5 s), so
    a busy million-key cache is not scanned back to back."""
    max_age = get_config()["STATS"]["COUNT_MAX_AGE"]
    counted_at = counted.get("counted_at")
    if counted_at is not None:
        age = time.time() - counted_at
        changed = total is not None and total != counted.get("store_total")
        pause = max(5.0, 20 * float(counted.get("seconds") or 0))
        if age < max_age and not (changed and age >= pause):
            return
    if not _recount_lock.acquire(blocking=False):
        return  # one is already running in this process
    try:  # and one at a time across processes: a claim that expires if its holder dies
        lease = int(max(30, 3 * float(counted.get("seconds") or 0)))
        [ours] = get_store().claim_many([keys.recount_claim_key(_prefix())], lease=lease)
    except CacheError:
        ours = False
    if not ours:
        _recount_lock.release()
        return

    def run() -> None:
        from embeddings.maintenance import refresh_entry_counts

        try:
            refresh_entry_counts()
        except CacheError as exc:  # down or full: the stats already say so
            logger.warning("background entry count skipped: %s", exc)
        except Exception:  # a background thread has no caller to tell; log and move on
            logger.exception("background entry count failed")
        finally:
            with contextlib.suppress(CacheError):
                get_store().delete_many([keys.recount_claim_key(_prefix())])
            _recount_lock.release()

    threading.Thread(target=run, name="embeddings-recount", daemon=True).start()


def _prefix() -> str:
    return get_config()["KEY_PREFIX"]
