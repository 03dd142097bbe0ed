"""Running a job to its end, on a worker or in the foreground: its steps, each reported on
its row, and how it ends (done, failed, cancelled). See the package's docstring."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from codeframe.conf import get_config
from codeframe.exceptions import CodeframeError, JobCancelled
from codeframe.generation import generate_codeframe
from codeframe.jobs.backend import enqueue, is_task_row, take_turns
from codeframe.jobs.connection import connection_lost, on_new_connection
from codeframe.jobs.queue import wave_job_frame
from codeframe.jobs.recovery import end_lost_attempt, schedule_watchdog
from codeframe.models import Codeframe, GenerationJob, Question
from codeframe.services import PhraseEmbedder, embed_answers, prepare_generation, store_codeframe

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


class Attempt(NamedTuple):
    """How one run of a job ended (`run_attempt`)."""

    job: GenerationJob  # as it is now: done, failed, cancelled, or another attempt's
    superseded: bool  # this run lost the job to a later attempt (taken for dead: `recovery`)
    requeued: bool = False  # this run lost its database connection; the job was queued again


def run_job(
    *, job_id: Any, on_progress: ProgressCallback | None = None, keep_alive: bool = False
) -> GenerationJob | None:
    """Run the job `job_id` to its end in this process and return it (done, failed or
    cancelled): `run_attempt`'s job."""
    ran = run_attempt(job_id=job_id, on_progress=on_progress, keep_alive=keep_alive)
    return None if ran is None else ran.job


def run_attempt(
    *, job_id: Any, on_progress: ProgressCallback | None = None, keep_alive: bool = False
) -> Attempt | None:
    """Run the job `job_id` to its end in this process: the job as it ended (done, failed or
    cancelled), and whether this run lost it to a later attempt. What a worker's task calls
    (with `keep_alive`), and what `generate_codeframe` runs in the foreground (`run_job`). A
    job that is not queued (cancelled, taken by another attempt) is left as is. None when the
    job is gone: its question was deleted (the job row goes with it), before the job ran or
    while it ran; nothing is stored then.

    `keep_alive` beats the heartbeat from a thread every JOB_TIMEOUT / 4 seconds besides the
    progress reports, so that a long step without reports (clustering 50,000 answers, waiting
    for vectors a dead worker had claimed) is not taken for a dead worker.

    A lost database connection (a failover, a restart) does not end the job: its writes outside
    a transaction (progress, its end) are made again on a new connection (`connection`); one
    lost inside a transaction (the store) ends the attempt, which queues the job again at once
    (`requeued`), or, run in the foreground, fails it, saying so.
    """
    attempt = on_new_connection(lambda: _claim(job_id), what=f"job {job_id}")
    job = on_new_connection(
        lambda: GenerationJob.objects.select_related("question").filter(pk=job_id).first(),
        what=f"job {job_id}",
    )
    if job is None:
        logger.info("job %s no longer exists: nothing to run", job_id)
        return None
    if attempt is None:
        logger.info("job %s is %s: nothing to run", job_id, job.state)
        return Attempt(job, superseded=False)
    on_new_connection(lambda: schedule_watchdog(job), what=f"job {job_id}")
    owned = True  # whether this attempt ended the job (a DONE store ends it, or rolls back)
    requeued = False
    try:
        with _KeepAlive(job.pk, attempt) if keep_alive else contextlib.nullcontext():
            _run(job, attempt=attempt, on_progress=on_progress)
    except JobCancelled:
        owned = _finish(
            job, attempt=attempt, state=State.CANCELLED, error="Cancelled while running."
        )
    except CodeframeError as exc:
        owned = _finish(job, attempt=attempt, state=State.FAILED, error=str(exc))
    except Exception as exc:
        if connection_lost(exc):
            logger.warning(
                "job %s attempt %d: the database connection was lost (%s)", job_id, attempt, exc
            )
            owned, requeued = _requeue(job, attempt=attempt)
            return _ended(job, attempt=attempt, owned=owned, requeued=requeued)
        # Any other error is a bug or an outage: the job must still end (failed, with a message
        # a person can act on) instead of staying "running"; the traceback goes to the log.
        logger.exception("job %s failed", job_id)
        owned = _finish(
            job,
            attempt=attempt,
            state=State.FAILED,
            error=(
                f"The generation stopped on an unexpected error ({type(exc).__name__}); nothing "
                "was stored. Retry it; if it fails again, the worker's log has the details."
            ),
        )
    return _ended(job, attempt=attempt, owned=owned, requeued=requeued)


