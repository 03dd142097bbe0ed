"""Trackers: coding a new wave with an approved codeframe, suggested new codes, the tracker's
figures. Services (writes) and the selectors they need; the pure work is in `coding`,
`suggestions` and `tracker`.

A tracker is a chain of questions: the first wave, and later waves pointing at it
(`Question.tracker`), ordered by `wave_order`. A wave's codeframe keeps every code number,
label, keyword list and net of the approved frame it was coded with (`Codeframe.coded_with`),
so exports and the tracker table line up across waves.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple
from unicodedata import category, normalize

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q

from codeframe import tracker as tracker_stats
from codeframe.carryback import CARRY_BASE, frame_shape
from codeframe.coding import code_answers
from codeframe.exceptions import (
    InvalidEdit,
    NoResponses,
    NotApproved,
    NotAWaveFrame,
    NotTheWavesFrame,
    SuggestionDecided,
)
from codeframe.generation import CodeframeDraft, DraftCode, DraftNet
from codeframe.importers import ImportedRow
from codeframe.models import (
    Assignment,
    Code,
    Codeframe,
    HandCoded,
    Net,
    Question,
    Response,
    SuggestedCode,
)
from codeframe.selectors import (
    asked_codes,
    coded_with,
    is_tracker,
    merge_holder,
    question_texts,
)
from codeframe.services import (
    RESERVED,
    add_code_to_answers,
    embed_answers,
    import_responses,
    lock_codeframe,
    mark_hand_coded,
    move_response,
    refresh_sizes,
    refuse_taken_label,
    store_draft,
    uncode_response,
)
from codeframe.suggestions import new_code_numbers, suggest_codes
from codeframe.validators import has_visible, is_one_line, label_key

logger = logging.getLogger(__name__)


def approve_codeframe(*, codeframe: Codeframe, approved: bool = True) -> Codeframe:
    """Mark the codeframe approved (or not): only approved frames code new waves. Raises
    NotTheWavesFrame when approving a wave's codeframe that another replaced (`replaced_by`)."""
    if approved and not codeframe.approved and (newer := replaced_by(codeframe=codeframe)):
        raise NotTheWavesFrame(_replaced(codeframe, newer))
    codeframe.approved = approved
    codeframe.save(update_fields=["approved"])
    return codeframe


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


def code_wave(
    *, codeframe: Codeframe, rows: Iterable[ImportedRow], wave: str, embed=None
) -> Codeframe:
    """Import `rows` as wave `wave` of the codeframe's tracker (a new question with the same
    survey and text), code it with the approved `codeframe` and store the result as a new
    codeframe keeping every number, label and net, with suggested new codes for the answers
    that fit none. All or nothing: `start_wave`, then `code_wave_question`, in one transaction.

    `embed` is as for `code_wave_question`; without it the answers and the frame's examples are
    embedded through the cache before the transaction starts, so the slow part never holds
    the database's write lock (on SQLite every other write would wait for it, then fail).
    Raises NotApproved, InvalidEdit (blank or repeated wave label), and what
    `services.import_responses` raises (ImportFailed, TooManyResponses).
    """
    if embed is None:
        _check_wave(codeframe=codeframe, wave=wave)  # refuse before embedding anything
        rows = list(rows)
        texts = {row.text for row in rows if row.text.strip()}
        texts.update(t for ts in approved_examples(codeframe=codeframe).values() for t in ts)
        embed_answers(sorted(texts))  # cached now: the embedding inside reads the cache
    with transaction.atomic():
        question = start_wave(codeframe=codeframe, rows=rows, wave=wave)
        return code_wave_question(question=question, codeframe=codeframe, embed=embed)


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


def _replaced(codeframe: Codeframe, newer: Codeframe) -> str:
    return (
        f"Codeframe #{codeframe.pk} was replaced by codeframe #{newer.pk} when its wave was coded "
        f"again; the tracker counts #{newer.pk} for the wave. Approve and code later waves with "
        f"#{newer.pk}, which has the edits carried back since."
    )


