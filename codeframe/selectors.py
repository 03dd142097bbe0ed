"""Reads: questions, answers and codeframes as the pages, API, exports and commands show them."""

from collections.abc import Container, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from itertools import islice

from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    Window,
)
from django.db.models.functions import Coalesce, Greatest, RowNumber
from django.shortcuts import get_object_or_404
from django.utils import timezone

from codeframe import param_keys
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
from codeframe.param_keys import CARRIED_IN
from codeframe.scoping import (
    SUPERUSER,
    User,
    codeframes_for,
    jobs_for,
    projects_for,
    questions_for,
    require_role,
)


def iter_response_texts(
    *, question_ids: list[int] | None = None, chunk_size: int = 2000
) -> Iterator[str]:
    """Stream the answers' texts (of the given questions; None = all), in import order, without
    loading them all at once. The embeddings warm-up reads its texts from here. Raises
    LookupError, at the call, naming the ids that are no question."""
    queryset = Response.objects.all()
    if question_ids is not None:
        found = set(Question.objects.filter(pk__in=question_ids).values_list("pk", flat=True))
        if missing := sorted(set(question_ids) - found):
            raise LookupError(f"There is no question {', '.join(map(str, missing))}.")
        queryset = queryset.filter(question_id__in=question_ids)
    return (
        queryset.order_by("question_id", "position")
        .values_list("text", flat=True)
        .iterator(chunk_size=chunk_size)
    )


