"""Redis Sentinel, proved against real processes: a master, a replica and three sentinels on
free ports. The master is failed over twice under a stream of `embed_texts` calls (SENTINEL
FAILOVER, then kill -9 of the new master): every vector stays correct, the cache is used again
on the new master without restarting anything, and what was written before is still there.
Sentinels with a password of their own are reached through the environment variables an operator
sets, and refuse, in a short message, a configuration without it."""

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import redis

from embeddings import keys
from embeddings.backends import get_backend
from embeddings.exceptions import CacheUnavailable
from embeddings.services import embed_texts, embed_texts_with_report, namespace_for
from embeddings.stores import get_store
from tests.conftest import FAKE_BACKEND, run_manage, subprocess_env
from tests.topologies import SentinelGroup, wait_until

DATA = Path(__file__).resolve().parents[2] / "data" / "banking77_test.csv"
TOLERANCE = 1e-5  # the same text in another batch can differ in the last bits (padding)


@pytest.fixture(scope="module")
def group() -> Iterator[SentinelGroup]:
    with SentinelGroup() as started:
        yield started.start()


@pytest.fixture
def sentinel_cache(settings, group) -> SentinelGroup:
    settings.CACHES = {**settings.CACHES, "embeddings": group.cache_settings()}
    settings.EMBEDDINGS = {
        **settings.EMBEDDINGS,
        "BREAKER_BACKOFF": 0.2,
        "BREAKER_MAX_BACKOFF": 0.5,
    }
    yield group
    redis.Redis(port=group.master_port()).flushall()


def _texts(limit: int) -> list[str]:
    with DATA.open(newline="", encoding="utf-8") as handle:
        return [row["text"] for row in csv.DictReader(handle)][:limit]


def test_the_store_talks_to_the_master_the_sentinels_name(sentinel_cache):
    store = get_store()
    assert store.describe().kind == "sentinel"
    embed_texts(["through sentinel"])
    master = redis.Redis(port=sentinel_cache.master_port())
    [key] = keys.text_keys(namespace_for(get_backend()), ["through sentinel"])
    assert master.exists(key)
    assert store.server_info()["role"] == "master"


def test_failover_under_a_stream_of_calls(sentinel_cache, real_model):
    group = sentinel_cache
    backend = get_backend()
    texts = _texts(60)
    reference = dict(zip(texts, backend.encode(texts), strict=True))
    before, between = texts[:40], texts[40:]
    embed_texts(before)
    assert redis.Redis(port=group.master_port()).wait(1, 5000) == 1  # replicated
    calls = {"n": 0}

    def call() -> object:
        """One call of the stream: ten cached texts and three new ones, every vector checked."""
        calls["n"] += 1
        start = calls["n"] % (len(before) - 10)
        cached = before[start : start + 10]
        fresh = [f"{text} (call {calls['n']})" for text in before[:3]]
        report = embed_texts_with_report(cached + fresh)
        expected = np.vstack([np.array([reference[t] for t in cached]), backend.encode(fresh)])
        assert np.abs(report.vectors - expected).max() < TOLERANCE
        return report

    def stream_until(condition, what: str):
        return wait_until(lambda: call() and condition(), timeout=30, what=what)

    def cache_used_again_on(master: int):
        def check() -> bool:
            # Reads alone could come from the demoted master (a replica now); writes cannot.
            report = call()
            try:
                on = get_store().server_info()["tcp_port"]
            except CacheUnavailable:  # the probe's connection can be reset mid-failover
                return False
            return (
                report.cache_available and report.hits == 10 and report.stored == 3 and on == master
            )

        return check

    # 1. A planned failover: SENTINEL FAILOVER.
    old = group.master_port()
    redis.Redis(port=group.sentinel_ports[0]).execute_command("SENTINEL", "FAILOVER", group.master)
    new = stream_until(lambda: group.new_master(old), "the sentinels' failover")
    stream_until(cache_used_again_on(new), "the cache used on the new master")
    assert embed_texts_with_report(before).hits == len(before)  # replicated before the failover

    # 2. kill -9 of that master, once the old one follows it and has every entry.
    embed_texts(between)
    stream_until(
        lambda: redis.Redis(port=old).info("replication").get("master_link_status") == "up",
        "the old master replicating from the new one",
    )
    assert redis.Redis(port=new).wait(1, 5000) == 1
    group.kill(new)
    third = stream_until(lambda: group.new_master(new), "a master elected after kill -9")
    assert third == old
    stream_until(cache_used_again_on(third), "the cache used on the master after kill -9")
    assert embed_texts_with_report(texts).hits == len(texts)


MASTER_PASSWORD = "master-pw-5b1c"
SENTINEL_PASSWORD = "sentinel-pw-9e2d"


@pytest.fixture(scope="module")
def guarded_group() -> Iterator[SentinelGroup]:
    """Data nodes that require MASTER_PASSWORD, sentinels that require SENTINEL_PASSWORD."""
    with SentinelGroup(password=MASTER_PASSWORD, sentinel_password=SENTINEL_PASSWORD) as started:
        yield started.start()


def test_sentinels_with_their_own_password(guarded_group, tmp_path):
    group = guarded_group
    sentinels = ", ".join(f"{host}:{port}" for host, port in group.sentinels)
    env = {
        "EMBEDDINGS_REDIS_SENTINELS": sentinels.replace(" ", ""),
        "EMBEDDINGS_REDIS_SENTINEL_MASTER": group.master,
        "EMBEDDINGS_REDIS_URL": f"redis://:{MASTER_PASSWORD}@unused/2",
        "EMBEDDINGS_BACKEND": FAKE_BACKEND,
        "DJANGO_VAR_DIR": str(tmp_path),
    }

    def stats(*args: str, **extra: str):
        done = run_manage(
            "embeddings_stats", *args, env=subprocess_env(**env, **extra), timeout=120
        )
        output = done.stdout + done.stderr
        assert MASTER_PASSWORD not in output and SENTINEL_PASSWORD not in output, output
        return done, output

    done, output = stats("--json", EMBEDDINGS_REDIS_SENTINEL_PASSWORD=SENTINEL_PASSWORD)
    assert done.returncode == 0, output
    found = json.loads(done.stdout)
    assert found["backend"] == "sentinel" and found["reachable"] and found["error"] is None

    # Without the sentinels' password, or with the master's in its place: a short, clear error
    # in the log line, the table, the warning and the command's error, not the repr of a client.
    for extra in ({}, {"EMBEDDINGS_REDIS_SENTINEL_PASSWORD": MASTER_PASSWORD}):
        done, output = stats(**extra)
        assert done.returncode == 1, output
        expected = (
            f"No master found for '{group.master}' from sentinels {sentinels} "
            "(authentication failed)"
        )
        assert expected in output and "redis.client" not in output, output
        lines = [line for line in output.splitlines() if "No master found" in line]
        assert len(lines) >= 3 and all(len(line) < 400 for line in lines), output
