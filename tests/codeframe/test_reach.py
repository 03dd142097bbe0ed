"""What one client's people cannot reach of another's, beyond the route-by-role matrix
(tests/proof/test_security.py): the admin's other doors, a job read across projects, and the
timings that told which answers the shared embedding cache holds. Each was reproduced by a
reviewer acting as an analyst of one client against another's data."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from rest_framework import serializers as drf_serializers
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from codeframe import serializers, services
from codeframe.importers import ImportedRow
from codeframe.models import Codeframe, GenerationJob, Membership, Project, Question
from codeframe.serializers import QuestionJobSerializer, SecondsDateTimeField
from tests.codeframe.conftest import ANSWERS

pytestmark = pytest.mark.django_db


def _question(project, survey):
    rows = [ImportedRow(line=i, respondent_id=f"R{i}", text=t) for i, t in enumerate(ANSWERS)]
    return services.import_responses(rows=rows, project=project, survey=survey).question


@pytest.fixture
def clients(django_user_model):
    """Client A (alice manages it) and client B (bob manages it; sam, staff, is B's analyst)."""
    make = django_user_model.objects.create_user
    world = {
        "alice": make("alice", password="pw-alice-1"),
        "bob": make("bob", password="pw-bob-1"),
        "sam": make("sam", password="pw-sam-1", is_staff=True),
        "a": Project.objects.create(name="Client A"),
        "b": Project.objects.create(name="Client B"),
    }
    Membership.objects.create(project=world["a"], user=world["alice"], role="manager")
    Membership.objects.create(project=world["b"], user=world["bob"], role="manager")
    Membership.objects.create(project=world["b"], user=world["sam"], role="analyst")
    world["qa"] = _question(world["a"], "A's survey")
    world["cfa"] = services.create_codeframe(question=world["qa"], n_codes=3)
    world["job"] = GenerationJob.objects.create(question=world["qa"], total=1)
    return world


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_analyst_of_two_clients_cannot_move_a_question_between_them(clients, django_user_model):
    """The admin's question form let an analyst of both projects move A's question (answers,
    codeframes) into B, where B's manager read and exported it, and A's manager lost it."""
    ann = django_user_model.objects.create_user("ann", is_staff=True)
    for project in (clients["a"], clients["b"]):
        Membership.objects.create(project=project, user=ann, role="analyst")
    ann.user_permissions.set(
        Permission.objects.filter(codename__in=["change_question", "view_question"])
    )
    qa = clients["qa"]
    form = logged_in(ann).post(
        f"/admin/codeframe/question/{qa.pk}/change/",
        {"project": clients["b"].pk, "survey": qa.survey, "text": "Renamed in the admin"},
    )
    assert form.status_code == 302
    qa.refresh_from_db()
    assert qa.project == clients["a"] and qa.text == "Renamed in the admin"  # the rest changes
    assert logged_in(clients["bob"]).get(f"/questions/{qa.pk}/").status_code == 404


def test_tokens_tasks_users_and_login_records_are_superusers_only(clients):
    """One "view" permission on API tokens showed every user's key (their whole access); the
    task and login records are every project's too."""
    sam = clients["sam"]
    sam.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=["authtoken", "django_tasks_database", "auth", "axes"]
        )
    )
    token = Token.objects.create(user=clients["alice"])
    task = DBTaskResult.objects.create(
        task_path="codeframe.tasks.run_generation",
        args_kwargs={"args": [str(clients["job"].pk)], "kwargs": {}},
        backend_name="default",
        queue_name="default",
    )
    staff = logged_in(sam)
    pages = [
        "/admin/authtoken/tokenproxy/",
        "/admin/authtoken/tokenproxy/add/",
        "/admin/django_tasks_database/dbtaskresult/",
        f"/admin/django_tasks_database/dbtaskresult/{task.pk}/change/",
        "/admin/auth/user/",
        f"/admin/auth/user/{clients['alice'].pk}/change/",
        "/admin/auth/group/",
        "/admin/axes/accessattempt/",
        "/admin/axes/accesslog/",
    ]
    for url in pages:
        assert staff.get(url).status_code in (403, 302), url
    index = staff.get("/admin/").content.decode()
    assert token.key not in index and "Tokens" not in index and "Users" not in index
    superuser = clients["alice"]
    superuser.is_staff = superuser.is_superuser = True
    superuser.save()
    assert all(logged_in(superuser).get(url).status_code == 200 for url in pages)