def subquery_count(model, **lookups) -> Coalesce:
    """A correlated COUNT subquery: no join of answers x codeframes, one row per question."""
    counted = (
        model.objects.filter(**lookups)
        .order_by()
        .values(*lookups)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def question_list(*, user: User, project: Project | None = None) -> QuerySet[Question]:
    """The questions the user can see (of one project, if given), newest first, with their
    answer and codeframe counts and latest codeframe id."""
    questions = questions_for(user)
    if project is not None:
        questions = questions.filter(project=project)
    return _with_counts(questions).order_by("-created", "-id")


def _with_counts(questions: QuerySet[Question]) -> QuerySet[Question]:
    return questions.select_related("project").annotate(
        response_count=subquery_count(Response, question=OuterRef("pk")),
        codeframe_count=subquery_count(Codeframe, question=OuterRef("pk")),
        latest_codeframe_id=Subquery(
            Codeframe.objects.filter(question=OuterRef("pk")).order_by("-id").values("id")[:1]
        ),
    )


def listed_questions(*, user: User, project: Project | None = None) -> QuerySet[Question]:
    """The rows of the question pages: the questions the user can see (of one project, if
    given) that are no later wave of a tracker, with `question_list`'s counts. A tracker is
    one row, its first wave (`with_waves` puts every wave under it), so a page of them holds
    whole trackers. Newest first, a tracker by its newest wave: the one that just got a wave
    is at the top, not where its first month was.

    A wave whose first wave is in another project is a row of its own, as `tracker_root`
    takes it for its own tracker's first wave there."""
    questions = questions_for(user)
    if project is not None:
        questions = questions.filter(project=project)
    newest_wave = (
        Question.objects.filter(tracker=OuterRef("pk"), project=OuterRef("project"))
        .order_by("-created")
        .values("created")[:1]
    )
    return (
        _with_counts(questions.filter(Q(tracker__isnull=True) | ~Q(tracker__project=F("project"))))
        .annotate(active=Greatest("created", Coalesce(Subquery(newest_wave), "created")))
        .order_by("-active", "-id")
    )


def with_waves(*, user: User, questions: Iterable[Question]) -> list[Question]:
    """`questions` (rows of `listed_questions`), each with `waves`: a tracker's waves in wave
    order, first wave first, each with `question_list`'s counts; [] for a question that starts
    no tracker. One query for the lot."""
    questions = list(questions)
    later: dict[int, list[Question]] = {}
    found = _with_counts(
        questions_for(user).filter(
            tracker__in=[q.pk for q in questions], project=F("tracker__project")
        )
    )
    for wave in found:
        later.setdefault(wave.tracker_id, []).append(wave)
    for question in questions:
        waves = [question, *later.get(question.pk, [])]
        question.waves = (
            sorted(waves, key=lambda q: (q.wave_order or 0, q.pk)) if len(waves) > 1 else []
        )
    return questions


def get_listed_question(*, user: User, question_id: int) -> Question:
    """The question as `question_list` gives it (with its counts) if the user can see it, else
    Http404."""
    return get_object_or_404(question_list(user=user), pk=question_id)


def get_question(*, user: User, question_id: int, role: Role | str = Role.VIEWER) -> Question:
    """The question if the user can see it (else Http404), with its answer count; raises
    PermissionDenied if the user's role there is below `role`."""
    question = get_object_or_404(
        questions_for(user)
        .select_related("project")
        .annotate(response_count=subquery_count(Response, question=OuterRef("pk"))),
        pk=question_id,
    )
    require_role(user, question.project_id, role)
    return question


def question_texts(*, question: Question) -> list[tuple[int, str]]:
    """(response id, text) of every answer, in import order."""
    return list(question.responses.order_by("position").values_list("pk", "text"))


def sample_responses(*, question: Question, limit: int = 20) -> list[Response]:
    return list(question.responses.order_by("position")[:limit])


def question_codeframes(*, question: Question) -> QuerySet[Codeframe]:
    return question.codeframes.annotate(code_count=Count("codes")).order_by("-created", "-id")


def get_codeframe(*, user: User, codeframe_id: int, role: Role | str = Role.VIEWER) -> Codeframe:
    """The codeframe with its question if the user can see it (else Http404); raises
    PermissionDenied if the user's role there is below `role`."""
    codeframe = get_object_or_404(
        codeframes_for(user).select_related("question__project"), pk=codeframe_id
    )
    require_role(user, codeframe.question.project_id, role)
    return codeframe


def coded_with(*, codeframe: Codeframe, lock: bool = False) -> Codeframe | None:
    """The approved frame a wave's codeframe was coded with, when it is in the wave's project;
    None otherwise. A wave moved to another project (in the admin) must not reach its old
    client's frame: carrying back would write into it, coding again would copy it."""
    if codeframe.coded_with_id is None:
        return None
    return frame_in_project(
        codeframe_id=codeframe.coded_with_id, project_id=codeframe.question.project_id, lock=lock
    )


def frame_in_project(*, codeframe_id: int, project_id: int, lock: bool = False) -> Codeframe | None:
    """The codeframe, if it is in the project (None otherwise): what a wave's codeframe or job
    may code with, or carry back into."""
    # The codeframe's row only: a bare FOR UPDATE also locked the joined question, the
    # tracker's first, which add_code, accepting a suggestion and a wave's store lock before
    # the frame; a carry-back took them the other way round, and PostgreSQL broke the deadlock
    # with a 500.
    frames = Codeframe.objects.select_for_update(of=("self",)) if lock else Codeframe.objects
    return frames.filter(pk=codeframe_id, question__project_id=project_id).first()


def get_code(*, codeframe: Codeframe, code_id: int) -> Code:
    return get_object_or_404(
        Code.objects.select_related("codeframe"), codeframe=codeframe, pk=code_id
    )


def get_net(*, codeframe: Codeframe, net_id: int) -> Net:
    return get_object_or_404(Net, codeframe=codeframe, pk=net_id)


def code_numbered(*, codeframe: Codeframe, number: int) -> Code | None:
    """The codeframe's code `number` (the API names codes by number), or None."""
    return codeframe.codes.filter(number=number).select_related("codeframe").first()


def net_numbered(*, codeframe: Codeframe, number: int) -> Net | None:
    """The codeframe's net `number`, or None."""
    return codeframe.nets.filter(number=number).first()


def answer_of(*, codeframe: Codeframe, response_id: int) -> Response | None:
    """The answer `response_id` of the codeframe's question, or None (another question's)."""
    return codeframe.question.responses.filter(pk=response_id).first()


def merge_holder(number: int, merged_into: Mapping[int, int], codes: Container[int]) -> int | None:
    """The code of `codes` that `number`'s answers ended up in through its merges (number ->
    number; followed until a code `codes` has), or None (deleted, or merged into a code that was
    deleted later). Carrying back (which code a merge goes into), the tracker
    (`waves.tracker_tables`: which codes a wave's code holds) and `merges_of` follow merges
    with it."""
    seen = set()
    while number in merged_into and number not in seen:
        seen.add(number)
        number = merged_into[number]
        if number in codes:
            return number
    return None


def merges_of(*, codeframe: Codeframe) -> list[tuple[int, Code]]:
    """The codeframe's merged-away code numbers, each with the code its answers are in now
    (followed through later merges), by number; deleted codes are not listed."""
    merged = param_keys.merges(codeframe.params)
    codes = {code.number: code for code in codeframe.codes.all()}
    found = ((n, merge_holder(n, merged, codes)) for n in sorted(merged))
    return [(number, codes[into]) for number, into in found if into is not None]


def get_numbered(model: type[Code] | type[Net], *, codeframe: Codeframe, number: int):
    """The codeframe's code (net) with that number, as the API and the exports name them; 404
    if it has none (a code merged away or deleted: its number is never used again)."""
    return get_object_or_404(model.objects.filter(codeframe=codeframe), number=number)


def get_response(*, codeframe: Codeframe, response_id: int) -> Response:
    return get_object_or_404(Response, question_id=codeframe.question_id, pk=response_id)


@dataclass
class CodeRow:
    code: Code
    share: float  # code.size (answers with it as primary code) of the answers coded (less
    # `CodeframeOverview.late`), 0..1
    # Answers carrying the code at all (primary or second), and their share of all answers:
    # what the tracker and the SPSS file count (a multi-coded answer counts for each code).
    mentions: int = 0
    mention_share: float = 0.0
    # False for a code carried back into this frame after its answers were coded
    # (`asked_codes`): its figures here are "not asked", not 0.
    asked: bool = True
    # A wave's codeframe (`codeframe_overview(..., examples=True)`): the code's examples are
    # this wave's own answers in it, not `code.examples`, which the wave's codes took from the
    # approved frame; those are `approved_examples`, shown as such. None otherwise.
    answers: list[str] | None = None
    approved_examples: list[str] | None = None


@dataclass
class NetRow:
    net: Net | None
    label: str
    codes: list[CodeRow] = field(default_factory=list)

    @property
    def number(self) -> int | None:
        return self.net.number if self.net is not None else None

    @property
    def size(self) -> int:
        return sum(row.code.size for row in self.codes)


@dataclass
class CodeframeOverview:
    codeframe: Codeframe
    nets: list[NetRow]
    codes: list[Code]
    total: int  # answers of the question
    uncoded: int  # answers coded with no code (`late` ones are not counted)
    # Answers imported after the codeframe was made and not coded since (`late_responses`):
    # nobody coded them, so they are not in `base`, the shares' base (nor in the SPSS file's).
    late: int = 0

    @property
    def base(self) -> int:
        return self.total - self.late

    @property
    def uncoded_share(self) -> float:
        return self.uncoded / self.base if self.base else 0.0


def late_responses(*, codeframe: Codeframe) -> QuerySet[Response]:
    """The answers imported after the codeframe was made and not coded since (late fieldwork;
    `CodedResponse.late`): not coded, which is not "fits no code"; coding one, or leaving it
    uncoded by hand, codes it (deleting the code it was given by hand undoes that: it is not
    coded again until someone codes it)."""
    through = codeframe.coded_through
    if through is None:
        return Response.objects.none()
    return (
        Response.objects.filter(question_id=codeframe.question_id, pk__gt=through)
        .exclude(assignments__codeframe=codeframe)
        .exclude(_by_hand(codeframe.pk))
        .order_by()
    )


def codeframe_overview(*, codeframe: Codeframe, examples: bool = False) -> CodeframeOverview:
    """Nets → codes with sizes and shares, in code-number order; codes without a net (e.g. after
    their net was deleted) are grouped under "No net". Shares are of the answers coded: those
    imported since, not coded yet, are counted apart (`late`). `examples`: for a wave's
    codeframe, each row's `answers` and `approved_examples` (two more queries)."""
    total = codeframe.question.responses.count()
    late = late_responses(codeframe=codeframe).count()
    base = total - late
    codes = list(
        codeframe.codes.select_related("net")
        .annotate(mentions=Count("assignments"))
        .order_by("number")
    )
    nets: dict[int | None, NetRow] = {
        net.pk: NetRow(net=net, label=net.label) for net in codeframe.nets.order_by("number")
    }
    asked = asked_codes(codeframe=codeframe)
    answers = approved = None
    if examples and codeframe.coded_with_id is not None:
        answers = answers_in_codes(codeframe=codeframe)
        approved = approved_code_examples(codeframe=codeframe)
    for code in codes:
        row = nets.setdefault(code.net_id, NetRow(net=None, label="No net"))
        row.codes.append(
            CodeRow(
                code=code,
                share=code.size / base if base else 0.0,
                mentions=code.mentions,
                mention_share=code.mentions / base if base else 0.0,
                asked=code.number in asked,
                answers=None if answers is None else answers.get(code.pk, []),
                approved_examples=None if approved is None else approved.get(code.number, []),
            )
        )
    coded = sum(code.size for code in codes)
    return CodeframeOverview(
        codeframe=codeframe,
        nets=[row for row in nets.values() if row.codes],
        codes=codes,
        total=total,
        uncoded=max(0, base - coded),
        late=late,
    )


def answers_in_codes(*, codeframe: Codeframe, per_code: int = 3) -> dict[int, list[str]]:
    """Code id -> up to `per_code` of the codeframe's answers with it as their primary code,
    the surest first (then in file order): a wave's own examples of its codes. One query."""
    ranked = (
        Assignment.objects.filter(codeframe=codeframe, is_primary=True)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("code_id")],
                order_by=[F("confidence").desc(), F("response__position").asc()],
            )
        )
        .filter(rank__lte=per_code)
        .order_by("code_id", "rank")
        .values_list("code_id", "response__text")
    )
    found: dict[int, list[str]] = {}
    for code_id, text in ranked:
        found.setdefault(code_id, []).append(text)
    return found


