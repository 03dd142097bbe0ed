"""The phrases of a set of answers, and the keywords of groups of them (c-TF-IDF).

`count_terms` reads every answer once into a sparse answers x phrases matrix (1-4 word n-grams
inside one clause, no digits, first and last word not stop words; each answer counts a phrase
once). Keywords are its 1-2 word phrases without inner stop words; `codeframe.phrases` picks
labels from all of them, and asks `runs_on` how often answers go on past a phrase (a label
must not stop short: "update my personal" of "update my personal details"). A keyword scores
high for a group when it is frequent there and rare across groups:
tf(t, g) / len(g) * log(1 + mean_len / freq(t)), computed on sparse rows so memory follows
the phrases used, not groups x vocabulary.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import snowballstemmer

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
    [
        "bill",
        "call",
        "computer",
        "detail",
        "empty",
        "fire",
        "full",
        "interest",
        "move",
        "system",
        "top",
    ]
)
# Runs of words end at punctuation, symbols and any token holding a digit ("ab123", "2026");
# an apostrophe or hyphen inside a word is kept ("don't", "top-up").
_BREAK = re.compile(r"[^\w\s'-]+|\w*\d\w*|_+", re.UNICODE)
# A phrase may end on these stop words when it has another word before them: "top up", "log
# in", "sign up", "cash back".
_PARTICLES = frozenset(["up", "in", "out", "off", "back", "down"])
MAX_PHRASE_WORDS = 4
# A unigram keyword gives way to a bigram holding it that makes up at least this share of its
# occurrences in the group ("apple" -> "apple pay", "customer" -> "customer service").
BIGRAM_SHARE = 0.5


@dataclass(frozen=True)
class TermCounts:
    """Which answers contain which phrases (1-4 words; stop words never at the start/end)."""

    matrix: Any  # scipy.sparse CSR, (answers, terms), 1 = the answer contains the phrase
    terms: np.ndarray  # str, sorted
    keyword: np.ndarray  # bool per term: 1-2 words, no stop word (what keywords are made of)


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    # The word pattern keeps "couldn't" whole; its fragments and apostrophe forms stop too.
    return frozenset(ENGLISH_STOP_WORDS - _CONTENT_WORDS) | _CONTRACTION_FRAGMENTS | _FILLER_WORDS


def _runs(doc: str) -> list[list[str]]:
    """Runs of words not broken by punctuation, digits or symbols, lower-cased."""
    runs = []
    for run in _BREAK.split(doc.lower().replace("\u2019", "'")):
        words = [w.strip("'-") for w in run.split()]
        if words:
            runs.append([w for w in words if w])
    return runs


@lru_cache(maxsize=65536)
def ends_phrase(word: str) -> bool:
    """Whether a phrase of `count_terms` may end on `word`: it is no stop word, or a particle
    ("top up")."""
    stop = len(word) < 2 or word in _stop_words() or word.split("'")[0] in _stop_words()
    return not stop or word in _PARTICLES


def runs_on(phrase: str, docs: Sequence[str], weights: np.ndarray) -> tuple[float, float]:
    """(weight of the `docs` holding `phrase`, weight of those where it runs on into a word a
    phrase may end on, `ends_phrase`): "personal" runs on in "update my personal details",
    not in "it's personal" nor "personal, private"."""
    words = phrase.lower().split()
    k = len(words)
    held = on = 0.0
    for doc, weight in zip(docs, weights, strict=True):
        found = further = False
        for run in _runs(doc):
            for i in range(len(run) - k + 1):
                if run[i : i + k] == words:
                    found = True
                    further = further or (i + k < len(run) and ends_phrase(run[i + k]))
        held += weight * found
        on += weight * further
    return held, on


def count_terms(docs: Sequence[str]) -> TermCounts:
    """Read `docs` once, for as many groupings as needed."""
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer

    stop = _stop_words()

    stopped_cache: dict[str, bool] = {}

    def is_stop(word: str) -> bool:
        known = stopped_cache.get(word)
        if known is None:
            known = len(word) < 2 or word in stop or word.split("'")[0] in stop
            stopped_cache[word] = known
        return known

    def analyse(doc: str) -> list[str]:
        phrases = []
        for words in _runs(doc):
            stopped = [is_stop(w) for w in words]
            ends = [not s or w in _PARTICLES for w, s in zip(words, stopped, strict=True)]
            n_words = len(words)
            for i in range(n_words):
                if stopped[i]:
                    continue
                phrases.append(words[i])
                for j in range(i + 1, min(i + MAX_PHRASE_WORDS, n_words)):
                    if ends[j]:
                        phrases.append(" ".join(words[i : j + 1]))
        return phrases

    vectorizer = CountVectorizer(analyzer=analyse, binary=True, dtype=np.float32)
    try:
        matrix = vectorizer.fit_transform(list(docs))
    except ValueError:  # nothing but stop words / no tokens (emoji, one-letter answers)
        empty = np.array([], dtype=str)
        return TermCounts(sparse.csr_matrix((len(docs), 0)), empty, np.zeros(0, dtype=bool))
    terms = vectorizer.get_feature_names_out()
    keyword = np.array(
        [t.count(" ") <= 1 and not any(is_stop(w) for w in t.split()) for t in terms.tolist()],
        dtype=bool,
    )
    return TermCounts(matrix.tocsr(), terms, keyword)


def group_term_counts(
    counts: TermCounts, groups: np.ndarray, n_groups: int, *, weights: np.ndarray | None = None
):
    """Sparse (n_groups, terms) CSR: the weight of the answers of each group holding each
    term; `groups[i] = -1` leaves answer i out."""
    from scipy import sparse

    keep = np.flatnonzero(groups >= 0)
    w = np.ones(keep.size) if weights is None else np.asarray(weights, dtype=np.float64)[keep]
    membership = sparse.csr_matrix(
        (w, (groups[keep], keep)), shape=(n_groups, counts.matrix.shape[0])
    )
    return (membership @ counts.matrix).tocsr()


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
    result: list[list[str]] = [[] for _ in range(n_groups)]
    keep = np.flatnonzero(groups >= 0)
    if n_groups == 0 or keep.size == 0 or not counts.keyword.any():
        return result
    w = np.ones(keep.size) if weights is None else np.asarray(weights, dtype=np.float64)[keep]
    tf = group_term_counts(counts, groups, n_groups, weights=weights)
    tf = tf[:, np.flatnonzero(counts.keyword)].tocsr()
    terms = counts.terms[counts.keyword]
    sizes = np.bincount(groups[keep], weights=w, minlength=n_groups)
    totals = np.asarray(tf.sum(axis=1)).ravel()
    freq = np.asarray(tf.sum(axis=0)).ravel()
    mean_len = totals.mean()
    idf = np.log1p(mean_len / np.maximum(freq, 1))
    bigrams_of = _bigrams_by_word(terms)
    for g in range(n_groups):
        row = tf.getrow(g)
        cand, n = row.indices, row.data
        if cand.size == 0:
            continue
        score = n / max(totals[g], 1) * idf[cand]
        tf_g = dict(zip(cand.tolist(), n.tolist(), strict=True))
        # Terms that occur once in a group of several answers speak for one answer, not the
        # group: they come last. Then by score, then by term, so ties never depend on anything
        # but the data.
        lone = (n < 2) & (sizes[g] > 2)
        ranked = cand[np.lexsort((terms[cand], -score, lone))][: 8 * top]
        chosen: list[str] = []
        for j in ranked.tolist():
            # A unigram already inside a chosen bigram (or vice versa), or another form of a
            # chosen word ("crashing" after "crashes"), adds nothing.
            options = [_dominant_bigram(j, tf_g, bigrams_of, terms), j]
            fresh = [t for t in map(str, terms[options]) if not _overlaps_any(t, chosen)]
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
    j: int, tf: dict[int, float], bigrams_of: dict[str, list[int]], terms: np.ndarray
) -> int:
    """The commonest bigram holding unigram `j` in this group if it makes up `BIGRAM_SHARE` of
    the unigram's occurrences (and occurs at least twice), else `j`."""
    pool = bigrams_of.get(str(terms[j]), [])
    if not pool or tf.get(j, 0) <= 0:
        return j
    best = max(pool, key=lambda b: (tf.get(b, 0), -b))  # ties: the first bigram alphabetically
    return best if tf.get(best, 0) >= max(2, BIGRAM_SHARE * tf[j]) else j


# A Snowball stemmer keeps its word in itself while it works: one per thread.
_stemmers = threading.local()


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The English (Porter2) stem of a lowercase word, to see that two keywords or labels are
    forms of one word: "currencies" and "currency", "rates" and "rate", "charges" and
    "charge". (A suffix-stripper before took "rates" to "rat" and "currencies" to "currenci",
    so BANKING77's draft had both "Currency" and "Currencies".)"""
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        stemmer = _stemmers.english = snowballstemmer.stemmer("english")
    return stemmer.stemWord(word)


def _overlaps_any(term: str, chosen: list[str]) -> bool:
    stems = {stem(w) for w in term.split()}
    return any(stems & {stem(w) for w in other.split()} for other in chosen)
