"""Cache statistics: shared counters, the admin page, the API, /metrics and the system checks,
against a real private Redis and through Django's test client."""

import io
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from embeddings import checks, keys
from embeddings.backends import get_backend
from embeddings.selectors import get_cache_stats
from embeddings.services import embed_texts, embed_texts_with_report, namespace_for
from tests.conftest import REAL_BACKEND, redis_cache_settings, subprocess_env

ROOT = Path(__file__).resolve().parents[2]
STATS_URL = "/api/embeddings/stats/"


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("staff", password="pw-staff-123", is_staff=True)


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", password="pw-root-123")


@pytest.fixture
def member(django_user_model):
    return django_user_model.objects.create_user("member", password="pw-member-123")


@pytest.fixture(autouse=True)
def _no_background_recount(settings):
    settings.EMBEDDINGS = {
        **settings.EMBEDDINGS,
        "STATS": {"AUTO_RECOUNT": False, "MIN_REQUESTS_FOR_HIT_RATE": 10},
    }


def _client(user=None, **kwargs) -> Client:
    client = Client(**kwargs)
    if user is not None:
        client.force_login(user)
    return client


def test_counters_are_shared_by_processes_and_add_up(redis_url, settings):
    settings.CACHES = {**settings.CACHES, "embeddings": redis_cache_settings(redis_url)}
    env = subprocess_env(
        EMBEDDINGS_REDIS_URL=redis_url, EMBEDDINGS_BACKEND="tests.fakes.CountingBackend"
    )
    script = (
        "import django, json, sys; django.setup(); "
        "from embeddings.services import embed_texts; embed_texts(json.loads(sys.argv[1]))"
    )
    first = [f"answer {i}" for i in range(10)]
    second = first + [f"new {i}" for i in range(5)] + ["answer 0"]
    for texts in (first, second):
        subprocess.run(
            [sys.executable, "-c", script, json.dumps(texts)],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=120,
        )
    stats = get_cache_stats()
    assert stats.reachable
    assert (stats.lifetime.requests, stats.lifetime.hits, stats.lifetime.misses) == (26, 11, 15)
    assert (stats.last_hour.requests, stats.last_hour.hits) == (26, 11)
    assert stats.lifetime.hit_rate == pytest.approx(11 / 26)
    assert [m.current for m in stats.models] == [True]
    assert stats.models[0].label == "counting-default"


