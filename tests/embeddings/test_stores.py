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
