"""Labelled answer sets for bench/codeframe.py: BANKING77 as it is, long-tailed resamples of it
at 150 to 50,000 answers with off-topic answers and non-answers mixed in, and the two
hand-coded surveys in tests/codeframe/data/.

A long-tailed set gives its themes (intents drawn at random) sizes falling off like
1 / rank^s, s in 0.8-1.2 by seed, so a few big themes and a long tail. BANKING77 has only ~40
messages an intent, so a theme of more answers than that cannot be made of real messages.
Copies would be a weak test (the generator collapses identical answers, so 50,000 copies of
3,080 messages are 3,080 answers again). Each answer beyond the real ones is therefore a new
point inside its intent: its vector is a blend of two real messages of that intent
(a * v_i + (1 - a) * v_j, a in 0.55-0.85, re-normalised) and its text is message i with one
word dropped and a lead-in or tail varied ("Hi,", "thanks"), so it is a distinct answer that
reads like the intent. Real surveys repeat short answers, so some variants do coincide. 3% of
the answers are non-answers ("nothing", "idk") and 3% off-topic remarks ("I like turtles");
each of those two groups is one gold class, neither counts as a theme.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BANKING77 = ROOT / "data" / "banking77_test.csv"
LABELLED = ROOT / "tests" / "codeframe" / "data"
SURVEYS = {
    "sample survey": LABELLED / "survey_labelled.csv",
    "commuter survey": LABELLED / "commuter_labelled.csv",
}
NOT_THEMES = {"(non-answer)", "(off-topic)", "Non-answer", "Other"}

NON_ANSWERS = [
    "nothing", "Nothing.", "nothing really", "don't know", "dont know", "n/a", "N/A",
    "no comment", "-", "asdfgh", "none", "idk", "no idea", "nothing to add",
    "can't think of anything", "not sure", "no", "...",
]  # fmt: skip
OFF_TOPIC = [
    "I like turtles", "The weather has been lovely this week", "My cat is asleep on the sofa",
    "Who won the football last night?", "lol this survey is long", "Pizza for dinner tonight",
    "Is this the right form?", "I am writing this on the bus", "Happy birthday to my mum",
    "The traffic was terrible this morning", "Can't wait for the holidays",
    "My favourite colour is green", "Testing testing 123", "What time does the shop close",
    "I prefer tea to coffee", "Just here for the voucher", "My phone battery is dying",
    "Great film on TV yesterday", "hello", "Not sure why I got this survey",
]  # fmt: skip
_LEAD_INS = ["", "Hi, ", "Hello. ", "Quick question: ", "Please help, ", "Hey "]
_TAILS = ["", " thanks", " please", "?", " asap", "!"]


@dataclass(frozen=True)
class AnswerSet:
    name: str
    texts: list[str]
    gold: list[str]
    vectors: np.ndarray  # float32, one row per text

    @property
    def themes(self) -> int:
        """Gold themes of at least 3 answers (non-answers and off-topic are not themes)."""
        sizes: dict[str, int] = {}
        for g in self.gold:
            sizes[g] = sizes.get(g, 0) + 1
        return sum(n >= 3 for g, n in sizes.items() if g not in NOT_THEMES)


def read_banking77() -> tuple[list[str], list[str]]:
    with BANKING77.open() as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [r["category"] for r in rows]


def read_survey(path: Path) -> tuple[list[str], list[str]]:
    with path.open() as f:
        rows = list(csv.DictReader(f))
    return [r["answer"] for r in rows], [r["code"] for r in rows]


def _variant(text: str, rng: np.random.Generator) -> str:
    words = text.split()
    if len(words) > 3:
        del words[int(rng.integers(1, len(words)))]
    body = " ".join(words)
    lead = _LEAD_INS[int(rng.integers(len(_LEAD_INS)))]
    if lead:
        body = body[0].lower() + body[1:]
    return lead + body + _TAILS[int(rng.integers(len(_TAILS)))]


def long_tail(
    texts: list[str],
    gold: list[str],
    vectors: np.ndarray,
    extra_vectors: dict[str, np.ndarray],
    *,
    n: int,
    n_themes: int,
    seed: int,
) -> AnswerSet:
    """A long-tailed resample of `n` answers over `n_themes` intents (see the module docstring).
    `extra_vectors` holds the vectors of NON_ANSWERS and OFF_TOPIC by text."""
    rng = np.random.default_rng(seed)
    exponent = (0.8, 1.0, 1.2)[seed % 3]
    classes = sorted(set(gold))
    chosen = [classes[i] for i in rng.choice(len(classes), size=n_themes, replace=False)]
    n_na = n_off = round(0.03 * n)
    n_theme = n - n_na - n_off
    shares = 1 / np.arange(1, n_themes + 1) ** exponent
    sizes = np.maximum(1, np.round(n_theme * shares / shares.sum())).astype(int)
    out_texts: list[str] = []
    out_gold: list[str] = []
    rows: list[np.ndarray] = []
    by_class: dict[str, list[int]] = {}
    for i, g in enumerate(gold):
        by_class.setdefault(g, []).append(i)
    for label, size in zip(chosen, sizes.tolist(), strict=True):
        members = rng.permutation(by_class[label])
        for r in range(size):
            i = int(members[r % len(members)])
            if r < len(members):
                out_texts.append(texts[i])
                rows.append(vectors[i])
            else:
                j = int(rng.choice(members))
                a = rng.uniform(0.55, 0.85)
                v = a * vectors[i] + (1 - a) * vectors[j]
                rows.append(v / np.linalg.norm(v))
                out_texts.append(_variant(texts[i], rng))
            out_gold.append(label)
    for pool, count, label in (
        (NON_ANSWERS, n_na, "(non-answer)"),
        (OFF_TOPIC, n_off, "(off-topic)"),
    ):
        for j in rng.integers(0, len(pool), count).tolist():
            out_texts.append(pool[j])
            rows.append(extra_vectors[pool[j]])
            out_gold.append(label)
    order = rng.permutation(len(out_texts))
    return AnswerSet(
        f"long tail {len(out_texts):,} / s={exponent} / seed {seed}",
        [out_texts[i] for i in order],
        [out_gold[i] for i in order],
        np.asarray(rows, dtype=np.float32)[order],
    )


# (answers, intents drawn, seed): small sets have fewer themes, as small surveys do.
LONG_TAIL_SETS = [
    (150, 12, 0),
    (150, 12, 1),
    (150, 12, 2),
    (150, 12, 3),
    (150, 12, 4),
    (150, 12, 5),
    (1_000, 40, 0),
    (1_000, 40, 1),
    (1_000, 40, 2),
    (5_000, 77, 0),
    (5_000, 77, 1),
    (50_000, 77, 2),
]
# More seeds and sizes (bench/codeframe.py --more-sets): a rule must hold on these too.
MORE_LONG_TAIL_SETS = (
    [(150, 12, seed) for seed in range(6, 12)]
    + [(300, 20, seed) for seed in range(6)]
    + [(600, 30, seed) for seed in range(3)]
    + [(2_000, 60, seed) for seed in range(3)]
)


def all_sets(embed, *, max_answers: int = 50_000, more: bool = False) -> list[AnswerSet]:
    """Every labelled set, embedded with `embed(texts) -> float32 array` (cached); `more` adds
    MORE_LONG_TAIL_SETS at the end."""
    texts, gold = read_banking77()
    vectors = embed(texts)
    extra = dict(zip(NON_ANSWERS + OFF_TOPIC, embed(NON_ANSWERS + OFF_TOPIC), strict=True))
    sets = [AnswerSet("banking77 balanced", texts, gold, vectors)]
    for n, n_themes, seed in LONG_TAIL_SETS:
        if n <= max_answers:
            sets.append(long_tail(texts, gold, vectors, extra, n=n, n_themes=n_themes, seed=seed))
    for name, path in SURVEYS.items():
        t, g = read_survey(path)
        sets.append(AnswerSet(name, t, g, embed(t)))
    for n, n_themes, seed in MORE_LONG_TAIL_SETS if more else []:
        if n <= max_answers:
            sets.append(long_tail(texts, gold, vectors, extra, n=n, n_themes=n_themes, seed=seed))
    return sets
