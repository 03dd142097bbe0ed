"""Coding a tracker's next wave as a background job, through the API and the pages: approve a
frame, code a wave, decide on suggested codes, read the tracker chart and its CSV."""

import tempfile

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from codeframe import carryback, jobs, selectors, services, waves
from codeframe.exceptions import (
    ImportFailed,
    InvalidEdit,
    JobStateError,
    NotApproved,
    NotTheWavesFrame,
)
from codeframe.models import (
    Assignment,
    Codeframe,
    GenerationJob,
    Membership,
    Question,
    Response,
    Role,
    SuggestedCode,
)
from codeframe.templatetags.codeframe_numbers import percent
from tests.codeframe.test_waves import NEXT_WAVE, frame_shape, rows, suggestion_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def approved(codeframe):
    return waves.approve_codeframe(codeframe=codeframe)


def test_a_wave_job_codes_with_the_approved_numbers(approved, staff_user):
    job = jobs.queue_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01", user=staff_user)
    assert job.kind == GenerationJob.Kind.WAVE and job.state == GenerationJob.State.DONE
    assert job.question.wave_label == "2027-01" and job.question.tracker == approved.question
    stored = job.codeframe
    assert stored.coded_with == approved and frame_shape(stored) == frame_shape(approved)
    assert job.params == {"codeframe": approved.pk, "wave": "2027-01"}


def test_api_codes_a_wave_and_refuses_an_unapproved_frame(api_client, codeframe):
    url = f"/api/codeframes/{codeframe.pk}/waves/"
    payload = {"responses": NEXT_WAVE, "wave": "2027-01"}
    refused = api_client.post(url, payload, format="json")
    assert refused.status_code == 409 and "not approved" in refused.json()["detail"]
    waves.approve_codeframe(codeframe=codeframe)
    accepted = api_client.post(url, payload, format="json")
    assert accepted.status_code == 202, accepted.content
    body = accepted.json()
    assert accepted["Location"] == body["status_url"] and body["kind"] == "wave"
    wave_frame = api_client.get(body["status_url"]).json()["codeframe"]
    numbers = {code["id"] for net in wave_frame["nets"] for code in net["codes"]}
    assert numbers == set(codeframe.codes.values_list("number", flat=True))
    assert len(wave_frame["responses"]) == len([t for t in NEXT_WAVE if t.strip()])
    ids = {r["respondent_id"] for r in wave_frame["responses"]}
    assert ids == {str(i) for i, t in enumerate(NEXT_WAVE, 1) if t.strip()}  # default: position
    again = api_client.post(url, payload, format="json")  # the same label twice
    assert again.status_code == 400 and "already has a wave" in again.json()["detail"]
    bad = api_client.post(url, {"responses": [], "wave": "x"}, format="json")
    assert bad.status_code == 400
    # The survey's own respondent ids, to merge the codes back on; one per answer.
    serials = [f"S-{i:04d}" for i in range(len(NEXT_WAVE))]
    short = api_client.post(
        url, {**payload, "wave": "2027-02", "respondent_ids": serials[1:]}, format="json"
    )
    assert short.status_code == 400 and "respondent_ids" in short.json()["errors"]
    assert short.json()["detail"].startswith("respondent_ids: ")
    body = api_client.post(
        url, {**payload, "wave": "2027-02", "respondent_ids": serials}, format="json"
    ).json()
    coded = api_client.get(body["status_url"]).json()["codeframe"]["responses"]
    assert [r["respondent_id"] for r in coded] == [
        s for s, t in zip(serials, NEXT_WAVE, strict=True) if t.strip()
    ]


def test_a_tracker_runs_through_the_api_alone(staff_user, codeframe, settings):
    """What an integrator does with a token and nothing else: approve, code a wave, cancel and
    retry its job, read the wave's frame, download every export."""
    import io

    import openpyxl
    import pyreadstat
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff_user).key}")
    base = f"/api/codeframes/{codeframe.pk}"
    assert client.get(f"{base}/").json()["approved"] is False
    approved = client.post(f"{base}/approve/")
    assert approved.status_code == 200 and approved.json()["approved"] is True
    withdrawn = client.delete(f"{base}/approve/")
    assert withdrawn.status_code == 200 and withdrawn.json()["approved"] is False
    assert client.post(f"{base}/approve/").json()["approved"] is True

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}  # no worker
    queued = client.post(f"{base}/waves/", {"responses": NEXT_WAVE, "wave": "W2"}, format="json")
    assert queued.status_code == 202, queued.content
    job = queued.json()["id"]
    assert client.post(f"/api/jobs/{job}/retry/").status_code == 409  # still queued
    assert client.post(f"/api/jobs/{job}/cancel/").json()["state"] == "cancelled"
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    retried = client.post(f"/api/jobs/{job}/retry/")
    assert retried.status_code == 202 and retried["Location"] == retried.json()["status_url"]
    assert retried.json()["id"] != job and retried.json()["state"] == "done"
    wave = retried.json()["codeframe"]
    assert (wave["coded_with"], wave["wave"], wave["approved"]) == (codeframe.pk, "W2", False)

    wave_url = f"/api/codeframes/{wave['id']}"
    csv_file = client.get(f"{wave_url}/export/csv/", HTTP_ACCEPT="text/csv")
    assert csv_file.status_code == 200 and csv_file["Content-Type"].startswith("text/csv")
    assert "attachment" in csv_file["Content-Disposition"]
    assert "-wave-2-w2" in csv_file["Content-Disposition"]  # which month's download it is
    rows = b"".join(csv_file.streaming_content).decode("utf-8-sig").splitlines()
    assert len(rows) == 1 + len([t for t in NEXT_WAVE if t.strip()])
    listed = client.get(f"{wave_url}/export/csv/?layout=list")
    list_rows = b"".join(listed.streaming_content).decode("utf-8-sig").splitlines()
    assert listed.status_code == 200 and list_rows[0] != rows[0]  # the other layout's header
    assert client.get(f"{wave_url}/export/csv/?layout=wide").status_code == 400
    assert client.get(f"{wave_url}/export/pdf/").status_code == 404
    workbook = openpyxl.load_workbook(io.BytesIO(client.get(f"{wave_url}/export/xlsx/").content))
    assert workbook.sheetnames == ["Codeframe", "Answers (code list)", "Answers (0-1)"]
    sav = client.get(f"{wave_url}/export/sav/")
    with tempfile.NamedTemporaryFile(suffix=".sav") as handle:
        handle.write(sav.content)
        handle.flush()
        data, meta = pyreadstat.read_sav(handle.name)
    assert len(data) == len(rows) - 1 and "resp_id" in meta.column_names


