import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import SkipFile
from django.test import Client
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from codeframe import services, waves
from codeframe.importers import ImportedRow
from codeframe.models import (
    Assignment,
    Code,
    Codeframe,
    GenerationJob,
    HandCoded,
    Question,
)
from codeframe.uploads import LimitedUploadHandler, human_bytes

pytestmark = pytest.mark.django_db

IMPORT_URL = reverse("codeframe:question-import")


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def page_errors(response) -> str:
    return response.content.decode()


@pytest.mark.parametrize("name", ["question-list", "question-import"])
def test_pages_send_anonymous_visitors_to_the_login_and_open_for_any_user(
    client, django_user_model, name
):
    url = reverse(f"codeframe:{name}")
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    # Any logged-in user, staff or not: their personal project is made on first use.
    user = django_user_model.objects.create_user("plain", password="pw-plain-123")
    client.force_login(user)
    assert client.get(url).status_code == 200
    assert user.personal_project.memberships.get().role == "manager"


def test_codeframe_pages_of_another_project_are_404(client, django_user_model, codeframe):
    client.force_login(django_user_model.objects.create_user("other", password="pw-other-123"))
    for url in [
        codeframe.get_absolute_url(),
        reverse("codeframe:codeframe-export", args=[codeframe.pk, "xlsx"]),
        reverse("codeframe:question-detail", args=[codeframe.question_id]),
    ]:
        assert client.get(url).status_code == 404
    response = client.post(reverse("codeframe:question-generate", args=[codeframe.question_id]))
    assert response.status_code == 404 and Codeframe.objects.count() == 1


def test_home_redirects_to_the_question_list(staff_client, question):
    assert staff_client.get("/")["Location"] == "/questions/"
    page = staff_client.get("/questions/").content.decode()
    assert "Bank NPS 2026" in page and question.get_absolute_url() in page


def test_import_csv_with_column_choice(staff_client):
    content = b"respondent_id,q1,q2\nA,one,Too expensive\nB,two,Great staff\n"
    response = staff_client.post(
        IMPORT_URL,
        {
            "survey": "Wave 1",
            "question_text": "Why?",
            "file": upload("s.csv", content),
            "column": "q2",
        },
    )
    question = Question.objects.get()
    assert response.status_code == 302 and response["Location"] == question.get_absolute_url()
    assert list(question.responses.values_list("respondent_id", "text")) == [
        ("A", "Too expensive"),
        ("B", "Great staff"),
    ]
    page = staff_client.get(response["Location"]).content.decode()
    assert "Imported 2 answers" in page and "Too expensive" in page


def test_import_xlsx_into_an_existing_question(staff_client, question):
    workbook = Workbook()
    workbook.active.append(["ID", "Comment"])
    workbook.active.append(["X9", "Added later"])
    out = io.BytesIO()
    workbook.save(out)
    url = reverse("codeframe:question-import-more", args=[question.pk])
    response = staff_client.post(url, {"file": upload("w2.xlsx", out.getvalue())})
    assert response.status_code == 302
    assert question.responses.order_by("position").last().text == "Added later"


def test_import_pasted_text(staff_client):
    response = staff_client.post(IMPORT_URL, {"survey": "Pasted", "pasted": "a\n\nb\n"})
    assert response.status_code == 302
    assert list(Question.objects.get().responses.values_list("text", flat=True)) == ["a", "b"]
    assert "numbered after" not in staff_client.get(response["Location"]).content.decode()


def test_answers_pasted_beside_a_files_are_numbered_with_a_warning(staff_client):
    """Pasted into a question imported from a file with ids (101-108), the answers were
    numbered 9 and 10 with no word: numbers that may be real serials of the survey file, onto
    which their codes would be merged."""
    content = "Serial,answer\n" + "".join(f"{100 + i},answer {i}\n" for i in range(1, 9))
    staff_client.post(IMPORT_URL, {"survey": "S", "file": upload("s.csv", content.encode())})
    question = Question.objects.get()
    url = reverse("codeframe:question-import-more", args=[question.pk])
    page = staff_client.post(url, {"pasted": "pasted one\npasted two"}, follow=True)
    assert "numbered after the question&#x27;s other answers" in page.content.decode()
    assert question.responses.count() == 10  # imported, with the warning


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"file": ("s.csv", b"")}, "The submitted file is empty."),
        (
            {"file": ("s.csv", b"respondent_id,answer\n1,x\n"), "column": "nope"},
            "There is no column &#x27;nope&#x27;",
        ),
        ({"file": ("s.csv", "answer\nok\nna\xefve\n".encode("latin-1"))}, "Line 3 is not UTF-8"),
        ({"file": ("s.csv", b"respondent_id,answer\n1,\n2,  \n")}, "No answers found"),
        ({"file": ("s.pdf", b"%PDF")}, "upload a .csv or .xlsx file"),
        ({}, "Upload a file or paste answers"),
    ],
    ids=["empty", "wrong-column", "not-utf8", "no-answers", "pdf", "nothing"],
)
def test_bad_uploads_explain_and_import_nothing(staff_client, data, message):
    if "file" in data:
        data = {**data, "file": upload(*data["file"])}
    response = staff_client.post(IMPORT_URL, {"survey": "S", **data})
    assert response.status_code == 200
    assert message in page_errors(response)
    assert not Question.objects.exists()


