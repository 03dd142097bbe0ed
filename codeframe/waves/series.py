"""A tracker's structure, read: its waves in order, the codeframe that counts for each, the
approved frames' examples and the code numbers the tracker has used."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from django.db.models import Count, Exists, OuterRef, Q

from codeframe.carryback import FEW_ANSWERS
from codeframe.models import Assignment, Code, Codeframe, Question
from codeframe.param_keys import RESERVED, RETIRED
from codeframe.selectors import is_tracker


def tracker_root(question: Question) -> Question:
    """The tracker's first question (the question itself when it starts or is no tracker, or
    when its first wave is in another project: a tracker never reaches across projects)."""
    root = question.tracker
    return root if root is not None and root.project_id == question.project_id else question


def tracker_questions(*, question: Question) -> list[Question]:
    """Every wave of the question's tracker, oldest first: only those in the question's own
    project, which the caller reached it through (a wave never shows another client's)."""
    root = tracker_root(question)
    waves = Question.objects.filter(Q(pk=root.pk) | Q(tracker=root), project_id=question.project_id)
    return sorted(waves, key=lambda q: (q.wave_order or 0, q.pk))


class WavePlace(NamedTuple):
    number: int  # the wave number (`Question.wave_order`) a new wave would take
    after: str  # the name of the wave before it
    before: str  # the name of the wave after it; "" for the next number


def wave_places(*, question: Question) -> list[WavePlace]:
    """Where a new wave of the question's tracker can go: the next number, after the newest
    wave, then each number a deleted wave left free, between the waves either side of it. A
    wave's number never changes (the stacked SPSS file's `wave`, a data processor's syntax),
    so a month deleted and coded again takes its own number back, not the next one."""
    waves = {q.wave_order or 1: q for q in tracker_questions(question=question)}
    following = max(waves) + 1
    places = [WavePlace(following, waves[following - 1].wave_name or "1", "")]
    for number in range(2, following):
        if number not in waves:
            before = waves[max(n for n in waves if n < number)]
            after = waves[min(n for n in waves if n > number)]
            places.append(WavePlace(number, before.wave_name or "1", after.wave_name))
    return places


def replaced_by(*, codeframe: Codeframe) -> Codeframe | None:
    """The codeframe the tracker counts for this one's wave instead of it, when this one is in
    the tracker's numbering (`tracker_series`) and was replaced (its wave coded again); else
    None. A replaced frame lacks the edits carried back since, and may have numbers the
    approved frame retired since: it must not code (or be approved to code) later waves."""
    question = codeframe.question
    if codeframe.coded_with_id is None or not is_tracker(question=question):
        return None  # the first wave's frames: tracker_series and _check_wave judge those
    wave = tracker_wave(question=question)
    if wave is None or wave.codeframe is None or wave.codeframe.pk == codeframe.pk:
        return None
    series = tracker_series(question=question)
    return wave.codeframe if series is not None and codeframe.pk in series.frames else None


def replaced_message(codeframe: Codeframe, newer: Codeframe) -> str:
    return (
        f"Codeframe #{codeframe.pk} was replaced by codeframe #{newer.pk} when its wave was coded "
        f"again; the tracker counts #{newer.pk} for the wave. Approve and code later waves with "
        f"#{newer.pk}, which has the edits carried back since."
    )


def classifier_examples(*, codeframe: Codeframe) -> dict[int, list[str]]:
    """Code number -> the answers analysts left in it (any of an answer's codes): what the
    wave classifier (`coding.code_answers`) learns each code from. A code with fewer than
    `carryback.FEW_ANSWERS` answers also learns from its stored `Code.examples` not among
    them: what carrying a wave's edits back gave it (an accepted code's answers, or the answers
    analysts coded into it by hand in a wave: `carryback`). A code with neither is empty:
    no answer of a wave can be coded with it (`empty_codes`)."""
    codes = list(codeframe.codes.all())
    examples: dict[int, list[str]] = {code.number: [] for code in codes}
    pairs = Assignment.objects.filter(codeframe=codeframe).values_list(
        "code__number", "response__text"
    )
    for number, text in pairs.order_by("code__number", "response__position"):
        examples[number].append(text)
    for code in codes:
        own = examples[code.number]
        if len(own) < FEW_ANSWERS:
            # A generated code's stored examples are its own answers: nothing is added to it.
            held = set(own)
            own.extend(text for text in dict.fromkeys(code.examples) if text not in held)
    return examples


def empty_codes(*, codeframe: Codeframe) -> list[Code]:
    """The codeframe's codes the wave classifier knows nothing of (no answer in this frame, no
    stored example: a code added by hand, say), in number order. A wave coded with the frame
    can put no answer in them until answers are moved into one here, or coded into one in a
    wave whose edits are then carried back (`carryback`)."""
    codes = codeframe.codes.annotate(held=Count("assignments")).filter(held=0).order_by("number")
    return [code for code in codes if not code.examples]


def used_code_numbers(*, codeframe: Codeframe) -> set[int]:
    """Every code number any codeframe of the tracker has or had (merged and deleted codes'
    numbers are kept in `params["retired"]`, a deleted wave frame's in its approved frame's
    `params["reserved"]`), so a new code never reuses one."""
    questions = tracker_questions(question=codeframe.question)
    used = set(
        Code.objects.filter(codeframe__question__in=questions).values_list("number", flat=True)
    )
    for params in Codeframe.objects.filter(question__in=questions).values_list("params", flat=True):
        used.update(int(n) for n in (params or {}).get(RETIRED, []))
        used.update(int(n) for n in (params or {}).get(RESERVED, []))
    return used


@dataclass(frozen=True)
class TrackerWave:
    question: Question
    number: int  # the wave's order: the same in every export, whatever is coded yet
    label: str
    codeframe: Codeframe | None  # None while the wave is not coded (its job queued, failed...)


class TrackerSeries(NamedTuple):
    start: int  # the first wave's codeframe the first coded wave was coded with
    frames: frozenset[int]  # it and every codeframe coded from it, through any chain


def tracker_series(*, question: Question) -> TrackerSeries | None:
    """The codeframes in the numbering of the question's tracker: the first wave's frame that
    waves were coded with (the earliest such wave when there were several), and every frame
    coded from one of these (`coded_with`, through approved wave frames). None until a wave is
    coded. A codeframe generated afresh on any wave has numbers of its own and is not in it."""
    rows = Codeframe.objects.filter(question__in=tracker_questions(question=question))
    return _series(rows.values_list("pk", "coded_with_id", "question_id", "created"), question)


def _series(rows, question: Question) -> TrackerSeries | None:
    """`tracker_series` from the (pk, coded_with_id, question_id, created) of every codeframe of
    the question's tracker."""
    rows = list(rows)
    root = tracker_root(question).pk
    on_root = {pk for pk, _, question_id, _ in rows if question_id == root}
    coded = sorted((created, pk, parent) for pk, parent, _, created in rows if parent in on_root)
    if not coded:
        return None
    start = coded[0][2]
    frames, grown = {start}, True
    while grown:
        more = {pk for pk, parent, _, _ in rows if parent in frames} - frames
        frames |= more
        grown = bool(more)
    return TrackerSeries(start, frozenset(frames))


def tracker_waves(*, question: Question) -> list[TrackerWave]:
    """Every wave of the question's tracker, oldest first, with its codeframe in the tracker's
    numbering (`tracker_series`): the newest approved one, else the one later waves were coded
    with, else the wave's coded frame (the newest when it was coded again), else None (not
    coded yet). A codeframe generated afresh on a wave has numbers of its own and never stands
    for it, even approved. Before any wave is coded, the first wave's is its newest approved
    codeframe, else its newest. A wave without a label is known by its order. The same few
    queries however many waves (two, and the first wave's question when not loaded yet): every
    page of a wave reads it."""
    questions = tracker_questions(question=question)
    frames = list(
        Codeframe.objects.filter(question__in=questions)
        .annotate(coded_later=Exists(Codeframe.objects.filter(coded_with=OuterRef("pk"))))
        .defer("timings")
    )
    series = _series(((f.pk, f.coded_with_id, f.question_id, f.created) for f in frames), question)
    root = tracker_root(question)
    found = []
    for position, wave_question in enumerate(questions, 1):
        own = [f for f in frames if f.question_id == wave_question.pk]
        if series is not None:
            own = [f for f in own if f.pk in series.frames]
        elif wave_question.pk != root.pk:
            own = []  # no wave coded from the first one yet: none is in it
        counted = max(
            own,
            key=lambda f: (f.approved, f.coded_later, f.coded_with_id is not None, f.created, f.pk),
            default=None,
        )
        if counted is not None:
            counted.question = wave_question
        number = wave_question.wave_order or position
        found.append(
            TrackerWave(
                question=wave_question,
                number=number,
                label=wave_question.wave_label or str(number),
                codeframe=counted,
            )
        )
    return found


def tracker_wave(*, question: Question) -> TrackerWave | None:
    """The question's own entry of `tracker_waves` (its number, label and the codeframe the
    tracker counts for it); None when the question is no wave of its tracker."""
    return next((w for w in tracker_waves(question=question) if w.question.pk == question.pk), None)


def tracker_numbering(*, codeframe: Codeframe) -> bool | None:
    """Whether the codeframe's code numbers are its tracker's (`tracker_series`): False for a
    codeframe generated afresh on a wave (its numbers are its own: code 1 is another code
    than the tracker's code 1), None when there is no tracker numbering yet (no wave coded)."""
    return in_series(codeframe, tracker_series(question=codeframe.question))


def in_series(codeframe: Codeframe, series: TrackerSeries | None) -> bool | None:
    """`tracker_numbering` given the question's `tracker_series` (one for several frames)."""
    return None if series is None else codeframe.pk in series.frames


def tracker_frames(*, question: Question) -> list[tuple[int, str, Codeframe]]:
    """(wave number, wave label, codeframe) for each coded wave of the tracker, oldest first
    (`tracker_waves`): what the stacked SPSS file holds."""
    return [
        (w.number, w.label, w.codeframe)
        for w in tracker_waves(question=question)
        if w.codeframe is not None
    ]