def approved_code_examples(*, codeframe: Codeframe) -> dict[int, list[str]]:
    """Code number -> the examples the approved frame the codeframe was coded with (a wave's
    codeframe) shows for it now; {} for a codeframe not coded with one. Read in the
    codeframe's own project only, as every tracker read is."""
    if codeframe.coded_with_id is None:
        return {}
    codes = Code.objects.filter(
        codeframe_id=codeframe.coded_with_id,
        codeframe__question__project_id=codeframe.question.project_id,
    )
    return dict(codes.values_list("number", "examples"))


def asked_codes(*, codeframe: Codeframe) -> set[int]:
    """The numbers of the codes the codeframe's own answers were coded with: all its codes but
    those a carry-back added later and nobody has coded an answer of this wave with since. A
    tracker shows no share for the others in this wave (not asked about, not 0%)."""
    numbers = set(codeframe.codes.values_list("number", flat=True))
    later = set(codeframe.params.get(CARRIED_IN, ())) & numbers
    if later:
        used = Assignment.objects.filter(codeframe=codeframe, code__number__in=later)
        numbers -= later - set(used.values_list("code__number", flat=True))
    return numbers


def asked_among(*, codeframe: Codeframe, mentions: dict[int, int]) -> set[int]:
    """`asked_codes` from the codeframe's codes' numbers and mentions (answers carrying each),
    for a caller that has read them already (the tracker, for every wave at once)."""
    later = set(codeframe.params.get(CARRIED_IN, ())) & mentions.keys()
    return {number for number, n in mentions.items() if number not in later or n > 0}


