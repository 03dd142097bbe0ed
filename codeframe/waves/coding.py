"""Coding a wave: approving a codeframe, importing a new wave's answers, coding them with the
approved frame (`codeframe.coding`) and storing the result with its suggested new codes; coding
a wave again, keeping what analysts coded by hand."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from unicodedata import category, normalize

from django.db import transaction

from codeframe import param_keys
from codeframe.carryback import frame_shape
from codeframe.coding import code_answers
from codeframe.exceptions import (
    CodeframeError,
    InvalidEdit,
    NoResponses,
    NotApproved,
    NotAWaveFrame,
    NotTheWavesFrame,
)
from codeframe.generation import CodeframeDraft, DraftCode, DraftNet
from codeframe.importers import ImportedRow
from codeframe.models import Assignment, Codeframe, HandCoded, Net, Question, SuggestedCode
from codeframe.param_keys import CARRY_BASE
from codeframe.selectors import coded_with, is_tracker, merge_holder, question_texts
from codeframe.services import (
    drop_from_suggestions,
    embed_answers,
    import_responses,
    lock_codeframe,
    mark_hand_coded,
    refresh_sizes,
    store_draft,
)
from codeframe.suggestions import suggest_codes
from codeframe.validators import has_visible, is_one_line, label_key
from codeframe.waves.series import (
    classifier_examples,
    replaced_by,
    replaced_message,
    tracker_questions,
    tracker_root,
    tracker_series,
    tracker_wave,
    wave_places,
)

logger = logging.getLogger(__name__)


def approve_codeframe(*, codeframe: Codeframe, approved: bool = True) -> Codeframe:
    """Mark the codeframe approved (or not): only approved frames code new waves. Raises
    NotTheWavesFrame when approving a wave's codeframe that another replaced (`replaced_by`)."""
    if approved and not codeframe.approved and (newer := replaced_by(codeframe=codeframe)):
        raise NotTheWavesFrame(replaced_message(codeframe, newer))
    codeframe.approved = approved
    codeframe.save(update_fields=["approved"])
    return codeframe


def code_wave(
    *,
    codeframe: Codeframe,
    rows: Iterable[ImportedRow],
    wave: str,
    embed=None,
    order: int | None = None,
) -> Codeframe:
    """Import `rows` as wave `wave` of the codeframe's tracker (a new question with the same
    survey and text), code it with the approved `codeframe` and store the result as a new
    codeframe keeping every number, label and net, with suggested new codes for the answers
    that fit none. All or nothing: `start_wave`, then `code_wave_question`, in one transaction.
    `order`: the wave's number in the tracker, as for `start_wave`.

    `embed` is as for `code_wave_question`; without it the answers and the frame's examples are
    embedded through the cache before the transaction starts, so the slow part never holds
    the database's write lock (on SQLite every other write would wait for it, then fail).
    Raises NotApproved, InvalidEdit (blank or repeated wave label), and what
    `services.import_responses` raises (ImportFailed, TooManyResponses).
    """
    if embed is None:
        # Refused before anything is embedded (minutes at scale); `start_wave` checks both
        # again under the tracker's lock.
        _check_wave(codeframe=codeframe, wave=wave)
        _wave_place(question=codeframe.question, order=order)
        rows = list(rows)
        texts = {row.text for row in rows if row.text.strip()}
        texts.update(t for ts in classifier_examples(codeframe=codeframe).values() for t in ts)
        embed_answers(sorted(texts))  # cached now: the embedding inside reads the cache
    with transaction.atomic():
        question = start_wave(codeframe=codeframe, rows=rows, wave=wave, order=order)
        return code_wave_question(question=question, codeframe=codeframe, embed=embed)


def _check_wave(*, codeframe: Codeframe, wave: str) -> str:
    """The wave's label, stripped, if the frame may code it. Raises NotApproved, InvalidEdit."""
    _check_codes_waves(codeframe=codeframe)
    if not wave.strip():
        raise InvalidEdit("Give the wave a label, e.g. 2027-01.")
    return _wave_label(question=codeframe.question, label=wave)


def wave_refusal(*, codeframe: Codeframe) -> str | None:
    """Why the codeframe cannot code a new wave, or None when it can: what the pages say
    before an analyst fills in a wave's form only to have it refused."""
    try:
        _check_codes_waves(codeframe=codeframe)
    except (NotApproved, InvalidEdit) as exc:
        return str(exc)
    return None


def _check_codes_waves(*, codeframe: Codeframe) -> None:
    """Raises NotApproved, or InvalidEdit when the frame's code numbers are not the tracker's
    (a codeframe generated afresh on a wave, or a later wave's before the first one coded
    any): its waves would not line up."""
    if not codeframe.approved:
        raise NotApproved(f"Codeframe #{codeframe.pk} is not approved; approve it first.")
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


