"""The type of `resp_id` in a tracker's SPSS files, and the notice when it changes.

`resp_id` is numeric while every respondent id of every wave of the tracker is a whole number
SPSS gives back as the same id (WHOLE_NUMBER): a survey's case id usually is numeric, and SPSS
merges the codes onto the survey data (MATCH FILES ... /BY resp_id) only when the key has the
same type in both files. One other id (A12, 007) makes it a string in every wave's file, so
the months' files keep stacking with each other (ADD FILES refuses a variable whose type
differs between the files). That can only happen when answers arrive (a new wave, late
fieldwork), and it changes files already delivered: the importer is told then
(`string_ids_notice`), not left to find out when last month's file no longer stacks.
"""

import re

from codeframe.models import Question, Response
from codeframe.waves.series import tracker_questions

# A respondent id SPSS can hold as a number and give back as the same id: digits without a
# leading zero ("007" would come back as 7), at most the 15 digits a double keeps exactly.
WHOLE_NUMBER = re.compile(r"0|[1-9][0-9]{0,14}")


def _first_string(responses) -> str | None:
    """The first respondent id of `responses` (a queryset) that is no WHOLE_NUMBER, or None."""
    ids = responses.order_by("pk").values_list("respondent_id", flat=True)
    return next((i for i in ids.iterator(chunk_size=5000) if not WHOLE_NUMBER.fullmatch(i)), None)


def string_id(*, question: Question) -> str | None:
    """The first respondent id of the question's tracker that is no WHOLE_NUMBER, or None."""
    return _first_string(Response.objects.filter(question__in=tracker_questions(question=question)))


def numeric_ids(*, question: Question) -> bool:
    """Whether `resp_id` is numeric in the SPSS files of the question and of every wave of its
    tracker: every respondent id of every wave is a WHOLE_NUMBER."""
    return string_id(question=question) is None


def had_numeric_ids(*, question: Question | None) -> bool:
    """Whether the question's (tracker's) files have a numeric `resp_id` now, with answers to
    have it: what an import is compared with afterwards (`string_ids_notice`). A new question
    or one without answers has no file whose type could change."""
    if question is None:
        return False
    has_answers = Response.objects.filter(question__in=tracker_questions(question=question))
    return has_answers.exists() and numeric_ids(question=question)


def string_ids_notice(*, question: Question, had_numeric: bool) -> str:
    """After answers were imported into the question (or as a wave of its tracker), with
    `had_numeric` the tracker's `had_numeric_ids` just before: the notice that `resp_id` is now
    a string in every month's file, naming an id that made it one; "" when its type did not
    change. Only the question's own ids are read: with `had_numeric`, every other wave's were
    whole numbers and still are (an import adds to one question, or replaces its answers)."""
    if not had_numeric or (found := _first_string(question.responses.all())) is None:
        return ""
    return (
        f"Respondent id “{found}” is not a whole number (digits without a leading zero), so "
        "from now on resp_id is a string, not a number, in every SPSS file of this question "
        "and of its tracker's waves, the earlier months' too (and the respondent ids of their "
        "XLSX files are text). A file downloaded before with a numeric resp_id "
        "no longer stacks with new ones: download the earlier months again. To merge onto a "
        "survey file whose case id is numeric, make that id a 400-wide string first."
    )