def _check_wave(*, codeframe: Codeframe, wave: str) -> str:
    """The wave's label, stripped, if the frame may code it. Raises NotApproved, InvalidEdit."""
    if not codeframe.approved:
        raise NotApproved(f"Codeframe #{codeframe.pk} is not approved; approve it first.")
    if not wave.strip():
        raise InvalidEdit("Give the wave a label, e.g. 2027-01.")
    series = tracker_series(question=codeframe.question)
    if series is None and codeframe.question_id != tracker_root(codeframe.question).pk:
        raise InvalidEdit(
            f"Codeframe #{codeframe.pk} belongs to a later wave, but no wave has been coded "
            "from the first wave's codeframe yet: the tracker's numbering starts there. Code "
            "the wave with an approved codeframe of the first wave."
        )
    if series is not None and codeframe.pk not in series.frames:
        raise InvalidEdit(
            f"This tracker's waves are coded with the numbers of codeframe #{series.start}; "
            f"codeframe #{codeframe.pk} has numbers of its own (a codeframe generated afresh), "
            "so its waves would not line up. Code the wave with an approved codeframe of the "
            f"series: #{series.start} or a wave's codeframe coded from it."
        )
    return _wave_label(question=codeframe.question, label=wave)


def _wave_label(*, question: Question, label: str, renaming: Question | None = None) -> str:
    """`label`, stripped, if the tracker of `question` may give it to a new wave (or to the
    wave `renaming`): not blank, not too long, no other wave's. The first wave is "1" until
    named. Invisible characters (zero-width spaces, joiners, direction marks) are dropped and
    compatibility forms folded (NFKC: full-width digits), so two waves cannot read alike. Raises
    InvalidEdit."""
    label = "".join(c for c in normalize("NFKC", label) if category(c) != "Cf").strip()
    if not has_visible(label):
        raise InvalidEdit("Give the wave a label, e.g. 2027-01.")
    if not is_one_line(label):  # as validators.one_line, at every entry point
        raise InvalidEdit("A wave label is one line: no line breaks, tabs or control characters.")
    limit = Question._meta.get_field("wave_label").max_length
    if len(label) > limit:
        raise InvalidEdit(f"A wave label is at most {limit} characters.")
    root = tracker_root(question)
    # Compared as labels are (case, look-alikes): "W3" beside "w3" cannot be told apart in
    # the tracker's table or the stacked SPSS file's wave value labels.
    names = [
        q.wave_label or ("1" if q.pk == root.pk else "")
        for q in tracker_questions(question=question)
        if renaming is None or q.pk != renaming.pk
    ]
    taken = {label_key(name): name for name in names if name}
    if (same := taken.get(label_key(label))) is not None:
        raise InvalidEdit(f"The tracker already has a wave “{same}”.")
    return label


def _lock_tracker(question: Question) -> Question:
    """The tracker's first question, read afresh and locked until the transaction ends: wave
    labels and numbers are checked and given out under it (start_wave, rename_wave)."""
    return Question.objects.select_for_update().get(pk=tracker_root(question).pk)


def rename_wave(*, question: Question, label: str) -> Question:
    """Name the question's wave `label` (e.g. "2026-10" for a first wave, which is "1" until
    named): its tracker's tables, charts and SPSS file say it. A question that is no tracker's
    wave yet keeps the name for when its first later wave is coded. Raises InvalidEdit (blank,
    too long, or another wave of the tracker has it)."""
    with transaction.atomic():
        _lock_tracker(question)
        question.wave_label = _wave_label(question=question, label=label, renaming=question)
        question.save(update_fields=["wave_label"])
    return question


def start_wave(*, codeframe: Codeframe, rows: Iterable[ImportedRow], wave: str) -> Question:
    """The first step of coding a wave: check the frame and the label, and import `rows` as the
    tracker's next wave (a new question); returns it. Atomic. Raises as `code_wave`."""
    source = codeframe.question
    with transaction.atomic():
        # Checked and numbered under the tracker's lock: two waves queued at once (a
        # double submit) would otherwise both pass the check and take one label and number.
        root = _lock_tracker(source)
        wave = _check_wave(codeframe=codeframe, wave=wave)
        waves = tracker_questions(question=source)
        if root.wave_order is None:
            root.wave_order = 1
            root.wave_label = root.wave_label or "1"
            root.save(update_fields=["wave_order", "wave_label"])
            if source.pk == root.pk:  # the caller's copy, as the frame's exports read it
                source.wave_order, source.wave_label = root.wave_order, root.wave_label
        # The project of the frame it is coded with (the caller's access): a client's wave is
        # that client's data.
        question = import_responses(
            rows=rows, project=source.project, survey=root.survey, question_text=source.text
        ).question
        question.tracker = root
        question.wave_label = wave
        question.wave_order = max(q.wave_order or 1 for q in [root, *waves]) + 1
        question.save(update_fields=["tracker", "wave_label", "wave_order"])
    return question


