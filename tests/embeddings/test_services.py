"""embed_texts() mechanics against a real private Redis, with the fast stand-in encoder."""

import json
import logging
import pickle
import time
from pathlib import Path

import numpy as np
import pytest
import redis

from embeddings import codec
from embeddings.backends import get_backend
from embeddings.services import embed_texts, embed_texts_with_report, namespace_for
from tests.fakes import CountingBackend


def _commandstats(client: redis.Redis) -> dict[str, int]:
    return {
        name.removeprefix("cmdstat_"): s["calls"] for name, s in client.info("commandstats").items()
    }


def _our_keys(client: redis.Redis) -> list[bytes]:
    return sorted(client.scan_iter(match="emb:v1:*", count=1000))


def test_rows_in_input_order_and_float32(redis_cache):
    texts = ["b", "a", "c"]
    vectors = embed_texts(texts)
    assert vectors.dtype == np.float32
    assert vectors.shape == (3, CountingBackend.dim)
    for row, text in zip(vectors, texts, strict=True):
        assert row.tobytes() == CountingBackend(model=None, config={}).encode([text])[0].tobytes()


def test_second_call_is_all_hits_in_one_mget(redis_cache):
    client = redis.Redis.from_url(redis_cache)
    texts = [f"answer {i}" for i in range(300)]
    first = embed_texts_with_report(texts)
    assert (first.hits, first.misses) == (0, 300)
    client.config_resetstat()
    second = embed_texts_with_report(texts)
    assert (second.hits, second.misses) == (300, 0)
    stats = _commandstats(client)
    assert stats.get("mget") == 1
    assert "get" not in stats and "set" not in stats
    assert second.vectors.tobytes() == first.vectors.tobytes()
    assert CountingBackend.encoded_texts() == sorted(texts, key=texts.index)  # encoded once


def test_misses_are_written_in_one_pipeline_with_the_ttl(redis_cache, settings):
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "TTL": 3600}
    client = redis.Redis.from_url(redis_cache)
    embed_texts(["old one"])
    client.config_resetstat()
    report = embed_texts_with_report(["old one", "new one", "new two"])
    assert (report.hits, report.misses) == (1, 2)
    stats = _commandstats(client)
    # One MGET; per new text one SET NX claim and one SET EX value; one script releasing the
    # claims (compare-and-delete: only those still holding this call's token).
    assert stats.get("mget") == 1 and stats.get("set") == 4 and stats.get("eval") == 1
    assert list(client.scan_iter(match="emb:claim:*")) == []
    ttls = [client.ttl(k) for k in _our_keys(client)]
    assert len(ttls) == 3 and all(3590 <= t <= 3600 for t in ttls)


def test_default_ttl_is_seven_days_and_none_means_no_expiry(redis_cache, settings):
    client = redis.Redis.from_url(redis_cache)
    embed_texts(["week"])
    [key] = _our_keys(client)
    assert 7 * 86400 - 10 <= client.ttl(key) <= 7 * 86400
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "TTL": None}
    embed_texts(["forever"])
    assert sorted(client.ttl(k) for k in _our_keys(client))[0] == -1


def test_duplicates_in_one_call_are_encoded_once(redis_cache):
    texts = ["same", "other", "same", "same", ""]
    report = embed_texts_with_report(texts)
    assert sorted(CountingBackend.encoded_texts()) == ["", "other", "same"]
    assert report.encoded == 3 and report.misses == 5
    assert report.vectors[0].tobytes() == report.vectors[2].tobytes() == report.vectors[3].tobytes()


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        (None, "list or tuple of str, not NoneType"),
        ("a string", "list or tuple of str, not str"),
        (["ok", b"bytes"], r"texts\[1\] must be str, not bytes"),
        (["ok", "ok", 3], r"texts\[2\] must be str, not int"),
        ([None], r"texts\[0\] must be str, not NoneType"),
    ],
)
def test_bad_input_raises_type_error_naming_the_position(texts, message):
    with pytest.raises(TypeError, match=message):
        embed_texts(texts)
    assert CountingBackend.calls == []


