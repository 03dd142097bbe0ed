"""Benchmark codeframe.generation: quality on labelled sets, speed and memory up to 50,000.

    .venv/bin/python bench/codeframe.py [--repeats 3] [--no-bertopic] [--max-answers 50000]
        [--bertopic-max-answers 10000] [--more-sets]

Sets (bench/codeframe_sets.py): BANKING77 as it is (Casanueva et al., 2020, CC BY 4.0; 3,080
messages, 77 intents of ~40), long-tailed resamples of it at 150, 1,000, 5,000 and 50,000
answers (several seeds and tail shapes, with off-topic answers and non-answers mixed in), and
the two hand-coded surveys of tests/codeframe/data/. Quality is scored on the PRIMARY code
against the gold code, the number of codes NOT given; uncoded answers count as one "Other"
cluster, as BERTopic's outliers (-1) do. "themes" are the gold codes of 3+ answers that are not
non-answers / off-topic / Other; "codes / themes" is the ratio the drafts should keep within
0.75-1.33. "net purity" is the share of answers whose gold theme has most of its answers in
the same net as theirs (nets should not cut a theme apart).

Baselines on the same vectors: BERTopic 0.17 defaults (UMAP random_state=42 + HDBSCAN; not a
requirement: `pip install -r requirements-bench.txt` to compare; its topics are kept in
var/bench-bertopic.json) up to 10,000 answers (--bertopic-max-answers), and Ward told the true
number of gold codes (up to 10,000).
Vectors: all-MiniLM-L6-v2 through embeddings.services (cached on disk: the second run is
fast); label phrases are embedded through the same cache. Seconds are medians of --repeats runs
with cached vectors (BERTopic's are not shown: its topics may come from the cache); peak MB is
tracemalloc's peak in a separate run.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import tracemalloc
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import setup_django
from codeframe_sets import MORE_LONG_TAIL_SETS, NOT_THEMES, AnswerSet, all_sets, read_survey


def primary_labels(draft) -> list[int]:
    return [a[0] if a else -1 for a in draft.assignments]


def scores(gold: list[str], labels) -> tuple[float, float, float]:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    labels = np.asarray(labels)
    return (
        normalized_mutual_info_score(gold, labels),
        adjusted_rand_score(gold, labels),
        float((labels == -1).mean()),
    )


def net_purity(draft, gold: list[str]) -> float:
    """Share of theme answers in the net where most of their gold theme's answers are."""
    net_of = {c.id: c.net_id for c in draft.codes}
    nets = [net_of[a[0]] if a else -1 for a in draft.assignments]
    by_theme: dict[str, Counter] = {}
    for g, net in zip(gold, nets, strict=True):
        if g not in NOT_THEMES and net != -1:
            by_theme.setdefault(g, Counter())[net] += 1
    total = sum(sum(c.values()) for c in by_theme.values())
    return sum(c.most_common(1)[0][1] for c in by_theme.values()) / max(total, 1)


def timed(fn, repeats: int):
    seconds, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - started)
    return result, statistics.median(seconds)


def peak_mb(fn) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def ward_told_k(vectors: np.ndarray, k: int) -> np.ndarray:
    from sklearn.cluster import AgglomerativeClustering

    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(unit)


BERTOPIC_CACHE = Path(__file__).resolve().parents[1] / "var" / "bench-bertopic.json"


def bertopic_labels(texts: list[str], vectors: np.ndarray) -> np.ndarray:
    """BERTopic's topics, remembered in var/ by the set's texts and vectors (minutes a run on
    this machine; delete the file to recompute)."""
    import hashlib
    import json

    import bertopic

    digest = hashlib.sha256("\n".join(texts).encode() + vectors.tobytes())
    key = f"{bertopic.__version__}:{digest.hexdigest()}"
    cache = json.loads(BERTOPIC_CACHE.read_text()) if BERTOPIC_CACHE.exists() else {}
    if key not in cache:
        cache[key] = _fit_bertopic(texts, vectors).tolist()
        BERTOPIC_CACHE.parent.mkdir(exist_ok=True)
        BERTOPIC_CACHE.write_text(json.dumps(cache))
    return np.asarray(cache[key])


def _fit_bertopic(texts: list[str], vectors: np.ndarray) -> np.ndarray:
    from bertopic import BERTopic
    from umap import UMAP

    umap_model = UMAP(
        n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=42
    )
    model = BERTopic(umap_model=umap_model, embedding_model=None)
    topics, _ = model.fit_transform(texts, embeddings=vectors)
    return np.asarray(topics)