@dataclass(frozen=True)
class CodedResponse:
    response_id: int
    respondent_id: str
    text: str
    codes: list[int]  # code numbers, primary first
    confidences: list[float]
    by_hand: bool = False  # set or confirmed by an analyst (`HandCoded`)
    # Imported after the codeframe was made (`Codeframe.coded_through`) and not coded since:
    # not coded, which the exports keep apart from "coded with nothing" (blank, not 0).
    late: bool = False


def iter_coded_responses(
    *, codeframe: Codeframe, chunk_size: int = 2000
) -> Iterator[CodedResponse]:
    """Every answer of the codeframe's question with its codes, in import order, streamed;
    `late` for an answer imported after the codeframe was made and not coded since (coding it
    or leaving it uncoded by hand codes it)."""
    responses = Response.objects.filter(question_id=codeframe.question_id).order_by("position")
    yield from _coded(codeframe, responses, chunk_size=chunk_size)


def _coded(
    codeframe: Codeframe, responses: QuerySet[Response], *, chunk_size: int = 2000
) -> Iterator[CodedResponse]:
    """`responses` with their codes in `codeframe`, a chunk of answers and then one query for
    their codes at a time, read as values: a prefetch of Assignment and Code instances (three
    objects an answer) took 12 of an export's 18 s at 50,000 answers. `late` is
    `late_responses`, read once for the frame: few answers, and one rule for every figure."""
    late = set(
        late_responses(codeframe=codeframe)
        .filter(pk__in=responses.values("pk"))
        .values_list("pk", flat=True)
    )
    rows = (
        responses.annotate(by_hand=_by_hand(codeframe.pk))
        .values_list("pk", "respondent_id", "text", "by_hand")
        .iterator(chunk_size=chunk_size)
    )
    while chunk := list(islice(rows, chunk_size)):
        codes: dict[int, list[tuple[int, float]]] = {}
        ids = [row[0] for row in chunk]
        coding = (
            Assignment.objects.filter(codeframe=codeframe, response_id__in=ids)
            .order_by("response_id", "-is_primary", "-confidence", "code__number")
            .values_list("response_id", "code__number", "confidence")
        )
        for response_id, number, confidence in coding:
            codes.setdefault(response_id, []).append((number, confidence))
        for pk, respondent_id, text, by_hand in chunk:
            coded = codes.get(pk, ())
            yield CodedResponse(
                response_id=pk,
                respondent_id=respondent_id,
                text=text,
                codes=[number for number, _ in coded],
                confidences=[confidence for _, confidence in coded],
                by_hand=by_hand,
                late=pk in late,
            )


