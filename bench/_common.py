"""Shared helpers for the benchmark scripts: a private redis-server, machine facts, timing."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


def setup_django(**env: str) -> None:
    """Configure Django for a bench run; `env` values win over the caller's environment."""
    sys.path.insert(0, str(ROOT))
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_ENV", "local")  # settings fail closed without it
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("EMBEDDINGS_LOG_LEVEL", "WARNING")
    import django

    django.setup()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def private_redis(*args: str) -> Iterator[str]:
    """Start a throw-away redis-server on a free port; yield its URL."""
    port = free_port()
    datadir = tempfile.mkdtemp(prefix="bench-redis-")
    proc = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            datadir,
            *args,
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        import redis

        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(datadir, ignore_errors=True)


@contextmanager
def private_cluster(primaries: int = 3) -> Iterator[list[str]]:
    """Start a throw-away Redis Cluster (`--cluster-enabled yes` on free ports whose bus port,
    port + 10000, is valid; `redis-cli --cluster create`); yield its node URLs."""
    import redis

    ports: list[int] = []
    while len(ports) < primaries:
        port = free_port()
        if port + 10000 <= 65535 and port not in ports:
            ports.append(port)
    datadir = tempfile.mkdtemp(prefix="bench-cluster-")
    procs = []
    try:
        for port in ports:
            procs.append(
                subprocess.Popen(
                    [
                        shutil.which("redis-server") or "redis-server",
                        "--port",
                        str(port),
                        "--bind",
                        "127.0.0.1",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--dir",
                        datadir,
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        f"nodes-{port}.conf",
                    ],
                    stdout=subprocess.DEVNULL,
                )
            )
        for port in ports:
            _wait(lambda p=port: redis.Redis(port=p).ping())
        subprocess.run(
            [shutil.which("redis-cli") or "redis-cli", "--cluster", "create"]
            + [f"127.0.0.1:{p}" for p in ports]
            + ["--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        _wait(
            lambda: all(redis.Redis(port=p).cluster("info")["cluster_state"] == "ok" for p in ports)
        )
        yield [f"redis://127.0.0.1:{p}" for p in ports]
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(10)
        shutil.rmtree(datadir, ignore_errors=True)


def _wait(condition: Callable[[], object], timeout: float = 30) -> None:
    import redis

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.05)
    raise TimeoutError("private Redis did not come up")


def machine() -> str:
    import numpy

    lines = [
        f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, "
        f"{platform.system()} {platform.release()}",
        f"python {platform.python_version()}, numpy {numpy.__version__}",
    ]
    redis_server = shutil.which("redis-server")
    if redis_server:
        version = subprocess.run([redis_server, "--version"], capture_output=True, text=True)
        lines.append(version.stdout.strip().split(" sha=")[0])
    return "\n".join(lines)


def median_seconds(
    fn: Callable[[], object], *, repeats: int, setup: Callable[[], object] | None = None
) -> float:
    """Median wall time of `fn` over `repeats` runs, `setup` run untimed before each."""
    times = []
    for _ in range(repeats):
        if setup is not None:
            setup()
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def table(headers: list[str], rows: list[list[object]]) -> str:
    cells = [[str(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    out = []
    for n, row in enumerate(cells):
        out.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def banking77_texts(limit: int | None = None) -> list[str]:
    import csv

    with (DATA / "banking77_test.csv").open(newline="", encoding="utf-8") as handle:
        texts = list(dict.fromkeys(row["text"] for row in csv.DictReader(handle)))
    return texts[:limit] if limit else texts
