"""Redis through django-redis, standalone or behind Sentinel: one MGET per lookup, one pipeline
per batch of writes.

Sentinel is django-redis' `SentinelClient` with its `SentinelConnectionFactory`: the client
asks the sentinels for the current master on every new connection, so after a failover the
store reaches the new master by itself (the breaker skips Redis meanwhile).

We use the raw redis-py client that django-redis pools for the alias, not the cache API: the
cache API would run our bytes through a serializer (pickle by default), and we want MGET and a
non-transactional SET EX pipeline, nothing more.
"""

import json
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoPermissionError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.sentinel import MasterNotFoundError

from embeddings import counters, keys
from embeddings.counters import Increments, Totals
from embeddings.exceptions import CacheRefused, CacheUnavailable
from embeddings.stores.base import BaseStore, HealthWarning, StoreDescription

try:  # redis-py's AuthenticationError subclasses ConnectionError; be explicit for old versions
    from redis.exceptions import AuthenticationError
except ImportError:  # pragma: no cover
    AuthenticationError = RedisConnectionError


# Compare-and-delete: a claim is released only by the caller whose token it holds.
RELEASE_SCRIPT = """
local released = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then released = released + redis.call('DEL', key) end
end
return released
"""


class RedisStore(BaseStore):
    kind = "redis"

    def __init__(self, *, alias: str, config: Mapping[str, Any]) -> None:
        self.kind = describe_alias(alias).kind
        super().__init__(alias=alias, config=config)

    @property
    def client(self):
        from django_redis import get_redis_connection

        return get_redis_connection(self.alias)

    def describe(self) -> StoreDescription:
        return describe_alias(self.alias)

    def settings_warnings(self) -> list[HealthWarning]:
        found = []
        mine = self.describe()
        shared = [
            other
            for other, cache in settings.CACHES.items()
            if other != self.alias
            and str(cache.get("BACKEND", "")).startswith("django_redis.")
            and describe_alias(other).key_space == mine.key_space
        ]
        if shared:
            found.append(
                HealthWarning(
                    "shared_database",
                    f"The embeddings share their Redis database with cache(s) "
                    f"{', '.join(shared)}: entry totals include their keys.",
                    hint="Give the embeddings their own database number (redis://host:6379/2): "
                    "entry counts then come from DBSIZE, and nothing else sits in their key "
                    "space.",
                    check_id="embeddings.W001",
                )
            )
        serializer = settings.CACHES[self.alias].get("OPTIONS", {}).get("SERIALIZER", "")
        if not serializer or "pickle" in serializer.lower():
            found.append(
                HealthWarning(
                    "pickle_serializer",
                    f"Cache alias {self.alias!r} uses django-redis' pickle serializer"
                    f"{' (the default)' if not serializer else ''}.",
                    hint="Anything read through that alias' cache API would be unpickled: code "
                    "execution for whoever can write to Redis. Set OPTIONS['SERIALIZER'] to "
                    "'django_redis.serializers.json.JSONSerializer'.",
                    check_id="embeddings.W002",
                )
            )
        untimed = _untimed(settings.CACHES[self.alias])
        if untimed:
            found.append(
                HealthWarning(
                    "no_timeouts",
                    f"Cache alias {self.alias!r} sets no {' or '.join(untimed)}: a Redis that "
                    "hangs (a frozen process, a lost network) holds the first lookup, and the "
                    "probes after it, for redis-py's default (no timeout at all).",
                    hint="Set OPTIONS['SOCKET_CONNECT_TIMEOUT'] = 0.25 and "
                    "OPTIONS['SOCKET_TIMEOUT'] = 0.5 (seconds): the circuit breaker then takes "
                    "a sick Redis out of the path in milliseconds.",
                    check_id="embeddings.W006",
                )
            )
        return found

    def health_warnings(self, info: Mapping[str, Any]) -> list[HealthWarning]:
        return redis_health_warnings(info, self.config["STATS"])

    def persistence(self, info: Mapping[str, Any]) -> dict[str, Any]:
        return redis_persistence(info)

    def get_many(self, keys: Sequence[str], *, increments: Increments | None = None) -> list[Any]:
        chunk = int(self.config["MGET_CHUNK"])
        with _translated("read"):
            if len(keys) <= chunk and increments is None:
                return self.client.mget(keys)
            pipe = self.client.pipeline(transaction=False)
            chunks = 0
            for start in range(0, len(keys), chunk):
                pipe.mget(keys[start : start + chunk])
                chunks += 1
            self._queue_increments(pipe, increments)
            results = pipe.execute(raise_on_error=False)
        values: list[Any] = []
        for part in results[:chunks]:
            if isinstance(part, Exception):
                raise CacheRefused(f"Redis refused read: {part}")
            values.extend(part)
        check_increments(results[chunks:], increments)
        return values

    def set_many(
        self, items: Mapping[str, bytes], *, ttl: int | None, increments: Increments | None = None
    ) -> None:
        chunk = int(self.config["WRITE_CHUNK"])
        refused: Exception | None = None
        with _translated("write"):
            pipe = self.client.pipeline(transaction=False)
            queued = 0
            for key, value in items.items():
                pipe.set(key, value, ex=ttl)
                queued += 1
                if queued == chunk:
                    refused = refused or _first_error(pipe.execute(raise_on_error=False))
                    queued = 0
            self._queue_increments(pipe, increments)
            results = pipe.execute(raise_on_error=False)
        refused = refused or _first_error(results[:queued])
        check_increments(results[queued:], increments)
        if refused is not None:
            raise CacheRefused(f"Redis refused write: {refused}")

    def _queue_increments(self, pipe, increments: Increments | None) -> None:
        queue_increments(pipe, self.config["KEY_PREFIX"], increments)

    def read_counters(self, also: Sequence[str] = ()) -> dict[str, tuple[Totals, Totals, dict]]:
        return read_counters(
            self.client, self.config["KEY_PREFIX"], also, self.client.pipeline(transaction=False)
        )

    def reset_counters(self, fingerprint: str | None = None) -> None:
        prefix = self.config["KEY_PREFIX"]
        pattern = keys.stats_key(prefix, fingerprint) if fingerprint else f"{prefix}:stats:"
        with _translated("reset counters"):
            doomed = [
                k
                for k in self.client.scan_iter(match=f"{pattern}*", count=1000)
                if not k.decode().startswith(keys.models_key(prefix))
            ]
            if doomed:
                self.client.unlink(*doomed)

    def server_info(self) -> dict[str, Any]:
        with _translated("info"):
            try:
                info = self.client.info()
            except NoPermissionError as exc:  # an ACL user without +info: the cache still works
                return {INFO_DENIED: str(exc)}
            try:
                save = self.client.config_get("save").get("save", "")
            except ResponseError:  # CONFIG is often renamed or denied on managed Redis
                save = None
        info["config_save"] = save
        # The keyspace section already counts this database's keys: no DBSIZE round trip.
        database = self.client.connection_pool.connection_kwargs.get("db", 0)
        info["entries"] = int(info.get(f"db{database}", {}).get("keys", 0))
        return info

    def entry_total(self) -> int | None:
        with _translated("dbsize"):
            return int(self.client.dbsize())

    def claim_many(self, keys: Sequence[str], *, lease: int, token: str) -> list[bool]:
        with _translated("claim"):
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.set(key, token, nx=True, ex=lease)
            results = pipe.execute(raise_on_error=False)
        # A refused SET (Redis full) counts as ours: we compute rather than wait for nobody.
        return [result is not None for result in results]

    def release_many(self, keys: Sequence[str], *, token: str) -> int:
        if not keys:
            return 0
        with _translated("release"):
            return int(self.client.eval(RELEASE_SCRIPT, len(keys), *keys, token))

    def scan(self, match_prefix: str, *, batch: int = 1000) -> Iterator[list[str]]:
        with _translated("scan"):
            cursor = 0
            while True:
                cursor, keys = self.client.scan(cursor, match=f"{match_prefix}*", count=batch)
                if keys:
                    yield [k.decode() if isinstance(k, bytes) else k for k in keys]
                if cursor == 0:
                    return

    def delete_many(self, keys: Sequence[str]) -> int:
        if not keys:
            return 0
        with _translated("delete"):
            return int(self.client.unlink(*keys))


