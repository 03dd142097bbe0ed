"""New codes in a tracker: a code added by hand, and the analyst's decision on a suggested new
code (accept it as a new code, code its answers with an existing one, or dismiss it). A new
code takes a number above every number the tracker has used."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from codeframe.exceptions import InvalidEdit, SuggestionDecided
from codeframe.models import Assignment, Code, Codeframe, Question, Response, SuggestedCode
from codeframe.services import (
    add_code_to_answers,
    move_response,
    refuse_taken_label,
    uncode_response,
)
from codeframe.suggestions import new_code_numbers
from codeframe.validators import label_key
from codeframe.waves.series import tracker_root, used_code_numbers

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
        if (same := same_label_code(codes=codeframe.codes.all(), label=label)) is not None:
            raise InvalidEdit(_same_label_advice(same))
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


def same_label_code(*, codes: Iterable[Code], label: str) -> Code | None:
    """The one of `codes` labelled `label` (ignoring case and look-alikes, as
    `services.refuse_taken_label` compares), or None: accepting a suggestion under that label
    would be refused, and coding its answers as that code is what the analyst means (a code
    added by hand to the approved frame, which the classifier could give no answer: its
    theme comes back as a suggestion of its name)."""
    wanted = label_key(label[:200])
    return next((code for code in codes if label_key(code.label) == wanted), None)


def mark_same_labels(suggestions: Iterable[SuggestedCode], *, codes: Iterable[Code]) -> None:
    """Set each suggestion's `same_code` to the code of `codes` labelled as it suggests
    (`same_label_code`), or None: the pages and the API offer "Code as" that code in one click
    (the page says whether it has answers when `codes` are annotated with `mentions`)."""
    codes = list(codes)
    for suggestion in suggestions:
        suggestion.same_code = same_label_code(codes=codes, label=suggestion.label)


def _same_label_advice(code: Code) -> str:
    empty = " and no answers yet" if not code.assignments.exists() else ""
    return (
        f"Code {code.number} is already labelled “{code.label}”{empty}: code this suggestion's "
        f"answers as code {code.number} instead (“Code as {code.number}”), or accept it with a "
        "label of its own."
    )


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