def test_last_hour_leaves_out_older_buckets(redis_cache):
    client = redis.Redis.from_url(redis_cache)
    embed_texts(["a", "b"])
    fingerprint = namespace_for(get_backend()).split(":")[2]
    old_minute = int(time.time() // 60) - 90
    client.hset(keys.stats_key("emb", fingerprint, minute=old_minute), mapping={"requested": 100})
    client.hincrby(keys.stats_key("emb", fingerprint), "requested", 100)
    stats = get_cache_stats()
    assert stats.last_hour.requests == 2
    assert stats.lifetime.requests == 102
    assert 0 < client.ttl(keys.stats_key("emb", fingerprint, minute=int(time.time() // 60))) <= 3720


def test_counters_missed_during_an_outage_arrive_later(own_redis, settings):
    server = own_redis()
    url = f"redis://127.0.0.1:{server.port}/0"
    settings.CACHES = {**settings.CACHES, "embeddings": redis_cache_settings(url)}
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "BREAKER_BACKOFF": 0.1}
    server.stop()
    assert embed_texts_with_report(["x", "y", "z"]).misses == 3
    server.start()
    time.sleep(0.15)
    embed_texts(["x"])
    stats = get_cache_stats()
    assert stats.lifetime.requests == 4
    assert stats.lifetime.misses == 4  # three during the outage, "x" again after a cold restart
    assert stats.lifetime.errors >= 1


def test_low_hit_rate_and_embedded_default_stats(settings):
    embed_texts([f"t{i}" for i in range(20)])
    stats = get_cache_stats()
    assert stats.backend == "disk" and stats.reachable
    assert stats.entries_total >= 20
    assert [w.code for w in stats.warnings] == ["low_hit_rate"]
    embed_texts([f"t{i}" for i in range(20)] * 3)
    assert get_cache_stats().warnings == []


def test_api_permissions(redis_cache, staff, superuser, member):
    assert _client().get(STATS_URL).status_code in (401, 403)
    assert _client(member).get(STATS_URL).status_code == 403
    embed_texts(["one", "two", "one"])
    # Staff are not its operators: read before and after embedding one text, the counters
    # said whether someone else's texts hold it.
    assert _client(staff).get(STATS_URL).status_code == 403
    response = _client(superuser).get(STATS_URL)
    assert response.status_code == 200
    body = response.json()
    assert body["backend"] == "redis" and body["reachable"] is True
    assert body["lifetime"]["requests"] == 3 and body["lifetime"]["misses"] == 3
    snapshots = bool(redis.Redis.from_url(redis_cache).config_get("save")["save"])
    assert body["persistence"]["rdb_snapshots"] is snapshots
    assert ("no_persistence" in {w["code"] for w in body["warnings"]}) is not snapshots


def test_stats_of_a_hanging_redis_wait_for_it_once_until_the_breaker_probes(settings):
    """A Redis that accepts connections and never answers (a frozen process): every stats
    read (the admin page, the API, each /metrics scrape) waited out the socket timeout, as
    lookups no longer do once the breaker is open. A listener that never answers counts the
    connections made to it."""
    accepted = []
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def hold() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    settings.CACHES = {
        **settings.CACHES,
        "embeddings": redis_cache_settings(f"redis://127.0.0.1:{port}/0", SOCKET_TIMEOUT=0.2),
    }
    try:
        first = get_cache_stats()
        assert first.reachable is False and accepted
        tried = len(accepted)
        for _ in range(3):
            assert get_cache_stats().reachable is False
        assert len(accepted) == tried  # the breaker answered: no connection, no wait
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        listener.close()


def test_api_and_admin_answer_when_redis_is_down(own_redis, settings, superuser):
    server = own_redis()
    settings.CACHES = {
        **settings.CACHES,
        "embeddings": redis_cache_settings(f"redis://127.0.0.1:{server.port}/0"),
    }
    embed_texts(["before"])
    server.stop()
    response = _client(superuser).get(STATS_URL)
    assert response.status_code == 200
    body = response.json()
    assert body["reachable"] is False
    assert next(w["code"] for w in body["warnings"]) == "unreachable"
    page = _client(superuser).get(reverse("admin:embeddings_cachestatistics_changelist"))
    assert page.status_code == 200
    assert b"unreachable" in page.content


@pytest.mark.parametrize("humanize", [True, False], ids=["humanize", "no-humanize"])
def test_admin_page_shows_the_numbers(redis_cache, superuser, settings, humanize):
    """Also in a project without django.contrib.humanize (its `intcomma` made this page a
    500 there)."""
    if not humanize:
        settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if not a.endswith("humanize")]
    embed_texts([f"answer {i}" for i in range(1200)])
    embed_texts([f"answer {i}" for i in range(1200)])
    client = _client(superuser)
    index = client.get(reverse("admin:index"))
    assert b"Embedding cache" in index.content
    page = client.get(reverse("admin:embeddings_cachestatistics_changelist"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "50%" in html  # hit rate 1,200 of 2,400
    assert "2,400" in html  # lookups, humanised
    assert "counting-default" in html
    assert "Maintenance" in html  # the buttons


def test_admin_page_is_the_operators_only(member, staff):
    """Staff (in this project, of some clients' projects) read the hit and miss counters
    before and after embedding one text: whether someone else's texts hold it verbatim."""
    url = reverse("admin:embeddings_cachestatistics_changelist")
    response = _client(member).get(url)
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert _client(staff).get(url).status_code == 403
    assert b"Embedding cache" not in _client(staff).get(reverse("admin:index")).content


@pytest.mark.parametrize("action", ["reset", "flush"])
def test_maintenance_buttons_need_superuser_post_and_csrf(redis_cache, staff, superuser, action):
    client = redis.Redis.from_url(redis_cache)
    client.set("foreign:key", b"stays")
    embed_texts(["kept?", "gone?"])
    url = reverse(f"admin:embeddings_cachestatistics_{action}")
    assert _client(staff).get(url).status_code == 403
    assert _client(staff).post(url).status_code == 403

    csrf_client = _client(superuser, enforce_csrf_checks=True)
    confirm = csrf_client.get(url)
    assert confirm.status_code == 200 and b"Yes, I'm sure" in confirm.content
    assert csrf_client.post(url).status_code == 403  # no CSRF token
    vectors_before = len(list(client.scan_iter(match="emb:v1:*")))
    token = confirm.context["csrf_token"]
    done = csrf_client.post(url, {"csrfmiddlewaretoken": str(token)})
    assert done.status_code == 302
    stats = get_cache_stats()
    vectors_after = len(list(client.scan_iter(match="emb:v1:*")))
    if action == "reset":
        assert stats.lifetime.requests == 0 and vectors_after == vectors_before == 2
    else:
        assert vectors_after == 0 and stats.lifetime.requests == 2
    assert client.get("foreign:key") == b"stays"


def test_recount_fills_per_model_entries(redis_cache, superuser):
    embed_texts([f"e{i}" for i in range(30)])
    embed_texts(["other model"], model="m2")
    call_command("embeddings_stats", "--count", stdout=io.StringIO())
    stats = get_cache_stats()
    assert stats.entries_current_model == 30
    assert stats.entries_count_age_seconds is not None and stats.entries_count_age_seconds < 60
    assert sorted(m.entries for m in stats.models) == [1, 30]


@pytest.mark.parametrize("login_required", [False, True], ids=["", "LoginRequiredMiddleware"])
def test_metrics_access_and_content(
    redis_cache, settings, staff, superuser, member, login_required
):
    """Also in a project behind Django's LoginRequiredMiddleware, where a scraper's token and
    the API's were sent to the login page: both views authenticate themselves."""
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "METRICS_TOKEN": "s3cret-token"}
    if login_required:
        settings.MIDDLEWARE = [
            *settings.MIDDLEWARE,
            "django.contrib.auth.middleware.LoginRequiredMiddleware",
        ]
        assert _client().get(STATS_URL).status_code in (401, 403)  # DRF's answer, no redirect
    embed_texts(["m1", "m2"])
    embed_texts(["m1"])
    assert _client().get("/metrics").status_code == 401
    assert _client(member).get("/metrics").status_code == 403
    assert _client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    by_token = _client().get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert _client(staff).get("/metrics").status_code == 403
    by_staff = _client(superuser).get("/metrics")
    for response in (by_token, by_staff):
        assert response.status_code == 200
        text = response.content.decode()
        assert 'embeddings_cache_hits_total{fingerprint="' in text
        assert "embeddings_cache_up 1.0" in text
    lines = dict(
        line.rsplit(" ", 1)
        for line in by_staff.content.decode().splitlines()
        if line.startswith("embeddings_cache_misses_total")
    )
    assert list(lines.values()) == ["2.0"]


def test_stats_command_table_json_and_exit_code(redis_cache, own_redis, settings, capsys):
    embed_texts(["c1"])
    call_command("embeddings_stats")
    out = capsys.readouterr().out
    assert "hit rate, lifetime" in out and "redis" in out
    call_command("embeddings_stats", "--json")
    assert json.loads(capsys.readouterr().out)["lifetime"]["requests"] == 1
    call_command("embeddings_stats", "--reset")
    assert get_cache_stats().lifetime.requests == 0
    server = own_redis()
    settings.CACHES = {
        **settings.CACHES,
        "embeddings": redis_cache_settings(f"redis://127.0.0.1:{server.port}/0"),
    }
    server.stop()
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="unreachable"):
        call_command("embeddings_stats")


def test_openapi_schema_documents_the_endpoint(staff):
    response = _client(staff).get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert STATS_URL in schema["paths"]
    assert "CacheStats" in schema["components"]["schemas"]


# --- system checks -----------------------------------------------------------------------


def _ids(results) -> set[str]:
    return {r.id for r in results}


def test_check_alias_missing_and_backend_not_importable(settings):
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "CACHE_ALIAS": "nope"}
    assert "embeddings.E001" in _ids(checks.check_cache_alias())
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "CACHE_ALIAS": "embeddings"}
    settings.CACHES = {**settings.CACHES, "embeddings": {"BACKEND": "no.such.Backend"}}
    assert "embeddings.E002" in _ids(checks.check_cache_alias())
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "BACKEND": "no.such.Encoder"}
    assert "embeddings.E003" in _ids(checks.check_cache_alias())


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEVICE", "gpu"),  # failed on the first miss, in torch
        ("BATCH_SIZE", 0),
        ("BATCH_SIZE", "64"),
        ("NORMALIZE", "no"),  # a true string: it normalised
        ("COALESCE_MAX_WAIT", -1),
        ("KEY_PREFIX", ""),
        ("MODEL", ""),  # read as the working directory
        ("TEXT_SOURCE", "no.such.source"),
        ("STATS_SECTIONS", ["no.such.section"]),
    ],
)
def test_check_refuses_embeddings_values_of_the_wrong_kind(settings, name, value):
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, name: value}
    found = [r for r in checks.check_cache_alias() if r.id == "embeddings.E008"]
    assert len(found) == 1 and f"EMBEDDINGS['{name}']" in found[0].msg


