"""The EMBEDDINGS settings dict and the environment variables that fill it."""

import ast
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import settings as project_settings
from embeddings.conf import get_config


@pytest.mark.parametrize("raw", ["0", "-5", " -1 ", "soon"])
def test_env_ttl_zero_or_negative_is_refused(raw):
    with pytest.raises(ImproperlyConfigured, match="EMBEDDINGS_TTL"):
        project_settings._ttl(raw)


@pytest.mark.parametrize(("raw", "ttl"), [("none", None), ("never", None), ("3600", 3600)])
def test_env_ttl_none_or_positive(raw, ttl):
    assert project_settings._ttl(raw) == ttl


@pytest.mark.parametrize("ttl", [0, -1, 1.5, "3600"])
def test_settings_ttl_must_be_none_or_a_positive_integer(settings, ttl):
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "TTL": ttl}
    with pytest.raises(ImproperlyConfigured, match="TTL"):
        get_config()


@pytest.mark.parametrize("buckets", [0, -1, "16", 5000])
def test_cluster_buckets_must_be_a_small_positive_integer(settings, buckets):
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "CLUSTER_BUCKETS": buckets}
    with pytest.raises(ImproperlyConfigured, match="CLUSTER_BUCKETS"):
        get_config()


def test_topology_comes_from_environment_variables():
    import subprocess
    import sys

    from tests.conftest import subprocess_env

    script = (
        "import django; django.setup(); from django.conf import settings; "
        "c = settings.CACHES['embeddings']; print(c['BACKEND'], c['LOCATION'], "
        "c['OPTIONS'].get('SENTINELS'))"
    )

    def run(**env):
        return subprocess.run(
            [sys.executable, "-c", script],
            cwd=Path(__file__).resolve().parents[2],
            env=subprocess_env(**env),
            capture_output=True,
            text=True,
            check=False,
        )

    sentinel = run(
        EMBEDDINGS_REDIS_URL="redis://:pw@ignored/2",
        EMBEDDINGS_REDIS_SENTINELS="s1:26379,s2:26380",
        EMBEDDINGS_REDIS_SENTINEL_MASTER="mymaster",
    )
    assert sentinel.stdout.split() == [
        "django_redis.cache.RedisCache",
        "redis://:pw@mymaster/2",
        "[('s1',",
        "26379),",
        "('s2',",
        "26380)]",
    ]
    cluster = run(EMBEDDINGS_REDIS_CLUSTER_NODES="n1:7001,n2:7002")
    assert cluster.stdout.startswith("embeddings.stores.cluster.RedisClusterCache")
    assert (
        "Redis Cluster has only database 0"
        in run(EMBEDDINGS_REDIS_URL="redis://x/3", EMBEDDINGS_REDIS_CLUSTER_NODES="n1:7001").stderr
    )
    assert "EMBEDDINGS_REDIS_SENTINEL_MASTER" in run(EMBEDDINGS_REDIS_SENTINELS="s1:1").stderr


def test_sentinel_password_goes_to_sentinel_kwargs_with_the_short_timeouts():
    """Given sentinel_kwargs, redis-py stops copying socket_* options to the sentinel
    connections: the settings repeat the timeouts there."""
    import subprocess
    import sys

    from tests.conftest import subprocess_env

    script = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.CACHES['embeddings']['OPTIONS'].get('SENTINEL_KWARGS'))"
    )
    base = {
        "EMBEDDINGS_REDIS_URL": "redis://:mpw@ignored/2",
        "EMBEDDINGS_REDIS_SENTINELS": "s1:26379",
        "EMBEDDINGS_REDIS_SENTINEL_MASTER": "mymaster",
        "EMBEDDINGS_REDIS_CONNECT_TIMEOUT": "0.3",
        "EMBEDDINGS_REDIS_TIMEOUT": "0.7",
    }

    def run(**env):
        return subprocess.run(
            [sys.executable, "-c", script],
            cwd=Path(__file__).resolve().parents[2],
            env=subprocess_env(**base, **env),
            capture_output=True,
            text=True,
            check=False,
        )

    assert run().stdout.strip() == "None"  # redis-py copies the socket_* options itself
    assert ast.literal_eval(run(EMBEDDINGS_REDIS_SENTINEL_PASSWORD="spw").stdout) == {
        "password": "spw",
        "socket_connect_timeout": 0.3,
        "socket_timeout": 0.7,
    }
    assert ast.literal_eval(
        run(EMBEDDINGS_REDIS_SENTINEL_PASSWORD="spw", EMBEDDINGS_REDIS_SENTINEL_USERNAME="s").stdout
    ) == {"password": "spw", "username": "s", "socket_connect_timeout": 0.3, "socket_timeout": 0.7}
    alone = run(EMBEDDINGS_REDIS_SENTINEL_USERNAME="s")
    assert alone.returncode != 0 and "EMBEDDINGS_REDIS_SENTINEL_PASSWORD" in alone.stderr