def test_the_wave_form_keeps_respondent_ids(staff_client, approved):
    new = reverse("codeframe:wave-new", args=[approved.pk])
    lines = "".join(f"{9000 + i},R{i},{t}\n" for i, t in enumerate(NEXT_WAVE) if t.strip())
    for wave, id_column, column in (("2027-01", "", "3"), ("2027-02", "Ref", "")):
        upload = SimpleUploadedFile("wave.csv", f"Serial,Ref,Answer\n{lines}".encode())
        form = {"wave": wave, "file": upload, "column": column, "id_column": id_column}
        assert staff_client.post(new, form).status_code == 302
    ids = {
        q.wave_label: sorted(q.responses.values_list("respondent_id", flat=True))
        for q in Question.objects.filter(tracker=approved.question)
    }
    kept = [i for i, t in enumerate(NEXT_WAVE) if t.strip()]
    assert ids == {  # guessed ("Serial"), then the column asked for
        "2027-01": sorted(str(9000 + i) for i in kept),
        "2027-02": sorted(f"R{i}" for i in kept),
    }


def test_the_wave_form_warns_when_a_file_has_no_respondent_ids(staff_client, approved):
    """A file without an id column is numbered by line, as on the import page: that page warned
    (line numbers look like serials, but will not merge back), the wave form did not."""
    new = reverse("codeframe:wave-new", args=[approved.pk])
    answers = [t for t in NEXT_WAVE if t.strip()]
    bare = SimpleUploadedFile("wave.csv", ("Answer\n" + "\n".join(answers)).encode())
    reply = staff_client.post(new, {"wave": "2027-01", "file": bare}, follow=True)
    shown = [str(m) for m in reply.context["messages"]]
    assert any(f"No respondent id was found for {len(answers)} answers" in m for m in shown)
    with_ids = "".join(f"R{i},{t}\n" for i, t in enumerate(answers))
    upload = SimpleUploadedFile("wave.csv", f"Serial,Answer\n{with_ids}".encode())
    reply = staff_client.post(new, {"wave": "2027-02", "file": upload}, follow=True)
    assert not any("no respondent id" in str(m) for m in reply.context["messages"])
    pasted = staff_client.post(new, {"wave": "2027-03", "pasted": "\n".join(answers)}, follow=True)
    assert not any("no respondent id" in str(m) for m in pasted.context["messages"])


