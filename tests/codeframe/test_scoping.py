"""Projects scope everything: who sees which objects, what each role may change, members, the
admin for non-superusers, and the write races the question row lock prevents."""

import threading
import time

import pytest
from django.contrib.auth.models import AnonymousUser, Permission
from django.db import connection
from django.urls import reverse

from codeframe import scoping, services, waves
from codeframe.exceptions import AnswersChanged, MembershipError, TooManyResponses
from codeframe.generation import generate_codeframe
from codeframe.importers import ImportedRow
from codeframe.models import Code, Codeframe, Membership, Project, Question, Response, Role
from embeddings.services import embed_texts
from tests.codeframe.conftest import ANSWERS

pytestmark = pytest.mark.django_db


def rows(texts):
    return [ImportedRow(line=i, respondent_id=str(i), text=t) for i, t in enumerate(texts, 1)]


@pytest.fixture
def two_projects(django_user_model):
    make = django_user_model.objects.create_user
    users = {name: make(name, password=f"pw-{name}-123") for name in ("ann", "bob", "cid")}
    a, b = Project.objects.create(name="A"), Project.objects.create(name="B")
    Membership.objects.create(project=a, user=users["ann"], role=Role.VIEWER)
    Membership.objects.create(project=a, user=users["bob"], role=Role.ANALYST)
    Membership.objects.create(project=b, user=users["bob"], role=Role.MANAGER)
    qa = services.import_responses(rows=rows(ANSWERS), project=a, survey="QA").question
    qb = services.import_responses(rows=rows(ANSWERS), project=b, survey="QB").question
    return users, a, b, qa, qb


def test_scope_by_membership_and_role(two_projects, django_user_model):
    users, _a, _b, qa, qb = two_projects
    ann, bob, cid = users["ann"], users["bob"], users["cid"]
    assert list(scoping.questions_for(ann)) == [qa]
    assert list(scoping.questions_for(ann, role=Role.ANALYST)) == []
    assert set(scoping.questions_for(bob)) == {qa, qb}
    assert list(scoping.questions_for(bob, role=Role.MANAGER)) == [qb]
    assert list(scoping.questions_for(cid)) == []
    assert list(scoping.questions_for(AnonymousUser())) == []
    root = django_user_model.objects.create_superuser("root", password="pw-root-123")
    assert set(scoping.questions_for(root, role=Role.MANAGER)) == {qa, qb}
    ann.is_active = False
    assert list(scoping.questions_for(ann)) == []
    # One line scopes any model that reaches a project.
    assert scoping.scope(Response.objects.all(), bob, role=Role.MANAGER).count() == len(ANSWERS)
    assert set(scoping.responses_for(users["ann"])) == set()  # inactive now


def test_role_checks(two_projects):
    users, a, b, qa, _qb = two_projects
    assert scoping.role_in(users["ann"], a.pk) == Role.VIEWER
    assert scoping.has_role(users["bob"], a.pk, Role.ANALYST)
    assert not scoping.has_role(users["bob"], a.pk, Role.MANAGER)
    assert scoping.role_in(users["cid"], a.pk) is None
    response = qa.responses.first()
    assert scoping.project_id_of(response) == a.pk and scoping.project_id_of(b) == b.pk


def test_pages_answer_404_outside_and_403_below_the_role(client, two_projects):
    users, _a, _b, qa, qb = two_projects
    codeframe = services.create_codeframe(question=qa, n_codes=3)
    client.force_login(users["ann"])  # viewer of A
    assert client.get(qa.get_absolute_url()).status_code == 200
    assert client.get(qb.get_absolute_url()).status_code == 404
    assert client.post(reverse("codeframe:question-generate", args=[qa.pk])).status_code == 403
    code = codeframe.codes.first()
    rename = reverse("codeframe:code-rename", args=[codeframe.pk, code.pk])
    assert client.post(rename, {"label": "x"}).status_code == 403
    page = client.get(codeframe.get_absolute_url()).content.decode()
    assert "read only" in page and "Rename" not in page
    client.force_login(users["bob"])  # analyst of A
    assert client.post(rename, {"label": "Renamed"}).status_code == 302
    assert Code.objects.get(pk=code.pk).label == "Renamed"
    delete = reverse("codeframe:codeframe-delete", args=[codeframe.pk])
    assert client.post(delete).status_code == 403 and Codeframe.objects.count() == 1


