"""Per-user rates on generation and import (API and pages), and failed-login lockouts."""

import base64

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from codeframe.models import Codeframe, Membership, Role
from codeframe.services import default_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings):
    cache.clear()  # the counts of earlier tests
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"codeframe_generate": "2/hour", "codeframe_import": "3/hour"},
    }
    yield
    cache.clear()


def test_api_generation_over_the_rate_is_429_with_retry_after(rates, staff_user, question):
    client = APIClient()
    client.force_authenticate(staff_user)
    for _ in range(2):
        reply = client.post("/api/codeframes/", {"question": question.pk}, format="json")
        assert reply.status_code == 202
    reply = client.post("/api/codeframes/", {"question": question.pk}, format="json")
    assert reply.status_code == 429
    assert 3000 < int(reply["Retry-After"]) <= 3600
    assert "throttled" in reply.json()["detail"].lower()
    assert Codeframe.objects.count() == 2


def test_the_rate_is_per_user(rates, staff_user, question, django_user_model):
    first, second = APIClient(), APIClient()
    first.force_authenticate(staff_user)
    other = django_user_model.objects.create_user("other", password="pw-other-123")
    Membership.objects.create(project=default_project(), user=other, role=Role.ANALYST)
    second.force_authenticate(other)
    for _ in range(2):
        assert (
            first.post("/api/codeframes/", {"question": question.pk}, format="json").status_code
            == 202
        )
    assert (
        first.post("/api/codeframes/", {"question": question.pk}, format="json").status_code == 429
    )
    assert (
        second.post("/api/codeframes/", {"question": question.pk}, format="json").status_code == 202
    )


def test_answers_in_the_body_count_as_an_import_too(rates, settings, staff_user):
    settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["codeframe_import"] = "1/minute"
    client = APIClient()
    client.force_authenticate(staff_user)
    body = {"responses": ["Too expensive", "Great staff", "Slow app"]}
    assert client.post("/api/codeframes/", body, format="json").status_code == 202
    reply = client.post("/api/codeframes/", body, format="json")
    assert reply.status_code == 429 and 0 < int(reply["Retry-After"]) <= 60


def test_pages_over_the_rate_get_a_429_page(rates, staff_client, question):
    url = f"/questions/{question.pk}/generate/"
    assert staff_client.post(url).status_code == 302
    assert staff_client.post(url).status_code == 302
    page = staff_client.post(url)
    assert page.status_code == 429 and int(page["Retry-After"]) > 0
    assert "Too many requests" in page.content.decode()
    for _ in range(3):
        assert staff_client.post("/questions/import/", {"survey": "S", "pasted": "a"}).status_code
    assert (
        staff_client.post("/questions/import/", {"survey": "S", "pasted": "a"}).status_code == 429
    )
    # Reading is never throttled.
    assert staff_client.get(question.get_absolute_url()).status_code == 200


def test_api_requests_that_fail_do_not_count(rates, staff_user, question, settings):
    """Only what was queued counts: a 400 (a typo), a 404 (an id not yours) or a 409 takes its
    count back, and so does a 429 of the other rate for the rate that let it through."""
    client = APIClient()
    client.force_authenticate(staff_user)
    failing = [
        {"question": question.pk, "respondent_id": [1]},  # an unknown key: 400
        {"question": 999999},  # 404
        {"question": question.pk, "n_codes": 9, "max_codes": 3},  # conflicting options: 400
    ]
    for body in failing * 3:
        assert client.post("/api/codeframes/", body, format="json").status_code in (400, 404)
    for _ in range(2):
        assert (
            client.post("/api/codeframes/", {"question": question.pk}, format="json").status_code
            == 202
        )
    assert (
        client.post("/api/codeframes/", {"question": question.pk}, format="json").status_code == 429
    )
    # The import rate refuses: the generation rate, which let the request through, takes back.
    cache.clear()
    settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["codeframe_import"] = "1/hour"
    body = {"responses": ["Too expensive", "Great staff"]}
    assert client.post("/api/codeframes/", body, format="json").status_code == 202
    for _ in range(3):
        assert client.post("/api/codeframes/", body, format="json").status_code == 429
    reply = client.post("/api/codeframes/", {"question": question.pk}, format="json")
    assert reply.status_code == 202, "the 429s of the import rate spent generations"