@pytest.mark.parametrize("page", ["import", "wave"])
def test_oversized_upload_is_refused_before_reading(staff_client, codeframe, settings, page):
    """On both pages that take a file: the wave page read the whole body (a 1 MB file past a
    10 KB limit) before its form said it was too large."""
    url = IMPORT_URL
    if page == "wave":
        waves.approve_codeframe(codeframe=codeframe)
        url = reverse("codeframe:wave-new", args=[codeframe.pk])
    settings.CODEFRAME = {"MAX_UPLOAD_BYTES": 2048}
    before = Question.objects.count()
    content = b"answer\n" + b"too big\n" * 1000
    form = {"survey": "S", "wave": "2027-01", "file": upload("s.csv", content)}
    response = staff_client.post(url, form)
    assert response.status_code == 413
    assert "larger than the limit of 2 KB" in page_errors(response)
    assert Question.objects.count() == before


@pytest.mark.parametrize("page", ["import", "wave"])
@pytest.mark.parametrize("lines", [1_000, 20_000], ids=["read-skipping-the-file", "unread"])
def test_an_oversized_upload_keeps_what_was_typed(staff_client, codeframe, settings, page, lines):
    """With JavaScript off, a file over the limit came back with Survey and Question text (the
    wave's label) empty (defect 2d). Past the limit and the form's allowance the body is not
    read, but what comes before the file is: what was typed above it comes back, and the
    message says what to do again."""
    url = IMPORT_URL
    typed = {"survey": "Kept survey", "question_text": "Why so?"}
    if page == "wave":
        waves.approve_codeframe(codeframe=codeframe)
        url = reverse("codeframe:wave-new", args=[codeframe.pk])
        typed = {"wave": "2027-01"}
    settings.CODEFRAME = {"MAX_UPLOAD_BYTES": 2048}
    content = b"answer\n" + b"too big\n" * lines
    form = {**typed, "file": upload("s.csv", content), "column": "answer"}
    response = staff_client.post(url, form)
    assert response.status_code == 413
    said = page_errors(response)
    for value in typed.values():
        assert f'value="{value}"' in said or f">\n{value}</textarea>" in said, value
    assert "choose the file again (a browser cannot keep it)" in said
    if lines == 1_000:  # read, the file skipped: every field comes back
        assert 'name="column" value="answer"' in said
    else:  # after the file, unread: said so
        assert 'name="column" value="answer"' not in said
        assert "fill in again what you typed below it" in said


def test_pasted_answers_cut_by_the_unread_body_are_not_filled_in_again(staff_client, settings):
    """Of a body refused unread only its head is read: pasted answers past it would come back
    cut short, and be imported as if whole. They are left out; what came before them is kept."""
    settings.CODEFRAME = {"MAX_UPLOAD_BYTES": 2048}
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000_000
    pasted = "an answer\n" * 20_000
    response = staff_client.post(IMPORT_URL, {"survey": "Kept", "pasted": pasted, "x": "1"})
    assert response.status_code == 413
    said = page_errors(response)
    assert 'value="Kept"' in said and "an answer" not in said


def test_the_wave_page_needs_the_csrf_token(staff_user, codeframe):
    """Its CSRF check runs inside the upload guard (after the size limits), as the import
    page's does: exempt from the middleware, the view must not be from the token."""
    waves.approve_codeframe(codeframe=codeframe)
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    url = reverse("codeframe:wave-new", args=[codeframe.pk])
    assert client.post(url, {"wave": "2027-01", "pasted": "a"}).status_code == 403
    token = client.get(url).cookies["csrftoken"].value
    posted = client.post(url, {"wave": "2027-01", "pasted": "a", "csrfmiddlewaretoken": token})
    assert posted.status_code == 302


@pytest.mark.parametrize("page", ["import", "wave"])
def test_pasted_text_past_djangos_body_limit_is_refused_as_too_large(
    staff_client, codeframe, settings, page
):
    """Pasted answers are a form field, held in memory: past DATA_UPLOAD_MAX_MEMORY_SIZE the
    wave page gave Django's bare "Bad Request" page, losing the form."""
    url = IMPORT_URL
    if page == "wave":
        waves.approve_codeframe(codeframe=codeframe)
        url = reverse("codeframe:wave-new", args=[codeframe.pk])
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    before = Question.objects.count()
    response = staff_client.post(url, {"survey": "S", "wave": "2027-01", "pasted": "x\n" * 4000})
    assert response.status_code == 413
    # Its own limit, not the file's (20 MB, which the text was well under).
    assert "pasted answers are larger than the limit of 4 KB" in page_errors(response)
    assert "as a file (up to 20 MB)" in page_errors(response)
    # Past the file limit too, it is refused before it is read, as a file or text may be.
    settings.CODEFRAME = {"MAX_UPLOAD_BYTES": 2048}
    response = staff_client.post(url, {"survey": "S", "wave": "2027-01", "pasted": "x\n" * 50_000})
    assert response.status_code == 413
    assert "limit of 2 KB for a file (4 KB for pasted answers)" in page_errors(response)
    assert Question.objects.count() == before


