"""Shared fixtures.

Tests that need Redis get a private `redis-server` started by pytest-redis on a free port, so no
developer's Redis data is ever touched. Every test gets its own on-disk embedded cache directory
unless it asks for Redis.
"""

import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_redis import factories
from pytest_redis.executor import RedisExecutor

from embeddings import counters
from tests.fakes import CountingBackend

_short_tmp = tempfile.mkdtemp(prefix="cf-redis-", dir="/tmp")  # unix socket paths must be short
redis_proc = factories.redis_proc(port=None, datadir=_short_tmp)

REAL_BACKEND = "embeddings.backends.sentence_transformers.SentenceTransformerBackend"
FAKE_BACKEND = "tests.fakes.CountingBackend"
IMMEDIATE_TASKS = "django_tasks.backends.immediate.ImmediateBackend"


ONNX_BACKEND = "embeddings.backends.onnx.OnnxBackend"


def pytest_sessionfinish(session, exitstatus) -> None:
    shutil.rmtree(_short_tmp, ignore_errors=True)


def redis_cache_settings(url: str, **options) -> dict:
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": url,
        "TIMEOUT": None,
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": 0.25,
            "SOCKET_TIMEOUT": 0.5,
            "SERIALIZER": "django_redis.serializers.json.JSONSerializer",  # as in production
            **options,
        },
    }


def disk_cache_settings(path: Path) -> dict:
    return {"BACKEND": "diskcache.DjangoCache", "LOCATION": str(path), "TIMEOUT": None}


@pytest.fixture(autouse=True)
def _isolated_embeddings(settings, tmp_path) -> Iterator[None]:
    """Every test starts on its own empty on-disk cache, with the fake encoder."""
    settings.CACHES = {**settings.CACHES, "embeddings": disk_cache_settings(tmp_path / "emb-cache")}
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "BACKEND": FAKE_BACKEND}
    # Jobs run inside the call that queues them; tests of real workers start `db_worker`.
    settings.TASKS = {"default": {"BACKEND": IMMEDIATE_TASKS}}
    CountingBackend.calls = []
    counters.reset_process_state()
    yield
    # A background entry count the test started ends under the test's settings, not the next's.
    for thread in threading.enumerate():
        if thread.name == "embeddings-recount":
            thread.join(timeout=30)


@pytest.fixture
def real_model(settings) -> None:
    """Use the real all-MiniLM-L6-v2 (loaded once per test process)."""
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "BACKEND": REAL_BACKEND}


@pytest.fixture(scope="session")
def onnx_root(tmp_path_factory) -> Path:
    """An ONNX_DIR with the bundled model's fp32 and int8 files, built once per test session
    (in a child process, as on first use in production: about half a minute)."""
    from embeddings.backends.onnx import OnnxBackend, artifacts
    from embeddings.conf import get_config

    root = tmp_path_factory.mktemp("onnx")
    for precision in ("int8", "fp32"):  # one child builds both: int8 is quantized from fp32
        backend = OnnxBackend(model=None, config={**get_config(), "ONNX_PRECISION": precision})
        artifacts.ensure_built(backend.source, precision, root)
    return root


@pytest.fixture
def onnx_model(settings, onnx_root) -> Path:
    """Use the ONNX backend (int8 unless the test sets ONNX_PRECISION) on the session's files."""
    settings.EMBEDDINGS = {
        **settings.EMBEDDINGS,
        "BACKEND": ONNX_BACKEND,
        "ONNX_DIR": str(onnx_root),
        "ONNX_PRECISION": "int8",
    }
    return onnx_root


@pytest.fixture
def redis_url(redis_proc: RedisExecutor) -> Iterator[str]:
    """URL of the private test Redis, emptied after each test."""
    import redis

    url = f"redis://{redis_proc.host}:{redis_proc.port}/0"
    yield url
    redis.Redis.from_url(url).flushall()


@pytest.fixture
def redis_cache(settings, redis_url) -> str:
    """Point the embeddings alias at the private test Redis; returns its URL."""
    settings.CACHES = {**settings.CACHES, "embeddings": redis_cache_settings(redis_url)}
    return redis_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def own_redis() -> Iterator:
    """Factory for a private redis-server this test may stop, restart or kill."""
    started: list[RedisExecutor] = []

    def start(*, datadir: Path | None = None, port: int | None = None, **kwargs) -> RedisExecutor:
        datadir = datadir or Path(tempfile.mkdtemp(prefix="cf-own-", dir="/tmp"))
        executor = RedisExecutor(
            shutil.which("redis-server") or "redis-server",
            databases=16,
            redis_timeout=30,
            loglevel="warning",
            host="127.0.0.1",
            port=port or free_port(),
            datadir=datadir,
            **kwargs,
        )
        executor.start()
        started.append(executor)
        return executor

    yield start
    for executor in started:
        if executor.running():
            executor.stop()


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EMBEDDINGS_", "REDIS_URL"))}
    # Settings fail closed (production) without DJANGO_ENV: subprocesses opt into local
    # unless `extra` says otherwise.
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_ENV": os.environ.get("DJANGO_ENV") or "local",
            "HF_HUB_OFFLINE": "1",
            **extra,
        }
    )
    return env


def run_manage(*args: str, env: dict[str, str], timeout: float = 300, **kwargs):
    """`manage.py ARGS` in a subprocess of the project; output captured, exit code not checked."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )
