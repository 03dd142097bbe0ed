"""Texts + their vectors -> a codeframe draft. Pure numpy / scipy / scikit-learn.

The contract: `generate_codeframe` is a pure function of its arguments. It is handed the
answers' vectors and never embeds, reads a cache or touches the ORM itself; the one way out is
the optional `embed` callable the caller passes for label phrases (the service passes
`embeddings.services.embed_texts`, so phrases are cached like answers). Without it labels are
still chosen, from the answers' vectors alone. The same answers in any order give the same
codeframe: everything is sorted before it is clustered and ties are broken on the text.

The algorithm, in the order it runs, and where each step lives:

1. Collapse (`_collapse`). Answers are normalised (`nonanswers.normalise`: NFKC, case-folded,
   whitespace squeezed); each distinct answer is clustered once, its vector the mean of its
   copies. Blank answers are left uncoded (`[]`): there is nothing to code.
2. Non-answers ("nothing", "don't know", "asdfgh") are found by a lexicon and rules
   (`nonanswers`) and get the standard codes of a "Non-answers" net; they are not clustered.
3. Themes (`clustering.cluster_themes`): Ward linkage cut where the codes are as cohesive as
   the data's themes are; a node that, with both its halves, reaches that cohesion kept as one
   code; codes of two unrelated halves split, small codes dissolved, codes as alike as one
   code's answers merged. See that module.
4. Answers -> codes (`assignment.assign`): primary code, an optional second code, confidences.
5. Nets (`nets.group_codes`): codes whose centroids are close form a net, as many as the data
   has.
6. Words (`labelling`, `phrases`): keywords are c-TF-IDF terms; labels are 1-4 word phrases
   the code's answers share, central to the code and distinct from the other codes
   (KeyBERT-style); net labels are phrases shared across the net's codes. Examples are the
   code's most central answers. A code most of whose answers are in other languages than
   English is named for them ("Other languages: Spanish, French"; `languages`): the vectors
   do not read those languages, so no phrase of theirs names a theme.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from codeframe import assignment, clustering, labelling, languages, nets, nonanswers, phrases


@dataclass(frozen=True)
class DraftCode:
    id: int  # 1..n, unique within the draft
    label: str
    keywords: list[str]
    net_id: int
    net: str  # the net's label
    size: int  # answers with this code as their primary code
    examples: list[str]  # most central verbatim answers
    kind: str = "theme"  # "theme" | "non_answer"


@dataclass(frozen=True)
class DraftNet:
    id: int
    label: str
    code_ids: list[int]


@dataclass(frozen=True)
class CodeframeDraft:
    codes: list[DraftCode]
    nets: list[DraftNet]
    # In input order: the code ids of each text, primary first; [] = uncoded ("Other").
    # Blank answers are always uncoded.
    assignments: list[list[int]]
    # Parallel to `assignments`: the confidence (0..1) of each of those codes.
    confidences: list[list[float]]
    params: dict[str, Any] = field(default_factory=dict)
    # clustering_seconds (the caller adds its own: embedding_seconds, cache hits and misses)
    timings: dict[str, float] = field(default_factory=dict)


MIN_CODE_SIZE = 3
N_EXAMPLES = 4
# Keywords and labels are read from at most this many answers of a code.
TERM_SAMPLE = 200
NON_ANSWER_NET = "Non-answers"


def generate_codeframe(
    texts: Sequence[str],
    *,
    vectors: np.ndarray,
    embed: Callable[[list[str]], np.ndarray] | None = None,
    n_codes: int | None = None,
    max_codes: int | None = None,
    random_state: int = 0,
    cohesion: float | None = None,
    min_code_size: int = MIN_CODE_SIZE,
) -> CodeframeDraft:
    """Return a draft codeframe for `texts`, whose vectors are the rows of `vectors` (e.g.
    float32 from `embeddings.services.embed_texts`).

    `embed(phrases) -> vectors` (optional) embeds candidate label phrases; without it labels
    are chosen from the answers' vectors. `n_codes` fixes the number of theme codes (small
    codes are then kept, not dissolved), `max_codes` caps it (default
    `clustering.DEFAULT_MAX_CODES`); otherwise the number follows from how cohesive the data's
    themes are (`cohesion` overrides the target). Non-answer codes come on top.
    `random_state` seeds the k-means micro-clustering used above `clustering.DIRECT_MAX`
    distinct answers.

    Raises ValueError if `vectors` does not have one row per text, or a count is below 1.
    """
    texts = list(texts)
    if n_codes is not None and n_codes < 1:
        raise ValueError("n_codes must be at least 1")
    if max_codes is not None and max_codes < 1:
        raise ValueError("max_codes must be at least 1")
    vectors = np.asarray(vectors, dtype=np.float32)
    if not texts and vectors.size == 0:
        vectors = vectors.reshape(0, vectors.shape[-1] if vectors.ndim == 2 else 0)
    if vectors.ndim != 2 or vectors.shape[0] != len(texts):
        raise ValueError(f"vectors has shape {vectors.shape}, expected ({len(texts)}, dim)")
    started = time.perf_counter()

    answers = _collapse(texts, vectors)
    kinds = [nonanswers.classify(key) for key in answers.keys]
    theme_idx = np.flatnonzero([kind is None for kind in kinds])
    clusters = clustering.cluster_themes(
        answers.unit[theme_idx],
        answers.counts[theme_idx],
        n_codes=n_codes,
        max_codes=max_codes,
        cohesion=cohesion,
        min_code_size=1 if n_codes else min_code_size,
        random_state=random_state,
    )
    frame = _build_frame(answers, kinds, theme_idx, clusters, embed=embed)
    return CodeframeDraft(
        codes=frame.codes,
        nets=frame.nets,
        assignments=frame.assignments,
        confidences=frame.confidences,
        params={
            "n_codes": n_codes,
            "max_codes": max_codes,
            "random_state": random_state,
            "cohesion": cohesion,
            "min_code_size": min_code_size,
            "answers": len(texts),
            "distinct_answers": len(answers.keys),
            "blank_answers": int((answers.inverse < 0).sum()),
            "labels": "embedded phrases" if embed else "answer vectors",
            **clusters.params,
        },
        timings={"clustering_seconds": time.perf_counter() - started},
    )


# --- 1. collapse -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Answers:
    keys: list[str]  # sorted distinct normalised answers
    verbatim: list[str]  # the commonest original spelling of each
    counts: np.ndarray  # copies of each
    unit: np.ndarray  # L2-normalised mean vector of each (float32)
    inverse: np.ndarray  # per input text: its distinct answer, -1 = blank


def _collapse(texts: list[str], vectors: np.ndarray) -> _Answers:
    keys = [nonanswers.normalise(t) for t in texts]
    distinct = sorted({k for k in keys if k})
    position = {k: i for i, k in enumerate(distinct)}
    inverse = np.fromiter((position.get(k, -1) for k in keys), dtype=np.intp, count=len(keys))
    counts = np.bincount(inverse[inverse >= 0], minlength=len(distinct))

    inv = inverse.tolist()
    spellings = Counter((u, t.strip()) for u, t in zip(inv, texts, strict=True) if u >= 0)
    verbatim = [""] * len(distinct)
    best: dict[int, tuple[int, str]] = {}
    for (u, spelling), n in spellings.items():
        current = best.get(u)
        if current is None or (-n, spelling) < (-current[0], current[1]):
            best[u] = (n, spelling)
    for u, (_, spelling) in best.items():
        verbatim[u] = spelling

    # Mean of each answer's copies, summed in an order fixed by the text (not the input order).
    coded = np.flatnonzero(inverse >= 0)
    order = sorted(coded.tolist(), key=lambda i: (inv[i], texts[i]))
    dim = vectors.shape[1]
    if order:
        # Rows in (answer, text) order: each sum adds its copies in an order fixed by the data.
        means = clustering.group_sums(vectors[order], inverse[order], len(distinct))
    else:
        means = np.zeros((0, dim), dtype=np.float32)
    return _Answers(distinct, verbatim, counts, clustering.unit(means).astype(np.float32), inverse)


# --- 4-6. the frame ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Frame:
    codes: list[DraftCode]
    nets: list[DraftNet]
    assignments: list[list[int]]
    confidences: list[list[float]]


def _build_frame(
    answers: _Answers,
    kinds: list[str | None],
    theme_idx: np.ndarray,
    clusters: clustering.Clusters,
    *,
    embed: Callable[[list[str]], np.ndarray] | None,
) -> _Frame:
    k = len(clusters.centroids)
    x = answers.unit[theme_idx]
    weights = answers.counts[theme_idx].astype(np.float64)
    docs = [answers.verbatim[i] for i in theme_idx]
    labels, moved = _gather_other_scripts(clusters.labels, docs)
    sizes = np.bincount(labels[labels >= 0], weights=weights[labels >= 0], minlength=k)
    examples = _examples(x, labels, clusters.centroids, docs)

    # Words are read from at most TERM_SAMPLE answers a code, each standing for its share.
    sample, scale = _term_sample(labels, k)
    sampled = [docs[i] for i in sample.tolist()]
    terms = labelling.count_terms(sampled)
    x_s, labels_s = x[sample], labels[sample]
    weights_s = weights[sample] * scale[labels_s]
    keywords = labelling.keywords_by_group(terms, labels_s, k, weights=weights_s)
    # Largest codes first (they choose their labels first); ties by their most central answer.
    by_size = sorted(range(k), key=lambda c: (-sizes[c], examples[c][0]))
    code_labels = phrases.choose_labels(
        terms,
        labels_s,
        k,
        weights=weights_s,
        unit=x_s,
        centroids=clusters.centroids,
        order=by_size,
        fallbacks=[e[0] for e in examples],
        embed=embed,
        texts=sampled,
    )
    _name_other_languages(code_labels, keywords, labels, docs)
    code_id = {c: rank + 1 for rank, c in enumerate(by_size)}

    net_of = nets.group_codes(clusters.centroids)
    n_nets = int(net_of.max()) + 1 if k else 0
    net_members = [[c for c in by_size if net_of[c] == net] for net in range(n_nets)]
    net_order = sorted(
        range(n_nets),
        key=lambda net: (-sizes[net_members[net]].sum(), code_id[net_members[net][0]]),
    )
    net_label = _net_labels(
        terms, labels_s, net_of, net_members, net_order, x_s, weights_s, code_labels, embed, sampled
    )
    net_id = {net: rank + 1 for rank, net in enumerate(net_order)}

    codes = [
        DraftCode(
            id=code_id[c],
            label=code_labels[c],
            keywords=keywords[c],
            net_id=net_id[net_of[c]],
            net=net_label[net_of[c]],
            size=int(sizes[c]),
            examples=examples[c],
        )
        for c in by_size
    ]
    draft_nets = [
        DraftNet(
            id=net_id[net], label=net_label[net], code_ids=[code_id[c] for c in net_members[net]]
        )
        for net in net_order
    ]

    # Per distinct answer: (code ids, confidences).
    coded: list[tuple[list[int], list[float]]] = [([], [])] * len(answers.keys)
    for row, (chosen, confidence) in enumerate(assignment.assign(x, clusters.centroids, labels)):
        if chosen:
            if row in moved:  # its vector is no reading of it: no second code by it
                chosen, confidence = chosen[:1], confidence[:1]
            coded[int(theme_idx[row])] = ([code_id[c] for c in chosen], confidence)
    _add_non_answer_codes(answers, kinds, codes, draft_nets, coded)

    assignments, confidences = [], []
    for u in answers.inverse:
        ids, conf = coded[u] if u >= 0 else ([], [])
        assignments.append(list(ids))
        confidences.append(list(conf))
    return _Frame(codes, draft_nets, assignments, confidences)


# A character of a script the model does not read (Greek, Cyrillic, Hebrew, Arabic, Indic,
# Thai, CJK, Hangul...): a quick first look, `_other_script` checks that it is a letter of no
# Latin script (U+1E00-1EFF is Vietnamese's Latin, U+FE0F an emoji's variation selector, both
# outside these ranges).
_OTHER_SCRIPT = re.compile(
    r"[\u0370-\u1DFF\u1F00-\u1FFF\u2C00-\u2DFF\u3040-\u9FFF\uA000-\uD7FF\uF900-\uFAFF]"
)


def _other_script(text: str) -> bool:
    """Whether `text` has a letter of a script other than Latin (see `_OTHER_SCRIPT`)."""
    return any(
        ch.isalpha() and not unicodedata.name(ch, "LATIN").startswith("LATIN")
        for ch in _OTHER_SCRIPT.findall(text)
    )


def _gather_other_scripts(labels: np.ndarray, docs: list[str]) -> tuple[np.ndarray, set[int]]:
    """`labels` with the answers in a script the model does not read moved into the code of
    answers in other languages (the largest code `languages.other_languages` names), and the
    rows moved. Answers in French or Spanish look alike to the model and cluster together; one
    in Chinese or Russian is all unknown tokens, so it lands beside emoji ("服务很好" in a code
    of "👍👍"). Only those whose language py3langid is sure of move (`language_of`), and only
    when there is such a code; the others stay where the vectors put them."""
    candidates = [row for row, doc in enumerate(docs) if _other_script(doc)]
    if not candidates or labels.size == 0:
        return labels, set()
    k = int(labels.max()) + 1
    sizes = np.bincount(labels[labels >= 0], minlength=k)
    foreign = [
        c
        for c in np.argsort(-sizes, kind="stable").tolist()
        if sizes[c]
        and languages.other_languages(
            [docs[i] for i in np.flatnonzero(labels == c)[: languages.SAMPLE].tolist()]
        )
    ]
    if not foreign:
        return labels, set()
    target = foreign[0]
    moved = {
        row
        for row in candidates
        if labels[row] >= 0
        and labels[row] not in foreign
        and languages.language_of(docs[row]) is not None
    }
    if not moved:
        return labels, set()
    labels = labels.copy()
    labels[list(moved)] = target
    return labels, moved


def _name_other_languages(
    code_labels: list[str], keywords: list[list[str]], labels: np.ndarray, docs: list[str]
) -> None:
    """Rename, in place, a code most of whose answers are in other languages than English
    ("Other languages: Spanish, French"; `languages.other_languages`), its keywords the
    languages ("spanish", "french"): its phrases and terms are fragments of a language the
    vectors do not read ("abro", "al", "app se"). A code keeps its phrase when the name is
    taken (two such codes naming the same languages)."""
    for c in range(len(code_labels)):
        members = np.flatnonzero(labels == c)[: languages.SAMPLE]
        names = languages.other_languages([docs[i] for i in members.tolist()])
        if names and languages.label_of(names) not in code_labels:
            code_labels[c] = languages.label_of(names)
            keywords[c] = [name.lower() for name in names]


def _term_sample(labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows (sorted) of at most `TERM_SAMPLE` answers per code, evenly spaced among its
    answers (which are sorted by text), and per code the factor its sampled answers stand
    for (answers / sampled)."""
    picked, scale = [], np.ones(max(k, 1))
    for c in range(k):
        members = np.flatnonzero(labels == c)
        if len(members) > TERM_SAMPLE:
            scale[c] = len(members) / TERM_SAMPLE
            members = members[np.linspace(0, len(members) - 1, TERM_SAMPLE).round().astype(int)]
        picked.append(members)
    rows = np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.intp)
    return rows, scale


