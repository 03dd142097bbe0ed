"""The contract of a vector store, and the circuit breaker every store goes through."""

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from embeddings.breaker import CircuitBreaker


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

    def get_many(self, keys: Sequence[str]) -> list[Any]:
        """Return the value stored under each key (None when absent), in one round trip."""
        raise NotImplementedError

    def set_many(self, items: Mapping[str, bytes], *, ttl: int | None) -> None:
        """Store every item with the TTL (None = no expiry), in as few round trips as possible."""
        raise NotImplementedError

    def scan(self, match_prefix: str, *, batch: int = 1000) -> Iterator[list[str]]:
        """Yield batches of the keys that start with `match_prefix`, without blocking the store."""
        raise NotImplementedError

    def delete_many(self, keys: Sequence[str]) -> int:
        """Delete the keys; return how many existed."""
        raise NotImplementedError