def test_the_admins_view_on_site_answers_only_within_the_users_projects(clients):
    """Django's shortcut (admin/r/<type>/<id>/) checks no permission: a redirect for another
    project's question and a 404 for a missing one told staff which ids exist."""
    staff = logged_in(clients["sam"])
    own = _question(clients["b"], "B's survey")
    for model, foreign, missing in (
        (Question, clients["qa"].pk, 999999),
        (Codeframe, clients["cfa"].pk, 999999),
        (Project, clients["a"].pk, 999999),
        (GenerationJob, clients["job"].pk, "00000000-0000-0000-0000-000000000000"),
    ):
        kind = ContentType.objects.get_for_model(model).pk
        assert staff.get(f"/admin/r/{kind}/{foreign}/").status_code == 404, model
        assert staff.get(f"/admin/r/{kind}/{missing}/").status_code == 404, model
    kind = ContentType.objects.get_for_model(Question).pk
    assert staff.get(f"/admin/r/{kind}/not-an-id/").status_code == 404
    shown = staff.get(f"/admin/r/{kind}/{own.pk}/")
    assert shown.status_code == 302 and shown["Location"].endswith(own.get_absolute_url())


def test_reading_another_projects_job_does_not_recover_it(clients):
    """The job page and the API recovered a stale job (queued it again, or failed it) before
    checking that it was the reader's: a 404 for bob, and A's job changed."""
    job = clients["job"]
    stale = timezone.now() - timedelta(days=1)
    GenerationJob.objects.filter(pk=job.pk).update(state="running", heartbeat=stale, started=stale)
    assert logged_in(clients["bob"]).get(f"/jobs/{job.pk}/").status_code == 404
    api = APIClient()
    api.force_authenticate(clients["bob"])
    assert api.get(f"/api/jobs/{job.pk}/").status_code == 404
    job.refresh_from_db()
    assert job.state == "running" and job.error == ""
    # Its own project's reader recovers it, as before.
    assert logged_in(clients["alice"]).get(f"/jobs/{job.pk}/?stay=1").status_code == 200
    job.refresh_from_db()
    assert job.state != "running" and job.attempts == 1  # queued again (and run, here)


def test_others_than_operators_see_how_long_in_whole_seconds(clients):
    """The embedding step's seconds told a guessed answer of another client's survey (cached:
    a millisecond) from one nobody holds (tens of milliseconds), every time."""
    api = APIClient()
    api.force_authenticate(clients["bob"])
    posted = api.post(
        "/api/codeframes/", {"responses": ANSWERS, "project": clients["b"].pk}, format="json"
    )
    job = api.get(posted.json()["status_url"] + "?responses=false").json()
    assert set(job["codeframe"]["timings"]) <= {"total_seconds"}
    assert all(isinstance(v, int) for v in job["codeframe"]["timings"].values())
    assert job["elapsed_seconds"] is None or float(job["elapsed_seconds"]).is_integer()
    frame = Codeframe.objects.get(pk=job["codeframe"]["id"])
    page = logged_in(clients["bob"]).get(frame.get_absolute_url()).content.decode()
    took = page.split("<dt>Took</dt><dd>", 1)[1].split(" s<", 1)[0]
    assert took.isdigit(), took
    assert "<dt>Embedding</dt>" not in page and "<dt>Total</dt>" not in page
    # Staff of client B only: no more than bob (a reviewer read A's verbatims off the hits).
    api.force_authenticate(clients["sam"])
    seen = api.get(f"/api/codeframes/{frame.pk}/?responses=false").json()
    assert set(seen["timings"]) <= {"total_seconds"} and seen["cache_hits"] is None
    # A job's times are to the second: started and finished gave its exact duration.
    assert all(job[k] is None or "." not in job[k] for k in ("created", "started", "finished"))
    assert "." not in job["codeframe"]["created"]
    detail = api.get(f"/api/questions/{frame.question_id}/").json()
    assert all("." not in item["created"] for item in detail["codeframes"] + detail["jobs"])
    operator = clients["alice"]
    operator.is_staff = operator.is_superuser = True
    operator.save()
    api.force_authenticate(operator)  # the operators' figures
    seen = api.get(f"/api/codeframes/{frame.pk}/?responses=false").json()
    assert {"embedding_seconds", "clustering_seconds"} <= set(seen["timings"])
    assert seen["cache_hits"] is not None
    page = logged_in(operator).get(frame.get_absolute_url()).content.decode()
    assert "<dt>Embedding</dt>" in page and "<dt>Total</dt>" in page