def _by_hand(codeframe_id: int) -> Exists:
    """Annotation: the answer's coding in the codeframe was set by hand (`HandCoded`)."""
    return Exists(HandCoded.objects.filter(codeframe_id=codeframe_id, response=OuterRef("pk")))


def code_responses(*, code: Code, limit: int = 500) -> list[Response]:
    """Answers whose primary code is `code` (at most `limit`), with `by_hand`."""
    return list(
        Response.objects.filter(assignments__code=code, assignments__is_primary=True)
        .annotate(by_hand=_by_hand(code.codeframe_id))
        .order_by("position")[:limit]
    )


def code_second_responses(*, code: Code, limit: int = 500) -> list[Response]:
    """Answers that carry `code` as their second code (at most `limit`), with `primary_label`
    and `primary_number`, their primary code's, and `by_hand`. They count in its mentions, the
    tracker and the exports."""
    primary = Assignment.objects.filter(
        codeframe_id=code.codeframe_id, response=OuterRef("pk"), is_primary=True
    )
    return list(
        Response.objects.filter(assignments__code=code, assignments__is_primary=False)
        .annotate(
            primary_label=Subquery(primary.values("code__label")[:1]),
            primary_number=Subquery(primary.values("code__number")[:1]),
            by_hand=_by_hand(code.codeframe_id),
        )
        .order_by("position")[:limit]
    )


@dataclass(frozen=True)
class ReviewQueue:
    """The answers of a codeframe to review, least sure first (`least_sure_answers`)."""

    assignments: list[Assignment]  # primary, with `response` and `code`, at most the limit
    left: int  # coded answers nobody has checked yet (by hand), listed or not
    checked: int  # coded answers whose coding an analyst set or confirmed


