"""Redis Cluster, on redis-py's `RedisCluster` (django-redis has no cluster client: its one-MGET
`get_many` is refused with CROSSSLOT as soon as keys fall in different slots).

Keys carry a hash tag chosen from a few buckets per model space (`keys.cluster_key`), so the
vectors of one model spread over `CLUSTER_BUCKETS` slots, hence over the nodes, while a lookup
of any number of texts is at most one MGET per bucket, sent in one pipeline: one round trip per
node. A text's claim carries the same tag as its value, so waits read both in the same MGET.
Counters, flush (per-node SCAN + UNLINK), claims and stats (per-node INFO, summed) all work
per node.

The cache alias uses `RedisClusterCache`, a small Django cache backend over the same client,
so `caches["embeddings"]` works too (JSON values, never pickle; `clear()` is refused).
"""

import json
import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import AskError, MovedError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from embeddings import keys
from embeddings.counters import Increments, Totals
from embeddings.exceptions import CacheRefused
from embeddings.stores.base import BaseStore, HealthWarning, StoreDescription
from embeddings.stores.redis import (
    RELEASE_SCRIPT,
    _first_error,
    _translated,
    check_increments,
    queue_increments,
    read_counters,
    redis_health_warnings,
    redis_persistence,
)

_clients: dict[tuple, RedisCluster] = {}
_clients_lock = threading.Lock()


def cluster_client(location: Sequence[str] | str, options: Mapping[str, Any]) -> RedisCluster:
    """The process' client for these seed nodes (shared by threads: it pools per node)."""
    urls = [location] if isinstance(location, str) else list(location)
    key = (tuple(urls), tuple(sorted((k, repr(v)) for k, v in options.items())))
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                first = urlsplit(urls[0])
                client = RedisCluster(
                    startup_nodes=[
                        ClusterNode(urlsplit(u).hostname, urlsplit(u).port or 6379) for u in urls
                    ],
                    username=unquote(first.username) if first.username else None,
                    password=unquote(first.password) if first.password else None,
                    ssl=first.scheme == "rediss",
                    socket_connect_timeout=options.get("SOCKET_CONNECT_TIMEOUT", 0.25),
                    socket_timeout=options.get("SOCKET_TIMEOUT", 0.5),
                    # A node that is down costs one try, not three with back-off: the breaker
                    # in front of the store decides when to try again.
                    retry=Retry(NoBackoff(), 0),
                    require_full_coverage=False,
                )
                _clients[key] = client
    return client


class RedisClusterCache(BaseCache):
    """A Django cache over Redis Cluster: JSON values, never pickle."""

    def __init__(self, server: Sequence[str] | str, params: dict[str, Any]) -> None:
        super().__init__(params)
        self._server = server
        self._options = params.get("OPTIONS", {})

    @property
    def client(self) -> RedisCluster:
        return cluster_client(self._server, self._options)

    def _ex(self, timeout) -> int | None:
        seconds = self.get_backend_timeout(timeout)
        return None if seconds is None else max(int(seconds), 1)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        return bool(self.client.set(key, json.dumps(value), nx=True, ex=self._ex(timeout)))

    def get(self, key, default=None, version=None):
        raw = self.client.get(self.make_and_validate_key(key, version=version))
        return default if raw is None else json.loads(raw)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None) -> None:
        key = self.make_and_validate_key(key, version=version)
        self.client.set(key, json.dumps(value), ex=self._ex(timeout))

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        seconds = self._ex(timeout)
        if seconds is None:
            return bool(self.client.persist(key))
        return bool(self.client.expire(key, seconds))

    def delete(self, key, version=None) -> bool:
        return bool(self.client.delete(self.make_and_validate_key(key, version=version)))

    def clear(self) -> None:
        raise NotImplementedError(
            "clear() would wipe every key of the cluster; delete by prefix instead "
            "(manage.py embeddings_flush)"
        )


