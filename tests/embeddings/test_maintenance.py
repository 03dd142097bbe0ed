"""warm_texts / count_keys / flush_keys against a private Redis and the on-disk cache."""

import numpy as np
import pytest
import redis
from django.core.cache import caches

from embeddings import codec, keys
from embeddings.backends import get_backend
from embeddings.exceptions import CacheRefused, CacheUnavailable
from embeddings.maintenance import (
    WarmStats,
    all_models_namespace,
    count_keys,
    current_namespace,
    flush_keys,
    model_namespace,
    warm_texts,
)
from embeddings.services import embed_texts
from embeddings.sources import SourceError
from embeddings.stores import get_store
from tests.fakes import CountingBackend


def _records(texts):
    return list(enumerate(texts, start=1))


def test_warm_encodes_only_missing_texts_in_batches(redis_cache):
    embed_texts(["already"])
    CountingBackend.calls = []
    texts = ["already", "a", "", "b", "a", "   ", "c", "d", "e"]
    records = [*_records(texts), (10, None)]
    seen = []
    stats = warm_texts(records, batch_size=3, on_batch=lambda s: seen.append(s.last_line))
    assert (stats.read, stats.skipped, stats.cached, stats.embedded, stats.duplicates) == (
        10,
        3,
        2,  # "already", and "a" the second time: the first batch wrote it
        5,
        0,
    )
    assert CountingBackend.calls == [["a", "b"], ["c", "d"], ["e"]]
    assert seen == [4, 8, 10]
    big = warm_texts(_records(["f", "f", "g", "f"]), batch_size=100)
    assert (big.cached, big.embedded, big.duplicates) == (0, 2, 2)
    assert stats.seconds > 0 and stats.rate > 0
    # Everything is now cached: a second run encodes nothing.
    CountingBackend.calls = []
    again = warm_texts(records, batch_size=3)
    assert (again.cached, again.embedded) == (7, 0)  # 10 read, 3 skipped
    assert CountingBackend.calls == []


def test_warmed_vectors_are_the_ones_embed_texts_returns(redis_cache):
    warm_texts(_records(["x", "y"]))
    CountingBackend.calls = []
    vectors = embed_texts(["x", "y"])
    assert CountingBackend.calls == []
    expected = CountingBackend(model=None, config={}).encode(["x", "y"])
    assert vectors.tobytes() == expected.tobytes()


def test_dry_run_counts_like_a_real_run_without_encoding(redis_cache):
    embed_texts(["cached"])
    client = redis.Redis.from_url(redis_cache)
    client.set(current_namespace() + keys.text_digest("corrupt"), b"not a vector")
    CountingBackend.calls = []
    texts = ["cached", "new", "new", "corrupt", "", "other", "new"]
    dry = warm_texts(_records(texts), batch_size=2, dry_run=True)
    assert CountingBackend.calls == []
    assert len(list(client.scan_iter(match="emb:v1:*"))) == 2  # nothing written
    real = warm_texts(_records(texts), batch_size=2)
    assert (dry.read, dry.skipped, dry.cached, dry.embedded, dry.duplicates) == (
        real.read,
        real.skipped,
        real.cached,
        real.embedded,
        real.duplicates,
    )
    assert dry.embedded == 3  # new, corrupt, other


def test_a_bad_line_keeps_the_batches_before_it(redis_cache):
    def records():
        yield from _records(["one", "two", "three"])
        raise SourceError("bad bytes", line_number=4)

    stats = WarmStats()
    with pytest.raises(SourceError, match="line 4"):
        warm_texts(records(), batch_size=2, stats=stats)
    assert stats.embedded == 3 and stats.last_line == 3
    CountingBackend.calls = []
    assert warm_texts(_records(["one", "two", "three"])).cached == 3


def test_interrupt_keeps_finished_batches(redis_cache):
    def records():
        yield from _records(["one", "two", "three"])
        raise KeyboardInterrupt

    stats = WarmStats()
    with pytest.raises(KeyboardInterrupt):
        warm_texts(records(), batch_size=2, stats=stats)
    assert (stats.read, stats.embedded) == (2, 2)  # "three" was pending, not counted
    assert warm_texts(_records(["one", "two"])).cached == 2


def test_warm_fails_fast_when_redis_is_down(settings, own_redis):
    from tests.conftest import free_port, redis_cache_settings

    settings.CACHES = {
        **settings.CACHES,
        "embeddings": redis_cache_settings(f"redis://127.0.0.1:{free_port()}/0"),
    }
    with pytest.raises(CacheUnavailable):
        warm_texts(_records(["a"]))
    assert CountingBackend.calls == []


def _fill(client, namespace, count):
    value = codec.encode(np.zeros((1, CountingBackend.dim), dtype=np.float32), dtype="float32")[0]
    pipe = client.pipeline(transaction=False)
    for i in range(count):
        pipe.set(f"{namespace}{keys.text_digest(str(i))}", value)
    pipe.execute()


FOREIGN = {
    b":1:django.contrib.sessions.cache0123": b"session",
    b"emb:stats:hits": b"12",  # statistics live under our prefix but outside v1
    b"other:emb:v1:abc:def": b"another app's key",
    b"emb:v2:abc:def": b"a future key format",
    b"emb": b"just the prefix",
}