@pytest.mark.parametrize("page", ["import", "wave"])
def test_a_file_of_just_the_limit_is_taken_with_the_form_around_it(
    staff_client, codeframe, settings, page
):
    """The limit is the file's: the request's declared length was held to it, so a file a few
    bytes under it was refused for the form's other fields and the multipart framing."""
    url = IMPORT_URL
    if page == "wave":
        waves.approve_codeframe(codeframe=codeframe)
        url = reverse("codeframe:wave-new", args=[codeframe.pk])
    settings.CODEFRAME = {"MAX_UPLOAD_BYTES": 2048}
    content = b"answer\n" + b"the fees are too high\n" * 90
    content += b"x" * (2048 - len(content) - 1) + b"\n"
    assert len(content) == 2048
    form = {"survey": "S", "wave": "2027-01", "file": upload("s.csv", content)}
    response = staff_client.post(url, form)
    assert response.status_code == 302, page_errors(response)
    assert Question.objects.order_by("pk").last().responses.count() == 91


def test_the_upload_handler_skips_a_file_past_the_limit():
    handler = LimitedUploadHandler(limit=10)
    assert handler.receive_data_chunk(b"12345", 0) == b"12345"
    with pytest.raises(SkipFile):
        handler.receive_data_chunk(b"678901", 5)
    assert handler.exceeded
    assert human_bytes(20 * 1024 * 1024) == "20 MB" and human_bytes(10) == "10 bytes"


def test_forms_need_the_csrf_token(staff_user, question):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    assert client.post(IMPORT_URL, {"survey": "S", "pasted": "a"}).status_code == 403
    generate = reverse("codeframe:question-generate", args=[question.pk])
    assert client.post(generate).status_code == 403
    form = client.get(IMPORT_URL)
    token = form.cookies["csrftoken"].value
    assert 'name="csrfmiddlewaretoken"' in form.content.decode()
    response = client.post(IMPORT_URL, {"survey": "S", "pasted": "a", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert Codeframe.objects.count() == 0


def test_generate_with_no_answers_shows_a_message(staff_client):
    question = Question.objects.create(project=services.default_project(), survey="Empty")
    response = staff_client.post(
        reverse("codeframe:question-generate", args=[question.pk]), follow=True
    )
    assert "has no answers yet" in response.content.decode()
    assert not Codeframe.objects.exists()


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ({"n_codes": "30", "max_codes": "10"}, "more than the most asked for (10)"),
        ({"n_codes": "3.5", "max_codes": ""}, "Codes must be whole numbers between 1 and 200."),
    ],
)
def test_a_refused_generation_keeps_the_numbers_typed(staff_client, question, typed, said):
    """Both fields came back empty after the error (defect 2a)."""
    url = reverse("codeframe:question-generate", args=[question.pk])
    page = staff_client.post(url, typed, follow=True).content.decode()
    form = page.split(f'action="{url}"', 1)[1].split("</form>", 2)
    assert f'name="n_codes" id="id_n_codes" min="1" max="200" value="{typed["n_codes"]}"' in form[0]
    assert (
        f'name="max_codes" id="id_max_codes" min="1" max="200" value="{typed["max_codes"]}"'
        in (form[0])
    )
    assert said in form[1].split("</div>", 1)[0] and said not in top_of(page)
    assert not GenerationJob.objects.exists()


def test_a_refused_member_keeps_the_username_and_role_typed(staff_client, question):
    """An unknown username emptied the field and set the role back to Viewer (defect 2b);
    the error is the add form's, not the member rows' (the same URL)."""
    project = question.project
    url = reverse("codeframe:project-member-set", args=[project.pk])
    typed = {"username": "no-such-person", "role": "analyst", "add": "1"}
    page = staff_client.post(url, typed, follow=True).content.decode()
    form = page.split('<label for="id_username">Add member</label>', 1)[1]
    assert 'value="no-such-person" autofocus' in form.split("</form>", 1)[0]
    assert '<option value="analyst" selected>' in form.split("</form>", 1)[0]
    assert "There is no active user" in form.split("</form>", 1)[1]
    members = page.split("<h2>Members</h2>", 1)[1].split('<label for="id_username">', 1)[0]
    assert "There is no active user" not in members and 'role="alert"' not in members
    # A member row's refusal (the project's last manager stepping down) is that row's.
    me = typed | {"username": "analyst", "role": "viewer"}
    del me["add"]
    page = staff_client.post(url, me, follow=True).content.decode()
    members = page.split("<h2>Members</h2>", 1)[1].split('<label for="id_username">', 1)
    assert "at least one manager" in members[0] and "at least one manager" not in members[1]


def test_generate_then_the_codeframe_page(staff_client, question):
    response = staff_client.post(
        reverse("codeframe:question-generate", args=[question.pk]), {"n_codes": "3"}
    )
    codeframe = Codeframe.objects.get()
    job = GenerationJob.objects.get()
    assert response["Location"] == job.get_absolute_url()
    # The job page of a finished job hands over to the codeframe.
    handover = staff_client.get(response["Location"])
    assert handover["Location"] == codeframe.get_absolute_url()
    page = staff_client.get(handover["Location"]).content.decode()
    assert "Codeframe generated" in page
    for code in codeframe.codes.all():
        assert code.label in page or code.label.replace("'", "&#x27;") in page
    assert "Cache hits / misses" not in page  # operators only: test_api
    assert "<dt>Took</dt>" in page and "Clustering" not in page  # the steps too
    assert "export.csv?layout=list" in page and "export.xlsx" in page
    assert page.count("Delete this codeframe") == 1


