"""Theme clustering for codeframe generation: answer vectors -> codes. Pure numpy / scipy.

`cluster_themes` runs, on L2-normalised vectors of distinct answers:

1. Ward linkage (above `DIRECT_MAX` answers, on the centroids of `MICRO_CLUSTERS` spherical
   k-means micro-clusters, so memory stays O(m^2) not O(n^2)).
2. A cut at the smallest number of codes whose answers are, on average, as similar to one
   another as the target cohesion (mean pairwise cosine within a code, weighted by size). The
   target is read from the data: `COHESION_SHARE` of the way from the background similarity
   (two answers at random) to the similarity of an answer to its 3rd most similar answer.
   Hand-written survey answers to one theme are phrased far more variously than BANKING77's
   messages of one intent (targets 0.40 against 0.62), and a theme of 10,000 answers is
   tighter at the core than one of 10; both statistics move with that, a fixed target does
   not. On big sets the neighbour is looked for among all answers, not a sample. Below
   `ADAPT_MIN_ANSWERS` distinct answers the target is fixed.
3. Walking down the tree, a node that is, and whose two halves both are, at least as cohesive
   as the target is kept as one code instead of the codes cut below it: one cut height makes
   the codes cohesive on average, so it cuts a big loose theme into tight pieces to make up
   for a few mixed codes below the target.
4. A code whose two Ward halves are no more alike than two answers at random is split into
   them, down the tree: Ward joins the smallest themes of a long-tailed set before it splits
   the biggest, so the cut alone leaves a few codes of two unrelated themes.
5. Codes smaller than `min_code_size` are dissolved: each answer joins the most similar
   remaining code if it reaches `ATTACH_SIMILARITY`, else it is left uncoded ("Other").
6. Codes about as alike to each other as inside (`MERGE_SEPARATION`), or as alike to each
   other as the target wants answers inside one code to be (`CROSS_SHARE`), merge: Ward
   splits a broad theme by wording where a coder keeps one code.
7. A code whose answers are hardly more alike than two answers at random (mean pairwise
   cosine under `LOOSE_SHARE` of the way from the background similarity to the target) is no
   theme but a grab-bag of answers Ward had nowhere else to put, such as off-topic remarks
   ("I like turtles", "Is this the right form?") or a few one-off complaints: it is dissolved
   as in 5 (its answers join a code they are close to, or stay uncoded for the analyst).
8. One k-means assignment step, so the primary code is always the most similar one.
9. An answer whose cosine to its code's centroid is under `DETACH_SIMILARITY` is an outlier
   Ward put in a code that is cohesive without it (an off-topic remark among a theme's
   answers): it is left uncoded, as an answer of a dissolved code that no code is near.

The number of codes is capped at `DEFAULT_MAX_CODES` unless the caller asks otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# The target cohesion of a code lies this share of the way from the background similarity (of
# two answers at random) to the similarity of an answer to its NEIGHBOUR_RANK-th most similar
# answer (medians over the answers). Measured where the Ward cut has as many codes as there
# are real themes: 0.67-0.75 on BANKING77 whole and resampled with long tails from 150 to
# 5,000 answers, and on two hand-coded surveys whose answers are phrased far more variously
# (their absolute targets are 0.40 against BANKING77's 0.62, which one fixed target misses).
COHESION_SHARE = 0.71
NEIGHBOUR_RANK = 3
MIN_COHESION = 0.25
MAX_COHESION = 0.85
# Below this many distinct answers the target is fixed (tuned on BANKING77 in an earlier round).
ADAPT_MIN_ANSWERS = 50
SMALL_SET_COHESION = 0.63
# An answer of a dissolved small code joins the nearest code only if at least this similar to
# its centroid; below that it is an outlier and stays uncoded.
ATTACH_SIMILARITY = 0.35
# Two codes merge when they are at least this many times as alike to each other as inside
# (see `_merge_close_codes`). Ward halves of one theme reach 0.6-0.8, neighbouring themes
# 0.4-0.8 (BANKING77, its resamples, both surveys): only the clearest pairs merge. 0.75 merged
# distinct BANKING77 intents (77 -> 54 codes); 0.8 and 0.85 both kept every set within
# 0.75-1.33 codes a theme, 0.85 with the better NMI on balanced data.
MERGE_SEPARATION = 0.85
# Two codes also merge when answers of one are, on average, about as similar to the other's as
# the cut wants answers inside a code to be: mean cross similarity >= CROSS_SHARE x the target
# cohesion. Ward cuts a big theme of a long-tailed set into pieces whose within similarity is
# far above the target (0.7-0.85 against 0.59) so the ratio above stays under 0.85, though the
# pieces are as alike as a code should be. On 33 sets (BANKING77, long-tailed resamples of
# 150-50,000 answers, seeds 0-11, both surveys): 1.0 merged almost none of them, 0.95 raised
# the mean ARI 0.595 -> 0.644 with no set worse by more than 0.004; 0.9 and below merged
# distinct intents (ARI -0.12 on one 600-answer set) and left too few codes. (With the split of
# unrelated halves, 0.85 beats BERTopic's ARI on every set but still costs that set 0.13;
# keeping cohesive nodes whole, see `_keep_cohesive_nodes`, wins that set at 0.95.)
CROSS_SHARE = 0.95
# An answer of a kept code at least this similar to its centroid stays in it (step 9); a lower
# bar than ATTACH_SIMILARITY, which an answer must reach to join a code it was not in. On
# bench/codeframe.py's 32 sets up to 5,000 answers (--more-sets), its 49,995-answer set and 6
# more long-tailed BANKING77 sets with off-topic remarks, short answers and non-answers (seeds
# 101-606, from a quality review): the off-topic remarks left uncoded rose from 61-64% to
# 81-87% on the 5,000-answer sets, from 0% to 80% on the 49,995-answer one, and from 0 of 3
# to 3 on a 120-answer set ("It's been raining all week" had been coded "Contactless pay");
# theme answers left uncoded held (0.58% -> 0.59% on average, at most 2 answers more on a
# set); NMI rose or held on every set, ARI on all but one (-0.001). 0.35 left 4 answers of the
# sample survey's hand-coded themes out (ARI 0.522 -> 0.517).
DETACH_SIMILARITY = 0.30
# A code whose mean pairwise cosine is under LOOSE_SHARE of the way from the background
# similarity to the target cohesion is dissolved (step 7). On bench/codeframe.py's 32 sets
# (--more-sets: BANKING77, long-tailed resamples of 150-5,000 answers with 3% off-topic remarks
# over seeds 0-11, both hand-coded surveys), 0.2 left 2-3.5% of each long-tailed set uncoded,
# nearly all of them the off-topic remarks (599 of 636 uncoded answers over the sets, against
# 390 of 409 without the step; each set's 3% had been a code of their own or joined a theme),
# dissolved a 12-answer code of 8 hand-coded themes on the commuter survey (ARI 0.379 -> 0.475)
# and a 6-answer one of 4 on the sample survey; NMI and ARI rose or held on all but 4 sets,
# which lost at most 0.003. 0.27-0.35 left more of the surveys' real themes out (sample survey:
# 17 answers uncoded against 7, 14 of them of a hand-coded theme).
LOOSE_SHARE = 0.2
# The default cap on the number of codes: more is not a codeframe a person reviews.
DEFAULT_MAX_CODES = 150
# Up to this many distinct answers Ward runs on the answers themselves (O(n^2) memory).
DIRECT_MAX = 4000
MICRO_CLUSTERS = 1000
# The micro-clusters' centres are fitted on at most this many rows (all rows are then assigned).
KMEANS_SAMPLE = 10_000
# Above DIRECT_MAX answers the neighbour similarity is the median over this many answers, each
# against all answers (see `similarity_levels`): 0.6 s at 38,806 distinct answers, 2 cores.
NEIGHBOUR_QUERIES = 1000


@dataclass(frozen=True)
class Clusters:
    labels: np.ndarray  # per answer: its code 0..k-1, -1 = uncoded
    centroids: np.ndarray  # (k, dim), L2-normalised
    params: dict[str, Any]


def cluster_themes(
    x: np.ndarray,
    weights: np.ndarray,
    *,
    n_codes: int | None,
    max_codes: int | None,
    cohesion: float | None,
    min_code_size: int,
    random_state: int,
) -> Clusters:
    """Cluster the unit rows of `x` (distinct answers, `weights` copies of each) into codes.

    `n_codes` fixes the number of codes, `max_codes` caps it; otherwise it follows from
    `cohesion` (None: adapted to the data, see the module docstring). `random_state` seeds the
    micro-clustering above `DIRECT_MAX` rows.
    """
    params: dict[str, Any] = {"method": "ward"}
    if len(x) == 0:
        return Clusters(np.zeros(0, dtype=np.intp), np.zeros((0, x.shape[1])), params)
    if len(x) > DIRECT_MAX:
        leaf_of = _micro_clusters(x, MICRO_CLUSTERS, random_state=random_state)
        leaves = centroids(x, leaf_of, int(leaf_of.max()) + 1)
        params.update(method="kmeans-micro-clusters+ward", micro_clusters=len(leaves))
    else:
        leaf_of = np.arange(len(x))
        leaves = x
    n_leaves = len(leaves)
    leaf_sums = group_sums(x, leaf_of, n_leaves)
    leaf_counts = np.bincount(leaf_of, minlength=n_leaves).astype(np.float64)

    merges = _ward(leaves)
    k_cap = min(n_leaves, max_codes or DEFAULT_MAX_CODES)
    if n_codes:
        k = min(n_codes, n_leaves)
    else:
        curve = _cohesion_curve(merges, leaf_sums, leaf_counts, k_cap)
        if cohesion is None and len(x) < ADAPT_MIN_ANSWERS:
            # A few dozen answers say too little about how alike a theme's answers are.
            cohesion = SMALL_SET_COHESION
        elif cohesion is None:
            background, neighbour = similarity_levels(x)
            cohesion = float(
                np.clip(
                    background + COHESION_SHARE * (neighbour - background),
                    MIN_COHESION,
                    MAX_COHESION,
                )
            )
            params.update(
                background_similarity=round(background, 4),
                neighbour_similarity=round(neighbour, 4),
            )
        params.update(target_cohesion=round(float(cohesion), 4))
        reached = np.flatnonzero(curve >= cohesion)
        k = int(reached[0]) + 1 if reached.size else k_cap
        params.update(cohesion_at_k=round(float(curve[k - 1]), 4))
    params.update(chosen_k=k)
    roots = _cut_roots(merges, n_leaves, k)
    if not n_codes:
        roots = _keep_cohesive_nodes(merges, roots, leaf_sums, leaf_counts, target=cohesion)
        params.update(kept_whole=k - len(roots))
        k = len(roots)
    if "background_similarity" in params and not n_codes:
        roots, split = _split_unrelated_halves(
            merges,
            roots,
            leaf_sums,
            leaf_counts,
            background=params["background_similarity"],
            min_size=min_code_size,
            max_roots=k_cap,
        )
        k = len(roots)
        params.update(split_codes=split)
    labels = _label_leaves(merges, n_leaves, roots)[leaf_of]

    sizes = np.bincount(labels, weights=weights, minlength=k)
    keep = sizes >= min(min_code_size, sizes.max())
    cents = centroids(x, labels, k)
    if not keep.all():
        labels, k = _dissolve(x, labels, keep, cents[keep])
        cents = centroids(x, labels, k)
        params.update(dissolved_codes=int((~keep).sum()))
    if k > 1 and not n_codes:  # a number of codes asked for is kept
        labels, k, merged = _merge_close_codes(x, labels, k, cohesion=cohesion)
        cents = centroids(x, labels, k)
        params.update(merged_codes=merged)
    if k > 1 and not n_codes and "background_similarity" in params:
        background = params["background_similarity"]
        floor = background + LOOSE_SHARE * (cohesion - background)
        labels, k, loose = _dissolve_loose_codes(x, labels, k, floor=floor)
        cents = centroids(x, labels, k)
        params.update(loose_codes=loose)
    # Ward's cut leaves some answers nearer another code's centroid; moving them there (one
    # k-means assignment step) makes the primary code the most similar one, as multi-coding
    # and the confidences assume. The centroids stay those the answers were compared with.
    coded = labels >= 0
    labels[coded] = nearest(x[coded], cents)
    if not n_codes:  # a number of codes asked for is kept
        fit = np.einsum("ij,ij->i", x[coded], cents[labels[coded]])
        labels[np.flatnonzero(coded)[fit < DETACH_SIMILARITY]] = -1
        params.update(detached=int((fit < DETACH_SIMILARITY).sum()))  # distinct answers
        coded = labels >= 0
    used, labels[coded] = np.unique(labels[coded], return_inverse=True)
    return Clusters(labels, cents[used], params)


def _dissolve_loose_codes(
    x: np.ndarray, labels: np.ndarray, k: int, *, floor: float
) -> tuple[np.ndarray, int, int]:
    """Dissolve (`_dissolve`) the codes whose mean pairwise cosine is under `floor`. When
    every code is that loose the answers have no theme to join, and the codes are kept as
    they are.

    Returns the new labels (0..k'-1, -1 kept), k' and the number of codes dissolved."""
    sums = group_sums(x, labels, k)
    keep = _within_similarity(sums, _counts(labels, k)) >= floor
    if keep.all() or not keep.any():
        return labels, k, 0
    labels, k = _dissolve(x, labels, keep, unit(sums[keep]).astype(np.float32))
    return labels, k, int((~keep).sum())


def _dissolve(
    x: np.ndarray, labels: np.ndarray, keep: np.ndarray, kept_centroids: np.ndarray
) -> tuple[np.ndarray, int]:
    """Each answer of a code not to `keep` joins the most similar kept code if it reaches
    `ATTACH_SIMILARITY` (cosine to its centroid; `kept_centroids`, the kept codes' in order,
    which the callers have at hand), else it is left uncoded. Returns the new labels (kept
    codes renumbered 0..k'-1, -1 kept) and k'."""
    coded = labels >= 0
    sims = x @ kept_centroids.T
    near = np.argmax(sims, axis=1)
    close = sims[np.arange(len(x)), near] >= ATTACH_SIMILARITY
    new_id = np.cumsum(keep) - 1
    code = np.maximum(labels, 0)
    kept = np.where(coded & keep[code], new_id[code], -1)
    return np.where(coded & ~keep[code], np.where(close, near, -1), kept), int(keep.sum())


def _counts(labels: np.ndarray, k: int) -> np.ndarray:
    """Answers per label 0..k-1 (float64); -1 is skipped."""
    return np.bincount(labels[labels >= 0], minlength=k).astype(np.float64)


def _within_similarity(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per group (its row sum of unit vectors, its size): the mean cosine of two of its
    answers, self-pairs excluded; 1 for a group of one."""
    pairs = np.maximum(counts * (counts - 1), 1)
    return np.where(counts > 1, (np.einsum("ij,ij->i", sums, sums) - counts) / pairs, 1.0)


def _merge_close_codes(
    x: np.ndarray, labels: np.ndarray, k: int, *, cohesion: float | None
) -> tuple[np.ndarray, int, int]:
    """Merge, most alike pair first, codes that are at least `MERGE_SEPARATION` times as alike
    to each other (mean cross similarity) as they are inside (geometric mean of their mean
    within similarities, self-pairs excluded), or whose mean cross similarity reaches
    `CROSS_SHARE` x the target `cohesion` (None: that test is off): Ward splits a broad theme
    by wording where a coder keeps one code. Neither test depends on the codes' sizes, so big
    and small codes are judged alike. A pair's score is the larger of its two values over
    their thresholds; pairs merge while the best score is at least 1.

    Returns the new labels (0..k'-1, -1 kept), k' and the number of codes merged away."""
    coded = labels >= 0
    sums = group_sums(x, labels, k)
    counts = _counts(labels, k)
    into = np.arange(k)
    alive = np.ones(k, dtype=bool)
    merged = 0
    while alive.sum() > 1:
        live = np.flatnonzero(alive)
        s, c = sums[live], counts[live]
        within = np.maximum(_within_similarity(s, c), 1e-6)
        cross = (s @ s.T) / np.outer(c, c)
        score = cross / np.sqrt(np.outer(within, within)) / MERGE_SEPARATION
        if cohesion is not None:
            score = np.maximum(score, cross / (CROSS_SHARE * cohesion))
        np.fill_diagonal(score, -np.inf)
        best = int(np.argmax(score))  # ties: the first pair in code order, fixed by the data
        a, b = divmod(best, len(live))
        if score[a, b] < 1:
            break
        keep, gone = int(live[min(a, b)]), int(live[max(a, b)])
        sums[keep] += sums[gone]
        counts[keep] += counts[gone]
        alive[gone] = False
        into[into == gone] = keep
        merged += 1
    _, new_id = np.unique(into, return_inverse=True)
    relabelled = np.where(coded, new_id[into[np.maximum(labels, 0)]], -1)
    return relabelled, int(new_id.max()) + 1, merged


def similarity_levels(x: np.ndarray, *, sample: int = DIRECT_MAX) -> tuple[float, float]:
    """(background, neighbour): the mean cosine similarity of two distinct rows of `x`, and the
    median similarity of a row to its `NEIGHBOUR_RANK`-th most similar other row.

    Above `sample` rows the background is read on `sample` evenly spaced rows (the caller's
    rows are sorted by text, so the choice does not depend on the input order), and the
    neighbour similarity on `NEIGHBOUR_QUERIES` evenly spaced rows, each against ALL rows: a
    neighbour looked for in a sample is a farther one (the 3rd most similar of a tenth of the
    rows is about the 30th of all), which made the target too low on big sets. float32 blocks
    of at most 2^22 similarities."""
    if len(x) < 2:
        return 0.0, 1.0
    queries = np.arange(len(x))
    if len(x) > sample:
        queries = np.linspace(0, len(x) - 1, NEIGHBOUR_QUERIES).round().astype(np.intp)
        background_rows = x[np.linspace(0, len(x) - 1, sample).round().astype(np.intp)]
    else:
        background_rows = x
    total = background_rows.sum(axis=0, dtype=np.float64)
    m = len(background_rows)
    background = float((total @ total - m) / (m * (m - 1)))
    rank = min(len(x) - 1, NEIGHBOUR_RANK)
    kth = np.empty(len(queries), dtype=np.float32)
    step = max(1, 2**22 // len(x))
    for i in range(0, len(queries), step):
        rows = queries[i : i + step]
        block = x[rows] @ x.T
        block[np.arange(len(rows)), rows] = -np.inf
        kth[i : i + step] = -np.partition(-block, rank - 1, axis=1)[:, rank - 1]
    return background, float(np.median(kth))


def _ward(points: np.ndarray) -> np.ndarray:
    """scipy's Ward linkage matrix, from Euclidean distances computed with BLAS in float32."""
    from scipy.cluster.hierarchy import linkage
    from scipy.spatial.distance import squareform

    if len(points) < 2:
        return np.zeros((0, 4))
    gram = points @ points.T
    gram *= -2
    gram += 2
    np.maximum(gram, 0, out=gram)
    np.sqrt(gram, out=gram)
    np.fill_diagonal(gram, 0)
    condensed = squareform(gram, checks=False).astype(np.float64)
    del gram
    return linkage(condensed, method="ward")


def _cohesion_curve(
    merges: np.ndarray, leaf_sums: np.ndarray, leaf_counts: np.ndarray, k_max: int
) -> np.ndarray:
    """curve[k-1] = size-weighted mean pairwise cosine within the k clusters of the Ward cut,
    for k = 1..k_max (self-pairs excluded; singletons do not count)."""
    n = len(leaf_counts)
    counts = np.zeros(n + len(merges))
    counts[:n] = leaf_counts
    # Per node only the sum of its pair similarities is needed: |s|^2 - c for unit vectors.
    pair_sums = np.zeros_like(counts)
    pair_sums[:n] = (leaf_sums**2).sum(axis=1) - leaf_counts
    children = merges[:, :2].astype(np.intp)
    if np.all(leaf_counts == 1):
        # Leaves are single answers: scipy's Ward height h of a merge adds h^2 / 2 to the
        # within-cluster sum of squares SS, and for unit vectors |s|^2 = c (c - SS).
        within = np.zeros_like(counts)
        for i, (a, b) in enumerate(children.tolist()):
            node = n + i
            counts[node] = counts[a] + counts[b]
            within[node] = within[a] + within[b] + merges[i, 2] ** 2 / 2
        pair_sums[n:] = counts[n:] * (counts[n:] - within[n:]) - counts[n:]
    else:
        sums = np.zeros((n + len(merges), leaf_sums.shape[1]))
        sums[:n] = leaf_sums
        for i, (a, b) in enumerate(children.tolist()):
            node = n + i
            sums[node] = sums[a] + sums[b]
            counts[node] = counts[a] + counts[b]
            pair_sums[node] = sums[node] @ sums[node] - counts[node]
    multi = counts >= 2
    contribution = np.where(multi, pair_sums / np.maximum(counts - 1, 1), 0.0)
    weight = np.where(multi, counts, 0.0)
    curve = np.zeros(max(k_max, 1))
    root = n + len(merges) - 1
    num, den = contribution[root], weight[root]
    curve[0] = num / den if den else 1.0
    for k in range(2, k_max + 1):
        node = n + len(merges) - (k - 1)  # undo the merges last-first
        a, b = int(merges[node - n, 0]), int(merges[node - n, 1])
        num += contribution[a] + contribution[b] - contribution[node]
        den += weight[a] + weight[b] - weight[node]
        curve[k - 1] = num / den if den else 1.0
    return curve


def _cut_roots(merges: np.ndarray, n: int, k: int) -> list[int]:
    """The tree nodes that are the k clusters when the last k-1 merges are undone."""
    if n <= 1 or k <= 1:
        return [n + len(merges) - 1] if n > 1 else [0]
    first_kept = len(merges) - (k - 1)  # merges[first_kept:] are undone
    return [int(c) for row in merges[first_kept:] for c in row[:2] if c < n + first_kept]


def _label_leaves(merges: np.ndarray, n: int, roots: list[int]) -> np.ndarray:
    """Cluster 0..len(roots)-1 of each leaf: the rank of the root above it, roots sorted."""
    labels = np.zeros(n, dtype=np.intp)
    for cluster, root in enumerate(sorted(roots)):
        stack = [root]
        while stack:
            node = stack.pop()
            if node < n:
                labels[node] = cluster
            else:
                stack.extend(int(c) for c in merges[node - n, :2])
    return labels


def _node_sums(
    merges: np.ndarray, leaf_sums: np.ndarray, leaf_counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Vector sums (float32) and answer counts of every node of the tree: leaves, then merges."""
    n = len(leaf_counts)
    sums = np.zeros((n + len(merges), leaf_sums.shape[1]), dtype=np.float32)
    sums[:n] = leaf_sums
    counts = np.zeros(n + len(merges))
    counts[:n] = leaf_counts
    for i, (a, b) in enumerate(merges[:, :2].astype(np.intp).tolist()):
        sums[n + i] = sums[a] + sums[b]
        counts[n + i] = counts[a] + counts[b]
    return sums, counts


def _keep_cohesive_nodes(
    merges: np.ndarray,
    roots: list[int],
    leaf_sums: np.ndarray,
    leaf_counts: np.ndarray,
    *,
    target: float,
) -> list[int]:
    """Coarsen the cut `roots`: walking down from the top of the tree, a node that is, and whose
    two halves both are, at least `target` cohesive becomes one code, instead of the codes cut
    below it. One cut height makes codes cohesive on average, so it cuts a big loose theme
    into tight pieces to make up for a few mixed codes below the target (a 55-answer theme of
    a 149-answer set: 1.01 x the target, cut in 3). The halves are asked too because a node of
    distinct intents that one big tight intent lifts over the target has a half below it
    (three virtual-card intents of a 600-answer set: halves 1.21 and 0.96 x the target).
    Returns the new roots, never more than before."""
    n = len(leaf_counts)
    sums, counts = _node_sums(merges, leaf_sums, leaf_counts)
    pairs = np.einsum("ij,ij->i", sums, sums, dtype=np.float64) - counts
    cohesion = np.where(counts > 1, pairs / np.maximum(counts * (counts - 1), 1), 1.0)
    cut, done, todo = set(roots), [], [n + len(merges) - 1]
    while todo:
        node = todo.pop()
        if node in cut or node < n:
            done.append(node)
            continue
        a, b = (int(c) for c in merges[node - n, :2])
        if min(cohesion[node], cohesion[a], cohesion[b]) >= target:
            done.append(node)
        else:
            todo += [a, b]
    return done


def _split_unrelated_halves(
    merges: np.ndarray,
    roots: list[int],
    leaf_sums: np.ndarray,
    leaf_counts: np.ndarray,
    *,
    background: float,
    min_size: int,
    max_roots: int,
) -> tuple[list[int], int]:
    """Split, down the tree, each cluster whose two Ward children (of `min_size` answers each,
    at least) are no more alike than two answers at random: mean cross similarity below
    `background`. Ward joins the smallest themes of a long-tailed set before it splits the
    biggest, so one cut leaves a few codes that are two unrelated themes. Returns the new
    roots (at most `max_roots`) and the number of splits."""
    n = len(leaf_counts)
    sums, counts = _node_sums(merges, leaf_sums, leaf_counts)
    done, todo, split = [], list(roots), 0
    while todo:
        node = todo.pop()
        if node >= n:
            a, b = (int(c) for c in merges[node - n, :2])
            cross = float(sums[a] @ sums[b]) / (counts[a] * counts[b])
            room = len(done) + len(todo) + 2 <= max_roots
            if room and min(counts[a], counts[b]) >= min_size and cross < background:
                todo += [a, b]
                split += 1
                continue
        done.append(node)
    return done, split


def group_sums(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Row sums of `x` per label 0..k-1 (float64); rows labelled -1 are skipped."""
    from scipy import sparse

    coded = np.flatnonzero(labels >= 0)
    onehot = sparse.csr_matrix(
        (np.ones(coded.size, dtype=x.dtype), (labels[coded], coded)), shape=(k, len(x))
    )
    return np.asarray(onehot @ x, dtype=np.float64)


def centroids(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    return unit(group_sums(x, labels, k)).astype(np.float32)


def nearest(x: np.ndarray, centers: np.ndarray, *, chunk: int = 8192) -> np.ndarray:
    """Index of the most similar center of each row, in chunks to bound memory."""
    return np.concatenate(
        [np.argmax(x[i : i + chunk] @ centers.T, axis=1) for i in range(0, len(x), chunk)]
    )


def _micro_clusters(x: np.ndarray, m: int, *, random_state: int, rounds: int = 3) -> np.ndarray:
    """Spherical k-means to `m` micro-clusters (seeds drawn with `random_state`, a few Lloyd
    rounds on at most `KMEANS_SAMPLE` evenly spaced rows: they only need to be tight, not
    optimal), then every row to its nearest. Returns labels 0..m'-1, none empty."""
    rng = np.random.default_rng(random_state)
    fit = x
    if len(x) > KMEANS_SAMPLE:
        fit = x[np.linspace(0, len(x) - 1, KMEANS_SAMPLE).round().astype(np.intp)]
    centers = fit[np.sort(rng.choice(len(fit), size=m, replace=False))]
    for _ in range(rounds):
        labels = nearest(fit, centers)
        sums = group_sums(fit, labels, m)
        filled = np.linalg.norm(sums, axis=1) > 0
        centers = np.where(filled[:, None], unit(sums), centers).astype(np.float32)
    labels = nearest(x, centers)
    _, labels = np.unique(labels, return_inverse=True)
    return labels.astype(np.intp)


def unit(x: np.ndarray) -> np.ndarray:
    """Rows of `x` scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1)
