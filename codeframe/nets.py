"""Codes -> nets: groups of codes about one broader subject, as many as the data has.

Average-linkage (cosine) clustering of the code centroids. The number of nets is the cut of
that tree with the best silhouette (how much closer a code is to the codes of its own net than
to those of the nearest other net), among cuts whose nets are closer inside than
`NET_SIMILARITY`; a frame whose codes share nothing has no multi-code nets, and a frame of a
few codes is not split into many nets. A code that joins no other stays its own net.
"""

from __future__ import annotations

import numpy as np

# Codes of one net are, on average, at least this similar (cosine of their centroids).
NET_SIMILARITY = 0.4
# Below this many codes nets add nothing: each code is its own net.
MIN_CODES = 4


def group_codes(centroids: np.ndarray) -> np.ndarray:
    """Net 0..m-1 of each code (unit rows of `centroids`), numbered by their first code."""
    from scipy.cluster.hierarchy import fcluster, linkage

    k = len(centroids)
    if k < MIN_CODES:
        return np.arange(k, dtype=np.intp)
    c = centroids.astype(np.float64)
    distance = np.clip(1 - c @ c.T, 0, 2)
    np.fill_diagonal(distance, 0)
    tree = linkage(c, method="average", metric="cosine")
    loosest = fcluster(tree, t=1 - NET_SIMILARITY, criterion="distance")
    best, best_score = np.arange(k) + 1, 0.0
    for m in range(int(loosest.max()), k):
        net = fcluster(tree, t=m, criterion="maxclust")
        if not 1 < net.max() < k:
            continue
        score = _silhouette(distance, net - 1)
        if score > best_score + 1e-9:
            best, best_score = net, score
    _, first = np.unique(best, return_index=True)
    rank = {best[i]: r for r, i in enumerate(sorted(first))}
    return np.array([rank[v] for v in best], dtype=np.intp)


def _silhouette(distance: np.ndarray, net: np.ndarray) -> float:
    """Mean silhouette of the codes (a code alone in its net scores 0), from the precomputed
    distances, for every cut at the cost of one matrix product."""
    k, m = len(net), int(net.max()) + 1
    onehot = np.zeros((k, m))
    onehot[np.arange(k), net] = 1
    sizes = onehot.sum(axis=0)
    sums = distance @ onehot
    at = np.arange(k)
    inside = sums[at, net] / np.maximum(sizes[net] - 1, 1)
    between = sums / sizes
    between[at, net] = np.inf
    nearest = between.min(axis=1)
    score = (nearest - inside) / np.maximum(np.maximum(inside, nearest), 1e-12)
    score[sizes[net] == 1] = 0
    return float(score.mean())
