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
import re
import secrets
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import redis
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django_tasks_db.models import DBTaskResult
from rest_framework.test import APIClient

from codeframe import exports, services
from codeframe.importers import ImportedRow
from codeframe.models import (
    Code,
    Codeframe,
    GenerationJob,
    Membership,
    Project,
    Question,
    SuggestedCode,
)
from embeddings import codec, keys
from embeddings.backends import get_backend
from embeddings.selectors import get_cache_stats
from embeddings.services import embed_texts_with_report, namespace_for
from tests.codeframe.conftest import ANSWERS
from tests.conftest import FAKE_BACKEND, redis_cache_settings, subprocess_env
from tests.proof.live import ADMIN_PASSWORD, ADMIN_USER, ROOT, Http, generate

pytestmark = [pytest.mark.proof, pytest.mark.django_db]

# --- Who may reach what ---------------------------------------------------------------------

# Members of the project that owns the objects, by role; an outsider (a plain user with only
# a personal project), a staff user without model permissions or membership, and a superuser.
ROLES = ("anonymous", "outsider", "staff", "viewer", "analyst", "manager", "superuser")
LOGIN = "login"  # a redirect to the app's login page
ADMIN_LOGIN = "admin login"  # a redirect to the admin's login page
ANY = None  # any answer below 500 (superusers may do everything; the others are asserted)


@pytest.fixture
def world(django_user_model):
    """Project "Client A" with a question, a codeframe and one member per role; the outsider
    and staff users have their own personal projects, with a question of their own."""
    make = django_user_model.objects.create_user
    users = {
        "outsider": make("outsider", password="pw-outsider-1"),
        "staff": make("staff", password="pw-staff-1", is_staff=True),
        "viewer": make("viewer", password="pw-viewer-1"),
        "analyst": make("analyst", password="pw-analyst-1"),
        "manager": make("manager", password="pw-manager-1"),
        "superuser": django_user_model.objects.create_superuser("root", password="pw-root-1"),
    }
    Group.objects.create(name="analysts")
    project = Project.objects.create(name="Client A")
    for role in ("viewer", "analyst", "manager"):
        Membership.objects.create(project=project, user=users[role], role=role)
    question = services.import_responses(
        rows=[ImportedRow(line=i, respondent_id=f"R{i}", text=t) for i, t in enumerate(ANSWERS)],
        project=project,
        survey="Client A NPS",
    ).question
    codeframe = services.create_codeframe(question=question, n_codes=3)
    code = codeframe.codes.order_by("number").first()
    response = question.responses.first()
    own = services.import_responses(
        rows=[ImportedRow(line=1, respondent_id="1", text="mine")],
        project=services.personal_project(user=users["outsider"]),
        survey="Outsider's own",
    ).question
    job = GenerationJob.objects.create(question=question, total=question.responses.count())
    task = DBTaskResult.objects.create(
        task_path="codeframe.tasks.check_job",
        args_kwargs={"args": [str(job.pk)], "kwargs": {}},
        backend_name="default",
        queue_name="default",
    )
    suggestion = SuggestedCode.objects.create(codeframe=codeframe, label="New theme", size=1)
    return {"users": users, "project": project, "question": question, "codeframe": codeframe,
            "code": code, "response": response, "own_question": own, "job": job, "task": task,
            "suggestion": suggestion}  # fmt: skip


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
    """A URL for the route pattern, with the ids of real objects (all of project "Client A")."""
    cf, code = world["codeframe"], world["code"]
    model_ids = {
        "auth/group": str(Group.objects.get().pk),
        "auth/user": str(world["users"]["viewer"].pk),
        "embeddings/cachestatistics": "1",
        "codeframe/project": str(world["project"].pk),
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
        "^(?P<app_label>auth|authtoken|axes|embeddings|codeframe|django_tasks_database)/$": (
            "codeframe/"
        ),
        "(?P<url>.*)$": "no-such-page/",
        r"(?P<rest>[\s\S]*)$": "no-such-endpoint/",
        "<path:content_type_id>/<path:object_id>": "1/1",
        "<int:content_type_id>/<path:object_id>": "1/1",
        "<path:object_id>": "1",
        "<int:question_id>": str(world["question"].pk),
        "nets/<int:number>": f"nets/{code.net.number}",
        "<int:number>": str(code.number),
        "<int:codeframe_id>": str(cf.pk),
        "<int:code_id>": str(code.pk),
        "<int:net_id>": str(code.net_id),
        "<int:response_id>": str(world["response"].pk),
        "<int:project_id>": str(world["project"].pk),
        "<int:user_id>": str(world["users"]["viewer"].pk),
        "<int:suggestion_id>": str(world["suggestion"].pk),
        "<str:decision>": "dismiss",
        "<str:fmt>": "csv",
        "<int:pk>": str(cf.pk),
        "<uuid:pk>": str(world["job"].pk),
        "<uuid:job_id>": str(world["job"].pk),
    }
    for placeholder, value in replacements.items():
        url = url.replace(placeholder, value)
    assert "<" not in url and "(?" not in url, f"no concrete URL for {route}"
    return "/" + url


def post_body(route: str, world) -> dict:
    """What each route is sent on POST: a valid request where there is an obvious one."""
    if route == "api/codeframes/":
        return {"question": world["question"].pk, "n_codes": 2}
    if route == "projects/<int:project_id>/members/":
        return {"username": "outsider", "role": "viewer"}
    if route == "questions/<int:question_id>/import/":
        return {"pasted": "one more answer"}
    if route == "questions/import/":
        return {"survey": "New", "pasted": "an answer", "project": world["project"].pk}
    if route == "projects/":
        return {"name": "Client B"}
    if route.startswith("api/"):
        # The API's actions take no body (one is refused); waves and suggestion decisions
        # need fields this leaves out (400).
        return {}
    return {"label": "x", "n_codes": "2", "target": world["code"].pk}


