"""Queueing jobs: a generation, a wave to code, a wave coded again; retrying and cancelling.

Each job is a `GenerationJob` row made in the request's transaction and handed to the task
backend (`backend.enqueue`) in it, so a worker never sees a task whose job is not there."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from codeframe import selectors
from codeframe.conf import MAX_CODES_ASKED, get_config
from codeframe.exceptions import (
    ConflictingOptions,
    EditsNotCarriedBack,
    InvalidEdit,
    InvalidOptions,
    JobStateError,
    NoResponses,
    NotApproved,
    NotAWaveFrame,
    QueueFull,
    TooManyResponses,
)
from codeframe.importers import ImportedRow
from codeframe.jobs.backend import enqueue, next_turn, take_turns
from codeframe.models import Codeframe, GenerationJob, Project, Question
from codeframe.services import import_texts

State = GenerationJob.State
Stage = GenerationJob.Stage


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
    # `next_turn` locks the queue to the end of a transaction: the commands (`console`) call this
    # with none open, where PostgreSQL refused the lock (TransactionManagementError).
    with transaction.atomic():
        return GenerationJob.objects.create(
            question=question,
            requested_by=user if getattr(user, "pk", None) is not None else None,
            kind=kind,
            params=params,
            total=count,
            turn=next_turn(question),
        )


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
        # The question first, as every path that queues a job of it locks it (`lock_queue`);
        # no key update, so rows that refer to it (a worker storing a codeframe) are not held.
        Question.objects.select_for_update(no_key=True).filter(pk=question.pk).exists()
        if (twin := _active_twin(question, params)) is not None:
            return twin
        job = create_job(question=question, user=user, **params)
        enqueue(job)
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
    *,
    codeframe: Codeframe,
    rows: Iterable[ImportedRow],
    wave: str,
    user: Any = None,
    order: int | None = None,
) -> GenerationJob:
    """Import `rows` as a wave of the tracker (the next one, or number `order`: `waves.
    start_wave`) and queue its coding with the approved `codeframe`, in one transaction;
    returns the job (its question is the new wave), its `params["notice"]` saying when the
    wave's ids made `resp_id` a string in the tracker's SPSS files (`waves.string_ids_notice`).
    Raises NotApproved, InvalidEdit (wave label or number), ImportFailed, TooManyResponses,
    QueueFull."""
    from codeframe.waves import had_numeric_ids, start_wave, string_ids_notice

    with transaction.atomic():
        numeric = had_numeric_ids(question=codeframe.question)
        question = start_wave(codeframe=codeframe, rows=rows, wave=wave, order=order)
        # Said on the job's page and in the API's job, from the moment the wave is imported.
        notice = string_ids_notice(question=question, had_numeric=numeric)
        job = _create(
            question=question,
            user=user,
            kind=GenerationJob.Kind.WAVE,
            params={
                "codeframe": codeframe.pk,
                "wave": question.wave_label,
                **({"notice": notice} if notice else {}),
            },
        )
        enqueue(job)
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
    from codeframe.carryback import preview_carry_back  # waves imports this module
    from codeframe.param_keys import CARRY_BASE
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
    job of it is active, and unless `wave_job_frame` still accepts it."""
    with transaction.atomic():
        question = Question.objects.select_for_update().get(pk=question_id)
        coding = question.jobs.filter(kind=GenerationJob.Kind.WAVE)
        if coding.filter(state__in=GenerationJob.ACTIVE_STATES).exists():
            raise JobStateError(f"Wave “{question.wave_label}” is being coded already.")
        approved = wave_job_frame(question, params)
        params = {**params, "codeframe": approved.pk, "wave": question.wave_label}
        job = _create(question=question, user=user, kind=GenerationJob.Kind.WAVE, params=params)
        enqueue(job)
    job.refresh_from_db()
    return job


def wave_job_frame(question: Question, params: dict) -> Codeframe:
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
            take_turns()
        elif locked.state == State.RUNNING:
            locked.cancel_requested = True
            locked.save(update_fields=["cancel_requested"])
        else:
            raise JobStateError(f"This generation is already {locked.get_state_display().lower()}.")
    return locked