@pytest.mark.parametrize(
    ("name", "value"),
    [("DEVICE", "cuda:1"), ("DEVICE", ""), ("DEVICE", None), ("DEVICE", "npu"),
     ("BATCH_SIZE", 32.0), ("BATCH_SIZE", None), ("COALESCE_MAX_WAIT", 0.5)],
)  # fmt: skip
def test_check_takes_embeddings_values_the_code_reads(settings, name, value):
    """What the code reads as it is (`int(value or 64)`, `DEVICE or "cpu"`) is no error."""
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, name: value}
    assert not [r for r in checks.check_cache_alias() if r.id == "embeddings.E008"]


def test_the_stats_api_imports_without_drf_spectacular(tmp_path):
    """A host project with DRF but not drf-spectacular: the app's API imported it always."""
    script = (
        "import sys; sys.modules['drf_spectacular'] = None\n"
        "from django.conf import settings\n"
        "settings.configure(INSTALLED_APPS=['django.contrib.contenttypes', "
        "'django.contrib.auth', 'rest_framework', 'embeddings'], CACHES={'default': "
        "{'BACKEND': 'django.core.cache.backends.locmem.LocMemCache'}, 'embeddings': "
        "{'BACKEND': 'diskcache.DjangoCache', 'LOCATION': sys.argv[1], 'TIMEOUT': None}})\n"
        "import django; django.setup()\n"
        "from embeddings import urls\n"
        "print(urls.urlpatterns[0].name)\n"
    )
    env = {k: v for k, v in subprocess_env().items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "cache")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == "stats", done.stderr


