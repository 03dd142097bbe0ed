"""A small bounded load generator: a fixed list of requests run by N threads under a time
limit, and a steady stream of stats requests beside them. Used by tests/proof and bench/load.py.
Loopback only: every client here talks to a server the caller started on 127.0.0.1."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from tests.proof.live import Http, Reply


@dataclass
class Outcome:
    started: float  # time.monotonic()
    seconds: float
    status: int | None = None  # None: no HTTP answer (connection error, time limit)
    error: str | None = None
    reply: Reply | None = None


def timed(job: Callable[[], Reply]) -> Outcome:
    started = time.monotonic()
    try:
        reply = job()
    except OSError as exc:  # refused, reset, timed out: the request got no answer
        return Outcome(started, time.monotonic() - started, error=f"{type(exc).__name__}: {exc}")
    return Outcome(started, time.monotonic() - started, reply.status, reply=reply)


def run_bounded(
    jobs: Sequence[Callable[[], Reply]], *, concurrency: int, time_limit: float
) -> list[Outcome]:
    """Run every job, `concurrency` at a time; jobs not finished within `time_limit` seconds
    count as errors (their threads end with their own socket timeouts)."""
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="load")
    futures = [pool.submit(timed, job) for job in jobs]
    done, _ = wait(futures, timeout=time_limit)
    outcomes = []
    for future in futures:
        if future in done:
            outcomes.append(future.result())
        else:
            future.cancel()
            outcomes.append(Outcome(time.monotonic(), time_limit, error="time limit"))
    pool.shutdown(wait=False, cancel_futures=True)
    return outcomes


@dataclass
class StatsStream:
    """GETs `path` every `interval` seconds (at most `max_requests`) until stopped."""

    client: Http
    path: str = "/api/embeddings/stats/"
    interval: float = 0.2
    max_requests: int = 3000
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stats-stream", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set() and len(self.outcomes) < self.max_requests:
            self.outcomes.append(timed(lambda: self.client.get(self.path, timeout=30)))
            self._stop.wait(self.interval)

    def __enter__(self) -> StatsStream:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(outcomes: Sequence[Outcome]) -> dict[str, float]:
    seconds = [o.seconds for o in outcomes if o.status is not None]
    if not seconds:
        return {"n": 0}
    return {
        "n": len(seconds),
        "median": percentile(seconds, 50),
        "p95": percentile(seconds, 95),
        "max": max(seconds),
    }