def checked_count(*, codeframe: Codeframe) -> int:
    """How many of the codeframe's answers an analyst coded, confirmed or left uncoded by hand
    (`HandCoded`)."""
    return HandCoded.objects.filter(codeframe=codeframe).count()


# The review page's rows at a time: each has a Move menu of every code, and "All of these are
# right" confirms what the page lists, so a page an analyst reads through (200 rows were 0.5 MB
# and 16,000 px, with that button at the bottom). Checked ones leave; the next come up.
REVIEW_PAGE = 50


def least_sure_answers(*, codeframe: Codeframe, limit: int = REVIEW_PAGE) -> ReviewQueue:
    """The coded answers of the codeframe that no analyst has checked yet (`HandCoded`), by the
    confidence of their primary code, lowest first (ties in import order): where a draft's or a
    wave's mistakes gather (bench/waves.py, 5 seeds: of the least sure fifth of a wave's coded
    answers 38-87% are wrong or off-topic, of them all 10-64%)."""
    checked = HandCoded.objects.filter(codeframe=codeframe, response=OuterRef("response_id"))
    primary = Assignment.objects.filter(codeframe=codeframe, is_primary=True)
    unchecked = primary.exclude(Exists(checked))
    return ReviewQueue(
        assignments=list(
            unchecked.select_related("response", "code").order_by(
                "confidence", "response__position"
            )[:limit]
        ),
        left=unchecked.count(),
        checked=primary.filter(Exists(checked)).count(),
    )


def answer_coding(*, codeframe: Codeframe, response: Response) -> CodedResponse:
    """One answer's codes in the codeframe (as `iter_coded_responses` gives them), for the
    API's answer edits to reply with."""
    return next(_coded(codeframe, Response.objects.filter(pk=response.pk)))


def coded_answers(*, codeframe: Codeframe, response_ids: list[int]) -> list[CodedResponse]:
    """Those answers of the codeframe's question with their codes there, in import order."""
    responses = Response.objects.filter(
        question_id=codeframe.question_id, pk__in=response_ids
    ).order_by("position")
    return list(_coded(codeframe, responses))


def uncoded_responses(*, codeframe: Codeframe, limit: int = 500) -> list[Response]:
    """Answers of the codeframe's question without a primary code in it (at most `limit`), in
    import order: the "Other" pile an analyst codes by hand; `by_hand`: left uncoded by hand;
    `late`: imported since the codeframe was made, not coded yet (`late_responses`)."""
    primary = Assignment.objects.filter(
        codeframe=codeframe, response=OuterRef("pk"), is_primary=True
    )
    late = late_responses(codeframe=codeframe).filter(pk=OuterRef("pk"))
    return list(
        Response.objects.filter(question_id=codeframe.question_id)
        .exclude(Exists(primary))
        .annotate(by_hand=_by_hand(codeframe.pk), late=Exists(late))
        # The late ones first: the page says they are marked below, and they have the highest
        # positions, past `limit` in a big "Other" pile.
        .order_by("-late", "position")[:limit]
    )


# --- Jobs -------------------------------------------------------------------------------------


def get_job(*, user: User, job_id, role: Role | str = Role.VIEWER) -> GenerationJob:
    """The job with its question if the user can see it (else Http404); PermissionDenied if the
    user's role there is below `role`."""
    job = get_object_or_404(
        jobs_for(user).select_related("question__project", "codeframe"), pk=job_id
    )
    require_role(user, job.question.project_id, role)
    return job


def question_jobs(*, question: Question, limit: int = 10) -> list[GenerationJob]:
    """The question's generations that need attention: queued, running, failed or cancelled
    (newest first); done ones are listed as codeframes, and a failed or cancelled one that a
    later job of its kind finished (its retry, say) is settled."""
    State = GenerationJob.State
    finished_later = question.jobs.filter(
        state=State.DONE, kind=OuterRef("kind"), created__gt=OuterRef("created")
    )
    return list(
        question.jobs.exclude(state=State.DONE)
        .exclude(Q(state__in=[State.FAILED, State.CANCELLED]) & Exists(finished_later))
        .order_by("-created")[:limit]
    )


