"""Code and net labels in the answers' own words: a 1-4 word phrase many of a group's answers
share, central to the group and distinct from the other groups (KeyBERT-style).

For each group (a code, or a net of codes):

1. Candidates are the phrases of `labelling.count_terms` (word n-grams inside one clause, no
   digits, not starting or ending with a stop word) that at least two of its answers contain.
2. A shortlist by how much of the group uses the phrase and how much of the phrase's use is in
   this group: `coverage * purity` (class-based, as c-TF-IDF is).
3. Each shortlisted phrase is scored by its similarity to the group's centroid: with `embed`
   (e.g. `embeddings.services.embed_texts`, so phrases are cached like answers) the phrase's own
   vector, less half its similarity to the nearest other group (a diversity penalty: a label
   that fits the neighbour as well names neither); without it the mean similarity to the
   centroid of the group's answers that contain the phrase.
4. Labels are unique in the frame: groups choose in order of size, and a phrase whose words
   (stemmed) equal a label already chosen is skipped, so no "Lost luggage" beside "Lost
   luggage" or "Luggage lost". A net's phrase is also weighted by the share of its codes that
   use it: a net label says what its codes share.
5. A phrase that leans positive or negative (`polarity`) does not name a group whose answers
   lean both ways: the vectors group by subject, not by side.
6. A label reads as a whole phrase: one that runs on into a further word (`labelling.runs_on`:
   one a phrase may end on) in at least FRAGMENT_SHARE of the group's answers holding it is
   a fragment ("Update my personal" of "... details" and "... information"; "Virtual" of
   "virtual card"). It gives way to its commonest continuation that is none ("update my
   personal details"), else to a phrase that scores at most MARGIN lower and fits the group
   better, else it stays: the answers' own words still beat the fallback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial

import numpy as np

from codeframe.labelling import TermCounts, group_term_counts, runs_on, stem
from codeframe.polarity import POLAR, tone, tones

Embed = Callable[[list[str]], np.ndarray]

SHORTLIST = 8
# A diversity penalty of this weight on the similarity to the nearest other group.
DIVERSITY = 0.5
MAX_LABEL_WORDS = 5
# A label that is a fragment gives way to a phrase that is none, fits the group better and
# scores at most this much lower.
MARGIN = 0.1
# A phrase that runs on into a further word in at least this share of the group's answers
# that hold it is a fragment ("update my personal" of "update my personal details").
FRAGMENT_SHARE = 0.8
# A label grows into a longer phrase that at least this share of its answers use.
EXTENSION_SHARE = 0.5
# A phrase that leans one way names no group of which at least this share of the answers
# that lean either way lean the other.
MIXED_SHARE = 0.3


def choose_labels(
    counts: TermCounts,
    groups: np.ndarray,
    n_groups: int,
    *,
    weights: np.ndarray,
    unit: np.ndarray,
    centroids: np.ndarray,
    order: Sequence[int],
    fallbacks: Sequence[str],
    embed: Embed | None = None,
    parts: np.ndarray | None = None,
    taken: Sequence[str] = (),
    texts: Sequence[str] | None = None,
) -> list[str]:
    """Return a label for each group 0..n_groups-1 (`groups[i]` is answer i's, -1 = none).

    `unit` holds the answers' unit vectors, `centroids` the groups' (unit rows), `order` the
    groups from most to least important (they choose first), `fallbacks` a label for a group
    no phrase fits (its most central answer). `parts[i]` (optional) is a finer grouping of the
    answers, the codes of a net: then phrases used across more of the net's codes score higher.
    `taken` are labels the new ones must not repeat. With the answers' `texts` (optional), a
    phrase that leans one way (`polarity`) is not a group's label when at least MIXED_SHARE
    of the group's answers that lean either way lean the other ("Customer service is
    terrible" over praise and complaints alike: "Customer service"); the answers' leanings
    are read only for groups a leaning phrase could name; and a phrase the answers nearly
    always go on from ("update my personal") gives way (module docstring, 6). Labels start
    with a capital letter.
    """
    weights = np.asarray(weights, dtype=np.float64)
    tf = group_term_counts(counts, groups, n_groups, weights=weights)  # k x terms, sparse
    shortlists = _shortlists(counts, tf, groups, n_groups, weights, unit, centroids, parts)
    semantic = _embedded_similarities(counts, shortlists, centroids, embed) if embed else None
    read = _GroupAnswers(groups, weights, texts)

    labels = [""] * n_groups
    used = {_signature(t) for t in taken}
    for g in order:
        ranked = []
        for j, pre, sim in shortlists[g]:
            if semantic is not None:
                own_sim, other_sim = semantic[g][j]
                sim = own_sim - DIVERSITY * other_sim
            phrase = str(counts.terms[j])
            # Equal scores (the same answers hold both): the longer phrase says more.
            ranked.append((-round(sim + np.sqrt(pre), 3), -phrase.count(" "), phrase, sim))
        ranked.sort()

        fits = partial(read.fair, g=g)
        fresh = (
            (option, -score, sim)
            for score, _, phrase, sim in ranked
            for option in (_dominant_extension(phrase, counts, tf, g, fits), phrase)
            if _signature(option) not in used and fits(option)
        )
        labels[g] = _choose(
            fresh,
            partial(read.fragment, g=g),
            lambda phrase, g=g, fits=fits: (
                longer
                for longer in _completions(phrase, counts, tf, g)
                if _signature(longer) not in used and fits(longer)
            ),
        )
        if not labels[g]:
            labels[g] = _unique(_trim(fallbacks[g]), used)
            if not fits(labels[g]):  # its answers lean both ways: say both ("Good / Bad")
                sides = [_side([entry[2] for entry in ranked], sign) for sign in (1, -1)]
                both = " / ".join(side[:1].upper() + side[1:] for side in sides if side)
                labels[g] = _unique(both if all(sides) else f"{labels[g]} (mixed)", used)
        used.add(_signature(labels[g]))
    return [label[:1].upper() + label[1:] for label in labels]


def _shortlists(
    counts: TermCounts,
    tf,
    groups: np.ndarray,
    n_groups: int,
    weights: np.ndarray,
    unit: np.ndarray,
    centroids: np.ndarray,
    parts: np.ndarray | None,
) -> list[list[tuple[int, float, float]]]:
    """Per group, its SHORTLIST best terms (held by 2 of its answers, or all of a smaller
    group's) by how much of the group holds them and how much of their use is the group's:
    (term, that pre-score, and the mean similarity of its answers to the group's centroid:
    the score used without an `embed`). `tf` is `group_term_counts`; with `parts`, phrases used
    across more of a net's codes score higher (`_spread`)."""
    total = np.asarray(tf.sum(axis=0)).ravel()
    sizes = np.bincount(groups[groups >= 0], weights=weights[groups >= 0], minlength=n_groups)
    # Similarity of each answer to its own group's centroid, for the no-embed score.
    own = np.zeros(len(groups))
    coded = np.flatnonzero(groups >= 0)
    if coded.size:
        own[coded] = np.einsum("ij,ij->i", unit[coded], centroids[groups[coded]])
    central = group_term_counts(counts, groups, n_groups, weights=weights * own)
    spread = _spread(counts, groups, parts, n_groups, weights) if parts is not None else None

    shortlists: list[list[tuple[int, float, float]]] = []  # (term, pre-score, no-embed sim)
    for g in range(n_groups):
        row = tf.getrow(g)
        terms, n = row.indices, row.data
        enough = n >= min(2.0, max(sizes[g], 1.0))
        terms, n = terms[enough], n[enough]
        if terms.size == 0:
            shortlists.append([])
            continue
        pre = (n / max(sizes[g], 1.0)) * (n / total[terms])
        if spread is not None:
            pre = pre * spread[g].get_terms(terms)
        top = np.lexsort((counts.terms[terms], -pre))[:SHORTLIST]
        sims = np.asarray(central[g, terms[top]].todense()).ravel() / n[top]
        shortlists.append(
            [(int(terms[i]), float(pre[i]), float(s)) for i, s in zip(top, sims, strict=True)]
        )
    return shortlists


class _GroupAnswers:
    """Checks of an option against a group's own answers (`texts`, None: no checks), each
    group's read once and only when an option needs it."""

    def __init__(
        self, groups: np.ndarray, weights: np.ndarray, texts: Sequence[str] | None
    ) -> None:
        self.groups, self.weights, self.texts = groups, weights, texts
        self._leanings: dict[int, tuple[float, float]] = {}
        self._answers: dict[int, tuple[list[str], np.ndarray]] = {}

    def fair(self, option: str, g: int) -> bool:
        """Whether `option` may name group `g`: it takes no side (or the group's answers do)."""
        if self.texts is None or abs(value := tone(option)) < POLAR:
            return True
        if g not in self._leanings:
            members = np.flatnonzero(self.groups == g)
            said = tones([self.texts[i] for i in members])
            w = self.weights[members]
            self._leanings[g] = (float(w[said >= POLAR].sum()), float(w[said <= -POLAR].sum()))
        positive, negative = self._leanings[g]
        against = negative if value > 0 else positive
        return not (against >= 2 and against >= MIXED_SHARE * (positive + negative))

    def fragment(self, option: str, g: int) -> bool:
        """Whether `option` is a fragment in group `g`'s answers: it runs on into a further
        word in at least FRAGMENT_SHARE of those that hold it, and in at least 2."""
        if self.texts is None:
            return False
        if g not in self._answers:
            members = np.flatnonzero(self.groups == g)
            self._answers[g] = ([self.texts[i] for i in members], self.weights[members])
        held, on = runs_on(option, *self._answers[g])
        return on >= 2 and on >= FRAGMENT_SHARE * held


def _choose(
    options: Iterable[tuple[str, float, float]],
    fragment: Callable[[str], bool],
    completions: Callable[[str], Iterable[str]],
) -> str:
    """The first of `options` (phrase, score, similarity to the group; best first), "" if
    none. If it is a `fragment`: the first of its `completions` that is none ("update my
    personal details"); failing one, the option that fits the group best of those that are
    none, score at most MARGIN lower and fit it better than the fragment (the next by score
    fits worse as often as not: "Pending" for a net of cash withdrawals, "Cash"); failing
    one, the fragment: the answers' own words still beat a fallback."""
    first = best = None
    for option, score, sim in options:
        if first is None:
            if not fragment(option):
                return option
            whole = next((longer for longer in completions(option) if not fragment(longer)), "")
            if whole:
                return whole
            first = (option, score, sim)
        elif score < first[1] - MARGIN:
            break
        elif sim > (best or first)[2] and not fragment(option):
            best = (option, score, sim)
    return (best or first or ("",))[0]


def _completions(phrase: str, counts: TermCounts, tf, g: int) -> list[str]:
    """The phrases of group `g` that start with `phrase` and go on, held by at least 2 of its
    answers, commonest first (then shortest, then alphabetical)."""
    row = tf.getrow(g)
    start = f"{phrase} "
    found = [
        (-n, len(term), term)
        for j, n in zip(row.indices, row.data, strict=True)
        if n >= 2 and (term := str(counts.terms[j])).startswith(start)
    ]
    return [term for _, _, term in sorted(found)]


def _side(phrases, sign: int) -> str:
    """The first of `phrases` that leans the way of `sign` (1 positive, -1 negative); "" if
    none does."""
    return next((p for p in phrases if sign * tone(p) >= POLAR), "")


def _dominant_extension(
    phrase: str, counts: TermCounts, tf, g: int, fair: Callable[[str], bool]
) -> str:
    """The longest phrase holding `phrase` that most of the group's answers holding `phrase`
    also hold ("pay" -> "apple pay" when most say "Apple Pay"), up to MAX_PHRASE_WORDS, and
    short of one that is not `fair` ("service" -> "customer service", not "customer service
    is terrible")."""
    row = tf.getrow(g)
    index = {str(counts.terms[j]): n for j, n in zip(row.indices, row.data, strict=True)}
    while True:
        n = index.get(phrase, 0)
        padded = f" {phrase} "
        longer = [(m, t) for t, m in index.items() if len(t) > len(phrase) and padded in f" {t} "]
        if not longer or n <= 0:
            return phrase
        m, best = max(longer, key=lambda item: (item[0], -len(item[1]), item[1]))
        if m < max(2, EXTENSION_SHARE * n) or not fair(best):
            return phrase
        phrase = best


class _Spread:
    """Share of a net's codes (by weight) in which each term occurs."""

    def __init__(self, per_code: dict[int, np.ndarray], code_weights: np.ndarray) -> None:
        self.per_code = per_code
        self.code_weights = code_weights

    def get_terms(self, terms: np.ndarray) -> np.ndarray:
        used = np.zeros(terms.size)
        for weight, present in zip(self.code_weights, self.per_code.values(), strict=True):
            used += weight * np.isin(terms, present)
        return used / max(self.code_weights.sum(), 1e-12)


def _spread(
    counts: TermCounts,
    groups: np.ndarray,
    parts: np.ndarray,
    n_groups: int,
    weights: np.ndarray,
) -> list[_Spread]:
    n_parts = int(parts.max()) + 1 if parts.size else 0
    tf = group_term_counts(counts, parts, n_parts, weights=weights)
    part_sizes = np.bincount(parts[parts >= 0], weights=weights[parts >= 0], minlength=n_parts)
    group_of_part = np.full(n_parts, -1)
    group_of_part[parts[groups >= 0]] = groups[groups >= 0]
    result = []
    for g in range(n_groups):
        members = np.flatnonzero(group_of_part == g)
        present = {int(p): tf.getrow(int(p)).indices for p in members}
        result.append(_Spread(present, np.sqrt(part_sizes[members])))
    return result


def _embedded_similarities(
    counts: TermCounts,
    shortlists: list[list[tuple[int, float, float]]],
    centroids: np.ndarray,
    embed: Embed,
) -> list[dict[int, tuple[float, float]]]:
    """Per group: term -> (similarity to its centroid, to the most similar other centroid)."""
    terms = sorted({j for shortlist in shortlists for j, _, _ in shortlist})
    if not terms:
        return [{} for _ in shortlists]
    vectors = np.asarray(embed([str(counts.terms[j]) for j in terms]), dtype=np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    sims = vectors @ centroids.T.astype(np.float32)  # phrases x groups
    row = {j: r for r, j in enumerate(terms)}
    result = []
    for g, shortlist in enumerate(shortlists):
        entry = {}
        for j, _, _ in shortlist:
            s = sims[row[j]]
            others = np.delete(s, g)
            entry[j] = (float(s[g]), float(others.max()) if others.size else 0.0)
        result.append(entry)
    return result


def _signature(label: str) -> frozenset[str]:
    return frozenset(stem(w) for w in label.lower().replace("/", " ").split())


def _trim(text: str) -> str:
    words = " ".join(text.split()).rstrip(".!?,;:").split()
    if len(words) <= MAX_LABEL_WORDS:
        return " ".join(words) or "(empty)"
    return " ".join(words[:MAX_LABEL_WORDS]) + "…"


def _unique(label: str, used: set[frozenset[str]]) -> str:
    candidate, n = label, 2
    while _signature(candidate) in used:
        candidate, n = f"{label} ({'i' * n})", n + 1
    return candidate
