"""The ONNX backend: parity with the torch model, no torch in the serving process, one build
per machine, corrupt or stale files rebuilt, failed parity refused. Real model throughout; the
files are built once per session (`onnx_root`), tests that must build copy them first."""

import csv
import functools
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from embeddings.backends import get_backend
from embeddings.backends.onnx import OnnxBackend, artifacts
from embeddings.backends.onnx.build import PARITY_TEXTS
from embeddings.backends.sentence_transformers import SentenceTransformerBackend
from embeddings.conf import get_config
from embeddings.exceptions import ParityCheckFailed
from embeddings.selectors import get_cache_stats
from embeddings.services import embed_texts, embed_texts_with_report, model_fingerprint
from tests.conftest import ONNX_BACKEND, subprocess_env

pytestmark = pytest.mark.slow  # the real model, and ONNX files built once per session
ROOT = Path(__file__).resolve().parents[2]


def _banking(n: int) -> list[str]:
    with (ROOT / "data" / "banking77_test.csv").open(encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    return list(dict.fromkeys(texts))[:n]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@functools.cache
def _torch_encode(texts: tuple[str, ...]) -> np.ndarray:
    return SentenceTransformerBackend(model=None, config=get_config()).encode(texts)


def _torch_vectors(texts: list[str]) -> np.ndarray:
    return _torch_encode(tuple(texts))


def _artifact_dir(root: Path) -> Path:
    backend = OnnxBackend(model=None, config=get_config())
    return artifacts.artifact_dir(root, backend.identity)


def _builds(folder: Path) -> list[dict]:
    log = folder / "builds.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.mark.parametrize(
    ("precision", "min_mean", "min_worst"), [("int8", 0.99, 0.97), ("fp32", 0.99999, 0.9999)]
)
def test_parity_with_torch_on_a_fixed_set(onnx_model, settings, precision, min_mean, min_worst):
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "ONNX_PRECISION": precision}
    texts = list(PARITY_TEXTS) + _banking(200)
    report = embed_texts_with_report(texts)
    assert report.misses == len(texts) and report.vectors.shape == (len(texts), 384)
    cosines = _cosines(report.vectors, _torch_vectors(texts))
    assert cosines.mean() >= min_mean, cosines.mean()
    assert cosines.min() >= min_worst, cosines.min()
    # The vectors are unit length, as the torch pipeline's Normalize module makes them.
    np.testing.assert_allclose(np.linalg.norm(report.vectors, axis=1), 1.0, atol=1e-5)
    # Rows follow the input order, whatever order length-sorting batched them in.
    assert embed_texts(texts[::-1]).tobytes() == report.vectors[::-1].tobytes()


def test_precision_and_backend_are_in_the_key_fingerprint(settings, onnx_model):
    config = get_config()
    fingerprints = {
        model_fingerprint(OnnxBackend(model=None, config={**config, "ONNX_PRECISION": p}))
        for p in ("int8", "fp32")
    }
    fingerprints.add(model_fingerprint(SentenceTransformerBackend(model=None, config=config)))
    assert len(fingerprints) == 3


CHILD = """
import json, sys
import django
django.setup()
from embeddings.backends import get_backend
from embeddings.services import embed_texts_with_report
texts = json.loads(sys.argv[1])
cold = embed_texts_with_report(texts)
warm = embed_texts_with_report(texts)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in
               {"torch", "transformers", "sentence_transformers"})
print(json.dumps({"cold": [cold.hits, cold.misses], "warm": [warm.hits, warm.misses],
                  "heavy": heavy, "info": get_backend().serving_info(),
                  "sha": __import__("hashlib").sha256(cold.vectors.tobytes()).hexdigest()}))
"""