def recode_with(*, codeframe: Codeframe) -> Codeframe:
    """The approved frame the wave's codeframe `codeframe` is coded again with (the one it was
    coded with, as it is now: with the edits carried back since). Raises NotAWaveFrame,
    NotApproved (its approval was withdrawn), NotTheWavesFrame (the tracker uses another frame
    for the wave, or keeps this one whatever is coded: approved, or coding later waves)."""
    approved = coded_with(codeframe=codeframe)
    if approved is None:
        raise NotAWaveFrame(
            f"Codeframe #{codeframe.pk} was not coded with an approved codeframe of its "
            "project (or that codeframe was deleted): there is nothing to code its wave "
            "again with."
        )
    if not approved.approved:
        raise NotApproved(f"Codeframe #{approved.pk} is no longer approved; approve it first.")
    if codeframe.approved or Codeframe.objects.filter(coded_with=codeframe).exists():
        raise NotTheWavesFrame(
            f"Codeframe #{codeframe.pk} is approved or later waves were coded with it, so the "
            "tracker keeps it for this wave: withdraw its approval (and delete those waves) "
            "before coding the wave again."
        )
    current = tracker_wave(question=codeframe.question).codeframe
    if current != codeframe:
        uses = f"codeframe #{current.pk}" if current is not None else "none of its codeframes"
        raise NotTheWavesFrame(
            f"The tracker uses {uses} for this wave, not #{codeframe.pk}: a codeframe coded "
            f"again from #{codeframe.pk} would not count either."
        )
    return approved


# Times a wave is coded before giving up when edits keep being carried back to its frame
# while it is (`code_wave_question`).
CODING_ATTEMPTS = 3


def code_wave_question(
    *,
    question: Question,
    codeframe: Codeframe,
    embed=None,
    before_store: Callable[[], object] | None = None,
    before_commit: Callable[[Codeframe], None] | None = None,
    recoding: Codeframe | None = None,
) -> Codeframe:
    """Code the wave `question`'s answers with the approved `codeframe` and store the result
    (and its suggested new codes) in one transaction, holding the tracker's first question's
    row lock (waves of one tracker store one at a time); `before_store()` runs first inside it
    (a background job checks again that it may store, raising if not), `before_commit(codeframe)`
    last (a job marks itself done there). What a background job of kind "wave" runs. Coding
    the wave again, `recoding` is its codeframe until now: the answers coded by hand there keep
    their codes (`keep_hand_coding`).

    `embed(texts) -> (vectors, timings)` embeds the wave's answers and the frame's examples
    (a job passes one that embeds in batches and reports its progress); by default one
    `embeddings.services.embed_texts_with_report` call."""
    started = time.perf_counter()
    responses = question_texts(question=question)
    if not responses:
        raise NoResponses(f"Wave “{question.wave_label}” has no answers.")
    ids = [pk for pk, _ in responses]
    texts = [text for _, text in responses]
    for _ in range(CODING_ATTEMPTS):
        examples = approved_examples(codeframe=codeframe)
        distinct = sorted({t for ts in examples.values() for t in ts} | set(texts))
        vectors, embedding = (embed or embed_answers)(distinct)
        row_of = {t: i for i, t in enumerate(distinct)}
        wave_vectors = vectors[[row_of[t] for t in texts]]
        coded = code_answers(
            examples,
            texts,
            vectors=wave_vectors,
            example_vectors={
                number: vectors[[row_of[t] for t in ts]] for number, ts in examples.items()
            },
        )
        suggestions = suggest_codes(texts, vectors=wave_vectors, coded=coded)
        with transaction.atomic():
            Question.objects.select_for_update().filter(pk=tracker_root(question).pk).exists()
            if before_store is not None:
                before_store()
            # The embedding takes minutes, and edits may have been carried back to the frame
            # meanwhile (carrying back locks it too): a code the coder never offered would read
            # 0% in this wave instead of "not asked", and one merged away is a number the frame
            # no longer has. The wave is coded again then, with the frame as it is now (the
            # vectors are cached by then). Locked as carrying back locks: the wave's frame (the
            # one coded again), then the approved one.
            if recoding is not None:
                lock_codeframe(recoding.pk)
            lock_codeframe(codeframe.pk)
            if approved_examples(codeframe=codeframe) != examples:
                continue
            draft = _draft_like(codeframe, coded, embedding)
            stored = store_draft(
                question=question,
                response_ids=ids,
                draft=draft,
                timings=dict(draft.timings),
                started=started,
                before_commit=None,
            )
            _finish_wave(stored, codeframe, ids, suggestions, recoding, before_commit)
        break
    else:
        raise InvalidEdit(
            f"Edits were carried back to approved codeframe #{codeframe.pk} each of the "
            f"{CODING_ATTEMPTS} times this wave was coded with it: code the wave again once "
            "they are done."
        )
    logger.info(
        "wave %s of question %s coded with codeframe %s: codeframe %s, %d answers, uncoded %s",
        question.wave_label,
        question.tracker_id or question.pk,
        codeframe.pk,
        stored.pk,
        len(ids),
        coded.params["uncoded"],
    )
    return stored


