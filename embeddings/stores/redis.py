"""Redis through django-redis: one MGET per lookup, one pipeline per batch of writes.

We use the raw redis-py client that django-redis pools for the alias, not the cache API: the
cache API would run our bytes through a serializer (pickle by default), and we want MGET and a
non-transactional SET EX pipeline, nothing more.
"""

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from embeddings import counters, keys
from embeddings.counters import Increments, Totals
from embeddings.exceptions import CacheRefused, CacheUnavailable
from embeddings.stores.base import BaseStore

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

    @property
    def client(self):
        from django_redis import get_redis_connection

        return get_redis_connection(self.alias)

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
        self._check_increments(results[chunks:], increments)
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
        self._check_increments(results[queued:], increments)
        if refused is not None:
            raise CacheRefused(f"Redis refused write: {refused}")

    def _queue_increments(self, pipe, increments: Increments | None) -> None:
        if increments is None:
            return
        prefix = self.config["KEY_PREFIX"]
        lifetime = keys.stats_key(prefix, increments.fingerprint)
        bucket = keys.stats_key(prefix, increments.fingerprint, minute=increments.minute)
        for name, value in increments.values.items():
            pipe.hincrby(lifetime, name, value)
            pipe.hincrby(bucket, name, value)
        pipe.expire(bucket, (counters.WINDOW_MINUTES + 2) * 60)
        if increments.register is not None:
            pipe.hset(keys.models_key(prefix), increments.fingerprint, increments.register)

    @staticmethod
    def _check_increments(results: list[Any], increments: Increments | None) -> None:
        # Counters that did not land (e.g. Redis full under noeviction) wait for the next trip.
        if increments is not None and _first_error(results) is not None:
            counters.give_back(increments)

    def read_counters(self, also: Sequence[str] = ()) -> dict[str, tuple[Totals, Totals, dict]]:
        prefix = self.config["KEY_PREFIX"]
        now = int(time.time() // 60)
        window = range(now - counters.WINDOW_MINUTES + 1, now + 1)
        with _translated("read counters"):
            models = self.client.hgetall(keys.models_key(prefix))
            fingerprints = sorted({k.decode() for k in models} | set(also))
            pipe = self.client.pipeline(transaction=False)
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
            description = _json(models.get(fingerprint.encode()))
            out[fingerprint] = (lifetime, recent, description)
        return out

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
            info = self.client.info()
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
        if isinstance(exc, RedisConnectionError | RedisTimeoutError | AuthenticationError):
            raise CacheUnavailable(f"Redis {self.operation} failed: {exc}") from exc
        if isinstance(exc, ResponseError):
            raise CacheRefused(f"Redis refused {self.operation}: {exc}") from exc
        if isinstance(exc, RedisError):
            raise CacheUnavailable(f"Redis {self.operation} failed: {exc}") from exc
        return False
