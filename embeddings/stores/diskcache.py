"""The embedded default: diskcache's `DjangoCache`, which keeps bytes values as raw blobs in
SQLite files on disk (no pickle for bytes), survives restarts and is shared by the processes of
one host. Lookups go through the Django cache API; scans, deletes, claims and the model registry
use diskcache's own `FanoutCache` underneath, so no other Django cache backend will do."""

import json
import logging
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import diskcache
from django.conf import settings
from django.core.cache import caches

from embeddings import counters
from embeddings import keys as keyspace
from embeddings.counters import Increments, Totals
from embeddings.exceptions import CacheUnavailable
from embeddings.stores.base import BaseStore, StoreDescription

logger = logging.getLogger(__name__)


class DiskCacheStore(BaseStore):
    kind = "disk"

    @property
    def cache(self):
        return caches[self.alias]

    def get_many(self, keys: Sequence[str], *, increments: Increments | None = None) -> list[Any]:
        try:
            found = self.cache.get_many(keys)
        except Exception as exc:  # backends raise their own types; all mean "not reachable"
            logger.debug("cache read failed", exc_info=True)
            raise CacheUnavailable(f"cache '{self.alias}' read failed: {exc}") from exc
        self._add_increments(increments)
        return [found.get(key) for key in keys]

    def set_many(
        self, items: Mapping[str, bytes], *, ttl: int | None, increments: Increments | None = None
    ) -> None:
        try:
            self.cache.set_many(dict(items), timeout=ttl)
        except Exception as exc:  # as above
            logger.debug("cache write failed", exc_info=True)
            raise CacheUnavailable(f"cache '{self.alias}' write failed: {exc}") from exc
        self._add_increments(increments)

    # Counters: one integer key per field (lifetime) and per field and minute (expiring), kept
    # with the cache's atomic incr(); the registry of fingerprints is one key holding a JSON
    # object (fingerprint -> description), so reading the counters never scans the store.
    def _add_increments(self, increments: Increments | None) -> None:
        if increments is None:
            return
        prefix = self.config["KEY_PREFIX"]
        lifetime = keyspace.stats_key(prefix, increments.fingerprint)
        bucket = keyspace.stats_key(prefix, increments.fingerprint, minute=increments.minute)
        try:
            for name, value in increments.values.items():
                for key, timeout in (
                    (f"{lifetime}:{name}", None),
                    (f"{bucket}:{name}", (counters.WINDOW_MINUTES + 2) * 60),
                ):
                    self.cache.add(key, 0, timeout=timeout)
                    self.cache.incr(key, value)
            if increments.register is not None:
                self._register(increments.fingerprint, increments.register)
        except Exception:  # counters must never fail a lookup; they wait for the next trip
            logger.debug("counter update failed", exc_info=True)
            counters.give_back(increments)

    def _register(self, fingerprint: str, description: str) -> None:
        raw = self._raw("register a model")
        key = self.cache.make_key(keyspace.models_key(self.config["KEY_PREFIX"]))
        with raw.transact(retry=True):  # read-modify-write, one process at a time
            registry = _json_object(raw.get(key, retry=True))
            if registry.get(fingerprint) != description:
                registry[fingerprint] = description
                raw.set(key, json.dumps(registry).encode(), retry=True)

    def _registry(self) -> dict[str, str]:
        try:
            return _json_object(self.cache.get(keyspace.models_key(self.config["KEY_PREFIX"])))
        except Exception as exc:  # as in get_many
            raise CacheUnavailable(f"cache '{self.alias}' read failed: {exc}") from exc

    def read_counters(self, also: Sequence[str] = ()) -> dict[str, tuple[Totals, Totals, dict]]:
        prefix = self.config["KEY_PREFIX"]
        registry = self._registry()
        fingerprints = sorted(set(registry) | set(also))
        now = int(time.time() // 60)
        out = {}
        for fingerprint in fingerprints:
            lifetime = keyspace.stats_key(prefix, fingerprint)
            wanted = [f"{lifetime}:{name}" for name in counters.FIELDS]
            buckets = [
                keyspace.stats_key(prefix, fingerprint, minute=minute)
                for minute in range(now - counters.WINDOW_MINUTES + 1, now + 1)
            ]
            wanted += [f"{bucket}:{name}" for bucket in buckets for name in counters.FIELDS]
            try:
                found = self.cache.get_many(wanted)
            except Exception as exc:  # as in get_many
                raise CacheUnavailable(f"cache '{self.alias}' read failed: {exc}") from exc
            description = registry.get(fingerprint)
            life = Totals.from_mapping(
                {name: found.get(f"{lifetime}:{name}", 0) for name in counters.FIELDS}
            )
            recent = Totals()
            for bucket in buckets:
                recent = recent + Totals.from_mapping(
                    {name: found.get(f"{bucket}:{name}", 0) for name in counters.FIELDS}
                )
            try:
                info = json.loads(description) if description else {}
            except ValueError:
                info = {}
            out[fingerprint] = (life, recent, info)
        return out

    def reset_counters(self, fingerprint: str | None = None) -> None:
        prefix = self.config["KEY_PREFIX"]
        pattern = keyspace.stats_key(prefix, fingerprint) if fingerprint else f"{prefix}:stats:"
        registry = keyspace.models_key(prefix)
        for batch in self.scan(pattern):
            self.delete_many([k for k in batch if not k.startswith(registry)])

    def describe(self) -> StoreDescription:
        location = str(settings.CACHES[self.alias].get("LOCATION", ""))
        return StoreDescription(kind="disk", location=location, key_space=("disk", location))

    def server_info(self) -> dict[str, Any]:
        raw = self._raw("describe itself")
        try:
            return {
                "directory": str(raw.directory),
                "used_memory": int(raw.volume()),
                "entries": len(raw),
            }
        except (OSError, sqlite3.Error, diskcache.Timeout) as exc:
            raise CacheUnavailable(f"cache '{self.alias}' info failed: {exc}") from exc

    def entry_total(self) -> int | None:
        raw = self._raw("count its keys")
        try:
            return len(raw)
        except (OSError, sqlite3.Error, diskcache.Timeout) as exc:
            raise CacheUnavailable(f"cache '{self.alias}' count failed: {exc}") from exc

    def claim_many(self, keys: Sequence[str], *, lease: int, token: str) -> list[bool]:
        try:
            return [bool(self.cache.add(key, token.encode(), timeout=lease)) for key in keys]
        except Exception as exc:  # as in get_many
            raise CacheUnavailable(f"cache '{self.alias}' claim failed: {exc}") from exc

    def release_many(self, keys: Sequence[str], *, token: str) -> int:
        if not keys:
            return 0
        raw = self._raw("release claims")
        make_key, ours = self.cache.make_key, token.encode()
        try:
            with raw.transact(retry=True):  # compare and delete as one step
                return sum(
                    1
                    for key in keys
                    if raw.get(make_key(key), retry=True) == ours
                    and raw.delete(make_key(key), retry=True)
                )
        except (OSError, sqlite3.Error, diskcache.Timeout) as exc:
            raise CacheUnavailable(f"cache '{self.alias}' release failed: {exc}") from exc

    def scan(self, match_prefix: str, *, batch: int = 1000) -> Iterator[list[str]]:
        # Yields the keys as get_many() takes them (without the cache's own make_key prefix),
        # so they can be passed back to delete_many() or get_many().
        raw = self._raw("list its keys")
        full_prefix = self.cache.make_key(match_prefix)
        strip = len(full_prefix) - len(match_prefix)
        if not full_prefix.endswith(match_prefix):
            raise CacheUnavailable(f"cache '{self.alias}' has a KEY_FUNCTION we cannot reverse")
        keys: list[str] = []
        try:
            # FanoutCache iterates every shard by rowid, so deleting what was already yielded
            # is safe; expired entries are included (they are ours to delete too).
            for key in raw:
                if isinstance(key, str) and key.startswith(full_prefix):
                    keys.append(key[strip:])
                    if len(keys) >= batch:
                        yield keys
                        keys = []
        except (OSError, sqlite3.Error, diskcache.Timeout) as exc:
            raise CacheUnavailable(f"cache '{self.alias}' scan failed: {exc}") from exc
        if keys:
            yield keys

    def delete_many(self, keys: Sequence[str]) -> int:
        if not keys:
            return 0
        raw = self._raw("delete keys")
        make_key = self.cache.make_key
        try:
            # One transaction per shard for the whole batch instead of one per key.
            with raw.transact(retry=True):
                return sum(1 for key in keys if raw.delete(make_key(key), retry=True))
        except (OSError, sqlite3.Error, diskcache.Timeout) as exc:
            raise CacheUnavailable(f"cache '{self.alias}' delete failed: {exc}") from exc

    def _raw(self, operation: str):
        raw = getattr(self.cache, "_cache", None)  # diskcache.FanoutCache under DjangoCache
        if raw is None or not hasattr(raw, "transact"):
            raise CacheUnavailable(
                f"cache '{self.alias}' ({type(self.cache).__name__}) cannot {operation}: "
                "this store needs diskcache's DjangoCache"
            )
        return raw


def _json_object(raw: bytes | str | None) -> dict:
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
