"""Workers that die: a running job whose heartbeat is older than CODEFRAME["JOB_TIMEOUT"] has
lost its worker, and is queued again (up to JOB_MAX_ATTEMPTS runs) or marked failed; a watchdog
task looks at each running job once its timeout has passed."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from codeframe.conf import get_config
from codeframe.jobs.backend import database_queue, enqueue, fail_task_row, is_task_row
from codeframe.models import GenerationJob

logger = logging.getLogger(__name__)

State = GenerationJob.State
Stage = GenerationJob.Stage


def recover_stale_jobs(*, job_ids: list[Any] | None = None) -> int:
    """Re-queue (or fail, after JOB_MAX_ATTEMPTS) running jobs whose heartbeat is older than
    JOB_TIMEOUT; all of them, or only `job_ids`. Returns how many were recovered.

    Safe to call from anywhere at any time (pages, the API, the watchdog task): rows are
    locked with SKIP LOCKED, so concurrent callers never recover one job twice.
    """
    config = get_config()
    cutoff = timezone.now() - timedelta(seconds=config["JOB_TIMEOUT"])
    recovered = _recover_untaken(cutoff, job_ids)
    stale = GenerationJob.objects.filter(state=State.RUNNING, heartbeat__lt=cutoff)
    if job_ids is not None:
        stale = stale.filter(pk__in=job_ids)
    if not stale.exists():  # the common case: one indexed read, no transaction
        return recovered
    requeue: list[GenerationJob] = []
    with transaction.atomic():
        for job in stale.select_for_update(skip_locked=True):
            recovered += 1
            lost = (
                f"Its worker stopped reporting for over {config['JOB_TIMEOUT']} s while "
                f"{job.get_stage_display().lower()} (killed, out of memory or hung?)"
            )
            if end_lost_attempt(job, lost=lost, check="the workers' logs and memory"):
                requeue.append(job)
            logger.warning("job %s lost its worker: now %s", job.pk, job.state)
        for job in requeue:  # at the turn it had: the front of the queue, as a rule
            enqueue(job)
    return recovered


def end_lost_attempt(job: GenerationJob, *, lost: str, check: str) -> bool:
    """End the running `job`'s attempt, which was lost (`lost` says how, for its error): the job
    is to be queued again as its next attempt, or, after JOB_MAX_ATTEMPTS, failed (`check`: what
    to look at), or cancelled if that was asked. Call with its row locked; saves it and closes
    its task row. Whether it is to be queued again: the caller hands it to the queue
    (`backend.enqueue`)."""
    if job.cancel_requested:
        job.state, job.error = State.CANCELLED, "Cancelled (its worker had stopped)."
    elif job.attempts < get_config()["JOB_MAX_ATTEMPTS"]:
        job.state = State.QUEUED
        job.error = f"{lost}; it was queued again as attempt {job.attempts + 1}."
    else:
        job.state = State.FAILED
        job.error = (
            f"{lost}, {job.attempts} times; nothing was stored. Retry it, and check {check}."
        )
    job.stage = Stage.WAITING if job.state == State.QUEUED else Stage.FINISHED
    job.finished = None if job.state == State.QUEUED else timezone.now()
    if job.state == State.QUEUED:
        job.done = 0  # the next attempt starts over (its batches come from the cache)
    job.save(update_fields=["state", "stage", "error", "finished", "done"])
    fail_task_row(job.task_id)
    return job.state == State.QUEUED


def _recover_untaken(cutoff, job_ids: list[Any] | None) -> int:
    """Queued jobs whose task no worker will run: a worker took it (the task row RUNNING)
    and died before marking the job running, or the task ended (FAILED: an error before the
    job was marked running, a database locked or a connection dropped) with the job still
    queued. No worker takes such a task again, so the job stayed queued for good. Taking a
    task and marking its job is a few milliseconds: a row RUNNING since before `cutoff`
    (JOB_TIMEOUT) is a dead worker's. Their tasks are failed and the jobs handed to the queue
    again, at their turn. Returns how many."""
    if not database_queue():
        return 0
    from django_tasks_db.models import DBTaskResult

    queued = GenerationJob.objects.filter(state=State.QUEUED)
    if job_ids is not None:
        queued = queued.filter(pk__in=job_ids)
    tasks = [t for t in queued.values_list("task_id", flat=True) if is_task_row(t)]
    lost = DBTaskResult.objects.filter(id__in=tasks).filter(
        Q(status="RUNNING", started_at__lt=cutoff) | Q(status__in=["FAILED", "SUCCESSFUL"])
    )
    taken = [str(pk) for pk in lost.values_list("id", flat=True)]
    if not taken:  # the common case (no queued job: no query of the task rows at all)
        return 0
    recovered = 0
    with transaction.atomic():
        for job in queued.filter(task_id__in=taken).select_for_update(skip_locked=True):
            fail_task_row(job.task_id)
            enqueue(job)
            recovered += 1
            logger.warning(
                "job %s: its task ended or its worker died before running it; queued again", job.pk
            )
    return recovered


# How long after a heartbeat could turn stale the watchdog looks: the check must find it stale.
WATCHDOG_MARGIN = timedelta(seconds=1)


def schedule_watchdog(job: GenerationJob) -> None:
    """Ask the task backend to look at this job again when its last heartbeat will be
    JOB_TIMEOUT old: if the worker running it died meanwhile, another worker picks the check
    up and recovers the job then, within JOB_TIMEOUT (and WATCHDOG_MARGIN) of its worker's last
    beat. The check used to run JOB_TIMEOUT after it was scheduled: the last beat was then
    younger than the timeout as a rule, and the next check, as late again, recovered the job
    up to twice the timeout after its worker died."""
    from codeframe.tasks import check_job

    backend = check_job.get_backend()
    if not backend.supports_defer:  # the immediate backend: the job runs in this call anyway
        return
    now = timezone.now()
    beat = job.heartbeat or now
    due = beat + timedelta(seconds=get_config()["JOB_TIMEOUT"]) + WATCHDOG_MARGIN
    # A beat stale already (a recovery holding the row) is looked at again soon.
    check_job.using(run_after=max(due, now + WATCHDOG_MARGIN)).enqueue(str(job.pk))


def watch_job(job_id: Any) -> None:
    """The watchdog: recover the job if its worker died, else look again when its last
    heartbeat will be stale."""
    recover_stale_jobs(job_ids=[job_id])
    job = GenerationJob.objects.filter(pk=job_id).only("state", "heartbeat").first()
    if job is not None and job.state == State.RUNNING:
        schedule_watchdog(job)
