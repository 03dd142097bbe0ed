"""The store contract, run against every kind of store the app supports."""

from embeddings import keys
from embeddings.services import embed_texts
from embeddings.stores import get_store


def test_disk_store_keeps_its_model_registry_in_one_key():
    embed_texts(["a"])
    embed_texts(["a"], model="other")
    store = get_store()
    registry = [key for batch in store.scan(keys.models_key("emb")) for key in batch]
    assert registry == [keys.models_key("emb")]  # one key, not one per model: no scan needed
    assert len(store.read_counters()) == 2


def test_stores_describe_themselves_from_settings_alone(settings):
    from tests.conftest import redis_cache_settings

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
