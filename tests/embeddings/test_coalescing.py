"""Concurrent callers missing the same texts encode each of them once."""

import json
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis

from embeddings import keys
from embeddings.backends import get_backend
from embeddings.selectors import get_cache_stats
from embeddings.services import embed_texts_with_report, model_fingerprint, namespace_for
from embeddings.stores import get_store
from tests.conftest import subprocess_env
from tests.fakes import CountingBackend

ROOT = Path(__file__).resolve().parents[2]
SLOW = "tests.fakes.SlowCountingBackend"


def _expected(texts):
    return CountingBackend(model=None, config={}).encode(texts)


def test_threads_with_overlapping_misses_encode_each_text_once(redis_cache, settings):
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "BACKEND": SLOW}
    sets = [[f"answer {i}" for i in range(start, start + 60)] for start in (0, 20, 40, 60)]
    reports = {}

    def run(k: int) -> None:
        reports[k] = embed_texts_with_report(sets[k])

    threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    encoded = CountingBackend.encoded_texts()
    assert sorted(encoded) == sorted({t for texts in sets for t in texts})  # 120, each once
    for k, texts in enumerate(sets):
        assert reports[k].vectors.tobytes() == _expected(texts).tobytes()
    assert sum(r.misses for r in reports.values()) == 120
    assert sum(r.hits + r.misses for r in reports.values()) == 240
    assert list(redis.Redis.from_url(redis_cache).scan_iter(match="emb:claim:*")) == []


def test_processes_share_the_work(redis_url, settings):
    from tests.conftest import redis_cache_settings

    settings.CACHES = {**settings.CACHES, "embeddings": redis_cache_settings(redis_url)}
    env = subprocess_env(EMBEDDINGS_REDIS_URL=redis_url, EMBEDDINGS_BACKEND=SLOW)
    script = (
        "import django, json, sys; django.setup(); "
        "from embeddings.services import embed_texts_with_report as e; "
        "r = e(json.loads(sys.argv[1])); print(json.dumps([r.encoded, r.hits]))"
    )
    texts = [f"shared {i}" for i in range(200)]
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script, json.dumps(texts)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [
        json.loads(child.communicate(timeout=120)[0].strip().splitlines()[-1]) for child in children
    ]
    assert all(child.returncode == 0 for child in children)
    assert sum(encoded for encoded, _ in results) == 200  # not 600
    stats = get_cache_stats()
    assert (stats.lifetime.requests, stats.lifetime.misses) == (600, 200)


def test_a_dead_claimer_is_not_waited_for_beyond_its_claim(redis_cache):
    client = redis.Redis.from_url(redis_cache)
    [key] = keys.text_keys(namespace_for(get_backend()), ["orphan"])
    client.set(keys.claim_key(key), b"1", ex=1)  # someone claimed it, then died
    started = time.perf_counter()
    report = embed_texts_with_report(["orphan"])
    took = time.perf_counter() - started
    assert 0.8 < took < 3.0
    assert report.encoded == 1 and report.vectors.tobytes() == _expected(["orphan"]).tobytes()
    assert embed_texts_with_report(["orphan"]).hits == 1


def test_waiting_is_bounded(redis_cache, settings, caplog):
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "COALESCE_MAX_WAIT": 0.5}
    client = redis.Redis.from_url(redis_cache)
    [key] = keys.text_keys(namespace_for(get_backend()), ["stuck"])
    client.set(keys.claim_key(key), b"1", ex=600)  # a claimer that hangs
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="embeddings"):
        report = embed_texts_with_report(["stuck", "free"])
    assert time.perf_counter() - started < 2.0
    assert report.encoded == 2 and report.misses == 2
    assert "computing them here" in caplog.text


def test_coalescing_can_be_switched_off(redis_cache, settings):
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "COALESCE_MISSES": False}
    client = redis.Redis.from_url(redis_cache)
    [key] = keys.text_keys(namespace_for(get_backend()), ["claimed"])
    client.set(keys.claim_key(key), b"1", ex=600)
    started = time.perf_counter()
    assert embed_texts_with_report(["claimed"]).encoded == 1
    assert time.perf_counter() - started < 0.5


def test_claims_work_on_the_embedded_disk_cache(settings):
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "BACKEND": SLOW}
    results = {}

    def run(k: int) -> None:
        results[k] = embed_texts_with_report([f"disk {i}" for i in range(30)])

    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.encoded for r in results.values()) == 30
    assert results[0].vectors.tobytes() == results[1].vectors.tobytes()


def test_claims_are_released_when_the_model_raises(redis_cache, settings):
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "BACKEND": "tests.fakes.FailingBackend"}
    with pytest.raises(RuntimeError, match="exploded"):
        embed_texts_with_report(["boom 1", "boom 2"])
    # Otherwise every other caller would wait COALESCE_MAX_WAIT for these texts.
    assert list(redis.Redis.from_url(redis_cache).scan_iter(match="emb:claim:*")) == []


def test_a_late_claimer_cannot_release_the_next_claim(redis_cache):
    store = get_store()
    [key] = keys.text_keys(namespace_for(get_backend()), ["contested"])
    claim = keys.claim_key(key)
    assert store.claim_many([claim], lease=30, token="slow") == [True]
    redis.Redis.from_url(redis_cache).delete(claim)  # the slow claimer's lease ran out
    assert store.claim_many([claim], lease=30, token="next") == [True]
    assert store.release_many([claim], token="slow") == 0  # compare-and-delete: not ours
    assert store.get_bytes(claim) == b"next"
    assert store.release_many([claim], token="next") == 1
    assert store.get_bytes(claim) is None


def test_corrupt_values_are_counted_when_another_caller_computes(redis_cache, settings):
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "COALESCE_MAX_WAIT": 0.3}
    client = redis.Redis.from_url(redis_cache)
    backend = get_backend()
    [key] = keys.text_keys(namespace_for(backend), ["damaged"])
    client.set(key, b"not a vector")
    client.set(keys.claim_key(key), b"someone else", ex=600)
    report = embed_texts_with_report(["damaged"])
    assert report.corrupt == 1
    fingerprint = model_fingerprint(backend)
    lifetime, _, _ = get_store().read_counters()[fingerprint]
    assert lifetime.corrupt == 1  # in the store, not only in this process