def test_a_lone_surrogate_is_a_value_error_naming_its_position_before_any_encoding():
    """JSON's "\\ud800" is a str, but no tokenizer takes it: the model raised a TypeError that
    named neither the text nor its place, after the other misses had been claimed."""
    texts = ["ok", "ok", json.loads('"caf\\ud800 bad"'), "fine"]
    with pytest.raises(ValueError, match=r"texts\[2\] is not valid Unicode"):
        embed_texts(texts)
    assert CountingBackend.calls == []
    assert embed_texts(["ok", "fine"]).shape == (2, CountingBackend.dim)


def test_empty_list_gives_zero_rows_without_encoding(real_model):
    vectors = embed_texts([])
    assert vectors.shape == (0, 384) and vectors.dtype == np.float32
    assert not get_backend().is_loaded


def test_tuple_and_long_and_empty_texts_are_valid(redis_cache):
    long_text = "word " * 10_000
    vectors = embed_texts(("", long_text, long_text + "!"))
    assert vectors.shape == (3, CountingBackend.dim)
    assert vectors[1].tobytes() != vectors[2].tobytes()  # the key hashes the whole text


@pytest.mark.parametrize(
    "change",
    [
        {"NORMALIZE": True},
        {"MAX_SEQ_LENGTH": 64},
        {"PROMPT": "query: "},
        {"MODEL_REVISION": "v2"},
        {"STORAGE_DTYPE": "float16"},
        {"KEY_PREFIX": "other"},
    ],
)
def test_changing_what_changes_the_vector_misses(redis_cache, settings, change):
    embed_texts(["stable text"])
    before = namespace_for(get_backend())
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, **change}
    assert namespace_for(get_backend()) != before
    report = embed_texts_with_report(["stable text"])
    assert report.misses == 1


def test_model_argument_uses_its_own_key_space(redis_cache):
    embed_texts(["same text"])
    report = embed_texts_with_report(["same text"], model="another-model")
    assert report.misses == 1
    assert embed_texts_with_report(["same text"]).hits == 1


def test_corrupt_and_pickled_values_are_misses_recomputed_and_overwritten(
    redis_cache, tmp_path, caplog
):
    client = redis.Redis.from_url(redis_cache)
    texts = ["pickled", "random", "short", "wrong dim"]
    good = embed_texts(texts)
    [k_pickle, k_random, k_short, k_dim] = [
        k.encode()
        for k in __import__("embeddings.keys").keys.text_keys(namespace_for(get_backend()), texts)
    ]
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (Path.touch, (marker,))

    client.set(k_pickle, pickle.dumps(Exploit()))
    client.set(k_random, np.random.default_rng(0).bytes(1544))
    client.set(k_short, client.get(k_short)[:-8])
    client.set(k_dim, codec.encode(np.ones((1, 5), np.float32), dtype="float32")[0])
    CountingBackend.calls = []
    with caplog.at_level(logging.WARNING, logger="embeddings"):
        report = embed_texts_with_report(texts)
    assert not marker.exists()
    assert report.corrupt == 4 and report.misses == 4
    assert report.vectors.tobytes() == good.tobytes()
    assert "failed validation" in caplog.text
    assert embed_texts_with_report(texts).hits == 4  # overwritten with valid values


def test_redis_down_still_correct_bounded_and_recovers(own_redis, settings, caplog):
    from tests.conftest import redis_cache_settings

    server = own_redis()
    url = f"redis://127.0.0.1:{server.port}/0"
    settings.CACHES = {**settings.CACHES, "embeddings": redis_cache_settings(url)}
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "BREAKER_BACKOFF": 0.5}
    texts = [f"t{i}" for i in range(50)]
    expected = embed_texts(texts)
    server.stop()

    with caplog.at_level(logging.WARNING, logger="embeddings"):
        started = time.perf_counter()
        down = embed_texts_with_report(texts)
        first_down = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(20):
            again = embed_texts_with_report(texts)
        twenty_more = time.perf_counter() - started
    assert down.vectors.tobytes() == expected.tobytes()
    assert again.vectors.tobytes() == expected.tobytes()
    assert not down.cache_available and down.misses == 50
    assert first_down < 2.0  # one short socket timeout, not a hang
    assert twenty_more < 1.0  # the breaker skips Redis: no timeout paid per call
    assert caplog.text.count("unavailable") == 1  # one warning per outage, not per call

    server.start()
    time.sleep(0.6)  # back-off elapses; the next call tries Redis again
    embed_texts(texts)  # repopulates (the restarted server kept nothing)
    assert embed_texts_with_report(texts).hits == 50