def other_frame(codeframe):
    from codeframe import services

    return services.create_codeframe(question=codeframe.question, n_codes=2)


def test_rename_merge_delete_and_move_through_the_pages(staff_client, codeframe):
    first, second, third = list(codeframe.codes.order_by("number"))[:3]
    base = f"/codeframes/{codeframe.pk}/codes/"
    staff_client.post(f"{base}{first.pk}/rename/", {"label": "Price"})
    assert Code.objects.get(pk=first.pk).label == "Price"

    assignment = (
        Assignment.objects.filter(codeframe=codeframe, is_primary=True).exclude(code=third).first()
    )
    url = f"/codeframes/{codeframe.pk}/responses/{assignment.response_id}/move/"
    staff_client.post(url, {"to_code": third.pk})
    assert Assignment.objects.get(response=assignment.response_id, is_primary=True).code == third

    staff_client.post(f"{base}{second.pk}/merge/", {"target": first.pk})
    assert not Code.objects.filter(pk=second.pk).exists()
    staff_client.post(f"{base}{third.pk}/delete/")
    remaining = set(codeframe.codes.values_list("pk", flat=True))
    assert first.pk in remaining and not remaining & {second.pk, third.pk}
    page = staff_client.get(codeframe.get_absolute_url()).content.decode()
    assert "Price" in page
    # One list of merge targets for the page, whatever the number of codes; a button per code.
    n_codes = codeframe.codes.count()
    assert page.count('<select name="target"') == 1
    merge_list = page.split('id="merge-target" required>', 1)[1].split("</select>", 1)[0]
    # No code chosen until the analyst chooses one: a click on "Merge into target" alone
    # merged into code 1.
    assert merge_list.count("<option value=") == n_codes + 1
    assert merge_list.strip().startswith('<option value="">Choose a code…</option>')
    assert '<summary>Delete<span class="visually-hidden"> code ' in page  # a second click deletes
    assert page.count('form="merge-form"') == n_codes
    code_page = staff_client.get(f"{base}{first.pk}/").content.decode()
    assert "Answers with this as their primary code" in code_page
    # A merged-away code's page (an open tab, a bookmark) says where its answers went.
    gone = staff_client.get(f"{base}{second.pk}/")
    assert gone.status_code == 404
    assert f"Code {second.number} is no longer in the codeframe" in gone.content.decode()
    assert gone.context["merges"] == [(second.number, Code.objects.get(pk=first.pk))]
    assert f'href="{base}{first.pk}/">{first.number}. Price</a>' in gone.content.decode()
    # An edit of it from a page read before (a second click on Merge, another tab): a message
    # and back, not Django's bare 404; nothing changes.
    for action, data in (("merge", {"target": first.pk}), ("rename", {"label": "X"})):
        again = staff_client.post(f"{base}{second.pk}/{action}/", data, follow=True)
        assert "That code was merged or deleted since the page was read" in again.content.decode()
    assert Code.objects.get(pk=first.pk).label == "Price"
    # ... and the merged-away code chosen as the target, from such a page: not "Choose a code".
    third = Code.objects.filter(codeframe=codeframe).exclude(pk=first.pk).first()
    answer = codeframe.question.responses.first()
    for url, data in (
        (f"{base}{third.pk}/merge/", {"target": second.pk}),
        (f"/codeframes/{codeframe.pk}/responses/{answer.pk}/move/", {"to_code": second.pk}),
    ):
        stale = staff_client.post(url, data, follow=True).content.decode()
        assert "The code you chose was merged or deleted since the page was read" in stale
    assert Code.objects.filter(pk=third.pk).exists()
    # A code merged into itself (the page's one list of targets holds every code) is the
    # analyst's choice to make again, not a code gone since: the frame has one gone.
    itself = staff_client.post(f"{base}{third.pk}/merge/", {"target": third.pk}, follow=True)
    said = itself.content.decode()
    assert "Choose another code of this codeframe to merge into" in said
    assert "merged or deleted since" not in said
    # No such code in this codeframe at all: a 404 too (nothing told of other frames).
    assert staff_client.get(f"{base}999999/").status_code == 404
    assert (
        staff_client.post(
            f"/codeframes/{other_frame(codeframe).pk}/codes/999999/merge/"
        ).status_code
        == 404
    )
    fresh = staff_client.get(f"/codeframes/{other_frame(codeframe).pk}/codes/999999/")
    assert fresh.status_code == 404 and "No such code in this codeframe" in fresh.content.decode()


def test_edits_reject_codes_of_other_codeframes(staff_client, codeframe, question):
    from codeframe import services

    other = services.create_codeframe(question=question, n_codes=3)
    code = codeframe.codes.first()
    response = staff_client.post(
        f"/codeframes/{codeframe.pk}/codes/{code.pk}/merge/", {"target": other.codes.first().pk}
    )
    assert response.status_code == 302 and Code.objects.filter(pk=code.pk).exists()
    url = f"/codeframes/{other.pk}/codes/{code.pk}/delete/"
    assert staff_client.post(url).status_code == 404


