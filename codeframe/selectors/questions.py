"""Questions as the pages and the API list them (with their answer and codeframe counts,
a tracker's waves under its first), one question, and its answers' texts."""

from collections.abc import Iterable, Iterator

from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.shortcuts import get_object_or_404

from codeframe.models import Codeframe, Project, Question, Response, Role
from codeframe.scoping import User, questions_for, require_role


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