def test_a_model_not_found_is_a_check_error_and_the_stats_still_answer(settings, superuser):
    """A MODEL that names no model here passed `check`; then the admin page, the API and
    /metrics were 500s (the stats read the model's fingerprint first)."""
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "BACKEND": REAL_BACKEND, "MODEL": "no/such"}
    found = [r for r in checks.check_cache_alias() if r.id == "embeddings.E007"]
    assert len(found) == 1 and "no/such" in found[0].msg
    for url in (STATS_URL, reverse("admin:embeddings_cachestatistics_changelist"), "/metrics"):
        assert _client(superuser).get(url).status_code == 200, url
    assert _client(superuser).get(STATS_URL).json()["warnings"][0]["code"] == "model_unavailable"
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "MODEL": None}  # the bundled one: fine
    assert not [r for r in checks.check_cache_alias() if r.id == "embeddings.E007"]


def test_check_shared_database_and_pickle_serializer(settings, redis_url):
    safe = redis_cache_settings(
        redis_url, SERIALIZER="django_redis.serializers.json.JSONSerializer"
    )
    settings.CACHES = {**settings.CACHES, "embeddings": safe}
    assert _ids(checks.check_store_settings()) == set()
    settings.CACHES = {**settings.CACHES, "sessions": redis_cache_settings(redis_url)}
    assert _ids(checks.check_store_settings()) == {"embeddings.W001"}
    pickled = redis_cache_settings(
        redis_url, SERIALIZER="django_redis.serializers.pickle.PickleSerializer"
    )
    settings.CACHES = {"default": settings.CACHES["default"], "embeddings": pickled}
    assert _ids(checks.check_store_settings()) == {"embeddings.W002"}
    del pickled["OPTIONS"]["SERIALIZER"]  # django-redis' default is pickle too
    assert _ids(checks.check_store_settings()) == {"embeddings.W002"}
    # No socket timeouts: redis-py waits for a hung Redis for ever.
    del safe["OPTIONS"]["SOCKET_TIMEOUT"]
    settings.CACHES = {"default": settings.CACHES["default"], "embeddings": safe}
    found = checks.check_store_settings()
    assert _ids(found) == {"embeddings.W006"} and "SOCKET_TIMEOUT" in found[0].msg
    safe["OPTIONS"]["SOCKET_TIMEOUT"] = None  # set, to no timeout
    assert _ids(checks.check_store_settings()) == {"embeddings.W006"}
    # ... but given as the pool's keyword or in the URL, as django-redis passes them on.
    del safe["OPTIONS"]["SOCKET_TIMEOUT"]
    safe["OPTIONS"]["CONNECTION_POOL_KWARGS"] = {"socket_timeout": 0.5}
    assert _ids(checks.check_store_settings()) == set()
    del safe["OPTIONS"]["CONNECTION_POOL_KWARGS"]
    safe["LOCATION"] = f"{redis_url}?socket_timeout=0.5"
    assert _ids(checks.check_store_settings()) == set()


