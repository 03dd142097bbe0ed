"""A fast deterministic stand-in encoder for tests of cache mechanics (never of vector values)."""

import hashlib
import threading
from collections.abc import Sequence

import numpy as np

from embeddings.backends.base import BaseBackend
from embeddings.exceptions import CacheUnavailable
from embeddings.stores.redis import RedisStore


class CountingBackend(BaseBackend):
    """Vectors derived from each text's SHA-256; counts what it was asked to encode."""

    dim = 8
    calls: list[list[str]] = []
    _lock = threading.Lock()

    @property
    def dimension(self) -> int:
        return self.dim

    @property
    def label(self) -> str:
        return f"counting-{self.model or 'default'}"

    def fingerprint_fields(self) -> dict:
        return {
            "backend": "counting",
            "model": self.model,
            "normalize": bool(self.config.get("NORMALIZE")),
            "prompt": self.config.get("PROMPT"),
            "max_seq_length": self.config.get("MAX_SEQ_LENGTH"),
            "revision": self.config.get("MODEL_REVISION"),
        }

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            type(self).calls.append(list(texts))
        rows = [
            np.frombuffer(
                hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest(), dtype=np.uint8
            )[: self.dim]
            for t in texts
        ]
        return (np.array(rows, dtype=np.float32) / 255.0).reshape(len(texts), self.dim)

    @classmethod
    def encoded_texts(cls) -> list[str]:
        return [t for call in cls.calls for t in call]


class SlowCountingBackend(CountingBackend):
    """Takes a while per call, like a real model, so concurrent callers overlap."""

    delay = 0.4

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import time

        time.sleep(self.delay)
        return super().encode(texts)


class FailingBackend(CountingBackend):
    """A model that raises, like one that runs out of memory."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        raise RuntimeError("model exploded")


class HookedBackend(CountingBackend):
    """Runs `before_encode()` (set by the test) inside encode, e.g. to stop Redis mid-call."""

    before_encode = staticmethod(lambda: None)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        type(self).before_encode()
        return super().encode(texts)


class FailureCountingRedisStore(RedisStore):
    """The Redis store, recording each operation that found Redis unreachable."""

    failures: list[str] = []

    def __getattribute__(self, name):
        attribute = super().__getattribute__(name)
        if name.startswith("_") or not callable(attribute):
            return attribute

        def counted(*args, **kwargs):
            try:
                return attribute(*args, **kwargs)
            except CacheUnavailable:
                type(self).failures.append(name)
                raise

        return counted


class HangingBackend(CountingBackend):
    """Never returns from a batch holding a text with "hang forever" in it, like a call stuck on
    a dead socket: the worker process stays alive (its heartbeat thread too)."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if any("hang forever" in t for t in texts):
            threading.Event().wait()
        return super().encode(texts)