class ClusterStore(BaseStore):
    kind = "cluster"
    _map_stale = False

    @property
    def client(self) -> RedisCluster:
        cache = settings.CACHES[self.alias]
        return cluster_client(cache["LOCATION"], cache.get("OPTIONS", {}))

    @property
    def buckets(self) -> int:
        return int(self.config["CLUSTER_BUCKETS"])

    def _physical(self, key: str) -> str:
        return keys.cluster_key(key, buckets=self.buckets)

    def _tagged(self, keys_: Sequence[str]) -> tuple[list[str], dict[int, list[int]]]:
        """`keys.cluster_key` of every key, and their positions grouped by hash slot: the fast
        path of lookups, which computes a slot once per bucket, not once per key."""
        buckets = self.buckets
        physical: list[str] = []
        groups: dict[int, list[int]] = defaultdict(list)
        heads: dict[str, tuple[list[str], list[int]]] = {}
        for position, key in enumerate(keys_):
            head = key[:-65]
            try:
                bucket = int(key[-64:-56], 16) % buckets if key[-65:-64] == ":" else None
            except ValueError:
                bucket = None
            if bucket is None or len(key) < 66:
                tagged = self._physical(key)
                physical.append(tagged)
                groups[self.client.keyslot(tagged)].append(position)
                continue
            known = heads.get(head)
            if known is None:
                tags = [self._physical(f"{head}:{b:08x}" + "0" * 56)[:-64] for b in range(buckets)]
                known = heads[head] = (tags, [self.client.keyslot(t) for t in tags])
            physical.append(known[0][bucket] + key[-64:])
            groups[known[1][bucket]].append(position)
        return physical, groups

    def describe(self) -> StoreDescription:
        cache = settings.CACHES[self.alias]
        urls = cache["LOCATION"]
        urls = [urls] if isinstance(urls, str) else list(urls)
        first = urlsplit(urls[0])
        nodes = tuple(f"{urlsplit(u).hostname}:{urlsplit(u).port or 6379}" for u in urls)
        return StoreDescription(
            kind="cluster",
            location=f"{first.scheme}://{'***@' if first.password else ''}"
            f"{','.join(nodes)} (Redis Cluster, {self.buckets} buckets per model)",
            servers=nodes,
            database=0,
            tls=first.scheme == "rediss",
            authenticated=bool(first.password),
            key_space=("cluster", frozenset(nodes)),
        )

    def health_warnings(self, info: Mapping[str, Any]) -> list[HealthWarning]:
        found = redis_health_warnings(info, self.config["STATS"])
        down = [node["address"] for node in info.get("nodes", []) if not node["reachable"]]
        if down:
            found.append(
                HealthWarning(
                    "node_down",
                    f"Cluster node(s) {', '.join(down)} do not answer: the keys in their slots "
                    "are computed without the cache until they are back or replaced.",
                    level="critical",
                )
            )
        return found

    def persistence(self, info: Mapping[str, Any]) -> dict[str, Any]:
        return redis_persistence(info)

    # --- reads and writes ----------------------------------------------------------------------
    def _by_slot(self, physical: Sequence[str]) -> dict[int, list[int]]:
        """Positions of `physical` keys grouped by hash slot (one slot per bucket)."""
        slot_of = self.client.keyslot
        groups: dict[int, list[int]] = defaultdict(list)
        tags: dict[str, int] = {}
        for position, key in enumerate(physical):
            tag = key[key.find("{") : key.find("}") + 1] if "{" in key else key
            slot = tags.get(tag)
            if slot is None:
                slot = tags[tag] = slot_of(key)
            groups[slot].append(position)
        return groups

    def get_many(self, keys: Sequence[str], *, increments: Increments | None = None) -> list[Any]:
        with _translated("read"):
            if self._map_stale:  # a node failed last time: it may have been replaced
                self.client.nodes_manager.initialize()
                self._map_stale = False
            physical, groups = self._tagged(keys)
            # Fast path: one plain pipeline per node, by the client's slot map.
            batches = _NodeBatches(self.client)
            for slot, positions in groups.items():
                batches.add_to_slot(slot, "MGET", *[physical[i] for i in positions])
            self._queue_increments(batches, increments)
            try:
                results = batches.execute()
            except (RedisConnectionError, RedisTimeoutError):
                self._map_stale = True
                raise
            if any(isinstance(r, MovedError | AskError) for r in results):
                # The slots moved (resharding, failover): refresh the map, let redis-py's
                # cluster pipeline follow the redirections this time.
                self.client.nodes_manager.initialize()
                pipe = self.client.pipeline()
                for positions in groups.values():
                    pipe.execute_command("MGET", *[physical[i] for i in positions])
                self._queue_increments(pipe, increments)
                results = pipe.execute(raise_on_error=False)
        values: list[Any] = [None] * len(keys)
        for positions, part in zip(groups.values(), results, strict=False):
            if isinstance(part, Exception):
                raise CacheRefused(f"Redis Cluster refused read: {part}")
            for position, value in zip(positions, part, strict=True):
                values[position] = value
        check_increments(results[len(groups) :], increments)
        return values

    def set_many(
        self, items: Mapping[str, bytes], *, ttl: int | None, increments: Increments | None = None
    ) -> None:
        with _translated("write"):
            pipe = self.client.pipeline()
            for key, value in items.items():
                pipe.set(self._physical(key), value, ex=ttl)
            self._queue_increments(pipe, increments)
            results = pipe.execute(raise_on_error=False)
        refused = _first_error(results[: len(items)])
        check_increments(results[len(items) :], increments)
        if refused is not None:
            raise CacheRefused(f"Redis Cluster refused write: {refused}")

    def _queue_increments(self, pipe: "RedisCluster | _NodeBatches", increments) -> None:
        queue_increments(pipe, self.config["KEY_PREFIX"], increments)

    def read_counters(self, also: Sequence[str] = ()) -> dict[str, tuple[Totals, Totals, dict]]:
        return read_counters(self.client, self.config["KEY_PREFIX"], also, self.client.pipeline())

    def reset_counters(self, fingerprint: str | None = None) -> None:
        prefix = self.config["KEY_PREFIX"]
        pattern = keys.stats_key(prefix, fingerprint) if fingerprint else f"{prefix}:stats:"
        registry = keys.models_key(prefix)
        for batch in self.scan(pattern):
            self.delete_many([k for k in batch if not k.startswith(registry)])

    # --- claims ----------------------------------------------------------------------------------
    def claim_many(self, keys: Sequence[str], *, lease: int, token: str) -> list[bool]:
        with _translated("claim"):
            pipe = self.client.pipeline()
            for key in keys:
                pipe.set(self._physical(key), token, nx=True, ex=lease)
            results = pipe.execute(raise_on_error=False)
        return [result is not None for result in results]

    def release_many(self, keys: Sequence[str], *, token: str) -> int:
        if not keys:
            return 0
        physical = [self._physical(k) for k in keys]
        with _translated("release"):
            pipe = self.client.pipeline()
            for positions in self._by_slot(physical).values():  # a script's keys share a slot
                batch = [physical[i] for i in positions]
                pipe.execute_command("EVAL", RELEASE_SCRIPT, len(batch), *batch, token)
            return sum(int(n) for n in pipe.execute())

    # --- per node: scan, delete, stats ---------------------------------------------------------
    def _primaries(self):
        return self.client.get_primaries()

    def scan(self, match_prefix: str, *, batch: int = 1000) -> Iterator[list[str]]:
        with _translated("scan"):
            for node in self._primaries():
                connection = node.redis_connection
                cursor = 0
                while True:
                    cursor, found = connection.scan(cursor, match=f"{match_prefix}*", count=batch)
                    if found:
                        yield [keys.logical_key(k.decode()) for k in found]
                    if cursor == 0:
                        break

    def delete_many(self, keys: Sequence[str]) -> int:
        if not keys:
            return 0
        physical = [self._physical(k) for k in keys]
        with _translated("delete"):
            pipe = self.client.pipeline()
            for positions in self._by_slot(physical).values():
                pipe.execute_command("UNLINK", *[physical[i] for i in positions])
            return sum(int(n) for n in pipe.execute())

    def server_info(self) -> dict[str, Any]:
        """INFO of every primary, summed (memory, keys, evictions) or shared (policy,
        persistence: the weakest node's); `nodes` lists each primary's own figures."""
        nodes, infos = [], []
        with _translated("info"):
            primaries = self._primaries()
        for node in primaries:
            try:
                info = node.redis_connection.info()
                try:
                    info["config_save"] = node.redis_connection.config_get("save").get("save", "")
                except ResponseError:  # CONFIG is often renamed or denied on managed Redis
                    info["config_save"] = None
            except RedisError as exc:
                nodes.append({"address": node.name, "reachable": False, "error": str(exc)})
                continue
            infos.append(info)
            nodes.append(
                {
                    "address": node.name,
                    "reachable": True,
                    "used_memory": int(info.get("used_memory", 0)),
                    "maxmemory": int(info.get("maxmemory", 0)),
                    "keys": int(info.get("db0", {}).get("keys", 0)),
                }
            )
        if not infos:
            with _translated("info"):
                raise RedisError(f"no cluster node answers INFO ({nodes})")
        summed = {
            name: sum(int(i.get(name, 0) or 0) for i in infos)
            for name in ("used_memory", "maxmemory", "evicted_keys")
        }
        if any(not int(i.get("maxmemory", 0) or 0) for i in infos):
            summed["maxmemory"] = 0  # one node without a limit: no cluster-wide limit
        policies = {i.get("maxmemory_policy") for i in infos}
        return {
            **infos[0],
            **summed,
            "maxmemory_policy": "noeviction" if "noeviction" in policies else policies.pop(),
            "aof_enabled": int(all(int(i.get("aof_enabled", 0) or 0) for i in infos)),
            "config_save": None
            if any(i["config_save"] is None for i in infos)
            else min((i["config_save"] for i in infos), key=bool),
            "entries": sum(node.get("keys", 0) for node in nodes),
            "nodes": nodes,
        }

    def entry_total(self) -> int | None:
        with _translated("dbsize"):
            return sum(int(node.redis_connection.dbsize()) for node in self._primaries())