def test_downloads(staff_client, codeframe):
    url = reverse("codeframe:codeframe-export", args=[codeframe.pk, "csv"])
    listed = staff_client.get(url, {"layout": "list"})
    assert listed["Content-Type"].startswith("text/csv")
    assert "attachment" in listed["Content-Disposition"]
    text = b"".join(listed.streaming_content).decode("utf-8-sig")
    assert text.splitlines()[0] == "respondent_id,answer,codes,coded"
    binary = b"".join(staff_client.get(url).streaming_content).decode("utf-8-sig")
    assert binary.splitlines()[0].count(",") == 1 + codeframe.codes.count()
    assert staff_client.get(url, {"layout": "wide"}).status_code == 400
    xlsx = staff_client.get(reverse("codeframe:codeframe-export", args=[codeframe.pk, "xlsx"]))
    assert load_workbook(io.BytesIO(xlsx.content)).sheetnames[0] == "Codeframe"
    assert staff_client.get(f"/codeframes/{codeframe.pk}/export.pdf").status_code == 404


def test_uncoded_answers_are_listed_and_coded_from_their_page(staff_client, codeframe):
    """The "Other" pile: the codeframe page links the answers without a code; each can be coded
    there, and the page comes back without it."""
    coded = Assignment.objects.filter(codeframe=codeframe).order_by("response__position")
    left_out = [coded[0].response, coded[1].response]
    Assignment.objects.filter(codeframe=codeframe, response__in=left_out).delete()
    services.refresh_sizes(codeframe=codeframe)
    url = reverse("codeframe:codeframe-uncoded", args=[codeframe.pk])
    assert f'href="{url}"' in staff_client.get(codeframe.get_absolute_url()).content.decode()

    page = staff_client.get(url).content.decode()
    table = page[page.index('id="uncoded-table"') :]
    assert [r.text in table for r in left_out] == [True, True]
    listed = [r for r in codeframe.question.responses.all() if f"<td>{r.text}</td>" in table]
    assert listed == left_out  # only the uncoded ones, in import order
    code = codeframe.codes.order_by("number").first()
    move = reverse("codeframe:response-move", args=[codeframe.pk, left_out[0].pk])
    assert f'action="{move}"' in table
    reply = staff_client.post(move, {"to_code": code.pk, "next": url})
    assert reply.status_code == 302 and reply["Location"] == url
    page = staff_client.get(url).content.decode()
    table = page[page.index('id="uncoded-table"') :]
    assert left_out[0].text not in table and left_out[1].text in table
    assert Assignment.objects.get(response=left_out[0], is_primary=True).code == code
    assert f"1 answer of {codeframe.question.survey} has no code" in page


def test_the_review_page_lists_coded_answers_least_sure_first_until_checked(
    staff_client, codeframe
):
    """Coded answers no analyst has checked, by their primary code's confidence, lowest first;
    confirming, moving or uncoding one marks it coded by hand, and it leaves the list."""
    primary = list(
        Assignment.objects.filter(codeframe=codeframe, is_primary=True).order_by(
            "response__position"
        )
    )
    for rank, assignment in enumerate(reversed(primary)):  # the last answer is the least sure
        assignment.confidence = 0.3 + rank / (2 * len(primary))
        assignment.save(update_fields=["confidence"])
    least_sure = [a.response for a in reversed(primary)]
    url = reverse("codeframe:codeframe-review", args=[codeframe.pk])
    assert f'href="{url}"' in staff_client.get(codeframe.get_absolute_url()).content.decode()

    def listed() -> list[str]:
        """The respondent ids on the review page, in its order."""
        page = staff_client.get(url).content.decode()
        table = page[page.index('id="review-table"') :] if 'id="review-table"' in page else ""
        at = {
            r.respondent_id: table.find(f'<td class="small">{r.respondent_id}</td>')
            for r in least_sure
        }
        return sorted((r for r, i in at.items() if i >= 0), key=at.get)

    assert listed() == [r.respondent_id for r in least_sure]
    # Each answer's Move menu offers every code but its own.
    page = staff_client.get(url).content.decode()
    for assignment in primary:
        action = reverse("codeframe:response-move", args=[codeframe.pk, assignment.response_id])
        menu = page[page.index(f'action="{action}"') :]
        menu = menu[: menu.index("</select>")]
        offered = set(map(int, re.findall(r'<option value="(\d+)">', menu)))
        assert offered == set(
            codeframe.codes.exclude(pk=assignment.code_id).values_list("pk", flat=True)
        )
    confirm = reverse("codeframe:response-confirm", args=[codeframe.pk, least_sure[0].pk])
    reply = staff_client.post(confirm, {"next": url})
    assert reply.status_code == 302 and reply["Location"] == url
    assert HandCoded.objects.filter(codeframe=codeframe, response=least_sure[0]).exists()
    assert Assignment.objects.get(response=least_sure[0], is_primary=True).code == primary[-1].code
    other = codeframe.codes.exclude(pk=primary[-2].code_id).order_by("number").first()
    move = reverse("codeframe:response-move", args=[codeframe.pk, least_sure[1].pk])
    staff_client.post(move, {"to_code": other.pk, "next": url})
    uncode = reverse("codeframe:response-uncode", args=[codeframe.pk, least_sure[2].pk])
    staff_client.post(uncode, {"next": url})
    assert listed() == [r.respondent_id for r in least_sure[3:]]
    page = staff_client.get(url).content.decode()
    assert f"{len(least_sure) - 3} coded answers" in page and ", 2 are." in page

    # "All of these are right": the answers the page listed, minus those uncoded since (and
    # any id of another question), are confirmed at once; the queue is then empty.
    shown = [r.pk for r in least_sure[3:]]
    stranger = services.import_responses(rows=[ImportedRow(1, "X1", "Other survey")], survey="S")
    ids = [*shown, least_sure[2].pk, stranger.question.responses.get().pk]
    all_right = reverse("codeframe:review-confirm-all", args=[codeframe.pk])
    page = staff_client.post(all_right, {"response": ids}, follow=True).content.decode()
    assert f"Confirmed the codes of {len(shown)} answers." in page
    assert "Every coded answer has been checked." in page and listed() == []
    assert not HandCoded.objects.filter(response__question=stranger.question).exists()
    for huge in ("9" * 30, "9" * 5000):  # past the database's integers, and Python's int()
        refused = staff_client.post(all_right, {"response": [huge]}, follow=True)
        assert refused.status_code == 200 and "No answers to confirm." in refused.content.decode()

    # "By hand" undone from the code's page: back on the queue, its codes as they were.
    released = least_sure[3]
    code_page = staff_client.get(
        reverse(
            "codeframe:code-detail",
            args=[
                codeframe.pk,
                released.assignments.get(codeframe=codeframe, is_primary=True).code_id,
            ],
        )
    ).content.decode()
    release = reverse("codeframe:response-release", args=[codeframe.pk, released.pk])
    assert f'action="{release}"' in code_page
    page = staff_client.post(release, {"next": url}, follow=True).content.decode()
    assert "is no longer coded by hand: the review page lists it again." in page
    assert released.respondent_id in listed()
    assert not HandCoded.objects.filter(codeframe=codeframe, response=released).exists()

    # An answer without a code has nothing to confirm: a message, and nothing is marked.
    again = reverse("codeframe:response-confirm", args=[codeframe.pk, least_sure[2].pk])
    HandCoded.objects.filter(response=least_sure[2]).delete()
    page = staff_client.post(again, {"next": url}, follow=True).content.decode()
    assert "has no code in this codeframe to confirm" in page
    assert not HandCoded.objects.filter(response=least_sure[2]).exists()