def _child(root: Path, cache_dir: Path, texts: list[str], **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(texts)],
        cwd=ROOT,
        env=subprocess_env(
            EMBEDDINGS_BACKEND=ONNX_BACKEND,
            EMBEDDINGS_ONNX_DIR=str(root),
            EMBEDDINGS_CACHE_DIR=str(cache_dir),
            **env,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(child: subprocess.Popen) -> dict:
    out, err = child.communicate(timeout=600)
    assert child.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def test_a_process_serving_onnx_never_imports_torch(onnx_root, tmp_path):
    result = _result(_child(onnx_root, tmp_path / "cache", ["Too expensive", "Friendly staff"]))
    assert result["cold"] == [0, 2] and result["warm"] == [2, 0]
    assert result["heavy"] == []
    assert result["info"]["engine"] == "onnxruntime" and result["info"]["precision"] == "int8"
    assert result["info"]["load_seconds"] > 0


def _seed_fp32_only(onnx_root: Path, root: Path) -> Path:
    """A fresh ONNX_DIR holding only the session's fp32 files: first use must build int8."""
    source, target = _artifact_dir(onnx_root), _artifact_dir(root)
    target.mkdir(parents=True)
    for name in ("fp32.onnx", "fp32.json", "tokenizer.json", "parity_reference.npy"):
        shutil.copy2(source / name, target / name)
    return target


def test_concurrent_first_use_builds_once(onnx_root, tmp_path):
    folder = _seed_fp32_only(onnx_root, tmp_path / "onnx")
    texts = ["Where is my card?", "The fee was too high"]
    children = [
        _child(tmp_path / "onnx", tmp_path / f"cache{i}", texts) for i in range(2)
    ]  # both start before either has built
    first, second = (_result(child) for child in children)
    assert first["cold"] == second["cold"] == [0, 2]
    assert first["sha"] == second["sha"]
    builds = [b for b in _builds(folder) if b["precision"] == "int8"]
    assert len(builds) == 1 and builds[0]["passed"]
    assert artifacts.verify(folder, identity=builds[0]["source"], precision="int8")[0]


def test_a_corrupt_file_is_rebuilt_not_used(onnx_root, tmp_path, settings, onnx_model):
    root = tmp_path / "onnx"
    shutil.copytree(onnx_root, root)
    folder = _artifact_dir(root)
    identity = OnnxBackend(model=None, config=get_config()).identity
    model_file = folder / "int8.onnx"
    good = model_file.read_bytes()
    # Same size, a few bytes flipped in the middle: loads may even succeed; it must not be used.
    corrupt = bytearray(good)
    corrupt[len(good) // 2 : len(good) // 2 + 64] = bytes(64)
    model_file.write_bytes(bytes(corrupt))
    assert artifacts.verify(folder, identity=identity, precision="int8")[0] is None
    builds_before = len(_builds(folder))

    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "ONNX_DIR": str(root)}
    texts = _banking(50)
    vectors = embed_texts(texts)
    assert len(_builds(folder)) == builds_before + 1  # rebuilt (int8 only: fp32 was intact)
    assert artifacts.verify(folder, identity=identity, precision="int8")[0] is not None
    assert _cosines(vectors, _torch_vectors(texts)).min() >= 0.97


def test_stale_or_truncated_files_are_not_served(onnx_root, tmp_path):
    root = tmp_path / "onnx"
    shutil.copytree(onnx_root, root)
    folder = _artifact_dir(root)
    identity = OnnxBackend(model=None, config=get_config()).identity
    assert artifacts.verify(folder, identity=identity, precision="fp32")[0] is not None
    assert "stale" in artifacts.verify(folder, identity="other-model@1", precision="fp32")[1]
    manifest = json.loads((folder / "int8.json").read_text())
    (folder / "int8.json").write_text(json.dumps({**manifest, "recipe": 0}))
    assert "stale" in artifacts.verify(folder, identity=identity, precision="int8")[1]
    with (folder / "fp32.onnx").open("r+b") as handle:
        handle.truncate(1000)
    assert "does not match" in artifacts.verify(folder, identity=identity, precision="fp32")[1]


def test_a_build_that_failed_parity_refuses_to_serve(tmp_path, settings, onnx_model):
    root = tmp_path / "onnx"
    folder = _artifact_dir(root)
    folder.mkdir(parents=True)
    identity = OnnxBackend(model=None, config=get_config()).identity
    record = {
        "source": identity,
        "precision": "int8",
        "recipe": artifacts.RECIPE,
        "parity": {"mean": 0.951, "min": 0.802, "texts": 41},
    }
    artifacts.write_json(folder / "int8.failed.json", record)
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "ONNX_DIR": str(root)}
    with pytest.raises(ParityCheckFailed, match=r"mean 0\.9510.*min 0\.8020 .* 41 texts"):
        embed_texts(["anything"])
    assert not (folder / "int8.onnx").exists()  # nothing was built, nothing is served


def test_build_command_reports_intact_files_without_rebuilding(onnx_model):
    folder = _artifact_dir(onnx_model)
    builds = len(_builds(folder))
    out = io.StringIO()
    call_command("embeddings_build_onnx", "--precision", "all", stdout=out)
    assert len(_builds(folder)) == builds
    text = out.getvalue()
    assert "fp32: " in text and "int8: " in text and "cosine mean 0.99" in text


def test_stats_and_metrics_say_what_serves(onnx_model, django_user_model):
    embed_texts(["stats please"])
    stats = get_cache_stats()
    assert stats.serving["engine"] == "onnxruntime" and stats.serving["precision"] == "int8"
    assert stats.serving["load_seconds"] == get_backend().load_seconds > 0
    assert "[onnx int8]" in stats.model
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("s", password="x"))
    text = client.get("/metrics").content.decode()
    assert 'embeddings_backend_info{engine="onnxruntime",precision="int8"} 1.0' in text
    assert "embeddings_model_load_seconds " in text
    page = client.get(reverse("admin:embeddings_cachestatistics_changelist")).content.decode()
    assert "onnxruntime, int8" in page and "loading took" in page


def test_build_command_fails_cleanly_for_a_model_it_cannot_find(onnx_model, tmp_path):
    with pytest.raises(CommandError, match="not a local folder"):
        call_command("embeddings_build_onnx", "--model", str(tmp_path / "no-such-model"))
