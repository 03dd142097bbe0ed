"""Background generation jobs: queue, run (on a worker or in the foreground), cancel, retry, and
recover the jobs whose worker died.

A job runs the generation's steps in order, each reported on its row:
prepare (read the answers) -> embed (through `embeddings.services`, in batches, one progress
write per batch) -> generate (`generate_codeframe(texts, vectors=..., embed=...)`, pure; `embed`
embeds label phrases through the cache) -> store (one transaction, in which the job is also
marked done: both land or neither).

Workers die (kill -9, out of memory, a machine gone). A running job's `heartbeat` moves with
every progress write; one older than CODEFRAME["JOB_TIMEOUT"] has lost its worker, and
`recover_stale_jobs` queues it again (up to JOB_MAX_ATTEMPTS runs) or marks it failed. Batches
already embedded are in the cache, so a retry pays only for the rest. An attempt that comes back
to life after it was superseded can no longer write: every progress write and the final store
are conditional on the attempt number.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from codeframe import selectors
from codeframe.conf import MAX_CODES_ASKED, get_config
from codeframe.exceptions import (
    CodeframeError,
    ConflictingOptions,
    EditsNotCarriedBack,
    InvalidEdit,
    InvalidOptions,
    JobCancelled,
    JobStateError,
    NoResponses,
    NotApproved,
    NotAWaveFrame,
    QueueFull,
    TooManyResponses,
)
from codeframe.generation import generate_codeframe
from codeframe.importers import ImportedRow
from codeframe.models import Codeframe, GenerationJob, Project, Question
from codeframe.services import (
    PhraseEmbedder,
    embed_answers,
    import_texts,
    prepare_generation,
    store_codeframe,
)

logger = logging.getLogger(__name__)

State = GenerationJob.State
Stage = GenerationJob.Stage


@dataclass(frozen=True)
class Progress:
    """What a foreground caller (a command's progress bar) is told after each step."""

    stage: str
    done: int
    total: int


ProgressCallback = Callable[[Progress], None]


# --- Queueing -------------------------------------------------------------------------------


def check_options(*, n_codes: int | None = None, max_codes: int | None = None, **_: Any) -> None:
    """Raise InvalidOptions (or ConflictingOptions) for generation options that cannot be
    used; before anything is imported or queued."""
    for name, value in (("n_codes", n_codes), ("max_codes", max_codes)):
        if value is not None and not 1 <= value <= MAX_CODES_ASKED:
            raise InvalidOptions(
                f"{name} must be a whole number from 1 to {MAX_CODES_ASKED}, not {value}."
            )
    if n_codes is not None and max_codes is not None and n_codes > max_codes:
        raise ConflictingOptions(
            f"{n_codes} codes is more than the most asked for ({max_codes}): give the number "
            "of codes or the most, or a number within the most."
        )


def create_job(
    *,
    question: Question,
    user: Any = None,
    n_codes: int | None = None,
    max_codes: int | None = None,
    random_state: int = 0,
) -> GenerationJob:
    """A queued job row for `question`, not yet handed to a worker (see `queue_generation`).

    Raises NoResponses / TooManyResponses when the question cannot be generated at all,
    InvalidOptions when `n_codes` or `max_codes` is outside 1..MAX_CODES_ASKED, ConflictingOptions
    when `n_codes` is above `max_codes` (generation would ignore the cap), and QueueFull when
    `user` already has CODEFRAME["MAX_QUEUED_GENERATIONS"] active jobs.
    """
    check_options(n_codes=n_codes, max_codes=max_codes)
    return _create(
        question=question,
        user=user,
        kind=GenerationJob.Kind.GENERATE,
        params=_generation_params(n_codes=n_codes, max_codes=max_codes, random_state=random_state),
    )


def _generation_params(
    *, n_codes: int | None = None, max_codes: int | None = None, random_state: int = 0
) -> dict[str, Any]:
    """A generation job's `params`, defaults filled in as `create_job` fills them: what two
    requests for the same generation are compared by (`_active_twin`)."""
    return {"n_codes": n_codes, "max_codes": max_codes, "random_state": random_state}


def _create(*, question: Question, user: Any, kind: str, params: dict) -> GenerationJob:
    count = question.responses.count()
    _check_limits(question=question, count=count)
    if user is not None and getattr(user, "pk", None) is not None:
        cap = get_config()["MAX_QUEUED_GENERATIONS"]
        active = GenerationJob.objects.filter(
            requested_by=user, state__in=GenerationJob.ACTIVE_STATES
        ).count()
        if active >= cap:
            raise QueueFull(
                f"You already have {active} generations queued or running (the limit is {cap}); "
                "wait for one to finish or cancel one."
            )
    # `_turn` locks the queue to the end of a transaction: the commands (`console`) call this
    # with none open, where PostgreSQL refused the lock (TransactionManagementError).
    with transaction.atomic():
        return GenerationJob.objects.create(
            question=question,
            requested_by=user if getattr(user, "pk", None) is not None else None,
            kind=kind,
            params=params,
            total=count,
            turn=_turn(question),
        )


def _turn(question: Question) -> int:
    """A new job's turn in the queue, so that projects take turns (start-time fair queuing):
    the turn being served (the highest of a job that has started), or the one after its
    project's last turn if that is later. A project's jobs queued at once take one turn each,
    and another project's next job comes in at the turn being served: one client's ten waves
    hold another client's job behind one of them, not all ten, and a client with a backlog
    keeps its place against clients queuing one job at a time (its next turn comes before
    theirs). Only jobs that started or are still waiting hold a turn: one cancelled before it
    started gives its turn up. Workers take the lowest turn first (`_take_turns`), the oldest
    job of a turn first. Call in the transaction that creates the job: the queue lock held
    to its end keeps two jobs of one project from taking the same turn."""
    _lock_queue(question=question)
    started = GenerationJob.objects.filter(started__isnull=False)
    served = started.aggregate(turn=Max("turn"))["turn"] or 0
    own = GenerationJob.objects.filter(question__project_id=question.project_id).filter(
        Q(started__isnull=False) | Q(state__in=GenerationJob.ACTIVE_STATES)
    )
    last = own.aggregate(turn=Max("turn"))["turn"]
    return served if last is None else max(served, last + 1)


# The PostgreSQL advisory lock key of the queue's turns (any constant of this app's own).
_QUEUE_LOCK = 0x636F6465  # "code"


def _lock_queue(*, question: Question | None = None) -> None:
    """Serialises the turns' bookkeeping (`_turn`, `_take_turns`) to the end of the current
    transaction: concurrent requests updating task priorities in differing orders deadlocked.
    PostgreSQL takes a transaction-level advisory lock; SQLite writes one at a time anyway.
    Only the database queue has turns (the immediate backend runs a job in the request's
    transaction, which must not hold the lock).

    With `question` (a job of it is about to be made), its row is locked first: a request that
    locked the question and then queues (a wave: `start_wave`, `_queue_wave_job`) takes them in
    that order, and the new job's foreign key would wait for the question under the queue lock,
    a deadlock. No key update: rows that refer to the question (answers, jobs) are not held
    up."""
    if connection.vendor == "postgresql" and _database_queue():
        if question is not None:
            Question.objects.select_for_update(no_key=True).filter(pk=question.pk).exists()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_QUEUE_LOCK])