def test_replace_needs_a_manager(client, two_projects):
    users, _a, _b, qa, qb = two_projects
    client.force_login(users["bob"])  # analyst of A, manager of B
    url = reverse("codeframe:question-import-more", args=[qa.pk])
    assert 'name="replace"' not in client.get(url).content.decode()  # not offered to bob
    page = client.post(url, {"pasted": "new", "replace": "on"})
    assert page.status_code == 200 and "only managers" in page.content.decode()
    assert qa.responses.count() == len(ANSWERS)
    url = reverse("codeframe:question-import-more", args=[qb.pk])
    assert 'name="replace"' in client.get(url).content.decode()
    assert client.post(url, {"pasted": "new", "replace": "on"}).status_code == 302
    assert list(qb.responses.values_list("text", flat=True)) == ["new"]


def test_personal_project_on_first_use(client, django_user_model):
    user = django_user_model.objects.create_user("new", password="pw-new-12345")
    client.force_login(user)
    assert client.get("/questions/").status_code == 200
    project = Project.objects.get(personal_for=user)
    assert services.personal_project(user=user) == project
    # Listed once, as the empty choice, not again under its name.
    form = client.get("/questions/import/").content.decode()
    choices = form.split('id="id_project"', 1)[1].split("</select>", 1)[0]
    assert choices.count("My personal project") == 1
    assert f'<option value="{project.pk}"' not in choices
    assert Membership.objects.get(project=project).role == Role.MANAGER
    reply = client.post(
        "/api/codeframes/", {"responses": ANSWERS, "n_codes": 3}, content_type="application/json"
    )
    assert reply.status_code == 202
    assert Question.objects.get(pk=reply.json()["question"]).project == project


def test_api_project_option(client, two_projects):
    users, a, b, _qa, _qb = two_projects
    client.force_login(users["bob"])
    body = {"responses": ANSWERS, "n_codes": 3, "project": b.pk}
    reply = client.post("/api/codeframes/", body, content_type="application/json")
    assert reply.status_code == 202
    assert Question.objects.get(pk=reply.json()["question"]).project == b
    client.force_login(users["ann"])  # viewer of A, not in B
    for project, status in ((b, 404), (a, 403)):
        body["project"] = project.pk
        reply = client.post("/api/codeframes/", body, content_type="application/json")
        assert reply.status_code == status
    assert client.get(f"/api/codeframes/{reply.json().get('id', 0) or 1}/").status_code == 404


def test_a_wave_stays_in_its_trackers_project(client, two_projects, django_user_model):
    users, _a, b, _qa, qb = two_projects
    codeframe = services.create_codeframe(question=qb, n_codes=3)
    waves.approve_codeframe(codeframe=codeframe)
    wave = waves.code_wave(codeframe=codeframe, rows=rows(ANSWERS[:8]), wave="2027-01").question
    assert wave.project == b  # not the shared "Default" project
    client.force_login(users["bob"])  # manager of B
    assert client.get(reverse("codeframe:question-tracker", args=[wave.pk])).status_code == 200
    outsider = django_user_model.objects.create_user("dee", password="pw-dee-123")
    Membership.objects.create(project=services.default_project(), user=outsider, role=Role.VIEWER)
    client.force_login(outsider)
    tracker = reverse("codeframe:question-tracker", args=[wave.pk])
    assert client.get(tracker, {"format": "sav"}).status_code == 404
    assert waves.tracker_questions(question=qb) == [qb, wave]
    # A wave in another project (stored before the fix, until migration 0006 moves it, see
    # test_migrations; or moved in the admin): neither tracker reaches across to the other's.
    Question.objects.filter(pk=wave.pk).update(project=services.default_project())
    wave.refresh_from_db()
    assert waves.tracker_questions(question=qb) == [qb]
    assert waves.tracker_root(wave) == wave and waves.tracker_questions(question=wave) == [wave]
    frames = waves.tracker_frames(question=wave)
    assert [frame.question_id for _, _, frame in frames] == [wave.pk]
    client.force_login(outsider)  # a Default member sees the wave alone, not B's first wave
    assert client.get(tracker, {"format": "sav"}).status_code == 200
    assert client.get(reverse("codeframe:question-tracker", args=[qb.pk])).status_code == 404


def test_managers_manage_members(client, two_projects):
    users, a, b, _qa, _qb = two_projects
    members = reverse("codeframe:project-member-set", args=[b.pk])
    client.force_login(users["bob"])  # manager of B
    assert client.post(members, {"username": "cid", "role": "analyst"}).status_code == 302
    assert scoping.role_in(users["cid"], b.pk) == Role.ANALYST
    page = client.get(b.get_absolute_url()).content.decode()
    assert "cid" in page and "Add member" in page
    reply = client.post(members, {"username": "nobody", "role": "viewer"}, follow=True)
    assert "There is no active user" in reply.content.decode()
    # The last manager cannot leave or step down.
    remove_bob = reverse("codeframe:project-member-remove", args=[b.pk, users["bob"].pk])
    reply = client.post(remove_bob, follow=True)
    assert "at least one manager" in reply.content.decode()
    client.post(members, {"username": "cid", "role": "manager"})
    assert client.post(remove_bob).status_code == 302
    assert scoping.role_in(users["bob"], b.pk) is None
    # Not a manager (any more): 404 for B, and 403 in A where bob is an analyst.
    assert client.post(members, {"username": "ann", "role": "viewer"}).status_code == 404
    members_a = reverse("codeframe:project-member-set", args=[a.pk])
    assert client.post(members_a, {"username": "cid", "role": "viewer"}).status_code == 403


