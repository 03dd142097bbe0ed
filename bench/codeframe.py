"""Benchmark codeframe.generation: quality on BANKING77 and a survey, speed/memory at 1k-50k.

    cd /work/main && .venv/bin/python bench/codeframe.py [--repeats 3] [--no-bertopic]

Quality is scored on the PRIMARY code against the gold intent, the number of codes NOT given.
Data: the test split of BANKING77 (Casanueva et al., 2020, "Efficient Intent Detection with Dual
Sentence Encoders", CC BY 4.0): 3,080 messages, 77 intents of ~40 each. "imbalanced" resamples
it so code sizes fall off like 40 / rank^0.8 (floor 2; 315 messages) and adds ~3% typical
non-answers ("nothing", "idk", "asdfgh", ...) as one more gold class. Uncoded answers count as
one "Other" cluster, as BERTopic's outliers (-1) do. "themes found" counts the gold codes of
3+ answers that are the majority of some found code: what a coder would recognise as found.

"sample survey" is sample_data/survey_responses.csv (339 hand-written customer-satisfaction
answers, the blank one dropped) hand-coded into 29 themes, tests/codeframe/data/
survey_labelled.csv: a few big themes, a long tail, off-topic answers and 13% non-answers, all
non-answers one gold code. Its answers to one theme are phrased far more variously than
BANKING77's messages of one intent. It is one survey: a check, not a target to tune to.
"commuter survey" (commuter_labelled.csv) is a second, smaller one on other themes (130
answers written for this check, 16 codes: train delays, fares, crowding, ...), to see that
what was learnt on the first carries over.

Baselines measured in the same run, on the same vectors: Ward linkage told the true number of
codes (scikit-learn), and BERTopic 0.17 defaults (UMAP random_state=42 + HDBSCAN) when the
`bertopic` package is importable. Vectors: all-MiniLM-L6-v2 through embeddings.services
(the on-disk cache in var/ makes the second run fast). Timings are medians of --repeats runs
with vectors given (BERTopic: one run); peak memory is tracemalloc's peak in a separate run.
"""

from __future__ import annotations

import argparse
import csv
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_ENV", "local")  # settings fail closed without it
os.environ.setdefault("HF_HUB_OFFLINE", "1")

DATA = Path(__file__).resolve().parent.parent / "data" / "banking77_test.csv"
LABELLED = Path(__file__).resolve().parents[1] / "tests" / "codeframe" / "data"
SURVEYS = {
    "sample survey": LABELLED / "survey_labelled.csv",
    "commuter survey": LABELLED / "commuter_labelled.csv",
}
NON_ANSWERS = [
    "nothing", "Nothing.", "nothing really", "don't know", "dont know", "n/a", "N/A",
    "no comment", "-", "asdfgh", "none", "idk", "no idea", "nothing to add",
    "can't think of anything", "not sure", "no", "...",
]  # fmt: skip


def load() -> tuple[list[str], list[str]]:
    with DATA.open() as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [r["category"] for r in rows]


def load_survey(path: Path) -> tuple[list[str], list[str]]:
    with path.open() as f:
        rows = list(csv.DictReader(f))
    return [r["answer"] for r in rows], [r["code"] for r in rows]


def imbalanced(gold: list[str], seed: int) -> np.ndarray:
    """Indices of a resample whose class sizes fall off like 40 / rank^0.8 (at least 2)."""
    rng = np.random.default_rng(seed)
    classes = sorted(set(gold))
    picked: list[int] = []
    for rank, c in enumerate(rng.permutation(len(classes)), 1):
        members = [i for i, g in enumerate(gold) if g == classes[c]]
        size = min(len(members), max(2, round(40 / rank**0.8)))
        picked += rng.choice(members, size=size, replace=False).tolist()
    return np.array(picked)


def primary_labels(draft) -> list[int]:
    return [a[0] if a else -1 for a in draft.assignments]


def scores(gold, labels) -> tuple[float, float, float, int, int]:
    """NMI, ARI, share uncoded (-1), codes found, gold themes (3+ answers) found."""

    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    labels = np.asarray(labels)
    found = len(set(labels.tolist()) - {-1})
    majorities = set()
    for code in set(labels.tolist()) - {-1}:
        members = Counter(g for g, lab in zip(gold, labels.tolist(), strict=True) if lab == code)
        top, n = members.most_common(1)[0]
        if n * 2 > sum(members.values()):
            majorities.add(top)
    big = {g for g, n in Counter(gold).items() if n >= 3}
    return (
        normalized_mutual_info_score(gold, labels),
        adjusted_rand_score(gold, labels),
        float((labels == -1).mean()),
        found,
        len(big & majorities),
    )


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