def _database_queue() -> bool:
    """Whether jobs go to the database queue (`db_worker`), the only one with priorities."""
    from django_tasks_db.backend import DatabaseBackend

    from codeframe.tasks import run_generation

    return isinstance(run_generation.get_backend(), DatabaseBackend)


def _check_limits(*, question: Question, count: int) -> None:
    """Refuse early what the worker would refuse anyway (no answers, too many)."""
    if count == 0:
        raise NoResponses(f"“{question}” has no answers yet; import some first.")
    limit = get_config()["MAX_RESPONSES"]
    if count > limit:
        raise TooManyResponses(f"{count:,} answers is more than the limit of {limit:,}.")


def queue_generation(*, question: Question, user: Any = None, **params: Any) -> GenerationJob:
    """Create a job and hand it to the task backend; returns the job as it stands after that.

    With the database backend this returns at once (a `db_worker` picks the task up); with the
    immediate backend the job has already run. A generation of the question with the same
    options already queued or running is returned instead of a second one: a double click, two
    tabs or a client's retried POST made as many jobs and identical codeframes. Raises as
    `create_job`.
    """
    with transaction.atomic():
        # The question first, as every path that queues a job of it locks it (`_lock_queue`);
        # no key update, so rows that refer to it (a worker storing a codeframe) are not held.
        Question.objects.select_for_update(no_key=True).filter(pk=question.pk).exists()
        if (twin := _active_twin(question, params)) is not None:
            return twin
        job = create_job(question=question, user=user, **params)
        _enqueue(job)
    job.refresh_from_db()
    return job


def _active_twin(question: Question, params: dict[str, Any]) -> GenerationJob | None:
    """A queued or running generation of `question` with the options `params` asks for, not
    being cancelled (Cancel, then Generate again, gave back the job on its way out)."""
    wanted = _generation_params(**params)
    active = GenerationJob.objects.filter(
        question=question,
        kind=GenerationJob.Kind.GENERATE,
        state__in=GenerationJob.ACTIVE_STATES,
        cancel_requested=False,
    ).order_by("created")
    return next((job for job in active if job.params == wanted), None)