def _finish_wave(
    stored: Codeframe,
    codeframe: Codeframe,
    ids: list[int],
    suggestions: list,
    recoding: Codeframe | None,
    before_commit: Callable[[Codeframe], None] | None,
) -> None:
    """In `code_wave_question`'s transaction, after the wave's codeframe `stored` (coded with
    `codeframe`) is: what it was coded with and started from, its suggested new codes (answers
    by position in `ids`), the hand coding of the codeframe it replaces (`recoding`)."""
    Net.objects.filter(codeframe=stored, number=_NO_NET).delete()  # codes without a net
    stored.coded_with = codeframe
    # What the wave's frame started from: carrying its edits back compares against it.
    stored.params = {**stored.params, CARRY_BASE: frame_shape(codeframe=stored)}
    stored.save(update_fields=["coded_with", "params"])
    SuggestedCode.objects.bulk_create(
        SuggestedCode(
            codeframe=stored,
            label=suggestion.label[:200],
            keywords=suggestion.keywords,
            examples=suggestion.examples,
            size=suggestion.size,
            response_ids=[ids[i] for i in suggestion.answers],
        )
        for suggestion in suggestions
    )
    if recoding is not None:
        kept = keep_hand_coding(source=recoding, stored=stored)
        stored.params = {**stored.params, HAND_CODING: kept}
        stored.save(update_fields=["params"])
    if before_commit is not None:
        before_commit(stored)


# Codeframe.params key of a wave's frame coded again: {"from": the frame before, "kept": answers
# coded by hand there that kept their codes, "not_kept": those whose codes are all gone}.
HAND_CODING = "hand_coding"


def keep_hand_coding(*, source: Codeframe, stored: Codeframe) -> dict[str, int]:
    """In a transaction: the answers coded by hand in `source` (`HandCoded`) get the same codes
    in `stored`, a codeframe of the same wave coded again, in place of the classifier's: by
    number (a code merged away in the approved frame since: the code it went into), in the
    same order and with the same confidences (an answer left uncoded by hand stays uncoded),
    and count as coded by hand there too; `stored`'s suggestions no longer offer them. An
    answer none of whose codes `stored` has (deleted from the approved frame since, say) keeps
    the classifier's codes; one that lost some keeps the others (the first left its primary).
    Returns the HAND_CODING record."""
    lock_codeframe(source.pk)  # as a hand edit does: none half seen
    hand = list(HandCoded.objects.filter(codeframe=source).values_list("response_id", flat=True))
    codes = {code.number: code for code in stored.codes.all()}
    approved = Codeframe.objects.filter(pk=stored.coded_with_id).values_list("params", flat=True)
    merges = (approved.first() or {}).get("merged_into", {})  # as stored now
    merged = {int(n): int(into) for n, into in merges.items()}
    held: dict[int, list[tuple[int, float]]] = {pk: [] for pk in hand}
    had_codes = set()
    rows = Assignment.objects.filter(codeframe=source, response_id__in=hand).order_by(
        "-is_primary", "-confidence", "code__number"
    )
    for response_id, number, confidence in rows.values_list(
        "response_id", "code__number", "confidence"
    ):
        had_codes.add(response_id)
        if number not in codes:
            number = merge_holder(number, merged, codes)
        if number is not None and number not in {n for n, _ in held[response_id]}:
            held[response_id].append((number, confidence))
    kept, lost, assignments = [], 0, []
    for pk in hand:
        if not held[pk] and pk in had_codes:
            lost += 1  # its codes are all gone: the classifier's stand
            continue
        kept.append(pk)
        assignments += [
            Assignment(
                codeframe=stored,
                response_id=pk,
                code=codes[number],
                confidence=confidence,
                is_primary=i == 0,
            )
            for i, (number, confidence) in enumerate(held[pk])
        ]
    Assignment.objects.filter(codeframe=stored, response_id__in=kept).delete()
    Assignment.objects.bulk_create(assignments)
    mark_hand_coded(codeframe_id=stored.pk, response_ids=kept)
    if kept:
        refresh_sizes(codeframe=stored)
    return {"from": source.pk, "kept": len(kept), "not_kept": lost}