def test_set_member_refuses_unknown_role(two_projects):
    _users, a, _b, _qa, _qb = two_projects
    with pytest.raises(MembershipError):
        services.set_member(project=a, username="cid", role="owner")


def test_question_list_queries_do_not_grow_with_questions(
    client, two_projects, django_assert_max_num_queries
):
    users, _a, b, _qa, _qb = two_projects
    for i in range(60):
        question = services.import_responses(rows=rows(["x", "y"]), project=b, survey=f"S{i}")
        if i % 10 == 0:
            services.create_codeframe(question=question.question, n_codes=1)
    client.force_login(users["bob"])
    with django_assert_max_num_queries(12):
        page = client.get("/questions/")
    assert page.status_code == 200
    assert len(page.context["questions"]) == 50 and page.context["page"].paginator.count == 62
    second = client.get("/questions/?page=2")
    assert len(second.context["questions"]) == 12
    counts = {q.survey: (q.response_count, q.codeframe_count) for q in second.context["questions"]}
    assert counts["S0"] == (2, 1) and counts["QA"] == (len(ANSWERS), 0)


def test_the_question_lists_group_a_trackers_waves_only_within_a_project(client, two_projects):
    """A wave whose first wave is in another project is a row of its own there (as
    `tracker_root` takes it), and never listed under that project's tracker."""
    users, a, b, qa, qb = two_projects
    Question.objects.filter(pk=qa.pk).update(wave_order=1)
    Question.objects.filter(pk=qb.pk).update(tracker=qa, wave_order=2, wave_label="Feb")
    same = services.import_responses(rows=rows(["x"]), project=a, survey="QA").question
    Question.objects.filter(pk=same.pk).update(tracker=qa, wave_order=3, wave_label="Mar")
    client.force_login(users["bob"])  # sees both projects
    listed = client.get(reverse("codeframe:question-list")).context["questions"]
    by_pk = {q.pk: q for q in listed}
    assert set(by_pk) == {qa.pk, qb.pk}
    assert [w.pk for w in by_pk[qa.pk].waves] == [qa.pk, same.pk] and by_pk[qb.pk].waves == []
    client.force_login(users["ann"])  # viewer of A only
    listed = client.get(reverse("codeframe:project-detail", args=[a.pk])).context["questions"]
    assert [[w.pk for w in q.waves] for q in listed] == [[qa.pk, same.pk]]
    assert client.get(reverse("codeframe:project-detail", args=[b.pk])).status_code == 404


def test_a_codeframe_stored_over_replaced_answers_fails_cleanly(question):
    texts = list(question.responses.order_by("position").values_list("pk", "text"))
    answers = [t for _, t in texts]
    draft = generate_codeframe(answers, vectors=embed_texts(answers), n_codes=3)
    services.import_responses(rows=rows(["replaced"]), question=question, replace=True)
    with pytest.raises(AnswersChanged, match="changed while the codeframe"):
        services.store_codeframe(
            question=question,
            response_ids=[pk for pk, _ in texts],
            draft=draft,
            embedding={},
            started=time.perf_counter(),
        )
    assert Codeframe.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_imports_into_one_question_do_not_interleave(settings):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (make test runs this on it)")
    settings.CODEFRAME = {**settings.CODEFRAME, "MAX_RESPONSES": 3001, "BATCH_SIZE": 100}
    question = services.import_responses(rows=rows(["first"]), survey="Race").question
    errors = []

    def worker(tag: str) -> None:
        # Each import its own respondents: an id the question has already is refused.
        texts = [f"{tag} {i}" for i in range(1000)]
        mine = [ImportedRow(line=i, respondent_id=t, text=t) for i, t in enumerate(texts, 2)]
        try:
            services.import_responses(rows=mine, question=question)
        except TooManyResponses as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(t,)) for t in "abcd"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    texts = list(question.responses.order_by("position").values_list("text", flat=True))
    positions = list(question.responses.order_by("position").values_list("position", flat=True))
    assert len(texts) == 3001 and len(errors) == 1  # three imports fit, the fourth is refused
    assert positions == list(range(1, len(texts) + 1))
    # Each import is one contiguous block of positions.
    blocks = [t.split()[0] for t in texts[1:]]
    assert all(blocks[i] == blocks[i - 1] or i % 1000 == 0 for i in range(1, len(blocks)))


