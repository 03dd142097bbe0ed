import json

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import NoReverseMatch, reverse

from codeframe import services, waves
from codeframe.importers import ImportedRow
from codeframe.models import (
    Assignment,
    Code,
    GenerationJob,
    Membership,
    Net,
    Project,
    Role,
    SuggestedCode,
)
from tests.codeframe.conftest import ANSWERS, make_question
from tests.codeframe.test_waves import rows

pytestmark = pytest.mark.django_db

MODELS = ["question", "response", "codeframe", "net", "code", "assignment", "suggestedcode"]


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password="pw-root-123"))
    return client


@pytest.mark.parametrize("model", MODELS)
def test_changelists_search_and_filter(admin_client, codeframe, model):
    url = reverse(f"admin:codeframe_{model}_changelist")
    assert admin_client.get(url).status_code == 200
    response = admin_client.get(url, {"q": "app"})
    assert response.status_code == 200
    model_admin = response.context["cl"].model_admin
    assert model_admin.search_fields and model_admin.list_filter


def test_codeframe_page_shows_its_codes_inline(admin_client, codeframe):
    page = admin_client.get(reverse("admin:codeframe_codeframe_change", args=[codeframe.pk]))
    assert page.status_code == 200
    assert codeframe.codes.first().label in page.content.decode()


def test_merge_action_folds_codes_into_the_largest(admin_client, codeframe):
    codes = list(codeframe.codes.order_by("-size", "number"))[:3]
    total = sum(c.size for c in codes)
    response = admin_client.post(
        reverse("admin:codeframe_code_changelist"),
        {"action": "merge_selected", "_selected_action": [c.pk for c in codes]},
    )
    assert response.status_code == 302
    assert list(Code.objects.filter(pk__in=[c.pk for c in codes])) == [codes[0]]
    assert Code.objects.get(pk=codes[0].pk).size == total