def test_flush_deletes_only_the_current_model_and_never_flushdb(redis_cache):
    client = redis.Redis.from_url(redis_cache)
    client.mset(FOREIGN)
    current = current_namespace()
    other = model_namespace("0123456789abcdef")
    _fill(client, current, 2500)
    _fill(client, other, 700)
    client.config_resetstat()

    assert count_keys(namespace=current).total == 2500
    progress = []
    result = flush_keys(namespace=current, batch=1000, on_batch=progress.append)
    assert result.deleted == 2500
    assert progress and progress[-1] == 2500
    assert list(client.scan_iter(match=f"{current}*")) == []
    assert count_keys(namespace=other).total == 700
    assert {key: client.get(key) for key in FOREIGN} == FOREIGN
    stats = client.info("commandstats")
    assert "cmdstat_flushdb" not in stats and "cmdstat_flushall" not in stats
    assert "cmdstat_keys" not in stats
    assert stats["cmdstat_unlink"]["calls"] >= 3  # in batches, not one huge command


def test_flush_all_models_spares_stats_and_foreign_keys(redis_cache):
    client = redis.Redis.from_url(redis_cache)
    client.mset(FOREIGN)
    _fill(client, current_namespace(), 30)
    _fill(client, model_namespace("0123456789abcdef"), 20)
    count = count_keys(namespace=all_models_namespace())
    assert count.total == 50
    assert count.by_model == {current_namespace().split(":")[2]: 30, "0123456789abcdef": 20}
    assert flush_keys(namespace=all_models_namespace()).deleted == 50
    assert list(client.scan_iter(match="emb:v1:*")) == []
    assert {key: client.get(key) for key in FOREIGN} == FOREIGN


def test_flush_on_the_embedded_disk_cache(settings):
    cache = caches["embeddings"]
    embed_texts([f"text {i}" for i in range(30)])
    cache.set("emb:stats:hits", b"1")
    cache.set("unrelated", "kept")
    other = model_namespace("0123456789abcdef")
    cache.set(other + "abc", b"other model")
    namespace = current_namespace()

    pages = list(get_store().scan(namespace, batch=7))
    assert [len(page) for page in pages] == [7, 7, 7, 7, 2]
    assert all(key.startswith(namespace) for page in pages for key in page)  # get_many's keys

    assert count_keys(namespace=namespace).total == 30
    assert flush_keys(namespace=namespace, batch=7).deleted == 30
    assert count_keys(namespace=namespace).total == 0
    assert cache.get("unrelated") == "kept"
    assert cache.get("emb:stats:hits") == b"1"
    assert cache.get(other + "abc") == b"other model"
    CountingBackend.calls = []
    embed_texts(["text 0"])
    assert CountingBackend.calls == [["text 0"]]  # really gone


def test_warm_on_the_embedded_disk_cache():
    stats = warm_texts(_records(["a", "b"]))
    assert stats.embedded == 2
    assert warm_texts(_records(["a", "b"])).cached == 2


def test_namespaces_are_validated(settings):
    with pytest.raises(ValueError, match="lowercase hex"):
        model_namespace("*")
    with pytest.raises(ValueError, match="refusing"):
        flush_keys(namespace="emb")
    assert all_models_namespace() == "emb:v1:"
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "KEY_PREFIX": "mine"}
    assert all_models_namespace() == "mine:v1:"
    assert current_namespace().startswith("mine:v1:")
    assert get_backend().is_loaded is False


def test_warm_stops_when_redis_goes_away_mid_run(settings, own_redis):
    from tests.conftest import redis_cache_settings

    server = own_redis()
    settings.CACHES = {
        **settings.CACHES,
        "embeddings": redis_cache_settings(f"redis://127.0.0.1:{server.port}/0"),
    }

    def records():
        yield from _records(["one", "two"])
        server.stop()
        yield from [(3, "three"), (4, "four")]

    stats = WarmStats()
    with pytest.raises(CacheUnavailable, match="stopped warming"):
        warm_texts(records(), batch_size=2, stats=stats)
    assert stats.embedded == 2  # the first batch, written before the server went
    assert CountingBackend.encoded_texts() == ["one", "two", "three", "four"]  # each once


def test_warm_stops_when_a_full_redis_refuses_writes(redis_cache):
    client = redis.Redis.from_url(redis_cache)
    warm_texts(_records(["kept before"]), batch_size=10)
    client.config_set("maxmemory", "1")  # anything more is over the limit
    client.config_set("maxmemory-policy", "noeviction")
    try:
        with pytest.raises(CacheRefused, match="refused to store"):
            warm_texts(_records([f"new {i}" for i in range(20)]), batch_size=10)
    finally:
        client.config_set("maxmemory", "0")
    assert warm_texts(_records(["kept before"]), batch_size=10).cached == 1


def test_report_counts_what_the_cache_stored(redis_cache):
    from embeddings.services import embed_texts_with_report

    assert embed_texts_with_report(["s1", "s2", "s1"]).stored == 2
    assert embed_texts_with_report(["s1", "s2"]).stored == 0
