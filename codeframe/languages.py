"""Answers not in English. Pure Python; py3langid's naive Bayes model (an npz file inside the
package, no pickle, no download) tells the language.

all-MiniLM-L6-v2 reads English: answers in other languages are embedded by their look, not
their meaning, so they cluster together whatever they say ("Trop de frais sur mon compte",
"El servicio al cliente es excelente") and no phrase of theirs names the code. The generator
names such a code for what it is (`other_languages_label`), so the analyst knows it waits for a
translation instead of reading a Spanish fragment as a theme; a wave's coder (`coding`) sends
such answers to that code, or leaves them out for the analyst when the frame has none.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import cache, lru_cache

# The languages the model chooses among: English and those most often met in surveys. Left to
# all of its 97 the model spreads short English answers over rare ones ("ok" read as Serbian);
# among these, English answers stay English.
NAMES = {
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "de": "German",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "pl": "Polish",
    "sv": "Swedish",
    "da": "Danish",
    "no": "Norwegian",
    "tr": "Turkish",
    "ru": "Russian",
    "ar": "Arabic",
    "hi": "Hindi",
    "zh": "Chinese",
    "ja": "Japanese",
    "ko": "Korean",
}
# How sure the model must be that an answer is in another language. On the sample survey,
# above 0.9 it found exactly its 5 answers in French, Spanish, German and Chinese (an Italian
# one at 0.85 and "no comment" read as Italian at 0.80 fall below); none of BANKING77's 3,080.
MIN_PROBABILITY = 0.9
# A code is named for its languages when more than this share of its answers are not English.
MIN_SHARE = 0.5
# Answers read per code: the label needs a share, not a census.
SAMPLE = 20
# What a code of such answers is named: this and its languages.
PREFIX = "Other languages: "


@cache
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(NAMES))
    return identifier


# Remembered: generation reads a code's answers twice (to gather the answers in other scripts
# into the code of other languages, then to name that code), and a worker sees the same
# answers again at every regeneration.
@lru_cache(maxsize=8192)
def language_of(text: str) -> str | None:
    """The language code of `text` when the model is sure it is not English, else None
    (English, too short to tell, emoji only)."""
    if not any(ch.isalpha() for ch in text):
        return None
    language, probability = _identifier().classify(text)
    return language if language != "en" and probability >= MIN_PROBABILITY else None


def other_languages(texts: Sequence[str]) -> list[str]:
    """The languages (names, by how many answers each has, three at most) of a code whose
    answers are `texts` when more than `MIN_SHARE` of them (the first `SAMPLE`) are in
    languages other than English; [] otherwise. Reading stops once the English answers
    decide it (a code of English answers costs half its sample)."""
    sample = texts[:SAMPLE]
    found: Counter[str] = Counter()
    english = 0
    for text in sample:
        language = language_of(text)
        if language is None:
            english += 1
            if english >= (1 - MIN_SHARE) * len(sample):
                return []
        else:
            found[language] += 1
    ranked = sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))
    return [NAMES[lang] for lang, _ in ranked[:3]]


def label_of(names: Sequence[str]) -> str:
    """The name of a code of answers in the languages `names`: "Other languages: Spanish,
    French"."""
    return PREFIX + ", ".join(names)


def other_languages_label(texts: Sequence[str]) -> str | None:
    """`label_of` the `other_languages` of `texts`, None when they are not mostly foreign."""
    names = other_languages(texts)
    return label_of(names) if names else None
