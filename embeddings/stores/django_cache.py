"""Any Django cache backend; in practice the embedded default, diskcache's `DjangoCache`,
which keeps bytes values as raw blobs in SQLite files on disk (no pickle for bytes), survives
restarts and is shared by the processes of one host."""

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from django.core.cache import caches

from embeddings.exceptions import CacheUnavailable
from embeddings.stores.base import BaseStore

logger = logging.getLogger(__name__)


class DjangoCacheStore(BaseStore):
    kind = "django-cache"

    @property
    def cache(self):
        return caches[self.alias]

    def get_many(self, keys: Sequence[str]) -> list[Any]:
        try:
            found = self.cache.get_many(keys)
        except Exception as exc:  # backends raise their own types; all mean "not reachable"
            logger.debug("cache read failed", exc_info=True)
            raise CacheUnavailable(f"cache '{self.alias}' read failed: {exc}") from exc
        return [found.get(key) for key in keys]

    def set_many(self, items: Mapping[str, bytes], *, ttl: int | None) -> None:
        try:
            self.cache.set_many(dict(items), timeout=ttl)
        except Exception as exc:  # as above
            logger.debug("cache write failed", exc_info=True)
            raise CacheUnavailable(f"cache '{self.alias}' write failed: {exc}") from exc

    def scan(self, match_prefix: str, *, batch: int = 1000) -> Iterator[list[str]]:
        raw = getattr(self.cache, "_cache", None)  # diskcache.FanoutCache under DjangoCache
        if raw is None or not hasattr(raw, "iterkeys"):
            raise CacheUnavailable(f"cache '{self.alias}' cannot list its keys")
        full_prefix = self.cache.make_key(match_prefix)
        keys: list[str] = []
        for key in raw.iterkeys():
            if isinstance(key, str) and key.startswith(full_prefix):
                keys.append(key)
                if len(keys) >= batch:
                    yield keys
                    keys = []
        if keys:
            yield keys

    def delete_many(self, keys: Sequence[str]) -> int:
        # Keys from scan() are already the backend's full keys.
        raw = getattr(self.cache, "_cache", None)
        if raw is None:
            raise CacheUnavailable(f"cache '{self.alias}' cannot delete raw keys")
        return sum(1 for key in keys if raw.delete(key))
