"""Build the ONNX files of a sentence-transformers model folder: export, quantize, check parity.

The only module of the ONNX backend that imports torch. `artifacts.ensure_built()` runs it in a
child process (`python -m embeddings.backends.onnx.build ...`) so serving processes never load
torch; `manage.py embeddings_build_onnx` runs it in-process.

Export: `torch.onnx.export` (classic exporter, `dynamo=False`, opset 17, dynamic batch and
sequence axes) of the Transformer module alone, token embeddings out; pooling and normalisation
stay in numpy. Quantization: `quantize_dynamic`, QUInt8 weights **per channel** (per tensor drops
the worst cosine to 0.875 on BANKING77). Unsigned weights, not QInt8: onnxruntime then runs
u8u8 integer kernels, which never saturate, so a file gives the same vectors on every x86 CPU;
u8s8 (QInt8) saturates on AVX2 without VNNI, and on such a CPU (AMD EPYC) QInt8 failed parity
(worst cosine 0.9615, mean 0.9903) where QUInt8 passes (0.9802, 0.9918), for about 10% more
time per batch there. Reduced-range QInt8 passed the worst cosine (0.9742) but not the mean
(0.9897). Parity: the new file, served exactly as the backend
serves it, against the torch model on `PARITY_TEXTS`; below the thresholds the build writes a
`{precision}.failed.json` with the figures instead of a manifest, and nothing is served.
"""

import argparse
import contextlib
import hashlib
import json
import logging
import os
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.backends.onnx import artifacts
from embeddings.exceptions import OnnxBuildFailed, ParityCheckFailed

logger = logging.getLogger(__name__)

# Fixed parity set: what the product embeds, i.e. substantive answers (survey answers, banking
# requests, non-Latin scripts, emoji, texts truncated at 256 tokens). Non-answers ("", "?",
# "don't know") are set aside before clustering; int8 puts them at cosine 0.966-0.98.
_LONG = (
    "The staff were friendly and the room was clean, but check-in took almost an hour because "
    "the system was down, nobody told us what was happening, and when we finally got our keys "
    "the lift was out of order so we carried our bags up five floors. "
)
PARITY_TEXTS: tuple[str, ...] = (
    "Too expensive",
    "Friendly staff",
    "The price is too high for what you get",
    "Customer service was slow to answer my emails",
    "I love the new design of the app!",
    "Delivery arrived two days late and the box was damaged",
    "Easy to use, but it crashes when I upload photos",
    "How do I activate my new card?",
    "My card payment was declined at the supermarket",
    "Why was I charged a fee for a transfer to my own account?",
    "I want to change my PIN",
    "The exchange rate you applied is wrong",
    "Can I top up with a cheque?",
    "where is my refund??? its been 3 weeks",
    "cancel my subscription NOW",
    "Great value, would recommend to friends and family.",
    "more vegetarian options please",
    "Parking is impossible after 6pm",
    "Les frais sont trop élevés",
    "Der Kundenservice war sehr hilfsbereit",
    "料金が高すぎます",
    "Очень долго ждал доставку",
    "😀😀 love it 👍",
    "the the the the the the the the",
    "Wi-Fi kept dropping in the conference room; IT couldn't fix it.",
    "Better communication from management about changes to shifts",
    "Longer opening hours at weekends",
    "The checkout page kept timing out on my phone",
    "Staff training needs to improve, especially on the tills",
    "I was double charged for one purchase",
    "My transfer has been pending since yesterday",
    "Cleaner toilets",
    "Too many adverts in the app",
    "The instructions were confusing and the diagrams too small",
    "Pay is fine but the workload keeps increasing",
    "Quick delivery, well packaged, exactly as described",
    "I could not find the contact number anywhere on your website",
    _LONG,
    _LONG * 2,
    _LONG * 4,
    ("word " * 600).strip(),
)


