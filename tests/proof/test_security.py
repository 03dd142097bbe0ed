"""Security proof: who may reach which route, CSRF on every POST, Redis authentication, values
planted under our keys, hostile API bodies and uploads, and the production settings.

The route matrix walks Django's URL resolver, so a route added without an expectation here
fails `test_every_route_is_in_the_matrix`.
"""

import csv
import io
import json
import os
import pickle
import secrets
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import redis
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django_tasks_db.models import DBTaskResult
from rest_framework.test import APIClient

from codeframe import services
from codeframe.models import Code, Codeframe, GenerationJob, Question
from embeddings import codec, keys
from embeddings.backends import get_backend
from embeddings.selectors import get_cache_stats
from embeddings.services import embed_texts_with_report, namespace_for
from tests.codeframe.conftest import make_question
from tests.conftest import FAKE_BACKEND, redis_cache_settings, subprocess_env
from tests.proof.live import ADMIN_PASSWORD, ADMIN_USER, ROOT, Http, generate

pytestmark = [pytest.mark.proof, pytest.mark.django_db]

# --- Who may reach what ---------------------------------------------------------------------

ROLES = ("anonymous", "member", "staff", "superuser")
LOGIN = "login"  # a redirect to the admin login page


@pytest.fixture
def world(django_user_model):
    """A question with a codeframe, and one user per role (staff has no model permissions)."""
    users = {
        "member": django_user_model.objects.create_user("member", password="pw-member-1"),
        "staff": django_user_model.objects.create_user(
            "staff", password="pw-staff-1", is_staff=True
        ),
        "superuser": django_user_model.objects.create_superuser("root", password="pw-root-1"),
    }
    Group.objects.create(name="analysts")
    question = make_question()
    codeframe = services.create_codeframe(question=question, n_codes=3)
    code = codeframe.codes.order_by("number").first()
    response = question.responses.first()
    job = GenerationJob.objects.create(question=question, total=question.responses.count())
    task = DBTaskResult.objects.create(
        task_path="codeframe.tasks.check_job",
        args_kwargs={"args": [str(job.pk)], "kwargs": {}},
        backend_name="default",
        queue_name="default",
    )
    return {"users": users, "question": question, "codeframe": codeframe, "code": code,
            "response": response, "job": job, "task": task}  # fmt: skip