def approved_examples(*, codeframe: Codeframe) -> dict[int, list[str]]:
    """Code number -> the answers analysts left in it (any of an answer's codes); a code with
    no answer falls back to its stored examples."""
    examples: dict[int, list[str]] = {code.number: [] for code in codeframe.codes.all()}
    pairs = Assignment.objects.filter(codeframe=codeframe).values_list(
        "code__number", "response__text"
    )
    for number, text in pairs.order_by("code__number", "response__position"):
        examples[number].append(text)
    for code in codeframe.codes.all():
        if not examples[code.number]:
            examples[code.number] = list(code.examples)
    return examples


def used_code_numbers(*, codeframe: Codeframe) -> set[int]:
    """Every code number any codeframe of the tracker has or had (merged and deleted codes'
    numbers are kept in `params["retired"]`, a deleted wave frame's in its approved frame's
    `params["reserved"]`), so a new code never reuses one."""
    questions = tracker_questions(question=codeframe.question)
    used = set(
        Code.objects.filter(codeframe__question__in=questions).values_list("number", flat=True)
    )
    for params in Codeframe.objects.filter(question__in=questions).values_list("params", flat=True):
        used.update(int(n) for n in (params or {}).get("retired", []))
        used.update(int(n) for n in (params or {}).get(RESERVED, []))
    return used


DECISIONS = ("accept", "assign", "dismiss")


def decide_suggestion(
    *,
    suggestion: SuggestedCode,
    decision: str,
    label: str | None = None,
    code: Code | None = None,
) -> Code | None:
    """The one entry for the pages, the API and the admin: "accept" (a new code, labelled
    `label` or as suggested), "assign" (to `code`, an existing code of the codeframe) or
    "dismiss". Returns the code its answers took; None when dismissed."""
    if decision == "accept":
        return accept_suggestion(suggestion=suggestion, label=label)
    if decision == "assign":
        if code is None:
            raise InvalidEdit("Choose one of this codeframe's codes.")
        return assign_suggestion(suggestion=suggestion, code=code)
    if decision == "dismiss":
        dismiss_suggestion(suggestion=suggestion)
        return None
    raise InvalidEdit(f"Suggestions are accepted, assigned or dismissed, not {decision!r}.")


def _lock_numbers(codeframe: Codeframe) -> None:
    """Lock the tracker's first question: new code numbers are taken tracker-wide
    (`used_code_numbers`), so two frames of one tracker must not take the same one at once."""
    Question.objects.select_for_update().filter(pk=tracker_root(codeframe.question).pk).exists()


def add_code(*, codeframe: Codeframe, label: str, response: Response | None = None) -> Code:
    """A new code the analyst writes in (a theme the draft missed), numbered above every number
    the tracker used, as an accepted suggestion is; with `response`, that answer gets it as its
    primary code (its other codes in this frame go). Raises InvalidEdit for a blank label or
    an answer of another question."""
    label = label.strip()
    if not label:
        raise InvalidEdit("A code needs a label.")
    if response is not None and response.question_id != codeframe.question_id:
        raise InvalidEdit("The answer and the codeframe belong to different questions.")
    with transaction.atomic():
        _lock_numbers(codeframe)
        codeframe = Codeframe.objects.select_for_update().get(pk=codeframe.pk)
        refuse_taken_label(codeframe.codes.all(), label)
        (number,) = new_code_numbers(used_code_numbers(codeframe=codeframe), 1)
        code = Code.objects.create(
            codeframe=codeframe, number=number, label=label[:200], keywords=[], examples=[]
        )
        if response is not None:
            uncode_response(response=response, codeframe=codeframe)
            move_response(response=response, to_code=code)
            code.examples = [response.text]
            code.save(update_fields=["examples"])
    code.refresh_from_db()
    return code