def test_pages_approve_code_a_wave_and_show_the_tracker(staff_client, codeframe):
    page = staff_client.get(codeframe.get_absolute_url()).content.decode()
    assert "Approve this codeframe" in page and "Code a new wave" not in page
    # Approving is a second step that says what is approved: how much is uncoded, unchecked.
    overview = selectors.codeframe_overview(codeframe=codeframe)
    share = percent(overview.uncoded_share)
    said = f"{overview.uncoded} of {overview.base} answers ({share}%) left uncoded, 0 checked"
    assert said in page and '<dd id="checked-count">0 of' in page
    staff_client.post(reverse("codeframe:codeframe-approve", args=[codeframe.pk]))
    page = staff_client.get(codeframe.get_absolute_url()).content.decode()
    assert "Approved" in page and "Code a new wave" in page

    new = reverse("codeframe:wave-new", args=[codeframe.pk])
    empty = staff_client.post(new, {"wave": "2027-01"})
    assert "Upload a file or paste" in empty.content.decode()
    response = staff_client.post(new, {"wave": "2027-01", "pasted": "\n".join(NEXT_WAVE)})
    job = GenerationJob.objects.get(kind=GenerationJob.Kind.WAVE)
    assert response["Location"] == job.get_absolute_url()
    wave_frame = Codeframe.objects.get(coded_with=codeframe)
    done = staff_client.get(job.get_absolute_url(), follow=True)
    assert done.redirect_chain[-1][0] == wave_frame.get_absolute_url()
    overview = selectors.codeframe_overview(codeframe=wave_frame)
    suggested = wave_frame.suggestions.filter(status=SuggestedCode.Status.PENDING).count()
    assert (
        f"Wave 2027-01 coded with codeframe #{codeframe.pk}: "
        f"{overview.total - overview.uncoded} of {overview.total} answers coded, {suggested}"
    ) in done.content.decode()
    page = staff_client.get(wave_frame.get_absolute_url()).content.decode()
    assert f'Coded with approved codeframe <a href="/codeframes/{codeframe.pk}/">' in page
    assert "Tracker chart" in page
    assert "<dt>Took</dt>" in page and "<dt>Coding</dt>" not in page  # steps: operators'
    operator = get_user_model().objects.create_user("operator", is_staff=True, is_superuser=True)
    Membership.objects.create(project=codeframe.question.project, user=operator, role=Role.VIEWER)
    staff_client.force_login(operator)
    timed = staff_client.get(wave_frame.get_absolute_url()).content.decode()
    assert "<dt>Coding</dt>" in timed and "<dt>Clustering</dt>" not in timed  # none clustered
    staff_client.force_login(get_user_model().objects.get(username="analyst"))

    tracker = staff_client.get(reverse("codeframe:question-tracker", args=[codeframe.question_id]))
    html = tracker.content.decode()
    assert tracker.status_code == 200 and "<svg" in html and "2027-01" in html
    assert 'id="tracker-table"' in html

    def chart_legend(reply) -> str:
        page = reply.content.decode()
        start = page.index('id="tracker-chart"')
        return page[start : page.index("</svg>", start)]

    base_row = html[html.index("Base (answers)") : html.index("</thead>")]
    first_base = codeframe.question.responses.count()  # 12: a low base
    assert f'<th class="num muted">{first_base} *</th>' in base_row
    assert "Low base (under\n30 answers)" in html
    url = reverse("codeframe:question-tracker", args=[codeframe.question_id])
    numbered = [f"{c.number}. {c.label}" for c in codeframe.codes.order_by("number")]
    assert all(f">{name}</text>" in chart_legend(tracker) for name in numbered)
    number = codeframe.codes.order_by("number").first().number
    one = staff_client.get(url, {"code": [str(number), "99999", "x"]})  # unknown ones ignored
    assert [name for name in numbered if f">{name}</text>" in chart_legend(one)] == numbered[:1]
    assert f'name="code" value="{number}" checked' in one.content.decode()
    odd = staff_client.get(url, {"code": ["²", "1" * 5000, "-1"]})  # nothing known: the default
    assert odd.status_code == 200
    assert all(f">{name}</text>" in chart_legend(odd) for name in numbered)
    net = codeframe.nets.filter(codes__isnull=False).order_by("number").first()
    assert 'id="tracker-net-table"' in html and html.count("<svg") == 2
    assert html.count("Base (answers)") == 2
    assert 'type="hidden" name="net"' not in html and 'type="hidden" name="code"' not in html
    assert f'<td class="num">{net.number}</td><td>{net.label}</td>' in html

    def net_legend(reply) -> str:
        page = reply.content.decode()
        start = page.index('id="tracker-net-chart"')
        return page[start : page.index("</svg>", start)]

    charted_nets = [f"{n.number}. {n.label}" for n in codeframe.nets.order_by("number")]
    charted_nets = [name for name in charted_nets if f">{name}</text>" in net_legend(tracker)]
    assert len(charted_nets) >= 2  # the fixture's nets with codes, all charted by default
    # Picking one net keeps the codes picked, and the codes' form carries the net back.
    both = staff_client.get(url, {"code": [str(number)], "net": [str(net.number), "x"]})
    assert [n for n in charted_nets if f">{n}</text>" in net_legend(both)] == [
        f"{net.number}. {net.label}"
    ]
    assert [name for name in numbered if f">{name}</text>" in chart_legend(both)] == numbered[:1]
    page = both.content.decode()
    assert f'name="net" value="{net.number}" checked' in page
    assert f'<input type="hidden" name="net" value="{net.number}">' in page
    assert f'<input type="hidden" name="code" value="{number}">' in page
    csv_reply = staff_client.get(
        reverse("codeframe:question-tracker", args=[codeframe.question_id]), {"format": "csv"}
    )
    assert csv_reply["Content-Type"].startswith("text/csv") and b"2027-01" in csv_reply.content
    levels = [line.split(",")[0] for line in csv_reply.content.decode("utf-8-sig").splitlines()]
    assert levels[0] == "level" and {"code", "net", "uncoded"} == set(levels[1:])
    uncoded_rows = [
        r for r in csv_reply.content.decode("utf-8-sig").splitlines() if "uncoded," in r
    ]
    assert [r.split(",")[1:4] for r in uncoded_rows] == [
        ["1", "", "Uncoded (no code)"],
        ["2027-01", "", "Uncoded (no code)"],
    ]
    assert '<tbody class="muted" id="tracker-uncoded">' in html and "Uncoded (no code)" in html


def test_suggestions_are_accepted_or_dismissed_from_the_page(staff_client, codeframe):
    waves.approve_codeframe(codeframe=codeframe)
    wave_frame = waves.code_wave(codeframe=codeframe, rows=rows(NEXT_WAVE), wave="w2")
    first = suggestion_of(wave_frame, "Branch closures", 2)
    second = SuggestedCode.objects.create(codeframe=wave_frame, label="Noise", size=1)
    page = staff_client.get(wave_frame.get_absolute_url()).content.decode()
    assert "Suggested new codes" in page and "Branch closures" in page
    url = reverse("codeframe:suggestion-decide", args=[wave_frame.pk, first.pk, "accept"])
    staff_client.post(url, {"label": "Branches closing"})
    code = wave_frame.codes.get(label="Branches closing")
    assert code.number > max(codeframe.codes.values_list("number", flat=True))
    url = reverse("codeframe:suggestion-decide", args=[wave_frame.pk, second.pk, "dismiss"])
    staff_client.post(url)
    second.refresh_from_db()
    assert second.status == SuggestedCode.Status.DISMISSED
    bogus = reverse("codeframe:suggestion-decide", args=[wave_frame.pk, second.pk, "delete"])
    assert staff_client.post(bogus).status_code == 404


def test_a_suggestion_is_coded_as_an_existing_code_from_the_page(staff_client, codeframe):
    """A group that is a theme the frame has: its uncoded answers take that code; no number is
    added. A code of another codeframe, or none, is refused with a message."""
    waves.approve_codeframe(codeframe=codeframe)
    wave_frame = waves.code_wave(codeframe=codeframe, rows=rows(NEXT_WAVE), wave="w2")
    before = dict(
        Assignment.objects.filter(codeframe=wave_frame, is_primary=True).values_list(
            "response_id", "code_id"
        )
    )
    some_coded, *others = sorted(before)
    uncoded = others[:2]  # made uncoded here: the group the analyst recognises
    Assignment.objects.filter(codeframe=wave_frame, response_id__in=uncoded).delete()
    suggestion = SuggestedCode.objects.create(
        codeframe=wave_frame,
        label="Fees again",
        size=len(uncoded) + 1,
        response_ids=[*uncoded, some_coded],
    )
    numbers = sorted(wave_frame.codes.values_list("number", flat=True))
    target = wave_frame.codes.order_by("number").first()
    page = staff_client.get(wave_frame.get_absolute_url()).content.decode()
    assert "Code as" in page
    url = reverse("codeframe:suggestion-decide", args=[wave_frame.pk, suggestion.pk, "assign"])

    foreign = codeframe.codes.first()  # the approved frame's, not this wave's
    reply = staff_client.post(url, {"code": foreign.pk}, follow=True)
    assert "Choose one of this codeframe" in reply.content.decode()
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestedCode.Status.PENDING

    reply = staff_client.post(url, {"code": target.pk}, follow=True)
    assert f"as {target.number}." in reply.content.decode()
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestedCode.Status.ACCEPTED and suggestion.code == target
    assert sorted(wave_frame.codes.values_list("number", flat=True)) == numbers
    primary = dict(
        Assignment.objects.filter(codeframe=wave_frame, is_primary=True).values_list(
            "response_id", "code_id"
        )
    )
    assert all(primary[pk] == target.pk for pk in uncoded)
    assert primary[some_coded] == before[some_coded]  # a coded answer keeps its own code
    target.refresh_from_db()
    assert target.size == sum(1 for code_id in primary.values() if code_id == target.pk)
    # Decided once: a second decision is refused with a message, nothing changes.
    reply = staff_client.post(url, {"code": target.pk}, follow=True)
    assert "already accepted" in reply.content.decode()


