"""Flush benchmark: embeddings.maintenance.flush_keys (what `embeddings_flush` runs) on 10k, 100k
and 1M keys, against baselines measured in the same run, with the latency another client sees.

    .venv/bin/python bench/flush.py [--sizes 10000,100000,1000000] [--batch 1000]

On one private redis-server started for the run, for each size:
  fill N keys of 1,544-byte values (the size of a 384-d float32 vector with its header) under the
  current model's namespace, plus foreign keys (sessions, another model's vectors, our stats
  counters, another app's keys) that must survive, then time
  (a) flush_keys: SCAN (COUNT = --batch) + UNLINK per page,
  (b) baseline `redis-cli --scan --pattern NS* | xargs -n 1000 redis-cli unlink` (SCAN COUNT 10),
  (c) baseline redis-py `scan_iter(match=NS*)` (COUNT 10) and one DEL per key, up to 100k keys.
While each runs, a separate process PINGs the server in a loop; its worst and 99th-percentile
round trips show whether Redis kept serving other clients.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, private_redis, setup_django, table

VALUE_SIZE = 1544
FILL_SCRIPT = """
local ns, first, last, value = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
for i = first, last do
  local h = redis.sha1hex(tostring(i))
  redis.call('SET', ns .. h .. string.sub(redis.sha1hex(h), 1, 24), value)
end
return last - first + 1
"""
FOREIGN = 1000  # of each kind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--naive-max", type=int, default=100_000)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with private_redis() as url:
        setup_django(EMBEDDINGS_REDIS_URL=url)
        run(url, sizes, args)


def fill(client, namespace: str, count: int) -> None:
    fill_sha = client.script_load(FILL_SCRIPT)
    value = b"EMB" + b"\x01f\x00" + (384).to_bytes(2, "little") + b"\x00" * (VALUE_SIZE - 8)
    step = 50_000
    for first in range(0, count, step):
        client.evalsha(fill_sha, 0, namespace, first, min(first + step, count) - 1, value)


def add_foreign(client, other_model: str) -> dict[bytes, bytes]:
    foreign = {}
    for i in range(FOREIGN):
        foreign[f":1:django.contrib.sessions.cache{i:032x}".encode()] = b"session"
        foreign[f"{other_model}{i:064x}".encode()] = b"another model's vector"
        foreign[f"emb:stats:{i:016x}".encode()] = b"12"
        foreign[f"otherapp:emb:v1:{i}".encode()] = b"another app"
    client.mset(foreign)
    return foreign


def pinger(url: str, stop, results) -> None:
    import redis

    client = redis.Redis.from_url(url)
    latencies = []
    while not stop.is_set():
        started = time.perf_counter()
        client.ping()
        latencies.append(time.perf_counter() - started)
        time.sleep(0.001)
    results.put(latencies)


class PingDuring:
    """Runs the pinger process for the duration of a `with` block."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> PingDuring:
        ctx = multiprocessing.get_context("spawn")
        self.stop, self.results = ctx.Event(), ctx.Queue()
        self.proc = ctx.Process(target=pinger, args=(self.url, self.stop, self.results))
        self.proc.start()
        time.sleep(0.5)  # let it connect and settle
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        latencies = self.results.get(timeout=30)
        self.proc.join(10)
        latencies.sort()
        self.max_ms = latencies[-1] * 1000
        self.p99_ms = latencies[int(0.99 * (len(latencies) - 1))] * 1000
        self.median_ms = statistics.median(latencies) * 1000