R = ROLES
# Per route: (answers to GET, answers to POST), one per role in ROLES order.
#                      anon          outsider staff viewer analyst manager superuser
OBJ_READ = (LOGIN, 404, 404, 200, 200, 200, 200)
OBJ_EDIT = (LOGIN, 404, 404, 403, 302, 302, 302)
OBJ_MANAGE = (LOGIN, 404, 404, 403, 403, 302, 302)
ALL_405 = (405,) * 7
OPEN = (LOGIN, 200, 200, 200, 200, 200, 200)
NON_STAFF = (ADMIN_LOGIN, ADMIN_LOGIN, 200, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200)
NON_STAFF_403 = (ADMIN_LOGIN, ADMIN_LOGIN, 403, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, ANY)
NON_STAFF_405 = (ADMIN_LOGIN, ADMIN_LOGIN, 405, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 405)
OPERATORS = (ADMIN_LOGIN, ADMIN_LOGIN, 403, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200)

EXPECTED = {
    # The app's pages: any logged-in user, within their projects.
    "": ((302,) * 7, (302,) * 7),
    "questions/": (OPEN, (405,) * 7),
    # A new question in "Client A": only its analysts and managers may (others: form error).
    "questions/import/": (OPEN, (LOGIN, 200, 200, 200, 302, 302, 302)),
    "questions/<int:question_id>/": (OBJ_READ, ALL_405),
    "questions/<int:question_id>/delete/": (ALL_405, OBJ_MANAGE),
    "questions/<int:question_id>/import/": (
        (LOGIN, 404, 404, 403, 200, 200, 200),
        OBJ_EDIT,
    ),
    "questions/<int:question_id>/generate/": (ALL_405, OBJ_EDIT),
    "codeframes/<int:codeframe_id>/": (OBJ_READ, ALL_405),
    "codeframes/<int:codeframe_id>/delete/": (ALL_405, OBJ_MANAGE),
    "codeframes/<int:codeframe_id>/export.<str:fmt>": (OBJ_READ, ALL_405),
    "codeframes/<int:codeframe_id>/codes/<int:code_id>/": (OBJ_READ, ALL_405),
    "codeframes/<int:codeframe_id>/codes/<int:code_id>/rename/": (ALL_405, OBJ_EDIT),
    "codeframes/<int:codeframe_id>/codes/<int:code_id>/merge/": (ALL_405, OBJ_EDIT),
    "codeframes/<int:codeframe_id>/codes/<int:code_id>/net/": (ALL_405, OBJ_EDIT),
    "codeframes/<int:codeframe_id>/nets/<int:net_id>/rename/": (ALL_405, OBJ_EDIT),
    "codeframes/<int:codeframe_id>/codes/<int:code_id>/delete/": (ALL_405, OBJ_EDIT),
    "codeframes/<int:codeframe_id>/responses/<int:response_id>/move/": (ALL_405, OBJ_EDIT),
    "codeframes/<int:codeframe_id>/responses/<int:response_id>/uncode/": (ALL_405, OBJ_EDIT),
    "codeframes/<int:codeframe_id>/codes/new/": (ALL_405, OBJ_EDIT),  # no label: a message
    "codeframes/<int:codeframe_id>/responses/<int:response_id>/codes/<int:code_id>/remove/": (
        ALL_405,
        OBJ_EDIT,
    ),
    "codeframes/<int:codeframe_id>/uncoded/": (OBJ_READ, ALL_405),
    "codeframes/<int:codeframe_id>/review/": (OBJ_READ, ALL_405),
    "codeframes/<int:codeframe_id>/find/": (OBJ_READ, ALL_405),
    "codeframes/<int:codeframe_id>/find/code/": (ALL_405, OBJ_EDIT),  # none ticked: a message
    "codeframes/<int:codeframe_id>/review/confirm/": (ALL_405, OBJ_EDIT),  # none: a message
    "codeframes/<int:codeframe_id>/responses/<int:response_id>/confirm/": (ALL_405, OBJ_EDIT),
    "codeframes/<int:codeframe_id>/responses/<int:response_id>/release/": (ALL_405, OBJ_EDIT),
    # Background jobs: their progress pages and actions, within the job's project.
    "jobs/<uuid:job_id>/": (OBJ_READ, ALL_405),
    "jobs/<uuid:job_id>/cancel/": (ALL_405, OBJ_EDIT),
    "jobs/<uuid:job_id>/retry/": (ALL_405, OBJ_EDIT),  # a queued job: a message, then back
    # Trackers.
    "questions/<int:question_id>/tracker/": (OBJ_READ, ALL_405),
    "questions/<int:question_id>/wave/": (ALL_405, OBJ_EDIT),  # no name: a message
    "codeframes/<int:codeframe_id>/approve/": (ALL_405, OBJ_EDIT),
    # "Client A"'s codeframe is not approved, so it codes no wave: analysts are sent back to it
    # with the reason before they fill the form in.
    "codeframes/<int:codeframe_id>/waves/new/": (OBJ_EDIT, OBJ_EDIT),
    # "Client A"'s codeframe is no wave's: analysts are sent back to it with a message.
    "codeframes/<int:codeframe_id>/carry-back/": (OBJ_EDIT, OBJ_EDIT),
    "codeframes/<int:codeframe_id>/recode/": (ALL_405, OBJ_EDIT),  # likewise, with a message
    "codeframes/<int:codeframe_id>/suggestions/<int:suggestion_id>/<str:decision>/": (
        ALL_405,
        OBJ_EDIT,
    ),
    "projects/": (OPEN, (LOGIN, 302, 302, 302, 302, 302, 302)),
    "projects/<int:project_id>/": (OBJ_READ, ALL_405),
    "projects/<int:project_id>/members/": (ALL_405, OBJ_MANAGE),
    "projects/<int:project_id>/members/<int:user_id>/remove/": (ALL_405, OBJ_MANAGE),
    "accounts/login/": ((200,) * 7, (200,) * 7),  # a POST without credentials: form errors
    "accounts/logout/": (ALL_405, (LOGIN,) * 7),
    # The API: authenticated users within their projects (JSON 401 for anonymous: the token
    # challenge).
    "api/codeframes/": ((401, 405, 405, 405, 405, 405, 405), (401, 404, 404, 403, 202, 202, 202)),
    "api/codeframes/<int:pk>/": (
        (401, 404, 404, 200, 200, 200, 200),
        (401, 405, 405, 405, 405, 405, 405),
    ),
    "api/codeframes/<int:pk>/waves/": (
        (401, 405, 405, 405, 405, 405, 405),
        (401, 404, 404, 403, 400, 400, 400),  # no wave label or answers in the body
    ),
    "api/codeframes/<int:pk>/carry-back/": ((401, 404, 404, 403, 409, 409, 409),) * 2,
    "api/codeframes/<int:pk>/recode/": (
        (401, 405, 405, 405, 405, 405, 405),
        (401, 404, 404, 403, 409, 409, 409),  # no wave's codeframe
    ),
    "api/codeframes/<int:pk>/approve/": (
        (401, 405, 405, 405, 405, 405, 405),
        (401, 404, 404, 403, 200, 200, 200),
    ),
    "api/codeframes/<int:pk>/export/<str:fmt>/": (
        (401, 404, 404, 200, 200, 200, 200),
        (401, 405, 405, 405, 405, 405, 405),
    ),
    "api/codeframes/<int:pk>/suggestions/": (
        (401, 404, 404, 200, 200, 200, 200),
        (401, 405, 405, 405, 405, 405, 405),
    ),
    "api/codeframes/<int:pk>/tracker/": (
        (401, 404, 404, 200, 200, 200, 200),
        (401, 405, 405, 405, 405, 405, 405),
    ),
    "api/codeframes/<int:pk>/suggestions/<int:suggestion_id>/": (
        (401, 405, 405, 405, 405, 405, 405),
        (401, 404, 404, 403, 400, 400, 400),  # no decision in the body
    ),
    # Editing a codeframe's codes and nets (api_edits): a POST without the fields is a 400.
    "api/codeframes/<int:codeframe_id>/codes/": (
        (401, 405, 405, 405, 405, 405, 405),
        (401, 404, 404, 403, 400, 400, 400),
    ),
    "api/codeframes/<int:codeframe_id>/codes/<int:number>/": ((401, 405, 405, 405, 405, 405, 405),)
    * 2,
    "api/codeframes/<int:codeframe_id>/codes/<int:number>/merge/": (
        (401, 405, 405, 405, 405, 405, 405),
        (401, 404, 404, 403, 400, 400, 400),
    ),
    "api/codeframes/<int:codeframe_id>/codes/<int:number>/responses/": (
        (401, 405, 405, 405, 405, 405, 405),
        (401, 404, 404, 403, 400, 400, 400),
    ),
    "api/codeframes/<int:codeframe_id>/codes/<int:number>/responses/remove/": (
        (401, 405, 405, 405, 405, 405, 405),
        (401, 404, 404, 403, 400, 400, 400),
    ),
    "api/codeframes/<int:codeframe_id>/nets/<int:number>/": ((401, 405, 405, 405, 405, 405, 405),)
    * 2,
    "api/codeframes/<int:codeframe_id>/responses/": (
        (401, 404, 404, 400, 400, 400, 400),  # no search words
        (401, 405, 405, 405, 405, 405, 405),
    ),
    "api/codeframes/<int:codeframe_id>/responses/<int:response_id>/": (
        (401, 405, 405, 405, 405, 405, 405),
    )
    * 2,
    "api/codeframes/<int:codeframe_id>/review/": (
        (401, 404, 404, 200, 200, 200, 200),
        (401, 405, 405, 405, 405, 405, 405),
    ),
    "api/jobs/<uuid:pk>/": (
        (401, 404, 404, 200, 200, 200, 200),
        (401, 405, 405, 405, 405, 405, 405),
    ),
    "api/jobs/<uuid:pk>/cancel/": (
        (401, 405, 405, 405, 405, 405, 405),
        (401, 404, 404, 403, 200, 200, 200),
    ),
    "api/jobs/<uuid:pk>/retry/": (
        (401, 405, 405, 405, 405, 405, 405),
        (401, 404, 404, 403, 409, 409, 409),  # a queued job
    ),
    "api/projects/": ((401, 200, 200, 200, 200, 200, 200), (401, 405, 405, 405, 405, 405, 405)),
    "api/questions/": ((401, 200, 200, 200, 200, 200, 200), (401, 405, 405, 405, 405, 405, 405)),
    "api/questions/<int:question_id>/": (
        (401, 404, 404, 200, 200, 200, 200),
        (401, 405, 405, 405, 405, 405, 405),
    ),
    # Any other URL under /api/: a JSON 404 for everyone (it tells nothing).
    r"^api/(?P<rest>[\s\S]*)$": ((404,) * 7, (404,) * 7),
    "api/schema/": ((401, 200, 200, 200, 200, 200, 200), (401, 405, 405, 405, 405, 405, 405)),
    "api/docs/": ((401, 200, 200, 200, 200, 200, 200), (401, 405, 405, 405, 405, 405, 405)),
    # The shared cache's figures are the operators' (superusers; `embeddings.access`).
    "api/embeddings/stats/": (
        (401, 403, 403, 403, 403, 403, 200),
        (401, 403, 403, 403, 403, 403, 405),
    ),
    "metrics": ((401, 403, 403, 403, 403, 403, 200),) * 2,  # read-only whatever the method
    "healthz": ((200,) * 7, (405,) * 7),  # for probes: no login, nothing but whether it serves
    # The Django admin: staff only; staff without model permissions is refused.
    "admin/": (NON_STAFF, NON_STAFF),
    "admin/login/": ((200, 200, 302, 200, 200, 200, 302), (200, 200, 200, 200, 200, 200, 200)),
    "admin/logout/": ((302, 302, 405, 302, 302, 302, 405), (302, 302, LOGIN, 302, 302, 302, LOGIN)),
    "admin/password_change/": (NON_STAFF, NON_STAFF),
    "admin/password_change/done/": (NON_STAFF, NON_STAFF_405),
    "admin/autocomplete/": (NON_STAFF_403, NON_STAFF_405),
    "admin/jsi18n/": (NON_STAFF, NON_STAFF_405),
    "admin/r/<path:content_type_id>/<path:object_id>/": (
        (ADMIN_LOGIN, ADMIN_LOGIN, 404, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 404),
    )
    * 2,
    # "View on site", within the user's projects (codeframe.admin_reach; test_reach.py).
    "admin/r/<int:content_type_id>/<path:object_id>/": (
        (ADMIN_LOGIN, ADMIN_LOGIN, 404, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 404),
    )
    * 2,
    "admin/^(?P<app_label>auth|authtoken|axes|embeddings|codeframe|django_tasks_database)/$": (
        (ADMIN_LOGIN, ADMIN_LOGIN, 404, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200),
    )
    * 2,
    "admin/(?P<url>.*)$": (
        (ADMIN_LOGIN, ADMIN_LOGIN, 404, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 404),
    )
    * 2,
    "admin/embeddings/cachestatistics/": (OPERATORS, OPERATORS),  # a POST just shows it
    "admin/embeddings/cachestatistics/reset/": (NON_STAFF_403, NON_STAFF_403),
    "admin/embeddings/cachestatistics/flush/": (NON_STAFF_403, NON_STAFF_403),
    "admin/embeddings/cachestatistics/recount/": (NON_STAFF_403, NON_STAFF_403),
}