def test_a_code_page_lists_its_second_codes_and_takes_one_off(staff_client, codeframe):
    """A code's size left out the answers carrying it as a second code, which its mentions,
    the tracker and the SPSS file counted; no page showed them or could take one off."""
    first, second = list(codeframe.codes.order_by("number"))[:2]
    primary = Assignment.objects.filter(code=first, is_primary=True).select_related("response")[0]
    Assignment.objects.create(
        codeframe=codeframe, response=primary.response, code=second, confidence=0.6
    )
    url = reverse("codeframe:code-detail", args=[codeframe.pk, second.pk])
    page = staff_client.get(url).content.decode()
    listed = page.split('id="second-codes"', 1)[1]
    assert primary.response.text in listed and f"{first.number}. {first.label}" in listed
    remove = reverse(
        "codeframe:response-remove-second-code",
        args=[codeframe.pk, primary.response.pk, second.pk],
    )
    assert staff_client.post(remove, {"next": url})["Location"] == url
    assert not Assignment.objects.filter(response=primary.response, code=second).exists()
    assert Assignment.objects.get(response=primary.response, is_primary=True).code == first
    assert 'id="second-codes"' not in staff_client.get(url).content.decode()
    again = staff_client.post(remove, follow=True).content.decode()
    assert "does not carry code" in again  # the primary is never taken off this way
    assert Assignment.objects.filter(response=primary.response, code=first).exists()


def test_nets_are_renamed_and_codes_moved_between_them_on_the_pages(staff_client, codeframe):
    """Analysts had no way to fix a net's label or a code's net, which the SPSS value labels
    and the tracker's net table carry."""
    code = codeframe.codes.exclude(net=None).order_by("number").first()
    net = code.net
    number = net.number
    other = codeframe.nets.exclude(pk=net.pk).first() or codeframe.nets.create(
        number=99, label="Spare"
    )
    page = staff_client.get(codeframe.get_absolute_url()).content.decode()
    rename = reverse("codeframe:net-rename", args=[codeframe.pk, net.pk])
    assert f'action="{rename}"' in page
    staff_client.post(rename, {"label": "  Money matters "})
    net.refresh_from_db()
    assert net.label == "Money matters" and net.number == number
    assert staff_client.post(rename, {"label": "  "}).status_code == 302  # refused, kept
    net.refresh_from_db()
    assert net.label == "Money matters"
    move = reverse("codeframe:code-set-net", args=[codeframe.pk, code.pk])
    code_page = staff_client.get(reverse("codeframe:code-detail", args=[codeframe.pk, code.pk]))
    assert f'action="{move}"' in code_page.content.decode()
    staff_client.post(move, {"net": str(other.pk)})
    code.refresh_from_db()
    assert code.net_id == other.pk
    staff_client.post(move, {"net": ""})
    code.refresh_from_db()
    assert code.net_id is None
    foreign = services.create_codeframe(question=codeframe.question, n_codes=2).nets.first()
    assert staff_client.post(move, {"net": str(foreign.pk)}).status_code == 404
    code.refresh_from_db()
    assert code.net_id is None


