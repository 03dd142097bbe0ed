"""Usage counters, kept in the cache store itself so every process adds to the same numbers
and they survive restarts.

Increments ride along with the lookup and write round trips that happen anyway (one pipeline
each on Redis). Increments that could not be sent (store down) wait in this process and go with
the next round trip that succeeds, so hits + misses still add up to the texts requested.
"""

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

# requested: input texts looked up; misses: input texts computed, counted before the model
# runs (hits = requested - misses, so a call killed while it encodes counts no hits);
# corrupt: cached values that failed validation; errors: failed store operations;
# encode_us: microseconds spent in the model.
FIELDS = ("requested", "misses", "corrupt", "errors", "encode_us")
WINDOW_MINUTES = 60


@dataclass
class Increments:
    """What one round trip adds to the counters of one model fingerprint."""

    fingerprint: str
    values: dict[str, int]
    minute: int = field(default_factory=lambda: int(time.time() // 60))
    # Sent once per process: fingerprint -> JSON description, for the stats pages.
    register: str | None = None


_pending: dict[str, Counter] = {}
_registered: set[str] = set()
_lock = threading.Lock()


def take(
    fingerprint: str, values: dict[str, int], *, description: str, register: bool = False
) -> Increments:
    """Increments to send now: `values` plus whatever is pending for this fingerprint. The
    description goes along once per process, or whenever `register` (writes re-register, so
    a Redis that lost everything learns the model again)."""
    with _lock:
        total = _pending.pop(fingerprint, Counter())
        send = register or fingerprint not in _registered
        register = description if send else None
        _registered.add(fingerprint)
    total.update({k: v for k, v in values.items() if v})
    return Increments(fingerprint, dict(total), register=register)


def give_back(increments: Increments, **extra: int) -> None:
    """Keep increments that could not be sent (plus `extra`) for the next round trip."""
    with _lock:
        pending = _pending.setdefault(increments.fingerprint, Counter())
        pending.update({k: v for k, v in increments.values.items() if v})
        pending.update(extra)
        if increments.register is not None:
            _registered.discard(increments.fingerprint)


def pending(fingerprint: str) -> dict[str, int]:
    with _lock:
        return dict(_pending.get(fingerprint, {}))


def reset_process_state() -> None:
    with _lock:
        _pending.clear()
        _registered.clear()


@dataclass(frozen=True)
class Totals:
    requested: int = 0
    misses: int = 0
    corrupt: int = 0
    errors: int = 0
    encode_us: int = 0

    @classmethod
    def from_mapping(cls, values: dict) -> "Totals":
        return cls(**{name: int(float(values.get(name, 0) or 0)) for name in FIELDS})

    def __add__(self, other: "Totals") -> "Totals":
        return Totals(*(getattr(self, f) + getattr(other, f) for f in FIELDS))

    @property
    def hits(self) -> int:
        return max(self.requested - self.misses, 0)

    @property
    def hit_rate(self) -> float | None:
        return self.hits / self.requested if self.requested else None

    @property
    def encode_seconds(self) -> float:
        return self.encode_us / 1e6
