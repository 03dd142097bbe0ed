"""The admin keeps a codeframe's data as the pages do: deletes through the services, sizes
that follow, one primary code per answer, respondent ids as the import has them. Each test
failed on the admin before (a review's reproductions)."""

import csv
import io
import os
import tempfile

import openpyxl
import pyreadstat
import pytest
from django.urls import reverse

from codeframe import exports, services, waves
from codeframe.importers import ImportedRow
from codeframe.models import Assignment
from tests.codeframe.test_waves import NEXT_WAVE, rows, suggestion_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password="pw-root-123"))
    return client


@pytest.fixture
def approved(codeframe):
    return waves.approve_codeframe(codeframe=codeframe)


def sav(codeframe):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "wave.sav")
        with open(path, "wb") as handle:
            handle.write(exports.build_sav(codeframe=codeframe))
        return pyreadstat.read_sav(path)[0]


def xlsx_rows(codeframe):
    book = openpyxl.load_workbook(io.BytesIO(exports.build_xlsx(codeframe=codeframe)))
    return [list(row) for row in book["Codeframe"].iter_rows(values_only=True)]


def binary_csv(codeframe):
    text = "".join(exports.iter_csv(codeframe=codeframe, layout="binary")).lstrip("\ufeff")
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize("model", ["codeframe", "question"])
def test_deleting_a_wave_in_the_admin_keeps_its_code_numbers_reserved(
    admin_client, approved, model
):
    """Django's own delete skipped services.reserve_numbers: the next wave's new code took the
    number of a code accepted in the deleted wave (c6 meant two things across wave files)."""
    wave = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    taken = waves.accept_suggestion(suggestion=suggestion_of(wave, "Mortgage")).number
    doomed = wave if model == "codeframe" else wave.question
    url = reverse(f"admin:codeframe_{model}_delete", args=[doomed.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not type(doomed).objects.filter(pk=doomed.pk).exists()
    last = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-02")
    assert waves.accept_suggestion(suggestion=suggestion_of(last, "Station")).number == taken + 1


def test_an_approved_frame_a_wave_is_coded_with_is_not_deleted_in_the_admin(
    admin_client, approved, settings
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    from codeframe import jobs

    jobs.queue_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    url = reverse("admin:codeframe_codeframe_delete", args=[approved.pk])
    page = admin_client.post(url, {"post": "yes"}, follow=True).content.decode()
    assert "a wave that needs it is being coded (2027-01)" in page
    assert "deleted successfully" not in page and type(approved).objects.filter(pk=approved.pk)


def test_deleting_an_answer_in_the_admin_keeps_the_sizes(admin_client, codeframe):
    coded = Assignment.objects.filter(codeframe=codeframe, is_primary=True).first()
    url = reverse("admin:codeframe_response_delete", args=[coded.response_id])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    sheet = xlsx_rows(codeframe)
    sizes, uncoded = sum(row[5] for row in sheet[1:-1]), sheet[-1][5]
    assert sizes + uncoded == codeframe.question.responses.count()


def test_an_answers_primary_code_is_set_through_its_code_in_the_admin(admin_client, codeframe):
    """Ticking a second code primary was a 500; unticking the primary left a coded answer with
    no primary code (the SPSS file coded it, the page and the XLSX did not)."""
    primary = Assignment.objects.filter(codeframe=codeframe, is_primary=True).first()
    other = codeframe.codes.exclude(pk=primary.code_id).first()
    second = Assignment.objects.create(
        codeframe=codeframe, response=primary.response, code=other, confidence=0.2
    )
    url = reverse("admin:codeframe_assignment_change", args=[second.pk])
    posted = {"response": primary.response_id, "code": other.pk, "confidence": "0.2"}
    assert admin_client.post(url, {**posted, "is_primary": "on"}).status_code == 302
    url = reverse("admin:codeframe_assignment_change", args=[primary.pk])
    assert admin_client.post(url, {**posted, "code": primary.code_id}).status_code == 302
    coded = Assignment.objects.filter(response=primary.response)
    assert list(coded.filter(is_primary=True)) == [primary]
    # A code the answer carries already: a form error, not the database's 500.
    page = admin_client.post(url, {**posted, "code": other.pk})
    assert (
        page.status_code == 200 and f"carries code {other.number} already" in page.content.decode()
    )
    # Its primary deleted: the next code takes its place, as deleting a code does.
    delete = reverse("admin:codeframe_assignment_delete", args=[primary.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert list(coded.filter(is_primary=True)) == [Assignment.objects.get(pk=second.pk)]
    data = sav(codeframe)
    assert xlsx_rows(codeframe)[-1][5] == int(data["primary"].isna().sum())


def test_respondent_ids_stay_given_and_unique_in_the_admin(admin_client, codeframe):
    first, second = codeframe.question.responses.order_by("position")[:2]
    url = reverse("admin:codeframe_response_change", args=[second.pk])
    for respondent, says in ((first.respondent_id, "Another answer"), ("  ", "needs its")):
        page = admin_client.post(url, {"respondent_id": respondent, "text": second.text})
        assert page.status_code == 200 and says in page.content.decode()
    second.refresh_from_db()
    assert second.respondent_id != first.respondent_id


def test_a_late_answer_left_uncoded_by_hand_is_coded_with_nothing(approved, api_client):
    """Left uncoded by hand it still exported as "not coded" (blank, system-missing)."""
    wave = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    services.import_responses(
        rows=[ImportedRow(line=1, respondent_id="LATE1", text="The weather was bad")],
        question=wave.question,
    )
    late = wave.question.responses.get(respondent_id="LATE1")
    row = next(r for r in binary_csv(wave) if r[0] == "LATE1")
    assert set(row[2:-1]) == {""} and row[-1] == "2027-01"  # not coded yet: blank; its wave
    reply = api_client.patch(
        f"/api/codeframes/{wave.pk}/responses/{late.pk}/", {"code": None}, format="json"
    )
    assert reply.status_code == 200 and reply.json()["by_hand"] is True
    row = next(r for r in binary_csv(wave) if r[0] == "LATE1")
    assert set(row[2:-1]) == {"0"}
    values = sav(wave).set_index("resp_id").loc["LATE1"]
    assert {values[c] for c in values.index if c.startswith("c")} == {0.0}