def accept_suggestion(*, suggestion: SuggestedCode, label: str | None = None) -> Code:
    """Make the suggestion a code of its codeframe, numbered above every number the tracker
    used; its answers that are still uncoded get it as their primary code."""
    _pending(suggestion)
    label = (label or suggestion.label).strip()
    if not label:
        raise InvalidEdit("A code needs a label.")
    with transaction.atomic():
        _lock_numbers(suggestion.codeframe)
        codeframe = Codeframe.objects.select_for_update().get(pk=suggestion.codeframe_id)
        suggestion = _still_pending(suggestion)
        if not _uncoded_of(suggestion):
            raise InvalidEdit(
                "Every answer of this suggestion has been coded since it was made; dismiss it "
                "instead (a code without answers would take a tracker number for nothing)."
            )
        refuse_taken_label(codeframe.codes.all(), label)
        (number,) = new_code_numbers(used_code_numbers(codeframe=codeframe), 1)
        code = Code.objects.create(
            codeframe=codeframe,
            number=number,
            label=label[:200],
            keywords=suggestion.keywords,
            examples=suggestion.examples,
        )
        _take(suggestion, code)
    code.refresh_from_db()
    return code


def assign_suggestion(*, suggestion: SuggestedCode, code: Code) -> Code:
    """Code the suggestion's answers with an existing code of its codeframe instead (the group
    is a theme the frame has, in other words): those still uncoded get it as their primary
    code; no number is added."""
    _pending(suggestion)
    if code.codeframe_id != suggestion.codeframe_id:
        raise InvalidEdit("That code belongs to another codeframe.")
    with transaction.atomic():
        Codeframe.objects.select_for_update().get(pk=suggestion.codeframe_id)
        _take(_still_pending(suggestion), code)
    code.refresh_from_db()
    return code


def _pending(suggestion: SuggestedCode) -> None:
    if suggestion.status != SuggestedCode.Status.PENDING:
        raise SuggestionDecided(f"This suggestion is already {suggestion.status}.")


def _still_pending(suggestion: SuggestedCode) -> SuggestedCode:
    """In a transaction that holds its codeframe's lock: the suggestion as stored now, which
    must still be pending (a second click or another analyst may have decided it since the
    page was read)."""
    current = SuggestedCode.objects.filter(pk=suggestion.pk).first()
    if current is None:  # `services.drop_from_suggestions`
        raise InvalidEdit(
            f"Suggestion “{suggestion.label}” is gone: its answers were coded by hand since the "
            "page was read."
        )
    _pending(current)
    return current


def _uncoded_of(suggestion: SuggestedCode) -> list[int]:
    """The suggestion's answers (ids, in its order) that still have no primary code."""
    coded = set(
        Assignment.objects.filter(
            codeframe_id=suggestion.codeframe_id,
            response_id__in=suggestion.response_ids,
            is_primary=True,
        ).values_list("response_id", flat=True)
    )
    return [pk for pk in suggestion.response_ids if pk not in coded]


def _take(suggestion: SuggestedCode, code: Code) -> None:
    """In a transaction: the suggestion's answers still without a primary code get `code` as
    the Find answers page codes them (`services.add_code_to_answers`: coded by hand); the
    suggestion is accepted as `code`."""
    uncoded = _uncoded_of(suggestion)
    suggestion.status = SuggestedCode.Status.ACCEPTED  # first: marking drops pending ones
    suggestion.code = code
    suggestion.save(update_fields=["status", "code"])
    add_code_to_answers(code=code, response_ids=uncoded)