def test_api_lists_and_decides_suggestions(api_client, approved):
    wave_frame = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="w2")
    before = dict(
        Assignment.objects.filter(codeframe=wave_frame, is_primary=True).values_list(
            "response_id", "code_id"
        )
    )
    uncoded = sorted(before)[:2]
    Assignment.objects.filter(codeframe=wave_frame, response_id__in=uncoded).delete()
    fees = SuggestedCode.objects.create(
        codeframe=wave_frame, label="Fees again", size=2, response_ids=uncoded
    )
    branches = suggestion_of(wave_frame, "Branches")
    noise = SuggestedCode.objects.create(codeframe=wave_frame, label="Noise", size=1)
    base = f"/api/codeframes/{wave_frame.pk}/suggestions/"

    listed = api_client.get(base).json()
    assert [(s["label"], s["status"], s["code"]) for s in listed] == [
        ("Fees again", "pending", None),
        ("Branches", "pending", None),
        ("Noise", "pending", None),
    ]
    target = wave_frame.codes.order_by("number").first()
    missing = api_client.post(f"{base}{fees.pk}/", {"decision": "assign"}, format="json")
    assert missing.status_code == 400 and "code" in missing.json()["errors"]
    nowhere = api_client.post(
        f"{base}{fees.pk}/", {"decision": "assign", "code": 999}, format="json"
    )
    assert nowhere.status_code == 400 and "no code 999" in nowhere.json()["detail"]
    # A field of another decision is refused, not ignored ("accept" with a code meant assign).
    for body, field in (
        ({"decision": "accept", "code": target.number}, "code"),
        ({"decision": "assign", "code": target.number, "label": "x"}, "label"),
        ({"decision": "dismiss", "label": "x"}, "label"),
    ):
        refused = api_client.post(f"{base}{fees.pk}/", body, format="json")
        assert refused.status_code == 400 and field in refused.json()["errors"], body
        assert "takes no" in refused.json()["detail"]
    fees.refresh_from_db()
    assert fees.status == "pending"
    assigned = api_client.post(
        f"{base}{fees.pk}/", {"decision": "assign", "code": target.number}, format="json"
    )
    assert assigned.status_code == 200, assigned.content
    assert assigned.json()["status"] == "accepted" and assigned.json()["code"] == target.number
    assert set(
        Assignment.objects.filter(codeframe=wave_frame, response_id__in=uncoded).values_list(
            "code_id", flat=True
        )
    ) == {target.pk}
    again = api_client.post(f"{base}{fees.pk}/", {"decision": "dismiss"}, format="json")
    assert again.status_code == 409 and "already accepted" in again.json()["detail"]

    highest = max(approved.codes.values_list("number", flat=True))
    accepted = api_client.post(
        f"{base}{branches.pk}/", {"decision": "accept", "label": "Branch closures"}, format="json"
    )
    assert accepted.json()["code"] == highest + 1
    assert (accepted.json()["label"], accepted.json()["code_label"]) == (
        "Branches",  # as suggested
        "Branch closures",  # as accepted
    )
    assert assigned.json()["code_label"] == target.label
    assert wave_frame.codes.get(number=highest + 1).label == "Branch closures"
    dismissed = api_client.post(f"{base}{noise.pk}/", {"decision": "dismiss"}, format="json")
    assert dismissed.json()["status"] == "dismissed" and dismissed.json()["code"] is None
    other = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="w3")
    foreign = api_client.post(
        f"/api/codeframes/{other.pk}/suggestions/{noise.pk}/",
        {"decision": "dismiss"},
        format="json",
    )
    assert foreign.status_code == 404  # a suggestion is reached through its own codeframe


def test_a_wave_job_reports_embedding_progress_per_batch(approved, settings):
    """Coding a wave embeds the frame's examples and the wave's answers in batches, one
    progress write each (cancel and the watchdog see it), then codes them."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.CODEFRAME = {"JOB_EMBED_BATCH": 4}
    job = jobs.queue_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    assert job.state == GenerationJob.State.QUEUED
    seen = []
    finished = jobs.run_job(job_id=job.pk, on_progress=seen.append)
    assert finished.state == GenerationJob.State.DONE
    examples = {t for ts in waves.classifier_examples(codeframe=approved).values() for t in ts}
    total = len(examples | {t for t in NEXT_WAVE if t.strip()})
    steps = [(p.stage, p.done, p.total) for p in seen]
    batches = [("embedding", n, total) for n in [*range(0, total, 4), total]]
    assert steps == [*batches, ("coding", total, total), ("finished", total, total)]
    assert finished.done == finished.total == total
    assert finished.cache_hits + finished.cache_misses == total


def test_a_wave_job_cancelled_while_embedding_stores_nothing(approved, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.CODEFRAME = {"JOB_EMBED_BATCH": 4}
    job = jobs.queue_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")

    def cancel_midway(progress):
        if progress.done == 4:
            jobs.cancel_job(job=GenerationJob.objects.get(pk=job.pk))

    finished = jobs.run_job(job_id=job.pk, on_progress=cancel_midway)
    assert finished.state == GenerationJob.State.CANCELLED and finished.done == 4
    assert not Codeframe.objects.filter(question=job.question).exists()


def test_a_frame_a_wave_is_queued_with_is_kept_until_the_job_ends(approved, settings):
    """Deleting the approved frame under a queued wave job would leave a job no retry can
    finish: the delete is refused while the job is active, and a job whose frame went anyway
    fails saying what to do."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    job = jobs.queue_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    coding = r"a wave that needs it is being coded \(2027-01\)"
    with pytest.raises(InvalidEdit, match=rf"Codeframe #{approved.pk} is kept: {coding}"):
        services.delete_codeframe(codeframe=approved)
    # Nor through its question, nor by replacing its answers.
    with pytest.raises(InvalidEdit, match=f"This question is kept: {coding}"):
        services.delete_question(question=approved.question)
    with pytest.raises(InvalidEdit, match=f"These answers cannot be replaced: {coding}"):
        services.import_responses(rows=rows(["new"]), question=approved.question, replace=True)
    assert Codeframe.objects.filter(pk=approved.pk).exists()
    Codeframe.objects.filter(pk=approved.pk).delete()  # as the admin's bulk delete would
    failed = jobs.run_job(job_id=job.pk)
    assert failed.state == GenerationJob.State.FAILED
    assert failed.error.startswith(f"The approved codeframe #{approved.pk} this wave was")
    with pytest.raises(NotApproved, match="was deleted"):  # a retry could never finish
        jobs.retry_job(job=failed)


