"""What the cache promises about vector values, with the real all-MiniLM-L6-v2."""

import hashlib
import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import redis

from embeddings.backends import get_backend
from embeddings.services import embed_texts, embed_texts_with_report
from tests.conftest import redis_cache_settings, subprocess_env

ROOT = Path(__file__).resolve().parents[2]
ANSWERS = [
    "The app keeps crashing when I log in",
    "Fees are far too high",
    "Friendly staff in the branch",
    "Fees are far too high",
    "",
    "Très bon service 👍",
]

CHILD = """
import hashlib, json, sys
import django
django.setup()
from embeddings.backends import get_backend
from embeddings.services import embed_texts_with_report
report = embed_texts_with_report(json.loads(sys.argv[1]))
print(json.dumps({
    "hits": report.hits, "misses": report.misses,
    "sha": hashlib.sha256(report.vectors.tobytes()).hexdigest(),
    "torch_imported": "torch" in sys.modules,
    "model_loaded": get_backend().is_loaded,
}))
"""


def _run_child(env: dict[str, str], texts: list[str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(texts)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _direct_encode(texts: list[str]) -> np.ndarray:
    model = get_backend()._loaded()
    return model.encode(texts, batch_size=64, convert_to_numpy=True, show_progress_bar=False)


def test_round_trip_is_bit_identical_to_the_model(real_model, redis_cache):
    cold = embed_texts_with_report(ANSWERS)
    warm = embed_texts_with_report(ANSWERS)
    assert warm.hits == len(ANSWERS)
    assert warm.vectors.shape == (6, 384)
    # What the model returns for the distinct texts, in the order the call gave them to it...
    unique = list(dict.fromkeys(ANSWERS))
    direct = _direct_encode(unique)[[unique.index(t) for t in ANSWERS]]
    assert direct.dtype == np.float32
    # ...is exactly what the cold call returned and what the cache hands back later.
    assert cold.vectors.tobytes() == direct.tobytes()
    assert warm.vectors.tobytes() == direct.tobytes()
    # Batch padding moves the last bits a little between batches of other shapes; no more.
    np.testing.assert_allclose(warm.vectors, _direct_encode(ANSWERS), atol=1e-6)


def test_float16_storage_stays_within_cosine_tolerance(real_model, redis_cache, settings):
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "STORAGE_DTYPE": "float16"}
    embed_texts(ANSWERS)
    warm = embed_texts_with_report(ANSWERS)
    assert warm.hits == len(ANSWERS)
    direct = _direct_encode(ANSWERS)
    cosine = (warm.vectors * direct).sum(1) / (
        np.linalg.norm(warm.vectors, axis=1) * np.linalg.norm(direct, axis=1)
    )
    assert cosine.min() >= 0.9999
    assert warm.vectors.tobytes() != direct.tobytes()


def test_cache_survives_a_fresh_process_which_never_loads_torch(redis_url):
    env = subprocess_env(EMBEDDINGS_REDIS_URL=redis_url)
    first = _run_child(env, ANSWERS)
    second = _run_child(env, ANSWERS)
    assert (first["hits"], first["misses"]) == (0, 6)
    assert first["model_loaded"]
    assert (second["hits"], second["misses"]) == (6, 0)
    assert second["sha"] == first["sha"]
    assert not second["torch_imported"] and not second["model_loaded"]


def test_embedded_default_persists_across_processes(tmp_path):
    env = subprocess_env(EMBEDDINGS_CACHE_DIR=str(tmp_path / "disk-cache"))
    first = _run_child(env, ANSWERS)
    second = _run_child(env, ANSWERS)
    assert (first["misses"], second["hits"]) == (6, 6)
    assert second["sha"] == first["sha"] and not second["torch_imported"]


def test_cache_survives_a_redis_restart_with_aof(real_model, own_redis, settings, tmp_path):
    server = own_redis(datadir=tmp_path, appendonly="yes")
    url = f"redis://127.0.0.1:{server.port}/0"
    settings.CACHES = {**settings.CACHES, "embeddings": redis_cache_settings(url)}
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "BREAKER_BACKOFF": 0.1}
    before = embed_texts(ANSWERS)
    server.stop()
    server.start()
    client = redis.Redis.from_url(url)
    assert client.config_get("appendonly")["appendonly"] == "yes"
    assert len(list(client.scan_iter(match="emb:v1:*"))) == 5
    after = embed_texts_with_report(ANSWERS)
    assert after.hits == len(ANSWERS)
    assert after.vectors.tobytes() == before.tobytes()


def test_model_loads_once_under_concurrent_first_misses(real_model, redis_cache):
    from embeddings.backends import sentence_transformers as st

    st._models.clear()
    results: dict[int, str] = {}

    def worker(i: int) -> None:
        vectors = embed_texts([f"concurrent answer {i % 3}"])
        results[i] = hashlib.sha256(vectors.tobytes()).hexdigest()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(st._models) == 1
    assert len(set(results.values())) == 3


@pytest.mark.parametrize("bad_model", ["/no/such/folder", "nobody/no-such-model"])
def test_unknown_model_is_a_clear_error(real_model, bad_model):
    from embeddings.exceptions import ModelNotFound

    with pytest.raises(ModelNotFound, match="not a local folder"):
        embed_texts(["x"], model=bad_model)
