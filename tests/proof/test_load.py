"""Load proof (short version; `bench/load.py` runs the full-size one and prints the table).

gunicorn with 2 workers, 2 `db_worker` processes and the real model, a private Redis, 20
codeframe generations queued at once over overlapping answer sets and a steady stream of stats
requests. No 5xx, no wrong vector, and the counters add up to exactly the texts requested.
"""

import csv

import numpy as np
import pytest
import redis

from embeddings.backends import get_backend
from embeddings.services import embed_texts_with_report
from tests.conftest import redis_cache_settings
from tests.proof.live import ROOT, Http, admin_login
from tests.proof.live import generate as generate_and_wait
from tests.proof.traffic import StatsStream, percentile, run_bounded, summary

pytestmark = [pytest.mark.proof, pytest.mark.load, pytest.mark.slow]

GENERATIONS = 20
ANSWERS_EACH = 200


def answer_pool(size: int) -> list[str]:
    """Real survey answers, then variants of them, all distinct."""
    with open(ROOT / "sample_data/survey_responses.csv", newline="", encoding="utf-8") as f:
        base = list(dict.fromkeys(row["answer"] for row in csv.DictReader(f) if row["answer"]))
    pool, round_ = list(base), 1
    while len(pool) < size:
        pool += [f"{text} (wave {round_})" for text in base]
        round_ += 1
    return list(dict.fromkeys(pool))[:size]


def overlapping_sets(pool: list[str], *, count: int, size: int) -> list[list[str]]:
    """`count` windows of `size` answers, each starting `len(pool) // count` further on, so
    neighbours share most of their answers and the union is the whole pool."""
    step = len(pool) // count
    return [[pool[(i * step + j) % len(pool)] for j in range(size)] for i in range(count)]


def phrase_lookups(codeframes: list[dict]) -> int:
    return sum(int(c["timings"].get("label_phrase_lookups", 0)) for c in codeframes)


def generate(client: Http, texts: list[str]):
    return lambda: generate_and_wait(client, {"responses": texts}, timeout=300)


def test_concurrent_generations_with_stats_stream(own_redis, gunicorn_server, settings):
    server_redis = own_redis()
    url = f"redis://127.0.0.1:{server_redis.port}/2"
    # One user queues all 20: above the default cap of queued generations per user.
    app = gunicorn_server(
        redis_url=url, workers=2, task_workers=2, CODEFRAME_MAX_QUEUED_GENERATIONS="100"
    )
    # A session, as a browser has: Basic auth would hash the password on every status poll.
    api = admin_login(Http(app.base_url))
    pool = answer_pool(600)
    sets = overlapping_sets(pool, count=GENERATIONS, size=ANSWERS_EACH)

    # Cold: 20 at once over overlapping sets, stats requested every 0.2 s meanwhile.
    with StatsStream(api, interval=0.2) as stats_stream:
        cold = run_bounded(
            [generate(api, texts) for texts in sets], concurrency=GENERATIONS, time_limit=420
        )
    assert [o.status for o in cold] == [201] * GENERATIONS, [o.error for o in cold if o.error]
    assert {o.status for o in stats_stream.outcomes} == {200}
    bodies = [o.reply.json() for o in cold]
    requested = sum(len(texts) for texts in sets)
    assert [b["cache_hits"] + b["cache_misses"] for b in bodies] == [ANSWERS_EACH] * GENERATIONS
    # The cache also served the label phrases each generation embedded (in its timings).
    looked_up = requested + phrase_lookups(bodies)
    stats = api.get("/api/embeddings/stats/").json()
    assert stats["lifetime"]["requests"] == looked_up
    assert stats["lifetime"]["misses"] >= sum(b["cache_misses"] for b in bodies)
    assert stats["lifetime"]["hits"] >= sum(b["cache_hits"] for b in bodies)
    assert stats["lifetime"]["hits"] + stats["lifetime"]["misses"] == looked_up
    # Each distinct text is computed at least once; overlapping requests may race for one.
    assert len(pool) <= stats["lifetime"]["misses"] < looked_up
    assert redis.Redis(host="127.0.0.1", port=server_redis.port, db=2).dbsize() >= len(pool)

    # Cached: one at a time (unloaded), then 20 at once with the stats stream.
    unloaded = [run_bounded([generate(api, sets[0])], concurrency=1, time_limit=120)[0]]
    unloaded += run_bounded([generate(api, sets[0])] * 2, concurrency=1, time_limit=240)
    with StatsStream(api, interval=0.2) as loaded_stream:
        loaded = run_bounded(
            [generate(api, texts) for texts in sets], concurrency=GENERATIONS, time_limit=420
        )
    assert [o.status for o in loaded] == [201] * GENERATIONS
    assert all(o.reply.json()["cache_hits"] == ANSWERS_EACH for o in loaded)
    assert {o.status for o in loaded_stream.outcomes} == {200}
    assert not [s for s in app.status_counts() if s >= 500], app.status_counts()
    stats = api.get("/api/embeddings/stats/").json()
    later = [o.reply.json() for o in unloaded + loaded]
    assert stats["lifetime"]["requests"] == (
        looked_up + requested + 3 * ANSWERS_EACH + phrase_lookups(later)
    )

    # No wrong vector: what the workers cached is what the model computes here.
    settings.CACHES = {**settings.CACHES, "embeddings": redis_cache_settings(url)}
    settings.EMBEDDINGS = {
        **settings.EMBEDDINGS,
        "BACKEND": "embeddings.backends.sentence_transformers.SentenceTransformerBackend",
    }
    cached = embed_texts_with_report(pool)
    assert cached.hits == len(pool) and cached.corrupt == 0
    model = get_backend()._loaded()
    direct = model.encode(pool, batch_size=64, convert_to_numpy=True, show_progress_bar=False)
    np.testing.assert_allclose(cached.vectors, direct, atol=1e-6, rtol=0)

    def view_seconds(outcomes):
        return [o.reply.json()["timings"]["total_seconds"] for o in outcomes]

    base_client = percentile([o.seconds for o in unloaded], 50)
    base_view = percentile(view_seconds(unloaded), 50)
    p95_client = percentile([o.seconds for o in loaded], 95)
    p95_view = percentile(view_seconds(loaded), 95)
    print(
        f"\nload: {GENERATIONS} x {ANSWERS_EACH} answers ({len(pool)} distinct), 2 workers; "
        f"cold {summary(cold)}; stats during cold {summary(stats_stream.outcomes)}; "
        f"stats during cached {summary(loaded_stream.outcomes)}\n"
        f"cached generation: unloaded median {base_client:.2f} s (view {base_view:.2f} s); "
        f"under load p95 {p95_client:.2f} s (x{p95_client / base_client:.1f}), "
        f"view {p95_view:.2f} s (x{p95_view / base_view:.1f})"
    )
