"""Importing answers: a file's or a list's rows into a question, with respondent ids."""

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from django.db import transaction
from django.db.models import Max
from django.db.models.deletion import RestrictedError

from codeframe.conf import get_config
from codeframe.exceptions import ImportFailed, TooManyResponses
from codeframe.importers import MAX_ID_CHARS, ImportedRow
from codeframe.models import Project, Question, Response
from codeframe.services.deletion import depending_waves, refuse_while_coding, reserve_numbers
from codeframe.services.projects import default_project

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportResult:
    question: Question
    imported: int
    skipped: int  # blank answers
    numbered: int = 0  # answers without a respondent id: numbered by their line or position
    deleted_codeframes: tuple[int, ...] = ()  # replacing: the question's codeframes it deleted

    def id_notice(self, *, option: str) -> str:
        return id_notice(self.numbered, option=option)


def id_notice(numbered: int, *, option: str) -> str:
    """For an imported file of which `numbered` answers had no respondent id: that no id column
    was found, naming the `option` that chooses one; "" when every answer had its id. Line
    numbers look like serials, and the codes would be merged back onto the wrong cases without
    a word."""
    if not numbered:
        return ""
    one = numbered == 1
    return (
        f"No respondent id was found for {numbered:,} answer{'' if one else 's'}, so "
        f"{'it was' if one else 'they were'} numbered instead (by line, or after the "
        "question's other answers). To merge the codes back onto the survey's cases, "
        f"import again naming the id column ({option})."
    )


def pasted_notice(numbered: int) -> str:
    """For answers pasted into a question that had answers already: they have no respondent id
    and were numbered after the others, which may have come from a survey file with ids; such
    numbers can be real serials there, and their codes would merge onto other respondents."""
    if not numbered:
        return ""
    one = numbered == 1
    return (
        f"The pasted answer{'' if one else 's'} had no respondent id, so "
        f"{'it was' if one else 'they were'} numbered after the question's other answers. If "
        "those came from a survey file, these numbers may be real ids there: merge codes back "
        "onto the survey by id only for the file's answers, or import the new answers as a "
        "file with their id column."
    )


def import_responses(
    *,
    rows: Iterable[ImportedRow],
    question: Question | None = None,
    project: Project | None = None,
    survey: str = "",
    question_text: str = "",
    replace: bool = False,
) -> ImportResult:
    """Add the non-blank answers in `rows` to `question` (or to a new question of `project`,
    default the shared "Default" project, made from `survey` and `question_text`), all or
    nothing.

    `replace` first deletes the question's answers and their codeframes. Concurrent imports
    into one question wait for each other (the question row is locked), so positions never
    interleave and the limit holds. Raises ImportFailed (from the reader, or when there is no
    answer at all) and TooManyResponses above CODEFRAME["MAX_RESPONSES"]; with `replace`,
    InUse while a wave is being coded with one of the question's codeframes. The rows'
    iterator is closed in every case (an XLSX reader closes its workbook then).
    """
    try:
        return _import_responses(
            rows=rows,
            question=question,
            project=project,
            survey=survey,
            question_text=question_text,
            replace=replace,
        )
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()


def _import_responses(*, rows, question, project, survey, question_text, replace) -> ImportResult:
    config = get_config()
    limit, batch_size = config["MAX_RESPONSES"], config["BATCH_SIZE"]
    with transaction.atomic():
        if question is None:
            if not survey.strip():
                raise ImportFailed("Give the survey a name.")
            question = Question.objects.create(
                project=project or default_project(),
                survey=survey.strip(),
                text=question_text.strip(),
            )
        else:
            # Serialises imports into this question (and codeframes stored for it) until commit.
            if not lock_question(question):
                raise ImportFailed("The question was deleted.")
        if replace:
            frames = question.codeframes.all()
            _refuse_replacing_a_wave(frames, question)
            try:
                refuse_while_coding(frames, "These answers cannot be replaced", question=question)
                if question.later_waves.exists():  # as RESTRICT would, for a wave not coded yet
                    raise ImportFailed(
                        f"These answers cannot be replaced: {depending_waves(question=question)}"
                    )
                reserve_numbers(frames)
                deleted = tuple(frames.order_by("pk").values_list("pk", flat=True))
                frames.delete()
            except RestrictedError as exc:
                raise ImportFailed(
                    f"These answers cannot be replaced: {depending_waves(question=question)}"
                ) from exc
            question.responses.all().delete()
        else:
            deleted = ()
        existing = question.responses.count()
        start = (question.responses.aggregate(last=Max("position"))["last"] or 0) + 1
        ids = _RespondentIds(question if existing else None)
        imported = skipped = numbered = 0
        iterator = iter(rows)
        while batch := list(islice(iterator, batch_size)):
            objects = []
            for row in batch:
                if not row.text.strip():
                    skipped += 1
                    continue
                position = start + imported + len(objects)
                numbered += not row.respondent_id
                objects.append(
                    Response(
                        question=question,
                        # Answers added to a question number on from its positions.
                        respondent_id=ids.take(row, position if existing else row.line),
                        id_given=bool(row.respondent_id),
                        text=row.text,
                        position=position,
                    )
                )
            if existing + imported + len(objects) > limit:
                raise TooManyResponses(
                    f"More than {limit:,} answers for one question; split the file."
                )
            Response.objects.bulk_create(objects)
            imported += len(objects)
        if imported == 0:
            raise ImportFailed(
                "No answers found: the file or text has no non-empty answer in that column."
            )
    logger.info("imported %d answers into question %s (%d blank)", imported, question.pk, skipped)
    return ImportResult(
        question=question,
        imported=imported,
        skipped=skipped,
        numbered=numbered,
        deleted_codeframes=deleted,
    )


