"""Keywords and short labels for groups of answers: class-based TF-IDF (c-TF-IDF).

Each group's answers are concatenated into one document; a term scores high for a group when it
is frequent there and rare across groups: tf(t, g) / len(g) * log(1 + mean_len / freq(t)).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def keywords_by_group(
    docs: Sequence[str], groups: np.ndarray, n_groups: int, *, top: int = 6
) -> list[list[str]]:
    """Return the `top` most distinctive terms (unigrams and bigrams, English stop words removed)
    of each group 0..n_groups-1; `groups[i]` is the group of `docs[i]` (-1 = in none)."""
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer

    empty: list[list[str]] = [[] for _ in range(n_groups)]
    keep = np.flatnonzero(groups >= 0)
    if n_groups == 0 or keep.size == 0:
        return empty
    vectorizer = CountVectorizer(stop_words="english", ngram_range=(1, 2), min_df=1)
    try:
        counts = vectorizer.fit_transform([docs[i] for i in keep])
    except ValueError:  # only stop words / no tokens (emoji, very short answers)
        return empty
    membership = sparse.csr_matrix(
        (np.ones(keep.size), (groups[keep], np.arange(keep.size))), shape=(n_groups, keep.size)
    )
    tf = (membership @ counts).toarray()
    totals = tf.sum(axis=1, keepdims=True)
    freq = tf.sum(axis=0)
    mean_len = totals.mean()
    scores = tf / np.maximum(totals, 1) * np.log1p(mean_len / np.maximum(freq, 1))
    terms = vectorizer.get_feature_names_out()
    result = []
    for g in range(n_groups):
        # Sort by score, then by term so ties never depend on anything but the data.
        order = np.lexsort((terms, -scores[g]))
        chosen: list[str] = []
        for j in order:
            if scores[g, j] <= 0 or len(chosen) >= top:
                break
            term = str(terms[j])
            # A unigram already inside a chosen bigram (or vice versa) adds nothing.
            if any(term in c.split() or c in term.split() for c in chosen):
                continue
            chosen.append(term)
        result.append(chosen)
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
