"""The contract of a vector store, and the circuit breaker every store goes through.

A store also describes itself (`describe()`: kind, location, servers) and judges its own health
(`settings_warnings()` from settings alone, `health_warnings(info)` from what the server says),
so the stats, the system checks and the admin ask the store instead of guessing its kind from
the cache backend's dotted path.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from embeddings.breaker import CircuitBreaker
from embeddings.counters import Increments, Totals


@dataclass(frozen=True)
class StoreDescription:
    """Where a store keeps its data, from settings alone (no connection)."""

    kind: str  # "disk", "redis", "sentinel" or "cluster"
    location: str  # human-readable, password masked
    servers: tuple[str, ...] = ()  # every host:port named in settings (sentinels, seed nodes)
    database: int | None = None
    tls: bool = False
    authenticated: bool = False
    # Settings that identify the key space, to tell whether two aliases share it.
    key_space: tuple = field(default=(), compare=False)


@dataclass(frozen=True)
class HealthWarning:
    """Something an operator should fix. `check_id` is set when `manage.py check` reports it."""

    code: str  # stable, e.g. "noeviction"; the stats and the API use it
    message: str
    hint: str = ""
    level: str = "warning"  # or "critical"
    check_id: str | None = None


class BaseStore:
    """Keeps opaque byte values under string keys, with a TTL.

    Every method raises `CacheUnavailable` when the store cannot be reached and `CacheRefused`
    when it refuses a command; nothing else escapes from the underlying library.
    """

    kind = "base"

    def __init__(self, *, alias: str, config: Mapping[str, Any]) -> None:
        self.alias = alias
        self.config = config
        self.breaker = CircuitBreaker(
            name=f"'{alias}' ({self.kind})",
            backoff=float(config["BREAKER_BACKOFF"]),
            max_backoff=float(config["BREAKER_MAX_BACKOFF"]),
        )

    def get_many(self, keys: Sequence[str], *, increments: Increments | None = None) -> list[Any]:
        """Return the value stored under each key (None when absent), in one round trip.

        `increments` are added to the usage counters in the same round trip; if only they
        fail, they are given back to `embeddings.counters` and the values still returned."""
        raise NotImplementedError

    def set_many(
        self, items: Mapping[str, bytes], *, ttl: int | None, increments: Increments | None = None
    ) -> None:
        """Store every item with the TTL (None = no expiry), in as few round trips as possible,
        adding `increments` to the counters on the way."""
        raise NotImplementedError

    def read_counters(self, also: Sequence[str] = ()) -> dict[str, tuple[Totals, Totals, dict]]:
        """Per fingerprint seen (and each in `also`): (lifetime, last-hour totals, description)."""
        raise NotImplementedError

    def reset_counters(self, fingerprint: str | None = None) -> None:
        """Zero one fingerprint's counters, or every fingerprint's."""
        raise NotImplementedError

    def describe(self) -> StoreDescription:
        """Kind, location and servers of the store, from settings alone."""
        raise NotImplementedError

    def settings_warnings(self) -> list[HealthWarning]:
        """What is wrong with the store's settings, without connecting."""
        return []

    def health_warnings(self, info: Mapping[str, Any]) -> list[HealthWarning]:
        """What is wrong with the store, judged from `server_info()`'s answer."""
        return []

    def persistence(self, info: Mapping[str, Any]) -> dict[str, Any]:
        """How the store keeps data across restarts, from `server_info()`; {} if it cannot
        tell (or the question makes no sense, as for files on disk)."""
        return {}

    def server_info(self) -> dict[str, Any]:
        """What the store says about itself (memory, persistence, ...; "entries": how many keys
        it holds, when it can tell without a scan); {} if nothing."""
        return {}

    def entry_total(self) -> int | None:
        """How many keys the store holds, cheaply (no scan); None if it cannot tell."""
        return None

    def get_bytes(self, key: str) -> bytes | None:
        [value] = self.get_many([key])
        return value if isinstance(value, bytes) else None

    def set_bytes(self, key: str, value: bytes, *, ttl: int | None) -> None:
        self.set_many({key: value}, ttl=ttl)

    def claim_many(self, keys: Sequence[str], *, lease: int, token: str) -> list[bool]:
        """Atomically claim each of `keys` (claim keys, see `keys.claim_key`) for `lease`
        seconds, holding `token`; True where this caller got the claim, False where someone
        else holds it."""
        raise NotImplementedError

    def release_many(self, keys: Sequence[str], *, token: str) -> int:
        """Delete each claim that still holds `token` (compare-and-delete, atomic per key), so
        a claimer whose lease ran out never releases the next claimer's claim. Returns how
        many were released."""
        raise NotImplementedError

    def scan(self, match_prefix: str, *, batch: int = 1000) -> Iterator[list[str]]:
        """Yield batches of the keys that start with `match_prefix`, without blocking the store."""
        raise NotImplementedError

    def delete_many(self, keys: Sequence[str]) -> int:
        """Delete the keys; return how many existed."""
        raise NotImplementedError
