"""Texts (+ vectors) -> a codeframe draft. Pure numpy / scipy / scikit-learn: no ORM.

The algorithm, in the order it runs:

1. Collapse. Answers are normalised (`nonanswers.normalise`: NFKC, case-folded, whitespace
   squeezed); each distinct answer is clustered once, its vector the mean of its copies. Blank
   answers are left uncoded (`[]`): there is nothing to code, and a "No answer" code would
   only inflate the frame; the page shows them as "Other / blank".
2. Non-answers ("nothing", "don't know", "asdfgh") are found by a lexicon and rules and get the
   standard codes of a "Non-answers" net; they never reach the clustering.
3. Themes (`clustering.cluster_themes`). Ward linkage on the L2-normalised vectors, cut at the
   smallest number of codes whose answers are, on average, as similar to one another as
   `cohesion` (mean pairwise cosine within a code, weighted by code size). That criterion
   depends on how alike the answers in a code are, not on how many answers or codes there
   are, so it works for a long tail of small codes as well as for balanced ones. By default
   the target adapts to the data: hand-written survey answers are phrased more variously
   than short intent messages, and a target they cannot reach shreds each theme into pairs.
   `n_codes` cuts at a fixed number instead; `max_codes` caps the number.
4. Codes with fewer than `min_code_size` answers are dissolved: each answer joins the nearest
   remaining code if it is similar enough to it, else it is left uncoded ("Other"). Small
   codes very close to another code are merged into it.
5. Multi-coding: an answer also gets a second code when its similarity to that code's centroid
   is high in absolute terms and within a small margin of its primary code's.
6. Nets: codes whose centroids are close (average-linkage cosine) form a net.
7. Labels: c-TF-IDF keywords per code and per net; examples are the most central answers.

Everything is sorted before it is clustered and ties are broken on the text, so the same
answers in any order give the same codeframe.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from codeframe import clustering, labelling, nonanswers


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
    # embedding_seconds, clustering_seconds, cache_hits, cache_misses
    timings: dict[str, float] = field(default_factory=dict)


MIN_CODE_SIZE = 3
# Second code: at least this similar to its centroid, and within MARGIN of the primary code.
MULTI_CODE_SIMILARITY = 0.55
MULTI_CODE_MARGIN = 0.03
# Softmax temperature turning centroid similarities into confidences.
CONFIDENCE_TEMPERATURE = 0.05
# Codes whose centroids are at least this similar (average linkage) share a net.
NET_SIMILARITY = 0.45
MAX_NETS = 12
N_EXAMPLES = 4
NON_ANSWER_NET = "Non-answers"


def generate_codeframe(
    texts: Sequence[str],
    *,
    vectors: np.ndarray | None = None,
    n_codes: int | None = None,
    max_codes: int | None = None,
    random_state: int = 0,
    cohesion: float | None = None,
    min_code_size: int = MIN_CODE_SIZE,
) -> CodeframeDraft:
    """Return a draft codeframe for `texts`.

    `vectors` (one row per text, e.g. float32 from `embeddings.services.embed_texts`) skips
    embedding. `n_codes` fixes the number of theme codes (small codes are then kept, not
    dissolved), `max_codes` caps it; otherwise the number follows from `cohesion` (None: adapted
    to how alike the answers are, at most `clustering.DEFAULT_COHESION`). Non-answer codes come
    on top of either. `random_state` seeds the k-means micro-clustering used above
    `clustering.DIRECT_MAX` distinct answers.

    Raises ValueError if `vectors` does not have one row per text, or a count is below 1.
    """
    texts = list(texts)
    if n_codes is not None and n_codes < 1:
        raise ValueError("n_codes must be at least 1")
    if max_codes is not None and max_codes < 1:
        raise ValueError("max_codes must be at least 1")
    timings: dict[str, float] = {}
    if vectors is None:
        from embeddings.services import embed_texts_with_report

        report = embed_texts_with_report(texts)
        vectors = report.vectors
        timings.update(
            embedding_seconds=report.seconds,
            cache_hits=report.hits,
            cache_misses=report.misses,
        )
    vectors = np.asarray(vectors, dtype=np.float32)
    if not texts and vectors.size == 0:
        vectors = vectors.reshape(0, vectors.shape[-1] if vectors.ndim == 2 else 0)
    if vectors.ndim != 2 or vectors.shape[0] != len(texts):
        raise ValueError(f"vectors has shape {vectors.shape}, expected ({len(texts)}, dim)")
    started = time.perf_counter()

    answers = _collapse(texts, vectors)
    kinds = [nonanswers.classify(key) for key in answers.keys]
    theme = np.array([kind is None for kind in kinds], dtype=bool)
    theme_idx = np.flatnonzero(theme)
    clusters = clustering.cluster_themes(
        answers.unit[theme_idx],
        answers.counts[theme_idx],
        n_codes=n_codes,
        max_codes=max_codes,
        cohesion=cohesion,
        min_code_size=1 if n_codes else min_code_size,
        random_state=random_state,
    )
    frame = _build_frame(answers, kinds, theme_idx, clusters)
    timings["clustering_seconds"] = time.perf_counter() - started
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
            **clusters.params,
        },
        timings=timings,
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

    spellings = Counter((int(u), t.strip()) for u, t in zip(inverse, texts, strict=True) if u >= 0)
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
    order = sorted(coded.tolist(), key=lambda i: (inverse[i], texts[i]))
    dim = vectors.shape[1]
    if order:
        sorted_rows = vectors[order].astype(np.float64)
        starts = np.flatnonzero(np.r_[True, np.diff(inverse[order]) != 0])
        means = np.add.reduceat(sorted_rows, starts, axis=0)
    else:
        means = np.zeros((0, dim))
    return _Answers(distinct, verbatim, counts, clustering.unit(means).astype(np.float32), inverse)


# --- 5-7. the frame ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Frame:
    codes: list[DraftCode]
    nets: list[DraftNet]
    assignments: list[list[int]]
    confidences: list[list[float]]


def _build_frame(
    answers: _Answers, kinds: list[str | None], theme_idx: np.ndarray, clusters: clustering.Clusters
) -> _Frame:
    k = len(clusters.centroids)
    x = answers.unit[theme_idx]
    labels = clusters.labels
    weights = answers.counts[theme_idx]
    sizes = np.bincount(labels[labels >= 0], weights=weights[labels >= 0], minlength=k)
    sims = x @ clusters.centroids.T if k else np.zeros((len(x), 0))

    docs = [answers.verbatim[i] for i in theme_idx]
    terms = labelling.count_terms(docs)
    keywords = labelling.keywords_by_group(terms, labels, k, weights=weights)
    examples: list[list[str]] = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        central = members[np.lexsort((members, -sims[members, c]))][:N_EXAMPLES]
        examples.append([docs[i] for i in central])
    code_labels = [labelling.short_label(keywords[c], examples[c][0]) for c in range(k)]

    # Theme codes by size (largest first); ties by label then by their most central answer.
    order = sorted(range(k), key=lambda c: (-sizes[c], code_labels[c], examples[c][0]))
    code_id = {c: rank + 1 for rank, c in enumerate(order)}

    net_of = _nets(clusters.centroids, sizes)
    n_nets = int(net_of.max()) + 1 if k else 0
    net_keywords = labelling.keywords_by_group(
        terms,
        np.where(labels >= 0, net_of[np.maximum(labels, 0)], -1),
        n_nets,
        top=2,
        weights=weights,
    )
    net_members = [[c for c in order if net_of[c] == net] for net in range(n_nets)]
    net_order = sorted(
        range(n_nets),
        key=lambda net: (-sizes[net_members[net]].sum(), code_id[net_members[net][0]]),
    )
    net_label: dict[int, str] = {}
    for net in net_order:
        if len(net_members[net]) == 1:
            net_label[net] = code_labels[net_members[net][0]]
        else:
            net_label[net] = labelling.short_label(
                net_keywords[net], examples[net_members[net][0]][0]
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
        for c in order
    ]
    nets = [
        DraftNet(
            id=net_id[net], label=net_label[net], code_ids=[code_id[c] for c in net_members[net]]
        )
        for net in net_order
    ]

    # Per distinct answer: (code ids, confidences).
    coded: list[tuple[list[int], list[float]]] = [([], [])] * len(answers.keys)
    rows = np.flatnonzero(labels >= 0)
    if rows.size:
        s = sims[rows].astype(np.float64)
        primary = labels[rows]
        own = s[np.arange(rows.size), primary]
        scaled = np.exp((s - s.max(axis=1, keepdims=True)) / CONFIDENCE_TEMPERATURE)
        probability = scaled / scaled.sum(axis=1, keepdims=True)
        masked = s.copy()
        masked[np.arange(rows.size), primary] = -np.inf
        second = np.argmax(masked, axis=1)  # ties: the lower code index, fixed by the data
        best_other = masked[np.arange(rows.size), second]
        multi = (best_other >= MULTI_CODE_SIMILARITY) & (best_other >= own - MULTI_CODE_MARGIN)
        for r, row in enumerate(rows.tolist()):
            chosen = [int(primary[r]), int(second[r])] if multi[r] else [int(primary[r])]
            coded[int(theme_idx[row])] = (
                [code_id[c] for c in chosen],
                [round(float(probability[r, c]), 4) for c in chosen],
            )

    na_kinds = sorted(
        {kind for kind in kinds if kind is not None}, key=list(nonanswers.LABELS).index
    )
    if na_kinds:
        na_net = len(nets) + 1
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
        nets.append(DraftNet(id=na_net, label=NON_ANSWER_NET, code_ids=list(na_id.values())))

    assignments, confidences = [], []
    for u in answers.inverse:
        ids, conf = coded[u] if u >= 0 else ([], [])
        assignments.append(list(ids))
        confidences.append(list(conf))
    return _Frame(codes, nets, assignments, confidences)


def _nets(centroids: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Net 0..m-1 of each code: average-linkage cosine on the code centroids."""
    from scipy.cluster.hierarchy import fcluster, linkage

    k = len(centroids)
    if k < 3:
        return np.zeros(k, dtype=np.intp)
    tree = linkage(centroids.astype(np.float64), method="average", metric="cosine")
    net = fcluster(tree, t=1 - NET_SIMILARITY, criterion="distance")
    if net.max() > MAX_NETS:
        net = fcluster(tree, t=MAX_NETS, criterion="maxclust")
    # Number nets by their first code so the numbering never depends on scipy's.
    _, first = np.unique(net, return_index=True)
    rank = {net[i]: r for r, i in enumerate(sorted(first))}
    return np.array([rank[v] for v in net], dtype=np.intp)
