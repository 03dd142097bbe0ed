"""Fault proof: Redis stopped, restarted, killed, full or frozen, and app workers killed while
they generate. Nothing lost that was acknowledged, nothing wrong, nothing hung.

The gunicorn tests use the fast stand-in encoder (what is measured is the plumbing); the
values are checked against the same encoder in this process.
"""

import os
import signal
import threading
import time

import numpy as np
import pytest
import redis

from embeddings.breaker import CircuitBreaker
from embeddings.checks import check_store_server
from embeddings.selectors import get_cache_stats
from embeddings.services import embed_texts_with_report
from tests.conftest import FAKE_BACKEND, redis_cache_settings
from tests.fakes import CountingBackend
from tests.proof.live import ADMIN_PASSWORD, ADMIN_USER, Http, admin_login, generate
from tests.proof.traffic import percentile, timed

pytestmark = [pytest.mark.proof, pytest.mark.faults]


def answers(prefix: str, count: int) -> list[str]:
    topics = ["fees", "app crash", "support wait", "transfer delay", "card declined", "branch"]
    return [f"{prefix} {topics[i % len(topics)]} complaint number {i}" for i in range(count)]


def expected_vectors(texts: list[str]) -> np.ndarray:
    return CountingBackend(model=None, config={}).encode(texts)


def use_redis(settings, url: str, **options) -> None:
    settings.CACHES = {**settings.CACHES, "embeddings": redis_cache_settings(url, **options)}


# --- Redis stopped and restarted under load -------------------------------------------------


def test_redis_stopped_during_load_then_restarted(own_redis, gunicorn_server):
    server_redis = own_redis()
    url = f"redis://127.0.0.1:{server_redis.port}/2"
    app = gunicorn_server(redis_url=url, workers=2, EMBEDDINGS_BACKEND=FAKE_BACKEND)
    api = Http(app.base_url, auth=(ADMIN_USER, ADMIN_PASSWORD))
    page = admin_login(Http(app.base_url))
    assert generate(api, {"responses": answers("warm", 40)}).status == 201

    outcomes, phases = [], {}
    stop = threading.Event()

    def traffic() -> None:
        round_ = 0
        while not stop.is_set() and round_ < 400:
            texts = answers(f"r{round_ % 7}", 30)  # overlapping sets: hits and misses
            outcomes.append(timed(lambda t=texts: generate(api, {"responses": t})))
            outcomes.append(timed(lambda: api.get("/api/embeddings/stats/")))
            round_ += 1

    threads = [threading.Thread(target=traffic) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.5)
        phases["stopped"] = time.monotonic()
        server_redis.stop()
        # The warning shows on the stats page while Redis is down.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            html = page.get("/admin/embeddings/cachestatistics/").body
            if b'data-code="unreachable"' in html:
                break
            time.sleep(0.2)
        assert b'data-code="unreachable"' in html
        api_stats = api.get("/api/embeddings/stats/").json()
        assert not api_stats["reachable"]
        time.sleep(2.0)
        phases["restarted"] = time.monotonic()
        server_redis.start()  # same port, same URL: Django is not restarted
        fresh = answers("after-restart", 25)
        recovered = None
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            reply = generate(api, {"responses": fresh})
            assert reply.status == 201
            if reply.json()["cache_hits"] == len(fresh):
                recovered = time.monotonic()
                break
            time.sleep(0.25)
        assert recovered is not None, "the cache was not used again within 40 s"
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)

    during = [o for o in outcomes if phases["stopped"] <= o.started < phases["restarted"]]
    before = [o for o in outcomes if o.started < phases["stopped"]]
    statuses = [o.status for o in outcomes]
    assert all(o.error is None for o in outcomes), [o.error for o in outcomes if o.error][:3]
    assert all(s < 500 for s in statuses) and set(statuses) <= {200, 201}
    assert not [s for s in app.status_counts() if s >= 500], app.status_counts()
    assert during, "no request ran while Redis was down"
    assert redis.Redis(host="127.0.0.1", port=server_redis.port, db=2).dbsize() > 0
    print(
        f"\nRedis stopped under load: {len(outcomes)} requests, 0 errors, 0 5xx; "
        f"p95 before {percentile([o.seconds for o in before], 95):.3f} s, "
        f"while down {percentile([o.seconds for o in during], 95):.3f} s; "
        f"cache used again {recovered - phases['restarted']:.1f} s after the restart"
    )