def _versions() -> dict[str, str]:
    found = {}
    for name in ("torch", "transformers", "sentence-transformers", "onnx", "onnxruntime"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return (a * b).sum(axis=1)


def build(source: artifacts.Source, precision: str, folder: Path) -> dict[str, Any]:
    """Build `precision`'s files of `source` into `folder` (the caller holds the build lock).

    int8 is quantized from the fp32 file, which is built (and kept) first when missing. Returns
    the manifest. Raises ParityCheckFailed (after writing `{precision}.failed.json`) or
    OnnxBuildFailed.
    """
    folder.mkdir(parents=True, exist_ok=True)
    reference = _Reference(source, folder)
    if precision == "fp32":
        return _export(source, folder, reference)
    fp32, _ = artifacts.verify(folder, identity=source.identity, precision="fp32")
    if fp32 is None:
        _export(source, folder, reference)
    return _quantize(source, folder, reference)


def parity_set_digest(max_seq_length: int) -> str:
    """Identifies the parity texts and token limit the saved torch vectors were computed for."""
    payload = json.dumps([max_seq_length, PARITY_TEXTS], ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(payload).hexdigest()[:16]


class _Reference:
    """The torch model and its vectors of the parity set. The vectors are saved next to the
    fp32 file (`parity_reference.npy`, in its manifest), so quantizing again later compares
    with the same torch vectors without importing torch."""

    FILE = "parity_reference.npy"

    def __init__(self, source: artifacts.Source, folder: Path) -> None:
        self.source = source
        self.folder = folder
        self._model = None
        self._vectors: np.ndarray | None = None

    @property
    def model(self):
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(
                str(self.source.folder),
                device="cpu",
                model_kwargs={"attn_implementation": "eager"},
            )
            self._model.max_seq_length = self.source.max_seq_length
        return self._model

    @property
    def vectors(self) -> np.ndarray:
        if self._vectors is None:
            self._vectors = self._saved()
        if self._vectors is None:
            self._vectors = self.model.encode(
                list(PARITY_TEXTS), batch_size=16, convert_to_numpy=True, show_progress_bar=False
            )
            np.save(self.folder / self.FILE, self._vectors, allow_pickle=False)
        return self._vectors

    def _saved(self) -> np.ndarray | None:
        manifest, _ = artifacts.verify(self.folder, identity=self.source.identity, precision="fp32")
        digest = parity_set_digest(self.source.max_seq_length)
        if manifest is None or manifest.get("parity_set") != digest:
            return None
        if self.FILE not in (manifest.get("files") or {}):
            return None  # verify() checked its SHA-256 when listed
        return np.load(self.folder / self.FILE, allow_pickle=False)


def _export(source: artifacts.Source, folder: Path, reference: _Reference) -> dict[str, Any]:
    import torch

    started = time.perf_counter()
    model = reference.model
    transformer = model[0]
    hf_model = transformer.auto_model.eval()
    tokenizer = transformer.tokenizer
    input_names = [
        n
        for n in tokenizer.model_input_names
        if n in ("input_ids", "attention_mask", "token_type_ids")
    ]

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = hf_model

        def forward(self, *inputs):
            return self.model(**dict(zip(input_names, inputs, strict=True))).last_hidden_state

    sample = tokenizer(
        ["a short one", "and a somewhat longer second text"], padding=True, return_tensors="pt"
    )
    args = tuple(sample[name] for name in input_names)
    axes = {name: {0: "batch", 1: "sequence"} for name in input_names}
    axes["token_embeddings"] = {0: "batch", 1: "sequence"}
    tokenizer.backend_tokenizer.save(str(folder / "tokenizer.json"))
    tmp = folder / f".fp32.{os.getpid()}.onnx"
    try:
        with torch.no_grad():
            torch.onnx.export(
                TokenEmbeddings().eval(),
                args,
                str(tmp),
                input_names=input_names,
                output_names=["token_embeddings"],
                dynamic_axes=axes,
                opset_version=artifacts.OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
    except Exception as exc:  # torch raises many types here; all mean the same to the caller
        tmp.unlink(missing_ok=True)
        raise OnnxBuildFailed(f"torch.onnx.export of {source.folder} failed: {exc}") from exc
    os.replace(tmp, folder / "fp32.onnx")
    return _finish(source, folder, "fp32", reference, time.perf_counter() - started)


def _quantize(source: artifacts.Source, folder: Path, reference: _Reference) -> dict[str, Any]:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    started = time.perf_counter()
    tmp = folder / f".int8.{os.getpid()}.onnx"
    try:
        quantize_dynamic(
            str(folder / "fp32.onnx"), str(tmp), weight_type=QuantType.QUInt8, per_channel=True
        )
    except Exception as exc:  # onnxruntime.quantization raises plain Exceptions
        tmp.unlink(missing_ok=True)
        raise OnnxBuildFailed(f"Quantizing {folder / 'fp32.onnx'} failed: {exc}") from exc
    os.replace(tmp, folder / "int8.onnx")
    return _finish(source, folder, "int8", reference, time.perf_counter() - started)


def _finish(
    source: artifacts.Source, folder: Path, precision: str, reference: _Reference, seconds: float
) -> dict[str, Any]:
    """Check parity; write the manifest (served) or the failure record (not served)."""
    from embeddings.backends.onnx.backend import OnnxEncoder, read_pipeline

    model_file = folder / f"{precision}.onnx"
    pooling, normalize = read_pipeline(source.folder)
    encoder = OnnxEncoder(
        model_path=model_file,
        tokenizer_path=folder / "tokenizer.json",
        max_seq_length=source.max_seq_length,
        pooling=pooling,
        normalize=normalize,
        # As served by default (BATCH_SIZE 64): int8 quantizes activations per batch, so how
        # texts are batched moves its vectors a little (torch's only in the last bits).
        batch_size=64,
    )
    cosines = _cosines(encoder.encode(list(PARITY_TEXTS)), reference.vectors)
    parity = {
        "mean": round(float(cosines.mean()), 6),
        "min": round(float(cosines.min()), 6),
        "texts": len(PARITY_TEXTS),
    }
    record: dict[str, Any] = {
        "source": source.identity,
        "precision": precision,
        "recipe": artifacts.RECIPE,
        "opset": artifacts.OPSET,
        "parity": parity,
        "parity_set": parity_set_digest(source.max_seq_length),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_seconds": round(seconds, 1),
        "built_with": _versions(),
    }
    passed = (
        parity["mean"] >= artifacts.PARITY_MIN_MEAN and parity["min"] >= artifacts.PARITY_MIN_WORST
    )
    with (folder / "builds.log").open("a", encoding="utf-8") as log:
        log.write(json.dumps({**record, "passed": passed, "pid": os.getpid()}) + "\n")
    if not passed:
        (folder / f"{precision}.json").unlink(missing_ok=True)
        model_file.unlink(missing_ok=True)
        artifacts.write_json(folder / f"{precision}.failed.json", record)
        raise artifacts.parity_error(record)
    (folder / f"{precision}.failed.json").unlink(missing_ok=True)
    record["files"] = {
        name: {
            "sha256": artifacts.file_sha256(folder / name),
            "bytes": (folder / name).stat().st_size,
        }
        for name in (model_file.name, "tokenizer.json")
        + ((_Reference.FILE,) if precision == "fp32" else ())
    }
    artifacts.write_json(folder / f"{precision}.json", record)
    logger.info("built %s: parity mean %.4f min %.4f", model_file, parity["mean"], parity["min"])
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", required=True, type=Path)
    parser.add_argument("--identity", required=True)
    parser.add_argument("--max-seq-length", required=True, type=int)
    parser.add_argument("--precision", required=True, choices=artifacts.PRECISIONS)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logger.setLevel(logging.INFO)  # our own progress; onnxruntime's quantizer chatters at INFO
    source = artifacts.Source(
        folder=args.folder, identity=args.identity, max_seq_length=args.max_seq_length
    )
    try:
        build(source, args.precision, args.out)
    except ParityCheckFailed as exc:
        print(exc, file=sys.stderr)
        return 3
    except OnnxBuildFailed as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
