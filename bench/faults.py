"""How long a Redis outage keeps the cache out of use after Redis is back, by outage length.

    .venv/bin/python bench/faults.py [--outages 2,10,30]

One process embeds the same 200 texts every 0.1 s (the fast stand-in encoder: what is timed
is the store and the circuit breaker, at their default settings) while a private redis-server
is stopped for the given number of seconds and started again on the same port. Reported: the
slowest call during the outage (bounded by the socket timeouts), and the seconds from the
restart to the first call that used the cache again (bounded by the breaker's back-off, which
doubles from BREAKER_BACKOFF up to BREAKER_MAX_BACKOFF while the outage lasts).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import free_port, machine, setup_django, table


def start_redis(port: int, datadir: str) -> subprocess.Popen:
    import redis

    proc = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
         "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", datadir],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            return proc
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outages", default="2,10,30")
    args = parser.parse_args()
    port, datadir = free_port(), tempfile.mkdtemp(prefix="bench-faults-")
    setup_django(
        EMBEDDINGS_REDIS_URL=f"redis://127.0.0.1:{port}/2",
        EMBEDDINGS_BACKEND="tests.fakes.CountingBackend",
        EMBEDDINGS_LOG_LEVEL="ERROR",
        DJANGO_VAR_DIR=datadir,
    )
    from embeddings.conf import get_config
    from embeddings.services import embed_texts_with_report

    config = get_config()
    print(machine())
    print(
        f"socket timeouts: connect 0.25 s, read 0.5 s; breaker back-off "
        f"{config['BREAKER_BACKOFF']:.0f} s doubling to {config['BREAKER_MAX_BACKOFF']:.0f} s; "
        "one call of 200 texts every 0.1 s\n"
    )
    texts = [f"answer {i} about fees, the app and support" for i in range(200)]
    rows = []
    proc = start_redis(port, datadir)
    try:
        for outage in [float(s) for s in args.outages.split(",")]:
            while embed_texts_with_report(texts).hits != len(texts):
                time.sleep(0.1)  # cached, and the previous round's breaker closed
            proc.terminate()
            proc.wait(10)
            stopped = time.monotonic()
            calls, slowest = 0, 0.0
            while time.monotonic() - stopped < outage:
                started = time.monotonic()
                report = embed_texts_with_report(texts)
                slowest = max(slowest, time.monotonic() - started)
                assert report.vectors.shape == (len(texts), 8)
                calls += 1
                time.sleep(0.1)
            proc = start_redis(port, datadir)
            restarted = time.monotonic()
            recovered = None
            while time.monotonic() - restarted < 180:
                report = embed_texts_with_report(texts)
                if report.cache_available:  # the lookup went to Redis and was answered
                    recovered = time.monotonic() - restarted
                    break
                time.sleep(0.1)
            rows.append(
                [
                    f"{outage:.0f}",
                    calls,
                    f"{slowest:.3f}",
                    f"{recovered:.1f}" if recovered is not None else "> 180",
                ]
            )
            print(f"outage {outage:.0f} s done", file=sys.stderr)
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(datadir, ignore_errors=True)
    print(
        table(
            ["outage s", "calls during it", "slowest call s", "cache used again after restart s"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