# --- Persistence ----------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["restart", "kill -9"])
def test_aof_keeps_entries_across_restart_and_kill(own_redis, settings, tmp_path, how):
    datadir = tmp_path / "redis-aof"
    datadir.mkdir()
    first = own_redis(datadir=datadir, appendonly="yes")
    use_redis(settings, f"redis://127.0.0.1:{first.port}/2")
    texts = answers("durable", 300)
    written = embed_texts_with_report(texts)
    assert written.misses == 300 and written.cache_available
    time.sleep(1.5)  # appendfsync everysec: what was written more than a second ago is on disk
    if how == "restart":
        first.stop()
    else:
        first.kill(sig=signal.SIGKILL)
    second = own_redis(datadir=datadir, port=first.port, appendonly="yes")
    assert second.port == first.port
    survived = embed_texts_with_report(texts)
    assert survived.hits == 300 and survived.corrupt == 0
    assert np.array_equal(survived.vectors, written.vectors)


# --- App workers killed mid-generation -------------------------------------------------------


def codeframe_shape(db, codeframe_id: int) -> tuple:
    sizes = db.query(
        f"SELECT number, size FROM codeframe_code WHERE codeframe_id = {codeframe_id} "
        "ORDER BY number"
    )
    assignments = db.scalar(
        f"SELECT COUNT(*) FROM codeframe_assignment WHERE codeframe_id = {codeframe_id}"
    )
    primaries = db.scalar(
        "SELECT COUNT(*) FROM codeframe_assignment "
        f"WHERE codeframe_id = {codeframe_id} AND is_primary"
    )
    return tuple(sizes), assignments, primaries


def test_web_workers_killed_mid_request_leave_no_half_import_or_codeframe(
    own_redis, gunicorn_server, settings
):
    """gunicorn workers killed while they import answers and queue the job: no half-imported
    question, no orphan job, and every codeframe the task worker stores is whole."""
    server_redis = own_redis()
    url = f"redis://127.0.0.1:{server_redis.port}/2"
    app = gunicorn_server(redis_url=url, workers=2, EMBEDDINGS_BACKEND=FAKE_BACKEND)
    api = Http(app.base_url, auth=(ADMIN_USER, ADMIN_PASSWORD))
    texts = answers("killed", 2500)
    reference = generate(api, {"responses": texts})
    assert reference.status == 201
    want = codeframe_shape(app.database, reference.json()["id"])
    # The attempts below are timed by the request alone (import and queue; the worker
    # generates afterwards).
    timing = timed(lambda: api.post_json("/api/codeframes/", {"responses": texts}))
    assert timing.status == 202
    duration = timing.seconds

    kills = 0
    interrupted = 0
    for attempt in range(8):
        app.wait_for_workers(2)
        holder: list = []
        request = threading.Thread(
            target=lambda: holder.append(
                timed(lambda: api.post_json("/api/codeframes/", {"responses": texts}))
            )
        )
        request.start()
        time.sleep(duration * (0.15 + 0.12 * attempt))  # from parsing to the last INSERTs
        for pid in app.wait_for_workers(2):
            os.kill(pid, signal.SIGKILL)
            kills += 1
        request.join(timeout=120)
        interrupted += holder[0].status is None
    app.wait_for_workers(2)
    assert interrupted >= 3, "the kills landed after every request: no proof"

    db = app.database
    deadline = time.monotonic() + 180
    while db.scalar(
        "SELECT COUNT(*) FROM codeframe_generationjob WHERE state IN ('queued', 'running')"
    ):
        assert time.monotonic() < deadline, app.tasks.log()
        time.sleep(0.5)
    assert db.scalar("SELECT COUNT(*) FROM codeframe_generationjob WHERE state <> 'done'") == 0, (
        db.query("SELECT state, error FROM codeframe_generationjob")
    )
    ids = [row[0] for row in db.query("SELECT id FROM codeframe_codeframe ORDER BY id")]
    for codeframe_id in ids:
        assert codeframe_shape(db, codeframe_id) == want, f"codeframe {codeframe_id} differs"
    counts = db.query(
        "SELECT q.id, COUNT(r.id) FROM codeframe_question q "
        "LEFT JOIN codeframe_response r ON r.question_id = q.id GROUP BY q.id"
    )
    assert all(n == len(texts) for _, n in counts), "a half-imported question"
    assert len(ids) == len(counts), "a question imported without its job"

    # The cache: every vector that was written is whole and right.
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "BACKEND": FAKE_BACKEND}
    use_redis(settings, url)
    report = embed_texts_with_report(texts)
    assert report.corrupt == 0 and report.hits == len(texts)
    assert np.array_equal(report.vectors, expected_vectors(texts))
    # And the server still answers.
    assert generate(api, {"responses": texts[:50]}).status == 201
    print(
        f"\nkill -9: {kills} web workers killed over 8 requests of {len(texts)} answers "
        f"({interrupted} interrupted, {len(ids)} codeframes stored, all whole); "
        f"0 corrupt vectors"
    )