def _first_error(results: list[Any]) -> Exception | None:
    return next((r for r in results if isinstance(r, Exception)), None)


def _decoded(mapping: dict) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in mapping.items()}


def _json(raw: bytes | None) -> dict:
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return {}


class _translated:
    """Turn redis-py errors into ours, in one place."""

    def __init__(self, operation: str) -> None:
        self.operation = operation

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None:
            return False
        if isinstance(exc, MasterNotFoundError):
            message = master_not_found(exc)
            raise CacheUnavailable(f"Redis {self.operation} failed: {message}") from exc
        if isinstance(exc, RedisConnectionError | RedisTimeoutError | AuthenticationError):
            raise CacheUnavailable(f"Redis {self.operation} failed: {exc}") from exc
        if isinstance(exc, ResponseError):
            raise CacheRefused(f"Redis refused {self.operation}: {exc}") from exc
        if isinstance(exc, RedisError):
            raise CacheUnavailable(f"Redis {self.operation} failed: {exc}") from exc
        return False


# redis-py's MasterNotFoundError: "No master found for 'name' : <sentinel client repr> - <error
# repr>, <client repr> - <error repr>...", each client's repr 1.5 KB of connection options.
_NO_MASTER = re.compile(r"No master found for ('(?:[^'\\]|\\.)*'|\"[^\"]*\")")
_SENTINEL_CLIENT = re.compile(r"<redis\.client\.Redis\(")
_SENTINEL_ADDRESS = re.compile(r"\bhost=([^,>]+),port=(\d+)")
_SENTINEL_ERROR = re.compile(r"\)> - (?:\w+:)?(\w+)(.*?)(?:, )?$", re.S)
_REASONS = {
    "AuthenticationError": "authentication failed",
    "AuthenticationWrongNumberOfArgsError": "authentication failed",
    "NoPermissionError": "permission denied",
    "TimeoutError": "timed out",
    "ConnectionError": "not reachable",
}


