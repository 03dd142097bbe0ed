import io
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from codeframe import services
from codeframe.models import Code, Codeframe, GenerationJob, Question

from .conftest import make_question

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "survey_responses.csv"


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_import_responses_into_a_new_then_existing_question(tmp_path):
    path = tmp_path / "wave.csv"
    path.write_text("respondent_id,answer\nA,Slow app\nB,\nC,Great rates\n", encoding="utf-8")
    output = run("import_responses", str(path), "--survey", "Wave 1", "--question-text", "Why?")
    question = Question.objects.get()
    assert "Imported 2 answers" in output and "1 blank skipped" in output
    frame = services.create_codeframe(question=question, n_codes=2)
    output = run("import_responses", str(path), "--question", str(question.pk), "--replace")
    assert question.responses.count() == 2
    assert f"Replaced its answers: deleted codeframe #{frame.pk} with the old ones." in output


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (b"", [], "The file is empty"),
        (b"id,answer\n1,x\n", ["--column", "nope"], "There is no column 'nope'"),
        ("answer\ncaf\xe9\n".encode("latin-1"), [], "Line 2 is not UTF-8"),
    ],
)
def test_import_errors_are_command_errors_and_import_nothing(tmp_path, content, args, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        run("import_responses", str(path), "--survey", "S", *args)
    assert not Question.objects.exists()


def test_import_refuses_too_big_files_and_unknown_questions(tmp_path, settings):
    path = tmp_path / "big.csv"
    path.write_bytes(b"answer\n" + b"x\n" * 2000)
    settings.CODEFRAME = {"MAX_UPLOAD_BYTES": 1024}
    with pytest.raises(CommandError, match="the limit is 1 KB"):
        run("import_responses", str(path), "--survey", "S")
    with pytest.raises(CommandError, match="There is no question 42"):
        run("import_responses", str(tmp_path / "missing.csv"), "--question", "42")


def test_generate_codeframe_prints_the_table(question):
    output = run("generate_codeframe", "--question", str(question.pk), "--n-codes", "3")
    codeframe = Codeframe.objects.get()
    assert "(uncoded)" in output and "cache hits" in output
    for code in codeframe.codes.all():
        assert f"{code.number:>4}" in output
    assert f"Stored as codeframe {codeframe.pk}" in output


@pytest.mark.django_db(transaction=True)
def test_generate_codeframe_runs_with_the_database_queue(settings):
    """With the database task backend (the default outside tests) and no transaction open, the
    command's job took the queue's lock outside a transaction: on PostgreSQL a
    TransactionManagementError, and `make demo` against PostgreSQL left a question with no
    codeframe."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    question = make_question()
    output = run("generate_codeframe", "--question", str(question.pk), "--n-codes", "3")
    codeframe = Codeframe.objects.get(question=question)
    assert f"Stored as codeframe {codeframe.pk}" in output
    assert GenerationJob.objects.get(question=question).state == GenerationJob.State.DONE


def test_generate_codeframe_refuses_a_number_of_codes_out_of_range(question):
    """--n-codes 0 made a job that failed with a ValueError traceback, counted as a failure."""
    for option in ("--n-codes", "--max-codes"):
        for value in ("0", "201"):
            with pytest.raises(CommandError, match=f"from 1 to 200, not {value}"):
                run("generate_codeframe", "--question", str(question.pk), option, value)
    assert not GenerationJob.objects.exists() and not Codeframe.objects.exists()


def test_generate_codeframe_from_a_file(tmp_path):
    path = tmp_path / "wave.csv"
    path.write_text("answer\nToo expensive\nFriendly staff\nApp crashes\n", encoding="utf-8")
    output = run("generate_codeframe", "--file", str(path))
    assert "Imported 3 answers" in output
    assert Codeframe.objects.get().question.survey == "wave"


def test_generate_codeframe_errors():
    with pytest.raises(CommandError, match="no question 9"):
        run("generate_codeframe", "--question", "9")
    empty = Question.objects.create(project=services.default_project(), survey="Empty")
    with pytest.raises(CommandError, match="no answers"):
        run("generate_codeframe", "--question", str(empty.pk))


def test_demo_run_again_keeps_what_an_analyst_did_with_the_last_run_and_reports_the_cache():
    """It replaced the demo question's answers, deleting every codeframe of it (edited and
    approved ones too) without a word; now a run whose question has codeframes gets a new one."""
    run("codeframe_demo", str(SAMPLE))
    first = Question.objects.get()
    edited = first.codeframes.latest("id").codes.order_by("number").first()
    services.rename_code(code=edited, label="Reviewed by an analyst")
    output = run("codeframe_demo", str(SAMPLE))
    assert Codeframe.objects.filter(question=first).count() == 2
    assert Code.objects.filter(pk=edited.pk, label="Reviewed by an analyst").exists()
    assert f"Earlier runs' questions and their codeframes are kept (question {first.pk})" in output
    question = Question.objects.exclude(pk=first.pk).get()
    answers = question.responses.count()
    assert answers > 300 and Codeframe.objects.filter(question=question).count() == 2
    assert "(uncoded)" in output and "first generation:" in output
    assert "cached by an earlier run" in output  # a first generation with only cache hits
    line = next(x for x in output.splitlines() if x.startswith("second generation:"))
    assert f"{answers:,} cache hits)" in line and " vs first " in line


def test_demo_prints_a_local_account_that_logs_in(client, settings):
    output = run("codeframe_demo", str(SAMPLE), "--address", "http://127.0.0.1:8765")
    codeframe = Codeframe.objects.latest("id")  # the second generation, from the cache
    assert f"open http://127.0.0.1:8765/codeframes/{codeframe.pk}/" in output
    assert "make serve" in output
    line = next(x for x in output.splitlines() if "log in as:" in x)
    username, password = line.split("log in as:")[1].split("password:")

    def log_in(password: str):  # through the login page, as a person does (django-axes)
        client.logout()
        return client.post(
            "/accounts/login/",
            {"username": username.strip(), "password": password.strip(), "next": "/"},
        )

    assert log_in(password).status_code == 302
    assert client.get(codeframe.get_absolute_url()).status_code == 200
    # Again: the same account, a new password; the old one no longer works.
    again = run("codeframe_demo", str(SAMPLE))
    new = next(x for x in again.splitlines() if "log in as:" in x).split("password:")[1].strip()
    assert new != password.strip()
    assert log_in(password).status_code == 200  # the form again: the old password is gone
    assert log_in(new).status_code == 302
    # A saved browser password tried until the account locks: the next `make demo` (a new
    # password) unlocks it, or the account stayed locked for AUTH_LOCKOUT_MINUTES.
    assert 429 in [log_in(password).status_code for _ in range(settings.AXES_FAILURE_LIMIT + 1)]
    assert log_in(new).status_code == 429
    last = run("codeframe_demo", str(SAMPLE))
    newest = next(x for x in last.splitlines() if "log in as:" in x).split("password:")[1]
    assert log_in(newest).status_code == 302


def test_no_demo_account_outside_local_settings(settings):
    settings.LOCAL = False
    output = run("codeframe_demo", str(SAMPLE))
    assert "log in as" not in output and "createsuperuser" in output
    assert not User.objects.filter(username="demo").exists()


def test_a_file_without_an_id_column_is_imported_with_a_warning(tmp_path):
    """Ids made of line numbers look like serials: the codes would be merged back onto the
    wrong cases. The commands say so, and generate_codeframe can name the id column."""
    path = tmp_path / "wave.csv"
    path.write_text("Who,answer\n1017,Slow app\n1018,Great rates\n", encoding="utf-8")
    err = io.StringIO()
    call_command("import_responses", str(path), "--survey", "S", stdout=io.StringIO(), stderr=err)
    assert "No respondent id was found for 2 answers" in err.getvalue()
    assert "--id-column" in err.getvalue()
    err = io.StringIO()
    call_command(
        "import_responses", str(path), "--survey", "T", "--id-column", "Who",
        stdout=io.StringIO(), stderr=err,
    )  # fmt: skip
    assert err.getvalue() == ""
    assert sorted(
        Question.objects.get(survey="T").responses.values_list("respondent_id", flat=True)
    ) == ["1017", "1018"]


def test_the_import_page_warns_when_a_file_has_no_id_column(staff_client):
    upload = io.BytesIO(b"Who,answer\n1017,Slow app\n")
    upload.name = "wave.csv"
    page = staff_client.post(
        "/questions/import/", {"survey": "S", "file": upload}, follow=True
    ).content.decode()
    assert '<li class="warning"><span role="alert">No respondent id was found for 1 answer,' in page
    pasted = staff_client.post(
        "/questions/import/", {"survey": "P", "pasted": "Slow app"}, follow=True
    ).content.decode()
    assert "No respondent id was found" not in pasted