def test_a_wave_being_coded_or_coded_again_keeps_its_question_and_frame(
    approved, settings, staff_user
):
    """A wave's own job, and a re-code, need the wave's answers and the frame it is coded again
    from: deleting or replacing them under the job is refused."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    job = jobs.queue_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    coding = r"a wave that needs it is being coded \(2027-01\)"
    with pytest.raises(InvalidEdit, match=coding):
        services.delete_question(question=job.question)
    with pytest.raises(InvalidEdit, match=coding):
        services.import_responses(rows=rows(["new"]), question=job.question, replace=True)
    wave = jobs.run_job(job_id=job.pk).codeframe
    recode = jobs.queue_recode(codeframe=wave, user=staff_user)
    with pytest.raises(InvalidEdit, match=coding):
        services.delete_codeframe(codeframe=wave)
    jobs.cancel_job(job=recode)
    services.delete_codeframe(codeframe=wave)  # once the job is over, it may go


def test_a_wave_job_checks_again_when_it_stores(approved, settings):
    """The checks made when a wave job is queued may no longer hold when it runs or, minutes
    of embedding later, when it stores: two frames of the first wave each queued a wave before
    either was coded (the one coded first starts the numbering), or approval was withdrawn
    while it embedded."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.CODEFRAME = {"JOB_EMBED_BATCH": 4}
    other = waves.approve_codeframe(
        codeframe=services.create_codeframe(question=approved.question, n_codes=2)
    )
    first = jobs.queue_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    second = jobs.queue_wave(codeframe=other, rows=rows(NEXT_WAVE), wave="2027-02")
    assert jobs.run_job(job_id=first.pk).state == GenerationJob.State.DONE
    failed = jobs.run_job(job_id=second.pk)
    assert failed.state == GenerationJob.State.FAILED
    assert f"coded with the numbers of codeframe #{approved.pk}, not #{other.pk}" in failed.error

    third = jobs.queue_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-03")

    def withdraw(progress):
        if progress.done == 4:  # halfway through embedding
            waves.approve_codeframe(codeframe=approved, approved=False)

    failed = jobs.run_job(job_id=third.pk, on_progress=withdraw)
    assert failed.state == GenerationJob.State.FAILED and "withdrawn" in failed.error
    assert not Codeframe.objects.filter(question=third.question).exists()


def test_edits_carried_back_while_a_wave_job_embeds_are_coded_with(approved, settings):
    """Edits carried back to the approved frame while a wave job embeds (minutes, at scale):
    the job coded with the frame as it was and stored the frame as it is, so a code carried
    back read 0% in the wave instead of "not asked", and a code merged away failed the job
    ("the draft assigns unknown code"). Now the wave is coded again with the frame as it is."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.CODEFRAME = {"JOB_EMBED_BATCH": 4}
    w2 = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    added = waves.accept_suggestion(suggestion=suggestion_of(w2, "Mortgage", 2)).number
    kept, merged = list(w2.codes.filter(kind="theme").order_by("number"))[:2]
    services.merge_codes(target=kept, sources=[merged])
    job = jobs.queue_wave(codeframe=approved, rows=rows(NEXT_WAVE * 3), wave="2027-02")

    def carry_back(progress):
        if progress.stage == "embedding" and progress.done == 4:  # idempotent the second time
            carryback.carry_back(codeframe=w2)

    finished = jobs.run_job(job_id=job.pk, on_progress=carry_back)
    assert finished.state == GenerationJob.State.DONE, finished.error
    stored = finished.codeframe
    numbers = set(stored.codes.values_list("number", flat=True))
    assert numbers == set(approved.codes.values_list("number", flat=True))
    assert added in numbers and merged.number not in numbers
    assert added in stored.params["theme_codes"]  # offered to the wave's answers


def test_answers_of_a_suggestion_coded_by_hand_leave_it(approved, staff_client):
    """The suggestion said 4 answers after 3 of them were coded by hand, and accepting it made a
    code of one answer, spending a tracker number on it."""
    w2 = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE * 2), wave="2027-01")
    suggestion = suggestion_of(w2, "Mortgage", 5)
    texts = dict(w2.question.responses.values_list("pk", "text"))
    suggestion.examples = [texts[pk] for pk in suggestion.response_ids[:3]]
    suggestion.save()
    target = w2.codes.order_by("number").first()
    services.move_response(
        response=Response.objects.get(pk=suggestion.response_ids[0]), to_code=target
    )
    services.uncode_response(
        response=Response.objects.get(pk=suggestion.response_ids[1]), codeframe=w2
    )
    suggestion.refresh_from_db()
    assert suggestion.size == 3 and len(suggestion.response_ids) == 3
    # Its examples are its answers' still (they showed answers coded by hand since), as many.
    assert suggestion.examples == [texts[pk] for pk in suggestion.response_ids]
    services.move_response(
        response=Response.objects.get(pk=suggestion.response_ids[0]), to_code=target
    )
    assert not SuggestedCode.objects.filter(pk=suggestion.pk).exists()  # too few to be a code
    # Accepted from a page read before: a message, not a 404.
    url = reverse("codeframe:suggestion-decide", args=[w2.pk, suggestion.pk, "accept"])
    page = staff_client.post(url, follow=True).content.decode()
    assert "That suggestion is gone: its answers were coded by hand since." in page


def test_the_first_waves_answers_are_not_replaced_while_a_later_wave_exists(approved, settings):
    """A wave whose job was cancelled has no codeframe yet, so replacing the first wave's
    answers deleted the approved frame under it: its retry could never finish."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    job = jobs.queue_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    jobs.cancel_job(job=job)
    with pytest.raises(ImportFailed, match=r"later waves \(2027-01\) depend on it"):
        services.import_responses(rows=rows(["new"]), question=approved.question, replace=True)
    assert Codeframe.objects.filter(pk=approved.pk).exists()
    retried = jobs.run_job(job_id=jobs.retry_job(job=GenerationJob.objects.get(pk=job.pk)).pk)
    assert retried.state == GenerationJob.State.DONE


