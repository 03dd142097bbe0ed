"""Keywords and short labels for groups of answers: class-based TF-IDF (c-TF-IDF).

Each group's answers are concatenated into one document; a term scores high for a group when it
is frequent there and rare across groups: tf(t, g) / len(g) * log(1 + mean_len / freq(t)).
"""

from __future__ import annotations

import itertools
import re
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

# Words answers use to ask, complain or hedge about anything: they name no theme, so a label
# made of them ("App logs / keeps", "Reason / expensive") tells the reader nothing.
_FILLER_WORDS = frozenset(
    [
        "add",
        "anymore",
        "better",
        "bit",
        "did",
        "does",
        "doing",
        "far",
        "got",
        "just",
        "keeps",
        "let",
        "lets",
        "like",
        "lot",
        "maybe",
        "need",
        "needs",
        "quite",
        "really",
        "reason",
        "sure",
        "takes",
        "taking",
        "thing",
        "things",
        "took",
        "use",
        "used",
        "using",
        "want",
        "wants",
        "way",
        "went",
        "time",
    ]
)
# scikit-learn's English stop list holds words that name survey themes ("call centre",
# "interest rates", "bill payments"): they stay.
_CONTENT_WORDS = frozenset(
    ["bill", "call", "computer", "detail", "empty", "fire", "full", "interest", "move", "system"]
)
# Tokens of two or more word characters with at least one letter: no "12", "24", "2026".
_WORD = re.compile(r"(?u)\b(?=\w*[^\W\d_])\w\w+\b")
# A unigram keyword gives way to a bigram holding it that makes up at least this share of its
# occurrences in the group ("apple" -> "apple pay", "customer" -> "customer service").
BIGRAM_SHARE = 0.5


@dataclass(frozen=True)
class TermCounts:
    """Unigram + bigram counts of a list of answers (stop words removed)."""

    matrix: Any  # scipy.sparse CSR, (answers, terms)
    terms: np.ndarray  # str, sorted


def count_terms(docs: Sequence[str]) -> TermCounts:
    """Count the terms of `docs` once, for as many groupings as needed."""
    from scipy import sparse
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    # The word pattern cuts "couldn't" into "couldn": stop those fragments too.
    stop = (ENGLISH_STOP_WORDS - _CONTENT_WORDS) | _CONTRACTION_FRAGMENTS | _FILLER_WORDS

    def analyse(doc: str) -> list[str]:
        words = _WORD.findall(doc.lower())
        kept = [w for w in words if w not in stop]
        # Bigrams of words adjacent in the answer: "Queues in the branch" gives no
        # "queues branch", which nobody wrote.
        pairs = [
            f"{a} {b}" for a, b in itertools.pairwise(words) if a not in stop and b not in stop
        ]
        return kept + pairs

    vectorizer = CountVectorizer(analyzer=analyse)
    try:
        matrix = vectorizer.fit_transform(list(docs))
    except ValueError:  # nothing but stop words / no tokens (emoji, one-letter answers)
        return TermCounts(sparse.csr_matrix((len(docs), 0)), np.array([], dtype=str))
    return TermCounts(matrix.tocsr(), vectorizer.get_feature_names_out())


def keywords_by_group(
    counts: TermCounts,
    groups: np.ndarray,
    n_groups: int,
    *,
    top: int = 6,
    weights: np.ndarray | None = None,
) -> list[list[str]]:
    """Return the `top` most distinctive terms of each group 0..n_groups-1; `groups[i]` is the
    group of answer i (-1 = in none), `weights[i]` how many respondents gave it (default 1)."""
    from scipy import sparse

    result: list[list[str]] = [[] for _ in range(n_groups)]
    keep = np.flatnonzero(groups >= 0)
    n_terms = counts.matrix.shape[1]
    if n_groups == 0 or keep.size == 0 or n_terms == 0:
        return result
    w = np.ones(keep.size) if weights is None else np.asarray(weights, dtype=np.float64)[keep]
    membership = sparse.csr_matrix(
        (w, (groups[keep], keep)), shape=(n_groups, counts.matrix.shape[0])
    )
    tf = (membership @ counts.matrix).toarray()
    sizes = np.bincount(groups[keep], weights=w, minlength=n_groups)
    totals = tf.sum(axis=1, keepdims=True)
    freq = tf.sum(axis=0)
    mean_len = totals.mean()
    scores = tf / np.maximum(totals, 1) * np.log1p(mean_len / np.maximum(freq, 1))
    shortlist = min(n_terms, 8 * top)
    candidates = np.argpartition(-scores, shortlist - 1, axis=1)[:, :shortlist]
    bigrams_of = _bigrams_by_word(counts.terms)
    for g in range(n_groups):
        cand = candidates[g]
        cand = cand[scores[g, cand] > 0]
        # Terms that occur once in a group of several answers speak for one answer, not the
        # group: they come last. Then by score, then by term, so ties never depend on anything
        # but the data.
        lone = (tf[g, cand] < 2) & (sizes[g] > 2)
        cand = cand[np.lexsort((counts.terms[cand], -scores[g, cand], lone))]
        chosen: list[str] = []
        for j in cand:
            # A unigram already inside a chosen bigram (or vice versa), or another form of a
            # chosen word ("crashing" after "crashes"), adds nothing.
            options = [_dominant_bigram(int(j), tf[g], bigrams_of, counts.terms), int(j)]
            fresh = [t for t in map(str, counts.terms[options]) if not _overlaps_any(t, chosen)]
            if not fresh:
                continue
            chosen.append(fresh[0])
            if len(chosen) == top:
                break
        result[g] = chosen
    return result


def _bigrams_by_word(terms: np.ndarray) -> dict[str, list[int]]:
    """word -> indices of the bigrams that contain it."""
    index: dict[str, list[int]] = {}
    for j, term in enumerate(terms.tolist()):
        words = term.split()
        if len(words) == 2:
            for word in dict.fromkeys(words):
                index.setdefault(word, []).append(j)
    return index


def _dominant_bigram(
    j: int, tf: np.ndarray, bigrams_of: dict[str, list[int]], terms: np.ndarray
) -> int:
    """The commonest bigram holding unigram `j` in this group if it makes up `BIGRAM_SHARE` of
    the unigram's occurrences (and occurs at least twice), else `j`."""
    pool = bigrams_of.get(str(terms[j]), [])
    if not pool or tf[j] <= 0:
        return j
    best = max(pool, key=lambda b: (tf[b], -b))  # ties: the first bigram alphabetically
    return best if tf[best] >= max(2, BIGRAM_SHARE * tf[j]) else j


def _stem(word: str) -> str:
    """A crude English stem, only to see that two keywords are forms of one word."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _overlaps_any(term: str, chosen: list[str]) -> bool:
    stems = {_stem(w) for w in term.split()}
    return any(stems & {_stem(w) for w in other.split()} for other in chosen)


def short_label(keywords: Sequence[str], central: str, *, max_chars: int = 60) -> str:
    """A label a coder would write, first word capitalised: a bigram keyword on its own
    ("Apple pay", "Customer service"), else the two best keywords ("Savings / rates"), or the
    most central answer (trimmed) when there are no keywords."""
    if keywords:
        label = keywords[0] if " " in keywords[0] else " / ".join(keywords[:2])
        return label[0].upper() + label[1:]
    central = " ".join(central.split())
    if len(central) > max_chars:
        central = central[: max_chars - 1].rsplit(" ", 1)[0] + "…"
    return central or "(empty)"