@dataclass(frozen=True)
class QueueStats:
    queued: int
    running: int
    failed_last_hour: int
    done_last_hour: int
    oldest_queued_seconds: float | None
    # How long the running job heard from least recently has been silent: past JOB_TIMEOUT
    # its worker died or hung (and no worker is left to run the watchdog, if it stays so).
    silent_seconds: float | None

    def as_dict(self) -> dict:
        return asdict(self)


def job_queue_stats() -> QueueStats:
    """The generation queue at a glance, for the cache stats page, its API and /metrics."""
    now = timezone.now()
    hour_ago = now - timedelta(hours=1)
    State = GenerationJob.State
    counts = GenerationJob.objects.aggregate(
        queued=Count("pk", filter=Q(state=State.QUEUED)),
        running=Count("pk", filter=Q(state=State.RUNNING)),
        failed=Count("pk", filter=Q(state=State.FAILED, finished__gte=hour_ago)),
        done=Count("pk", filter=Q(state=State.DONE, finished__gte=hour_ago)),
        oldest=Min("created", filter=Q(state=State.QUEUED)),
        heard=Min(Coalesce("heartbeat", "started", "created"), filter=Q(state=State.RUNNING)),
    )
    oldest, heard = counts["oldest"], counts["heard"]
    return QueueStats(
        queued=counts["queued"],
        running=counts["running"],
        failed_last_hour=counts["failed"],
        done_last_hour=counts["done"],
        oldest_queued_seconds=(now - oldest).total_seconds() if oldest else None,
        silent_seconds=(now - heard).total_seconds() if heard else None,
    )


# --- Trackers ---------------------------------------------------------------------------------


def pending_suggestions(*, codeframe: Codeframe) -> list[SuggestedCode]:
    """New codes suggested for a wave's answers that fit no code, still to decide on."""
    return list(codeframe.suggestions.filter(status=SuggestedCode.Status.PENDING))


def get_suggestion(*, codeframe: Codeframe, suggestion_id: int) -> SuggestedCode:
    return get_object_or_404(SuggestedCode, codeframe=codeframe, pk=suggestion_id)


def is_tracker(*, question: Question) -> bool:
    """Whether the question has (or is) a wave of a tracker."""
    return question.tracker_id is not None or question.later_waves.exists()


def waves_coded_with(*, codeframe: Codeframe) -> list[Question]:
    """The waves (questions, oldest first) whose answers were coded with `codeframe`, in its
    own project: edits to it do not reach their codeframes until they are coded again."""
    questions = Question.objects.filter(
        codeframes__coded_with=codeframe, project_id=codeframe.question.project_id
    ).distinct()
    return sorted(questions, key=lambda q: (q.wave_order or 0, q.pk))


# --- Projects -----------------------------------------------------------------------------


def user_projects(*, user: User) -> QuerySet[Project]:
    """The projects the user can see, with the role the pages show as `my_role`: the user's
    membership's, or "superuser" for a superuser (`scoping.shown_role`)."""
    if user.is_superuser:
        return projects_for(user).annotate(my_role=Value(SUPERUSER))
    return projects_for(user).annotate(
        my_role=Subquery(
            Membership.objects.filter(project=OuterRef("pk"), user_id=user.pk).values("role")[:1]
        )
    )


def get_project(*, user: User, project_id: int, role: Role | str = Role.VIEWER) -> Project:
    """The project if the user can see it (else Http404); PermissionDenied below `role`."""
    project = get_object_or_404(projects_for(user), pk=project_id)
    require_role(user, project.pk, role)
    return project


def project_members(*, project: Project) -> QuerySet[Membership]:
    return project.memberships.select_related("user").order_by("user__username")


def get_membership(*, project: Project, user_id: int) -> Membership:
    return get_object_or_404(project.memberships.select_related("user"), user_id=user_id)