def test_a_wave_queued_before_approval_was_withdrawn_is_not_coded_with_it(
    approved, settings, client, staff_user
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    job = jobs.queue_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    waves.approve_codeframe(codeframe=approved, approved=False)
    failed = jobs.run_job(job_id=job.pk)
    assert failed.state == GenerationJob.State.FAILED and "approval was withdrawn" in failed.error
    assert not Codeframe.objects.filter(question=job.question).exists()
    waves.approve_codeframe(codeframe=approved)
    done = jobs.run_job(job_id=jobs.retry_job(job=failed).pk)
    assert done.state == GenerationJob.State.DONE and done.codeframe.coded_with == approved
    # The failed job's page no longer offers a Retry the wave coded since would refuse.
    client.force_login(staff_user)
    page = client.get(failed.get_absolute_url()).content.decode()
    assert 'id="job-later"' in page and f"job {done.pk}" in page
    assert reverse("codeframe:job-retry", args=[failed.pk]) not in page


def test_a_wave_job_retried_is_checked_again(approved, settings, staff_user):
    """Retrying a wave job must not code a wave twice at once, code one already coded, or
    code again from a frame the tracker no longer uses."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    first = jobs.queue_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    jobs.cancel_job(job=first)
    second = jobs.retry_job(job=GenerationJob.objects.get(pk=first.pk))
    with pytest.raises(JobStateError, match="being coded already"):
        jobs.retry_job(job=GenerationJob.objects.get(pk=first.pk))
    wave = jobs.run_job(job_id=second.pk).codeframe
    with pytest.raises(JobStateError, match=f"coded already \\(codeframe #{wave.pk}\\)"):
        jobs.retry_job(job=GenerationJob.objects.get(pk=first.pk))

    recode = jobs.queue_recode(codeframe=wave, user=staff_user)
    jobs.cancel_job(job=recode)
    again = jobs.run_job(job_id=jobs.queue_recode(codeframe=wave, user=staff_user).pk).codeframe
    with pytest.raises(NotTheWavesFrame, match=f"The tracker uses codeframe #{again.pk}"):
        jobs.retry_job(job=GenerationJob.objects.get(pk=recode.pk))
    # A stale re-code queued before the wave was coded again fails when it runs.
    stale = GenerationJob.objects.create(
        question=wave.question, kind=GenerationJob.Kind.WAVE, params=recode.params, total=1
    )
    failed = jobs.run_job(job_id=stale.pk)
    assert failed.state == GenerationJob.State.FAILED
    assert f"The tracker uses codeframe #{again.pk}" in failed.error
    assert wave.question.codeframes.count() == 2


def test_api_gives_the_tracker_table(api_client, approved):
    wave_frame = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    reply = api_client.get(f"/api/codeframes/{wave_frame.pk}/tracker/")
    assert reply.status_code == 200
    data = reply.json()
    table, nets, _uncoded = waves.tracker_tables(question=approved.question)
    assert data["waves"] == ["1", "2027-01"] == table.waves
    assert [c["number"] for c in data["codes"]] == sorted(c.number for c in approved.codes.all())
    assert len(data["cells"]) == 2 * len(data["codes"])
    first, second = data["cells"][:2]  # the first code in wave 1, then in wave 2
    code = data["codes"][0]["number"]
    assert (first["wave"], first["code"], first["change"], first["z"]) == ("1", code, None, None)
    cell = table.cells[("2027-01", code)]
    assert second == {
        "wave": "2027-01",
        "code": code,
        "count": cell.count,
        "base": cell.base,
        "share": cell.share,
        "change": cell.change,
        "z": cell.z,
        "p": cell.p,
        "significant": cell.significant,
        "redefined": False,
        "paired": 0,
        "note": cell.note,
        "late": 0,
    }
    assert [n["number"] for n in data["nets"]] == list(nets.codes) and nets.codes
    assert len(data["net_cells"]) == 2 * len(data["nets"])
    number = data["nets"][0]["number"]
    net_cell = data["net_cells"][1]
    assert "code" not in net_cell and net_cell["net"] == number
    assert net_cell["count"] == nets.cells[("2027-01", number)].count
    # Answers without a code per wave, as each wave's codeframe page counts them.
    counted = [selectors.codeframe_overview(codeframe=f) for f in (approved, wave_frame)]
    assert [(c["wave"], c["count"], c["base"]) for c in data["uncoded"]] == [
        ("1", counted[0].uncoded, counted[0].total),
        ("2027-01", counted[1].uncoded, counted[1].total),
    ]
    assert "code" not in data["uncoded"][0]
    # No change from the generated first wave ("fits no code" is decided in coded waves only).
    assert data["uncoded"][1]["change"] is None and data["uncoded"][1]["significant"] is False
    # The same table from the approved frame's id; documented in the schema.
    assert api_client.get(f"/api/codeframes/{approved.pk}/tracker/").json() == data
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    assert "/api/codeframes/{id}/tracker/" in schema["paths"]


def test_a_waves_codeframe_coded_again_says_the_tracker_counts_the_new_one(
    approved, staff_user, client
):
    """After "Code this wave again", the old codeframe's page and exports looked current, with
    other figures than the tracker's: its page says which codeframe the tracker counts."""
    wave = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    client.force_login(staff_user)
    assert 'id="not-the-trackers"' not in client.get(wave.get_absolute_url()).content.decode()
    again = jobs.run_job(job_id=jobs.queue_recode(codeframe=wave, user=staff_user).pk).codeframe
    page = client.get(wave.get_absolute_url()).content.decode()
    note = page.split('id="not-the-trackers">', 1)[1].split("</p>", 1)[0]
    assert f'<a href="{again.get_absolute_url()}">codeframe #{again.pk}</a>' in note
    assert 'id="not-the-trackers"' not in client.get(again.get_absolute_url()).content.decode()
    assert 'id="not-the-trackers"' not in client.get(approved.get_absolute_url()).content.decode()


def test_a_wave_job_of_a_wave_moved_to_another_project_does_not_copy_the_old_frame(
    approved, settings
):
    """A wave queued (or cancelled, then retried) and moved to another client's project in the
    admin was still coded with its old client's frame: its labels copied into the new project."""
    from codeframe.models import Project

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}  # stay queued
    job = jobs.queue_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    Question.objects.filter(pk=job.question_id).update(project=Project.objects.create(name="B"))
    done = jobs.run_job(job_id=job.pk)
    assert done.state == GenerationJob.State.FAILED and "another project" in done.error
    assert not Codeframe.objects.filter(question_id=job.question_id).exists()


