"""How positive or negative a text is: VADER's compound score (vaderSentiment, a rule-based
scorer with its lexicon in the package: no model, no download), -1..1.

The drafts use it for one thing: a code's label must not take a side most of its answers do not
(`phrases.choose_labels`). The vectors group answers by subject, so "Great customer service" and
"Customer service is terrible" share a code, and its most common answer made a label that said
the opposite of half its answers."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, lru_cache

import numpy as np

# A text scoring at least this (or at most minus this) leans clearly one way.
POLAR = 0.3


@cache
def _analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=65_536)  # a code's answers are read again for its net's label
def tone(text: str) -> float:
    """VADER's compound score of `text`: -1 (negative) .. 1 (positive), 0 for neutral."""
    return float(_analyzer().polarity_scores(text)["compound"])


def tones(texts: Sequence[str]) -> np.ndarray:
    """`tone` of each text (about 40 µs each)."""
    return np.fromiter((tone(t) for t in texts), dtype=np.float64, count=len(texts))
