"""A small circuit breaker for the cache store.

After a connection failure the store is skipped for a back-off (doubling up to a maximum), so a
dead or hung Redis costs one socket timeout per back-off, not one per call. When the back-off
has passed, one caller probes the store (half-open) while the others keep skipping it, so a hung
Redis costs one timeout per back-off in the whole process, not one per thread. The first failure
of an outage logs one warning; the recovery logs one info line.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from embeddings.exceptions import CacheError, CacheSkipped, CacheUnavailable

P = ParamSpec("P")
T = TypeVar("T")

logger = logging.getLogger(__name__)


class CircuitBreaker:
    def __init__(
        self,
        *,
        name: str,
        backoff: float,
        max_backoff: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._base = backoff
        self._max = max_backoff
        self._clock = clock
        self._lock = threading.Lock()
        self._backoff = backoff
        self._retry_at: float | None = None  # None = closed
        self.last_error: str | None = None

    @property
    def is_open(self) -> bool:
        return self._retry_at is not None

    def allow(self) -> bool:
        """True when the store may be tried: always while closed; once the back-off has passed,
        for one caller only (the probe), until it reports success or failure. A probe that
        never reports is replaced by another after one more back-off."""
        if self._retry_at is None:
            return True
        with self._lock:
            now = self._clock()
            if self._retry_at is None:
                return True
            if now < self._retry_at:
                return False
            self._retry_at = now + self._backoff  # the others skip while this one probes
            return True

    def call(self, operation: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run one store operation through the breaker. Raises `CacheSkipped` without calling
        it while the breaker is open; a `CacheUnavailable` it raises opens the breaker."""
        if not self.allow():
            raise CacheSkipped(f"embedding cache {self.name} skipped: {self.last_error}")
        try:
            result = operation(*args, **kwargs)
        except CacheUnavailable as exc:
            self.record_failure(exc)
            raise
        except CacheError:  # it answered, if only to refuse (e.g. full): it is reachable
            self.record_success()
            raise
        self.record_success()
        return result

    def record_success(self) -> None:
        if self._retry_at is None:
            return
        with self._lock:
            if self._retry_at is not None:
                logger.info("embedding cache %s is reachable again; using it", self.name)
            self._retry_at = None
            self._backoff = self._base
            self.last_error = None

    def record_failure(self, error: BaseException) -> None:
        with self._lock:
            first = self._retry_at is None
            if not first:
                self._backoff = min(self._backoff * 2, self._max)
            self._retry_at = self._clock() + self._backoff
            self.last_error = str(error) or type(error).__name__
        if first:
            logger.warning(
                "embedding cache %s unavailable (%s); embedding without it, retrying in %.0f s",
                self.name,
                self.last_error,
                self._backoff,
            )
        else:
            logger.debug("embedding cache %s still unavailable: %s", self.name, self.last_error)