def test_an_answer_is_left_uncoded_or_given_a_new_code_on_the_pages(staff_client, codeframe):
    """ "Dark mode please" could only go to an existing code, and Move had no "none of them"."""
    code = max(codeframe.codes.all(), key=lambda c: c.size)
    response = Assignment.objects.filter(code=code, is_primary=True)[0].response
    code_url = reverse("codeframe:code-detail", args=[codeframe.pk, code.pk])
    uncode = reverse("codeframe:response-uncode", args=[codeframe.pk, response.pk])
    assert f'action="{uncode}"' in staff_client.get(code_url).content.decode()
    staff_client.post(uncode, {"next": code_url})
    assert not Assignment.objects.filter(codeframe=codeframe, response=response).exists()
    assert Code.objects.get(pk=code.pk).size == code.size - 1
    uncoded = staff_client.get(reverse("codeframe:codeframe-uncoded", args=[codeframe.pk]))
    assert response.text in uncoded.content.decode()
    highest = max(codeframe.codes.values_list("number", flat=True))
    add = reverse("codeframe:code-add", args=[codeframe.pk])
    staff_client.post(add, {"label": " Dark mode ", "response": str(response.pk)})
    new = Code.objects.get(codeframe=codeframe, label="Dark mode")
    assert new.number == highest + 1 and new.size == 1 and new.examples == [response.text]
    primary = Assignment.objects.get(response=response, codeframe=codeframe, is_primary=True)
    assert primary.code == new
    count = codeframe.codes.count()
    page = staff_client.post(add, {"label": "   "}, follow=True).content.decode()
    assert "A code needs a label." in page and codeframe.codes.count() == count


def test_a_gone_codes_page_says_which_code_it_was_and_what_became_of_it(staff_client, codeframe):
    """A deleted code's page listed the merges of other codes and never said this one was
    deleted (defect 3)."""
    first, second, third = list(codeframe.codes.order_by("number"))[:3]
    services.merge_codes(target=first, sources=[second])
    services.delete_code(code=third)
    deleted = staff_client.get(reverse("codeframe:code-detail", args=[codeframe.pk, third.pk]))
    assert deleted.status_code == 404
    said = deleted.content.decode()
    assert f"<h1>Code {third.number} is no longer in the codeframe</h1>" in said
    assert "It was deleted. Its answers went to their next code" in said
    merged = staff_client.get(reverse("codeframe:code-detail", args=[codeframe.pk, second.pk]))
    said = merged.content.decode().split('id="gone-how">', 1)[1].split("</p>", 1)[0]
    first.refresh_from_db()
    assert said.startswith(f"It was merged into code {first.number}: its answers are in <a")
    assert f">{first.number}. {first.label}</a> now." in said


def test_counts_on_the_pages_have_thousands_separators(staff_client, codeframe):
    """ "Embedding answers: 0 of 3080 answers" and the question list's "3080", beside messages
    that say "Imported 3,080 answers" (defect 5)."""
    question = codeframe.question
    job = GenerationJob.objects.create(
        question=question, stage=GenerationJob.Stage.EMBEDDING, done=1500, total=3080
    )
    status = staff_client.get(job.get_absolute_url(), {"part": "status"}).content.decode()
    assert "1,500 of 3,080 answers" in status
    rows = [ImportedRow(line=i, respondent_id=f"B{i}", text=f"answer {i}") for i in range(1200)]
    services.import_responses(rows=rows, survey="Big", question_text="Why?")
    listed = staff_client.get("/questions/").content.decode()
    assert '<td class="num">1,200</td>' in listed


def test_viewers_get_no_merge_controls(client, codeframe, django_user_model):
    from codeframe.models import Membership, Role

    viewer = django_user_model.objects.create_user("viewer", password="pw-viewer-123")
    Membership.objects.create(project=codeframe.question.project, user=viewer, role=Role.VIEWER)
    client.force_login(viewer)
    page = client.get(codeframe.get_absolute_url()).content.decode()
    assert "Rename" not in page and 'id="merge-form"' not in page


def test_the_page_numbers_nets_as_the_spss_file_does(staff_client, codeframe):
    """SPSS has net1, net2, net5...; the page showed net labels only, so an analyst could not
    tell which net5 was."""
    net = codeframe.nets.order_by("number").last()
    page = staff_client.get(codeframe.get_absolute_url()).content.decode()
    assert f"Net {net.number}.</span>" in page


def test_an_edit_returns_to_its_row_and_its_message_is_said(staff_client, codeframe):
    """After a rename the page opens at the code's row (keyboard users carry on from there,
    not from the top of a page of a hundred codes), and its message is a live region: an
    error an alert, the rest a status."""
    code = codeframe.codes.order_by("number").first()
    page = staff_client.get(codeframe.get_absolute_url()).content.decode()
    back = f"{codeframe.get_absolute_url()}#code-{code.pk}"
    assert f'name="next" value="{back}"' in page
    url = reverse("codeframe:code-rename", args=[codeframe.pk, code.pk])
    renamed = staff_client.post(url, {"label": "Renamed here", "next": back})
    assert renamed["Location"] == back
    said = staff_client.get(codeframe.get_absolute_url()).content.decode()
    assert f'<span role="status">Renamed code {code.number} to “Renamed here”.</span>' in said
    staff_client.post(url, {"label": "", "next": back})
    said = staff_client.get(codeframe.get_absolute_url()).content.decode()
    refused = '<div class="errorlist small refused" role="alert" id="refused-message">'
    assert f"{refused}A label is 1 to 200 characters.</div>" in row_of(said, f"code-{code.pk}")