def expected(route: str) -> tuple[tuple, tuple]:
    if route in EXPECTED:
        return EXPECTED[route]
    if route.startswith(
        (
            "admin/auth/",
            "admin/authtoken/",
            "admin/axes/",
            "admin/codeframe/",
            "admin/django_tasks_database/",
        )
    ):
        # The model admins: staff without model permissions is refused; superusers may.
        if route.endswith("/<path:object_id>/"):
            redirect = (ADMIN_LOGIN, ADMIN_LOGIN, 302, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, ANY)
            return redirect, redirect  # to the object's change page
        if route.endswith("/<path:object_id>/history/"):
            # Refused (403), or, for an object outside the staff user's projects, "missing":
            # the admin sends them to its index, as for an id that exists nowhere.
            refused = frozenset({302, 403})
            history = (
                ADMIN_LOGIN,
                ADMIN_LOGIN,
                refused,
                ADMIN_LOGIN,
                ADMIN_LOGIN,
                ADMIN_LOGIN,
                ANY,
            )
            return history, history
        return NON_STAFF_403, NON_STAFF_403
    raise KeyError(route)


def client_for(role: str, world, **kwargs) -> Client:
    client = Client(raise_request_exception=False, **kwargs)
    if role != "anonymous":
        client.force_login(world["users"][role])
    return client


