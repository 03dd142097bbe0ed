"""Deleting questions and codeframes without breaking a tracker: the numbers a deleted wave
used stay reserved, and what later waves or a running job depend on is refused."""

import logging

from django.db import transaction
from django.db.models import Q, QuerySet
from django.db.models.deletion import RestrictedError

from codeframe.exceptions import InUse
from codeframe.models import Code, Codeframe, GenerationJob, Question, Response
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
            forget_examples(question=question)
            question.delete()
    except RestrictedError as exc:
        raise InUse(f"This question is kept: {depending_waves(question=question)}") from exc
    logger.info("question %s deleted", pk)


# Texts compared with other questions' answers per query (an `IN` list of this many).
_TEXT_CHUNK = 500


def forget_examples(*, question: Question) -> int:
    """Before the question's answers are deleted: take their texts out of the stored examples
    (`Code.examples`) of its project's other codeframes, where carrying a wave's edits back put
    them (an accepted code's or a taught code's answers, `codeframe.carryback`) and where every
    wave coded since copied them from its approved frame. Deleting a wave promises its answers
    go for good; a copy would outlive them on the approved frame's page, its XLSX and API, and
    keep teaching the wave classifier. A text that is also an answer of another question of
    the project stays: it is that answer's too (a frame's own examples are its answers), and
    nothing says which copy was whose. Returns how many examples went."""
    texts = set(question.responses.values_list("text", flat=True))
    codes = [
        code
        for code in Code.objects.filter(codeframe__question__project_id=question.project_id)
        .exclude(codeframe__question=question)
        .select_for_update()
        if texts.intersection(code.examples)
    ]
    if not codes:
        return 0
    held = {text for code in codes for text in code.examples} & texts
    others = Response.objects.filter(question__project_id=question.project_id).exclude(
        question=question
    )
    held_elsewhere: set[str] = set()
    ordered = sorted(held)
    for start in range(0, len(ordered), _TEXT_CHUNK):
        chunk = ordered[start : start + _TEXT_CHUNK]
        held_elsewhere.update(others.filter(text__in=chunk).values_list("text", flat=True))
    gone = held - held_elsewhere
    removed = 0
    for code in codes:
        kept = [text for text in code.examples if text not in gone]
        if len(kept) != len(code.examples):
            removed += len(code.examples) - len(kept)
            code.examples = kept
            code.save(update_fields=["examples"])
    if removed:
        logger.info(
            "question %s: %d example texts taken out of other codeframes", question.pk, removed
        )
    return removed


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
