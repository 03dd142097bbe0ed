"""Where vectors are kept. `get_store()` returns the process' store for the configured alias:
Redis (through django-redis) when the alias uses django-redis, any Django cache otherwise
(the embedded default is diskcache's on-disk Django cache)."""

import threading

from django.utils.module_loading import import_string

from embeddings.conf import get_config
from embeddings.stores.base import BaseStore

__all__ = ["BaseStore", "get_store", "reset"]

_store: BaseStore | None = None
_lock = threading.Lock()


def store_class_path(backend: str) -> str:
    """Dotted path of the store class for a cache alias using `backend`."""
    if backend.startswith("django_redis."):
        return "embeddings.stores.redis.RedisStore"
    return "embeddings.stores.django_cache.DjangoCacheStore"


def get_store() -> BaseStore:
    """Return the store of the configured cache alias, built once per process."""
    global _store
    if _store is None:
        with _lock:
            if _store is None:
                from django.conf import settings

                config = get_config()
                alias = config["CACHE_ALIAS"]
                path = config["STORE"] or store_class_path(settings.CACHES[alias]["BACKEND"])
                _store = import_string(path)(alias=alias, config=config)
    return _store


def reset() -> None:
    global _store
    with _lock:
        _store = None