def test_check_store_server_persistence_noeviction_unreachable(settings, own_redis, tmp_path):
    server = own_redis(appendonly="yes", datadir=tmp_path)
    url = f"redis://127.0.0.1:{server.port}/0"
    settings.CACHES = {**settings.CACHES, "embeddings": redis_cache_settings(url)}
    assert _ids(checks.check_store_server()) == set()
    client = redis.Redis.from_url(url)
    client.config_set("appendonly", "no")
    client.config_set("save", "")
    assert _ids(checks.check_store_server()) == {"embeddings.W004"}
    client.config_set("maxmemory", "10mb")
    client.config_set("maxmemory-policy", "noeviction")
    assert _ids(checks.check_store_server()) == {"embeddings.W004", "embeddings.W005"}
    server.stop()
    assert _ids(checks.check_store_server()) == {"embeddings.W003"}


def test_entry_count_follows_a_changing_store(redis_cache, settings):
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "STATS": {"AUTO_RECOUNT": True}}
    from embeddings.maintenance import refresh_entry_counts

    embed_texts(["first"])
    refresh_entry_counts()
    assert get_cache_stats().entries_current_model == 1
    embed_texts([f"more {i}" for i in range(9)])
    stale = get_cache_stats()  # the store changed, but the count is younger than 5 s
    assert stale.entries_current_model == 1

    # Five seconds later the next look at the stats recounts in the background.
    from embeddings import keys as keyspace
    from embeddings.stores import get_store

    key = keyspace.entry_counts_key("emb")
    payload = json.loads(get_store().get_bytes(key))
    payload["counted_at"] -= 6
    get_store().set_bytes(key, json.dumps(payload).encode(), ttl=None)
    get_cache_stats()
    deadline = time.time() + 5
    while get_cache_stats().entries_current_model != 10 and time.time() < deadline:
        time.sleep(0.05)
    assert get_cache_stats().entries_current_model == 10