def dismiss_suggestion(*, suggestion: SuggestedCode) -> SuggestedCode:
    """The analyst does not want this code; its answers stay uncoded ("Other")."""
    _pending(suggestion)
    with transaction.atomic():
        Codeframe.objects.select_for_update().get(pk=suggestion.codeframe_id)
        suggestion = _still_pending(suggestion)
        suggestion.status = SuggestedCode.Status.DISMISSED
        suggestion.save(update_fields=["status"])
    return suggestion


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
    rows = list(
        Codeframe.objects.filter(question__in=tracker_questions(question=question)).values_list(
            "pk", "coded_with_id", "question_id", "created"
        )
    )
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
    codeframe, else its newest. A wave without a label is known by its order."""
    series = tracker_series(question=question)
    root = tracker_root(question)
    found = []
    for position, wave_question in enumerate(tracker_questions(question=question), 1):
        frames = wave_question.codeframes.all()
        if series is not None:
            frames = frames.filter(pk__in=series.frames)
        elif wave_question.pk != root.pk:
            frames = frames.none()  # no wave coded from the first one yet: none is in it
        frames = frames.annotate(
            coded_later=Exists(Codeframe.objects.filter(coded_with=OuterRef("pk"))),
            is_wave=Q(coded_with__isnull=False),
        ).order_by("-approved", "-coded_later", "-is_wave", "-created", "-id")
        number = wave_question.wave_order or position
        found.append(
            TrackerWave(
                question=wave_question,
                number=number,
                label=wave_question.wave_label or str(number),
                codeframe=frames.select_related("question").first(),
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


# The one row of `TrackerTables.uncoded`: answers without a code (the codeframe page's
# "Uncoded": blanks, non-answers without a code, answers no code fits). Its share growing wave
# on wave says the approved frame is getting stale.
UNCODED = 0
UNCODED_LABEL = "Uncoded (no code)"


class TrackerTables(NamedTuple):
    codes: tracker_stats.Tracker  # per code number
    nets: tracker_stats.Tracker  # per net number
    uncoded: tracker_stats.Tracker  # one row, UNCODED


def tracker_tables(*, question: Question) -> TrackerTables:
    """(codes, nets, uncoded): each code's and each net's share per wave of the question's
    tracker (`codeframe.tracker`), and the share of answers without a code, from the codeframes
    of `tracker_waves`; a wave not coded yet has its base and no shares (and the next wave no
    change), rather than being skipped. A net counts an answer once however many of its codes
    it carries, with each wave's own grouping (a code regrouped in a later wave does not move
    earlier waves' answers, and the net has no change across the regrouping:
    `Cell.redefined`); nets without codes are left out. A code or net a wave's frame lacks has
    no share there (not asked about, as in the stacked SPSS file). Labels are the newest
    wave's that has the code or net. The uncoded share of a wave coded with a frame has no
    change from a generated wave's (the approved frame's own, where generation gave every theme
    answer a code): "fits no code" is only decided in coded waves, so the jump says nothing
    about the answers."""
    code_waves, net_waves, uncoded_waves, codes, nets = [], [], [], {}, {}
    generated_before = None
    found = tracker_waves(question=question)
    merges = _merges(w.codeframe for w in found if w.codeframe is not None)
    for wave in found:
        label, frame = wave.label, wave.codeframe
        if frame is None:  # not coded yet: its base, no shares, no change into the next wave
            base = wave.question.responses.count()
            for kept in (code_waves, net_waves, uncoded_waves):
                kept.append(tracker_stats.WaveCounts(label, base, {}, present=frozenset()))
            continue
        base = frame.question.responses.count()
        rows = frame.codes.annotate(n=Count("assignments")).values_list("number", "label", "n")
        counts = {}
        for number, code_label, n in rows.order_by("number"):
            counts[number] = n
            codes[number] = code_label
        coded = frame.question.responses.filter(
            assignments__codeframe=frame, assignments__is_primary=True
        )
        generated = frame.coded_with_id is None
        uncoded_waves.append(
            tracker_stats.WaveCounts(
                label,
                base,
                {UNCODED: base - coded.distinct().count()},
                follows=generated_before in (None, generated),
            )
        )
        generated_before = generated
        asked = asked_codes(codeframe=frame)
        holds = _merged({**merges, **_own_merges(frame)}, counts)
        code_wave = tracker_stats.WaveCounts(
            label, base, counts, present=frozenset(asked), holds=holds
        )
        code_waves.append(code_wave)
        named = dict(
            frame.nets.filter(codes__number__in=asked)
            .order_by("number")
            .distinct()
            .values_list("number", "label")
        )
        nets.update(named)
        net_counts = dict(
            Assignment.objects.filter(codeframe=frame, code__net__isnull=False)
            .values("code__net__number")
            .annotate(n=Count("response", distinct=True))
            .values_list("code__net__number", "n")
        )
        # A net stands for the codes it groups that the wave was coded with, and theirs: one
        # that gained or lost a code between two waves (regrouped, added, deleted, merged in
        # from another net) counts other answers, and is not compared across them.
        grouped: dict[int, set[int]] = {}
        members = frame.codes.filter(net__isnull=False, number__in=asked)
        for net, number in members.values_list("net__number", "number"):
            grouped.setdefault(net, set()).update(code_wave.stands_for(number))
        net_waves.append(
            tracker_stats.WaveCounts(
                label,
                base,
                net_counts,
                present=frozenset(named),
                holds={net: frozenset(numbers) for net, numbers in grouped.items()},
            )
        )
    return TrackerTables(
        codes=tracker_stats.tracker(code_waves, codes=codes),
        nets=tracker_stats.tracker(net_waves, codes=nets),
        uncoded=tracker_stats.tracker(uncoded_waves, codes={UNCODED: UNCODED_LABEL}),
    )


def _merges(frames: Iterable[Codeframe]) -> dict[int, int]:
    """Every merge the tracker's frames record (`params["merged_into"]`, number -> number; a
    merge carried back is recorded in the approved frame too)."""
    into: dict[int, int] = {}
    for frame in frames:
        into.update(_own_merges(frame))
    return into


def _own_merges(frame: Codeframe) -> dict[int, int]:
    """The merges the frame records: its own, and (an approved frame's) those carried back. A
    number merged into one code in this wave and into another in a later one follows this
    wave's own merge here (`tracker_tables` lays them over every frame's)."""
    return {int(n): int(t) for n, t in frame.params.get("merged_into", {}).items()}


def _merged(merges: dict[int, int], codes: dict[int, int]) -> dict[int, frozenset[int]]:
    """Per code of a wave's frame (`codes`), the numbers it stands for when it has others merged
    into it that the frame does not keep apart (a wave coded before the merge still has them).
    A merged number's answers are in the first code along its chain of merges that the frame
    has (12 into 7 in this wave, 7 into 3 only in a later one: 7 holds 12 here)."""
    absorbed: dict[int, set[int]] = {}
    for number in merges:
        if number not in codes and (holder := merge_holder(number, merges, codes)) is not None:
            absorbed.setdefault(holder, {holder}).add(number)
    return {code: frozenset(numbers) for code, numbers in absorbed.items()}


# --- helpers ------------------------------------------------------------------------------

# The net number given, while storing, to codes that have none; that net is then deleted.
_NO_NET = 2**31 - 1


def _draft_like(codeframe: Codeframe, coded, embedding: dict) -> CodeframeDraft:
    """The approved frame's nets and codes (same numbers and labels) with the wave's codes."""
    nets = list(codeframe.nets.order_by("number"))
    codes = list(codeframe.codes.select_related("net").order_by("number"))
    net_members: dict[int, list[int]] = {}
    draft_codes = []
    for code in codes:
        net_number = code.net.number if code.net else _NO_NET
        net_members.setdefault(net_number, []).append(code.number)
        draft_codes.append(
            DraftCode(
                id=code.number,
                label=code.label,
                keywords=list(code.keywords),
                net_id=net_number,
                net=code.net.label if code.net else "",
                size=0,
                examples=list(code.examples),
                kind=code.kind,
            )
        )
    draft_nets = [
        DraftNet(id=net.number, label=net.label, code_ids=net_members.get(net.number, []))
        for net in nets
    ]
    if _NO_NET in net_members:
        draft_nets.append(DraftNet(id=_NO_NET, label="", code_ids=net_members[_NO_NET]))
    return CodeframeDraft(
        codes=draft_codes,
        nets=draft_nets,
        assignments=coded.assignments,
        confidences=coded.confidences,
        params={"coded_with": codeframe.pk, **coded.params},
        timings={**embedding, **coded.timings},
    )
