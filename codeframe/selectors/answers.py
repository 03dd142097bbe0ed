"""A codeframe's answers with their codes: streamed for the exports, a code's answers, the
"Other" pile, the late ones (imported since it was made), and the review queue."""

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

from django.db.models import Exists, OuterRef, QuerySet, Subquery

from codeframe.models import Assignment, Code, Codeframe, HandCoded, Response


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