def outcome(response) -> object:
    location = response.get("Location", "") if response.status_code == 302 else ""
    if location.startswith("/admin/login/"):
        return ADMIN_LOGIN
    if location.startswith("/accounts/login/"):
        return LOGIN
    return response.status_code


def test_every_route_is_in_the_matrix():
    missing = []
    for route in walk_routes():
        try:
            expected(route)
        except KeyError:
            missing.append(route)
    assert not missing, f"routes without an access expectation: {missing}"


def _matrix(world, method: str) -> list:
    """Every route x role with `method`; each POST is rolled back so the next starts from the
    same world (deletes included)."""
    wrong = []
    for role_index, role in enumerate(ROLES):
        for route in walk_routes():
            want = expected(route)[0 if method == "GET" else 1][role_index]
            client = client_for(role, world)  # a fresh session: logout routes end theirs
            with transaction.atomic():
                if method == "GET":
                    response = client.get(concrete(route, world))
                else:
                    url, body = concrete(route, world), post_body(route, world)
                    if route.startswith("api/"):
                        response = client.post(url, body, content_type="application/json")
                    else:
                        response = client.post(url, body)
                transaction.set_rollback(True)
            got = outcome(response)
            if want is ANY:
                ok = response.status_code < 500
            else:
                ok = got in want if isinstance(want, frozenset) else got == want
            if not ok:
                wrong.append((method, role, route, want, got))
    return wrong


@pytest.fixture
def unthrottled(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"codeframe_generate": None, "codeframe_import": None},
    }


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_every_route_answers_each_role_as_intended(world, unthrottled, method):
    wrong = _matrix(world, method)
    assert not wrong, "\n".join(map(str, wrong))
    routes = walk_routes()
    print(f"route matrix: {len(routes)} routes x {len(ROLES)} roles = {len(routes) * 7} {method}s")