def start_wave(
    *, codeframe: Codeframe, rows: Iterable[ImportedRow], wave: str, order: int | None = None
) -> Question:
    """The first step of coding a wave: check the frame and the label, and import `rows` as a
    wave of the tracker (a new question); returns it. Atomic. Raises as `code_wave`, and
    InvalidEdit for an `order` (its number in the tracker, `Question.wave_order`) that is not
    one of `wave_places` (default: the next number, after the newest wave)."""
    source = codeframe.question
    with transaction.atomic():
        # Checked and numbered under the tracker's lock: two waves queued at once (a
        # double submit) would otherwise both pass the check and take one label and number.
        root = _lock_tracker(source)
        wave = _check_wave(codeframe=codeframe, wave=wave)
        if root.wave_order is None:
            root.wave_order = 1
            root.wave_label = root.wave_label or "1"
            root.save(update_fields=["wave_order", "wave_label"])
            if source.pk == root.pk:  # the caller's copy, as the frame's exports read it
                source.wave_order, source.wave_label = root.wave_order, root.wave_label
        place = _wave_place(question=source, order=order)
        # The project of the frame it is coded with (the caller's access): a client's wave is
        # that client's data.
        question = import_responses(
            rows=rows, project=source.project, survey=root.survey, question_text=source.text
        ).question
        question.tracker = root
        question.wave_label = wave
        question.wave_order = place
        question.save(update_fields=["tracker", "wave_label", "wave_order"])
    return question


def _wave_place(*, question: Question, order: int | None) -> int:
    """`order` if a new wave of the question's tracker may take it (`wave_places`), or the
    next number when None. Raises InvalidEdit."""
    places = wave_places(question=question)
    if order is None:
        return places[0].number
    if order in {place.number for place in places}:
        return order
    free = [f"{p.number} (between {p.after} and {p.before})" for p in places[1:]]
    raise InvalidEdit(
        f"Wave number {order} is not free: a new wave takes the next number, "
        f"{places[0].number} (after {places[0].after})"
        + (f", or one a deleted wave left: {', '.join(free)}." if free else ".")
    )


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


@dataclass(frozen=True)
class CodedWave:
    """A tracker's wave that is coded: answers imported into it change its published base and
    stay uncoded until someone codes them (`Codeframe.coded_through`). The import page warns
    before, `manage.py import_responses` after, in these words."""

    label: str
    can_recode: bool  # "Code this wave again" would be accepted (`recode_with`)

    @property
    def heading(self) -> str:
        return f"This is wave “{self.label}” of a tracker, already coded."

    @property
    def advice(self) -> str:
        again = (
            ", or with “Code this wave again” on its codeframe's page" if self.can_recode else ""
        )
        return (
            "Answers imported into it change its base in the tracker and its exports, and stay "
            "uncoded until someone codes them: by hand (each answer's “Code as” among the "
            f"uncoded){again}. The next month's answers go in as a new wave instead (“Code a "
            "new wave” on the approved codeframe)."
        )


def coded_wave(*, question: Question | None) -> CodedWave | None:
    """`question` as a coded wave of a tracker (the tracker counts a codeframe for it), or None:
    no question, no tracker, or a wave not coded yet (nothing published)."""
    if question is None or not is_tracker(question=question):
        return None
    wave = tracker_wave(question=question)
    if wave is None or wave.codeframe is None:
        return None
    return CodedWave(label=wave.label, can_recode=can_recode(wave.codeframe))


def can_recode(codeframe: Codeframe) -> bool:
    """Whether "Code this wave again" would be accepted for the codeframe (`recode_with`)."""
    try:
        recode_with(codeframe=codeframe)
    except CodeframeError:
        return False
    return True


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
        examples = classifier_examples(codeframe=codeframe)
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
            if classifier_examples(codeframe=codeframe) != examples:
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
    and count as coded by hand there too; `stored`'s suggestions no longer offer them, nor the
    answers of a suggestion dismissed in `source` (left in "Other" on purpose). An
    answer none of whose codes `stored` has (deleted from the approved frame since, say) keeps
    the classifier's codes; one that lost some keeps the others (the first left its primary).
    Returns the HAND_CODING record."""
    lock_codeframe(source.pk)  # as a hand edit does: none half seen
    hand = list(HandCoded.objects.filter(codeframe=source).values_list("response_id", flat=True))
    codes = {code.number: code for code in stored.codes.all()}
    approved = Codeframe.objects.filter(pk=stored.coded_with_id).values_list("params", flat=True)
    merged = param_keys.merges(approved.first())  # as stored now
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
    dismissed = list(source.suggestions.filter(status=SuggestedCode.Status.DISMISSED))
    drop_from_suggestions(
        codeframe_id=stored.pk,
        response_ids={pk for suggestion in dismissed for pk in suggestion.response_ids},
    )
    if source.pk != stored.pk:  # and recorded there, so the next coding again keeps them out
        SuggestedCode.objects.bulk_create(
            SuggestedCode(
                codeframe=stored,
                label=s.label,
                keywords=s.keywords,
                examples=s.examples,
                size=s.size,
                response_ids=s.response_ids,
                status=SuggestedCode.Status.DISMISSED,
            )
            for s in dismissed
        )
    if kept:
        refresh_sizes(codeframe=stored)
    return {"from": source.pk, "kept": len(kept), "not_kept": lost}


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