def walk_routes(resolver=None, prefix="") -> list[str]:
    resolver = resolver or get_resolver()
    routes = []
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            routes += walk_routes(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            routes.append(prefix + str(pattern.pattern))
    return routes


def concrete(route: str, world) -> str:
    """A URL for the route pattern, with the ids of real objects."""
    cf, code = world["codeframe"], world["code"]
    model_ids = {
        "auth/group": str(Group.objects.get().pk),
        "auth/user": str(world["users"]["member"].pk),
        "embeddings/cachestatistics": "1",
        "codeframe/question": str(world["question"].pk),
        "codeframe/response": str(world["response"].pk),
        "codeframe/codeframe": str(cf.pk),
        "codeframe/net": str(code.net_id),
        "codeframe/code": str(code.pk),
        "codeframe/assignment": str(cf.assignments.first().pk),
        "codeframe/generationjob": str(world["job"].pk),
        "django_tasks_database/dbtaskresult": str(world["task"].pk),
    }
    url = route
    for model, pk in model_ids.items():
        if url.startswith(f"admin/{model}/"):
            url = url.replace("<path:object_id>", pk).replace("<id>", pk)
    replacements = {
        "^(?P<app_label>auth|django_tasks_database|embeddings|codeframe)/$": "codeframe/",
        "(?P<url>.*)$": "no-such-page/",
        "<path:content_type_id>/<path:object_id>": "1/1",
        "<int:question_id>": str(world["question"].pk),
        "<int:codeframe_id>": str(cf.pk),
        "<int:code_id>": str(code.pk),
        "<int:response_id>": str(world["response"].pk),
        "<str:fmt>": "csv",
        "<int:pk>": str(cf.pk),
        "<uuid:pk>": str(world["job"].pk),
        "<uuid:job_id>": str(world["job"].pk),
    }
    for placeholder, value in replacements.items():
        url = url.replace(placeholder, value)
    assert "<" not in url and "(?" not in url, f"no concrete URL for {route}"
    return "/" + url


PUBLIC = 200
ADMIN_MODEL_ROUTE = "admin model route"

# What each role gets on GET. LOGIN: redirect to the admin login. `None` for the superuser: any
# non-5xx answer (it may do everything; the assertion is about the others).
EXPECTED_GET = {
    "admin/": (LOGIN, LOGIN, 200, 200),
    "admin/login/": (200, 200, 302, 302),  # a logged-in staff user is sent on to the index
    "admin/logout/": (302, 302, 405, 405),  # POST only since Django 5
    "admin/password_change/": (LOGIN, LOGIN, 200, 200),
    "admin/password_change/done/": (LOGIN, LOGIN, 200, 200),
    "admin/autocomplete/": (LOGIN, LOGIN, 403, 403),  # without its query parameters
    "admin/jsi18n/": (LOGIN, LOGIN, 200, 200),
    "admin/r/<path:content_type_id>/<path:object_id>/": (LOGIN, LOGIN, 404, 404),
    "admin/^(?P<app_label>auth|django_tasks_database|embeddings|codeframe)/$": (
        LOGIN,
        LOGIN,
        404,
        200,
    ),
    "admin/(?P<url>.*)$": (LOGIN, LOGIN, 404, 404),
    "admin/embeddings/cachestatistics/": (LOGIN, LOGIN, 200, 200),
    "admin/embeddings/cachestatistics/reset/": (LOGIN, LOGIN, 403, 200),
    "admin/embeddings/cachestatistics/flush/": (LOGIN, LOGIN, 403, 200),
    "admin/embeddings/cachestatistics/recount/": (LOGIN, LOGIN, 403, 200),
    "api/embeddings/stats/": (403, 403, 200, 200),
    "metrics": (401, 403, 200, 200),
    "api/codeframes/": (403, 405, 405, 405),  # POST only
    "api/codeframes/<int:pk>/": (403, 200, 200, 200),  # any authenticated user (README)
    "api/jobs/<uuid:pk>/": (403, 200, 200, 200),
    "api/jobs/<uuid:pk>/cancel/": (403, 405, 405, 405),  # POST only
    "api/schema/": (PUBLIC, 200, 200, 200),  # drf-spectacular's default: a public schema
    "api/docs/": (PUBLIC, 200, 200, 200),
    "": (302, 302, 302, 302),  # to /questions/, which is staff only
    "questions/": (LOGIN, LOGIN, 200, 200),
    "questions/import/": (LOGIN, LOGIN, 200, 200),
    "questions/<int:question_id>/": (LOGIN, LOGIN, 200, 200),
    "questions/<int:question_id>/import/": (LOGIN, LOGIN, 200, 200),
    "questions/<int:question_id>/generate/": (405, 405, 405, 405),
    "jobs/<uuid:job_id>/": (LOGIN, LOGIN, 200, 200),
    "jobs/<uuid:job_id>/cancel/": (405, 405, 405, 405),
    "jobs/<uuid:job_id>/retry/": (405, 405, 405, 405),
    "codeframes/<int:codeframe_id>/": (LOGIN, LOGIN, 200, 200),
    "codeframes/<int:codeframe_id>/export.<str:fmt>": (LOGIN, LOGIN, 200, 200),
    "codeframes/<int:codeframe_id>/codes/<int:code_id>/": (LOGIN, LOGIN, 200, 200),
    "codeframes/<int:codeframe_id>/codes/<int:code_id>/rename/": (405, 405, 405, 405),
    "codeframes/<int:codeframe_id>/codes/<int:code_id>/merge/": (405, 405, 405, 405),
    "codeframes/<int:codeframe_id>/codes/<int:code_id>/delete/": (405, 405, 405, 405),
    "codeframes/<int:codeframe_id>/responses/<int:response_id>/move/": (405, 405, 405, 405),
}


def expected_get(route: str) -> tuple:
    if route in EXPECTED_GET:
        return EXPECTED_GET[route]
    if route.endswith("/<path:object_id>/"):
        return (LOGIN, LOGIN, 302, 302)  # a redirect to the object's change page
    if route.startswith(
        ("admin/auth/", "admin/codeframe/", "admin/embeddings/", "admin/django_tasks_database/")
    ):
        # The model admins: staff without model permissions is refused; superusers may.
        return (LOGIN, LOGIN, 403, None)
    raise KeyError(route)


def client_for(role: str, world, **kwargs) -> Client:
    client = Client(raise_request_exception=False, **kwargs)
    if role != "anonymous":
        client.force_login(world["users"][role])
    return client


def outcome(response) -> object:
    if response.status_code == 302 and "/admin/login/" in response.get("Location", ""):
        return LOGIN
    return response.status_code


def test_every_route_is_in_the_matrix():
    missing = []
    for route in walk_routes():
        try:
            expected_get(route)
        except KeyError:
            missing.append(route)
    assert not missing, f"routes without an access expectation: {missing}"


def test_every_route_answers_each_role_as_intended(world):
    routes = walk_routes()
    wrong = []
    for role_index, role in enumerate(ROLES):
        client = client_for(role, world)
        for route in routes:
            response = client.get(concrete(route, world))
            want = expected_get(route)[role_index]
            got = outcome(response)
            ok = response.status_code < 500 if want is None else got == want
            if not ok:
                wrong.append((role, route, want, got))
    assert not wrong, "\n".join(map(str, wrong))
    print(f"route matrix: {len(routes)} routes x {len(ROLES)} roles = {len(routes) * 4} GETs")


def test_every_post_needs_the_csrf_token(world):
    """A superuser's session without the token: every route refuses a POST with 403 before
    anything runs (pages, admin, API, metrics). Then the same posts with the token pass."""
    client = client_for("superuser", world, enforce_csrf_checks=True)
    routes = walk_routes()
    accepted = []
    for route in routes:
        response = client.post(concrete(route, world), {"label": "x", "n_codes": "2"})
        if response.status_code != 403:
            accepted.append((route, response.status_code))
    assert not accepted, accepted
    assert Codeframe.objects.count() == 1 and Question.objects.count() == 1

    # Positive control: with the token, the forms work.
    client.get(f"/questions/{world['question'].pk}/")
    token = client.cookies["csrftoken"].value
    cf, code = world["codeframe"], world["code"]
    rename = client.post(
        f"/codeframes/{cf.pk}/codes/{code.pk}/rename/",
        {"label": "Renamed", "csrfmiddlewaretoken": token},
    )
    assert rename.status_code == 302 and Code.objects.get(pk=code.pk).label == "Renamed"
    generate = client.post(
        f"/questions/{world['question'].pk}/generate/",
        {"n_codes": "2", "csrfmiddlewaretoken": token},
    )
    assert generate.status_code == 302 and Codeframe.objects.count() == 2  # immediate backend
    print(f"CSRF: {len(routes)} routes refused a token-less POST")


@pytest.mark.parametrize("action", ["reset", "flush", "recount"])
def test_maintenance_needs_a_superuser(world, redis_cache, action):
    embed_texts_with_report(["kept one", "kept two"])
    before = get_cache_stats()
    url = f"/admin/embeddings/cachestatistics/{action}/"
    for role in ("anonymous", "member", "staff"):
        client = client_for(role, world)
        client.get("/admin/")  # a CSRF cookie where the role has one
        token = client.cookies["csrftoken"].value if "csrftoken" in client.cookies else ""
        response = client.post(url, {"csrfmiddlewaretoken": token})
        assert outcome(response) in (LOGIN, 403), (role, response.status_code)
    after = get_cache_stats()
    assert after.lifetime.requests == before.lifetime.requests == 2
    assert embed_texts_with_report(["kept one", "kept two"]).hits == 2

    superuser = client_for("superuser", world)
    assert superuser.post(url).status_code == 302
    if action == "flush":
        assert embed_texts_with_report(["kept one"]).misses == 1
    if action == "reset":
        assert get_cache_stats().lifetime.requests == 0


# --- Redis authentication -------------------------------------------------------------------


def test_redis_password_and_acl_user_from_the_url(own_redis, settings):
    server = own_redis(password="s3cret-admin")
    admin = redis.Redis(host="127.0.0.1", port=server.port, password="s3cret-admin")
    # A least-privilege user: our key space only, no FLUSHALL/KEYS/CONFIG/DEBUG.
    admin.execute_command(
        "ACL", "SETUSER", "emb", "on", ">emb-pw-42", "~emb:*", "resetchannels",
        "+@all", "-@dangerous", "+info",
    )  # fmt: skip
    url = f"redis://emb:emb-pw-42@127.0.0.1:{server.port}/2"
    settings.CACHES = {**settings.CACHES, "embeddings": redis_cache_settings(url)}

    first = embed_texts_with_report(["alpha", "beta", "alpha"])
    second = embed_texts_with_report(["alpha", "beta"])
    assert first.cache_available and first.misses == 3
    assert second.cache_available and second.hits == 2
    assert redis.Redis(host="127.0.0.1", port=server.port, password="s3cret-admin", db=2).dbsize()

    stats = get_cache_stats()
    assert stats.reachable and stats.authenticated
    assert "emb-pw-42" not in stats.location and "***" in stats.location
    # CONFIG GET is denied to this user: persistence shows as unknown, not as an error.
    assert stats.persistence["rdb_snapshots"] is None
    assert stats.lifetime.requests == 5


def test_wrong_redis_password_degrades_with_a_clear_warning(own_redis, settings, tmp_path):
    server = own_redis(password="right-password")
    url = f"redis://:wrong-password@127.0.0.1:{server.port}/2"
    settings.CACHES = {**settings.CACHES, "embeddings": redis_cache_settings(url)}

    report = embed_texts_with_report(["still", "works"])
    assert report.vectors.shape == (2, get_backend().dimension)
    assert not report.cache_available

    stats = get_cache_stats()
    assert not stats.reachable
    [warning] = [w for w in stats.warnings if w.code == "unreachable"]
    assert "WRONGPASS" in warning.message or "invalid" in warning.message.lower()
    assert "wrong-password" not in stats.location

    # What an operator sees at deploy time: a warning with the reason, exit code 0.
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--tag", "caches"],
        cwd=ROOT,
        env=subprocess_env(EMBEDDINGS_REDIS_URL=url, DJANGO_VAR_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "embeddings.W003" in output and "Cannot reach the embeddings store" in output
    assert "WRONGPASS" in output or "invalid username-password" in output
    assert "wrong-password" not in output


def test_wrong_redis_password_under_gunicorn_serves_without_the_cache(own_redis, gunicorn_server):
    server = own_redis(password="right-password")
    url = f"redis://:wrong-pw-zz@127.0.0.1:{server.port}/2"
    app = gunicorn_server(redis_url=url, workers=1, EMBEDDINGS_BACKEND=FAKE_BACKEND)
    api = Http(app.base_url, auth=(ADMIN_USER, ADMIN_PASSWORD))
    texts = [f"answer {i} about fees and the app" for i in range(20)]
    for _ in range(2):
        reply = generate(api, {"responses": texts})
        assert reply.status == 201 and reply.json()["cache_misses"] == 20
    stats = api.get("/api/embeddings/stats/").json()
    assert not stats["reachable"] and stats["authenticated"]
    assert "unreachable" in [w["code"] for w in stats["warnings"]]
    log = app.log() + app.tasks.log()  # the task worker embeds
    assert "embedding cache 'embeddings' (redis) unavailable" in log
    assert "WRONGPASS" in log or "invalid username-password" in log
    assert "wrong-pw-zz" not in log + json.dumps(stats)


# --- Values planted under our keys ----------------------------------------------------------


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.slow
def test_planted_values_are_never_executed_counted_and_recomputed(
    redis_cache, real_model, tmp_path, settings, monkeypatch
):
    from sentence_transformers import SentenceTransformer  # noqa: F401 - the real model is used

    backend = get_backend()
    texts = [f"planted answer {i}" for i in range(8)]
    namespace = namespace_for(backend)
    cache_keys = keys.text_keys(namespace, texts)
    marker = tmp_path / "pwned"
    good = codec.encode(backend.encode(texts[:1]), dtype="float32")[0]
    wrong_dim = codec.encode(np.zeros((1, 383), dtype=np.float32), dtype="float32")[0]
    half = codec.encode(np.zeros((1, 384), dtype=np.float32), dtype="float16")[0]
    planted = {
        "pickle": pickle.dumps(_Exploit(marker)),
        "random bytes, right size": os.urandom(len(good)),
        "random bytes": os.urandom(97),
        "truncated vector": good[:-4],
        "wrong dimension": wrong_dim,
        "float16 value in a float32 space": half,
        "empty": b"",
    }
    client = redis.Redis.from_url(redis_cache)
    for key, value in zip(cache_keys, planted.values(), strict=False):
        client.set(key, value)
    client.hset(cache_keys[7], "a", "hash")  # wrong type: MGET reads it as absent

    report = embed_texts_with_report(texts)
    assert not marker.exists()
    assert report.corrupt == len(planted) and report.misses == len(texts)
    expected = backend.encode(texts)
    np.testing.assert_allclose(report.vectors, expected, atol=1e-6)
    # Overwritten with valid values: the next call hits everything, bit for bit.
    again = embed_texts_with_report(texts)
    assert again.hits == len(texts) and again.corrupt == 0
    assert np.array_equal(again.vectors, report.vectors)
    assert get_cache_stats().lifetime.corrupt == len(planted)

    # The alias' own cache API, configured as the project configures it, reads JSON, never
    # pickle: the payload is an error, not code.
    from django.core.cache import caches

    from config import settings as project_settings

    monkeypatch.setattr(project_settings, "EMBEDDINGS_REDIS_URL", redis_cache)
    settings.CACHES = {**settings.CACHES, "embeddings": project_settings._embeddings_cache()}
    cache = caches["embeddings"]
    client.set(cache.make_key("raw"), pickle.dumps(_Exploit(marker)))
    with pytest.raises((ValueError, UnicodeDecodeError)):
        cache.get("raw")
    with pytest.raises((ValueError, UnicodeDecodeError)):
        cache.get_many(["raw"])
    assert not marker.exists()
    print(f"planted: {len(planted) + 1} hostile values under our keys, 0 executed")


# --- Hostile API bodies and uploads ---------------------------------------------------------

TEN_MB = 10 * 1024 * 1024

# (name, raw body or JSON-able payload, content type, acceptable statuses)
HOSTILE_API = [
    ("huge body (21 MB)", b'{"responses": ["' + b"x" * (21 * 1024 * 1024) + b'"]}', None, {413}),
    ("10 MB single answer", {"responses": ["y" * TEN_MB]}, None, {400}),
    ("deeply nested arrays", b"[" * 200_000 + b"]" * 200_000, None, {400}),
    ("deeply nested objects", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, None, {400}),
    ("nested responses", {"responses": [["a", ["b"]], {"c": 1}]}, None, {400}),
    ("responses not a list", {"responses": "just one string"}, None, {400}),
    ("booleans as answers", {"responses": [True, False]}, None, {400}),
    ("null answers", {"responses": [None, None]}, None, {400}),
    ("NUL character", {"responses": ["fine", "bad\x00answer"]}, None, {400}),
    ("lone surrogate", b'{"responses": ["ok", "\\ud800 broken"]}', None, {400}),
    ("invalid UTF-8", b'{"responses": ["\xff\xfe\xfa"]}', None, {400}),
    ("not JSON", b"responses=a&responses=b", None, {400}),
    ("form content type", b"responses=a", "application/x-www-form-urlencoded", {415}),
    ("text content type", b"hello", "text/plain", {415}),
    ("empty body", b"", None, {400}),
    ("JSON null", b"null", None, {400}),
    ("JSON list", b'["a", "b"]', None, {400}),
    ("empty list", {"responses": []}, None, {400}),
    ("only blanks", {"responses": ["", "  ", "\t"]}, None, {400}),
    ("both responses and question", {"responses": ["a"], "question": 1}, None, {400}),
    ("question id of another type", {"question": "1; DROP TABLE x"}, None, {400}),
    ("question id huge", {"question": 10**30}, None, {400, 404}),
    ("question that does not exist", {"question": 987654}, None, {404}),
    ("negative n_codes", {"responses": ["a", "b"], "n_codes": -1}, None, {400}),
    ("n_codes 10**100", {"responses": ["a", "b"], "n_codes": 10**100}, None, {400}),
    ("n_codes NaN", b'{"responses": ["a"], "n_codes": NaN}', None, {400}),
    ("n_codes Infinity", b'{"responses": ["a"], "n_codes": 1e999}', None, {400}),
    ("survey of 100k chars", {"responses": ["a"], "survey": "s" * 100_000}, None, {400}),
    ("50,001 answers", {"responses": ["a"] * 50_001}, None, {413}),
    ("duplicate keys", b'{"responses": ["a"], "responses": 5}', None, {400}),
    ("HTML/script answers", {"responses": ["<script>alert(1)</script>", "<b>x</b>"]}, None, {202}),
]


@pytest.mark.parametrize(
    ("name", "body", "content_type", "statuses"), HOSTILE_API, ids=[c[0] for c in HOSTILE_API]
)
def test_hostile_api_bodies_get_clean_answers(world, name, body, content_type, statuses):
    client = APIClient()
    client.force_authenticate(world["users"]["staff"])
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    before = Question.objects.count()
    response = client.generic(
        "POST", "/api/codeframes/", raw, content_type=content_type or "application/json"
    )
    assert response.status_code in statuses, (name, response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json() or response.status_code == 202 or response.json()
    if response.status_code >= 400:
        assert Question.objects.count() == before, "a refused request left a question behind"
    else:
        # Stored and served back as data; the pages escape it.
        staff = client_for("staff", world)
        page = staff.get(f"/codeframes/{response.json()['id']}/")
        assert b"<script>alert(1)" not in page.content


FORMULAS = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=HYPERLINK(1)"]


def _upload(client, name: str, content: bytes, **fields):
    upload = io.BytesIO(content)
    upload.name = name
    return client.post("/questions/import/", {"survey": "Hostile", "file": upload, **fields})


HOSTILE_UPLOADS = [
    ("binary garbage as .csv", "answers.csv", os.urandom(4096), {200}),
    ("binary garbage as .xlsx", "answers.xlsx", os.urandom(4096), {200}),
    ("a zip that is no workbook", "answers.xlsx", b"PK\x03\x04" + os.urandom(2000), {200}),
    ("NUL bytes in a CSV", "answers.csv", b"answer\nfine\nbad\x00row\n", {200, 302}),
    ("latin-1 CSV", "answers.csv", "answer\ncaf\xe9 cr\xe8me\n".encode("latin-1"), {200}),
    ("answer of 10 MB", "answers.csv", b"answer\n" + b"z" * TEN_MB + b"\n", {200}),
    ("no answer column", "answers.csv", b"respondent_id,score\n1,5\n", {200}),
    ("header only", "answers.csv", b"answer\n", {200}),
    ("path in the file name", "../../etc/passwd.csv", b"answer\nok\n", {302}),
    ("upload above the limit", "big.csv", b"answer\n" + b"a,\n" * (8 * 1024 * 1024), {413}),
]


@pytest.mark.parametrize(
    ("name", "filename", "content", "statuses"),
    HOSTILE_UPLOADS,
    ids=[c[0] for c in HOSTILE_UPLOADS],
)
def test_hostile_uploads_are_refused_cleanly(world, settings, name, filename, content, statuses):
    settings.CODEFRAME = {**settings.CODEFRAME, "MAX_UPLOAD_BYTES": 20 * 1024 * 1024}
    client = client_for("staff", world)
    before = Question.objects.count()
    response = _upload(client, filename, content)
    assert response.status_code in statuses, (name, response.status_code)
    if response.status_code != 302:
        assert Question.objects.count() == before
        assert b"errorlist" in response.content, "refused without saying why"
    assert not Path("/etc/passwd.csv").exists()


def test_formula_injection_in_an_upload_is_neutralised_in_every_export(world):
    client = client_for("staff", world)
    rows = [["respondent_id", "answer"]]
    rows += [[f"=R{i}", text] for i, text in enumerate(FORMULAS * 3)]
    rows += [[f"ok{i}", f"plain answer number {i}"] for i in range(10)]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    response = _upload(client, "hostile.csv", buffer.getvalue().encode())
    assert response.status_code == 302, response.content[:500]
    question = Question.objects.get(survey="Hostile")
    codeframe = services.create_codeframe(question=question, n_codes=3)

    exported = 0
    for layout in ("binary", "list"):
        body = b"".join(client.get(f"/codeframes/{codeframe.pk}/export.csv?layout={layout}"))
        for row in csv.reader(io.StringIO(body.decode("utf-8-sig"))):
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
                exported += 1
    from openpyxl import load_workbook

    workbook = load_workbook(
        io.BytesIO(client.get(f"/codeframes/{codeframe.pk}/export.xlsx").content)
    )
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows(values_only=True):
            for cell in row:
                if isinstance(cell, str):
                    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
                    exported += 1
    assert exported > 100


# --- Production settings --------------------------------------------------------------------


def production_env(tmp_path, **extra) -> dict[str, str]:
    return subprocess_env(
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="codeframes.example.com",
        DJANGO_VAR_DIR=str(tmp_path),
        **extra,
    )


def test_check_deploy_passes_with_the_documented_production_settings(own_redis, tmp_path):
    server = own_redis(appendonly="yes")
    env = production_env(tmp_path, EMBEDDINGS_REDIS_URL=f"redis://127.0.0.1:{server.port}/2")
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout
    debug = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c",
         "from django.conf import settings; print(settings.DEBUG, settings.SECRET_KEY[:6])"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert debug.stdout.split()[0] == "False", debug.stdout + debug.stderr
    assert env["DJANGO_SECRET_KEY"].startswith(debug.stdout.split()[1])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY must be set"),
        ({"DJANGO_DEBUG": "true"}, "DJANGO_DEBUG"),
    ],
)
def test_production_refuses_missing_secret_or_debug(tmp_path, change, message):
    env = {**production_env(tmp_path), **change}
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and message in done.stderr