def _refuse_replacing_a_wave(frames, question: Question) -> None:
    """A wave's answers coded with the tracker's approved frame are not replaced: that would
    delete the wave's codeframe and its review without a word, and a question's answers are
    coded with an approved frame only as a new wave, so this one could never be coded in the
    tracker's numbering again."""
    coded = frames.filter(coded_with__isnull=False).order_by("pk")
    if not coded.exists():
        return
    wave = question.wave_label or str(question.pk)
    ids = ", ".join(f"#{pk}" for pk in coded.values_list("pk", flat=True))
    approved = coded.first().coded_with_id
    # Coded again, a middle wave goes last unless it is given its own number back.
    middle = Question.objects.filter(
        tracker_id=question.tracker_id, wave_order__gt=question.wave_order or 0
    ).exists()
    keep_place = (
        f" with its wave number, {question.wave_order}, to keep its place before the later waves"
        if middle and question.wave_order
        else ""
    )
    raise ImportFailed(
        f"These answers cannot be replaced: they are wave “{wave}” of a tracker, coded with "
        f"approved codeframe #{approved} (codeframe {ids}), and replacing them would delete "
        "that coding and its review. To load a corrected file, delete this wave's question "
        f"and code the wave again from codeframe #{approved} (the label is free again)"
        f"{keep_place}; to add late answers, import without replacing."
    )


class _RespondentIds:
    """Every answer of a question gets its own respondent id, which exports are merged back
    onto the survey data by. An id the rows give twice, or one `question`'s answers already
    have, is refused; rows without one (pasted text, a file without an id column) are numbered:
    by line in a new question, from their position on in one with answers, skipping taken
    numbers."""

    def __init__(self, question: Question | None) -> None:
        self.seen: dict[str, int | None] = {}
        self.next_free = 0  # every number from a row's own up to this one is taken
        if question is not None:
            self.seen = dict.fromkeys(question.responses.values_list("respondent_id", flat=True))

    def take(self, row: ImportedRow, number: int) -> str:
        """The row's id: its own, refused if taken, or the first free number from `number`."""
        respondent = row.respondent_id
        if respondent and respondent in self.seen:
            first = self.seen[respondent]
            where = f"line {first}" if first is not None else "an answer this question has"
            raise ImportFailed(
                f"Line {row.line}: respondent id {respondent!r} is already on {where}. "
                "Each respondent answers once; fix the ids, or choose another id column."
            )
        if not respondent:
            # Rows' numbers only grow, so the search goes on from the last one given, not from
            # each row's own (20,000 taken serials above the positions would mean 10^8 steps).
            number = max(number, self.next_free)
            while str(number) in self.seen:
                number += 1
            respondent, self.next_free = str(number), number + 1
        self.seen[respondent] = row.line
        return respondent


def lock_question(question: Question) -> bool:
    """Lock the question's row until the transaction ends; False if it is gone."""
    return bool(list(Question.objects.select_for_update().filter(pk=question.pk).values_list("pk")))


def import_texts(
    *,
    texts: list[str],
    project: Project | None = None,
    survey: str = "API upload",
    question_text: str = "",
    respondent_ids: list[str] | None = None,
) -> Question:
    """Store `texts` as a new question's answers in `project`, with `respondent_ids` (one per
    text; default 1, 2, ...)."""
    rows = text_rows(texts, respondent_ids)
    return import_responses(
        rows=rows, project=project, survey=survey, question_text=question_text
    ).question


def text_rows(texts: list[str], respondent_ids: list[str] | None = None) -> Iterator[ImportedRow]:
    """Rows of answers sent as a list (the API), with their respondent ids or 1, 2, ..."""
    if respondent_ids is None:
        respondent_ids = [""] * len(texts)
    elif len(respondent_ids) != len(texts):
        raise ImportFailed(f"{len(respondent_ids):,} respondent ids for {len(texts):,} answers.")
    elif not all(r.strip() for r in respondent_ids):
        blank = next(i for i, r in enumerate(respondent_ids) if not r.strip())
        raise ImportFailed(f"respondent_ids[{blank}] is blank; every answer needs an id.")
    elif long := [i for i, r in enumerate(respondent_ids) if len(r.strip()) > MAX_ID_CHARS]:
        raise ImportFailed(
            f"respondent_ids[{long[0]}] is longer than {MAX_ID_CHARS} characters, the limit."
        )
    ids = [r.strip() for r in respondent_ids]
    return (
        ImportedRow(line=i, respondent_id=r, text=t)
        for i, (r, t) in enumerate(zip(ids, texts, strict=True), 1)
    )
