"""Redis Cluster, proved against three real primaries started for this module: a big lookup is a
handful of MGETs spread over the nodes, the stats show every node, and when a primary dies the
app keeps answering with the model's vectors."""

import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import redis

from embeddings.backends import get_backend
from embeddings.selectors import get_cache_stats
from embeddings.services import embed_texts_with_report
from tests.topologies import Cluster

DATA = Path(__file__).resolve().parents[2] / "data" / "banking77_test.csv"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with Cluster() as started:
        yield started.start()


@pytest.fixture
def cluster_cache(settings, cluster) -> Iterator[Cluster]:
    settings.CACHES = {**settings.CACHES, "embeddings": cluster.cache_settings()}
    stats = {**settings.EMBEDDINGS.get("STATS", {}), "AUTO_RECOUNT": False}
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "STATS": stats, "BREAKER_BACKOFF": 0.2}
    yield cluster
    for port in cluster.ports:
        if cluster.processes[port].poll() is None:
            redis.Redis(port=port).flushall()


def _commands(ports: list[int]) -> dict[int, dict[str, int]]:
    return {
        port: {
            name.removeprefix("cmdstat_"): s["calls"]
            for name, s in redis.Redis(port=port).info("commandstats").items()
        }
        for port in ports
    }


def test_a_1000_text_lookup_is_one_mget_per_bucket_spread_over_the_nodes(cluster_cache, settings):
    texts = [f"answer {i}" for i in range(1000)]
    assert embed_texts_with_report(texts).misses == 1000
    for port in cluster_cache.ports:
        redis.Redis(port=port).config_resetstat()
    report = embed_texts_with_report(texts)
    assert report.hits == 1000
    sent = _commands(cluster_cache.ports)
    mgets = [commands.get("mget", 0) for commands in sent.values()]
    assert sum(mgets) == settings.EMBEDDINGS.get("CLUSTER_BUCKETS", 16)  # not 1,000 GETs
    assert all(mgets)  # every node serves part of the model's keys
    assert not any(commands.get("get") for commands in sent.values())


def test_stats_sum_the_nodes_and_show_each(cluster_cache):
    embed_texts_with_report([f"stat {i}" for i in range(200)])
    stats = get_cache_stats()
    assert stats.backend == "cluster" and stats.reachable
    assert len(stats.nodes) == 3 and all(node["reachable"] for node in stats.nodes)
    assert sum(node["keys"] for node in stats.nodes) == stats.entries_total >= 200
    assert stats.used_memory == sum(node["used_memory"] for node in stats.nodes)
    assert sorted(stats.servers) == sorted(f"127.0.0.1:{p}" for p in cluster_cache.ports)


def test_stats_command_shows_each_node(cluster_cache, capsys):
    from django.core.management import call_command

    embed_texts_with_report(["shown"])
    call_command("embeddings_stats")
    out = capsys.readouterr().out
    assert "cluster" in out
    for port in cluster_cache.ports:
        assert f"node 127.0.0.1:{port}" in out


def test_lookups_follow_a_slot_that_moved(cluster_cache):
    from embeddings import keys
    from embeddings.stores import get_store

    store = get_store()
    [key] = keys.text_keys("emb:v1:0123456789abcdef:", ["moving"])
    store.get_many([key])  # the client has its slot map now
    slot = store.client.keyslot(keys.cluster_key(key, buckets=store.buckets))
    nodes = {port: redis.Redis(port=port) for port in cluster_cache.ports}
    owner = store.client.nodes_manager.get_node_from_slot(slot).port
    target = next(port for port in nodes if port != owner)
    target_id = nodes[target].execute_command("CLUSTER MYID").decode()
    for node in nodes.values():  # the slot is empty: reassigning it moves nothing
        node.execute_command("CLUSTER SETSLOT", slot, "NODE", target_id)
    assert store.get_many([key]) == [None]  # MOVED: the map is refreshed, the read retried
    store.set_many({key: b"value"}, ttl=60)
    assert store.get_many([key]) == [b"value"]
    assert nodes[target].exists(keys.cluster_key(key, buckets=store.buckets))


# Last: it leaves the module's cluster without one primary.
def test_a_dead_primary_leaves_correct_vectors_from_the_model(cluster_cache, real_model):
    with DATA.open(newline="", encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)][:60]
    reference = get_backend().encode(texts)
    assert embed_texts_with_report(texts).misses == 60
    assert embed_texts_with_report(texts).hits == 60
    cluster_cache.kill(cluster_cache.ports[0])
    for _ in range(3):
        report = embed_texts_with_report(texts)
        assert np.abs(report.vectors - reference).max() < 1e-5
    assert not report.cache_available
    stats = get_cache_stats()
    assert not stats.reachable or "node_down" in {w.code for w in stats.warnings}