# --- Redis full -----------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["allkeys-lru", "noeviction"])
def test_redis_full(own_redis, settings, policy):
    server = own_redis()
    admin = redis.Redis(host="127.0.0.1", port=server.port)
    use_redis(settings, f"redis://127.0.0.1:{server.port}/2")
    baseline = int(admin.info("memory")["used_memory"])
    admin.config_set("maxmemory", baseline + 1_500_000)
    admin.config_set("maxmemory-policy", policy)

    texts = answers("full", 12_000)  # about 280 bytes a key: twice the room
    for start in range(0, len(texts), 1000):
        report = embed_texts_with_report(texts[start : start + 1000])
        assert np.array_equal(report.vectors, expected_vectors(texts[start : start + 1000]))
        assert report.cache_available
    # LRU keeps the newest; noeviction keeps the oldest and refuses the rest.
    recent = texts[-2000:] if policy == "allkeys-lru" else texts[:1000]
    again = embed_texts_with_report(recent)
    assert np.array_equal(again.vectors, expected_vectors(recent))
    assert again.corrupt == 0 and again.hits > 0
    everything = embed_texts_with_report(texts)
    assert np.array_equal(everything.vectors, expected_vectors(texts))
    assert 0 < everything.hits < len(texts)

    stats = get_cache_stats()
    codes = {w.code for w in stats.warnings}
    assert stats.reachable
    assert "near_maxmemory" in codes
    if policy == "noeviction":
        assert "noeviction" in codes and "errors" in codes
        assert stats.lifetime.errors > 0
        assert "embeddings.W005" in [w.id for w in check_store_server()]
    else:
        assert admin.info("stats")["evicted_keys"] > 0
        assert stats.lifetime.errors == 0
    print(
        f"\n{policy}: {again.hits} of {len(recent)} probed still cached, "
        f"{everything.hits} of {len(texts)}; warnings {sorted(codes)}"
    )


# --- A frozen Redis -------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["SIGSTOP", "CLIENT PAUSE"])
def test_frozen_redis_costs_one_timeout_then_the_breaker(own_redis, settings, how):
    server = own_redis()
    use_redis(settings, f"redis://127.0.0.1:{server.port}/2")
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "BREAKER_BACKOFF": 1.5}
    texts = answers("frozen", 50)
    assert embed_texts_with_report(texts).misses == 50
    pid = server.process.pid
    if how == "SIGSTOP":
        os.kill(pid, signal.SIGSTOP)
    else:
        redis.Redis(host="127.0.0.1", port=server.port).execute_command(
            "CLIENT", "PAUSE", "6000", "ALL"
        )
    try:
        started = time.monotonic()
        first = embed_texts_with_report(texts)
        first_seconds = time.monotonic() - started
        started = time.monotonic()
        second = embed_texts_with_report(texts)
        second_seconds = time.monotonic() - started
        started = time.monotonic()
        stats = get_cache_stats()
        stats_seconds = time.monotonic() - started
    finally:
        if how == "SIGSTOP":
            os.kill(pid, signal.SIGCONT)
    # SOCKET_TIMEOUT is 0.5 s: one timeout, then the breaker skips Redis.
    assert not first.cache_available and first_seconds < 1.5
    assert not second.cache_available and second_seconds < 0.3
    assert np.array_equal(first.vectors, expected_vectors(texts))
    assert not stats.reachable and stats_seconds < 1.5
    if how == "CLIENT PAUSE":
        time.sleep(6.2)
    time.sleep(1.6)  # the back-off
    assert embed_texts_with_report(texts).hits == 50
    print(
        f"\n{how}: first call {first_seconds:.2f} s (timeout 0.5 s), "
        f"next {second_seconds * 1000:.0f} ms (breaker open), stats {stats_seconds:.2f} s"
    )


def test_a_redis_back_after_any_outage_is_used_within_seconds():
    """With the default back-off, whatever the outage's length, the first probe after Redis
    is back comes at most BREAKER_MAX_BACKOFF (10 s) later: probes are made by calls arriving
    every 0.1 s, each failure doubling the back-off."""
    from embeddings.conf import DEFAULTS

    worst = 0.0
    for outage in (1, 4.9, 5.1, 30, 45, 100, 600, 3600):
        now = [0.0]
        breaker = CircuitBreaker(
            name="t",
            backoff=DEFAULTS["BREAKER_BACKOFF"],
            max_backoff=DEFAULTS["BREAKER_MAX_BACKOFF"],
            clock=lambda now=now: now[0],
        )
        while True:
            if breaker.allow():
                if now[0] >= outage:
                    break
                breaker.record_failure(ConnectionError("refused"))
            now[0] = round(now[0] + 0.1, 1)
        worst = max(worst, now[0] - outage)
    assert worst <= DEFAULTS["BREAKER_MAX_BACKOFF"] + 0.1