def run(url: str, sizes: list[int], args: argparse.Namespace) -> None:
    import redis

    from embeddings.maintenance import current_namespace, flush_keys, model_namespace

    client = redis.Redis.from_url(url)
    port = client.connection_pool.connection_kwargs["port"]
    namespace = current_namespace()
    other_model = model_namespace("0123456789abcdef")
    redis_cli = shutil.which("redis-cli")
    rows = []

    with PingDuring(url) as idle:
        time.sleep(2)
    rows.append(
        [
            "idle (no flush)",
            "-",
            "-",
            "-",
            "-",
            f"{idle.p99_ms:.2f}",
            f"{idle.max_ms:.2f}",
            "-",
            "-",
        ]
    )

    def measure(label: str, size: int, flush) -> None:
        client.flushall()
        foreign = add_foreign(client, other_model)
        fill(client, namespace, size)
        assert client.dbsize() == size + len(foreign)
        # Redis' own view, free of the client's scheduling: the slowest command it ran (latency
        # monitor, 1 ms resolution) and the mean UNLINK/DEL time.
        client.config_set("latency-monitor-threshold", 1)
        client.execute_command("LATENCY", "RESET")
        client.config_resetstat()
        with PingDuring(url) as ping:
            started = time.perf_counter()
            deleted = flush()
            seconds = time.perf_counter() - started
        events = client.execute_command("LATENCY", "LATEST")
        server_max = max(
            (int(e[3]) for e in events if e[0] in (b"command", b"fast-command")), default=0
        )
        stats = client.info("commandstats")
        delete_us = next(
            (stats[k]["usec_per_call"] for k in ("cmdstat_unlink", "cmdstat_del") if k in stats),
            0.0,
        )
        left = client.dbsize() - len(foreign)
        survived = client.mget(list(foreign)) == list(foreign.values())
        assert left == 0 and survived, (label, size, left, survived)
        rows.append(
            [
                label,
                f"{size:,}",
                f"{seconds:.2f}",
                f"{size / seconds:,.0f}",
                "ok" if deleted in (size, None) else f"deleted {deleted}",
                f"{ping.p99_ms:.2f}",
                f"{ping.max_ms:.2f}",
                f"{server_max}" if server_max else "<1",
                f"{delete_us:,.0f}",
            ]
        )
        print(" | ".join(rows[-1]), flush=True)

    for size in sizes:
        measure(
            f"flush_keys (SCAN COUNT {args.batch} + UNLINK)",
            size,
            lambda: flush_keys(namespace=namespace, batch=args.batch).deleted,
        )
        if redis_cli:
            pipeline = (
                f"{redis_cli} -p {port} --scan --pattern '{namespace}*' "
                f"| xargs -r -n 1000 {redis_cli} -p {port} unlink > /dev/null"
            )
            measure(
                "redis-cli --scan | xargs unlink",
                size,
                lambda cmd=pipeline: subprocess.run(cmd, shell=True, check=True) and None,
            )
        if size <= args.naive_max:

            def naive() -> int:
                return sum(client.delete(key) for key in client.scan_iter(match=f"{namespace}*"))

            measure("redis-py scan_iter (COUNT 10) + DEL per key", size, naive)

    print()
    print(machine())
    print(
        f"values: {VALUE_SIZE} bytes; foreign keys kept: {4 * FOREIGN:,} (sessions, other model, stats, other app)"
    )
    print(
        "ping: a separate process sending PING every ~1 ms during the flush (its latency includes CPU contention on this shared 2-core machine)"
    )
    print(
        "server max: slowest command Redis itself recorded (LATENCY LATEST, 1 ms threshold); us per UNLINK/DEL: commandstats mean"
    )
    print()
    print(
        table(
            [
                "method",
                "keys",
                "seconds",
                "keys/s",
                "result",
                "ping p99 ms",
                "ping max ms",
                "server max ms",
                "us per UNLINK/DEL",
            ],
            rows,
        )
    )
    ours = {r[1]: float(r[2]) for r in rows if r[0].startswith("flush_keys")}
    base = {r[1]: float(r[2]) for r in rows if r[0].startswith("redis-cli")}
    if base:
        print()
        print(
            "flush_keys speed-up over redis-cli | xargs: "
            + ", ".join(f"{k}: {base[k] / ours[k]:.1f}x" for k in ours if k in base)
        )


if __name__ == "__main__":
    main()