def _examples(
    x: np.ndarray, labels: np.ndarray, centroids: np.ndarray, docs: list[str]
) -> list[list[str]]:
    """The `N_EXAMPLES` answers of each code most similar to its centroid."""
    result = []
    for c in range(len(centroids)):
        members = np.flatnonzero(labels == c)
        sims = x[members] @ centroids[c]
        central = members[np.lexsort((members, -sims))][:N_EXAMPLES]
        result.append([docs[i] for i in central])
    return result


def _net_labels(
    terms: labelling.TermCounts,
    labels: np.ndarray,
    net_of: np.ndarray,
    net_members: list[list[int]],
    net_order: list[int],
    x: np.ndarray,
    weights: np.ndarray,
    code_labels: list[str],
    embed: Callable[[list[str]], np.ndarray] | None,
    texts: list[str] | None = None,
) -> dict[int, str]:
    """A net of one code is named by it; a net of several by a phrase its codes share, not
    already a code's label; failing one, by its codes' labels (`net_members` lists them
    biggest first: "Staff / Station", as far as a label's words go), not by its first code's
    label made unique ("Staff (ii)" named a net of a "Staff" and a "Station" code)."""
    result = {net: code_labels[members[0]] for net, members in enumerate(net_members)}
    multi = [net for net in net_order if len(net_members[net]) > 1]
    if not multi:
        return result
    answer_net = np.where(labels >= 0, net_of[np.maximum(labels, 0)], -1)
    net_centroids = clustering.centroids(x, answer_net, len(net_members))
    chosen = phrases.choose_labels(
        terms,
        answer_net,
        len(net_members),
        weights=weights,
        unit=x,
        centroids=net_centroids,
        order=multi,
        fallbacks=[" / ".join(code_labels[c] for c in members) for members in net_members],
        embed=embed,
        parts=labels,
        taken=code_labels,
        texts=texts,
    )
    result.update({net: chosen[net] for net in multi})
    return result


