"""The store contract, run against every kind of store the app supports: the on-disk default,
standalone Redis, Redis behind Sentinel and Redis Cluster (servers started once per module)."""

import threading
from collections.abc import Iterator

import pytest
import redis

from embeddings import counters, keys
from embeddings.maintenance import all_models_namespace, flush_keys, warm_texts
from embeddings.selectors import get_cache_stats
from embeddings.services import embed_texts, embed_texts_with_report, namespace_for
from embeddings.stores import get_store
from tests.conftest import redis_cache_settings
from tests.fakes import CountingBackend
from tests.topologies import Cluster, SentinelGroup

KINDS = ["disk", "redis", "sentinel", "cluster"]


@pytest.fixture(scope="module")
def sentinel_group() -> Iterator[SentinelGroup]:
    with SentinelGroup() as group:
        yield group.start()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with Cluster() as started:
        yield started.start()


@pytest.fixture(params=KINDS)
def kind(request, settings) -> Iterator[str]:
    """Point the embeddings alias at one kind of store; empty it afterwards."""
    # No background recount: its thread would outlive the test and its store.
    stats = {**settings.EMBEDDINGS.get("STATS", {}), "AUTO_RECOUNT": False}
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "STATS": stats}
    cleanup = []
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        settings.CACHES = {**settings.CACHES, "embeddings": redis_cache_settings(url)}
    elif request.param == "sentinel":
        group = request.getfixturevalue("sentinel_group")
        settings.CACHES = {**settings.CACHES, "embeddings": group.cache_settings()}
        cleanup.append(lambda: redis.Redis(port=group.master_port()).flushall())
    elif request.param == "cluster":
        started = request.getfixturevalue("cluster")
        settings.CACHES = {**settings.CACHES, "embeddings": started.cache_settings()}
        cleanup += [lambda p=p: redis.Redis(port=p).flushall() for p in started.ports]
    yield request.param
    for step in cleanup:
        step()


def _namespace() -> str:
    from embeddings.backends import get_backend

    return namespace_for(get_backend())


def test_describes_itself(kind):
    described = get_store().describe()
    assert described.kind == kind
    assert described.location
    if kind != "disk":
        assert described.servers


def test_values_round_trip_in_order_with_absent_keys_as_none(kind):
    store = get_store()
    names = keys.text_keys(_namespace(), [f"text {i}" for i in range(1000)])
    store.set_many({k: k.encode()[-12:] for k in names[::2]}, ttl=60)
    values = store.get_many(names)
    assert values[::2] == [k.encode()[-12:] for k in names[::2]]
    assert values[1::2] == [None] * 500
    assert store.get_bytes(names[0]) == names[0].encode()[-12:]


def test_counters_ride_along_and_reset(kind):
    store = get_store()
    [key] = keys.text_keys(_namespace(), ["counted"])
    store.get_many(
        [key], increments=counters.Increments("f" * 16, {"requested": 3}, register='{"label": "x"}')
    )
    store.set_many({key: b"v"}, ttl=None, increments=counters.Increments("f" * 16, {"misses": 2}))
    lifetime, last_hour, description = store.read_counters()["f" * 16]
    assert (lifetime.requested, lifetime.misses, last_hour.requested) == (3, 2, 3)
    assert description == {"label": "x"}
    store.reset_counters("f" * 16)
    assert store.read_counters(also=["f" * 16])["f" * 16][0].requested == 0


def test_claims_are_exclusive_and_released_only_by_their_holder(kind):
    store = get_store()
    claims = [keys.claim_key(k) for k in keys.text_keys(_namespace(), ["c1", "c2", "c3"])]
    assert store.claim_many(claims[:2], lease=30, token="a") == [True, True]
    assert store.claim_many(claims, lease=30, token="b") == [False, False, True]
    assert store.release_many(claims, token="a") == 2
    assert store.release_many(claims, token="a") == 0
    assert store.get_many(claims) == [None, None, b"b"]