def _enqueue(job: GenerationJob) -> None:
    """Hand the job to the task backend. Call inside the transaction that made the job: a
    worker never sees a task whose job is not there."""
    from codeframe.tasks import run_generation

    result = run_generation.enqueue(str(job.pk))
    GenerationJob.objects.filter(pk=job.pk).update(task_id=str(result.id))
    _take_turns()


def _take_turns() -> None:
    """Sets the database queue's task priorities from the queued jobs' turns (`_turn`): minus
    the rank of a job's turn among the queued ones (0 for the lowest, down to django-tasks'
    lowest priority), so the workers, which take the highest priority first and then the oldest
    task, serve the turns in order. Ranks, not distances: a job re-queued at the turn it had
    long ago would put the others over 100 turns past it, one priority, first come, first
    served; only over 100 distinct turns queued share the lowest. Called whenever a job joins
    or leaves the queue. Other backends keep their own order."""
    if not _database_queue():
        return
    from django_tasks.base import TASK_MIN_PRIORITY
    from django_tasks_db.models import DBTaskResult

    _lock_queue()
    queued = GenerationJob.objects.filter(state=State.QUEUED).values_list("task_id", "turn")
    turns = {task_id: turn for task_id, turn in queued if _is_task_row(task_id)}
    # Only tasks still waiting for a worker: a queued job whose task was taken by a worker that
    # died before claiming it would hold the lowest turn until it is recovered.
    ready = DBTaskResult.objects.filter(id__in=list(turns), status="READY")
    tasks = [(str(task_id), turns[str(task_id)]) for task_id in ready.values_list("id", flat=True)]
    if not tasks:
        return
    rank = {turn: i for i, turn in enumerate(sorted({turn for _, turn in tasks}))}
    by_priority: dict[int, list[str]] = {}
    for task_id, turn in tasks:
        by_priority.setdefault(max(-rank[turn], TASK_MIN_PRIORITY), []).append(task_id)
    for priority, ids in by_priority.items():
        DBTaskResult.objects.filter(id__in=ids, status="READY").exclude(priority=priority).update(
            priority=priority
        )


def queue_generation_for_texts(
    *,
    texts: list[str],
    survey: str,
    question_text: str = "",
    project: Project | None = None,
    respondent_ids: list[str] | None = None,
    user: Any = None,
    **params: Any,
) -> GenerationJob:
    """Store `texts` (with `respondent_ids`, default 1, 2, ...) as a new question of `project`
    and queue its generation, in one transaction: a request cut short leaves neither a
    question without its job nor a job without its answers."""
    check_options(**params)  # before the import: a typo costs no import
    with transaction.atomic():
        question = import_texts(
            texts=texts,
            project=project,
            survey=survey,
            question_text=question_text,
            respondent_ids=respondent_ids,
        )
        return queue_generation(question=question, user=user, **params)


def queue_wave(
    *, codeframe: Codeframe, rows: Iterable[ImportedRow], wave: str, user: Any = None
) -> GenerationJob:
    """Import `rows` as the tracker's next wave and queue its coding with the approved
    `codeframe`, in one transaction; returns the job (its question is the new wave). Raises
    NotApproved, InvalidEdit (wave label), ImportFailed, TooManyResponses, QueueFull."""
    from codeframe.waves import start_wave

    with transaction.atomic():
        question = start_wave(codeframe=codeframe, rows=rows, wave=wave)
        job = _create(
            question=question,
            user=user,
            kind=GenerationJob.Kind.WAVE,
            params={"codeframe": codeframe.pk, "wave": question.wave_label},
        )
        _enqueue(job)
    job.refresh_from_db()
    return job


def queue_recode(
    *, codeframe: Codeframe, user: Any = None, discard_edits: bool = False
) -> GenerationJob:
    """Queue coding the wave of `codeframe` (a wave's coded frame) again with the approved frame
    it was coded with, as that frame is now (`waves.recode_with`): after edits were carried
    back, or a wave was coded before a fix. The new codeframe stands for the wave in the
    tracker; `codeframe` and its review are kept. Raises as `recode_with`, JobStateError (the
    wave is being coded already), QueueFull, and EditsNotCarriedBack when `codeframe` has frame
    edits not carried back (the tracker would lose them) unless `discard_edits`."""
    from codeframe.carryback import CARRY_BASE, preview_carry_back  # waves imports this module
    from codeframe.waves import recode_with

    approved = recode_with(codeframe=codeframe)
    # A frame coded before its start frame was kept (no CARRY_BASE) cannot tell its own edits
    # from the approved frame's since (a fix made there would read as a wave edit undoing it).
    if not discard_edits and CARRY_BASE in codeframe.params:
        pending = preview_carry_back(codeframe=codeframe)
        if pending.changes or pending.conflicts:
            edits = pending.describe() if pending.changes else "conflicting edits"
            raise EditsNotCarriedBack(
                f"Codeframe #{codeframe.pk} has edits not carried back ({edits}): coded again "
                f"from approved codeframe #{approved.pk}, the wave's new codeframe (which the "
                "tracker then counts) would lack them. Carry them back first, so they code the "
                "wave; or code it again discarding them (they stay in this codeframe only)."
            )
    params = {"codeframe": None, "wave": "", "recode": codeframe.pk}
    return _queue_wave_job(question_id=codeframe.question_id, params=params, user=user)


