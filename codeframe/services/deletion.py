"""Deleting questions and codeframes without breaking a tracker: the numbers a deleted wave
used stay reserved, and what later waves or a running job depend on is refused."""

import logging

from django.db import transaction
from django.db.models import Q, QuerySet
from django.db.models.deletion import RestrictedError

from codeframe.exceptions import InUse
from codeframe.models import Codeframe, GenerationJob, Question
from codeframe.param_keys import RESERVED, RETIRED

logger = logging.getLogger(__name__)


def delete_question(*, question: Question) -> None:
    """Delete the question with its answers and codeframes. Raises InUse when it is the
    first wave of a tracker with later waves, or has a frame that waves were coded with:
    deleting it would break the tracker's series (delete the later waves first)."""
    pk = question.pk
    try:
        with transaction.atomic():
            frames = question.codeframes.all()
            refuse_while_coding(frames, "This question is kept", question=question)
            reserve_numbers(frames)
            question.delete()
    except RestrictedError as exc:
        raise InUse(f"This question is kept: {depending_waves(question=question)}") from exc
    logger.info("question %s deleted", pk)


def reserve_numbers(frames: QuerySet[Codeframe]) -> None:
    """Before wave codeframes `frames` are deleted: note every code number they have or retired
    (an accepted suggestion's number may be in exports already) in the approved frame each was
    coded with, so no later code of the tracker takes it."""
    for frame in frames.exclude(coded_with=None):
        numbers = {
            *frame.codes.values_list("number", flat=True),
            *frame.params.get(RETIRED, []),
            *frame.params.get(RESERVED, []),  # from waves coded with this one, deleted before
        }
        # Locked and read afresh: a carry-back writes its params too.
        approved = Codeframe.objects.select_for_update().get(pk=frame.coded_with_id)
        approved.params = {
            **approved.params,
            RESERVED: sorted({*approved.params.get(RESERVED, []), *map(int, numbers)}),
        }
        approved.save(update_fields=["params"])


def refuse_while_coding(
    frames: QuerySet[Codeframe], kept: str, *, question: Question | None = None
) -> None:
    """Raise InUse ("{kept}: ...") when a wave is queued or being coded with one of
    `frames`, or coded again from one, or (`question`) is that wave itself: its job could never
    finish."""
    pks = list(frames.values_list("pk", flat=True))
    using = Q(params__codeframe__in=pks) | Q(params__recode__in=pks)
    if question is not None:
        using |= Q(question=question)
    coding = GenerationJob.objects.filter(
        using, kind=GenerationJob.Kind.WAVE, state__in=GenerationJob.ACTIVE_STATES
    ).select_related("question")
    if waves := sorted({job.question.wave_label for job in coding}):
        raise InUse(
            f"{kept}: a wave that needs it is being coded ({', '.join(waves)}). "
            "Cancel its job, or wait for it to finish, first."
        )


def delete_codeframe(*, codeframe: Codeframe) -> None:
    """Delete the codeframe. Raises InUse when waves were coded with it, or a wave is
    queued or being coded with it (cancel its job first)."""
    pk = codeframe.pk
    with transaction.atomic():
        frames = Codeframe.objects.filter(pk=pk)
        refuse_while_coding(frames, f"Codeframe #{pk} is kept")
        try:
            reserve_numbers(frames)
            codeframe.delete()
        except RestrictedError as exc:
            raise InUse(f"Codeframe #{pk} is kept: {depending_waves(codeframe=codeframe)}") from exc
    logger.info("codeframe %s deleted", pk)


def depending_waves(*, question: Question | None = None, codeframe: Codeframe | None = None) -> str:
    """Why a delete is refused: the later waves that depend on the question or the codeframe
    (Question.tracker and Codeframe.coded_with are RESTRICT)."""
    if question is not None:
        frames = Codeframe.objects.filter(question=question)
        waves = Question.objects.filter(Q(tracker=question) | Q(codeframes__coded_with__in=frames))
    else:
        waves = Question.objects.filter(codeframes__coded_with=codeframe)
    # In wave order, as the tracker shows them (not "2027-01, 2027-02, 5" by text).
    ordered = sorted(waves.distinct(), key=lambda w: (w.wave_order or 0, w.pk))
    labels = list(dict.fromkeys(w.wave_label or str(w.pk) for w in ordered))
    return (
        f"the tracker's later waves ({', '.join(labels)}) depend on it. Delete those waves first."
    )
