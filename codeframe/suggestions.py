"""Suggested new codes for a wave: its answers that fit no code of the approved frame, clustered
with the same generator that drafts frames. Pure: texts, vectors and the coder's result in,
suggestions out; the analyst accepts or dismisses them (`codeframe.waves` stores that).

Accepted suggestions get new numbers above the frame's highest, in the order accepted; existing
numbers never change, so a tracker's tables keep lining up wave after wave.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from codeframe import languages
from codeframe.coding import CodedAnswers
from codeframe.generation import N_EXAMPLES, generate_codeframe

# A suggestion needs at least this many answers: fewer is an "Other" answer, not a theme.
MIN_SUGGESTION_SIZE = 3
# Reasons (`CodedAnswers.uncoded_reasons`) of answers worth clustering: blanks and non-answers
# are not new themes.
CLUSTERED_REASONS = frozenset({"far", "crowd"})
# Answers the coder left out as in other languages (the frame has no code for them) are one
# suggestion, "Other languages: ...", not clustered: the vectors read them by their look, which
# scatters a few answers in several languages into codes of one answer each. Accepted and
# carried back, it is the approved frame's code for them, which takes such answers in the
# waves after (`coding`).
LANGUAGE_REASON = "language"


@dataclass(frozen=True)
class SuggestedCode:
    label: str
    keywords: list[str]
    size: int  # answers of the wave it would take
    examples: list[str]  # most central answers
    answers: list[int]  # positions in the wave's texts, ascending


def suggest_codes(
    texts: Sequence[str],
    *,
    vectors: np.ndarray,
    coded: CodedAnswers,
    min_size: int = MIN_SUGGESTION_SIZE,
) -> list[SuggestedCode]:
    """Suggested new codes from the answers `coded` left uncoded because they fit no code,
    largest first. `vectors` has one row per text (the wave's, as given to `code_answers`).

    Raises ValueError if `texts`, `vectors` and `coded` do not describe the same answers.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    if not (len(texts) == len(coded.assignments) == len(vectors)):
        raise ValueError(
            f"{len(texts)} texts, {len(vectors)} vectors, {len(coded.assignments)} coded answers"
        )
    reasons = coded.uncoded_reasons
    suggestions = _other_languages(
        texts, [i for i, r in enumerate(reasons) if r == LANGUAGE_REASON], min_size
    )
    positions = [i for i, reason in enumerate(reasons) if reason in CLUSTERED_REASONS]
    if len(positions) >= min_size:
        suggestions += _clustered(texts, vectors, positions, min_size)
    return sorted(suggestions, key=lambda s: (-s.size, s.label, s.answers[0]))


def _other_languages(
    texts: Sequence[str], positions: list[int], min_size: int
) -> list[SuggestedCode]:
    """The answers at `positions` (in other languages: the coder's reason, so
    `other_languages` names at least one) as one suggestion, if enough."""
    if len(positions) < min_size:
        return []
    answers = [texts[i] for i in positions]
    names = languages.other_languages(answers)
    return [
        SuggestedCode(
            label=languages.label_of(names),
            keywords=[name.lower() for name in names],
            size=len(positions),
            examples=answers[:N_EXAMPLES],
            answers=positions,
        )
    ]


def _clustered(
    texts: Sequence[str], vectors: np.ndarray, positions: list[int], min_size: int
) -> list[SuggestedCode]:
    """The answers at `positions` clustered by the generator; its theme codes of at least
    `min_size` answers."""
    draft = generate_codeframe([texts[i] for i in positions], vectors=vectors[positions])
    members: dict[int, list[int]] = {}
    for position, codes in zip(positions, draft.assignments, strict=True):
        if codes:
            members.setdefault(codes[0], []).append(position)
    return [
        SuggestedCode(
            label=code.label,
            keywords=list(code.keywords),
            size=len(members.get(code.id, [])),
            examples=list(code.examples),
            answers=sorted(members.get(code.id, [])),
        )
        for code in draft.codes
        if code.kind == "theme" and len(members.get(code.id, [])) >= min_size
    ]


def new_code_numbers(existing: Iterable[int], count: int) -> list[int]:
    """Numbers for `count` accepted codes, after the highest of `existing`. Pass every number
    the tracker has used, deleted codes' too, so an old export's number never means a new code.
    """
    if count < 0:
        raise ValueError("count must not be negative")
    start = max(existing, default=0) + 1
    return list(range(start, start + count))