def retry_job(*, job: GenerationJob, user: Any = None) -> GenerationJob:
    """A new job with the failed or cancelled `job`'s question and parameters. A wave job is
    checked again as when it was queued (`_queue_wave_job`): the wave may have been coded, or
    coded again, since."""
    with transaction.atomic():
        # Under the job's lock: a second click, or another analyst, finds the first retry
        # (each made another codeframe of the same answers).
        job = GenerationJob.objects.select_for_update().get(pk=job.pk)
        if job.state not in (State.FAILED, State.CANCELLED):
            raise JobStateError("Only a failed or cancelled job can be retried.")
        user = user or job.requested_by
        if job.kind == GenerationJob.Kind.WAVE:  # its own checks: one coding of a wave at most
            return _queue_wave_job(question_id=job.question_id, params=job.params, user=user)
        if (later := later_job(job)) is not None:
            raise JobStateError(
                f"This job was retried already, or its question queued again since: job "
                f"{later.pk} is {later.get_state_display().lower()}."
            )
        return queue_generation(question=job.question, user=user, **job.params)


def later_job(job: GenerationJob) -> GenerationJob | None:
    """The first job of `job`'s kind queued on its question after it (its retry, say), if any:
    a failed or cancelled generation with one is not retried again."""
    return (
        GenerationJob.objects.filter(
            question_id=job.question_id, kind=job.kind, created__gt=job.created
        )
        .order_by("created", "pk")
        .first()
    )


def _queue_wave_job(*, question_id: int, params: dict, user: Any) -> GenerationJob:
    """Queue a wave job on an imported wave, under its question's lock: refused while a wave
    job of it is active, and unless `_wave_job_frame` still accepts it."""
    with transaction.atomic():
        question = Question.objects.select_for_update().get(pk=question_id)
        coding = question.jobs.filter(kind=GenerationJob.Kind.WAVE)
        if coding.filter(state__in=GenerationJob.ACTIVE_STATES).exists():
            raise JobStateError(f"Wave “{question.wave_label}” is being coded already.")
        approved = _wave_job_frame(question, params)
        params = {**params, "codeframe": approved.pk, "wave": question.wave_label}
        job = _create(question=question, user=user, kind=GenerationJob.Kind.WAVE, params=params)
        _enqueue(job)
    job.refresh_from_db()
    return job


def _wave_job_frame(question: Question, params: dict) -> Codeframe:
    """The approved frame a wave job of `question` with `params` codes with, if it may still
    run: a re-code (`params["recode"]`) as `waves.recode_with` decides now; a first coding
    only while the wave is not coded. Raises NotAWaveFrame, NotApproved, InvalidEdit,
    JobStateError."""
    from codeframe.waves import recode_with, tracker_series, tracker_wave

    if params.get("recode") is not None:
        stale = Codeframe.objects.filter(pk=params["recode"], question=question).first()
        if stale is None:
            raise NotAWaveFrame(
                f"Codeframe #{params['recode']}, which this job was to code again, was "
                "deleted: code the wave again from the codeframe the tracker uses for it."
            )
        return recode_with(codeframe=stale)
    wave = tracker_wave(question=question)
    if wave.codeframe is not None:
        raise JobStateError(
            f"Wave “{wave.label}” is coded already (codeframe #{wave.codeframe.pk}): code it "
            "again from that codeframe's page."
        )
    # Only a frame of the wave's project: a wave moved to another project in the admin must
    # not copy its old client's frame.
    approved = selectors.frame_in_project(
        codeframe_id=params["codeframe"], project_id=question.project_id
    )
    if approved is None:
        raise NotApproved(
            f"The approved codeframe #{params['codeframe']} this wave was to be coded with "
            "was deleted (or is in another project now). Delete this wave and code it again "
            "from an approved codeframe."
        )
    series = tracker_series(question=question)
    if series is not None and approved.pk not in series.frames:
        # Two frames of the first wave each queued a wave before either was coded: the one
        # coded first started the numbering, and this frame's numbers are not it.
        raise InvalidEdit(
            f"This tracker's waves are coded with the numbers of codeframe #{series.start}, "
            f"not #{approved.pk}'s: delete this wave and code it again from #{series.start}."
        )
    if not approved.approved:
        raise NotApproved(
            f"Codeframe #{approved.pk}'s approval was withdrawn after this wave was queued. "
            "Approve it again and retry this job, or delete the wave."
        )
    return approved