def test_admin_scopes_non_superusers(client, two_projects):
    users, a, _b, qa, qb = two_projects
    staff = users["ann"]
    staff.is_staff = True
    staff.save()
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="codeframe"))
    client.force_login(staff)
    listing = client.get(reverse("admin:codeframe_question_changelist"))
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [qa]
    other = client.get(reverse("admin:codeframe_question_change", args=[qb.pk]))
    assert other.status_code == 302  # "does not exist", as for any missing id
    own = client.get(reverse("admin:codeframe_question_change", args=[qa.pk]))
    assert own.status_code == 200 and b'name="_save"' not in own.content  # viewer: read only
    projects = client.get(reverse("admin:codeframe_project_changelist"))
    assert list(projects.context["cl"].result_list) == [a]


def test_nobody_can_make_a_users_personal_project_theirs(client, django_user_model, two_projects):
    """A staff manager of a project marked it in the admin as personal for another user, who had
    none yet: the user's API uploads "to your personal project" landed in it, for the staff user
    to read. Marking is read-only in the admin, and a marked project the user does not manage
    alone is not used."""
    _users, a, _b, _qa, _qb = two_projects
    victim = django_user_model.objects.create_user("victim", password="pw-victim-123")
    Project.objects.filter(pk=a.pk).update(personal_for=victim)  # as the admin allowed
    victim.refresh_from_db()
    client.force_login(victim)
    reply = client.post(
        "/api/codeframes/", {"responses": ANSWERS, "n_codes": 3}, content_type="application/json"
    )
    assert reply.status_code == 202
    project = Question.objects.get(pk=reply.json()["question"]).project
    assert project != a and list(project.memberships.values_list("user", flat=True)) == [victim.pk]
    assert Project.objects.get(pk=a.pk).personal_for is None
    assert Project.objects.get(personal_for=victim) == project

    staff = django_user_model.objects.create_superuser("root", password="pw-root-123")
    client.force_login(staff)
    form = client.get(f"/admin/codeframe/project/{a.pk}/change/").content.decode()
    assert 'name="personal_for"' not in form
    total = a.memberships.count() + 1  # its members, and a blank one to add
    assert f'name="memberships-TOTAL_FORMS" value="{total}"' in form
    personal = client.get(f"/admin/codeframe/project/{project.pk}/change/").content.decode()
    assert 'name="memberships-TOTAL_FORMS" value="1"' in personal  # its owner: none to add


def test_a_personal_project_takes_no_other_members(client, django_user_model):
    """Anyone manages their personal project: adding members to it let any user learn which
    usernames exist and put anyone into "their project"."""
    owner = django_user_model.objects.create_user("owner", password="pw-owner-123")
    django_user_model.objects.create_user("other", password="pw-other-123")
    project = services.personal_project(user=owner)
    client.force_login(owner)
    url = reverse("codeframe:project-member-set", args=[project.pk])
    for name in ("other", "no-such-user"):
        page = client.post(url, {"username": name, "role": Role.VIEWER}, follow=True)
        assert "A personal project is its owner" in page.content.decode()
    assert list(project.memberships.values_list("user", flat=True)) == [owner.pk]
    assert 'id="id_username"' not in client.get(project.get_absolute_url()).content.decode()


def test_a_superusers_role_reads_the_same_on_every_page(client, django_user_model, codeframe):
    """A superuser who is also a viewer of a project read "viewer" in the project list and
    "manager" on its pages (and "superuser" elsewhere): every page now says "superuser"."""
    admin = django_user_model.objects.create_superuser("root", password="pw-root-12345")
    project = codeframe.question.project
    Membership.objects.create(project=project, user=admin, role=Role.VIEWER)
    client.force_login(admin)
    pages = [
        reverse("codeframe:project-list"),
        reverse("codeframe:project-detail", args=[project.pk]),
        reverse("codeframe:question-detail", args=[codeframe.question_id]),
        reverse("codeframe:codeframe-detail", args=[codeframe.pk]),
    ]
    for url in pages:
        page = client.get(url).content.decode()
        assert "superuser" in page, url
        assert ">viewer<" not in page and "role: manager" not in page, url
    listed = client.get("/api/projects/").json()["results"]  # the API as the pages
    assert {p["role"] for p in listed} == {"superuser"} and project.pk in {p["id"] for p in listed}