def _add_non_answer_codes(
    answers: _Answers,
    kinds: list[str | None],
    codes: list[DraftCode],
    draft_nets: list[DraftNet],
    coded: list[tuple[list[int], list[float]]],
) -> None:
    """Append the non-answer codes and their net, in `nonanswers.LABELS` order; code them."""
    na_kinds = sorted(
        {kind for kind in kinds if kind is not None}, key=list(nonanswers.LABELS).index
    )
    if not na_kinds:
        return
    na_net = len(draft_nets) + 1
    na_id = {kind: len(codes) + 1 + i for i, kind in enumerate(na_kinds)}
    for kind in na_kinds:
        members = [u for u, kd in enumerate(kinds) if kd == kind]
        common = sorted(members, key=lambda u: (-answers.counts[u], answers.keys[u]))
        codes.append(
            DraftCode(
                id=na_id[kind],
                label=nonanswers.LABELS[kind],
                keywords=[],
                net_id=na_net,
                net=NON_ANSWER_NET,
                size=int(answers.counts[members].sum()),
                examples=[answers.verbatim[u] for u in common[:N_EXAMPLES]],
                kind="non_answer",
            )
        )
        for u in members:
            coded[u] = ([na_id[kind]], [1.0])
    draft_nets.append(DraftNet(id=na_net, label=NON_ANSWER_NET, code_ids=list(na_id.values())))