def cancel_job(*, job: GenerationJob) -> GenerationJob:
    """Cancel a queued job at once; ask a running one to stop at its next progress report (it
    stores nothing). Raises JobStateError for a finished job."""
    with transaction.atomic():
        locked = GenerationJob.objects.select_for_update().get(pk=job.pk)
        if locked.state == State.QUEUED:
            locked.state, locked.stage = State.CANCELLED, Stage.FINISHED
            locked.finished = timezone.now()
            locked.error = "Cancelled before it started."
            locked.save(update_fields=["state", "stage", "finished", "error"])
            _take_turns()
        elif locked.state == State.RUNNING:
            locked.cancel_requested = True
            locked.save(update_fields=["cancel_requested"])
        else:
            raise JobStateError(f"This generation is already {locked.get_state_display().lower()}.")
    return locked


# --- Running --------------------------------------------------------------------------------


def run_job(
    *, job_id: Any, on_progress: ProgressCallback | None = None, keep_alive: bool = False
) -> GenerationJob | None:
    """Run the job `job_id` to its end in this process and return it (done, failed or
    cancelled). What a worker's task calls (with `keep_alive`), and what `generate_codeframe`
    runs in the foreground. A job that is not queued (cancelled, taken by another attempt) is
    left as is. None when the job is gone: its question was deleted (the job row goes with
    it), before the job ran or while it ran; nothing is stored then.

    `keep_alive` beats the heartbeat from a thread every JOB_TIMEOUT / 4 seconds besides the
    progress reports, so that a long step without reports (clustering 50,000 answers, waiting
    for vectors a dead worker had claimed) is not taken for a dead worker.
    """
    attempt = _claim(job_id)
    job = GenerationJob.objects.select_related("question").filter(pk=job_id).first()
    if job is None:
        logger.info("job %s no longer exists: nothing to run", job_id)
        return None
    if attempt is None:
        logger.info("job %s is %s: nothing to run", job_id, job.state)
        return job
    _schedule_watchdog(job)
    try:
        with _KeepAlive(job.pk, attempt) if keep_alive else contextlib.nullcontext():
            _run(job, attempt=attempt, on_progress=on_progress)
    except JobCancelled:
        _finish(job, attempt=attempt, state=State.CANCELLED, error="Cancelled while running.")
    except CodeframeError as exc:
        _finish(job, attempt=attempt, state=State.FAILED, error=str(exc))
    except Exception as exc:
        # Any other error is a bug or an outage: the job must still end (failed, with a message
        # a person can act on) instead of staying "running"; the traceback goes to the log.
        logger.exception("job %s failed", job_id)
        _finish(
            job,
            attempt=attempt,
            state=State.FAILED,
            error=(
                f"The generation stopped on an unexpected error ({type(exc).__name__}); nothing "
                "was stored. Retry it; if it fails again, the worker's log has the details."
            ),
        )
    return GenerationJob.objects.filter(pk=job.pk).first()


class _KeepAlive:
    """A thread that moves the heartbeat of the job's attempt while the process lives and the
    job moves: once its progress (stage, done) has not changed for JOB_STALL_TIMEOUT seconds,
    the worker is taken for hung (a call that never returns, a deadlock) and the beats stop,
    so the job is recovered like a dead worker's. The hung attempt can no longer store: its
    attempt number no longer owns the job."""

    def __init__(self, job_id: Any, attempt: int) -> None:
        self.job_id, self.attempt = job_id, attempt
        config = get_config()
        self.interval = max(0.5, config["JOB_TIMEOUT"] / 4)
        self.stall_timeout = config["JOB_STALL_TIMEOUT"]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="job-heartbeat", daemon=True)

    def __enter__(self) -> None:
        self._thread.start()

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _beat(self) -> None:
        from django.db import connection

        seen, moved_at = None, time.monotonic()
        try:
            while not self._stop.wait(self.interval):
                try:
                    progress = self._progress()
                except Exception:
                    # A missed beat risks only an early retry, which the attempt check makes
                    # harmless; the next one goes on, on a new connection (a dropped one, a
                    # database failover). One error used to end the beats for the job's rest,
                    # and a live worker's job was taken for dead and run again.
                    logger.exception("job %s: heartbeat failed; trying again", self.job_id)
                    connection.close()
                    continue
                if progress is None:  # finished, cancelled or taken by another attempt
                    return
                if progress != seen:
                    seen, moved_at = progress, time.monotonic()
                elif time.monotonic() - moved_at > self.stall_timeout:
                    logger.error(
                        "job %s attempt %d: no progress for %d s at %s %d; heartbeat stopped "
                        "so the job is recovered",
                        self.job_id,
                        self.attempt,
                        self.stall_timeout,
                        *progress,
                    )
                    return
                try:
                    self._mine().update(heartbeat=timezone.now())
                except Exception:
                    logger.exception("job %s: heartbeat failed; trying again", self.job_id)
                    connection.close()
        finally:
            connection.close()  # this thread's own connection

    def _mine(self):
        return GenerationJob.objects.filter(
            pk=self.job_id, state=State.RUNNING, attempts=self.attempt
        )

    def _progress(self) -> tuple[str, int] | None:
        """The attempt's (stage, done), or None when it no longer runs the job."""
        return self._mine().values_list("stage", "done").first()


