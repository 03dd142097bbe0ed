"""Trackers: whether a question is a wave of one, the waves coded with a frame, and a wave's
new-code suggestions."""

from django.shortcuts import get_object_or_404

from codeframe.models import Codeframe, Question, SuggestedCode


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