def test_the_stats_command_counts_in_the_foreground_and_a_flush_recounts(redis_cache, settings):
    """embeddings_stats started the recount in a daemon thread and exited before it ran,
    holding the claim: for 30 s nobody could recount, and a cron job running it more often
    kept the count stale for good. A flush left the per-model count at what it deleted."""
    from django.core.management import call_command

    from embeddings import keys as keyspace
    from embeddings.stores import get_store

    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "STATS": {"AUTO_RECOUNT": True}}
    embed_texts([f"answer {i}" for i in range(7)])
    out = io.StringIO()
    call_command("embeddings_stats", "--json", stdout=out)
    assert json.loads(out.getvalue())["entries_current_model"] == 7  # counted, then shown
    claim = keyspace.recount_claim_key("emb")
    assert get_store().get_bytes(claim) is None  # released: the next look may recount
    call_command("embeddings_flush", "--noinput", stdout=io.StringIO())
    assert get_cache_stats(wait_for_recount=True).entries_current_model == 0


def test_only_one_process_recounts_at_a_time(redis_cache, settings):
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "STATS": {"AUTO_RECOUNT": True}}
    client = redis.Redis.from_url(redis_cache)
    client.set(keys.recount_claim_key("emb"), b"1", ex=60)  # another worker is counting
    embed_texts(["a", "b"])
    get_cache_stats()
    time.sleep(0.5)
    assert get_cache_stats().entries_current_model is None  # nobody here counted
    client.delete(keys.recount_claim_key("emb"))
    get_cache_stats()
    deadline = time.time() + 5
    while get_cache_stats().entries_current_model != 2 and time.time() < deadline:
        time.sleep(0.05)
    assert get_cache_stats().entries_current_model == 2
    assert not client.exists(keys.recount_claim_key("emb"))  # released after the count


def test_a_failed_claim_release_does_not_stop_recounting_for_good(redis_cache, settings):
    """A background count whose claim cannot be released (here: the store's connection is gone
    with an error that is not a CacheError) still frees this process for the next count; the
    claim expires by itself. It used to keep the process's lock forever."""
    import threading

    from embeddings import recount
    from embeddings.stores import get_store

    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "STATS": {"AUTO_RECOUNT": True}}
    embed_texts(["a", "b"])
    store_class = type(get_store())
    released = store_class.release_many

    def connection_gone(self, keys, *, token):
        raise RuntimeError("connection gone")

    store_class.release_many = connection_gone
    try:
        get_cache_stats()  # no count yet: starts one in the background
        for thread in threading.enumerate():
            if thread.name == "embeddings-recount":
                thread.join(timeout=10)
    finally:
        store_class.release_many = released
    assert get_cache_stats().entries_current_model == 2  # it counted
    assert recount._recount_lock.acquire(blocking=False)  # and let go of the lock
    recount._recount_lock.release()


def test_a_full_noeviction_redis_is_reported_full_after_usage_dips(redis_cache):
    """Under noeviction nothing is evicted, and once refused writes' buffers are freed (or keys
    deleted) usage can sit under the 90% mark: the OOM refusals Redis counts still say it is
    full."""
    client = redis.Redis.from_url(redis_cache)
    client.config_resetstat()
    limit = int(client.info("memory")["used_memory"]) + 1_000_000
    client.config_set("maxmemory", limit)
    client.config_set("maxmemory-policy", "noeviction")
    try:
        for batch in range(5):
            embed_texts_with_report([f"{batch}-{i}" * 40 for i in range(2000)])
        refused = client.info("errorstats")["errorstat_OOM"]["count"]
        assert refused > 0
        client.flushdb()  # usage far under the mark now
        assert client.info("memory")["used_memory"] < 0.9 * limit
        warnings = {w.code: w.message for w in get_cache_stats().warnings}
        assert "near_maxmemory" in warnings
        assert f"refused {refused:,} commands (OOM)" in warnings["near_maxmemory"]
    finally:
        client.config_set("maxmemory", "0")
        client.config_set("maxmemory-policy", "noeviction")
        client.config_resetstat()