def row_of(page: str, row_id: str) -> str:
    """The table row `<tr ... id=row_id>` of the page, to its end."""
    return page.split(f' id="{row_id}"', 1)[1].split("</tr>", 1)[0]


def top_of(page: str) -> str:
    """The page above its content: where the messages are."""
    return page.split("<main", 1)[1].split("<h1>", 1)[0]


def test_a_refused_edit_is_said_at_its_form_which_keeps_what_was_typed(staff_client, codeframe):
    """A rename to another code's label was refused at the top of the page, 2,000 to 6,000 px
    above the row the page opened at, and the form showed the old label: nothing seemed to
    happen. The error is now beside the form, open, with the label typed, for every in-place
    form of the page."""
    first, code = list(codeframe.codes.order_by("number"))[:2]
    page_url = codeframe.get_absolute_url()
    rename = reverse("codeframe:code-rename", args=[codeframe.pk, code.pk])
    back = f"{page_url}#code-{code.pk}"
    refused = staff_client.post(rename, {"label": first.label.upper(), "next": back})
    assert refused["Location"] == back
    page = staff_client.get(page_url).content.decode()
    row = row_of(page, f"code-{code.pk}")
    assert "is already labelled" in row and 'role="alert"' in row
    assert '<details class="rename" open>' in row
    assert f'value="{first.label.upper()}"' in row and "autofocus" in row
    assert "already labelled" not in top_of(page)
    assert Code.objects.get(pk=code.pk).label == code.label
    # Said once: the page read again has the form as it was.
    again = staff_client.get(page_url).content.decode()
    assert "already labelled" not in again
    assert f'value="{code.label}"' in row_of(again, f"code-{code.pk}")

    net = codeframe.nets.order_by("number").first()
    other = codeframe.nets.exclude(pk=net.pk).first() or codeframe.nets.create(
        number=99, label="Spare"
    )
    net_back = f"{page_url}#net-{net.number}"
    net_rename = reverse("codeframe:net-rename", args=[codeframe.pk, net.pk])
    staff_client.post(net_rename, {"label": other.label, "next": net_back})
    page = staff_client.get(page_url).content.decode()
    row = row_of(page, f"net-{net.number}")
    assert 'role="alert"' in row and '<details class="rename" open>' in row
    assert f'value="{other.label}"' in row

    # Merge: the page's one form, the row's button; its error in the row it was pressed in.
    merge = reverse("codeframe:code-merge", args=[codeframe.pk, code.pk])
    assert f'formaction="{merge}" name="next" value="{back}"' in page
    assert staff_client.post(merge, {"target": "", "next": back})["Location"] == back
    row = row_of(staff_client.get(page_url).content.decode(), f"code-{code.pk}")
    assert "Choose another code of this codeframe to merge into." in row

    # Add a code, at the page's foot: back there, with the label typed.
    add = reverse("codeframe:code-add", args=[codeframe.pk])
    page = staff_client.get(page_url).content.decode()
    assert f'name="next" value="{page_url}#add-code"' in page
    staff_client.post(add, {"label": first.label, "next": f"{page_url}#add-code"})
    page = staff_client.get(page_url).content.decode()
    foot = page.split('id="add-code"', 1)[1]
    assert f'value="{first.label}"' in foot and "already labelled" in foot
    assert "already labelled" not in top_of(page)

    # On the code's own page too: its rename and its net.
    code_url = reverse("codeframe:code-detail", args=[codeframe.pk, code.pk])
    staff_client.post(rename, {"label": "two\nlines", "next": code_url})
    page = staff_client.get(code_url).content.decode()
    assert "A label is 1 to 200 characters." in page.split("</h1>", 1)[1]
    assert "A label is 1 to 200 characters." not in top_of(page)


def test_a_refused_form_whose_row_is_gone_is_still_said(staff_client, codeframe):
    """The form's row deleted before the page was read again (another analyst): the error is
    said below the content rather than lost."""
    code = codeframe.codes.order_by("number").first()
    page_url = codeframe.get_absolute_url()
    rename = reverse("codeframe:code-rename", args=[codeframe.pk, code.pk])
    staff_client.post(rename, {"label": "", "next": page_url})
    services.delete_code(code=code)
    page = staff_client.get(page_url).content.decode()
    assert '<span role="alert">A label is 1 to 200 characters.</span>' in page


def test_odd_digits_in_ids_are_no_ids(staff_client, codeframe):
    """ "²" is a digit to str.isdigit but no id (int() raised: a 500 on every page with the
    project switcher), and 4,301 digits passed the check but not int()."""
    for page in ("/questions/", "/projects/", codeframe.get_absolute_url(), "/questions/import/"):
        assert staff_client.get(page, {"project": "²"}).status_code == 200, page
    assert staff_client.get("/questions/", {"project": "9" * 25}).status_code == 200
    url = reverse("codeframe:code-add", args=[codeframe.pk])
    added = staff_client.post(url, {"label": "Huge id", "response": "9" * 4301})
    assert added.status_code == 302
    assert codeframe.codes.filter(label="Huge id").exists()  # no answer named: none coded
    upload = SimpleUploadedFile("a.csv", b"answer\nToo slow\nToo dear\n", "text/csv")
    form = staff_client.post("/questions/import/", {"survey": "Odd", "file": upload, "column": "²"})
    assert form.status_code == 200
    assert "²" in form.content.decode() and not Question.objects.filter(survey="Odd").exists()
