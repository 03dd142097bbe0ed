"""Redis through django-redis: one MGET per lookup, one pipeline per batch of writes.

We use the raw redis-py client that django-redis pools for the alias, not the cache API: the
cache API would run our bytes through a serializer (pickle by default), and we want MGET and a
non-transactional SET EX pipeline, nothing more.
"""

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from embeddings.exceptions import CacheRefused, CacheUnavailable
from embeddings.stores.base import BaseStore

try:  # redis-py's AuthenticationError subclasses ConnectionError; be explicit for old versions
    from redis.exceptions import AuthenticationError
except ImportError:  # pragma: no cover
    AuthenticationError = RedisConnectionError


class RedisStore(BaseStore):
    kind = "redis"

    @property
    def client(self):
        from django_redis import get_redis_connection

        return get_redis_connection(self.alias)

    def get_many(self, keys: Sequence[str]) -> list[Any]:
        chunk = int(self.config["MGET_CHUNK"])
        with _translated("read"):
            if len(keys) <= chunk:
                return self.client.mget(keys)
            pipe = self.client.pipeline(transaction=False)
            for start in range(0, len(keys), chunk):
                pipe.mget(keys[start : start + chunk])
            values: list[Any] = []
            for part in pipe.execute():
                values.extend(part)
            return values

    def set_many(self, items: Mapping[str, bytes], *, ttl: int | None) -> None:
        chunk = int(self.config["WRITE_CHUNK"])
        with _translated("write"):
            pipe = self.client.pipeline(transaction=False)
            for count, (key, value) in enumerate(items.items(), start=1):
                pipe.set(key, value, ex=ttl)
                if count % chunk == 0:
                    pipe.execute()
            pipe.execute()

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
