"""Finding a codeframe's answers by their words: the analyst's "find every answer that says
'overdraft'", to code them together (`services.add_code_to_answers`) or check how they were
coded.

Matching is done here in Python rather than by the database's `icontains`: SQLite folds the
case of ASCII letters only, so "ÉTÉ" would find "été" on PostgreSQL and not on SQLite. Every
word of the query must be in the answer, as a part of a word ("deliver" finds "delivery"),
ignoring case and accents ("cafe" finds "Café") and the apostrophe's form ("don't" finds
"don\u2019t" as a phone types it). "id:R045" finds the answer of respondent
R045 (ignoring case): only when asked, since ids are often the numbers 1, 2, 3..., and "45"
typed for "45 minutes" found respondent 45's answer too, ticked for coding.
"""

import unicodedata
from dataclasses import dataclass

from codeframe.models import Assignment, Codeframe, Response
from codeframe.nonanswers import STRAIGHT_QUOTES
from codeframe.selectors import CodedResponse, coded_answers

# The most answers one search lists (the page, and the API's default and ceiling).
FIND_LIMIT = 500
# Longer queries are refused: a pasted answer is not a search.
MAX_QUERY_CHARS = 200
# A query starting so names a respondent id, not words.
ID_PREFIX = "id:"


def fold(text: str) -> str:
    """`text` as searches compare it: compatibility-normalised, accents dropped, apostrophes
    straightened, case folded."""
    decomposed = unicodedata.normalize("NFKD", text).translate(STRAIGHT_QUOTES)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def query_terms(query: str) -> list[str]:
    """The words an answer must all contain, folded; [] for a blank query."""
    return fold(query).split()


@dataclass(frozen=True)
class FoundAnswers:
    query: str
    total: int  # answers that match, listed or not
    answers: list[CodedResponse]  # the first `limit` of them, in import order, with their codes


def find_answers(
    *, codeframe: Codeframe, query: str, uncoded_only: bool = False, limit: int = FIND_LIMIT
) -> FoundAnswers:
    """The answers of the codeframe's question that contain every word of `query`, or for
    "id:R045" the answer of that respondent (see the module's docstring), in import order,
    with their codes in the codeframe; `uncoded_only`: only those without a code there. A blank
    query finds nothing."""
    wanted = query.strip()
    by_id = wanted.casefold().startswith(ID_PREFIX)
    wanted_id = wanted[len(ID_PREFIX) :].strip().casefold() if by_id else ""
    terms = [] if by_id else query_terms(query)
    if not (terms or wanted_id):
        return FoundAnswers(query=query, total=0, answers=[])
    responses = Response.objects.filter(question_id=codeframe.question_id)
    # The coded ones left out here, not by an anti-join in the query: read through a
    # server-side cursor, PostgreSQL plans for the first rows, and on a wave just imported
    # (its statistics not analysed yet) chose a nested loop: 83 s at 50,000 answers.
    coded = (
        set(Assignment.objects.filter(codeframe=codeframe).values_list("response_id", flat=True))
        if uncoded_only
        else set()
    )
    rows = responses.order_by("position").values_list("pk", "respondent_id", "text")
    matched = [
        pk
        for pk, respondent_id, text in rows.iterator(chunk_size=5000)
        if pk not in coded
        and (respondent_id.casefold() == wanted_id if by_id else _has_all(fold(text), terms))
    ]
    answers = coded_answers(codeframe=codeframe, response_ids=matched[:limit])
    return FoundAnswers(query=query, total=len(matched), answers=answers)


def _has_all(folded: str, terms: list[str]) -> bool:
    return all(term in folded for term in terms)