# A time with a fraction of a second, for every row the API tests below read.
AT = datetime(2026, 11, 3, 1, 55, 27, 119790, tzinfo=UTC)


def _times(body) -> list[str]:
    """Every `created`, `started` and `finished` of an API body, nested ones included."""
    if isinstance(body, list):
        return [time for item in body for time in _times(item)]
    if not isinstance(body, dict):
        return []
    own = [v for k, v in body.items() if k in ("created", "started", "finished") and v]
    return own + [time for value in body.values() for time in _times(value)]


def _every_time(clients, user) -> dict[str, list[str]]:
    """The times each endpoint that gives any answers `user` about client A's question: its
    project, the question (listed, read, renamed), its codeframe (read, approved) and a job
    (done, with the codeframe; and a failed one, on the question's page)."""
    qa, cfa = clients["qa"], clients["cfa"]
    done = GenerationJob.objects.create(question=qa, total=1, state="done", codeframe=cfa)
    GenerationJob.objects.filter(pk=clients["job"].pk).update(
        state="failed",
        created=AT + timedelta(minutes=1),  # after `done`: still listed
    )
    GenerationJob.objects.filter(pk=done.pk).update(created=AT, started=AT, finished=AT)
    for model in (Project, Question, Codeframe):
        model.objects.update(created=AT)
    api = APIClient()
    api.force_authenticate(user)
    replies = {
        "projects": api.get("/api/projects/"),
        "questions": api.get("/api/questions/"),
        "question": api.get(f"/api/questions/{qa.pk}/"),
        "question renamed": api.patch(f"/api/questions/{qa.pk}/", {"wave": "W1"}, format="json"),
        "codeframe": api.get(f"/api/codeframes/{cfa.pk}/?responses=false"),
        "approved": api.post(f"/api/codeframes/{cfa.pk}/approve/?responses=false"),
        "job": api.get(f"/api/jobs/{done.pk}/?responses=false"),
    }
    assert all(r.status_code == 200 for r in replies.values()), replies
    times = {name: _times(reply.json()) for name, reply in replies.items()}
    # question: its own, its codeframe's, the failed job's; job: its three, its codeframe's.
    least = {"question": 3, "question renamed": 3, "job": 4}
    assert all(len(found) >= least.get(name, 1) for name, found in times.items()), times
    return times


def test_every_time_the_api_gives_others_than_operators_is_to_the_second(clients):
    """The lists, the question's own time on its page and the project's were given to the
    microsecond: the body's times were cut after serializing, only where a view said so."""
    times = _every_time(clients, clients["alice"])
    cut = {name: [t for t in found if "." in t] for name, found in times.items()}
    assert not any(cut.values()), cut


def test_operators_get_every_time_to_the_microsecond(clients, django_user_model):
    root = django_user_model.objects.create_user("root", is_staff=True, is_superuser=True)
    times = _every_time(clients, root)
    whole = {
        name: [t for t in found if not t.endswith(".119790Z")] for name, found in times.items()
    }
    assert not any(whole.values()), whole


def test_a_time_serialized_without_a_request_is_to_the_second(clients):
    """A command or an export builds its serializers without a request: the safe side."""
    GenerationJob.objects.filter(pk=clients["job"].pk).update(created=AT)
    clients["job"].refresh_from_db()
    assert QuestionJobSerializer(clients["job"]).data["created"] == "2026-11-03T01:55:27Z"
    assert SecondsDateTimeField().to_representation(AT) == "2026-11-03T01:55:27Z"


def _fields(serializer) -> list:
    """Every field of `serializer`, nested ones included."""
    serializer = getattr(serializer, "child", serializer)  # many=True
    found = []
    for field in getattr(serializer, "fields", {}).values():
        found += [field, *_fields(field)]
    return found


def test_every_time_of_the_api_is_a_seconds_field():
    """A new time in a payload (a field, a model time in a ModelSerializer) cannot forget it."""
    payloads = [
        payload
        for payload in (getattr(serializers, name) for name in serializers.__all__)
        if isinstance(payload, type) and issubclass(payload, drf_serializers.BaseSerializer)
    ]
    times = [
        (payload.__name__, field.field_name, type(field))
        for payload in payloads
        for field in _fields(payload())
        if isinstance(field, drf_serializers.DateTimeField)
    ]
    assert len(times) >= 12, times  # a job's 3 and its codeframe's, a question page's 3...
    assert all(kind is SecondsDateTimeField for *_, kind in times), times