PATCH_400 = (401, 404, 404, 403, 400, 400, 400)  # no field in the body
DELETED = (401, 404, 404, 403, 204, 204, 204)


@pytest.mark.parametrize(
    ("method", "route", "want"),
    [
        # anonymous, outsider, staff, viewer, analyst, manager, superuser
        ("delete", "api/codeframes/<int:pk>/approve/", (401, 404, 404, 403, 200, 200, 200)),
        ("delete", "api/questions/<int:question_id>/", (401, 404, 404, 403, 403, 204, 204)),
        ("patch", "api/questions/<int:question_id>/", (401, 404, 404, 403, 400, 400, 400)),
        ("patch", "api/codeframes/<int:codeframe_id>/codes/<int:number>/", PATCH_400),
        ("delete", "api/codeframes/<int:codeframe_id>/codes/<int:number>/", DELETED),
        ("patch", "api/codeframes/<int:codeframe_id>/nets/<int:number>/", PATCH_400),
    ],
)
def test_the_api_deletes_and_patches_answer_each_role_as_intended(
    world, unthrottled, method, route, want
):
    """The route matrix sends GET and POST; these routes also take DELETE (withdrawing an
    approval, deleting a code: analysts; deleting a question: managers, as on its page) or
    PATCH (naming a question's wave, renaming a code or a net: analysts; nothing in the body
    here, so 400)."""
    got = []
    for role in ROLES:
        client = client_for(role, world)
        with transaction.atomic():
            got.append(getattr(client, method)(concrete(route, world)).status_code)
            transaction.set_rollback(True)
    assert tuple(got) == want


def test_an_outsider_gets_404_on_every_object_route_of_another_project(world, unthrottled):
    """Ids cannot be probed: every page, export, form target and API route that names an
    object of "Client A" answers the outsider (and a staff user who is not a member) 404,
    whatever the method, unless the method itself is refused first (405, for every id)."""
    names_an_object = re.compile(
        r"<int:(question|codeframe|project)_id>|<int:pk>|<uuid:(job_id|pk)>"
    )
    object_routes = [
        r for r in walk_routes() if not r.startswith("admin/") and names_an_object.search(r)
    ]
    assert len(object_routes) >= 16
    for role in ("outsider", "staff"):
        client = client_for(role, world)
        for route in object_routes:
            for method in ("get", "post"):
                with transaction.atomic():
                    response = getattr(client, method)(
                        concrete(route, world), post_body(route, world)
                    )
                    transaction.set_rollback(True)
                assert response.status_code in (404, 405), (role, method, route)
                if response.status_code == 405:
                    # The same 405 for an id that exists nowhere.
                    missing = re.sub(r"/\d+/", "/987654/", concrete(route, world), count=1)
                    assert getattr(client, method)(missing).status_code == 405
    # ...while the same user reaches their own project's question.
    own = world["own_question"]
    assert client_for("outsider", world).get(own.get_absolute_url()).status_code == 200


def test_every_post_needs_the_csrf_token(world):
    """A superuser's session without the token: every route refuses a POST with 403 before
    anything runs (pages, admin, API, metrics). Then the same posts with the token pass."""
    client = client_for("superuser", world, enforce_csrf_checks=True)
    routes = walk_routes()
    accepted = []
    for route in routes:
        response = client.post(concrete(route, world), {"label": "x", "n_codes": "2"})
        # Except the API's JSON 404 for URLs no endpoint has: it runs nothing, and a token
        # client (no session, no CSRF token) must get that 404, not an HTML CSRF page.
        refused = 404 if route == r"^api/(?P<rest>[\s\S]*)$" else 403
        if response.status_code != refused:
            accepted.append((route, response.status_code))
    assert not accepted, accepted
    assert Codeframe.objects.count() == 1 and Question.objects.count() == 2

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
def test_maintenance_needs_a_superuser(world, redis_cache, action, caplog):
    embed_texts_with_report(["kept one", "kept two"])
    before = get_cache_stats()
    url = f"/admin/embeddings/cachestatistics/{action}/"
    for role in ("anonymous", "outsider", "viewer", "manager", "staff"):
        client = client_for(role, world)
        client.get("/admin/")  # a CSRF cookie where the role has one
        token = client.cookies["csrftoken"].value if "csrftoken" in client.cookies else ""
        response = client.post(url, {"csrfmiddlewaretoken": token})
        assert outcome(response) in (ADMIN_LOGIN, 403), (role, response.status_code)
    after = get_cache_stats()
    assert after.lifetime.requests == before.lifetime.requests == 2
    assert embed_texts_with_report(["kept one", "kept two"]).hits == 2

    superuser = client_for("superuser", world)
    with caplog.at_level("INFO", logger="embeddings.admin"):
        assert superuser.post(url).status_code == 302
    # The store keeps no record of who emptied it: the log does.
    [said] = [r.getMessage() for r in caplog.records if r.name == "embeddings.admin"]
    assert f"by {world['users']['superuser'].get_username()} in the admin" in said, said
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


