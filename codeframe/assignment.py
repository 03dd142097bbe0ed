"""Answers -> their codes and confidences, from similarities to the code centroids.

The primary code is the cluster's (the most similar centroid after clustering's last
assignment step). A second code is added when the answer is, in absolute terms, similar to that
code's centroid (`MULTI_CODE_SIMILARITY`) and nearly as similar as to its primary code
(`MULTI_CODE_MARGIN`). Confidences are a softmax of the similarities. Rows are processed in
chunks of float32 similarities, so memory is chunk x codes, not answers x codes.
"""

from __future__ import annotations

import numpy as np

MULTI_CODE_SIMILARITY = 0.55
MULTI_CODE_MARGIN = 0.03
# Softmax temperature turning centroid similarities into confidences.
CONFIDENCE_TEMPERATURE = 0.05
CHUNK = 8192


def assign(
    x: np.ndarray, centroids: np.ndarray, primary: np.ndarray
) -> list[tuple[list[int], list[float]]]:
    """For each unit row of `x` with a `primary` code (-1 = uncoded: ([], [])), its codes
    (primary first, indices into `centroids`) and their confidences (0..1, 4 decimals)."""
    result: list[tuple[list[int], list[float]]] = [([], [])] * len(x)
    if len(centroids) == 0:
        return result
    cents = centroids.T.astype(np.float32)
    for start in range(0, len(x), CHUNK):
        rows = start + np.flatnonzero(primary[start : start + CHUNK] >= 0)
        if rows.size == 0:
            continue
        s = x[rows] @ cents
        own_code = primary[rows]
        at = np.arange(rows.size)
        own = s[at, own_code]
        scaled = np.exp((s - s.max(axis=1, keepdims=True)) / np.float32(CONFIDENCE_TEMPERATURE))
        probability = scaled / scaled.sum(axis=1, keepdims=True)
        s[at, own_code] = -np.inf
        second = np.argmax(s, axis=1)  # ties: the lower code index, fixed by the data
        best_other = s[at, second]
        multi = (best_other >= MULTI_CODE_SIMILARITY) & (best_other >= own - MULTI_CODE_MARGIN)
        for r, row in enumerate(rows.tolist()):
            chosen = [int(own_code[r]), int(second[r])] if multi[r] else [int(own_code[r])]
            result[row] = (chosen, [round(float(probability[r, c]), 4) for c in chosen])
    return result
