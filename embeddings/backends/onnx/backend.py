"""`OnnxBackend`: a sentence-transformers model folder served by onnxruntime, without torch.

It reproduces the sentence-transformers pipeline of a Transformer + Pooling (+ Normalize) model:
the fast tokenizer with the model's `max_seq_length` (not the 128 that a bundled tokenizer.json
may carry) and padding to the longest text of each batch, the ONNX Transformer, pooling over the
attention mask, L2 normalisation. Texts are sorted by length before batching, so short texts are
not padded to a long one's length. fp32 gives the torch vectors to within float rounding
(cosine 1.0000); int8 (weights quantized per channel) is about twice as fast, cosine >= 0.97.
"""

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.backends.onnx import artifacts
from embeddings.backends.sentence_transformers import SentenceTransformerBackend, _read_json
from embeddings.exceptions import OnnxBuildFailed

logger = logging.getLogger(__name__)

_encoders: dict[tuple, "OnnxEncoder"] = {}
_encoders_lock = threading.Lock()
_POOLINGS = {
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
}


class OnnxEncoder:
    """Tokenizer + ONNX session + pooling: texts in, float32 vectors out. Thread-safe."""

    def __init__(
        self,
        *,
        model_path: Path,
        tokenizer_path: Path,
        max_seq_length: int,
        pooling: str,
        normalize: bool,
        lowercase: bool = False,
        batch_size: int = 64,
    ) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.enable_truncation(max_length=max_seq_length)
        self.tokenizer.no_padding()  # we pad each length-sorted batch to its own longest
        padding = _read_json(tokenizer_path).get("padding") or {}
        self.pad_id = int(padding.get("pad_id", 0))
        self.pad_type_id = int(padding.get("pad_type_id", 0))
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.pooling = pooling
        self.normalize = normalize
        self.lowercase = lowercase
        self.batch_size = max(1, batch_size)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = [t.lower() for t in texts] if self.lowercase else list(texts)
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=True)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(texts))
        order = np.argsort(lengths, kind="stable")
        out: np.ndarray | None = None
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            pooled = self._run([encodings[i] for i in rows], int(lengths[rows].max()))
            if out is None:
                out = np.empty((len(texts), pooled.shape[1]), dtype=np.float32)
            out[rows] = pooled
        if out is None:
            dim = self.session.get_outputs()[0].shape[-1]
            return np.zeros((0, int(dim) if isinstance(dim, int) else 0), dtype=np.float32)
        return out

    def _run(self, batch: list, width: int) -> np.ndarray:
        ids = np.full((len(batch), width), self.pad_id, dtype=np.int64)
        types = np.full((len(batch), width), self.pad_type_id, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, encoding in enumerate(batch):
            n = len(encoding.ids)
            ids[row, :n] = encoding.ids
            types[row, :n] = encoding.type_ids
            mask[row, :n] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        (tokens,) = self.session.run(None, {k: v for k, v in feed.items() if k in self.input_names})
        weights = mask[:, :, None].astype(np.float32)
        if self.pooling == "mean":
            pooled = (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        elif self.pooling == "cls":
            pooled = tokens[:, 0]
        else:  # max over real tokens
            pooled = np.where(weights > 0, tokens, -1e9).max(axis=1)
        if self.normalize:
            pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled.astype(np.float32, copy=False)


class OnnxBackend(SentenceTransformerBackend):
    """The configured sentence-transformers model, run by onnxruntime (`ONNX_PRECISION`).

    Metadata (dimension, identity, fingerprint) comes from the model folder as for the torch
    backend; the ONNX files are built on first use when missing (see `artifacts`).
    """

    def __init__(self, *, model: str | None, config: Mapping[str, Any]) -> None:
        super().__init__(model=model, config=config)
        self._encoder: OnnxEncoder | None = None
        self.load_seconds: float | None = None

    @property
    def precision(self) -> str:
        return str(self.config.get("ONNX_PRECISION") or "int8")

    @property
    def label(self) -> str:
        return f"{super().label} [onnx {self.precision}]"

    @property
    def is_loaded(self) -> bool:
        return self._encoder is not None

    @cached_property
    def seq_length(self) -> int:
        """The token limit actually applied (the model's own when not configured)."""
        if self.max_seq_length:
            return int(self.max_seq_length)
        limits = [_read_json(self.path / "config.json").get("max_position_embeddings")]
        limits.append(_read_json(self.path / "tokenizer_config.json").get("model_max_length"))
        return min(int(x) for x in limits if isinstance(x, int | float) and x < 1e6) or 512

    def fingerprint_fields(self) -> dict[str, Any]:
        return {
            **super().fingerprint_fields(),
            "backend": "onnx",
            "precision": self.precision,
            "onnx_recipe": artifacts.RECIPE,
        }

    def serving_info(self) -> dict[str, Any]:
        return {"engine": "onnxruntime", "precision": self.precision, **self._load_info()}

    def _load_info(self) -> dict[str, Any]:
        return {"loaded": self.is_loaded, "load_seconds": self.load_seconds}

    @cached_property
    def source(self) -> artifacts.Source:
        return artifacts.Source(
            folder=self.path, identity=self.identity, max_seq_length=self.seq_length
        )

    def pipeline(self) -> tuple[str, bool]:
        """(pooling, normalize) of the model. Raises OnnxBuildFailed for what we cannot run."""
        pooling, normalize = read_pipeline(self.path)
        return pooling, normalize or bool(self.config.get("NORMALIZE"))

    def _loaded(self) -> OnnxEncoder:
        if self._encoder is None:
            with self._load_lock:
                if self._encoder is None:
                    started = time.perf_counter()
                    pooling, normalize = self.pipeline()
                    folder, manifest = artifacts.ensure_built(
                        self.source, self.precision, onnx_root(self.config)
                    )
                    lowercase = bool(
                        _read_json(self.path / "sentence_bert_config.json").get("do_lower_case")
                    )
                    self._encoder = _shared_encoder(
                        manifest["files"][f"{self.precision}.onnx"]["sha256"],
                        model_path=folder / f"{self.precision}.onnx",
                        tokenizer_path=folder / "tokenizer.json",
                        max_seq_length=self.seq_length,
                        pooling=pooling,
                        normalize=normalize,
                        lowercase=lowercase,
                        batch_size=int(self.config.get("BATCH_SIZE") or 64),
                    )
                    self.load_seconds = round(time.perf_counter() - started, 3)
                    logger.info(
                        "loaded embedding model %s in %.2f s",
                        self.label,
                        self.load_seconds,
                    )
        return self._encoder

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        encoder = self._loaded()
        prompt = self.config.get("PROMPT") or ""
        return encoder.encode([prompt + t for t in texts] if prompt else texts)


def _shared_encoder(digest: str, **options: Any) -> OnnxEncoder:
    """One encoder per verified file and options, shared by the backend instances of the
    process (backends are rebuilt when settings change; the ONNX session need not be)."""
    key = (digest, *sorted((k, str(v)) for k, v in options.items()))
    if key not in _encoders:
        with _encoders_lock:
            if key not in _encoders:
                _encoders[key] = OnnxEncoder(**options)
    return _encoders[key]


def onnx_root(config: Mapping[str, Any]) -> Path:
    """Where built ONNX files live: `ONNX_DIR`, else a folder in the user's cache."""
    if config.get("ONNX_DIR"):
        return Path(config["ONNX_DIR"]).expanduser()
    import os

    return (
        Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser()
        / "django-embeddings"
        / "onnx"
    )


def read_pipeline(folder: Path) -> tuple[str, bool]:
    """(pooling, normalize) of a sentence-transformers folder's modules.json; only what the
    ONNX backend reproduces exactly (Transformer, one of mean/CLS/max pooling, Normalize)."""
    pooling, normalize = None, False
    modules = _read_json(folder / "modules.json") if (folder / "modules.json").exists() else []
    for module in modules or []:
        kind = module.get("type", "").rsplit(".", 1)[-1]
        if kind == "Pooling":
            pooling_config = _read_json(folder / module.get("path", "") / "config.json")
            modes = [name for key, name in _POOLINGS.items() if pooling_config.get(key)]
            others = [
                k
                for k, v in pooling_config.items()
                if k.startswith("pooling_mode") and v and k not in _POOLINGS
            ]
            if len(modes) != 1 or others:
                raise OnnxBuildFailed(
                    f"{folder}: pooling {pooling_config} is not supported by the ONNX backend; "
                    "use the torch backend"
                )
            pooling = modes[0]
        elif kind == "Normalize":
            normalize = True
        elif kind != "Transformer":
            raise OnnxBuildFailed(
                f"{folder}: module {kind} is not supported by the ONNX backend; use the torch "
                "backend"
            )
    return pooling or "mean", normalize