def test_an_acl_user_without_info_sees_a_working_cache_with_its_figures_unknown(
    own_redis, settings, tmp_path
):
    """docs/reliability.md's least-privilege user ("no dangerous commands") may not run INFO:
    the stats said the cache was unreachable (CRITICAL, exit 1 in cron) with 0 hits, and check
    --deploy said W003, while every lookup worked."""
    server = own_redis(password="s3cret-admin")
    admin = redis.Redis(host="127.0.0.1", port=server.port, password="s3cret-admin")
    admin.execute_command(
        "ACL", "SETUSER", "emb", "on", ">emb-pw-42", "~emb:*", "resetchannels",
        "+@all", "-@dangerous",
    )  # fmt: skip
    url = f"redis://emb:emb-pw-42@127.0.0.1:{server.port}/2"
    settings.CACHES = {**settings.CACHES, "embeddings": redis_cache_settings(url)}
    embed_texts_with_report(["alpha", "beta"])
    assert embed_texts_with_report(["alpha"]).hits == 1

    stats = get_cache_stats()
    assert stats.reachable and stats.error is None
    assert stats.lifetime.requests == 3 and stats.lifetime.hits == 1
    assert stats.entries_total is None and stats.used_memory is None and stats.persistence == {}
    codes = [w.code for w in stats.warnings]
    assert "info_denied" in codes and "unreachable" not in codes and "no_persistence" not in codes
    output = check_deploy_caches(url, tmp_path).output
    assert "embeddings.W007" in output and "embeddings.W003" not in output, output
    assert "emb-pw-42" not in output


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
    done = check_deploy_caches(url, tmp_path)
    output = done.output
    assert done.returncode == 0, output
    assert "embeddings.W003" in output and "Cannot reach the embeddings store" in output
    assert "WRONGPASS" in output or "invalid username-password" in output
    assert "wrong-password" not in output