def test_redis_full_under_noeviction_still_embeds(redis_cache, caplog):
    client = redis.Redis.from_url(redis_cache)
    client.config_set("maxmemory", "1mb")
    client.config_set("maxmemory-policy", "noeviction")
    try:
        with caplog.at_level(logging.WARNING, logger="embeddings"):
            for batch in range(5):
                report = embed_texts_with_report([f"{batch}-{i}" * 40 for i in range(2000)])
                assert report.vectors.shape == (2000, CountingBackend.dim)
        assert "refused" in caplog.text
    finally:
        client.config_set("maxmemory", "0")


def test_embedded_default_cache_works_without_redis():
    first = embed_texts_with_report(["a", "b"])
    second = embed_texts_with_report(["b", "a"])
    assert (first.misses, second.hits) == (2, 2)
    assert second.vectors[0].tobytes() == first.vectors[1].tobytes()


def test_one_call_pays_for_at_most_one_failure_when_redis_dies_mid_call(own_redis, settings):
    from tests.conftest import redis_cache_settings
    from tests.fakes import FailureCountingRedisStore, HookedBackend

    server = own_redis()
    url = f"redis://127.0.0.1:{server.port}/0"
    settings.CACHES = {**settings.CACHES, "embeddings": redis_cache_settings(url)}
    settings.EMBEDDINGS = {
        **settings.EMBEDDINGS,
        "BACKEND": "tests.fakes.HookedBackend",
        "STORE": "tests.fakes.FailureCountingRedisStore",
    }
    FailureCountingRedisStore.failures = []
    HookedBackend.before_encode = staticmethod(server.stop)  # after the lookup and the claims
    try:
        report = embed_texts_with_report(["x", "y"])
    finally:
        HookedBackend.before_encode = staticmethod(lambda: None)
    expected = CountingBackend(model=None, config={}).encode(["x", "y"])
    assert report.vectors.tobytes() == expected.tobytes()
    assert not report.cache_available
    # The write finds Redis gone and opens the breaker; releasing the claims is then skipped.
    assert FailureCountingRedisStore.failures == ["set_many"]


def test_misses_are_counted_before_the_model_runs(redis_cache, settings):
    """Hits are the texts requested (counted with the lookup) minus the misses: misses counted
    only once the model returned made a worker killed while it encoded (SIGKILL: nothing after
    it runs) leave 256 "hits" and no miss for a job that found nothing cached."""
    from embeddings.stores import get_store
    from tests.fakes import HookedBackend

    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "BACKEND": "tests.fakes.HookedBackend"}
    seen = []
    HookedBackend.before_encode = staticmethod(
        lambda: seen.append(next(iter(get_store().read_counters().values()))[0])
    )
    try:
        embed_texts(["one", "two", "two", "three"])
    finally:
        HookedBackend.before_encode = staticmethod(lambda: None)
    [while_encoding] = seen  # what a kill at that moment leaves
    assert (while_encoding.requested, while_encoding.misses, while_encoding.hits) == (4, 4, 0)


def test_a_model_that_raises_counts_its_texts_as_misses(redis_cache, settings):
    from embeddings.stores import get_store

    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "BACKEND": "tests.fakes.FailingBackend"}
    with pytest.raises(RuntimeError, match="exploded"):
        embed_texts(["boom 1", "boom 2"])
    [(lifetime, _, _)] = get_store().read_counters().values()
    assert (lifetime.requested, lifetime.misses, lifetime.hits) == (2, 2, 0)