def master_not_found(exc: Exception) -> str:
    """redis-py's "No master found" message, short: the master's name and each sentinel's
    address with what went wrong there, instead of the repr of every sentinel client (1.5 KB
    each). Never a password: only addresses and error kinds are kept."""
    text = str(exc)
    name = _NO_MASTER.search(text)
    if name is None:  # not the shape we know: keep only the first line, capped
        return text.splitlines()[0][:200] if text else "No master found"
    head = f"No master found for {name.group(1)}"
    failures: dict[str, list[str]] = {}
    for chunk in _SENTINEL_CLIENT.split(text)[1:]:
        address = _SENTINEL_ADDRESS.search(chunk)
        error = _SENTINEL_ERROR.search(chunk)
        kind = error.group(1) if error else ""
        reason = _REASONS.get(kind) or (kind and _reason_of(kind, error.group(2))) or "failed"
        where = f"{address.group(1)}:{address.group(2)}" if address else "?"
        failures.setdefault(reason, []).append(where)
    if not failures:  # every sentinel answered: none of them knows a healthy master by that name
        return f"{head} (the sentinels answered but name no healthy master)"
    return f"{head} from sentinels " + "; ".join(
        f"{', '.join(addresses)} ({reason})" for reason, addresses in failures.items()
    )


def _reason_of(kind: str, rest: str) -> str:
    """An error kind we have no words for: its name and, from older redis-py reprs
    (`ConnectionError('...')`), its message, capped."""
    message = rest.strip().removeprefix("(").removesuffix(")").strip("'\"")
    return f"{kind}: {message[:120]}" if message else kind


