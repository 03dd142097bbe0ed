"""Does the int8 ONNX backend change the codeframes? NMI/ARI with its vectors vs torch's.

    .venv/bin/python bench/onnx_quality.py

Same data and scoring as bench/codeframe.py (BANKING77 balanced, three long-tailed resamples
with ~3% non-answers, the two hand-coded surveys); the codeframe is drafted by today's
`codeframe.generation.generate_codeframe(texts, vectors=...)` from three sets of vectors of the
same texts: torch (sentence-transformers), ONNX fp32 and ONNX int8, each backend's own `encode`
(no cache). The decision rule (issue #13): ONNX int8 becomes the default if NMI and ARI move by
less than 0.01 on every set. Vector agreement (cosine to torch) is printed too.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, machine, setup_django


def _bench_codeframe():
    # bench/codeframe.py's loaders and scores (its file name shadows the app, so load by path).
    spec = importlib.util.spec_from_file_location("bench_codeframe", ROOT / "bench/codeframe.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    warnings.filterwarnings("ignore")
    with tempfile.TemporaryDirectory(prefix="bench-onnx-") as onnx_dir:
        setup_django(EMBEDDINGS_ONNX_DIR=onnx_dir)
        run(onnx_dir)


def run(onnx_dir: str) -> None:
    from codeframe.generation import generate_codeframe
    from embeddings.backends.onnx import OnnxBackend
    from embeddings.backends.sentence_transformers import SentenceTransformerBackend
    from embeddings.conf import get_config

    bench = _bench_codeframe()
    config = get_config()
    encoders = {
        "torch": SentenceTransformerBackend(model=None, config=config),
        "onnx fp32": OnnxBackend(model=None, config={**config, "ONNX_PRECISION": "fp32"}),
        "onnx int8": OnnxBackend(model=None, config={**config, "ONNX_PRECISION": "int8"}),
    }
    texts, gold = bench.load()
    datasets = [("banking77 balanced", texts, gold)]
    for seed in (0, 1, 2):
        idx = bench.imbalanced(gold, seed)
        rng = np.random.default_rng(seed)
        n_na = round(0.03 * len(idx) / 0.97)
        na = rng.integers(0, len(bench.NON_ANSWERS), n_na)
        datasets.append(
            (
                f"long-tailed seed {seed}",
                [texts[i] for i in idx] + [bench.NON_ANSWERS[j] for j in na],
                [gold[i] for i in idx] + ["(non-answer)"] * n_na,
            )
        )
    for name, path in bench.SURVEYS.items():
        datasets.append((name, *bench.load_survey(path)))

    print("# ONNX int8 vs torch: codeframe quality\n")
    print(machine())
    print(f"generator: codeframe.generation.generate_codeframe as of this commit; {onnx_dir}\n")
    print("| data | n | vectors | cos mean | cos min | codes | NMI | ARI | dNMI | dARI |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    worst = {"onnx fp32": 0.0, "onnx int8": 0.0}
    for name, t, g in datasets:
        vectors = {label: backend.encode(t) for label, backend in encoders.items()}
        base = None
        for label, v in vectors.items():
            unit = v / np.linalg.norm(v, axis=1, keepdims=True)
            ref = vectors["torch"] / np.linalg.norm(vectors["torch"], axis=1, keepdims=True)
            cos = (unit * ref).sum(axis=1)
            draft = generate_codeframe(t, vectors=v)
            nmi, ari, _, found, _ = bench.scores(g, bench.primary_labels(draft))
            if base is None:
                base = (nmi, ari)
                delta = ("", "")
            else:
                d_nmi, d_ari = nmi - base[0], ari - base[1]
                worst[label] = max(worst[label], abs(d_nmi), abs(d_ari))
                delta = (f"{d_nmi:+.3f}", f"{d_ari:+.3f}")
            print(
                f"| {name} | {len(t)} | {label} | {cos.mean():.4f} | {cos.min():.4f} | {found} "
                f"| {nmi:.3f} | {ari:.3f} | {delta[0]} | {delta[1]} |",
                flush=True,
            )
    print()
    for label, value in worst.items():
        verdict = "< 0.01: passes" if value < 0.01 else ">= 0.01: fails"
        print(f"largest |dNMI| or |dARI| of {label} vs torch: {value:.3f} ({verdict})")


if __name__ == "__main__":
    main()