def _ended(job: GenerationJob, *, attempt: int, owned: bool, requeued: bool) -> Attempt | None:
    """How the attempt ended, with the job as it is now (None: it is gone)."""
    ended = on_new_connection(
        lambda: GenerationJob.objects.filter(pk=job.pk).first(), what=f"job {job.pk}"
    )
    if ended is None:
        return None
    if not owned:
        # Queued again, run or ended by a later attempt, or given up by the recovery: this one
        # was taken for dead.
        logger.warning(
            "job %s attempt %d: superseded (now attempt %d, %s); nothing stored by this one",
            job.pk,
            attempt,
            ended.attempts,
            ended.state,
        )
    return Attempt(ended, superseded=not owned, requeued=requeued)


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
        take_turns()  # the queue's next turn may be served now
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
    codeframe = wave_job_frame(job.question, job.params)
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
        before_store=lambda: wave_job_frame(job.question, job.params),
        before_commit=mark_done,
        recoding=_recoding(job),
    )
    GenerationJob.objects.filter(pk=job.pk).update(
        cache_hits=int(stored.cache_hits), cache_misses=int(stored.cache_misses)
    )
    if on_progress is not None:
        on_progress(Progress(stage=Stage.FINISHED, done=total, total=total))


def _recoding(job: GenerationJob) -> Codeframe | None:
    """The wave's codeframe a re-code job codes again (checked by `wave_job_frame`), or None."""
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
    it to stop; otherwise raise JobCancelled (the caller stops, storing nothing). Made again on
    a new connection if the connection was lost: the same values again change nothing."""
    mine = GenerationJob.objects.filter(
        pk=job.pk, state=State.RUNNING, attempts=attempt, cancel_requested=False
    )
    updated = on_new_connection(
        lambda: mine.update(
            stage=stage, done=done, total=total, heartbeat=timezone.now(), **fields
        ),
        what=f"job {job.pk} attempt {attempt}",
    )
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
) -> bool:
    """End this attempt of the job; whether it could (it still owned the job, or the job is
    gone), or had (it stored the job's codeframe, and failed after the commit). For DONE,
    refuse (JobCancelled) if the attempt lost the job meanwhile, so the surrounding store rolls
    back. A superseded attempt leaves the row to whoever owns it now (or to the recovery's
    verdict); a job deleted with its question has nothing left to end. Outside a transaction
    (not DONE), made again on a new connection if the connection was lost."""
    return on_new_connection(
        lambda: _end(job, attempt=attempt, state=state, error=error, codeframe=codeframe),
        what=f"job {job.pk} attempt {attempt}",
    )


def _end(
    job: GenerationJob, *, attempt: int, state: str, error: str, codeframe: Codeframe | None
) -> bool:
    with transaction.atomic():
        locked = GenerationJob.objects.select_for_update().filter(pk=job.pk).first()
        if locked is None:
            gone = _why_gone(job)
            if state == State.DONE:
                raise JobCancelled(f"job {job.pk} was deleted ({gone}) before storing")
            logger.info("job %s attempt %d: it was deleted (%s)", job.pk, attempt, gone)
            return True
        owns = locked.state == State.RUNNING and locked.attempts == attempt
        if state == State.DONE and (not owns or locked.cancel_requested):
            raise JobCancelled(f"job {job.pk} attempt {attempt} lost the job before storing")
        if not owns:  # this attempt's own DONE stands (an error after its store committed)
            return locked.state == State.DONE and locked.attempts == attempt
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
    return True


def _requeue(job: GenerationJob, *, attempt: int) -> tuple[bool, bool]:
    """End this attempt, whose database connection was lost, on a new connection: the job is
    queued again at once (`recovery.end_lost_attempt`: failed after JOB_MAX_ATTEMPTS), instead
    of running on for JOB_TIMEOUT until the watchdog took it for a dead worker's. Run in the
    foreground (no task row: nobody to hand it to), it fails, saying why. Whether this attempt
    still owned the job (as `_finish`), and whether it was queued again."""

    def end() -> tuple[bool, bool]:
        with transaction.atomic():
            locked = GenerationJob.objects.select_for_update().filter(pk=job.pk).first()
            if locked is None:
                return True, False
            if locked.state != State.RUNNING or locked.attempts != attempt:
                return locked.state == State.DONE and locked.attempts == attempt, False
            lost = (
                "Its database connection was lost while "
                f"{locked.get_stage_display().lower()} (a failover or a restart of the database?)"
            )
            if not is_task_row(locked.task_id):
                locked.state, locked.stage = State.FAILED, Stage.FINISHED
                locked.error = f"{lost}; nothing was stored. Retry it."
                locked.finished = timezone.now()
                locked.save(update_fields=["state", "stage", "error", "finished"])
                requeue = False
            elif requeue := end_lost_attempt(locked, lost=lost, check="the database's log"):
                enqueue(locked)
        logger.warning("job %s attempt %d: now %s (%s)", job.pk, attempt, locked.state, lost)
        return True, requeue

    return on_new_connection(end, what=f"job {job.pk} attempt {attempt}")