def bertopic_labels(texts: list[str], vectors: np.ndarray) -> np.ndarray:
    from bertopic import BERTopic
    from umap import UMAP

    umap_model = UMAP(
        n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=42
    )
    model = BERTopic(umap_model=umap_model, embedding_model=None)
    topics, _ = model.fit_transform(texts, embeddings=vectors)
    return np.asarray(topics)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-bertopic", action="store_true")
    parser.add_argument("--sizes", default="1000,10000,50000")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    import django

    django.setup()
    import logging

    logging.getLogger("embeddings").setLevel(logging.WARNING)
    from codeframe.generation import generate_codeframe
    from embeddings.services import embed_texts_with_report

    texts, gold = load()
    report = embed_texts_with_report(texts)
    vectors = report.vectors
    na_vectors = embed_texts_with_report(NON_ANSWERS).vectors

    bertopic_note = "not run (--no-bertopic)"
    use_bertopic = not args.no_bertopic
    if use_bertopic:
        try:
            import bertopic

            bertopic_note = f"bertopic {bertopic.__version__}"
        except ImportError:
            use_bertopic = False
            bertopic_note = "skipped: bertopic not importable (pip install bertopic to compare)"

    print("# codeframe.generation benchmark\n")
    print(
        f"machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, numpy {np.__version__}"
    )
    print(
        f"inputs: {DATA.name}: {len(texts)} texts, {len(set(gold))} intents; embeddings "
        f"{vectors.shape[1]}-d all-MiniLM-L6-v2 via embed_texts ({report.hits} cache hits, "
        f"{report.misses} misses, {report.seconds:.1f} s); repeats={args.repeats}; "
        f"BERTopic: {bertopic_note}\n"
    )
    generate_codeframe(texts[:50], vectors=vectors[:50])  # imports and first-call costs

    datasets = [("banking77 balanced", texts, gold, vectors)]
    for seed in (0, 1, 2):
        idx = imbalanced(gold, seed)
        rng = np.random.default_rng(seed)
        n_na = round(0.03 * len(idx) / 0.97)
        na = rng.integers(0, len(NON_ANSWERS), n_na)
        datasets.append(
            (
                f"imbalanced seed {seed}",
                [texts[i] for i in idx] + [NON_ANSWERS[j] for j in na],
                [gold[i] for i in idx] + ["(non-answer)"] * n_na,
                np.vstack([vectors[idx], na_vectors[na]]),
            )
        )

    for name, path in SURVEYS.items():
        survey_texts, survey_gold = load_survey(path)
        survey_vectors = embed_texts_with_report(survey_texts).vectors
        datasets.append((name, survey_texts, survey_gold, survey_vectors))

    print("## Quality (primary code; number of codes not given unless stated)\n")
    print(
        "| data | n | gold codes (3+) | system | codes found | themes found | NMI | ARI "
        "| uncoded | seconds |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, t, g, v in datasets:
        n_gold = len(set(g))
        n_big = sum(n >= 3 for n in Counter(g).values())
        draft, sec = timed(lambda t=t, v=v: generate_codeframe(t, vectors=v), args.repeats)
        multi = np.mean([len(a) > 1 for a in draft.assignments])
        system = f"**generate_codeframe** ({multi:.0%} multi-coded)"
        rows = [(system, *scores(g, primary_labels(draft)), sec)]
        labels, sec = timed(lambda v=v, k=n_gold: ward_told_k(v, k), args.repeats)
        rows.append((f"Ward told k={n_gold}", *scores(g, labels), sec))
        if use_bertopic:
            labels, sec = timed(lambda t=t, v=v: bertopic_labels(t, v), 1)
            rows.append(("BERTopic defaults", *scores(g, labels), sec))
        for system, nmi, ari, unc, found, themes, sec in rows:
            print(
                f"| {name} | {len(t)} | {n_gold} ({n_big}) | {system} | {found} | {themes} "
                f"| {nmi:.3f} | {ari:.3f} | {unc:.1%} | {sec:.2f} |"
            )

    print("\n## Speed and memory (vectors given; synthetic: banking77 vectors + noise)\n")
    print("| answers | system | codes found | seconds (median) | peak traced MB | vs BERTopic |")
    print("|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for n in [int(s) for s in args.sizes.split(",") if s]:
        idx = rng.integers(0, len(texts), n)
        noisy = vectors[idx] + rng.normal(0, 0.01, (n, vectors.shape[1])).astype(np.float32)
        synthetic = [f"{texts[i]} (r{j})" for j, i in enumerate(idx)]
        repeats = args.repeats if n <= 10_000 else 1
        draft, sec = timed(lambda s=synthetic, v=noisy: generate_codeframe(s, vectors=v), repeats)
        mb = peak_mb(lambda s=synthetic, v=noisy: generate_codeframe(s, vectors=v))
        found = sum(c.kind == "theme" for c in draft.codes)
        bt_sec = None
        if use_bertopic and n <= 10_000:
            _, bt_sec = timed(lambda s=synthetic, v=noisy: bertopic_labels(s, v), 1)
        ratio = f"{bt_sec / sec:.1f}x faster" if bt_sec else "-"
        print(f"| {n:,} | generate_codeframe | {found} | {sec:.2f} | {mb:.0f} | {ratio} |")
        if bt_sec:
            print(f"| {n:,} | BERTopic defaults | - | {bt_sec:.2f} (1 run) | - | 1.0x |")
    if use_bertopic:
        print("\nBERTopic is not run at 50,000 answers (minutes on this machine).")


if __name__ == "__main__":
    main()
