import json

import pytest
from rest_framework.test import APIClient

from codeframe import services
from codeframe.models import Codeframe, Question

pytestmark = pytest.mark.django_db

URL = "/api/codeframes/"


def post(client, payload, **extra):
    return client.post(URL, data=json.dumps(payload), content_type="application/json", **extra)


def test_anonymous_callers_are_refused(codeframe):
    client = APIClient()
    assert post(client, {"responses": ["a"]}).status_code in (401, 403)
    assert client.get(f"{URL}{codeframe.pk}/").status_code in (401, 403)
    # Session authentication comes first, so DRF answers 403 rather than 401 with a challenge.
    wrong = client.get(f"{URL}{codeframe.pk}/", HTTP_AUTHORIZATION="Basic eDp5")
    assert wrong.status_code in (401, 403) and "Invalid username/password" in wrong.json()["detail"]
    assert not Question.objects.exclude(pk=codeframe.question_id).exists()


def test_post_responses_queues_a_job_that_ends_with_the_codeframe(api_client):
    answers = ["Too expensive", "Fees are high", "Great staff", "Friendly staff", "n/a"]
    response = post(api_client, {"responses": answers, "survey": "API wave"})
    assert response.status_code == 202, response.content
    job = response.json()
    assert response["Location"] == job["status_url"]
    assert job["status_url"].endswith(f"/api/jobs/{job['id']}/")
    # The immediate backend (tests) ran the job in the call; a worker would have it "queued".
    assert job["state"] == "done" and job["percent"] == 100 and job["total"] == 5
    status = api_client.get(job["status_url"])
    assert status.status_code == 200 and status.json()["state"] == "done"
    body = status.json()["codeframe"]
    codeframe = Codeframe.objects.get(pk=body["id"])
    assert codeframe.question.survey == "API wave"
    assert body["response_count"] == 5 and len(body["responses"]) == 5
    # The cache is every project's: whether an answer was a hit is not a project's to see,
    # nor the embedding step's time, which says as much (tests/codeframe/test_reach.py).
    assert body["cache_misses"] is body["cache_hits"] is job["cache_hits"] is None
    assert set(body["timings"]) == {"total_seconds"}
    codes = [code for net in body["nets"] for code in net["codes"]]
    assert sum(code["size"] for code in codes) + body["uncoded"] == 5
    assert {"id", "label", "keywords", "size", "share", "examples", "kind"} <= set(codes[0])
    assert {"mentions", "mention_share"} <= set(codes[0])
    numbers = {code["id"] for code in codes}
    assert all(set(r["codes"]) <= numbers for r in body["responses"])
    again = api_client.get(f"{URL}{body['id']}/")
    assert again.status_code == 200 and again.json() == body == job["codeframe"]
    # Without the coded answers: the rest as it was; the job's codeframe alike.
    light = api_client.get(f"{URL}{body['id']}/?responses=false")
    assert light.status_code == 200
    assert light.json() == {k: v for k, v in body.items() if k != "responses"}
    light_job = api_client.get(job["status_url"] + "?responses=0").json()
    assert "responses" not in light_job["codeframe"] and light_job["codeframe"]["nets"]
    refused = api_client.get(f"{URL}{body['id']}/?responses=some")
    assert refused.status_code == 400 and "responses" in refused.json()["errors"]