def test_a_wave_refused_before_its_import_does_not_count(rates, staff_user, codeframe):
    """A wave label the tracker has, or a frame not approved, is refused before anything is
    imported: those 400s and 409s spent the rate (the 3rd wave after two typos was a 429)."""
    from codeframe import waves

    client = APIClient()
    client.force_authenticate(staff_user)
    url = f"/api/codeframes/{codeframe.pk}/waves/"
    body = {"responses": ["Too expensive"], "wave": "2027-01"}
    assert client.post(url, body, format="json").status_code == 409  # not approved
    waves.approve_codeframe(codeframe=codeframe)
    assert client.post(url, body, format="json").status_code == 202
    for _ in range(3):
        reply = client.post(url, body, format="json")
        assert reply.status_code == 400 and "already has a wave" in reply.json()["detail"]
    assert client.post(url, {**body, "wave": "2027-02"}, format="json").status_code == 202
    assert client.post(url, {**body, "wave": "2027-03"}, format="json").status_code == 429


def test_the_wave_page_counts_a_generation_as_the_api_does(rates, staff_client, codeframe):
    """The page's waves spent only the import rate: past the generation rate the API said 429
    and the page queued coding jobs."""
    from codeframe import waves

    waves.approve_codeframe(codeframe=codeframe)
    url = f"/codeframes/{codeframe.pk}/waves/new/"
    for n in (1, 2):  # the generation rate is 2/hour here
        done = staff_client.post(url, {"wave": f"2027-0{n}", "pasted": "Too expensive"})
        assert done.status_code == 302 and "/jobs/" in done["Location"]
    refused = staff_client.post(url, {"wave": "2027-03", "pasted": "Too expensive"})
    assert refused.status_code == 429


def test_a_request_that_did_the_work_and_failed_still_counts(rates, settings, staff_user):
    """The import rate guards the import: answers read and refused (more than MAX_RESPONSES)
    count, or a client could import 50,000 answers again and again for nothing."""
    settings.CODEFRAME = {"MAX_RESPONSES": 2}
    client = APIClient()
    client.force_authenticate(staff_user)
    body = {"responses": ["Too expensive", "Great staff", "Slow app"]}
    for _ in range(2):  # the generation rate is 2/hour here: both count
        assert client.post("/api/codeframes/", body, format="json").status_code == 413
    assert client.post("/api/codeframes/", body, format="json").status_code == 429


def test_pages_count_only_what_was_done(rates, staff_client, question):
    url = f"/questions/{question.pk}/generate/"
    for _ in range(3):  # not whole numbers: redirected back with a message, not counted
        assert staff_client.post(url, {"n_codes": "x"}).status_code == 302
    assert staff_client.post("/questions/999999/generate/").status_code == 404
    assert staff_client.post(url).status_code == 302
    assert staff_client.post(url).status_code == 302
    assert staff_client.post(url).status_code == 429
    for _ in range(4):  # a form shown again with its error (nothing pasted) is not counted
        assert staff_client.post("/questions/import/", {"survey": "S"}).status_code == 200
    for _ in range(3):
        assert (
            staff_client.post("/questions/import/", {"survey": "S", "pasted": "a"}).status_code
            == 302
        )
    assert (
        staff_client.post("/questions/import/", {"survey": "S", "pasted": "a"}).status_code == 429
    )


def test_failed_logins_lock_out_the_username_and_address(client, django_user_model, settings):
    settings.AXES_FAILURE_LIMIT = 3
    django_user_model.objects.create_user("victim", password="right-password-1")
    for _ in range(3):
        reply = client.post(
            "/accounts/login/", {"username": "victim", "password": "guess"}, REMOTE_ADDR="10.0.0.9"
        )
        assert reply.status_code in (200, 429)
    locked = client.post(
        "/accounts/login/",
        {"username": "victim", "password": "right-password-1"},
        REMOTE_ADDR="10.0.0.9",
    )
    assert locked.status_code == 429  # even the right password, during the cool-off
    # Another address is not locked out by this one's failures.
    other = client.post(
        "/accounts/login/",
        {"username": "victim", "password": "right-password-1"},
        REMOTE_ADDR="10.0.0.10",
    )
    assert other.status_code == 302


def test_failed_basic_auth_on_the_api_locks_out_too(client, django_user_model, settings):
    settings.AXES_FAILURE_LIMIT = 3
    django_user_model.objects.create_user("victim", password="right-password-1")

    def attempt(password: str):
        token = base64.b64encode(f"victim:{password}".encode()).decode()
        return client.get(
            "/api/schema/", HTTP_AUTHORIZATION=f"Basic {token}", REMOTE_ADDR="10.0.0.9"
        )

    assert attempt("right-password-1").status_code == 200  # the control
    # (401 with the token challenge: token auth comes first)
    assert [attempt("guess").status_code for _ in range(3)] == [401, 401, 401]
    locked = attempt("right-password-1")
    assert locked.status_code == 401  # the right password is refused during the cool-off


