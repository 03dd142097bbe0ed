"""Generation jobs: queueing, running with progress, cancelling, retrying, and recovering jobs whose
worker died. The worker here is this process (`run_job`, what the task calls); real `db_worker`
processes are in tests/proof/test_workers.py."""

import logging
import re
import threading
import time
from datetime import timedelta
from functools import partial

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, OperationalError, connection, connections, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from codeframe import jobs, selectors, services
from codeframe.exceptions import (
    AttemptRequeued,
    ConflictingOptions,
    JobCancelled,
    JobStateError,
    NoResponses,
    QueueFull,
)
from codeframe.importers import ImportedRow
from codeframe.jobs import backend as job_backend
from codeframe.jobs import run as job_run
from codeframe.jobs.connection import on_new_connection
from codeframe.models import Codeframe, GenerationJob, Question
from codeframe.tasks import run_generation
from tests.codeframe.conftest import ANSWERS
from tests.fakes import CountingBackend

pytestmark = pytest.mark.django_db

State = GenerationJob.State
DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.fixture
def database_tasks(settings):
    """Tasks go to the database queue and wait there for a worker (none runs here)."""
    settings.TASKS = DATABASE_TASKS


def test_immediate_backend_runs_the_job_to_a_stored_codeframe(question, staff_user):
    job = jobs.queue_generation(question=question, user=staff_user, n_codes=3)
    assert job.state == State.DONE and job.stage == GenerationJob.Stage.FINISHED
    assert job.percent == 100 and job.done == job.total == len(ANSWERS)
    assert job.attempts == 1 and job.error == ""
    assert job.cache_misses == len(ANSWERS) and job.cache_hits == 0
    assert job.started <= job.finished and job.requested_by == staff_user
    codeframe = job.codeframe
    assert codeframe.question == question and codeframe.codes.count() >= 3
    assert codeframe.assignments.filter(is_primary=True).count() == codeframe.response_count


def test_database_backend_only_queues(question, database_tasks):
    job = jobs.queue_generation(question=question, n_codes=3)
    assert job.state == State.QUEUED and job.percent == 0 and job.total == len(ANSWERS)
    task = DBTaskResult.objects.get(id=job.task_id)
    assert task.status == "READY" and task.args_kwargs["args"] == [str(job.pk)]
    assert task.task_path == "codeframe.tasks.run_generation"
    assert not Codeframe.objects.exists()
    # What the worker does with it: runs it, and asks for a watchdog check after the timeout.
    finished = jobs.run_job(job_id=task.args_kwargs["args"][0])
    assert finished.state == State.DONE and finished.codeframe is not None
    watchdog = DBTaskResult.objects.get(task_path="codeframe.tasks.check_job")
    assert watchdog.args_kwargs["args"] == [str(job.pk)] and watchdog.run_after > timezone.now()


def test_progress_is_reported_once_per_batch(question, settings, database_tasks):
    settings.CODEFRAME = {"JOB_EMBED_BATCH": 5}
    job = jobs.create_job(question=question)
    seen = []
    with CaptureQueriesContext(connection) as queries:
        jobs.run_job(job_id=job.pk, on_progress=seen.append)
    steps = [(p.stage, p.done) for p in seen]
    assert steps == [
        ("embedding", 0),
        ("embedding", 5),
        ("embedding", 10),
        ("embedding", 12),
        ("clustering", 12),
        ("storing", 12),
        ("finished", 12),
    ]
    job_writes = [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith('UPDATE "codeframe_gen')
    ]
    # claim + one per reported step + done: never one per text.
    assert len(job_writes) == 1 + 6 + 1, job_writes
    # The encoder was called per batch, never for all answers at once (label phrases follow).
    assert [len(call) for call in CountingBackend.calls][:3] == [5, 5, 2]
    assert CountingBackend.encoded_texts()[:12] == list(ANSWERS)


@pytest.mark.parametrize(
    "steps",
    [
        ["waiting", "preparing", "embedding", "clustering", "storing"],  # a generation
        ["waiting", "preparing", "embedding", "coding"],  # a wave
    ],
)
def test_progress_never_goes_back(steps):
    """A wave's coding step read 50% after its embedding had reached 85%."""
    job = GenerationJob(state=State.RUNNING, total=10)
    seen = []
    for stage in steps:
        for done in (0, 5, 10) if stage == "embedding" else (10,):
            job.stage, job.done = stage, done
            seen.append(job.percent)
    assert seen == sorted(seen) and seen[-1] < 100
    job.state = State.DONE
    assert job.percent == 100


def test_more_codes_than_the_most_asked_for_is_refused_everywhere(question, staff_client):
    """Generation ignores `max_codes` when `n_codes` is given: the page, the API (see
    test_api), the command and a retry all go through create_job, which refuses the pair."""
    with pytest.raises(ConflictingOptions, match="5 codes is more than the most asked for"):
        jobs.create_job(question=question, n_codes=5, max_codes=2)
    page = staff_client.post(
        reverse("codeframe:question-generate", args=[question.pk]),
        {"n_codes": 5, "max_codes": 2},
        follow=True,
    )
    assert "5 codes is more than the most asked for" in page.content.decode()
    with pytest.raises(CommandError, match="more than the most asked for"):
        call_command("generate_codeframe", "--question", question.pk, "--n-codes", 5,
                     "--max-codes", 2)  # fmt: skip
    assert not GenerationJob.objects.exists()