def test_only_operators_see_the_embedding_cache_figures(api_client, staff_client):
    """A hit says that some project holds the answer: an analyst of one client could test
    whether another's data has a verbatim. Operators (superusers, who see every project) see
    the figures; staff of some projects do not."""
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from codeframe.models import Membership, Role

    job = post(api_client, {"responses": ["Fees are high", "Great staff"]}).json()
    frame = Codeframe.objects.get(pk=job["codeframe"]["id"])
    page = staff_client.get(frame.get_absolute_url()).content.decode()
    # An analyst sees how long it took; the steps and the cache are the operators'.
    assert "<dt>Took</dt>" in page and "<dt>Embedding</dt>" not in page
    assert "Cache hits / misses" not in page
    staff = get_user_model().objects.create_user("staff", is_staff=True)
    Membership.objects.create(project=frame.question.project, user=staff, role=Role.VIEWER)
    staff_client.force_login(staff)
    assert "Cache hits / misses" not in staff_client.get(frame.get_absolute_url()).content.decode()
    operator = get_user_model().objects.create_user("operator", is_staff=True, is_superuser=True)
    staff_client.force_login(operator)
    shown = staff_client.get(frame.get_absolute_url()).content.decode()
    assert f"Cache hits / misses</dt><dd>{frame.cache_hits} / {frame.cache_misses}<" in shown
    assert "<dt>Embedding</dt>" in shown
    api_client = APIClient()
    api_client.force_authenticate(operator)
    seen = api_client.get(job["status_url"]).json()
    assert seen["cache_hits"] + seen["cache_misses"] == 2
    assert seen["codeframe"]["cache_misses"] == frame.cache_misses
    assert seen["codeframe"]["timings"]["cache_misses"] == frame.cache_misses


def test_post_question_uses_its_answers(api_client, question):
    response = post(api_client, {"question": question.pk, "n_codes": 2})
    assert response.status_code == 202
    assert response.json()["question"] == question.pk
    assert response.json()["codeframe"]["question"] == question.pk


def test_session_clients_need_the_csrf_token(staff_user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(staff_user)
    response = post(client, {"responses": ["a"]})
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        ({}, 400, "either `responses` or `question`"),
        ({"responses": ["a"], "question": 1}, 400, "either"),
        ({"responses": []}, 400, "not be empty"),
        ({"responses": [["nested"]]}, 400, "Not a string: send text"),
        ({"responses": ["", "  "]}, 400, "No answers found"),
        ({"question": 999999}, 404, "No Question matches"),
        ({"responses": ["a", "b"], "respondent_ids": ["r1"]}, 400, "1 ids for 2 responses"),
        ({"question": 1, "respondent_ids": ["r1"]}, 400, "`respondent_ids` goes with"),
        ({"responses": ["a", "b"], "respondent_ids": ["r1", " "]}, 400, "may not be blank"),
        (
            {"responses": ["a", "b", "c"], "respondent_ids": ["r1", "r2", "r1"]},
            400,
            "respondent_ids[2] ('r1') repeats respondent_ids[0]",
        ),
    ],
)
def test_bad_requests_are_clean_4xx(api_client, payload, status, message):
    response = post(api_client, payload)
    assert response.status_code == status
    assert message in json.dumps(response.json())
    assert not Codeframe.objects.exists()


def test_question_without_answers_is_400(api_client):
    question = Question.objects.create(project=services.default_project(), survey="Empty")
    response = post(api_client, {"question": question.pk})
    assert response.status_code == 400 and "no answers" in response.json()["detail"]


def test_above_the_answer_limit_is_413_with_the_limit(api_client, settings, question):
    settings.CODEFRAME = {"MAX_RESPONSES": 10}
    response = post(api_client, {"responses": ["x"] * 11})
    assert response.status_code == 413 and "limit of 10" in response.json()["detail"]
    response = post(api_client, {"question": question.pk})
    assert response.status_code == 413 and "limit of 10" in response.json()["detail"]
    assert not Codeframe.objects.exists()


def test_huge_body_is_413_before_parsing(api_client, settings):
    settings.CODEFRAME = {"MAX_UPLOAD_BYTES": 1024}
    response = post(api_client, {"responses": ["x" * 2000]})
    assert response.status_code == 413 and "1 KB" in response.json()["detail"]


def test_ten_megabyte_answer_is_refused(api_client):
    response = post(api_client, {"responses": ["ok", "x" * (10 * 1024 * 1024)]})
    assert response.status_code == 400
    assert "responses[1]" in json.dumps(response.json())
    assert not Question.objects.exists()


