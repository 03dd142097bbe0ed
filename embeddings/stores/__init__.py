"""Where vectors are kept. `get_store()` returns the process' store for the configured alias.

The store class comes from `EMBEDDINGS["STORE"]` or, when that is None, from the alias' cache
backend through `STORES` below: the one place that maps a Django cache backend to a store.
"""

import threading
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from embeddings.conf import get_config
from embeddings.stores.base import BaseStore, HealthWarning, StoreDescription

__all__ = ["BaseStore", "HealthWarning", "StoreDescription", "get_store", "reset"]

# Cache backend (dotted path prefix) -> store class.
STORES = {
    "django_redis.": "embeddings.stores.redis.RedisStore",
    "diskcache.": "embeddings.stores.diskcache.DiskCacheStore",
    "embeddings.stores.cluster.": "embeddings.stores.cluster.ClusterStore",
}

_store: BaseStore | None = None
_lock = threading.Lock()


def store_class_path(alias: str) -> str:
    """Dotted path of the store class for cache `alias`. Raises ImproperlyConfigured when no
    store fits its backend."""
    config = get_config()
    if config["STORE"]:
        return config["STORE"]
    backend = str(settings.CACHES[alias].get("BACKEND", ""))
    for prefix, path in STORES.items():
        if backend.startswith(prefix):
            return path
    raise ImproperlyConfigured(
        f"No embeddings store for cache backend {backend!r} of alias {alias!r}: use Redis "
        f"(django-redis), Redis Cluster or diskcache ({', '.join(STORES)}), or set "
        "EMBEDDINGS['STORE']."
    )


def get_store() -> BaseStore:
    """Return the store of the configured cache alias, built once per process."""
    global _store
    if _store is None:
        with _lock:
            if _store is None:
                config = get_config()
                alias = config["CACHE_ALIAS"]
                _store = import_string(store_class_path(alias))(alias=alias, config=config)
    return _store


def reset() -> None:
    """Forget the built store (settings changed)."""
    global _store
    with _lock:
        _store = None


@receiver(setting_changed)
def _reset_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    if setting in {"EMBEDDINGS", "CACHES"}:
        reset()