def _claim(job_id: Any) -> int | None:
    """Mark the job running for a new attempt; its number, or None if it is not queued."""
    with transaction.atomic():
        job = GenerationJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.state != State.QUEUED:
            return None
        now = timezone.now()
        job.state, job.stage = State.RUNNING, Stage.PREPARING
        job.attempts += 1
        job.started = job.started or now
        job.heartbeat = now
        job.save(update_fields=["state", "stage", "attempts", "started", "heartbeat"])
        _take_turns()  # the queue's next turn may be served now
        return job.attempts


def _run(job: GenerationJob, *, attempt: int, on_progress: ProgressCallback | None) -> None:
    if job.kind == GenerationJob.Kind.WAVE:
        _run_wave(job, attempt=attempt, on_progress=on_progress)
        return
    started = time.perf_counter()
    params = job.params or {}
    ids, texts = prepare_generation(question=job.question)

    def report(stage: str, done: int, **fields: Any) -> None:
        _report(job, attempt=attempt, stage=stage, done=done, total=len(texts), **fields)
        if on_progress is not None:
            on_progress(Progress(stage=stage, done=done, total=len(texts)))

    report(Stage.EMBEDDING, 0)
    vectors, embedding = _embed(texts, report=report)
    report(Stage.CLUSTERING, len(texts))
    phrases = PhraseEmbedder()
    draft = generate_codeframe(
        texts,
        vectors=vectors,
        embed=phrases,
        n_codes=params.get("n_codes"),
        max_codes=params.get("max_codes"),
        random_state=params.get("random_state", 0),
    )
    embedding["label_phrase_lookups"] = phrases.lookups
    report(Stage.STORING, len(texts))

    def mark_done(codeframe: Codeframe) -> None:
        # Inside the store's transaction: the codeframe and "done" land together, and only for
        # the current, uncancelled attempt.
        _finish(job, attempt=attempt, state=State.DONE, codeframe=codeframe)

    store_codeframe(
        question=job.question,
        response_ids=ids,
        draft=draft,
        embedding=embedding,
        started=started,
        before_commit=mark_done,
    )
    if on_progress is not None:
        on_progress(Progress(stage=Stage.FINISHED, done=len(texts), total=len(texts)))


def _run_wave(job: GenerationJob, *, attempt: int, on_progress: ProgressCallback | None) -> None:
    """Code a wave's answers with the approved frame (`waves.code_wave_question`); the job is
    marked done in the same transaction as the wave's codeframe."""
    from codeframe.waves import code_wave_question

    # Checked again when it runs: the frame may have been deleted or its approval withdrawn,
    # and the wave coded or coded again, since it was queued.
    codeframe = _wave_job_frame(job.question, job.params)
    total = job.total

    def embed(texts: list[str]) -> tuple[np.ndarray, dict]:
        # The wave's answers and the frame's examples, in batches, one progress write each;
        # `done` of `total` counts those texts while embedding.
        nonlocal total
        total = len(texts)

        def report(stage: str, done: int, **fields: Any) -> None:
            _report(job, attempt=attempt, stage=stage, done=done, total=total, **fields)
            if on_progress is not None:
                on_progress(Progress(stage=stage, done=done, total=total))

        report(Stage.EMBEDDING, 0)
        embedded = _embed(texts, report=report)
        report(Stage.CODING, total)
        return embedded

    def mark_done(stored: Codeframe) -> None:
        _finish(job, attempt=attempt, state=State.DONE, codeframe=stored)

    stored = code_wave_question(
        question=job.question,
        codeframe=codeframe,
        embed=embed,
        # Again where it stores, under the tracker's lock: the embedding takes minutes, and
        # the wave may have been coded (again), or the frame changed, meanwhile.
        before_store=lambda: _wave_job_frame(job.question, job.params),
        before_commit=mark_done,
        recoding=_recoding(job),
    )
    GenerationJob.objects.filter(pk=job.pk).update(
        cache_hits=int(stored.cache_hits), cache_misses=int(stored.cache_misses)
    )
    if on_progress is not None:
        on_progress(Progress(stage=Stage.FINISHED, done=total, total=total))


