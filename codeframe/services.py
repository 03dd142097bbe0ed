"""Writes: importing answers, generating and storing codeframes, and the analysts' edits.

Every function here is atomic: on an error nothing it started is left in the database.
"""

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

import numpy as np
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q, QuerySet
from django.db.models.deletion import RestrictedError

from codeframe.conf import get_config
from codeframe.exceptions import (
    AnswersChanged,
    GenerationFailed,
    ImportFailed,
    InUse,
    InvalidEdit,
    MembershipError,
    NoResponses,
    TooManyResponses,
)
from codeframe.generation import CodeframeDraft, generate_codeframe
from codeframe.importers import MAX_ID_CHARS, ImportedRow
from codeframe.models import (
    Assignment,
    Code,
    Codeframe,
    GenerationJob,
    HandCoded,
    Membership,
    Net,
    Project,
    Question,
    Response,
    Role,
    SuggestedCode,
)
from codeframe.selectors import question_texts
from codeframe.suggestions import MIN_SUGGESTION_SIZE
from codeframe.validators import has_visible, label_key, one_line
from embeddings.services import embed_texts, embed_texts_with_report

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
            if not _lock_question(question):
                raise ImportFailed("The question was deleted.")
        if replace:
            frames = question.codeframes.all()
            _refuse_replacing_a_wave(frames, question)
            try:
                _refuse_while_coding(frames, "These answers cannot be replaced", question=question)
                if question.later_waves.exists():  # as RESTRICT would, for a wave not coded yet
                    raise ImportFailed(
                        f"These answers cannot be replaced: {_in_use(question=question)}"
                    )
                _reserve_numbers(frames)
                deleted = tuple(frames.order_by("pk").values_list("pk", flat=True))
                frames.delete()
            except RestrictedError as exc:
                raise ImportFailed(
                    f"These answers cannot be replaced: {_in_use(question=question)}"
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
    # A wave coded (again) is the tracker's newest: deleting a middle one and coding it again
    # would put it after the waves that came after it.
    later = Question.objects.filter(
        tracker_id=question.tracker_id, wave_order__gt=question.wave_order or 0
    ).order_by("wave_order")
    after = ", ".join(f"“{w.wave_name}”" for w in later)
    keep_place = (
        f" (a wave coded again comes last: to keep its place, delete the later waves {after} "
        "first and code them again after it)"
        if after
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


def _lock_question(question: Question) -> bool:
    """Lock the question's row until the transaction ends; False if it is gone."""
    return bool(list(Question.objects.select_for_update().filter(pk=question.pk).values_list("pk")))


def get_or_create_question(
    *, survey: str, text: str = "", project: Project | None = None
) -> Question:
    """The (oldest) question of `survey` in `project` (default: the shared "Default" project),
    created with `text` if there is none."""
    project = project or default_project()
    question = project.questions.filter(survey=survey).order_by("id").first()
    return question or Question.objects.create(project=project, survey=survey, text=text)


def delete_question(*, question: Question) -> None:
    """Delete the question with its answers and codeframes. Raises InUse when it is the
    first wave of a tracker with later waves, or has a frame that waves were coded with:
    deleting it would break the tracker's series (delete the later waves first)."""
    pk = question.pk
    try:
        with transaction.atomic():
            frames = question.codeframes.all()
            _refuse_while_coding(frames, "This question is kept", question=question)
            _reserve_numbers(frames)
            question.delete()
    except RestrictedError as exc:
        raise InUse(f"This question is kept: {_in_use(question=question)}") from exc
    logger.info("question %s deleted", pk)


# Key in an approved codeframe's params: numbers of deleted wave frames coded with it, which
# exports may have published; `waves.used_code_numbers` never gives them out again.
RESERVED = "reserved"


def _reserve_numbers(frames: QuerySet[Codeframe]) -> None:
    """Before wave codeframes `frames` are deleted: note every code number they have or retired
    (an accepted suggestion's number may be in exports already) in the approved frame each was
    coded with, so no later code of the tracker takes it."""
    for frame in frames.exclude(coded_with=None):
        numbers = {
            *frame.codes.values_list("number", flat=True),
            *frame.params.get("retired", []),
            *frame.params.get(RESERVED, []),  # from waves coded with this one, deleted before
        }
        # Locked and read afresh: a carry-back writes its params too.
        approved = Codeframe.objects.select_for_update().get(pk=frame.coded_with_id)
        approved.params = {
            **approved.params,
            RESERVED: sorted({*approved.params.get(RESERVED, []), *map(int, numbers)}),
        }
        approved.save(update_fields=["params"])


def _refuse_while_coding(
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
        _refuse_while_coding(frames, f"Codeframe #{pk} is kept")
        try:
            _reserve_numbers(frames)
            codeframe.delete()
        except RestrictedError as exc:
            raise InUse(f"Codeframe #{pk} is kept: {_in_use(codeframe=codeframe)}") from exc
    logger.info("codeframe %s deleted", pk)


def _in_use(*, question: Question | None = None, codeframe: Codeframe | None = None) -> str:
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


# --- Projects and members -------------------------------------------------------------------

DEFAULT_PROJECT = "Default"


def default_project() -> Project:
    """The shared project of questions made without one (commands, the demo, questions from
    before projects existed). Only superusers and its members see it."""
    project = Project.objects.filter(name=DEFAULT_PROJECT, personal_for=None).order_by("id").first()
    return project or Project.objects.create(name=DEFAULT_PROJECT)


def personal_project(*, user) -> Project:
    """The user's own project, made (with the user as its manager) on first use. Only the
    user is ever a member of it (`set_member` refuses others). A project marked personal for
    the user that the user does not manage alone is not theirs (someone marked it so, to
    receive their uploads): it loses the mark, and the user gets a project of their own."""
    try:
        project = user.personal_project
    except Project.DoesNotExist:
        project = None
    if project is not None:
        members = list(project.memberships.values_list("user_id", "role"))
        if members == [(user.pk, Role.MANAGER)]:
            return project
        logger.warning(
            "project %s was marked personal for user %s, who does not manage it alone: unmarked",
            project.pk,
            user.pk,
        )
        Project.objects.filter(pk=project.pk).update(personal_for=None)
        user.personal_project = None
    try:
        with transaction.atomic():
            project = Project.objects.create(
                name=f"{user.get_username()}'s project", personal_for=user
            )
            Membership.objects.create(project=project, user=user, role=Role.MANAGER)
    except IntegrityError:
        # Another request of the same user made it first.
        project = Project.objects.get(personal_for=user)
    user.personal_project = project
    return project


def create_project(*, name: str, manager) -> Project:
    """A new project with `manager` as its first manager."""
    name = name.strip()
    if not name:
        raise MembershipError("Give the project a name.")
    with transaction.atomic():
        project = Project.objects.create(name=name[:200])
        Membership.objects.create(project=project, user=manager, role=Role.MANAGER)
    logger.info("project %s created by user %s", project.pk, manager.pk)
    return project


def set_member(*, project: Project, username: str, role: Role | str) -> Membership:
    """Add the user called `username` to the project with `role`, or change their role."""
    if role not in Role.values:
        raise MembershipError(f"Unknown role {role!r}.")
    if project.personal_for_id is not None:
        # Checked first: whether a username exists is not for anyone to probe through theirs.
        raise MembershipError(
            "A personal project is its owner's alone; create a project to share work."
        )
    user = get_user_model().objects.filter(username=username.strip(), is_active=True).first()
    if user is None:
        raise MembershipError(f"There is no active user {username.strip()!r}.")
    with transaction.atomic():
        membership, created = Membership.objects.select_for_update().get_or_create(
            project=project, user=user, defaults={"role": role}
        )
        if not created and membership.role != role:
            if membership.role == Role.MANAGER:
                _keep_a_manager(project, leaving=membership)
            membership.role = role
            membership.save(update_fields=["role"])
    logger.info("project %s: user %s is %s", project.pk, user.pk, role)
    return membership


def remove_member(*, membership: Membership) -> None:
    """Take the user out of the project; a project keeps at least one manager."""
    with transaction.atomic():
        if membership.role == Role.MANAGER:
            _keep_a_manager(membership.project, leaving=membership)
        membership.delete()
    logger.info("project %s: user %s removed", membership.project_id, membership.user_id)


def _keep_a_manager(project: Project, *, leaving: Membership) -> None:
    managers = (
        Membership.objects.select_for_update()
        .filter(project=project, role=Role.MANAGER)
        .exclude(pk=leaving.pk)
    )
    if not managers.exists():
        raise MembershipError("A project needs at least one manager; make someone else one first.")


def prepare_generation(*, question: Question) -> tuple[list[int], list[str]]:
    """The first step of a generation: (response ids, texts) of the question's answers, in
    import order. Raises NoResponses or TooManyResponses."""
    responses = question_texts(question=question)
    if not responses:
        raise NoResponses(f"“{question}” has no answers yet; import some first.")
    limit = get_config()["MAX_RESPONSES"]
    if len(responses) > limit:
        raise TooManyResponses(f"{len(responses):,} answers is more than the limit of {limit:,}.")
    return [pk for pk, _ in responses], [text for _, text in responses]


class PhraseEmbedder:
    """`embed_texts` for the generator's candidate label phrases (cached like the answers),
    counting them: they add to the cache's counters beside the answers, and the codeframe's
    timings say how many (`label_phrase_lookups`)."""

    def __init__(self) -> None:
        self.lookups = 0

    def __call__(self, phrases: list[str]) -> np.ndarray:
        self.lookups += len(phrases)
        return embed_texts(phrases)


def embed_answers(
    texts: list[str],
    *,
    batch: int | None = None,
    on_batch: Callable[[int, int, int], None] | None = None,
) -> tuple[np.ndarray, dict]:
    """Embed `texts` through the cache: the vectors, and the timings a codeframe keeps
    (embedding_seconds, cache_hits, cache_misses). With `batch`, in batches of that many,
    calling `on_batch(done, hits, misses)` after each (a job's progress report)."""
    size = batch or max(len(texts), 1)
    parts: list[np.ndarray] = []
    hits = misses = 0
    seconds = 0.0
    for start in range(0, len(texts), size):
        result = embed_texts_with_report(texts[start : start + size])
        parts.append(result.vectors)
        hits, misses, seconds = hits + result.hits, misses + result.misses, seconds + result.seconds
        if on_batch is not None:
            on_batch(min(start + size, len(texts)), hits, misses)
    vectors = np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)
    return vectors, {"embedding_seconds": seconds, "cache_hits": hits, "cache_misses": misses}


def create_codeframe(
    *,
    question: Question,
    n_codes: int | None = None,
    max_codes: int | None = None,
    random_state: int = 0,
) -> Codeframe:
    """Generate a codeframe for the question's answers in this process and store it; returns it.

    The same steps a background job runs (`codeframe.jobs`), without a job row or progress.
    Raises NoResponses, TooManyResponses, or GenerationFailed when the draft does not fit the
    answers (then nothing is stored).
    """
    started = time.perf_counter()
    ids, texts = prepare_generation(question=question)
    vectors, embedding = embed_answers(texts)
    phrases = PhraseEmbedder()
    draft = generate_codeframe(
        texts,
        vectors=vectors,
        embed=phrases,
        n_codes=n_codes,
        max_codes=max_codes,
        random_state=random_state,
    )
    return store_codeframe(
        question=question,
        response_ids=ids,
        draft=draft,
        embedding={**embedding, "label_phrase_lookups": phrases.lookups},
        started=started,
    )


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


def create_codeframe_from_texts(
    *,
    texts: list[str],
    project: Project | None = None,
    survey: str = "API upload",
    question_text: str = "",
    **options,
) -> Codeframe:
    """Store `texts` as a new question's answers (in `project`), then `create_codeframe`."""
    question = import_texts(
        texts=texts, project=project, survey=survey, question_text=question_text
    )
    return create_codeframe(question=question, **options)


def store_codeframe(
    *,
    question: Question,
    response_ids: list[int],
    draft: CodeframeDraft,
    embedding: dict[str, float],
    started: float,
    before_commit: Callable[[Codeframe], None] | None = None,
) -> Codeframe:
    """The last step of a generation: store `draft` for the answers `response_ids` in one
    transaction. `embedding` carries embedding_seconds, cache_hits and cache_misses;
    `started` is the `time.perf_counter()` the generation began at. `before_commit(codeframe)`
    runs inside the transaction (a job marks itself done there, so both land or neither).

    Raises GenerationFailed when the draft does not fit the answers (nothing is stored).
    """
    timings = {**draft.timings, **embedding}
    codeframe = _store(
        question=question,
        response_ids=response_ids,
        draft=draft,
        timings=timings,
        started=started,
        before_commit=before_commit,
    )
    logger.info(
        "codeframe %s for question %s: %d answers, %d codes, %.2f s",
        codeframe.pk,
        question.pk,
        len(response_ids),
        len(draft.codes),
        codeframe.timings["total_seconds"],
    )
    return codeframe


def _store(
    *,
    question: Question,
    response_ids: list[int],
    draft: CodeframeDraft,
    timings: dict[str, float],
    started: float,
    before_commit: Callable[[Codeframe], None] | None,
) -> Codeframe:
    if len(draft.assignments) != len(response_ids) or len(draft.confidences) != len(response_ids):
        raise GenerationFailed(
            f"the draft codes {len(draft.assignments)} answers, the question has "
            f"{len(response_ids)}"
        )
    try:
        return _store_draft(
            question=question,
            response_ids=response_ids,
            draft=draft,
            timings=timings,
            started=started,
            before_commit=before_commit,
        )
    except IntegrityError as exc:
        # A delete that slipped past the check below (a database without row locks).
        raise _answers_changed(question) from exc


def _answers_changed(question: Question) -> AnswersChanged:
    return AnswersChanged(
        f"The answers of “{question}” changed while the codeframe was being generated; "
        "nothing was stored. Generate it again."
    )


def _store_draft(
    *,
    question: Question,
    response_ids: list[int],
    draft: CodeframeDraft,
    timings: dict[str, float],
    started: float,
    before_commit: Callable[[Codeframe], None] | None,
) -> Codeframe:
    batch_size = get_config()["BATCH_SIZE"]
    with transaction.atomic():
        # A write first: SQLite then takes its write lock (waiting its turn) instead of failing
        # a later read-to-write upgrade with "database is locked".
        codeframe = Codeframe.objects.create(
            question=question,
            params=_jsonable(draft.params),
            timings={k: float(v) for k, v in timings.items()},
            cache_hits=int(timings.get("cache_hits", 0)),
            cache_misses=int(timings.get("cache_misses", 0)),
            response_count=len(response_ids),
            coded_through=max(response_ids, default=None),
        )
        # The answers were read outside this transaction (generation takes seconds): an import
        # with `replace` may have deleted them since. Imports lock the same row.
        if not _lock_question(question):
            raise _answers_changed(question)
        current = set(Response.objects.filter(question_id=question.pk).values_list("pk", flat=True))
        if not current.issuperset(response_ids):
            raise _answers_changed(question)
        nets = {
            net.id: Net(codeframe=codeframe, number=net.id, label=net.label[:200])
            for net in draft.nets
        }
        Net.objects.bulk_create(nets.values())
        codes = {}
        for draft_code in draft.codes:
            net = nets.get(draft_code.net_id)
            if net is None:
                net = nets[draft_code.net_id] = Net(
                    codeframe=codeframe, number=draft_code.net_id, label=draft_code.net[:200]
                )
                net.save()
            codes[draft_code.id] = Code(
                codeframe=codeframe,
                net=net,
                number=draft_code.id,
                label=draft_code.label[:200],
                keywords=list(draft_code.keywords),
                kind=draft_code.kind,
                examples=list(draft_code.examples),
            )
        Code.objects.bulk_create(codes.values())
        pending: list[Assignment] = []
        for response_id, code_ids, confidences in zip(
            response_ids, draft.assignments, draft.confidences, strict=True
        ):
            seen = set()
            for rank, (code_id, confidence) in enumerate(zip(code_ids, confidences, strict=True)):
                if code_id not in codes:
                    raise GenerationFailed(f"the draft assigns unknown code {code_id}")
                if code_id in seen:
                    continue
                seen.add(code_id)
                pending.append(
                    Assignment(
                        codeframe=codeframe,
                        response_id=response_id,
                        code=codes[code_id],
                        confidence=float(confidence),
                        is_primary=rank == 0,
                    )
                )
            if len(pending) >= batch_size:
                Assignment.objects.bulk_create(pending)
                pending = []
        Assignment.objects.bulk_create(pending)
        refresh_sizes(codeframe=codeframe)
        codeframe.timings["total_seconds"] = time.perf_counter() - started
        codeframe.save(update_fields=["timings"])
        if before_commit is not None:
            before_commit(codeframe)
    return codeframe


def _jsonable(value: object) -> object:
    """Params as JSON (numpy scalars and tuples included)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def refresh_sizes(*, codeframe: Codeframe) -> None:
    """Recount every code's size (answers with it as primary code)."""
    counts = dict(
        Code.objects.filter(codeframe=codeframe)
        .annotate(n=Count("assignments", filter=Q(assignments__is_primary=True)))
        .values_list("pk", "n")
    )
    codes = list(Code.objects.filter(codeframe=codeframe))
    for code in codes:
        code.size = counts.get(code.pk, 0)
    Code.objects.bulk_update(codes, ["size"])


def rename_code(*, code: Code, label: str) -> Code:
    """Give the code a new label (stripped, at most 200 characters)."""
    return _relabel(code, label, "A code needs a label.")


def rename_net(*, net: Net, label: str) -> Net:
    """Give the net a new label (stripped, at most 200 characters); its number stays, so a
    tracker's net rows still line up."""
    return _relabel(net, label, "A net needs a label.")


def _relabel(thing: Code | Net, label: str, blank: str) -> Code | Net:
    label = label.strip()
    if not label:
        raise InvalidEdit(blank)
    with transaction.atomic():  # as add_code: two renames at once cannot both take a label
        lock_codeframe(thing.codeframe_id)
        refuse_taken_label(
            type(thing).objects.filter(codeframe_id=thing.codeframe_id).exclude(pk=thing.pk),
            label,
        )
        thing.label = label[:200]
        thing.save(update_fields=["label"])
    return thing


def refuse_taken_label(others: QuerySet, label: str) -> None:
    """Raise InvalidEdit when one of `others` (the codeframe's other codes, or nets) has the
    label (ignoring case and look-alikes, `validators.label_key`): two codes labelled alike
    cannot be told apart in the exports (SPSS value labels, the CSV's headers) or the
    tracker."""
    try:  # every path that sets a label comes here: the pages, the API, the admin
        one_line(label)
    except ValidationError as exc:
        raise InvalidEdit(exc.messages[0]) from exc
    wanted = label_key(label[:200])  # in Python: SQLite's iexact folds ASCII letters only
    if not has_visible(label):  # zero-width spaces: a blank column heading in every export
        raise InvalidEdit("A label needs a visible character.")
    for number, other in others.order_by("number").values_list("number", "label"):
        if label_key(other) == wanted:
            kind = "Net" if others.model is Net else "Code"
            raise InvalidEdit(
                f"{kind} {number} is already labelled “{other}”: give this one a label of its "
                "own (two alike cannot be told apart in the exports)."
            )


def move_code_to_net(*, code: Code, net: Net | None) -> Code:
    """Put the code in `net` (None: in no net). Net and code numbers stay as they are."""
    if net is not None and net.codeframe_id != code.codeframe_id:
        raise InvalidEdit("That net belongs to another codeframe.")
    code.net = net
    code.save(update_fields=["net"])
    return code


def merge_codes(*, target: Code, sources: Iterable[Code]) -> Code:
    """Fold `sources` into `target`: their answers, keywords and examples move over and the
    sources are deleted. An answer keeps its primary code if that was one of them."""
    sources = [s for s in sources if s.pk != target.pk]
    if any(s.codeframe_id != target.codeframe_id for s in sources):
        raise InvalidEdit("Only codes of the same codeframe can be merged.")
    if not sources:
        return target
    with transaction.atomic():
        lock_codeframe(target.codeframe_id)
        target = _current(target)
        sources = list(Code.objects.filter(pk__in=[s.pk for s in sources]))
        if not sources:  # merged or deleted meanwhile
            return target
        source_ids = [s.pk for s in sources]
        held = {
            a.response_id: a for a in Assignment.objects.filter(code=target).select_for_update()
        }
        moving = list(
            Assignment.objects.filter(code_id__in=source_ids)
            .select_for_update()
            .order_by("response_id", "-is_primary", "-confidence")
        )
        promote: set[int] = set()
        for assignment in moving:
            kept = held.get(assignment.response_id)
            if kept is None:
                held[assignment.response_id] = assignment
                assignment.code = target
                continue
            if assignment.is_primary:
                promote.add(assignment.response_id)
            kept.confidence = max(kept.confidence, assignment.confidence)
        # Delete the duplicates first so the one-primary constraint holds at every step.
        duplicates = [a.pk for a in moving if a.code_id != target.pk]
        Assignment.objects.filter(pk__in=duplicates).delete()
        to_update = [a for a in moving if a.code_id == target.pk]
        Assignment.objects.bulk_update(to_update, ["code"])
        moved = {a.pk for a in to_update}
        kept_rows = [a for a in held.values() if a.code_id == target.pk and a.pk not in moved]
        for assignment in kept_rows:
            assignment.is_primary = assignment.is_primary or assignment.response_id in promote
        Assignment.objects.bulk_update(kept_rows, ["confidence", "is_primary"])
        for source in sorted(sources, key=lambda s: -s.size):
            target.keywords = _unique([*target.keywords, *source.keywords])
            target.examples = _unique([*target.examples, *source.examples])
        target.save(update_fields=["keywords", "examples"])
        Code.objects.filter(pk__in=source_ids).delete()
        _retire(target.codeframe_id, [s.number for s in sources], merged_into=target.number)
        refresh_sizes(codeframe=target.codeframe)
        target.refresh_from_db()
    return target


def delete_code(*, code: Code) -> None:
    """Delete the code; its answers fall back to their next most confident code, or uncoded."""
    with transaction.atomic():
        lock_codeframe(code.codeframe_id)
        code = _current(code)
        orphans = list(
            Assignment.objects.filter(code=code, is_primary=True).values_list(
                "response_id", flat=True
            )
        )
        codeframe = code.codeframe
        code.delete()
        _retire(codeframe.pk, [code.number])
        if orphans:
            fallback = _promote_next(codeframe, orphans)
            # Left uncoded by the delete, not by hand: coding the wave again codes them.
            HandCoded.objects.filter(codeframe=codeframe, response_id__in=orphans).exclude(
                response_id__in=fallback
            ).delete()
        refresh_sizes(codeframe=codeframe)


def move_response(*, response: Response, to_code: Code) -> Assignment:
    """Make `to_code` the answer's primary code in its codeframe, replacing the old primary."""
    if response.question_id != to_code.codeframe.question_id:
        raise InvalidEdit("The answer and the code belong to different questions.")
    with transaction.atomic():
        codeframe = lock_codeframe(to_code.codeframe_id)
        to_code = _current(to_code)
        left = Assignment.objects.filter(
            codeframe=codeframe, response=response, is_primary=True
        ).exclude(code=to_code)
        left_codes = list(Code.objects.filter(pk__in=left.values("code_id")))
        left.delete()
        assignment, _ = Assignment.objects.update_or_create(
            response=response,
            code=to_code,
            defaults={"codeframe": codeframe, "is_primary": True, "confidence": 1.0},
        )
        mark_hand_coded(codeframe_id=codeframe.pk, response_ids=[response.pk])
        refresh_sizes(codeframe=codeframe)
        for code in left_codes:
            _refresh_description(code)
    return assignment


@dataclass(frozen=True)
class CodesAdded:
    primary: int  # answers that had no code (or a non-answer's): `code` is their primary now
    further: int  # answers that had one: `code` is a further code beside their primary
    had_it: int  # answers that carried it already (unchanged, now counted as by hand)


def add_code_to_answers(*, code: Code, response_ids: Iterable[int]) -> CodesAdded:
    """Code those answers of the code's question with `code` as well (an analyst's "these all
    mention it"): the primary code of an answer that had none, or only a non-answer code
    ("Don't know": it mentions a theme after all, so that code goes), else a further code
    beside its primary (multi-coding; its primary stays). Every one of them counts as coded by
    hand (`mark_hand_coded`). Raises InvalidEdit, nothing changed, for ids of other questions'
    answers (a client's id typo must not quietly code less than was asked) and for a
    non-answer code on answers that have codes: it is an answer's only code."""
    wanted = _unique(list(response_ids))
    with transaction.atomic():
        codeframe = lock_codeframe(code.codeframe_id)
        code = _current(code)
        _refuse_strangers(codeframe, wanted)
        carried = Assignment.objects.filter(codeframe=codeframe, response_id__in=wanted)
        had_it = set(carried.filter(code=code).values_list("response_id", flat=True))
        if code.kind == Code.Kind.NON_ANSWER:
            if other := set(carried.values_list("response_id", flat=True)) - had_it:
                raise InvalidEdit(
                    f"“{code.label}” is a non-answer code, an answer's only code, and "
                    f"{len(other)} of these answers {'has' if len(other) == 1 else 'have'} "
                    f"codes (answer {min(other)}, say): nothing was coded. Leave those out, "
                    "or leave them uncoded first."
                )
        else:  # a theme for an answer taken for a non-answer: that code goes
            carried.filter(code__kind=Code.Kind.NON_ANSWER).delete()
        coded = set(carried.values_list("response_id", flat=True))
        Assignment.objects.bulk_create(
            [
                Assignment(
                    codeframe=codeframe,
                    response_id=pk,
                    code=code,
                    confidence=1.0,
                    is_primary=pk not in coded,
                )
                for pk in wanted
                if pk not in had_it
            ]
        )
        mark_hand_coded(codeframe_id=codeframe.pk, response_ids=wanted)
        primary = len([pk for pk in wanted if pk not in coded])
        refresh_sizes(codeframe=codeframe)
    return CodesAdded(primary=primary, further=len(coded - had_it), had_it=len(had_it))


def remove_code_from_answers(*, code: Code, response_ids: Iterable[int]) -> int:
    """Take `code` off those answers of the code's question (a wrong "Add code" undone at
    once): where it was the primary code, the answer's next most confident code takes its
    place, or it is left uncoded. The answers that carried it count as coded by hand. Returns
    how many carried it. Raises InvalidEdit, nothing changed, for ids of other questions'
    answers."""
    wanted = _unique(list(response_ids))
    with transaction.atomic():
        codeframe = lock_codeframe(code.codeframe_id)
        code = _current(code)
        _refuse_strangers(codeframe, wanted)
        held = Assignment.objects.filter(codeframe=codeframe, code=code, response_id__in=wanted)
        carried = set(held.values_list("response_id", flat=True))
        orphans = list(held.filter(is_primary=True).values_list("response_id", flat=True))
        held.delete()
        _promote_next(codeframe, orphans)
        mark_hand_coded(codeframe_id=codeframe.pk, response_ids=sorted(carried))
        refresh_sizes(codeframe=codeframe)
        _refresh_description(code)
    return len(carried)


def _refuse_strangers(codeframe: Codeframe, wanted: list[int]) -> None:
    """Raise InvalidEdit when an id of `wanted` is no answer of the codeframe's question."""
    found = set(
        Response.objects.filter(question_id=codeframe.question_id, pk__in=wanted).values_list(
            "pk", flat=True
        )
    )
    if strangers := [pk for pk in wanted if pk not in found]:
        raise InvalidEdit(
            f"This codeframe's question has no answer {strangers[0]}"
            + (f" (nor {len(strangers) - 1} more)" if len(strangers) > 1 else "")
            + ": nothing was changed."
        )


def _promote_next(codeframe: Codeframe, response_ids: list[int]) -> set[int]:
    """The answers that lost their primary code get their next most confident code as primary
    (ties: the lower number); returns those that had one (the others are left uncoded)."""
    fallback = {}
    for assignment in Assignment.objects.filter(
        codeframe=codeframe, response_id__in=response_ids
    ).order_by("response_id", "-confidence", "code__number"):
        fallback.setdefault(assignment.response_id, assignment)
    for assignment in fallback.values():
        assignment.is_primary = True
    Assignment.objects.bulk_update(fallback.values(), ["is_primary"])
    return set(fallback)


def _refresh_description(code: Code) -> None:
    """After an answer left `code`: its examples show what its answers are, so the examples no
    longer among its (primary) answers go, topped up with its most confident answers (a moved
    Spanish answer stayed an example of the code it left, in the exports too). Keywords stay:
    they describe the theme (typed by an analyst, or from a sample; a wave's come from its
    approved frame, and carry-back would take any change here back to it)."""
    texts = list(
        Response.objects.filter(assignments__code=code, assignments__is_primary=True)
        .order_by("-assignments__confidence", "position")
        .values_list("text", flat=True)
    )
    present = set(texts)
    examples = [e for e in code.examples if e in present]
    wanted = max(len(code.examples), 1)
    for text in texts:
        if len(examples) >= wanted:
            break
        if text not in examples:
            examples.append(text)
    if examples != code.examples:
        code.examples = examples
        code.save(update_fields=["examples"])


def uncode_response(*, response: Response, codeframe: Codeframe) -> None:
    """Leave the answer without any code of `codeframe` ("Other"): it fits none of them."""
    with transaction.atomic():
        lock_codeframe(codeframe.pk)
        assignments = Assignment.objects.filter(codeframe=codeframe, response=response)
        left = list(Code.objects.filter(pk__in=assignments.values("code_id")))
        assignments.delete()
        mark_hand_coded(codeframe_id=codeframe.pk, response_ids=[response.pk])
        refresh_sizes(codeframe=codeframe)
        for code in left:
            _refresh_description(code)


def confirm_coding(*, response: Response, codeframe: Codeframe) -> None:
    """An analyst checked the answer's codes in `codeframe` and they are right: they count as
    set by hand from now on (`HandCoded`: coding the wave again keeps them, and the review
    queue no longer lists the answer). Raises InvalidEdit when the answer has no code there
    (an uncoded answer is coded from the uncoded answers' page)."""
    with transaction.atomic():
        lock_codeframe(codeframe.pk)
        if not Assignment.objects.filter(codeframe=codeframe, response=response).exists():
            raise InvalidEdit(
                f"Answer {response.respondent_id} has no code in this codeframe to confirm."
            )
        mark_hand_coded(codeframe_id=codeframe.pk, response_ids=[response.pk])


def confirm_codings(*, codeframe: Codeframe, response_ids: Iterable[int]) -> int:
    """`confirm_coding` for several answers at once (the review page's "All of these are
    right"): those of `response_ids` that have a code in `codeframe` (others, uncoded since or
    of another question, are skipped). Returns how many were not confirmed before."""
    with transaction.atomic():
        lock_codeframe(codeframe.pk)
        coded = set(
            Assignment.objects.filter(codeframe=codeframe, response_id__in=list(response_ids))
            .values_list("response_id", flat=True)
            .distinct()
        )
        before = set(
            HandCoded.objects.filter(codeframe=codeframe, response_id__in=coded).values_list(
                "response_id", flat=True
            )
        )
        mark_hand_coded(codeframe_id=codeframe.pk, response_ids=sorted(coded - before))
    return len(coded - before)


def release_coding(*, response: Response, codeframe: Codeframe) -> bool:
    """Undo "by hand" for the answer in `codeframe`: its codes stay as they are, but coding
    the wave again decides them afresh (`waves.keep_hand_coding` no longer keeps them) and the
    review queue lists it again. An answer confirmed, moved or left uncoded by mistake had no
    way back to the classifier. Returns whether it was coded by hand."""
    with transaction.atomic():
        lock_codeframe(codeframe.pk)
        released, _ = HandCoded.objects.filter(codeframe=codeframe, response=response).delete()
    return bool(released)


def remove_second_code(*, response: Response, code: Code) -> None:
    """Take `code` off the answer where it is its second code (the primary stays). Raises
    InvalidEdit when the answer does not carry it as a second code."""
    with transaction.atomic():
        lock_codeframe(code.codeframe_id)
        removed, _ = Assignment.objects.filter(
            codeframe_id=code.codeframe_id, response=response, code=code, is_primary=False
        ).delete()
        if not removed:
            raise InvalidEdit(f"That answer does not carry code {code.number} as a second code.")
        mark_hand_coded(codeframe_id=code.codeframe_id, response_ids=[response.pk])


def mark_hand_coded(*, codeframe_id: int, response_ids: Iterable[int]) -> None:
    """Record that the answers' codes in the codeframe were set by hand (`HandCoded`): coding
    the wave again keeps them (`waves.keep_hand_coding`). An answer the analyst has decided
    on leaves the codeframe's pending suggestions (`drop_from_suggestions`)."""
    response_ids = list(response_ids)
    HandCoded.objects.bulk_create(
        [HandCoded(codeframe_id=codeframe_id, response_id=pk) for pk in response_ids],
        ignore_conflicts=True,
    )
    drop_from_suggestions(codeframe_id=codeframe_id, response_ids=set(response_ids))


def drop_from_suggestions(*, codeframe_id: int, response_ids: set[int]) -> None:
    """Take answers coded or left uncoded by hand (or deleted) out of the codeframe's pending
    suggestions (a suggestion's size is what it would take); one left with fewer answers than
    a suggestion needs goes (accepted, it would spend a tracker number on a code of one or
    two)."""
    pending = SuggestedCode.objects.filter(
        codeframe_id=codeframe_id, status=SuggestedCode.Status.PENDING
    )
    for suggestion in pending:
        left = [pk for pk in suggestion.response_ids if pk not in response_ids]
        if len(left) == len(suggestion.response_ids):
            continue
        if len(left) < MIN_SUGGESTION_SIZE:
            suggestion.delete()
            continue
        suggestion.size -= len(suggestion.response_ids) - len(left)
        suggestion.response_ids = left
        suggestion.save(update_fields=["size", "response_ids"])


def lock_codeframe(codeframe_id: int) -> Codeframe:
    """The codeframe, locked until the transaction ends. Edits of its codes and answers take
    this lock first, so two analysts' edits at once run one after the other: two moves of one
    answer both inserted a primary code (the one-primary constraint refused the second, an
    error page), and opposite merges each locked their own target first (a deadlock)."""
    return Codeframe.objects.select_for_update().get(pk=codeframe_id)


def _current(code: Code) -> Code:
    """`code` read afresh (under the codeframe's lock). Raises InvalidEdit if it was merged
    away or deleted meanwhile."""
    try:
        return Code.objects.get(pk=code.pk)
    except Code.DoesNotExist:
        raise InvalidEdit(
            f"Code {code.number} was merged or deleted meanwhile; reload the page."
        ) from None


def _retire(codeframe_id: int, numbers: list[int], *, merged_into: int | None = None) -> None:
    """Note in the codeframe's params the code numbers it no longer has (`retired`) and, for a
    merge, where their answers went (`merged_into`, number -> number): a retired number is
    never given to a new code of the tracker, and carrying a wave's edits back
    (`codeframe.carryback`) repeats the merge in the approved frame. Call inside a transaction."""
    codeframe = Codeframe.objects.select_for_update().get(pk=codeframe_id)
    params = dict(codeframe.params)
    params["retired"] = sorted({*params.get("retired", []), *numbers})
    if merged_into is not None:
        merges = dict(params.get("merged_into", {}))
        merges.update({str(number): merged_into for number in numbers})
        params["merged_into"] = merges
    codeframe.params = params
    codeframe.save(update_fields=["params"])


def _unique(items: list) -> list:
    return list(dict.fromkeys(items))
