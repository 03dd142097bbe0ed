"""Keywords and short labels for groups of answers: class-based TF-IDF (c-TF-IDF).

Each group's answers are concatenated into one document; a term scores high for a group when it
is frequent there and rare across groups: tf(t, g) / len(g) * log(1 + mean_len / freq(t)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

_CONTRACTION_FRAGMENTS = frozenset(
    [
        "aren",
        "couldn",
        "didn",
        "doesn",
        "don",
        "hadn",
        "hasn",
        "haven",
        "isn",
        "mustn",
        "shouldn",
        "wasn",
        "weren",
        "won",
        "wouldn",
        "ve",
        "ll",
        "re",
        "im",
        "ive",
    ]
)


@dataclass(frozen=True)
class TermCounts:
    """Unigram + bigram counts of a list of answers (English stop words removed)."""

    matrix: Any  # scipy.sparse CSR, (answers, terms)
    terms: np.ndarray  # str, sorted


def count_terms(docs: Sequence[str]) -> TermCounts:
    """Count the terms of `docs` once, for as many groupings as needed."""
    from scipy import sparse
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    # The default token pattern cuts "couldn't" into "couldn": stop those fragments too.
    stop_words = sorted(ENGLISH_STOP_WORDS | _CONTRACTION_FRAGMENTS)
    vectorizer = CountVectorizer(stop_words=stop_words, ngram_range=(1, 2), min_df=1)
    try:
        matrix = vectorizer.fit_transform(list(docs))
    except ValueError:  # nothing but stop words / no tokens (emoji, one-letter answers)
        return TermCounts(sparse.csr_matrix((len(docs), 0)), np.array([], dtype=str))
    return TermCounts(matrix.tocsr(), vectorizer.get_feature_names_out())


def keywords_by_group(
    counts: TermCounts, groups: np.ndarray, n_groups: int, *, top: int = 6
) -> list[list[str]]:
    """Return the `top` most distinctive terms of each group 0..n_groups-1; `groups[i]` is the
    group of answer i (-1 = in none)."""
    from scipy import sparse

    result: list[list[str]] = [[] for _ in range(n_groups)]
    keep = np.flatnonzero(groups >= 0)
    n_terms = counts.matrix.shape[1]
    if n_groups == 0 or keep.size == 0 or n_terms == 0:
        return result
    membership = sparse.csr_matrix(
        (np.ones(keep.size), (groups[keep], keep)), shape=(n_groups, counts.matrix.shape[0])
    )
    tf = (membership @ counts.matrix).toarray()
    totals = tf.sum(axis=1, keepdims=True)
    freq = tf.sum(axis=0)
    mean_len = totals.mean()
    scores = tf / np.maximum(totals, 1) * np.log1p(mean_len / np.maximum(freq, 1))
    shortlist = min(n_terms, 8 * top)
    candidates = np.argpartition(-scores, shortlist - 1, axis=1)[:, :shortlist]
    for g in range(n_groups):
        cand = candidates[g]
        cand = cand[scores[g, cand] > 0]
        # By score, then by term, so ties never depend on anything but the data.
        cand = cand[np.lexsort((counts.terms[cand], -scores[g, cand]))]
        chosen: list[str] = []
        for j in cand:
            term = str(counts.terms[j])
            # A unigram already inside a chosen bigram (or vice versa) adds nothing.
            if any(term in c.split() or c in term.split() for c in chosen):
                continue
            chosen.append(term)
            if len(chosen) == top:
                break
        result[g] = chosen
    return result


def short_label(keywords: Sequence[str], central: str, *, max_chars: int = 60) -> str:
    """A label a human would accept: the two best keywords ("Card arrival / delivery"), or the
    most central answer (trimmed) when there are no keywords."""
    if keywords:
        label = " / ".join(keywords[:2])
        return label[0].upper() + label[1:]
    central = " ".join(central.split())
    if len(central) > max_chars:
        central = central[: max_chars - 1].rsplit(" ", 1)[0] + "…"
    return central or "(empty)"