def test_a_codeframe_generated_afresh_on_a_wave_is_marked_as_numbered_on_its_own(
    api_client, approved, tmp_path
):
    """Its code 1 is another code than the tracker's code 1: its exports said "wave 2" like the
    wave's own, and the question's `latest_codeframe` pointed to it."""
    import pyreadstat

    wave = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    fresh = services.create_codeframe(question=wave.question, n_codes=2)
    assert waves.tracker_numbering(codeframe=fresh) is False
    assert waves.tracker_numbering(codeframe=wave) is waves.tracker_numbering(codeframe=approved)
    assert waves.tracker_numbering(codeframe=wave) is True

    detail = api_client.get(f"/api/questions/{wave.question_id}/").json()
    assert detail["question"]["latest_codeframe"] == fresh.pk
    assert detail["tracker_codeframe"] == wave.pk
    numbering = {c["id"]: c["tracker_numbering"] for c in detail["codeframes"]}
    assert numbering == {fresh.pk: False, wave.pk: True}
    assert (
        api_client.get(f"/api/codeframes/{fresh.pk}/?responses=false").json()["tracker_numbering"]
        is False
    )

    own = api_client.get(f"/api/codeframes/{fresh.pk}/export/sav/")
    assert own["Content-Disposition"].endswith('-wave-2-2027-01-own-numbers.sav"')
    ours = api_client.get(f"/api/codeframes/{wave.pk}/export/sav/")
    assert ours["Content-Disposition"].endswith('-wave-2-2027-01.sav"')
    for response, warned in ((own, True), (ours, False)):
        path = tmp_path / f"{warned}.sav"
        path.write_bytes(response.content)
        _, meta = pyreadstat.read_sav(str(path), metadataonly=True)
        note = "\n".join(meta.notes)
        assert ("generated afresh on this wave" in note) is warned


def test_coding_a_wave_again_keeps_what_was_coded_by_hand(approved, staff_user, client):
    """ "Code this wave again" used to drop the wave codeframe's review: an answer moved to
    another code, or left uncoded, went back to the classifier's code. Coded by hand, it keeps
    its codes (by number) in the new codeframe, which counts them."""
    wave = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    answers = {r.text: r for r in wave.question.responses.all()}

    def codes(frame, text):
        held = Assignment.objects.filter(codeframe=frame, response=answers[text])
        return list(held.order_by("-is_primary").values_list("code__number", flat=True))

    fees, app = codes(wave, "Fees went up again"), codes(wave, "The app crashed twice this week")
    assert fees and app and codes(wave, "App keeps freezing on login")
    other = next(c for c in wave.codes.order_by("number") if c.number != fees[0])
    services.move_response(response=answers["Fees went up again"], to_code=other)
    services.uncode_response(response=answers["The app crashed twice this week"], codeframe=wave)

    again = jobs.run_job(job_id=jobs.queue_recode(codeframe=wave, user=staff_user).pk).codeframe
    assert codes(again, "Fees went up again") == [other.number]
    assert codes(again, "The app crashed twice this week") == []
    # Not coded by hand: the classifier's, as before.
    assert codes(again, "App keeps freezing on login") == codes(wave, "App keeps freezing on login")
    assert again.params["hand_coding"] == {"from": wave.pk, "kept": 2, "not_kept": 0}
    assert (
        sum(c.size for c in again.codes.all())
        == Assignment.objects.filter(codeframe=again, is_primary=True).count()
    )
    client.force_login(staff_user)
    page = client.get(again.get_absolute_url()).content.decode()
    kept = page.split('id="hand-coding-kept">', 1)[1].split("</span>", 1)[0]
    assert kept.startswith("2 answers coded by hand in") and f"#{wave.pk}</a>" in kept
    # The answers say so where they are listed; the classifier's do not.
    moved = again.codes.get(number=other.number)
    moved = reverse("codeframe:code-detail", args=[again.pk, moved.pk])
    row = client.get(moved).content.decode().split("Fees went up again", 1)[1].split("</td>")[0]
    assert "(by hand)" in row
    uncoded = client.get(reverse("codeframe:codeframe-uncoded", args=[again.pk])).content.decode()
    row = uncoded.split("The app crashed twice this week", 1)[1].split("</td>")[0]
    assert "(by hand)" in row
    freezing = again.codes.get(number=codes(again, "App keeps freezing on login")[0])
    row = client.get(reverse("codeframe:code-detail", args=[again.pk, freezing.pk]))
    row = row.content.decode()
    assert "(by hand)" not in row.split("App keeps freezing on login", 1)[1].split("</td>")[0]
    # ... and again from the new codeframe: still coded by hand there.
    third = jobs.run_job(job_id=jobs.queue_recode(codeframe=again, user=staff_user).pk).codeframe
    assert codes(third, "Fees went up again") == [other.number]
    assert third.params["hand_coding"]["kept"] == 2