def test_scan_and_delete_stay_inside_the_prefix(kind):
    store = get_store()
    ours = keys.text_keys(_namespace(), [f"mine {i}" for i in range(2500)])
    store.set_many({k: b"v" for k in ours}, ttl=None)
    store.set_bytes("other:app:key", b"keep", ttl=None)
    found = sorted(k for page in store.scan(_namespace(), batch=300) for k in page)
    assert found == sorted(ours)
    result = flush_keys(namespace=all_models_namespace(), batch=500)
    assert result.deleted == 2500
    assert store.get_bytes("other:app:key") == b"keep"
    assert [k for page in store.scan(_namespace()) for k in page] == []


def test_embed_warm_and_stats(kind):
    texts = [f"answer {i}" for i in range(300)]
    stats = warm_texts(enumerate(texts, 1), batch_size=128)
    assert stats.embedded == 300
    report = embed_texts_with_report(texts)
    assert (report.hits, report.misses) == (300, 0)
    assert (
        report.vectors.tobytes() == CountingBackend(model=None, config={}).encode(texts).tobytes()
    )
    cache_stats = get_cache_stats()
    assert cache_stats.reachable and cache_stats.backend == kind
    assert cache_stats.lifetime.requests == 600 and cache_stats.lifetime.misses == 300
    assert cache_stats.entries_total >= 300
    assert {w.code for w in cache_stats.warnings} <= {
        "no_persistence",
        "shared_database",
    }


def test_concurrent_misses_are_computed_once(kind, settings):
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "BACKEND": "tests.fakes.SlowCountingBackend"}
    texts = [f"shared {i}" for i in range(40)]
    reports = []
    threads = [
        threading.Thread(target=lambda: reports.append(embed_texts_with_report(texts)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(CountingBackend.encoded_texts()) == sorted(texts)
    assert len({r.vectors.tobytes() for r in reports}) == 1


def test_disk_store_keeps_its_model_registry_in_one_key():
    embed_texts(["a"])
    embed_texts(["a"], model="other")
    store = get_store()
    registry = [key for batch in store.scan(keys.models_key("emb")) for key in batch]
    assert registry == [keys.models_key("emb")]  # one key, not one per model: no scan needed
    assert len(store.read_counters()) == 2


def test_stores_describe_themselves_from_settings_alone(settings):
    assert get_store().describe().kind == "disk"
    settings.CACHES = {
        **settings.CACHES,
        "embeddings": redis_cache_settings("redis://user:secret@db.example:6380/2"),
    }
    described = get_store().describe()  # no server there: nothing is connected
    assert (described.kind, described.servers, described.database) == (
        "redis",
        ("db.example:6380",),
        2,
    )
    assert described.authenticated and "secret" not in described.location
    sentinel = redis_cache_settings(
        "redis://:secret@mymaster/3",
        CLIENT_CLASS="django_redis.client.SentinelClient",
        CONNECTION_FACTORY="django_redis.pool.SentinelConnectionFactory",
        SENTINELS=[("s1.example", 26379), ("s2.example", 26379)],
    )
    settings.CACHES = {**settings.CACHES, "embeddings": sentinel}
    described = get_store().describe()
    assert described.kind == "sentinel" and described.database == 3
    assert described.servers == ("s1.example:26379", "s2.example:26379")
    assert "mymaster" in described.location and "secret" not in described.location


def test_cluster_keys_round_trip_and_keep_prefixes():
    [key] = keys.text_keys("emb:v1:0123456789abcdef:", ["x"])
    tagged = keys.cluster_key(key, buckets=16)
    assert tagged.startswith("emb:v1:0123456789abcdef:{0123456789abcdef.")
    assert keys.logical_key(tagged) == key
    claim = keys.cluster_key(keys.claim_key(key), buckets=16)
    assert claim[claim.index("{") :].split(":")[0] == tagged[tagged.index("{") :].split(":")[0]
    assert keys.cluster_key("emb:stats:models", buckets=16) == "emb:stats:models"