def test_deleting_a_code_in_the_admin_keeps_sizes_consistent(admin_client, codeframe):
    code = codeframe.codes.order_by("-size").first()
    url = reverse("admin:codeframe_code_delete", args=[code.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    total = sum(codeframe.codes.values_list("size", flat=True))
    assert total == Assignment.objects.filter(codeframe=codeframe, is_primary=True).count()


def test_moving_an_answer_in_the_admin(admin_client, codeframe, question):
    from codeframe import services

    assignment = Assignment.objects.filter(codeframe=codeframe, is_primary=True).first()
    to_code = codeframe.codes.exclude(pk=assignment.code_id).first()
    url = reverse("admin:codeframe_assignment_change", args=[assignment.pk])
    data = {
        "response": assignment.response_id,
        "code": to_code.pk,
        "confidence": "1.0",
        "is_primary": "on",
    }
    assert admin_client.post(url, data).status_code == 302
    primary = Assignment.objects.get(response=assignment.response, is_primary=True)
    assert primary.code_id == to_code.pk
    other = services.create_codeframe(question=question, n_codes=2).codes.first()
    primary = Assignment.objects.get(
        codeframe=codeframe, response=assignment.response, is_primary=True
    )
    url = reverse("admin:codeframe_assignment_change", args=[primary.pk])
    page = admin_client.post(url, {**data, "code": other.pk})
    assert page.status_code == 200
    assert "Choose a code of the same codeframe" in page.content.decode()


@pytest.mark.parametrize("model", MODELS)
def test_changelists_make_no_query_per_row(admin_client, codeframe, question, model):
    """The same number of queries with one codeframe as with three (filters included)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from codeframe import services

    url = reverse(f"admin:codeframe_{model}_changelist")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(url).status_code == 200
        return len(captured)

    one = queries()
    for _ in range(2):
        services.create_codeframe(question=question, n_codes=3)
    assert queries() == one


@pytest.fixture
def suggestions(codeframe):
    """A wave's codeframe (coded with the approved one) with two pending suggestions, the first
    taking two of its answers."""
    approved = waves.approve_codeframe(codeframe=codeframe)
    wave = waves.code_wave(
        codeframe=approved,
        rows=rows(["Mortgage rates went up", "My mortgage rate doubled", "The app crashed"]),
        wave="2027-01",
    )
    wave.suggestions.all().delete()
    ids = list(wave.question.responses.order_by("position").values_list("pk", flat=True))
    Assignment.objects.filter(codeframe=wave, response_id__in=ids[:2]).delete()
    return wave, [
        SuggestedCode.objects.create(
            codeframe=wave, label="Mortgage rates", size=2, response_ids=ids[:2]
        ),
        SuggestedCode.objects.create(codeframe=wave, label="Weather", size=0),
    ]


def test_suggestions_are_accepted_and_dismissed_in_the_admin(admin_client, suggestions):
    wave, (mortgage, weather) = suggestions
    highest = max(wave.codes.values_list("number", flat=True))
    url = reverse("admin:codeframe_suggestedcode_changelist")
    for action, suggestion in (("accept_selected", mortgage), ("dismiss_selected", weather)):
        response = admin_client.post(url, {"action": action, "_selected_action": [suggestion.pk]})
        assert response.status_code == 302
    mortgage.refresh_from_db()
    weather.refresh_from_db()
    assert mortgage.status == SuggestedCode.Status.ACCEPTED and mortgage.code.number == highest + 1
    assert mortgage.code.size == 2 and mortgage.code.codeframe == wave
    assert weather.status == SuggestedCode.Status.DISMISSED
    # Decided: read only, and deciding again changes nothing.
    page = admin_client.get(reverse("admin:codeframe_suggestedcode_change", args=[mortgage.pk]))
    assert page.status_code == 200 and b'name="_save"' not in page.content
    admin_client.post(url, {"action": "dismiss_selected", "_selected_action": [mortgage.pk]})
    mortgage.refresh_from_db()
    assert mortgage.status == SuggestedCode.Status.ACCEPTED


def test_a_viewer_cannot_decide_suggestions_in_the_admin(client, suggestions, django_user_model):
    wave, (mortgage, _weather) = suggestions
    viewer = django_user_model.objects.create_user(
        "viewer", password="pw-viewer-123", is_staff=True
    )
    viewer.user_permissions.set(Permission.objects.filter(content_type__app_label="codeframe"))
    Membership.objects.create(project=wave.question.project, user=viewer, role=Role.VIEWER)
    client.force_login(viewer)
    url = reverse("admin:codeframe_suggestedcode_changelist")
    listing = client.get(url)
    assert [s.label for s in listing.context["cl"].result_list] == ["Mortgage rates", "Weather"]
    response = client.post(
        url, {"action": "accept_selected", "_selected_action": [mortgage.pk]}, follow=True
    )
    assert "your role is viewer" in response.content.decode()
    mortgage.refresh_from_db()
    assert mortgage.status == SuggestedCode.Status.PENDING
    assert wave.codes.count() == wave.coded_with.codes.count()


SECRET = "B-CONFIDENTIAL Project Falcon"


@pytest.fixture
def other_codeframe(db):
    """Another client's codeframe, in a project of its own, with a job and a suggestion; its
    survey and net labels are the secret."""
    project = Project.objects.create(name=SECRET)
    imported = services.import_responses(rows=rows(ANSWERS), project=project, survey=SECRET)
    frame = services.create_codeframe(question=imported.question, n_codes=3)
    Net.objects.filter(codeframe=frame).update(label=SECRET)
    GenerationJob.objects.create(question=imported.question)
    SuggestedCode.objects.create(codeframe=frame, label=SECRET, size=0)
    return frame


@pytest.fixture
def viewer_client(client, codeframe, django_user_model):
    """A staff user with every codeframe model permission, viewer of the codeframe's project
    only."""
    viewer = django_user_model.objects.create_user(
        "viewer", password="pw-viewer-123", is_staff=True
    )
    viewer.user_permissions.set(Permission.objects.filter(content_type__app_label="codeframe"))
    Membership.objects.create(project=codeframe.question.project, user=viewer, role=Role.VIEWER)
    client.force_login(viewer)
    client.user = viewer
    return client


def test_a_raw_id_names_only_what_the_user_may_see(client, codeframe, other_codeframe):
    """Django's raw-id field prints the name of whatever id is typed, from the whole table:
    another client's question (survey, text) and code label, by walking the ids."""
    analyst = User.objects.create_user("analyst", password="pw-analyst-123", is_staff=True)
    analyst.user_permissions.set(Permission.objects.filter(content_type__app_label="codeframe"))
    Membership.objects.create(project=codeframe.question.project, user=analyst, role=Role.ANALYST)
    client.force_login(analyst)
    theirs = other_codeframe.codes.first()
    Code.objects.filter(pk=theirs.pk).update(label=f"{SECRET} code")
    add = reverse("admin:codeframe_response_add")
    assert SECRET not in client.get(add, {"question": other_codeframe.question_id}).content.decode()
    own = client.get(add, {"question": codeframe.question_id}).content.decode()
    assert f"/admin/codeframe/question/{codeframe.question_id}/change/" in own  # still named
    mine = Assignment.objects.filter(codeframe=codeframe).first()
    url = reverse("admin:codeframe_assignment_change", args=[mine.pk])
    refused = client.post(url, {"code": theirs.pk, "confidence": "0.5"}).content.decode()
    assert "Select a valid choice" in refused and SECRET not in refused


@pytest.mark.parametrize("model", [*MODELS, "generationjob"])
def test_changelist_filters_list_only_the_users_projects(
    viewer_client, codeframe, other_codeframe, model
):
    GenerationJob.objects.create(question=codeframe.question)
    SuggestedCode.objects.create(codeframe=codeframe, label="Weather", size=0)
    page = viewer_client.get(reverse(f"admin:codeframe_{model}_changelist"))
    assert page.status_code == 200
    assert page.context["cl"].result_count  # the user's own project is listed
    assert SECRET not in page.content.decode()


def test_a_viewer_cannot_merge_codes_or_cancel_jobs_in_the_admin(viewer_client, codeframe):
    codes = list(codeframe.codes.all())
    job = GenerationJob.objects.create(question=codeframe.question)
    merged = viewer_client.post(
        reverse("admin:codeframe_code_changelist"),
        {"action": "merge_selected", "_selected_action": [c.pk for c in codes]},
        follow=True,
    )
    assert "This needs the analyst role" in merged.content.decode()
    assert list(codeframe.codes.all()) == codes
    url = reverse("admin:codeframe_generationjob_changelist")
    cancel = {"action": "cancel", "_selected_action": [job.pk]}
    refused = viewer_client.post(url, cancel, follow=True)
    assert "This needs the analyst role" in refused.content.decode()
    job.refresh_from_db()
    assert job.state == GenerationJob.State.QUEUED
    # An analyst may.
    Membership.objects.filter(user=viewer_client.user).update(role=Role.ANALYST)
    assert (
        "Cancelled or asked to stop: 1 jobs"
        in viewer_client.post(url, cancel, follow=True).content.decode()
    )
    job.refresh_from_db()
    assert job.state == GenerationJob.State.CANCELLED


def test_a_codes_net_is_one_of_its_own_codeframe(admin_client, codeframe, other_codeframe):
    code = codeframe.codes.first()
    url = reverse("admin:codeframe_code_change", args=[code.pk])
    field = admin_client.get(url).context["adminform"].form.fields["net"]
    assert set(field.queryset) == set(codeframe.nets.all())
    data = {
        "label": code.label,
        "kind": code.kind,
        "keywords": json.dumps(code.keywords),
        "examples": json.dumps(code.examples),
    }
    other_net = other_codeframe.nets.first()
    page = admin_client.post(url, {**data, "net": other_net.pk})
    assert page.status_code == 200 and "net" in page.context["adminform"].form.errors
    assert Code.objects.get(pk=code.pk).net_id == code.net_id
    own_net = codeframe.nets.exclude(pk=code.net_id).first()
    assert admin_client.post(url, {**data, "net": own_net.pk}).status_code == 302
    assert Code.objects.get(pk=code.pk).net_id == own_net.pk


def test_a_trackers_waves_stay_as_the_app_made_them(admin_client, codeframe):
    """The admin cannot move a tracker's wave to another project (the first wave's tracker would
    show another client's answers), renumber or rename it past the tracker's checks, nor point
    a wave's codeframe at another frame (the tracker's series follows `coded_with`)."""
    waves.approve_codeframe(codeframe=codeframe)
    wave = waves.code_wave(codeframe=codeframe, rows=rows(["Fees", "Staff"]), wave="2027-01")
    for question in (codeframe.question, wave.question):
        page = admin_client.get(reverse("admin:codeframe_question_change", args=[question.pk]))
        form = page.context["adminform"].form
        assert not {"project", "tracker", "wave_order", "wave_label"} & set(form.fields)
    alone = make_question(["Fees"], survey="Alone")
    page = admin_client.get(reverse("admin:codeframe_question_change", args=[alone.pk]))
    assert "project" in page.context["adminform"].form.fields  # no tracker: it may move
    page = admin_client.get(reverse("admin:codeframe_codeframe_change", args=[wave.pk]))
    assert "coded_with" not in page.context["adminform"].form.fields
    assert "approved" in page.context["adminform"].form.fields


def test_a_label_another_code_or_net_has_is_refused_in_the_admin(admin_client, codeframe):
    """As on the pages (services.refuse_taken_label), ignoring case; the codeframe page's codes
    can swap labels at once, not end up alike."""
    first, second = codeframe.codes.order_by("number")[:2]
    url = reverse("admin:codeframe_code_change", args=[first.pk])
    data = {
        "label": second.label.upper(),
        "kind": first.kind,
        "keywords": json.dumps(first.keywords),
        "examples": json.dumps(first.examples),
        "net": first.net_id or "",
    }
    page = admin_client.post(url, data)
    assert page.status_code == 200
    assert f"Code {second.number} is already labelled" in str(page.context["adminform"].form.errors)
    assert admin_client.post(url, {**data, "label": first.label.upper()}).status_code == 302

    net, other_net = codeframe.nets.order_by("number")[:2]
    url = reverse("admin:codeframe_net_change", args=[net.pk])
    page = admin_client.post(url, {"label": other_net.label.lower()})
    assert page.status_code == 200 and "already labelled" in str(
        page.context["adminform"].form.errors
    )
    assert Net.objects.get(pk=net.pk).label == net.label

    url = reverse("admin:codeframe_codeframe_change", args=[codeframe.pk])
    formset = admin_client.get(url).context["inline_admin_formsets"][0].formset
    base = {
        f"{formset.prefix}-TOTAL_FORMS": len(formset.forms),
        f"{formset.prefix}-INITIAL_FORMS": len(formset.forms),
        f"{formset.prefix}-MIN_NUM_FORMS": 0,
        f"{formset.prefix}-MAX_NUM_FORMS": 1000,
    }
    for i, form in enumerate(formset.forms):
        code = form.instance
        base |= {
            f"{formset.prefix}-{i}-id": code.pk,
            f"{formset.prefix}-{i}-codeframe": codeframe.pk,
            f"{formset.prefix}-{i}-label": code.label,
            f"{formset.prefix}-{i}-net": code.net_id or "",
            f"{formset.prefix}-{i}-kind": code.kind,
        }
    labels = [form.instance.label for form in formset.forms]
    alike = {**base, f"{formset.prefix}-0-label": labels[1].lower()}
    page = admin_client.post(url, alike)
    assert page.status_code == 200 and "would all be labelled" in page.content.decode()
    swapped = {
        **base,
        f"{formset.prefix}-0-label": labels[1],
        f"{formset.prefix}-1-label": labels[0],
    }
    assert admin_client.post(url, swapped).status_code == 302
    ids = [form.instance.pk for form in formset.forms[:2]]
    assert [Code.objects.get(pk=pk).label for pk in ids] == [labels[1], labels[0]]


def test_an_answer_stays_in_its_question_in_the_admin(admin_client, codeframe):
    """Moved to another question (another client's, say), an answer kept its codes in the old
    question's codeframes, which then showed it to that question's project."""
    response = codeframe.question.responses.order_by("position").first()
    page = admin_client.get(reverse("admin:codeframe_response_change", args=[response.pk]))
    form = page.context["adminform"].form
    assert not {"question", "position"} & set(form.fields) and "text" in form.fields
    other = make_question(["Fees"], survey="Another client")
    admin_client.post(
        reverse("admin:codeframe_response_change", args=[response.pk]),
        {"respondent_id": response.respondent_id, "text": response.text, "question": other.pk},
    )
    response.refresh_from_db()
    assert response.question_id == codeframe.question_id
    page = admin_client.get(reverse("admin:codeframe_response_add"))
    assert "question" in page.context["adminform"].form.fields  # a new answer names its question


def test_an_answer_added_in_the_admin_says_when_its_id_makes_resp_id_a_string(admin_client):
    """As an import says it: "09001" among whole-number ids turns `resp_id` into a string in
    every SPSS file of the question (the months' files already delivered too)."""
    numbered = [
        ImportedRow(line=i, respondent_id=str(100 + i), text=t) for i, t in enumerate(ANSWERS)
    ]
    question = services.import_responses(rows=numbered, survey="S", question_text="Q?").question
    add = reverse("admin:codeframe_response_add")

    def said(url, respondent_id, text="Late fees") -> list[str]:
        form = {"question": question.pk, "respondent_id": respondent_id, "text": text}
        reply = admin_client.post(url, {**form, "position": 999}, follow=True)
        assert reply.status_code == 200 and not reply.context.get("errors")
        return [str(m) for m in reply.context["messages"] if "resp_id" in str(m)]

    assert said(add, "9001") == []  # a whole number: nothing changes
    late = question.responses.get(respondent_id="9001")
    change = reverse("admin:codeframe_response_change", args=[late.pk])
    assert said(change, "9001", text="Late fees, corrected") == []  # the id untouched
    shown = said(change, "09001")
    assert len(shown) == 1 and shown[0].startswith("Respondent id “09001” is not a whole number")
    assert said(add, "A-2") == []  # strings already


def test_a_project_keeps_a_manager_in_the_admin(client, django_user_model):
    """As on the pages: the last manager made a viewer (or deleted) in the project's member
    rows left a client's project that only a superuser could run."""
    project = Project.objects.create(name="Client A")
    boss = django_user_model.objects.create_user("boss", password="pw-boss-123", is_staff=True)
    boss.user_permissions.add(
        *Permission.objects.filter(
            codename__in=[
                f"{action}_{model}"
                for action in ("add", "change", "delete", "view")
                for model in ("project", "membership")
            ]
        )
    )
    manager = Membership.objects.create(project=project, user=boss, role=Role.MANAGER)
    ana = django_user_model.objects.create_user("ana", password="pw-ana-12345")
    analyst = Membership.objects.create(project=project, user=ana, role=Role.ANALYST)
    client.force_login(boss)
    url = reverse("admin:codeframe_project_change", args=[project.pk])

    def post(boss_row: dict, ana_role: str):
        return client.post(
            url,
            {
                "name": project.name,
                "memberships-TOTAL_FORMS": "2",
                "memberships-INITIAL_FORMS": "2",
                "memberships-MIN_NUM_FORMS": "0",
                "memberships-MAX_NUM_FORMS": "1000",
                "memberships-0-id": manager.pk,
                "memberships-0-project": project.pk,
                "memberships-0-user": boss.pk,
                **{f"memberships-0-{k}": v for k, v in boss_row.items()},
                "memberships-1-id": analyst.pk,
                "memberships-1-project": project.pk,
                "memberships-1-user": ana.pk,
                "memberships-1-role": ana_role,
            },
        )

    for row in ({"role": "viewer"}, {"role": "manager", "DELETE": "on"}):
        refused = post(row, "analyst")
        assert refused.status_code == 200
        assert "A project needs at least one manager" in refused.content.decode()
        assert Membership.objects.get(pk=manager.pk).role == Role.MANAGER
    assert post({"role": "viewer"}, "manager").status_code == 302  # someone else first
    assert Membership.objects.get(pk=analyst.pk).role == Role.MANAGER


# Figures no other part of a page prints (a CSRF token is letters and digits: five digits
# in a row are next to impossible there).
HITS, MISSES = 48271, 9173
TIMINGS = {"embedding_seconds": 0.0137, "clustering_seconds": 0.2541, "total_seconds": 0.296718}


@pytest.fixture
def manager_client(client, codeframe, django_user_model):
    """A staff user with every codeframe model permission, manager of the codeframe's
    project; the codeframe and a job of it carry the shared cache's figures."""
    manager = django_user_model.objects.create_user(
        "manager", password="pw-manager-123", is_staff=True
    )
    manager.user_permissions.set(Permission.objects.filter(content_type__app_label="codeframe"))
    Membership.objects.create(project=codeframe.question.project, user=manager, role=Role.MANAGER)
    type(codeframe).objects.filter(pk=codeframe.pk).update(
        cache_hits=HITS, cache_misses=MISSES, timings=TIMINGS
    )
    GenerationJob.objects.create(
        question=codeframe.question,
        codeframe=codeframe,
        state=GenerationJob.State.DONE,
        cache_hits=HITS,
        cache_misses=MISSES,
    )
    client.force_login(manager)
    client.user = manager
    return client


def _cache_pages(codeframe) -> list[str]:
    job = codeframe.job
    return [
        reverse("admin:codeframe_codeframe_changelist"),
        reverse("admin:codeframe_codeframe_change", args=[codeframe.pk]),
        reverse("admin:codeframe_generationjob_changelist"),
        reverse("admin:codeframe_generationjob_change", args=[job.pk]),
    ]


def test_only_operators_see_the_caches_figures_in_the_admin(manager_client, codeframe):
    """The cache is every project's: a reviewer posted three answers through the API (which
    said `cache_hits: null`) and read "hits 1 / misses 2" off the codeframe's admin page,
    which told her another client holds one of them verbatim."""
    codeframe.refresh_from_db()
    for url in _cache_pages(codeframe):
        page = manager_client.get(url)
        assert page.status_code == 200, url
        html = page.content.decode()
        for figure in (str(HITS), str(MISSES), "embedding_seconds", "0.29", "0.0137"):
            assert figure not in html, (url, figure)
        assert "cache hits" not in html.lower() and "cache_hits" not in html, url
        if "cl" in page.context:
            assert not {"cache_hits", "cache_misses"} & set(page.context["cl"].list_display)
    page = manager_client.get(reverse("admin:codeframe_codeframe_change", args=[codeframe.pk]))
    shown = {field for fieldset in page.context["adminform"] for line in fieldset for field in line}
    names = {field.field["name"] for field in shown if field.is_readonly}
    assert "took" in names and not {"timings", "cache_hits", "cache_misses"} & names
    assert "0 s" in page.content.decode()  # how long, in whole seconds
    # Nor do they sort or filter by them (a filter on a figure shows whether rows match it).
    frames = reverse("admin:codeframe_codeframe_changelist")
    jobs_url = reverse("admin:codeframe_generationjob_changelist")
    for url, lookup in (
        (frames, {"cache_hits": HITS}),
        (frames, {"cache_misses__gt": 0}),
        (frames, {"timings__embedding_seconds__lt": 0.02}),
        (frames, {"timings__has_key": "total_seconds"}),
        (jobs_url, {"cache_hits__gte": 1}),
        (jobs_url, {"codeframe__cache_hits": HITS}),
    ):
        assert manager_client.get(url, lookup).status_code == 400, lookup

    # The operators' figures.
    root = User.objects.create_superuser("root", password="pw-root-123")
    manager_client.force_login(root)
    for url in _cache_pages(codeframe)[:2] + _cache_pages(codeframe)[3:]:  # not the jobs' list
        html = manager_client.get(url).content.decode()
        assert str(HITS) in html and str(MISSES) in html, url
    html = manager_client.get(_cache_pages(codeframe)[1]).content.decode()
    assert "embedding_seconds" in html and "0.296718" in html
    assert manager_client.get(frames, {"cache_hits": HITS}).context["cl"].result_count == 1


def test_others_than_operators_filter_times_to_the_second_in_the_admin(manager_client, codeframe):
    """A job's start and its codeframe's creation, found to the microsecond by typed bounds,
    gave how long the embedding took (the API gives times to the second)."""
    job = codeframe.job
    started = job.created
    GenerationJob.objects.filter(pk=job.pk).update(started=started, finished=started)
    jobs_url = reverse("admin:codeframe_generationjob_changelist")
    frames = reverse("admin:codeframe_codeframe_changelist")
    refused = [
        (jobs_url, {"started__gte": started.replace(microsecond=123456).isoformat(sep=" ")}),
        (jobs_url, {"started__contains": "1"}),
        (jobs_url, {"started__second__gte": "1"}),
        (jobs_url, {"started__time__gt": "00:00:00.5"}),
        (frames, {"created__lt": "2026-11-03 01:55:27.119790+00:00"}),
        (frames, {"created__regex": "27"}),
    ]
    for url, lookup in refused:
        assert manager_client.get(url, lookup).status_code == 400, lookup
    # What the sidebar and the date hierarchy give: whole days, whole seconds.
    today = started.replace(hour=0, minute=0, second=0, microsecond=0)
    allowed = [
        (jobs_url, {"created__gte": str(today)}),
        (jobs_url, {"started__lt": "2999-01-01 00:00:00+00:00"}),
        (jobs_url, {"started__isnull": "False"}),
        (jobs_url, {"created__year": started.year, "created__month": started.month}),
        (frames, {"created__lt": "2999-01-01T00:00:00Z"}),
    ]
    for url, lookup in allowed:
        page = manager_client.get(url, lookup)
        assert page.status_code == 200 and page.context["cl"].result_count == 1, lookup
    root = User.objects.create_superuser("root", password="pw-root-123")
    manager_client.force_login(root)
    for url, lookup in refused[:1] + refused[-2:]:
        assert manager_client.get(url, lookup).status_code == 200, lookup


def test_a_codeframes_params_hold_no_cache_figure_or_timing(suggestions):
    """`params` is shown to every reader (the admin, the API): the generation's options and
    the codeframe's history only."""
    wave, _ = suggestions
    for frame in (wave, wave.coded_with):
        text = json.dumps(frame.params).lower()
        assert "cache" not in text and "seconds" not in text and "hits" not in text, text


def _minimal(label: str, codeframe, users) -> dict:
    """A valid body for the add page of the model `label`, where there is one."""
    question = codeframe.question

    def no_rows(prefix: str) -> dict:  # an inline's management form, as the page sends it
        return {f"{prefix}-{key}": n for key, n in (("TOTAL_FORMS", 0), ("INITIAL_FORMS", 0))}

    return {
        "codeframe.project": {"name": "Client C", **no_rows("memberships")},
        "codeframe.question": {"project": question.project_id, "survey": "S", "text": "Why?"},
        "codeframe.response": {
            "question": question.pk, "respondent_id": "R999", "text": "Fees", "position": 999
        },
        "codeframe.codeframe": {"question": question.pk, **no_rows("codes")},
        "auth.group": {"name": "analysts"},
        "auth.user": {
            "username": "new", "password1": "pw-new-12345!", "password2": "pw-new-12345!",
            "usable_password": "true",
        },
        "authtoken.tokenproxy": {"user": users[0].pk},
    }.get(label.lower(), {})  # fmt: skip


def test_no_add_page_of_the_admin_is_a_server_error(manager_client, codeframe):
    """The codeframe's add page offered "Save" with its question read-only: a 500 (no
    question), for staff and superusers. Codeframes come from a generation or a wave."""
    from django.contrib import admin
    from django.db import transaction
    from django.test import Client

    manager = manager_client.user
    root = User.objects.create_superuser("root", password="pw-root-123")
    refused, saved = 0, set()
    for user in (manager, root):
        client = Client(raise_request_exception=False)
        client.force_login(user)
        for model in admin.site._registry:
            label = model._meta.label
            try:
                url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")
            except NoReverseMatch:  # the cache's page has no add route
                continue
            for body in (None, {}, _minimal(label, codeframe, [manager, root])):
                with transaction.atomic():  # a database error would end the test's transaction
                    reply = client.get(url) if body is None else client.post(url, body)
                    transaction.set_rollback(True)
                assert reply.status_code < 500, (user.username, label, body)
                refused += reply.status_code == 403
                if body and reply.status_code == 302:
                    saved.add((user.username, label))
        codeframes = reverse("admin:codeframe_codeframe_add")
        assert client.get(codeframes).status_code == 403
        listing = client.get(reverse("admin:codeframe_codeframe_changelist")).content.decode()
        assert codeframes not in listing  # no "Add codeframe" button
    assert refused  # the walk reached the pages that refuse, and saved where it may
    by_hand = {"codeframe.Project", "codeframe.Question", "codeframe.Response"}
    assert saved == {("manager", label) for label in by_hand} | {
        ("root", label) for label in {*by_hand, "auth.Group", "auth.User", "authtoken.TokenProxy"}
    }


def test_the_question_list_tells_a_trackers_waves_apart(admin_client, codeframe):
    """Three rows read "Bank NPS 2026 | Why did you give that score?", told apart only by
    their answer counts: the wave is a column, a filter and a search term, at no query a row."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    approved = waves.approve_codeframe(codeframe=codeframe)
    waves.code_wave(codeframe=approved, rows=rows(["Fees", "Staff"]), wave="2027-01")
    url = reverse("admin:codeframe_question_changelist")

    def listed(**params) -> tuple[list[str], int]:
        with CaptureQueriesContext(connection) as captured:
            page = admin_client.get(url, params)
        assert page.status_code == 200
        cl = page.context["cl"]
        return [cl.model_admin.wave(q) for q in cl.result_list], len(captured)

    two, queries = listed()
    assert sorted(two) == ["1", "2027-01"]
    waves.code_wave(codeframe=approved, rows=rows(["Fees"]), wave="2027-02")
    three, more = listed(o="3")  # by the wave column: in the tracker's order
    assert three == ["1", "2027-01", "2027-02"] and more == queries
    assert listed(wave_label="2027-02")[0] == ["2027-02"]
    assert listed(q="2027-01")[0] == ["2027-01"]
    html = admin_client.get(url).content.decode()
    assert "2027-02</td>" in html and "?wave_label=2027-01" in html  # the column, the filter


def test_the_admin_link_shows_to_those_with_an_admin_page(client, codeframe, django_user_model):
    """A staff manager of a project without model permissions got an "Admin" link to an
    admin with nothing of theirs in it (the cache's page is the operators')."""
    from django.contrib.auth.models import Group

    link = f'href="{reverse("admin:index")}"'
    boss = django_user_model.objects.create_user("boss", password="pw-boss-12345", is_staff=True)
    Membership.objects.create(project=codeframe.question.project, user=boss, role=Role.MANAGER)
    client.force_login(boss)
    page = client.get(reverse("codeframe:question-list"))
    assert page.status_code == 200 and link not in page.content.decode()
    assert b"codeframe" not in client.get(reverse("admin:index")).content.lower()  # nothing
    # What an operator grants: a group with the codeframe app's permissions.
    managers = Group.objects.create(name="Project managers")
    managers.permissions.set(Permission.objects.filter(content_type__app_label="codeframe"))
    boss.groups.add(managers)
    assert link in client.get(reverse("codeframe:question-list")).content.decode()
    client.force_login(User.objects.create_superuser("root", password="pw-root-123"))
    assert link in client.get(reverse("codeframe:question-list")).content.decode()
    client.force_login(django_user_model.objects.create_user("ana", password="pw-ana-12345"))
    assert link not in client.get(reverse("codeframe:question-list")).content.decode()