def describe_alias(alias: str) -> StoreDescription:
    """Describe a django-redis cache alias from its settings (standalone or Sentinel)."""
    cache = settings.CACHES.get(alias, {})
    location = cache.get("LOCATION", "")
    if isinstance(location, list | tuple):
        location = location[0] if location else ""
    options = cache.get("OPTIONS", {})
    url = urlsplit(str(location))
    path = url.path.strip("/")
    database = int(path) if path.isdigit() else 0
    credentials = ""
    if url.password:
        credentials = f"{url.username or ''}:***@"
    elif url.username:
        credentials = f"{url.username}@"
    authenticated = bool(url.password) or bool(options.get("PASSWORD"))
    if "Sentinel" in str(options.get("CLIENT_CLASS", "")):
        sentinels = tuple(f"{host}:{port}" for host, port in options.get("SENTINELS") or ())
        master = url.hostname or ""
        return StoreDescription(
            kind="sentinel",
            location=f"{url.scheme}://{credentials}{master}/{database} "
            f"(Sentinel master {master!r} via {', '.join(sentinels)})",
            servers=sentinels,
            database=database,
            tls=url.scheme == "rediss",
            authenticated=authenticated,
            key_space=("sentinel", master, frozenset(sentinels), database),
        )
    port = url.port or 6379
    return StoreDescription(
        kind="redis",
        location=f"{url.scheme}://{credentials}{url.hostname or ''}:{port}/{database}",
        servers=(f"{url.hostname}:{port}",),
        database=database,
        tls=url.scheme == "rediss",
        authenticated=authenticated,
        key_space=("redis", url.hostname, port, database),
    )


# In `server_info`'s answer when the store's user may not run INFO (a least-privilege ACL
# user, `-@dangerous`): Redis' figures are unknown, not zero.
INFO_DENIED = "info_denied"


def redis_persistence(info: Mapping[str, Any]) -> dict[str, Any]:
    """AOF and RDB snapshots, from INFO plus CONFIG GET save (None when CONFIG is denied); {}
    when INFO is denied."""
    if INFO_DENIED in info:
        return {}
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


def _oom_errors(info: Mapping[str, Any]) -> int:
    """Commands Redis refused for lack of memory since it started (INFO errorstats)."""
    stat = info.get("errorstat_OOM")
    if not isinstance(stat, Mapping):
        return 0
    return _int(stat.get("count")) or 0


def redis_health_warnings(
    info: Mapping[str, Any], thresholds: Mapping[str, Any]
) -> list[HealthWarning]:
    """The rules for a Redis that caches embeddings (any topology), written once."""
    if INFO_DENIED in info:
        return [
            HealthWarning(
                INFO_DENIED,
                "The cache's Redis user may not run INFO, so its memory, evictions, persistence "
                f"and key count are unknown ({info[INFO_DENIED]}). The cache itself works.",
                hint="Grant the cache's ACL user +info (ACL SETUSER <user> +info).",
                check_id="embeddings.W007",
            )
        ]
    found = []
    used, limit = _int(info.get("used_memory")), _int(info.get("maxmemory"))
    warn_bytes = thresholds["MEMORY_WARN_BYTES"]
    if used is not None and warn_bytes and used > warn_bytes:
        found.append(
            HealthWarning(
                "memory_high",
                f"Cache uses {used:,} bytes, above the {warn_bytes:,} bytes threshold.",
            )
        )
    evicted = _int(info.get("evicted_keys"))
    if used is not None and limit and used >= limit * thresholds["MAXMEMORY_WARN_RATIO"]:
        found.append(
            HealthWarning(
                "near_maxmemory",
                f"Redis uses {used / limit:.0%} of maxmemory ({used:,} of {limit:,} bytes).",
            )
        )
    elif limit and evicted:
        # Usage dips below the threshold between evictions; the evictions say it is full.
        found.append(
            HealthWarning(
                "near_maxmemory",
                f"Redis reached maxmemory and has evicted {evicted:,} keys since it "
                "started: cached vectors are being dropped. Give it more memory.",
            )
        )
    elif limit and (refused := _oom_errors(info)):
        # noeviction: a refused write's buffer is freed, so usage can sit just under the
        # threshold afterwards; the OOM errors (INFO errorstats, Redis 6.2+) say it is full.
        found.append(
            HealthWarning(
                "near_maxmemory",
                f"Redis reached maxmemory and refused {refused:,} commands (OOM) since it "
                "started: new vectors are not being cached. Give it more memory.",
            )
        )
    if limit and info.get("maxmemory_policy") == "noeviction":
        found.append(
            HealthWarning(
                "noeviction",
                "maxmemory is set with maxmemory-policy noeviction: when Redis is full every new "
                "embedding write fails. Use allkeys-lru (or volatile-lru) for a cache.",
                hint="When it is full every embedding write fails. Use allkeys-lru for a cache.",
                check_id="embeddings.W005",
            )
        )
    if not redis_persistence(info)["enabled"]:
        found.append(
            HealthWarning(
                "no_persistence",
                "Redis has neither AOF nor RDB snapshots: a Redis restart loses the whole cache.",
                hint="A Redis restart loses the whole cache. Enable appendonly yes (or save).",
                check_id="embeddings.W004",
            )
        )
    return found


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