def test_deeply_nested_json_is_400(api_client):
    body = "[" * 100_000 + "]" * 100_000
    response = api_client.post(URL, data=body, content_type="application/json")
    assert response.status_code == 400
    response = api_client.post(URL, data="{not json", content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"responses": ["a", NaN]}', "NaN is not a JSON value"),
        ('{"responses": ["a"], "survey": Infinity}', "Infinity is not a JSON value"),
        ('{"responses": ["a", 1e400]}', "1e400 is out of range"),
        ('{"responses": ["a", 1, 2.5, true]}', "responses[1]: Not a string"),
        ('{"responses": ["a"], "survey": 5}', "survey: Not a string"),
        ('{"responses": ["a", "b"], "respondent_ids": [1001, 1.5]}', "Not an id"),
        ('{"responses": ["a", "b"], "respondent_ids": [1001, true]}', "Not an id"),
        ('{"question": "1"}', "question: Not a whole number"),
        ('{"responses": ["a"], "n_codes": 2.0}', "n_codes: Not a whole number"),
        ('{"responses": ["a"], "max_codes": true}', "max_codes: Not a whole number"),
    ],
)
def test_values_that_are_no_json_or_no_text_are_refused_not_turned_into_text(
    api_client, body, message
):
    """Python's json reads NaN and Infinity, and DRF's CharField turns 5 into "5": `"wave":
    NaN` named a wave "nan", `[1, 2, 3]` imported the answers "1", "2", "3"."""
    response = api_client.post(URL, data=body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert message in response.json()["detail"]
    assert not Question.objects.exists()


def test_whole_number_respondent_ids_are_their_digits(api_client):
    response = post(api_client, {"responses": ["Fees", "App"], "respondent_ids": [1001, "A2"]})
    assert response.status_code == 202, response.content
    ids = Question.objects.get().responses.order_by("position").values_list("respondent_id")
    assert [i for (i,) in ids] == ["1001", "A2"]


def test_the_api_is_in_the_openapi_schema(staff_client):
    schema = staff_client.get("/api/schema/", {"format": "json"}).json()
    assert {"post"} <= set(schema["paths"]["/api/codeframes/"])
    assert "413" in schema["paths"]["/api/codeframes/"]["post"]["responses"]
    # Every operation with a body can answer 413, not only those that document their own.
    for path, method in (
        ("/api/codeframes/{codeframe_id}/codes/", "post"),
        ("/api/questions/{question_id}/", "patch"),
    ):
        assert "413" in schema["paths"][path][method]["responses"], (path, method)
    assert "/api/codeframes/{id}/" in schema["paths"]
    assert "202" in schema["paths"]["/api/codeframes/"]["post"]["responses"]
    assert "/api/jobs/{id}/" in schema["paths"]
    assert "/api/jobs/{id}/cancel/" in schema["paths"]


def test_every_api_error_has_a_detail_a_person_can_read(api_client, question):
    """Validation errors keep DRF's messages per field under `errors` and say them in `detail`
    (the documented `Error` body); unknown keys are refused, not dropped; a URL no route
    matches is a JSON 404 under /api/; a request without credentials is a 401 with the token
    challenge."""

    def post(body):
        response = api_client.post("/api/codeframes/", body, format="json")
        assert response.status_code == 400, response.content
        return response.json()

    empty = post({"responses": []})
    assert empty == {
        "detail": "responses: This list may not be empty.",
        "errors": {"responses": ["This list may not be empty."]},
    }
    assert post({})["detail"] == "Send either `responses` or `question`."
    assert post({"responses": ["fine", None]})["detail"] == (
        "responses[1]: This field may not be null."
    )
    typo = post({"responses": ["a", "b"], "respondent_id": ["R1", "R2"]})
    assert typo["detail"].startswith("Unknown field: respondent_id. This accepts responses, ")
    both = post({"question": question.pk, "n_codes": 5, "max_codes": 2})
    assert both["detail"].startswith("5 codes is more than the most asked for (2)")
    renamed = post({"question": question.pk, "survey": "Renamed"})  # it would be dropped
    assert renamed["detail"] == "`survey` goes with `responses`, not `question`."

    missing = api_client.get("/api/codeframes/not-a-number/")
    assert missing.status_code == 404 and missing.json() == {"detail": "No such API endpoint."}
    page = api_client.get("/questions/not-a-number/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
    # Without the final slash: a GET is sent on, a POST (whose body a redirect would lose) told.
    assert api_client.get("/api/codeframes?x=1")["Location"] == "/api/codeframes/?x=1"
    slashless = api_client.post("/api/codeframes", {"question": question.pk}, format="json")
    assert slashless.status_code == 404
    assert "Did you mean /api/codeframes/ (with the final slash)?" in slashless.json()["detail"]
    # An action without a body refuses one: this would otherwise approve.
    codeframe = services.create_codeframe(question=question, n_codes=2)
    approve = f"/api/codeframes/{codeframe.pk}/approve/"
    sent = api_client.post(approve, {"approved": False}, format="json")
    assert sent.status_code == 400
    assert sent.json()["detail"] == "This takes no body. To withdraw the approval, send DELETE."
    codeframe.refresh_from_db()
    assert codeframe.approved is False

    anonymous = APIClient().get(f"/api/codeframes/{question.pk}/")
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"] == "Token"
    assert "credentials" in anonymous.json()["detail"]
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "401" in responses, (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)
            for code, response in responses.items():  # every error has its body documented
                assert not code.startswith("4") or "content" in response, (method, path, code)


def test_an_unexpected_error_under_the_api_is_json(rf):
    """handler500 and handler400 (DEBUG off): a client parses the error of an API URL; pages
    keep Django's."""
    from config import urls
    from config.api import bad_request, server_error

    assert (urls.handler500, urls.handler400) == (server_error, bad_request)
    api = server_error(rf.get("/api/codeframes/1/"))
    assert api.status_code == 500 and "it is logged" in json.loads(api.content)["detail"]
    page = server_error(rf.get("/questions/"))
    assert page.status_code == 500 and not page["Content-Type"].startswith("application/json")
    assert json.loads(bad_request(rf.get("/api/x/")).content) == {"detail": "Bad request."}


@pytest.mark.parametrize("body", [{"approved": False}, False, [], "", 0])
@pytest.mark.parametrize("action", ["approve", "carry-back", "cancel", "retry"])
def test_an_action_without_a_body_refuses_one(api_client, codeframe, action, body):
    """A body sent to an action that takes none is refused before anything happens, even a
    falsy one (`false` to approve/ would otherwise approve)."""
    from codeframe import jobs

    if action in ("cancel", "retry"):
        job = jobs.create_job(question=codeframe.question)
        url = f"/api/jobs/{job.pk}/{action}/"
    else:
        url = f"/api/codeframes/{codeframe.pk}/{action}/"
    response = api_client.post(url, json.dumps(body), content_type="application/json")
    assert response.status_code == 400 and response.json()["detail"].startswith(
        "This takes no body."
    )
    codeframe.refresh_from_db()
    assert codeframe.approved is False
    empty = api_client.post(url, content_type="application/json")  # no body: what it takes
    assert empty.status_code != 400 or "no body" not in empty.json()["detail"]


@pytest.mark.parametrize("body", [{"approved": False}, False, [], "", 0, {"discard_edits": 2}])
def test_recode_takes_only_its_one_option(api_client, codeframe, body):
    url = f"/api/codeframes/{codeframe.pk}/recode/"
    response = api_client.post(url, json.dumps(body), content_type="application/json")
    assert response.status_code == 400, response.content


def test_projects_and_questions_are_listed_within_the_users_projects(django_user_model):
    """What a client of the API alone starts from: its projects, their questions (paginated),
    a question's codeframes and unfinished jobs; nothing of another client's."""
    from codeframe import waves
    from codeframe.models import GenerationJob, Membership, Project, Role
    from tests.codeframe.conftest import ANSWERS, make_question
    from tests.codeframe.test_waves import rows

    ann = django_user_model.objects.create_user("ann", password="pw-ann-12345")
    mine, theirs = Project.objects.create(name="Client A"), Project.objects.create(name="B")
    Membership.objects.create(project=mine, user=ann, role=Role.ANALYST)
    questions = []
    for n in range(3):
        question = make_question(ANSWERS[:6], survey=f"Wave {n}")
        question.project = mine
        question.save()
        questions.append(question)
    hidden = make_question(ANSWERS[:6], survey="Not yours")
    hidden.project = theirs
    hidden.save()
    codeframe = services.create_codeframe(question=questions[0], n_codes=2)
    job = GenerationJob.objects.create(
        question=questions[0], state=GenerationJob.State.CANCELLED, error="Cancelled."
    )
    client = APIClient()
    client.force_authenticate(ann)

    projects = client.get("/api/projects/").json()
    assert [(p["name"], p["role"]) for p in projects["results"]] == [("Client A", "analyst")]
    page = client.get("/api/questions/", {"page_size": 2}).json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]
    rest = client.get(page["next"]).json()
    listed = [q["id"] for q in page["results"] + rest["results"]]
    assert listed == [q.pk for q in reversed(questions)]  # newest first
    first = next(q for q in page["results"] + rest["results"] if q["id"] == questions[0].pk)
    assert (first["response_count"], first["codeframe_count"]) == (6, 1)
    assert first["latest_codeframe"] == codeframe.pk and first["project"] == mine.pk

    detail = client.get(f"/api/questions/{questions[0].pk}/").json()
    assert detail["question"]["id"] == questions[0].pk
    assert [c["id"] for c in detail["codeframes"]] == [codeframe.pk]
    assert detail["codeframes"][0]["approved"] is False
    assert [(j["id"], j["state"]) for j in detail["jobs"]] == [(str(job.pk), "cancelled")]
    # In a browser (the browsable API, with its PATCH form): it was a 500.
    browsed = client.get(f"/api/questions/{questions[0].pk}/", HTTP_ACCEPT="text/html")
    assert browsed.status_code == 200 and "&quot;wave&quot;" in browsed.content.decode()

    assert client.get(f"/api/questions/{hidden.pk}/").status_code == 404
    assert client.get("/api/questions/", {"project": theirs.pk}).status_code == 404
    assert client.get("/api/questions/", {"project": mine.pk}).json()["count"] == 3
    assert client.get("/api/questions/", {"project": "x"}).status_code == 400
    assert client.get("/api/questions/", {"project": "²"}).status_code == 400  # was a 500
    other = Project.objects.create(name="Client A2")
    Membership.objects.create(project=other, user=ann, role=Role.VIEWER)
    filtered = client.get(f"/api/questions/{questions[0].pk}/", {"project": other.pk})
    assert filtered.status_code == 200  # the id is the question (it was a 500)
    assert client.post("/api/questions/", {}, format="json").status_code == 405

    # Deleting, as on the page: managers only; a tracker's first wave is kept while a later
    # wave depends on it.
    assert client.delete(f"/api/questions/{questions[1].pk}/").status_code == 403
    Membership.objects.filter(user=ann).update(role=Role.MANAGER)
    waves.approve_codeframe(codeframe=codeframe)
    waves.code_wave(codeframe=codeframe, rows=rows(ANSWERS[:4]), wave="W2")
    kept = client.delete(f"/api/questions/{questions[0].pk}/")
    assert kept.status_code == 409 and "later waves" in kept.json()["detail"]
    assert client.delete(f"/api/questions/{questions[1].pk}/").status_code == 204
    assert not Question.objects.filter(pk=questions[1].pk).exists()
    assert client.delete(f"/api/questions/{hidden.pk}/").status_code == 404


def test_names_and_labels_are_one_line(api_client, codeframe):
    """A CR/LF in a survey name reached the SPSS file label; in a wave or code label, the
    CSV headers and SPSS value labels."""
    from codeframe import waves
    from codeframe.exceptions import InvalidEdit

    refused = post(api_client, {"responses": ["a"], "survey": "Bank\r\nX-Evil: 1"})
    assert refused.status_code == 400 and "One line of text" in refused.json()["detail"]
    waves.approve_codeframe(codeframe=codeframe)
    for url, body in (
        (f"{URL}{codeframe.pk}/waves/", {"responses": ["a"], "wave": "2027\n01"}),
        (f"{URL}{codeframe.pk}/codes/", {"label": "Fees\tand charges"}),
    ):
        refused = api_client.post(url, body, format="json")
        assert refused.status_code == 400 and "One line of text" in refused.json()["detail"]
    with pytest.raises(InvalidEdit, match="one line"):
        waves.rename_wave(question=codeframe.question, label="2026\r\n10")
    assert Question.objects.count() == 1 and codeframe.question.wave_label == ""