def _recoding(job: GenerationJob) -> Codeframe | None:
    """The wave's codeframe a re-code job codes again (checked by `_wave_job_frame`), or None."""
    if job.params.get("recode") is None:
        return None
    return Codeframe.objects.get(pk=job.params["recode"], question=job.question)


def _embed(texts: list[str], *, report: Callable[..., None]) -> tuple[np.ndarray, dict]:
    """`services.embed_answers` in JOB_EMBED_BATCH batches, reporting progress after each."""

    def on_batch(done: int, hits: int, misses: int) -> None:
        report(Stage.EMBEDDING, done, cache_hits=hits, cache_misses=misses)

    return embed_answers(texts, batch=get_config()["JOB_EMBED_BATCH"], on_batch=on_batch)


def _report(job: GenerationJob, *, attempt: int, stage: str, done: int, total: int, **fields):
    """One write: progress and heartbeat, only while this attempt owns the job and nobody asked
    it to stop; otherwise raise JobCancelled (the caller stops, storing nothing)."""
    updated = GenerationJob.objects.filter(
        pk=job.pk, state=State.RUNNING, attempts=attempt, cancel_requested=False
    ).update(stage=stage, done=done, total=total, heartbeat=timezone.now(), **fields)
    if not updated:
        raise JobCancelled(f"job {job.pk} attempt {attempt} was cancelled or superseded")


def _why_gone(job: GenerationJob) -> str:
    """Why a job row is gone, for the log: with its question, or by itself (the admin)."""
    if Question.objects.filter(pk=job.question_id).exists():
        return "the job alone, in the admin"
    return "with its question"


def _finish(
    job: GenerationJob,
    *,
    attempt: int,
    state: str,
    error: str = "",
    codeframe: Codeframe | None = None,
) -> None:
    """End this attempt of the job. For DONE, refuse (JobCancelled) if the attempt lost the job
    meanwhile, so the surrounding store rolls back. A cancelled or superseded attempt leaves the
    row to whoever owns it now; a job deleted with its question has nothing left to end."""
    with transaction.atomic():
        locked = GenerationJob.objects.select_for_update().filter(pk=job.pk).first()
        if locked is None:
            gone = _why_gone(job)
            if state == State.DONE:
                raise JobCancelled(f"job {job.pk} was deleted ({gone}) before storing")
            logger.info("job %s attempt %d: it was deleted (%s)", job.pk, attempt, gone)
            return
        owns = locked.state == State.RUNNING and locked.attempts == attempt
        if state == State.DONE and (not owns or locked.cancel_requested):
            raise JobCancelled(f"job {job.pk} attempt {attempt} lost the job before storing")
        if not owns:
            return
        if locked.cancel_requested and state != State.DONE:
            state, error = State.CANCELLED, error or "Cancelled while running."
        locked.state, locked.stage = state, Stage.FINISHED
        locked.error = error
        locked.codeframe = codeframe
        locked.finished = locked.heartbeat = timezone.now()
        if state == State.DONE:
            locked.done = locked.total
        locked.save(
            update_fields=["state", "stage", "error", "codeframe", "finished", "heartbeat", "done"]
        )
    logger.info("job %s attempt %d: %s%s", job.pk, attempt, state, f" ({error})" if error else "")


# --- Workers that die -----------------------------------------------------------------------


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
            if job.cancel_requested:
                job.state, job.error = State.CANCELLED, "Cancelled (its worker had stopped)."
            elif job.attempts < config["JOB_MAX_ATTEMPTS"]:
                job.state = State.QUEUED
                job.error = f"{lost}; retrying (attempt {job.attempts + 1})."
                requeue.append(job)
            else:
                job.state = State.FAILED
                job.error = (
                    f"{lost}, {job.attempts} times; nothing was stored. Retry it, and check the "
                    "workers' logs and memory."
                )
            job.stage = Stage.WAITING if job.state == State.QUEUED else Stage.FINISHED
            job.finished = None if job.state == State.QUEUED else timezone.now()
            job.save(update_fields=["state", "stage", "error", "finished"])
            _fail_task_row(job.task_id)
            logger.warning("job %s lost its worker: now %s", job.pk, job.state)
        for job in requeue:  # at the turn it had: the front of the queue, as a rule
            _enqueue(job)
    return recovered