# --- Counters: shared by the standalone (and Sentinel) store and the cluster store ----------


def queue_increments(pipe, prefix: str, increments: Increments | None) -> None:
    """Queue the counter increments of a call on `pipe` (lifetime hash, per-minute bucket with
    its expiry, and the model registry)."""
    if increments is None:
        return
    lifetime = keys.stats_key(prefix, increments.fingerprint)
    bucket = keys.stats_key(prefix, increments.fingerprint, minute=increments.minute)
    for name, value in increments.values.items():
        pipe.hincrby(lifetime, name, value)
        pipe.hincrby(bucket, name, value)
    pipe.expire(bucket, (counters.WINDOW_MINUTES + 2) * 60)
    if increments.register is not None:
        pipe.hset(keys.models_key(prefix), increments.fingerprint, increments.register)


def check_increments(results: list[Any], increments: Increments | None) -> None:
    """Counters that did not land (e.g. Redis full under noeviction) wait for the next trip."""
    if increments is not None and _first_error(results) is not None:
        counters.give_back(increments)


def read_counters(
    client, prefix: str, also: Sequence[str], pipe
) -> dict[str, tuple[Totals, Totals, dict]]:
    """Lifetime and last-hour totals and the registry entry of every model (and of `also`),
    in two round trips: the registry, then one pipeline (`pipe`) of the hashes."""
    now = int(time.time() // 60)
    window = range(now - counters.WINDOW_MINUTES + 1, now + 1)
    with _translated("read counters"):
        models = client.hgetall(keys.models_key(prefix))
        fingerprints = sorted({k.decode() for k in models} | set(also))
        for fingerprint in fingerprints:
            pipe.hgetall(keys.stats_key(prefix, fingerprint))
            for minute in window:
                pipe.hgetall(keys.stats_key(prefix, fingerprint, minute=minute))
        results = iter(pipe.execute())
    out = {}
    for fingerprint in fingerprints:
        lifetime = Totals.from_mapping(_decoded(next(results)))
        recent = Totals()
        for _ in window:
            recent = recent + Totals.from_mapping(_decoded(next(results)))
        out[fingerprint] = (lifetime, recent, _json(models.get(fingerprint.encode())))
    return out


def _untimed(cache: Mapping[str, Any]) -> list[str]:
    """Which socket timeouts the alias leaves to redis-py's default (none at all): not set in
    its OPTIONS, its CONNECTION_POOL_KWARGS or its URL's query (django-redis passes each on),
    or set to None or 0."""
    options = cache.get("OPTIONS", {}) or {}
    pool = options.get("CONNECTION_POOL_KWARGS", {}) or {}
    location = cache.get("LOCATION", "")
    urls = location if isinstance(location, list | tuple) else [location]
    query = "&".join(urlsplit(str(url)).query for url in urls)
    missing = []
    for option, kwarg in (
        ("SOCKET_CONNECT_TIMEOUT", "socket_connect_timeout"),
        ("SOCKET_TIMEOUT", "socket_timeout"),
    ):
        if not (options.get(option) or pool.get(kwarg) or f"{kwarg}=" in query):
            missing.append(option)
    return missing