def test_hand_coding_follows_merges_and_keeps_confidences_and_order(approved):
    """Coded by hand to a code the approved frame merged away since: the code it went into.
    Second codes keep their order and confidences (a second code taken off left the
    classifier's primary at its confidence, not 1.0)."""
    wave = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    fees = wave.question.responses.get(text="Fees went up again")
    one, two, three = wave.codes.order_by("number")[:3]
    services.move_response(response=fees, to_code=three)
    Assignment.objects.create(codeframe=wave, response=fees, code=two, confidence=0.61)
    Assignment.objects.create(codeframe=wave, response=fees, code=one, confidence=0.52)
    services.remove_second_code(response=fees, code=one)
    approved_three = approved.codes.get(number=three.number)
    services.merge_codes(target=approved.codes.get(number=one.number), sources=[approved_three])
    stored = waves.code_wave_question(question=wave.question, codeframe=approved)
    assert waves.keep_hand_coding(source=wave, stored=stored)["kept"] == 1
    held = Assignment.objects.filter(codeframe=stored, response=fees).order_by("-is_primary")
    assert [(a.code.number, a.confidence) for a in held] == [(one.number, 1.0), (two.number, 0.61)]


def test_hand_coding_whose_codes_are_gone_is_coded_afresh(approved):
    """An answer coded by hand to a code the new codeframe lacks keeps the classifier's codes,
    and is counted apart; one whose hand-given code was deleted in its own codeframe was left
    uncoded by the delete, not by hand, and is coded afresh too."""
    wave = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    answer = wave.question.responses.get(text="Fees went up again")
    app = wave.question.responses.get(text="App keeps freezing on login")
    code = wave.codes.order_by("number").last()
    services.move_response(response=answer, to_code=code)
    stored = waves.code_wave_question(question=wave.question, codeframe=approved)
    Assignment.objects.filter(codeframe=stored, code__number=code.number).delete()
    stored.codes.filter(number=code.number).delete()
    assert waves.keep_hand_coding(source=wave, stored=stored) == {
        "from": wave.pk,
        "kept": 0,
        "not_kept": 1,
    }
    assert not stored.hand_coded.exists()

    Assignment.objects.filter(codeframe=wave, response=app).delete()
    services.move_response(response=app, to_code=code)
    services.delete_code(code=code)
    assert not Assignment.objects.filter(codeframe=wave, response=app).exists()
    assert not wave.hand_coded.exists()  # both were left uncoded by the delete


def test_answers_kept_by_hand_leave_the_new_codeframes_suggestions(approved, staff_user, client):
    """A suggestion of the wave coded again does not offer answers that kept their hand
    coding; one left too small goes. With nothing coded by hand, the page says nothing."""
    wave = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    ids = list(wave.question.responses.order_by("pk").values_list("pk", flat=True))
    stored = waves.code_wave_question(question=wave.question, codeframe=approved)
    client.force_login(staff_user)
    assert 'id="hand-coding-kept"' not in client.get(stored.get_absolute_url()).content.decode()
    big = SuggestedCode.objects.create(codeframe=stored, label="Big", size=4, response_ids=ids[:4])
    small = SuggestedCode.objects.create(
        codeframe=stored, label="Small", size=2, response_ids=ids[:2]
    )
    services.uncode_response(response=wave.question.responses.get(pk=ids[0]), codeframe=wave)
    assert waves.keep_hand_coding(source=wave, stored=stored)["kept"] == 1
    big.refresh_from_db()
    assert big.response_ids == ids[1:4] and big.size == 3
    assert not SuggestedCode.objects.filter(pk=small.pk).exists()
    # A suggestion dismissed in the wave's codeframe left its answers in "Other" on purpose:
    # coded again, the wave does not offer them again.
    SuggestedCode.objects.create(
        codeframe=wave,
        label="Dismissed",
        size=3,
        response_ids=ids[4:7],
        status=SuggestedCode.Status.DISMISSED,
    )
    again = SuggestedCode.objects.create(
        codeframe=stored, label="Again", size=4, response_ids=[*ids[4:7], ids[0]]
    )
    waves.keep_hand_coding(source=wave, stored=stored)
    assert not SuggestedCode.objects.filter(pk=again.pk).exists()  # too few answers left
    # ... nor the next time the wave is coded again, from the frame coded again.
    dismissed = stored.suggestions.get(status=SuggestedCode.Status.DISMISSED)
    assert dismissed.response_ids == ids[4:7]
    assert waves.keep_hand_coding(source=stored, stored=stored)["kept"] == 1


def test_a_waves_page_says_why_no_new_code_is_suggested(approved, staff_client):
    """A wave with answers left uncoded and no suggestion read "0 suggested new codes" after
    the form had promised groups: the page says a suggestion needs answers alike, and where
    the uncoded answers are coded."""
    wave = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    for suggestion in selectors.pending_suggestions(codeframe=wave):
        waves.dismiss_suggestion(suggestion=suggestion)
    coded = Assignment.objects.filter(codeframe=wave, is_primary=True).first()
    services.uncode_response(response=coded.response, codeframe=wave)
    page = staff_client.get(wave.get_absolute_url()).content.decode()
    uncoded = selectors.codeframe_overview(codeframe=wave).uncoded
    assert f'id="no-suggestions">{uncoded} answer' in page
    assert "a suggestion needs 3 or more answers alike, and one dismissed" in page
    assert (
        'id="no-suggestions"' not in staff_client.get(approved.get_absolute_url()).content.decode()
    )