def test_a_question_without_answers_is_refused_before_queueing():
    question = Question.objects.create(project=services.default_project(), survey="Empty")
    with pytest.raises(NoResponses):
        jobs.queue_generation(question=question)
    assert not GenerationJob.objects.exists()


def test_cancel_a_queued_job(question, database_tasks):
    job = jobs.queue_generation(question=question)
    job = jobs.cancel_job(job=job)
    assert job.state == State.CANCELLED and job.finished is not None
    # The worker then picks the task up and leaves the job alone.
    assert jobs.run_job(job_id=job.pk).state == State.CANCELLED
    assert not Codeframe.objects.exists()
    with pytest.raises(JobStateError):
        jobs.cancel_job(job=job)


def test_cancel_a_running_job_stops_it_and_stores_nothing(question, settings, database_tasks):
    settings.CODEFRAME = {"JOB_EMBED_BATCH": 4}
    job = jobs.create_job(question=question)

    def cancel_midway(progress):
        if progress.done == 4:
            jobs.cancel_job(job=GenerationJob.objects.get(pk=job.pk))

    finished = jobs.run_job(job_id=job.pk, on_progress=cancel_midway)
    assert finished.state == State.CANCELLED and finished.codeframe is None
    assert finished.done == 4  # stopped at the next report, not at the end
    assert not Codeframe.objects.exists()


def test_a_question_deleted_while_its_job_runs_ends_the_job_quietly(
    question, settings, database_tasks, caplog
):
    """Deleting a question takes its job row with it; the worker running that job stops at its
    next report and stores nothing, without an error in its log or a failed task."""
    settings.CODEFRAME = {"JOB_EMBED_BATCH": 4}
    job = jobs.create_job(question=question)

    def delete_midway(progress):
        if progress.done == 4:
            services.delete_question(question=Question.objects.get(pk=question.pk))

    with caplog.at_level(logging.INFO, logger="codeframe.jobs"):
        assert jobs.run_job(job_id=job.pk, on_progress=delete_midway) is None
    assert not GenerationJob.objects.exists() and not Codeframe.objects.exists()
    assert max(r.levelno for r in caplog.records) == logging.INFO  # no error, no traceback
    assert f"job {job.pk} attempt 1: it was deleted (with its question)" in caplog.messages


def test_a_job_deleted_alone_in_the_admin_says_so_in_the_log(
    question, settings, database_tasks, caplog
):
    """The log said "its question was deleted" when only the job row had been (the admin)."""
    settings.CODEFRAME = {"JOB_EMBED_BATCH": 4}
    job = jobs.create_job(question=question)

    def delete_midway(progress):
        if progress.done == 4:
            GenerationJob.objects.filter(pk=job.pk).delete()

    with caplog.at_level(logging.INFO, logger="codeframe.jobs"):
        assert jobs.run_job(job_id=job.pk, on_progress=delete_midway) is None
    assert f"job {job.pk} attempt 1: it was deleted (the job alone, in the admin)" in (
        caplog.messages
    )
    assert Question.objects.filter(pk=question.pk).exists() and not Codeframe.objects.exists()


def test_a_queued_job_whose_question_was_deleted_has_nothing_to_run(question, database_tasks):
    job = jobs.create_job(question=question)
    services.delete_question(question=question)
    assert jobs.run_job(job_id=job.pk) is None
    assert run_generation.call(str(job.pk)) == "deleted"  # what the worker's task returns


def test_a_superseded_attempt_cannot_store(question, database_tasks, monkeypatch):
    """A worker thought dead (its job was re-queued and taken by another attempt) that comes
    back must not store a second codeframe, nor read as a success in the task admin: its task
    row, which the recovery marked failed, stayed "successful" with the other attempt's
    state."""
    job = jobs.create_job(question=question)

    def taken_over(progress):
        if progress.stage == "storing":
            GenerationJob.objects.filter(pk=job.pk).update(attempts=F("attempts") + 1)

    ran = jobs.run_attempt(job_id=job.pk, on_progress=taken_over)
    assert ran.superseded and not Codeframe.objects.exists()
    job.refresh_from_db()
    assert job.state == State.RUNNING and job.attempts == 2  # left to its new owner

    def given_up(progress):  # the recovery failed the job: its last attempt, it thought
        if progress.stage == "storing":
            GenerationJob.objects.filter(pk=job.pk).update(state=State.FAILED)

    GenerationJob.objects.filter(pk=job.pk).update(state=State.QUEUED)
    ran = jobs.run_attempt(job_id=job.pk, on_progress=given_up)
    assert ran.superseded and ran.job.state == State.FAILED and not Codeframe.objects.exists()

    # The worker's task says so by failing; one that ran its job to the end does not.
    real = jobs.run_attempt
    monkeypatch.setattr(jobs, "run_attempt", partial(real, on_progress=taken_over))
    GenerationJob.objects.filter(pk=job.pk).update(state=State.QUEUED)
    with pytest.raises(JobCancelled, match="another attempt took it over"):
        run_generation.call(str(job.pk))
    monkeypatch.setattr(jobs, "run_attempt", real)
    GenerationJob.objects.filter(pk=job.pk).update(state=State.QUEUED)
    assert run_generation.call(str(job.pk)) == State.DONE


