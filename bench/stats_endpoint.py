"""Latency of GET /api/embeddings/stats/ as the cache grows to 10k, 100k and 1M embeddings.

    .venv/bin/python bench/stats_endpoint.py [--sizes 10000,100000,1000000] [--requests 50]

A private redis-server (started for the run) is filled with 1,544-byte values under the
current model's key namespace (DEBUG POPULATE), then a superuser client asks the endpoint through
Django's full request stack (middleware, session auth, DRF). The baseline is what a naive
endpoint would do on each request: count the model's keys with a full SCAN.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, private_redis, setup_django, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    database = Path(tempfile.mkdtemp(prefix="bench-stats-")) / "db.sqlite3"
    with private_redis("--enable-debug-command", "yes") as url:
        setup_django(EMBEDDINGS_REDIS_URL=url, DATABASE_URL=f"sqlite:///{database}")
        run(url, sizes, args.requests)


def run(url: str, sizes: list[int], requests: int) -> None:
    import redis
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from embeddings.backends import get_backend
    from embeddings.maintenance import refresh_entry_counts
    from embeddings.services import embed_texts, namespace_for

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    operator = get_user_model().objects.create_superuser("bench", password="x")
    http = Client()
    http.force_login(operator)
    client = redis.Redis.from_url(url)
    namespace = namespace_for(get_backend())
    embed_texts(["warm the counters"] * 3)  # one real call, so the counters exist

    rows = []
    for size in sizes:
        have = sum(1 for _ in client.scan_iter(match=f"{namespace}*", count=10_000))
        started = time.perf_counter()
        client.execute_command("DEBUG", "POPULATE", size - have, f"{namespace}bench{size}:", 1544)
        fill = time.perf_counter() - started
        count_started = time.perf_counter()
        counted = refresh_entry_counts()
        recount = time.perf_counter() - count_started
        assert http.get("/api/embeddings/stats/").status_code == 200  # warm-up
        latencies = []
        for _ in range(requests):
            started = time.perf_counter()
            response = http.get("/api/embeddings/stats/")
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200
        body = response.json()
        scan_started = time.perf_counter()
        naive = sum(1 for _ in client.scan_iter(match=f"{namespace}*", count=1000))
        naive_seconds = time.perf_counter() - scan_started
        p50 = statistics.median(latencies)
        p95 = sorted(latencies)[int(0.95 * (len(latencies) - 1))]
        rows.append(
            [
                f"{size:,}",
                f"{body['entries_total']:,}",
                f"{body['entries_current_model']:,}",
                f"{p50 * 1000:.1f} ms",
                f"{p95 * 1000:.1f} ms",
                f"{naive_seconds * 1000:.0f} ms",
                f"{naive_seconds / p50:.0f}x",
                f"{recount:.2f} s",
                f"{fill:.1f} s",
            ]
        )
        assert naive == counted[namespace.split(":")[2]] == body["entries_current_model"]
    print(machine())
    print(
        f"inputs: {requests} GET /api/embeddings/stats/ per size, superuser session, medians and p95\n"
    )
    print(
        table(
            [
                "cached embeddings",
                "entries_total",
                "entries (model)",
                "endpoint p50",
                "endpoint p95",
                "naive: SCAN per request",
                "naive / ours",
                "background recount",
                "fill",
            ],
            rows,
        )
    )
    print("\ntarget: endpoint <= 50 ms at 1,000,000 entries")


if __name__ == "__main__":
    main()
