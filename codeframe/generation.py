"""Texts (+ vectors) -> a codeframe draft. Pure numpy / scikit-learn: no ORM, no Django models.

PLACEHOLDER implementation (Ward linkage with a size-based number of codes); the interface
below is the contract the rest of the product relies on.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


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
    assignments: list[list[int]]
    # Parallel to `assignments`: the confidence (0..1) of each of those codes.
    confidences: list[list[float]]
    params: dict[str, Any] = field(default_factory=dict)
    # embedding_seconds, clustering_seconds, cache_hits, cache_misses
    timings: dict[str, float] = field(default_factory=dict)


def generate_codeframe(
    texts: Sequence[str],
    *,
    vectors: np.ndarray | None = None,
    n_codes: int | None = None,
    max_codes: int | None = None,
    random_state: int = 0,
) -> CodeframeDraft:
    """Return a draft codeframe for `texts`; `vectors` (float32, one row per text) skips
    embedding. `n_codes` fixes the number of theme codes, `max_codes` caps it."""
    from sklearn.cluster import AgglomerativeClustering

    timings: dict[str, float] = {}
    if vectors is None:
        from embeddings.services import embed_texts_with_report

        report = embed_texts_with_report(list(texts))
        vectors = report.vectors
        timings.update(
            embedding_seconds=report.seconds,
            cache_hits=report.hits,
            cache_misses=report.misses,
        )
    started = time.perf_counter()
    n = len(texts)
    k = n_codes or max(1, min(max_codes or n, int(np.sqrt(n / 2)) or 1))
    labels = (
        AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(vectors)
        if n > k
        else np.arange(n)
    )
    codes = []
    for cid in range(k):
        members = [texts[i] for i in np.flatnonzero(labels == cid)]
        codes.append(
            DraftCode(
                id=cid + 1,
                label=members[0][:60] if members else f"Code {cid + 1}",
                keywords=[],
                net_id=1,
                net="All",
                size=len(members),
                examples=members[:3],
            )
        )
    timings["clustering_seconds"] = time.perf_counter() - started
    return CodeframeDraft(
        codes=codes,
        nets=[DraftNet(id=1, label="All", code_ids=[c.id for c in codes])],
        assignments=[[int(label) + 1] for label in labels],
        confidences=[[1.0] for _ in labels],
        params={"n_codes": n_codes, "max_codes": max_codes},
        timings=timings,
    )