def test_an_error_after_the_store_committed_is_no_superseded_attempt(
    question, database_tasks, monkeypatch
):
    """The codeframe and "done" landed together; an error after that commit (a progress
    callback, a figures update) must not make the attempt read as superseded, nor fail its
    task."""
    real = job_run.store_codeframe

    def store_then_fail(**kwargs):
        real(**kwargs)
        raise RuntimeError("after the commit")

    monkeypatch.setattr(job_run, "store_codeframe", store_then_fail)
    ran = jobs.run_attempt(job_id=jobs.create_job(question=question).pk)
    assert ran.job.state == State.DONE and not ran.superseded and Codeframe.objects.count() == 1


def test_an_unexpected_error_fails_the_job_with_a_message(question, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(job_run, "generate_codeframe", broken)
    job = jobs.queue_generation(question=question)
    assert job.state == State.FAILED and "RuntimeError" in job.error and "Retry" in job.error
    assert not Codeframe.objects.exists()
    monkeypatch.undo()
    again = jobs.retry_job(job=job)
    assert again.pk != job.pk and again.state == State.DONE and again.params == job.params


def stale(job: GenerationJob, *, attempts: int = 1) -> GenerationJob:
    """The job as a killed worker leaves it: running, no heartbeat for an hour."""
    GenerationJob.objects.filter(pk=job.pk).update(
        state=State.RUNNING,
        stage=GenerationJob.Stage.EMBEDDING,
        attempts=attempts,
        started=timezone.now() - timedelta(hours=1),
        heartbeat=timezone.now() - timedelta(hours=1),
    )
    return GenerationJob.objects.get(pk=job.pk)


def test_a_job_whose_worker_died_is_queued_again(question, database_tasks):
    job = stale(jobs.queue_generation(question=question))
    GenerationJob.objects.filter(pk=job.pk).update(done=8)
    old_task = job.task_id
    DBTaskResult.objects.filter(id=old_task).update(status="RUNNING")
    assert jobs.recover_stale_jobs() == 1
    job.refresh_from_db()
    assert job.state == State.QUEUED and "stopped reporting" in job.error
    assert job.done == 0  # the next attempt starts over: not "8 of 12" while waiting
    assert "it was queued again as attempt 2." in job.error  # true while that one runs
    assert job.task_id != old_task and DBTaskResult.objects.get(id=job.task_id).status == "READY"
    assert DBTaskResult.objects.get(id=old_task).status == "FAILED"
    assert jobs.recover_stale_jobs() == 0  # nothing left to recover
    assert jobs.run_job(job_id=job.pk).state == State.DONE
    assert Codeframe.objects.count() == 1


def test_a_job_that_lost_its_worker_too_often_fails(question, settings, database_tasks):
    job = stale(jobs.queue_generation(question=question), attempts=2)
    jobs.recover_stale_jobs()
    job.refresh_from_db()
    assert job.state == State.FAILED and "2 times" in job.error and job.finished is not None


def test_a_fresh_heartbeat_is_not_stale(question, database_tasks):
    job = jobs.queue_generation(question=question)
    GenerationJob.objects.filter(pk=job.pk).update(
        state=State.RUNNING, attempts=1, heartbeat=timezone.now()
    )
    assert jobs.recover_stale_jobs() == 0
    assert GenerationJob.objects.get(pk=job.pk).state == State.RUNNING


def test_queue_cap_per_user(question, staff_user, settings, database_tasks):
    settings.CODEFRAME = {"MAX_QUEUED_GENERATIONS": 2}
    # Other options each time: the same ones again are the queued job again.
    jobs.queue_generation(question=question, user=staff_user, n_codes=2)
    jobs.queue_generation(question=question, user=staff_user, n_codes=3)
    with pytest.raises(QueueFull, match="limit is 2"):
        jobs.queue_generation(question=question, user=staff_user, n_codes=4)


def test_a_job_its_retry_finished_no_longer_needs_attention(question, staff_user):
    """A cancelled job stayed under "in progress or failed" after its retry had made the
    codeframe; one still failed, or retried into another failure, stays listed."""
    cancelled = jobs.create_job(question=question, user=staff_user)
    GenerationJob.objects.filter(pk=cancelled.pk).update(state=State.CANCELLED)
    failed = jobs.create_job(question=question, user=staff_user)
    GenerationJob.objects.filter(pk=failed.pk).update(state=State.FAILED)
    assert set(selectors.question_jobs(question=question)) == {cancelled, failed}
    retried = jobs.retry_job(job=GenerationJob.objects.get(pk=failed.pk), user=staff_user)
    assert GenerationJob.objects.get(pk=retried.pk).state == State.DONE  # ran in the call
    assert selectors.question_jobs(question=question) == []


def test_queue_stats(question, database_tasks):
    jobs.queue_generation(question=question)
    failed = jobs.queue_generation(question=question, n_codes=3)
    GenerationJob.objects.filter(pk=failed.pk).update(state=State.FAILED, finished=timezone.now())
    stats = selectors.job_queue_stats()
    assert (stats.queued, stats.running, stats.failed_last_hour) == (1, 0, 1)
    assert stats.oldest_queued_seconds is not None and stats.oldest_queued_seconds >= 0


# --- Pages and API ----------------------------------------------------------------------------


def test_progress_page_refreshes_itself_and_can_cancel(staff_client, question, database_tasks):
    response = staff_client.post(reverse("codeframe:question-generate", args=[question.pk]))
    job = GenerationJob.objects.get()
    assert response["Location"] == job.get_absolute_url()
    page = staff_client.get(job.get_absolute_url()).content.decode()
    # Followed by a script, or without JavaScript by a refresh.
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page
    assert "?stay=1&part=status" in page
    assert "Waiting for a worker" in page and "Cancel" in page and 'value="0"' in page
    question_page = staff_client.get(question.get_absolute_url()).content.decode()
    assert job.get_absolute_url() in question_page and "Queued" in question_page
    staff_client.post(reverse("codeframe:job-cancel", args=[job.pk]))
    page = staff_client.get(job.get_absolute_url()).content.decode()
    assert "Cancelled" in page and "http-equiv" not in page and "Retry" in page
    # It never ran: not "Step: Finished" and "Elapsed: waiting for a worker".
    assert "Not started" in page and "never started" in page and "Finished" not in page


def test_failed_job_page_shows_the_error_and_retries(staff_client, question, database_tasks):
    job = stale(jobs.queue_generation(question=question), attempts=2)
    page = staff_client.get(job.get_absolute_url()).content.decode()  # the page recovers it
    assert "Failed" in page and "stopped reporting" in page and "Retry" in page
    response = staff_client.post(reverse("codeframe:job-retry", args=[job.pk]))
    retried = GenerationJob.objects.exclude(pk=job.pk).get()
    assert response["Location"] == retried.get_absolute_url() and retried.state == State.QUEUED
    # Once only: a second click made another codeframe of the same answers, every time.
    page = staff_client.get(job.get_absolute_url()).content.decode()
    assert "Retry</button>" not in page and f"job {retried.pk}</a> (queued)" in page
    again = staff_client.post(reverse("codeframe:job-retry", args=[job.pk]), follow=True)
    assert (
        f"This job was retried already, or its question queued again since: job {retried.pk}"
        in (again.content.decode())
    )
    assert GenerationJob.objects.count() == 2
    jobs.cancel_job(job=retried)
    with pytest.raises(JobStateError, match="retried already"):
        jobs.retry_job(job=job)
    assert jobs.retry_job(job=retried).state == State.QUEUED  # the newest one may be


def test_api_status_and_cancel(api_client, question, database_tasks):
    created = api_client.post("/api/codeframes/", {"question": question.pk}, format="json").json()
    assert created["state"] == "queued" and created["codeframe"] is None
    status = api_client.get(created["status_url"]).json()
    assert status["state"] == "queued" and status["stage"] == "waiting"
    cancelled = api_client.post(f"/api/jobs/{created['id']}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    again = api_client.post(f"/api/jobs/{created['id']}/cancel/")
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]
    missing = api_client.get("/api/jobs/00000000-0000-0000-0000-000000000000/")
    assert missing.status_code == 404


def test_api_queue_cap_is_429(api_client, question, settings, database_tasks):
    settings.CODEFRAME = {"MAX_QUEUED_GENERATIONS": 1}
    first = api_client.post("/api/codeframes/", {"question": question.pk}, format="json")
    second = api_client.post(
        "/api/codeframes/", {"question": question.pk, "n_codes": 3}, format="json"
    )
    assert first.status_code == 202
    assert second.status_code == 429 and "limit is 1" in second.json()["detail"]


def test_the_queue_shows_on_the_cache_stats_page_api_and_metrics(
    admin_client, question, database_tasks
):
    jobs.queue_generation(question=question)
    jobs.queue_generation(question=question, n_codes=3)
    api = admin_client.get("/api/embeddings/stats/").json()
    assert api["sections"]["codeframe_jobs"]["queued"] == 2
    assert api["sections"]["codeframe_jobs"]["oldest_queued_seconds"] >= 0
    metrics = admin_client.get("/metrics").content.decode()
    assert "codeframe_jobs_queued 2.0" in metrics and "codeframe_jobs_running 0.0" in metrics
    page = admin_client.get("/admin/embeddings/cachestatistics/").content.decode()
    assert "Generation jobs (task workers)" in page
    assert 'data-key="queued">2 jobs' in page


def test_a_scrape_recovers_a_job_whose_workers_all_died(admin_client, question, database_tasks):
    """The watchdog is a task: with every worker killed it never runs, and /metrics showed the
    job running for ever. A scrape (or the stats API) recovers it, so the queue's age grows."""
    running = jobs.queue_generation(question=question)
    GenerationJob.objects.filter(pk=running.pk).update(
        state=State.RUNNING, attempts=1, heartbeat=timezone.now() - timedelta(seconds=20)
    )
    metrics = admin_client.get("/metrics").content.decode()
    assert "codeframe_jobs_running 1.0" in metrics
    silent = float(re.search(r"^codeframe_jobs_silent_seconds (\S+)$", metrics, re.M)[1])
    assert 20 <= silent < 60  # heard from 20 s ago: within JOB_TIMEOUT, left running
    dead = stale(running)
    metrics = admin_client.get("/metrics").content.decode()
    assert "codeframe_jobs_running 0.0" in metrics and "codeframe_jobs_queued 1.0" in metrics
    dead.refresh_from_db()
    assert dead.state == State.QUEUED and "stopped reporting" in dead.error
    api = admin_client.get("/api/embeddings/stats/").json()["sections"]["codeframe_jobs"]
    assert api["oldest_queued_seconds"] >= 0 and api["silent_seconds"] is None


def test_a_job_whose_worker_died_before_running_it_is_queued_again(question, database_tasks):
    """A worker that took the task (its row RUNNING) and died before marking the job running
    left it queued for good: no worker takes a RUNNING task, and the recovery looked at running
    jobs only. Its row as such a worker leaves it: RUNNING since long before JOB_TIMEOUT."""
    job = jobs.queue_generation(question=question)
    taken = timezone.now() - timedelta(hours=1)
    DBTaskResult.objects.filter(id=job.task_id).update(status="RUNNING", started_at=taken)
    fresh = jobs.queue_generation(question=question, n_codes=3)  # taken just now: a live worker's
    DBTaskResult.objects.filter(id=fresh.task_id).update(
        status="RUNNING", started_at=timezone.now()
    )
    # A task that failed before its job was marked running (a database locked, a connection
    # dropped): django-tasks marks it FAILED, and the job stayed queued for good too.
    failed = jobs.queue_generation(question=question, n_codes=4)
    DBTaskResult.objects.filter(id=failed.task_id).update(
        status="FAILED", started_at=timezone.now(), finished_at=timezone.now()
    )
    assert jobs.recover_stale_jobs() == 2
    assert jobs.recover_stale_jobs() == 0  # once
    failed.refresh_from_db()
    assert DBTaskResult.objects.get(id=failed.task_id).status == "READY"
    dead = job.task_id
    job.refresh_from_db()
    assert job.state == State.QUEUED and job.task_id != dead
    assert DBTaskResult.objects.get(id=dead).status == "FAILED"
    assert DBTaskResult.objects.get(id=job.task_id).status == "READY"  # a worker takes it now
    assert DBTaskResult.objects.get(id=fresh.task_id).status == "RUNNING"
    done = jobs.run_job(job_id=job.pk)
    assert done.state == State.DONE and done.codeframe is not None


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_goes_on_after_its_connection_drops(question, settings):
    """One failed beat (a dropped connection, a failover) ended the heartbeat thread: the live
    worker's job was then recovered as dead and its work done again."""
    if connection.vendor != "postgresql":
        pytest.skip("ends another connection's backend: PostgreSQL (make test runs this on it)")
    settings.CODEFRAME = {**settings.CODEFRAME, "JOB_TIMEOUT": 2}  # a beat every 0.5 s
    job = GenerationJob.objects.create(
        question=question, state=State.RUNNING, attempts=1, heartbeat=timezone.now()
    )

    def beats_after(moment) -> bool:
        for _ in range(100):
            if GenerationJob.objects.get(pk=job.pk).heartbeat > moment:
                return True
            time.sleep(0.1)
        return False

    with job_run._KeepAlive(job.pk, 1):
        assert beats_after(timezone.now())
        with connection.cursor() as cursor:  # every other connection to the test database
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            assert cursor.fetchone()[0] >= 1
        assert beats_after(timezone.now() + timedelta(seconds=0.6))


def drop_own_connection() -> None:
    """End this connection's own PostgreSQL backend, as pg_terminate_backend from an operator
    (or a failover) does: the statement raises OperationalError and the connection is dead."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")


def store_on_a_dropped_connection(monkeypatch) -> None:
    """The connection is lost inside the store's transaction, just before it commits."""
    real = job_run.store_codeframe

    def store(*, before_commit, **kwargs):
        def drop_then_mark_done(codeframe):
            drop_own_connection()
            before_commit(codeframe)

        return real(before_commit=drop_then_mark_done, **kwargs)

    monkeypatch.setattr(job_run, "store_codeframe", store)


@pytest.mark.django_db(transaction=True)
def test_a_connection_lost_while_storing_queues_the_job_again_at_once(
    question, settings, monkeypatch
):
    """What the store's transaction wrote went with the connection: the attempt cannot carry on.
    Ending it failed on the dead connection, the worker process exited and the job stayed
    running until the watchdog took it for a dead worker's ("killed, out of memory or hung?").
    It is queued again at once, on a new connection, and says why."""
    if connection.vendor != "postgresql":
        pytest.skip("ends its own PostgreSQL backend (make test runs this on it)")
    settings.TASKS = DATABASE_TASKS
    job = jobs.queue_generation(question=question)
    first_task = job.task_id
    DBTaskResult.objects.filter(id=first_task).update(status="RUNNING")  # a worker's, taken
    store_on_a_dropped_connection(monkeypatch)
    with pytest.raises(AttemptRequeued, match="connection was lost"):
        run_generation.call(str(job.pk))
    job.refresh_from_db()
    assert job.state == State.QUEUED and job.attempts == 1 and job.done == 0
    assert "database connection was lost while storing" in job.error
    assert "queued again as attempt 2" in job.error and "hung" not in job.error
    assert not Codeframe.objects.exists()  # nothing stored, not half
    assert DBTaskResult.objects.get(id=first_task).status == "FAILED"
    assert DBTaskResult.objects.get(id=job.task_id).status == "READY"  # a worker takes it
    monkeypatch.undo()
    assert run_generation.call(str(job.pk)) == State.DONE
    job.refresh_from_db()
    assert job.attempts == 2 and Codeframe.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_connection_lost_in_the_foreground_fails_the_job_saying_why(question, monkeypatch):
    """`generate_codeframe` runs the job in its own process: no queue to hand it to."""
    if connection.vendor != "postgresql":
        pytest.skip("ends its own PostgreSQL backend (make test runs this on it)")
    store_on_a_dropped_connection(monkeypatch)
    job = jobs.run_job(job_id=jobs.create_job(question=question).pk)
    assert job.state == State.FAILED and not Codeframe.objects.exists()
    assert job.error == (
        "Its database connection was lost while storing the codeframe (a failover or a "
        "restart of the database?); nothing was stored. Retry it."
    )


@pytest.mark.django_db(transaction=True)
def test_a_progress_write_goes_on_on_a_new_connection(question, settings, monkeypatch):
    """The job carries on in the same attempt: a dropped connection between two batches cost
    the whole attempt (and killed its worker)."""
    if connection.vendor != "postgresql":
        pytest.skip("ends its own PostgreSQL backend (make test runs this on it)")
    settings.CODEFRAME = {**settings.CODEFRAME, "JOB_EMBED_BATCH": 4}
    real = job_run._report

    def report(job, **kwargs):
        if kwargs["stage"] == "embedding" and kwargs["done"] == 4 and not dropped:
            with pytest.raises(OperationalError):  # the terminating statement's own error
                drop_own_connection()
            dropped.append(kwargs["done"])
        real(job, **kwargs)  # on the dead connection first

    dropped: list[int] = []
    monkeypatch.setattr(job_run, "_report", report)
    job = jobs.run_job(job_id=jobs.create_job(question=question).pk)
    assert dropped == [4]
    assert job.state == State.DONE and job.attempts == 1 and job.error == ""
    assert Codeframe.objects.count() == 1


def test_an_error_of_the_query_is_not_a_lost_connection(question, database_tasks):
    """Only a lost connection is tried again: a query's own error would only repeat."""
    tries = []

    def broken():
        tries.append(1)
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table_here")

    with pytest.raises(DatabaseError):
        on_new_connection(broken, what="test")
    assert tries == [1]


def test_the_watchdog_looks_again_when_the_last_heartbeat_turns_stale(question, database_tasks):
    """It looked again JOB_TIMEOUT after it last looked, when the heartbeat it had seen was
    younger than the timeout: a worker that died just after a beat had its job recovered close
    to twice the timeout later."""
    timeout = timedelta(seconds=300)
    job = jobs.queue_generation(question=question)
    beat = timezone.now() - timedelta(seconds=100)
    GenerationJob.objects.filter(pk=job.pk).update(state=State.RUNNING, attempts=1, heartbeat=beat)
    jobs.watch_job(job.pk)  # a live worker's job: left running, looked at again
    assert GenerationJob.objects.get(pk=job.pk).state == State.RUNNING
    check = DBTaskResult.objects.get(task_path="codeframe.tasks.check_job")
    assert timeout < check.run_after - beat <= timeout + timedelta(seconds=2)
    # A worker that dies now is recovered by that check, within the timeout of its last beat:
    # the beat as old as it will be then.
    until_check = check.run_after - timezone.now()
    GenerationJob.objects.filter(pk=job.pk).update(heartbeat=beat - until_check)
    jobs.watch_job(job.pk)
    job.refresh_from_db()
    assert job.state == State.QUEUED and "stopped reporting" in job.error


def test_a_done_job_whose_codeframe_was_deleted_offers_no_retry(staff_client, question):
    """It offered Retry, which was refused ("Only a failed or cancelled job can be retried")."""
    job = jobs.queue_generation(question=question, n_codes=3)  # immediate backend: done
    services.delete_codeframe(codeframe=job.codeframe)
    page = staff_client.get(job.get_absolute_url()).content.decode()
    assert "Its codeframe has been deleted since" in page and "Retry" not in page


class Queue:
    """Clients' projects queuing generations, as `db_worker` would take them."""

    def __init__(self, manager) -> None:
        self.manager = manager
        self.projects = {}

    def question(self, client: str) -> Question:
        if client not in self.projects:
            self.projects[client] = services.create_project(
                name=f"Client {client}", manager=self.manager
            )
        rows = [ImportedRow(line=i, respondent_id=str(i), text=t) for i, t in enumerate(ANSWERS)]
        return services.import_responses(
            rows=rows, project=self.projects[client], survey=client, question_text="Why?"
        ).question

    def queued(self, client: str) -> GenerationJob:
        return jobs.queue_generation(question=self.question(client), n_codes=3)

    @staticmethod
    def order() -> list[GenerationJob]:
        """The jobs in the order the workers take their tasks (as `db_worker` reads them)."""
        ready = DBTaskResult.objects.ready().filter(task_path="codeframe.tasks.run_generation")
        return [GenerationJob.objects.get(pk=t.args_kwargs["args"][0]) for t in ready]

    @staticmethod
    def work() -> None:
        """A worker runs the next task to its end."""
        task = DBTaskResult.objects.ready().get_locked()
        DBTaskResult.objects.filter(id=task.id).update(status="RUNNING")
        assert jobs.run_job(job_id=task.args_kwargs["args"][0]).state == State.DONE
        DBTaskResult.objects.filter(id=task.id).update(status="SUCCESSFUL")


@pytest.fixture
def queue(database_tasks, django_user_model) -> Queue:
    return Queue(django_user_model.objects.create_user(username="m", password="pw-manager-123"))


def test_projects_take_turns_in_the_queue(queue):
    """One client's jobs queued at once no longer hold another client's job queued after them
    (the workers take a turn of each project in order), and a client with a backlog keeps its
    place against clients that queue one job at a time as the last one ends (a fixed priority
    of "jobs ahead in its project" passed it over for ever)."""
    queued, order, work = queue.queued, queue.order, queue.work
    a1, a2, a3 = queued("A"), queued("A"), queued("A")
    b1 = queued("B")
    assert order() == [a1, b1, a2, a3]
    work()  # A1
    b2 = queued("B")  # B has B1 waiting: after it
    assert order() == [b1, a2, b2, a3]
    jobs.cancel_job(job=a2)
    assert order()[0] == b1 and [j for j in order() if j.state == State.QUEUED] == [b1, b2, a3]

    # F has a backlog; G and H queue their next job as each one ends: F2 still comes next.
    for job in order():
        if job.state == State.QUEUED:
            jobs.cancel_job(job=job)
    DBTaskResult.objects.filter(status="READY").delete()
    queued("F")
    f2 = queued("F")
    g, h = queued("G"), queued("H")
    work()  # F1
    work()  # G
    g = queued("G")
    work()  # H
    h = queued("H")
    assert order() == [f2, g, h]


def test_a_job_cancelled_before_it_started_gives_its_turn_up(queue):
    """Queuing and cancelling does not push a project's next job back: only jobs that started
    or still wait hold a turn."""
    for _ in range(2):
        jobs.cancel_job(job=queue.queued("A"))
    b1, b2 = queue.queued("B"), queue.queued("B")
    a3 = queue.queued("A")
    assert [j for j in queue.order() if j.state == State.QUEUED] == [b1, a3, b2]


def test_a_task_no_worker_will_finish_does_not_hold_the_queue_to_its_turn(queue):
    """A queued job whose task a worker took and died with (until `recover_stale_jobs`) is not
    the lowest turn the others are counted from: the lowest turn waiting has the highest
    priority, as other tasks do (counted from the dead task's, the priorities were clamped to
    the lowest once the turns served since were far past it, and the queue was first come,
    first served)."""
    stuck = queue.queued("S")
    DBTaskResult.objects.filter(id=stuck.task_id).update(status="RUNNING")
    queue.queued("D")
    queue.work()  # D1: serving turn 0 now
    GenerationJob.objects.filter(started__isnull=False).update(turn=150)  # many turns later
    p1, p2 = queue.queued("P"), queue.queued("P")
    q1 = queue.queued("Q")
    assert [p1.turn, p2.turn, q1.turn] == [150, 151, 150]
    assert queue.order() == [p1, q1, p2]
    priorities = DBTaskResult.objects.filter(id__in=[p1.task_id, q1.task_id, p2.task_id])
    assert sorted(priorities.values_list("priority", flat=True)) == [-1, 0, 0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's advisory lock")
def test_the_turns_bookkeeping_is_serialised(queue, transactional_db):
    """Concurrent queue / cancel / claim requests updated task priorities in differing orders
    and deadlocked; the queue lock makes them wait for one another, to the end of the
    transaction that holds it."""
    got = {}

    def other() -> None:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [job_backend._QUEUE_LOCK])
            got["lock"] = cursor.fetchone()[0]
        connections["default"].close()

    with transaction.atomic():
        job_backend.lock_queue()
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert got["lock"] is False
    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert got["lock"] is True


def test_priorities_follow_the_queued_turns_however_far_apart(queue):
    """A job re-queued at the turn it had (its worker died, `recover_stale_jobs`) while many
    turns were served since does not clamp the others' priorities to the lowest: they are
    ranked by turn, so they stay in turn order, not first come, first served."""
    p1, p2 = queue.queued("P"), queue.queued("P")
    q1 = queue.queued("Q")
    GenerationJob.objects.filter(pk__in=[p1.pk, p2.pk, q1.pk]).update(turn=F("turn") + 150)
    back = queue.queued("R")  # as if re-queued at turn 0, 150 turns ago
    assert back.turn == 0
    assert queue.order() == [back, p1, q1, p2]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's row locks")
def test_queuing_beside_a_request_holding_the_question_does_not_deadlock(queue, transactional_db):
    """A request that locks a question and then queues a job (a wave: `start_wave`,
    `_queue_wave_job`) and one queuing a generation of that question took the question's lock
    and the queue lock in opposite orders (the new job's foreign key waits for the question):
    PostgreSQL found a deadlock and failed one of them."""
    question = queue.question("A")
    locked, failed = threading.Event(), []

    def wave_request() -> None:
        try:
            with transaction.atomic():
                Question.objects.select_for_update().get(pk=question.pk)
                locked.set()
                time.sleep(0.5)  # the other request waits for the question by now
                job_backend.next_turn(question)
        except Exception as exc:  # the test reports it
            failed.append(exc)
        finally:
            connections["default"].close()

    thread = threading.Thread(target=wave_request)
    thread.start()
    assert locked.wait(timeout=10)
    job = jobs.queue_generation(question=question, n_codes=3)
    thread.join()
    assert failed == [] and job.state == State.QUEUED


def test_a_double_submitted_generation_is_one_job(staff_client, question, database_tasks):
    """Two clicks, two tabs or a client's retried POST made as many jobs, and as many identical
    codeframes. The same options while one is queued or running: that job again."""
    first = jobs.queue_generation(question=question, n_codes=3)
    assert jobs.queue_generation(question=question, n_codes=3) == first
    url = reverse("codeframe:question-generate", args=[question.pk])
    assert staff_client.post(url, {"n_codes": 3})["Location"] == first.get_absolute_url()
    other = jobs.queue_generation(question=question, n_codes=4)  # other options: a job of its own
    assert other != first
    jobs.cancel_job(job=first)
    again = jobs.queue_generation(question=question, n_codes=3)
    assert again not in (first, other)
    assert GenerationJob.objects.filter(question=question).count() == 3


def test_a_generation_being_cancelled_is_not_given_back(question, database_tasks):
    """Cancel, then Generate again with the same options: a new job, not the one stopping."""
    running = jobs.queue_generation(question=question, n_codes=3)
    GenerationJob.objects.filter(pk=running.pk).update(state=State.RUNNING, attempts=1)
    jobs.cancel_job(job=GenerationJob.objects.get(pk=running.pk))
    assert GenerationJob.objects.get(pk=running.pk).cancel_requested
    assert jobs.queue_generation(question=question, n_codes=3) != running


def test_the_progress_script_reads_the_figures_alone(staff_client, question, database_tasks):
    """The job page's script reads `?part=status`: the figures without a page around them, so
    a message meant for the next page is not used up by a poll."""
    job = jobs.queue_generation(question=question)
    page = staff_client.get(job.get_absolute_url()).content.decode()
    assert 'fetch(window.location.pathname + "?stay=1&part=status"' in page
    staff_client.post(reverse("codeframe:job-cancel", args=[job.pk]))  # "Cancelled." waits
    part = staff_client.get(job.get_absolute_url(), {"stay": "1", "part": "status"})
    body = part.content.decode()
    assert body.strip().startswith('<div id="job-status" data-active="0"') and "<html" not in body
    assert "Cancelled" in body
    shown = staff_client.get(job.get_absolute_url()).content.decode()
    assert '<span role="status">Cancelled.</span>' in shown


def test_a_job_deleted_with_its_question_says_so(staff_client, question, database_tasks):
    """The job page follows a job; its question deleted from another tab, the page's next
    load was Django's bare 404."""
    job = jobs.queue_generation(question=question)
    services.delete_question(question=question)
    page = staff_client.get(job.get_absolute_url())
    assert page.status_code == 404
    assert "This job is not there" in page.content.decode()