class _NodeBatches:
    """Commands grouped by node (by the client's slot map). `execute()` sends every node its
    commands before reading any reply, so the nodes work at the same time: a lookup costs about
    one round trip, not one per node. Results come back in the order the commands were added.
    (redis-py's cluster pipeline would also hash every key of every MGET again.)"""

    def __init__(self, client: RedisCluster) -> None:
        self.client = client
        self.by_node: dict[str, tuple[Any, list[tuple]]] = {}
        self.order: list[tuple[str, int]] = []

    def add_to_slot(self, slot: int, *args: Any) -> None:
        node = self.client.nodes_manager.get_node_from_slot(slot)
        entry = self.by_node.get(node.name)
        if entry is None:
            entry = self.by_node[node.name] = (node, [])
        self.order.append((node.name, len(entry[1])))
        entry[1].append(args)

    def _add_for_key(self, command: str, key: str, *args: Any) -> None:
        self.add_to_slot(self.client.keyslot(key), command, key, *args)

    def hincrby(self, key: str, field: str, amount: int) -> None:
        self._add_for_key("HINCRBY", key, field, amount)

    def expire(self, key: str, seconds: int) -> None:
        self._add_for_key("EXPIRE", key, seconds)

    def hset(self, key: str, field: str, value: str) -> None:
        self._add_for_key("HSET", key, field, value)

    def execute(self) -> list[Any]:
        taken: list[tuple[Any, Any]] = []
        replies: dict[str, list[Any]] = {}
        try:
            for node, commands in self.by_node.values():
                pool = node.redis_connection.connection_pool
                connection = pool.get_connection()
                taken.append((pool, connection))
                connection.send_packed_command(connection.pack_commands(commands))
            for (node, commands), (_, connection) in zip(self.by_node.values(), taken, strict=True):
                out = replies[node.name] = []
                for _ in commands:
                    try:
                        out.append(connection.read_response())
                    except ResponseError as exc:  # an error reply: that command's result
                        out.append(exc)
        except BaseException:
            for _, connection in taken:  # replies may be pending on them: never reuse
                connection.disconnect()
            raise
        finally:
            for pool, connection in taken:
                pool.release(connection)
        return [replies[name][index] for name, index in self.order]