def _recover_untaken(cutoff, job_ids: list[Any] | None) -> int:
    """Queued jobs whose task no worker will run: a worker took it (the task row RUNNING)
    and died before marking the job running, or the task ended (FAILED: an error before the
    job was marked running, a database locked or a connection dropped) with the job still
    queued. No worker takes such a task again, so the job stayed queued for good. Taking a
    task and marking its job is a few milliseconds: a row RUNNING since before `cutoff`
    (JOB_TIMEOUT) is a dead worker's. Their tasks are failed and the jobs handed to the queue
    again, at their turn. Returns how many."""
    if not _database_queue():
        return 0
    from django_tasks_db.models import DBTaskResult

    queued = GenerationJob.objects.filter(state=State.QUEUED)
    if job_ids is not None:
        queued = queued.filter(pk__in=job_ids)
    tasks = [t for t in queued.values_list("task_id", flat=True) if _is_task_row(t)]
    lost = DBTaskResult.objects.filter(id__in=tasks).filter(
        Q(status="RUNNING", started_at__lt=cutoff) | Q(status__in=["FAILED", "SUCCESSFUL"])
    )
    taken = [str(pk) for pk in lost.values_list("id", flat=True)]
    if not taken:  # the common case (no queued job: no query of the task rows at all)
        return 0
    recovered = 0
    with transaction.atomic():
        for job in queued.filter(task_id__in=taken).select_for_update(skip_locked=True):
            _fail_task_row(job.task_id)
            _enqueue(job)
            recovered += 1
            logger.warning(
                "job %s: its task ended or its worker died before running it; queued again", job.pk
            )
    return recovered


def _is_task_row(task_id: str) -> bool:
    """Whether `task_id` can be the database backend's task row (the immediate backend's ids
    are not UUIDs; a job not handed over yet has none)."""
    try:
        uuid.UUID(task_id)
    except ValueError:
        return False
    return True


def _fail_task_row(task_id: str) -> None:
    """The dead worker's task row says RUNNING for ever: close it too, so the task admin and
    `prune_db_task_results` see it as failed. Only the database backend keeps such rows."""
    from django.apps import apps

    if not apps.is_installed("django_tasks_db") or not _is_task_row(task_id):
        return
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.filter(id=task_id, status="RUNNING").update(
        status="FAILED", finished_at=timezone.now()
    )


def _schedule_watchdog(job: GenerationJob) -> None:
    """Ask the task backend to look at this job again once its timeout has passed: if the
    worker running it dies, another worker picks the check up and recovers the job."""
    from codeframe.tasks import check_job

    backend = check_job.get_backend()
    if not backend.supports_defer:  # the immediate backend: the job runs in this call anyway
        return
    delay = timedelta(seconds=get_config()["JOB_TIMEOUT"] + 1)
    check_job.using(run_after=timezone.now() + delay).enqueue(str(job.pk))


def watch_job(job_id: Any) -> None:
    """The watchdog: recover the job if its worker died, else look again later."""
    recover_stale_jobs(job_ids=[job_id])
    job = GenerationJob.objects.filter(pk=job_id).only("state", "heartbeat").first()
    if job is not None and job.state == State.RUNNING:
        _schedule_watchdog(job)


def job_queue_section():
    """The generation queue as a section of the cache's stats page, API and /metrics
    (EMBEDDINGS["STATS_SECTIONS"]). Running jobs whose workers died are recovered first: the
    watchdog is a task, and with every worker dead it never runs, so a scrape would show the
    job "running" for ever; recovered, it is queued, and oldest_queued_seconds grows."""
    from embeddings.sections import StatsSection, StatsValue

    try:
        recover_stale_jobs()
    except Exception:  # the queue's figures still matter most when recovery fails
        logger.exception("recovering stale jobs while reading the queue failed")
    stats = selectors.job_queue_stats()
    return StatsSection(
        name="codeframe_jobs",
        title="Generation jobs (task workers)",
        values=[
            StatsValue("queued", "Queued", stats.queued, "Jobs waiting for a worker.", "jobs"),
            StatsValue("running", "Running", stats.running, "Jobs a worker is running.", "jobs"),
            StatsValue(
                "failed_last_hour",
                "Failed in the last hour",
                stats.failed_last_hour,
                "Jobs that ended failed in the last hour.",
                "jobs",
            ),
            StatsValue(
                "done_last_hour",
                "Done in the last hour",
                stats.done_last_hour,
                "Jobs that stored a codeframe in the last hour.",
                "jobs",
            ),
            StatsValue(
                "oldest_queued_seconds",
                "Oldest queued job waiting for",
                None
                if stats.oldest_queued_seconds is None
                else round(stats.oldest_queued_seconds, 1),
                "Age of the oldest queued job: it grows when the workers cannot keep up.",
                "s",
            ),
            StatsValue(
                "silent_seconds",
                "Longest a running job's worker has been silent",
                None if stats.silent_seconds is None else round(stats.silent_seconds, 1),
                "Since the least recent progress report of a running job: past "
                "CODEFRAME['JOB_TIMEOUT'] its worker died or hung.",
                "s",
            ),
        ],
    )