def check_deploy_caches(url: str, tmp_path) -> subprocess.CompletedProcess:
    """`manage.py check --deploy --tag caches` with the embeddings on `url`; `output` holds
    its stdout and stderr together."""
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--tag", "caches"],
        cwd=ROOT,
        env=subprocess_env(EMBEDDINGS_REDIS_URL=url, DJANGO_VAR_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    done.output = done.stdout + done.stderr
    return done


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
    ("unknown charset", b'{"responses": ["a"]}', "application/json; charset=rot13", {400}),
    ("charset not text", b'{"responses": ["a"]}', "application/json; charset=base64", {400}),
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


def _xlsx(rows: list[list]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _with_parts(workbook: bytes, parts: dict[str, bytes]) -> bytes:
    """The workbook with some parts replaced (or added), compressed as a zip tool would."""
    source = zipfile.ZipFile(io.BytesIO(workbook))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as target:
        for name in dict.fromkeys([*source.namelist(), *parts]):
            target.writestr(name, parts[name] if name in parts else source.read(name))
    return out.getvalue()


SHEET = "xl/worksheets/sheet1.xml"
SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)


def _cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def zip_bomb() -> bytes:
    """64 MB of shared strings in about 70 KB: what openpyxl would load whole into memory."""
    strings = b"<si><t>" + b"A" * 60 + b"</t></si>"
    shared = (
        b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/'
        b'spreadsheetml/2006/main">' + strings * (64 * 1024 * 1024 // len(strings)) + b"</sst>"
    )
    workbook = _xlsx([["answer"], ["fine"]])
    types = zipfile.ZipFile(io.BytesIO(workbook)).read("[Content_Types].xml")
    shared_type = (
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
        b'officedocument.spreadsheetml.sharedStrings+xml" /></Types>'
    )
    types = types.replace(b"</Types>", shared_type)  # so that openpyxl reads them
    return _with_parts(workbook, {"xl/sharedStrings.xml": shared, "[Content_Types].xml": types})


def malformed_sheet() -> bytes:
    """A valid zip whose sheet XML stops in the middle of a row."""
    rows = "".join(f'<row r="{i}">{_cell(f"A{i}", f"answer {i}")}</row>' for i in range(2, 50))
    xml = f'{SHEET_HEAD}<sheetData><row r="1">{_cell("A1", "answer")}</row>{rows}'
    return _with_parts(_xlsx([["answer"]]), {SHEET: xml[: len(xml) * 2 // 3].encode()})


def damaged_row() -> bytes:
    """A sheet whose size reads fine, with a broken row further down."""
    rows = "".join(f'<row r="{i}">{_cell(f"A{i}", f"answer {i}")}</row>' for i in range(2, 40))
    xml = (
        f'{SHEET_HEAD}<dimension ref="A1:A41"/><sheetData><row r="1">{_cell("A1", "answer")}'
        f'</row>{rows}<row r="40"><c r="A40" t="s"><v>not-a-number</v></c></row></sheetData>'
        "</worksheet>"
    )
    return _with_parts(_xlsx([["answer"]]), {SHEET: xml.encode()})


def million_empty_rows() -> bytes:
    """Three answers, then 10^6 formatted but empty rows (what formatting a column leaves)."""
    answers = "".join(f'<row r="{i}">{_cell(f"A{i}", f"answer {i}")}</row>' for i in (2, 3, 4))
    empty = "".join(f'<row r="{i}"><c r="A{i}" s="0"/></row>' for i in range(5, 1_000_005))
    xml = (
        f'{SHEET_HEAD}<dimension ref="A1:A1000004"/><sheetData>'
        f'<row r="1">{_cell("A1", "answer")}</row>{answers}{empty}</sheetData></worksheet>'
    )
    return _with_parts(_xlsx([["answer"]]), {SHEET: xml.encode()})


def formula_answers() -> bytes:
    return _xlsx([["id", "answer"], ["R1", "Too expensive"], ["R2", '=A3&" is fine"']])


@pytest.mark.parametrize(
    ("name", "build", "status", "says"),
    [
        ("zip bomb", zip_bomb, 200, "zip bomb"),
        ("malformed sheet", malformed_sheet, 200, "is damaged"),
        ("damaged row", damaged_row, 200, "damaged at row 40"),
        ("truncated archive", lambda: _xlsx([["answer"], ["x"]])[:-200], 200, "not a readable"),
        ("a million empty rows", million_empty_rows, 302, ""),
        ("formulas in the answer column", formula_answers, 200, "is a formula"),
    ],
)
def test_hostile_workbooks(world, monkeypatch, name, build, status, says):
    """Refused with a form error that says why, or (empty rows) imported quickly; every
    workbook openpyxl opened is closed again, whatever happened."""
    import openpyxl

    opened = []
    real_load = openpyxl.load_workbook

    def spy(*args, **kwargs):
        opened.append(real_load(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(openpyxl, "load_workbook", spy)
    content = build()
    client = client_for("analyst", world)
    before = Question.objects.count()
    started = time.perf_counter()
    response = _upload(client, "hostile.xlsx", content, project=world["project"].pk)
    seconds = time.perf_counter() - started
    assert response.status_code == status, (name, response.content[-2000:])
    if status == 200:
        page = response.content.decode()
        assert "errorlist" in page and says in page, page[-3000:]
        assert Question.objects.count() == before
    else:
        question = Question.objects.get(survey="Hostile")
        assert list(question.responses.values_list("text", flat=True)) == [
            "answer 2",
            "answer 3",
            "answer 4",
        ]
    if name == "zip bomb":
        assert opened == [], "openpyxl opened the bomb"
    assert all(workbook._archive.fp is None for workbook in opened), "a workbook left open"
    print(f"{name}: {len(content):,} bytes, answered {response.status_code} in {seconds:.2f} s")


def test_xlsx_expanding_beyond_the_total_limit_is_refused(world, settings):
    settings.CODEFRAME = {**settings.CODEFRAME, "XLSX_MAX_UNCOMPRESSED_BYTES": 4096}
    response = _upload(
        client_for("analyst", world),
        "big.xlsx",
        _xlsx([["answer"], *[[f"answer {i}"] for i in range(500)]]),
        project=world["project"].pk,
    )
    assert response.status_code == 200
    assert "expands to" in response.content.decode() and Question.objects.count() == 2


def test_xlsx_with_too_many_text_cells_is_refused_before_it_is_read(world, settings):
    """openpyxl holds a workbook's shared strings in memory whole, about 7 times their XML:
    a 13.6 MB upload of 3 million short strings took a web process to 570 MB for 30 s."""
    settings.CODEFRAME = {**settings.CODEFRAME, "XLSX_MAX_SHARED_STRINGS_BYTES": 2048}
    strings = "".join(f"<si><t>answer number {i}</t></si>" for i in range(500))
    workbook = _with_parts(
        _xlsx([["answer"], ["answer 1"]]),
        {"xl/sharedStrings.xml": f'<sst count="500">{strings}</sst>'.encode()},
    )
    response = _upload(
        client_for("analyst", world), "strings.xlsx", workbook, project=world["project"].pk
    )
    assert response.status_code == 200
    assert "text cells take" in response.content.decode() and Question.objects.count() == 2
    # Under another name, as [Content_Types].xml declares it (openpyxl finds it there).
    source = zipfile.ZipFile(io.BytesIO(workbook))
    renamed = io.BytesIO()
    with zipfile.ZipFile(renamed, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "[Content_Types].xml":
                data = data.replace(
                    b"</Types>",
                    b'<Override PartName="/xl/strings.xml" ContentType="application/vnd.'
                    b'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
                )
            name = "xl/strings.xml" if item.filename == "xl/sharedStrings.xml" else item.filename
            target.writestr(name, data)
    response = _upload(
        client_for("analyst", world),
        "strings.xlsx",
        renamed.getvalue(),
        project=world["project"].pk,
    )
    assert "text cells take" in response.content.decode() and Question.objects.count() == 2


INERT = ("=", "+", "-", "@", "\t", "\r")


def _csv_cells(body: bytes) -> int:
    cells = 0
    for row in csv.reader(io.StringIO(body.decode("utf-8-sig"))):
        for cell in row:
            assert not cell.startswith(INERT), cell
            cells += 1
    return cells


def _xlsx_cells(body: bytes) -> int:
    from openpyxl import load_workbook

    cells = 0
    for sheet in load_workbook(io.BytesIO(body)).worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", cell.value
                if isinstance(cell.value, str):
                    if cell.value.startswith(INERT):
                        # A text cell with Excel's hidden quote prefix, the value unchanged.
                        assert cell.data_type == "s" and cell.quotePrefix, cell.value
                    cells += 1
    return cells


def _sav_cells(body: bytes) -> int:
    """SPSS reads a string as a string, never as a formula: the answers must arrive whole
    (the CSV's neutralising quote would be a change to the data here)."""
    import pyreadstat

    with tempfile.NamedTemporaryFile(suffix=".sav") as file:
        file.write(body)
        file.flush()
        frame, _meta = pyreadstat.read_sav(file.name)
    answers = [value for value in frame["answer"] if isinstance(value, str)]
    assert any(a.startswith(INERT) for a in answers)  # FORMULAS, as they were typed
    return len(answers)


_READ_AND_CHECK = {"csv": _csv_cells, "xlsx": _xlsx_cells, "sav": _sav_cells}


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
    # Every format, read back as a spreadsheet or a data tool would: a new export format
    # fails here until its reader says how its cells are checked.
    for exporter in exports.EXPORTERS:
        query = f"?layout={exporter.layout}" if exporter.layout else ""
        response = client.get(f"/codeframes/{codeframe.pk}/export.{exporter.format}{query}")
        body = b"".join(response) if exporter.streaming else response.content
        exported += _READ_AND_CHECK[exporter.format](body)
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
    env = production_env(
        tmp_path,
        EMBEDDINGS_REDIS_URL=f"redis://127.0.0.1:{server.port}/2",
        DJANGO_CACHE_URL=f"redis://127.0.0.1:{server.port}/3",
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout
    # Without a shared default cache, each web process would count throttles on its own.
    local = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env={**env, "DJANGO_CACHE_URL": ""}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert local.returncode == 1 and "codeframe.W001" in local.stdout + local.stderr
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
        # Numbers and URLs that would misbehave later (0: every running job recovered at
        # once; "abc": a bare ValueError; http://: a traceback in check --deploy).
        ({"CODEFRAME_JOB_TIMEOUT": "0"}, "CODEFRAME_JOB_TIMEOUT must be a whole number of at"),
        ({"CODEFRAME_JOB_TIMEOUT": "abc"}, "at least 1, not 'abc'"),
        ({"CODEFRAME_JOB_MAX_ATTEMPTS": "0"}, "CODEFRAME_JOB_MAX_ATTEMPTS must be"),
        ({"EMBEDDINGS_BATCH_SIZE": "-5"}, "EMBEDDINGS_BATCH_SIZE must be"),
        (
            {"EMBEDDINGS_REDIS_URL": "redis://127.0.0.1:1/2", "EMBEDDINGS_REDIS_TIMEOUT": "0"},
            "EMBEDDINGS_REDIS_TIMEOUT must be a number",
        ),
        ({"EMBEDDINGS_REDIS_URL": "http://127.0.0.1:6399/2"}, "not a http one"),
        # Database "2x" was database 0, shared with whatever else is there, without a word.
        ({"EMBEDDINGS_REDIS_URL": "redis://127.0.0.1:6399/2x"}, "not /2x"),
        # An unencoded "#" in the password: Redis was dialled at a host made of its rest.
        ({"EMBEDDINGS_REDIS_URL": "redis://cx:p@ss#w/rd@127.0.0.1:6399/2"}, "percent-encode"),
        # A rate DRF cannot parse: every generation (import) was a 500.
        ({"CODEFRAME_GENERATE_RATE": "lots"}, "CODEFRAME_GENERATE_RATE must be requests per"),
        ({"CODEFRAME_IMPORT_RATE": "5 per hour"}, "CODEFRAME_IMPORT_RATE must be requests per"),
        # The throttles' cache: http:// passed check --deploy, then every generation was a 500.
        ({"DJANGO_CACHE_URL": "http://127.0.0.1:6399/3"}, "DJANGO_CACHE_URL must be a redis://"),
        # Choices: a bare KeyError and a logging ValueError that named no variable.
        ({"CODEFRAME_TASK_BACKEND": "celery"}, "CODEFRAME_TASK_BACKEND must be one of"),
        ({"EMBEDDINGS_LOG_LEVEL": "LOUD"}, "EMBEDDINGS_LOG_LEVEL must be one of"),
        # A misspelt switch read as "off" would drop the HTTPS redirect without a word.
        ({"DJANGO_SECURE_SSL_REDIRECT": "ture"}, "DJANGO_SECURE_SSL_REDIRECT must be one of"),
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


@pytest.mark.parametrize(
    "change",
    [{"EMBEDDINGS_LOG_LEVEL": "WARN"}, {"CODEFRAME_LOG_LEVEL": "notset"},
     {"DJANGO_CACHE_URL": "rediss://127.0.0.1:6399/3"}, {"CODEFRAME_TASK_BACKEND": " Immediate "}],
)  # fmt: skip
def test_production_takes_every_value_logging_and_redis_take(tmp_path, change):
    """The choices refused at startup are only those nothing reads: WARN and NOTSET are
    logging's names too."""
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT, env={**production_env(tmp_path), **change}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_gunicorn_refuses_a_bad_number_by_name(tmp_path):
    env = {**production_env(tmp_path), "GUNICORN_WORKERS": "abc"}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "config/gunicorn.conf.py",
         "--check-config", "config.wsgi:application"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0
    assert "GUNICORN_WORKERS must be a whole number of at least 1, not 'abc'" in done.stderr


def test_settings_fail_closed_without_django_env(tmp_path):
    """No DJANGO_ENV at all is production: the secret key is required, DEBUG is off and the
    API takes no Basic auth."""
    env = {k: v for k, v in production_env(tmp_path).items() if k != "DJANGO_ENV"}
    show = (
        "from django.conf import settings; print(settings.DEBUG, settings.ENVIRONMENT, "
        "settings.REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES'])"
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", show],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.stdout.startswith("False production"), done.stdout + done.stderr
    assert "TokenAuthentication" in done.stdout and "BasicAuthentication" not in done.stdout
    env.pop("DJANGO_SECRET_KEY")
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0 and "DJANGO_SECRET_KEY must be set" in done.stderr


PRODUCTION_500 = """
from django.contrib.auth import get_user_model
from django.test import Client
from codeframe import selectors
def boom(**kwargs):
    raise RuntimeError("boom-7f3a in the question list")
selectors.listed_questions = boom
user = get_user_model().objects.create_user("u", password="pw-u-123456")
client = Client(raise_request_exception=False, HTTP_HOST="codeframes.example.com")
client.force_login(user)
print("STATUS", client.get("/questions/", secure=True).status_code)
"""


def test_production_logs_every_500_with_its_traceback(tmp_path):
    env = production_env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert migrate.returncode == 0, migrate.stderr
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", PRODUCTION_500],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "STATUS 500" in done.stdout, done.stdout + done.stderr
    assert "ERROR django.request: Internal Server Error: /questions/" in done.stderr
    assert "Traceback" in done.stderr and "boom-7f3a in the question list" in done.stderr