def side_by_side(draft, texts: list[str], gold: list[str]) -> None:
    """Our codes next to the hand coding, matched by overlap (the hand code most of a code's
    answers have), then the hand codes no code matched."""
    members: dict[int, Counter] = {}
    for g, a in zip(gold, draft.assignments, strict=True):
        members.setdefault(a[0] if a else -1, Counter())[g] += 1
    hand_sizes = Counter(gold)
    print("| our code (net) | answers | hand code it matches | overlap | of hand code |")
    print("|---|---|---|---|---|")
    matched = set()
    for code in draft.codes:
        hand, n = members.get(code.id, Counter({"-": 0})).most_common(1)[0]
        matched.add(hand)
        net = f" ({code.net})" if code.net != code.label else ""
        print(
            f"| {code.label}{net} | {code.size} | {hand} | {n / max(code.size, 1):.0%} "
            f"| {n}/{hand_sizes.get(hand, 0)} |"
        )
    if -1 in members:
        hand, n = members[-1].most_common(1)[0]
        print(f"| (uncoded) | {sum(members[-1].values())} | {hand} | - | {n}/{hand_sizes[hand]} |")
    missed = [h for h in hand_sizes if h not in matched]
    if missed:
        print(
            "\nHand codes no code matched: " + "; ".join(f"{h} ({hand_sizes[h]})" for h in missed)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-bertopic", action="store_true")
    parser.add_argument("--max-answers", type=int, default=50_000)
    parser.add_argument(
        "--more-sets",
        action="store_true",
        help="also 18 more long-tailed resamples (150-2,000 answers, more seeds); quality only",
    )
    parser.add_argument(
        "--bertopic-max-answers",
        type=int,
        default=10_000,
        help="run BERTopic on sets up to this size (50,000: ~3 min on 2 cores, then cached)",
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    setup_django()
    from codeframe.generation import generate_codeframe
    from embeddings.services import embed_texts

    bertopic_note = "not run (--no-bertopic)"
    use_bertopic = not args.no_bertopic
    if use_bertopic:
        try:
            import bertopic

            bertopic_note = f"bertopic {bertopic.__version__}"
        except ImportError:
            use_bertopic = False
            bertopic_note = "not importable (pip install bertopic to compare)"

    started = time.perf_counter()
    sets = all_sets(embed_texts, max_answers=args.max_answers, more=args.more_sets)
    n_more = sum(n <= args.max_answers for n, _, _ in MORE_LONG_TAIL_SETS) if args.more_sets else 0
    n_main = len(sets) - n_more
    embed_seconds = time.perf_counter() - started
    print("# codeframe.generation benchmark\n")
    print(
        f"machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, numpy {np.__version__}; load average "
        f"{os.getloadavg()[0]:.1f} at start"
    )
    print(
        f"inputs: {len(sets)} labelled sets (embedded in {embed_seconds:.0f} s); "
        f"repeats={args.repeats}; BERTopic: {bertopic_note}\n"
    )
    generate_codeframe(sets[0].texts[:50], vectors=sets[0].vectors[:50])  # first-call costs

    def draft_of(s: AnswerSet):
        return generate_codeframe(s.texts, vectors=s.vectors, embed=embed_texts)

    print("## Quality (primary code; number of codes not given unless stated)\n")
    print(
        "| set | answers | themes | system | codes | codes / themes | NMI | ARI | uncoded "
        "| nets | net purity | seconds |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    drafts = {}
    for s in sets:
        draft_of(s)  # label phrases into the cache: timings are with cached vectors
        draft, sec = timed(lambda s=s: draft_of(s), args.repeats if len(s.texts) <= 10_000 else 1)
        drafts[s.name] = draft
        k = sum(c.kind == "theme" for c in draft.codes)
        rows = [
            (
                "**generate_codeframe**",
                k,
                *scores(s.gold, primary_labels(draft)),
                f"{len(draft.nets)}",
                f"{net_purity(draft, s.gold):.0%}",
                sec,
            )
        ]
        if use_bertopic and len(s.texts) <= args.bertopic_max_answers:
            labels = bertopic_labels(s.texts, s.vectors)
            k_bt = len(set(labels.tolist()) - {-1})
            rows.append(("BERTopic defaults", k_bt, *scores(s.gold, labels), "-", "-", None))
        if len(s.texts) <= 10_000:
            n_gold = len(set(s.gold))
            labels, sec = timed(lambda s=s, k=n_gold: ward_told_k(s.vectors, k), 1)
            rows.append((f"Ward told k={n_gold}", n_gold, *scores(s.gold, labels), "-", "-", sec))
        for system, k, nmi, ari, unc, n_nets, purity, sec in rows:
            shown = "-" if sec is None else f"{sec:.2f}"
            print(
                f"| {s.name} | {len(s.texts):,} | {s.themes} | {system} | {k} "
                f"| {k / s.themes:.2f} | {nmi:.3f} | {ari:.3f} | {unc:.1%} | {n_nets} "
                f"| {purity} | {shown} |"
            )
        sys.stdout.flush()

    print("\n## The sample survey: our codes next to the hand coding\n")
    survey = next(s for s in sets if s.name == "sample survey")
    texts, gold = read_survey(
        Path(__file__).resolve().parents[1] / "tests" / "codeframe" / "data" / "survey_labelled.csv"
    )
    side_by_side(drafts[survey.name], texts, gold)

    print("\n## Speed and memory (cached vectors and label phrases)\n")
    print("| set | answers | distinct | codes | nets | seconds (median) | peak traced MB |")
    print("|---|---|---|---|---|---|---|")
    for s in sets[:n_main]:
        if not s.name.startswith("long tail") or len(s.texts) < 1_000:
            continue
        if s.name.split()[2] in {"1,000", "5,000"} and not s.name.endswith("seed 0"):
            continue
        repeats = args.repeats if len(s.texts) <= 10_000 else max(1, args.repeats)
        draft, sec = timed(lambda s=s: draft_of(s), repeats)
        mb = peak_mb(lambda s=s: draft_of(s))
        print(
            f"| {s.name} | {len(s.texts):,} | {draft.params['distinct_answers']:,} "
            f"| {sum(c.kind == 'theme' for c in draft.codes)} | {len(draft.nets)} "
            f"| {sec:.2f} | {mb:.0f} |"
        )


if __name__ == "__main__":
    main()
