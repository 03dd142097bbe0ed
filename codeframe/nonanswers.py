"""Non-answers ("nothing", "don't know", keyboard mash): found by a lexicon and rules, never by
clustering, so they get standard codes instead of polluting the themes.

Pure Python. `normalise()` is also the key under which duplicate answers collapse.
"""

from __future__ import annotations

import re
import unicodedata

NOTHING = "nothing"
DONT_KNOW = "dont_know"
UNINTELLIGIBLE = "unintelligible"

# kind -> (label, order in the "Non-answers" net)
LABELS: dict[str, str] = {
    NOTHING: "Nothing / no comment",
    DONT_KNOW: "Don't know",
    UNINTELLIGIBLE: "Unintelligible",
}

_NOTHING_PHRASES = {
    "no",
    "nope",
    "nah",
    "none",
    "nil",
    "nothing",
    "na",
    "n a",
    "not applicable",
    "no comment",
    "no comments",
    "nothing to add",
    "nothing to say",
    "nothing else",
    "nothing more",
    "nothing at all",
    "nothing in particular",
    "nothing comes to mind",
    "nothing springs to mind",
    "nothing i can think of",
    "cant think of anything",
    "can not think of anything",
    "cannot think of anything",
    "cant think of any",
    "not that i can think of",
    "no opinion",
    "no answer",
    "no response",
    "not really",
    "pass",
    "skip",
    "nothing no",
    "no nothing",
    "none thanks",
    "no thanks",
    "no thank you",
    "nothing thanks",
    "nothing thank you",
    "all covered",
    "not bothered",
    "no reason",
    "no particular reason",
    "no real reason",
    # Pointers to another answer: nothing to code in this one.
    "as above",
    "see above",
    "same as above",
    "as before",
    "same as before",
    "see previous",
    "see previous answer",
    "see my previous answer",
    "as previous answer",
    "as per previous answer",
}

_DONT_KNOW_PHRASES = {
    "dont know",
    "do not know",
    "i dont know",
    "i do not know",
    "idk",
    "dk",
    "dunno",
    "no idea",
    "not sure",
    "unsure",
    "no clue",
    "not a clue",
    "cant say",
    "can not say",
    "cannot say",
    "hard to say",
    "dont know really",
    "im not sure",
    "i am not sure",
    "i have no idea",
    "no idea really",
    "not known",
    "unknown",
}

# Words that pad a non-answer without changing it ("Um, nothing really, sorry").
_FILLERS = {
    "um",
    "umm",
    "erm",
    "er",
    "hmm",
    "hm",
    "well",
    "sorry",
    "really",
    "honestly",
    "just",
    "i",
    "thanks",
    "thank",
    "you",
    "at",
    "all",
    "else",
    "ok",
    "okay",
}

# Hesitation sounds: an answer of nothing else ("Hmm", "erm...", "ummm") is a "don't know".
_HESITATION = re.compile(r"(h+m+|u+m+|e+r+m*)")  # not "uh-uh" (a no)

_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_ROW_OF = {ch: row for row, keys in enumerate(_KEYBOARD_ROWS) for ch in keys}
_ROW_RUNS = tuple(keys[i : i + 4] for keys in _KEYBOARD_ROWS for i in range(len(keys) - 3)) + tuple(
    keys[::-1][i : i + 4] for keys in _KEYBOARD_ROWS for i in range(len(keys) - 3)
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SPACE = re.compile(r"\s+")
# Apostrophes as phones and word processors type them ("don\u2019t"), made the keyboard's: for
# duplicates here and for the words a search compares (`search.fold`).
STRAIGHT_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u02bc": "'", "`": "'"})


def normalise(text: str) -> str:
    """The key duplicates collapse on: NFKC, case-folded, curly quotes straightened, runs of
    whitespace made single, ends stripped. "" means a blank answer."""
    text = unicodedata.normalize("NFKC", text or "").translate(STRAIGHT_QUOTES).casefold()
    return _SPACE.sub(" ", text).strip()


def _phrase(key: str) -> str:
    """Words only, apostrophes dropped ("don't" -> "dont", "n/a" -> "n a")."""
    return " ".join(_WORD.findall(key.replace("'", "")))


def _is_mash(word: str) -> bool:
    if not word.isascii() or not word.isalpha():
        return False
    if not re.search(r"[aeiouy]", word) and (
        len(word) >= 5 or (len(word) == 4 and any(run[:3] in word for run in _ROW_RUNS))
    ):
        return True  # "sdfgh", "hjkl", "xzcvb"; "cctv" and "sms" are not mash
    if len(word) >= 3 and len(set(word)) == 1:
        return True  # "xxx", "aaaa"
    if len(word) >= 5:
        rows = [_ROW_OF.get(ch, -1) for ch in word]
        same_row = max(rows.count(r) for r in range(3)) / len(word)
        if same_row >= 0.8 and any(run in word for run in _ROW_RUNS):
            return True  # "asdfgh", "qwerty", "jkljkl"
    return False


def classify(key: str) -> str | None:
    """Return NOTHING, DONT_KNOW or UNINTELLIGIBLE for a normalised answer that is a non-answer,
    None for a real answer (and for a blank one: blanks are handled by the caller)."""
    if not key:
        return None
    phrase = _phrase(key)
    if not phrase:
        # Only punctuation / symbols: "-", "...", "?". Emoji are an answer (sentiment), though.
        if any(unicodedata.category(ch) == "So" for ch in key):
            return None
        return NOTHING
    if phrase in _NOTHING_PHRASES:
        return NOTHING
    if phrase in _DONT_KNOW_PHRASES:
        return DONT_KNOW
    words = phrase.split()
    if all(_HESITATION.fullmatch(w) for w in words):
        return DONT_KNOW
    core = [w for w in words if w not in _FILLERS]
    if core and len(core) < len(words):
        stripped = " ".join(core)
        if stripped in _NOTHING_PHRASES:
            return NOTHING
        if stripped in _DONT_KNOW_PHRASES:
            return DONT_KNOW
    if len(words) <= 3 and all(_is_mash(w) for w in words):
        return UNINTELLIGIBLE
    if len(phrase) == 1 and phrase.isascii():
        return UNINTELLIGIBLE  # "x", "k", "1"
    return None