def test_a_redis_that_is_down_lets_requests_through(settings, staff_user, question, staff_client):
    """The rates' counts live in the default cache; with Redis gone (nothing listens on the
    port) a generation is still queued, by the API and the page, instead of a 500."""
    import socket

    from config.settings import default_cache

    with socket.socket() as probe:  # a port nobody listens on: connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {**settings.CACHES, "default": default_cache(f"redis://127.0.0.1:{port}/0")}
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"codeframe_generate": "2/hour", "codeframe_import": "3/hour"},
    }
    client = APIClient()
    client.force_authenticate(staff_user)
    for _ in range(3):  # the rate cannot count, so it lets the requests through
        reply = client.post("/api/codeframes/", {"question": question.pk}, format="json")
        assert reply.status_code == 202, reply.content
    page = staff_client.post(f"/questions/{question.pk}/generate/")
    assert page.status_code == 302 and "/jobs/" in page["Location"]


def test_a_full_queue_refuses_stored_answers_without_spending_the_rate(
    rates, settings, staff_user, question
):
    """Generating from a question's stored answers imports nothing: refused because the user's
    queue is full, it takes its count back (an answer in the body still counts: it was read)."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}  # stay queued
    settings.CODEFRAME = {"MAX_QUEUED_GENERATIONS": 1}
    client = APIClient()
    client.force_authenticate(staff_user)
    # Other options each time: the same ones again would be the queued job again.
    bodies = ({"question": question.pk, "n_codes": n} for n in range(2, 20))
    assert client.post("/api/codeframes/", next(bodies), format="json").status_code == 202
    for _ in range(3):
        reply = client.post("/api/codeframes/", next(bodies), format="json")
        assert reply.status_code == 429 and not reply.has_header("Retry-After")
        assert "queued or running" in reply.json()["detail"]
    settings.CODEFRAME = {"MAX_QUEUED_GENERATIONS": 10}
    posted = client.post("/api/codeframes/", next(bodies), format="json")
    assert posted.status_code == 202  # 2 of 2/hour
    assert client.post("/api/codeframes/", next(bodies), format="json").status_code == 429


def test_behind_the_proxy_failures_count_per_client_not_per_proxy(
    client, django_user_model, settings
):
    """With AXES_PROXY_COUNT=1 every login came from the proxy's address (no django-ipware to
    read X-Forwarded-For): one client failing a user's password locked everyone out. The
    address is the one the proxy appended; what the client put before it is not believed."""
    settings.AXES_FAILURE_LIMIT = 3
    settings.CLIENT_IP_PROXY_COUNT = 1
    django_user_model.objects.create_user("victim", password="right-password-1")

    def login(password, forwarded):
        return client.post(
            "/accounts/login/",
            {"username": "victim", "password": password},
            REMOTE_ADDR="10.0.0.1",  # the proxy
            HTTP_X_FORWARDED_FOR=forwarded,
        )

    for spoofed in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):  # a new lie each time
        assert login("guess", f"{spoofed}, 203.0.113.66").status_code in (200, 429)
    assert login("right-password-1", "203.0.113.66").status_code == 429  # the attacker
    assert login("right-password-1", "192.0.2.7").status_code == 302  # the user, elsewhere


def test_a_generation_asked_again_while_queued_spends_no_rate(
    rates, settings, staff_user, staff_client, question
):
    """The same generation asked again while it is queued is that job (a double click, a
    client's retried POST): it must not use up the hour's generations either."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}  # stay queued
    client = APIClient()
    client.force_authenticate(staff_user)
    body = {"question": question.pk, "n_codes": 3}
    first = client.post("/api/codeframes/", body, format="json")
    again = client.post("/api/codeframes/", body, format="json")
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    page = staff_client.post(f"/questions/{question.pk}/generate/", {"n_codes": 3})
    assert page["Location"] == f"/jobs/{first.json()['id']}/"
    other = client.post("/api/codeframes/", {**body, "n_codes": 4}, format="json")
    assert other.status_code == 202  # 2 of 2/hour: the repeats were free
    assert client.post("/api/codeframes/", {**body, "n_codes": 5}, format="json").status_code == 429
