"""The built ONNX files of one source model: where they live, how they are checked, how they
get built once per machine.

Layout under `EMBEDDINGS["ONNX_DIR"]`, one folder per source model identity:

    {sha256(identity)[:16]}/
        tokenizer.json     the model's fast tokenizer (truncation and padding are set at load)
        fp32.onnx          the Transformer exported by torch.onnx (token embeddings out)
        int8.onnx          the same, weights quantized per channel (onnxruntime)
        fp32.json          manifest: source identity, recipe, SHA-256 and size of the files,
        int8.json            parity figures; written last, so a file without one is never used
        int8.failed.json   a build whose parity check failed (served by nobody until --force)
        builds.log         one JSON line per build, for operators (and the tests)
        build.lock         held while building: concurrent workers build once

A file is served only when its manifest names the current source identity and recipe and its
SHA-256 matches; anything else (truncated, edited, from another model or recipe) is rebuilt.
No torch here: serving processes import this module.
"""

import hashlib
import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from embeddings.exceptions import OnnxBuildFailed, ParityCheckFailed

logger = logging.getLogger(__name__)

PRECISIONS = ("int8", "fp32")
# Bump when the export or quantization changes: older files become stale and are rebuilt, and
# (being part of the key fingerprint) their cached vectors are no longer read.
# 2: QUInt8 weights instead of QInt8 (the same vectors on CPUs with and without VNNI).
RECIPE = 2
OPSET = 17
# Cosine of the ONNX vectors to the torch vectors on the fixed parity set, below which a build
# refuses to serve.
PARITY_MIN_MEAN = 0.99
PARITY_MIN_WORST = 0.97
# A first use waits this long for another process' build before giving up.
BUILD_LOCK_TIMEOUT = 900.0


@dataclass(frozen=True)
class Source:
    """The model folder to export, and what identifies its weights."""

    folder: Path
    identity: str
    max_seq_length: int


def artifact_dir(root: Path, identity: str) -> Path:
    return Path(root) / hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def write_json(path: Path, value: dict[str, Any]) -> None:
    """Write atomically: readers see the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def verify(folder: Path, *, identity: str, precision: str) -> tuple[dict[str, Any] | None, str]:
    """Return (manifest, "") if `precision`'s files in `folder` may be served, else (None, why)."""
    manifest = read_json(folder / f"{precision}.json")
    if manifest is None:
        return None, "not built"
    if manifest.get("source") != identity or manifest.get("recipe") != RECIPE:
        return None, (
            f"stale (built from {manifest.get('source')!r} recipe {manifest.get('recipe')}, "
            f"need {identity!r} recipe {RECIPE})"
        )
    if manifest.get("precision") != precision:
        return None, f"manifest is for {manifest.get('precision')!r}"
    for name, expected in (manifest.get("files") or {}).items():
        path = folder / name
        try:
            size = path.stat().st_size
        except OSError:
            return None, f"{name} is missing"
        if size != expected.get("bytes") or file_sha256(path) != expected.get("sha256"):
            return None, f"{name} does not match its manifest (corrupt or replaced)"
    if not {f"{precision}.onnx", "tokenizer.json"} <= set(manifest.get("files") or {}):
        return None, "manifest lists no model file"
    return manifest, ""


def failed_build(folder: Path, *, identity: str, precision: str) -> dict[str, Any] | None:
    """The record of a failed parity check of this source and recipe, if any."""
    record = read_json(folder / f"{precision}.failed.json")
    if record and record.get("source") == identity and record.get("recipe") == RECIPE:
        return record
    return None


def parity_error(record: dict[str, Any]) -> ParityCheckFailed:
    parity = record.get("parity") or {}
    return ParityCheckFailed(
        f"The {record.get('precision')} ONNX export of {record.get('source')} failed its parity "
        f"check and is not served: cosine to the torch vectors mean {parity.get('mean', 0):.4f} "
        f"(need >= {PARITY_MIN_MEAN}), min {parity.get('min', 0):.4f} (need >= "
        f"{PARITY_MIN_WORST}) on {parity.get('texts')} texts. Use the torch backend, or rebuild "
        "with `manage.py embeddings_build_onnx --force` after fixing the cause."
    )


def ensure_built(
    source: Source,
    precision: str,
    root: Path,
    *,
    force: bool = False,
    in_subprocess: bool = True,
    lock_timeout: float = BUILD_LOCK_TIMEOUT,
) -> tuple[Path, dict[str, Any]]:
    """Return (folder, manifest) of `precision`'s verified files, building them if needed.

    One process per machine builds (a file lock); the others wait and use its result. With
    `in_subprocess` the build (which imports torch) runs in a child process, so the caller never
    carries torch. Raises ParityCheckFailed when the export fails its parity check (now or in
    an earlier build), OnnxBuildFailed for any other failure.
    """
    if precision not in PRECISIONS:
        raise OnnxBuildFailed(f"ONNX precision must be one of {PRECISIONS}, not {precision!r}")
    folder = artifact_dir(root, source.identity)
    if not force:
        manifest, why = verify(folder, identity=source.identity, precision=precision)
        if manifest is not None:
            return folder, manifest
        record = failed_build(folder, identity=source.identity, precision=precision)
        if record is not None:
            raise parity_error(record)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(folder / "build.lock"), timeout=lock_timeout)
        with lock:
            manifest, why = verify(folder, identity=source.identity, precision=precision)
            if manifest is not None and not force:
                return folder, manifest  # another process built it while we waited
            if not force and (
                record := failed_build(folder, identity=source.identity, precision=precision)
            ):
                raise parity_error(record)
            logger.warning(
                "building the %s ONNX model of %s in %s (%s); this takes a minute, once",
                precision,
                source.identity,
                folder,
                why or "forced",
            )
            started = time.perf_counter()
            if in_subprocess:
                _build_in_child(source, precision, folder)
            else:
                from embeddings.backends.onnx.build import build

                build(source, precision, folder)
            manifest, why = verify(folder, identity=source.identity, precision=precision)
            if manifest is None:
                record = failed_build(folder, identity=source.identity, precision=precision)
                if record is not None:
                    raise parity_error(record)
                raise OnnxBuildFailed(f"The ONNX build in {folder} left no usable file: {why}")
            logger.warning(
                "built the %s ONNX model of %s in %.1f s",
                precision,
                source.identity,
                time.perf_counter() - started,
            )
            return folder, manifest
    except Timeout as exc:
        raise OnnxBuildFailed(
            f"Waited {lock_timeout:.0f} s for another process building the ONNX model in "
            f"{folder}; if none is running, delete {folder / 'build.lock'}."
        ) from exc
    except OSError as exc:
        raise OnnxBuildFailed(f"Cannot write the ONNX model under {root}: {exc}") from exc


def _build_in_child(source: Source, precision: str, folder: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "embeddings.backends.onnx.build",
        "--folder",
        str(source.folder),
        "--identity",
        source.identity,
        "--max-seq-length",
        str(source.max_seq_length),
        "--precision",
        precision,
        "--out",
        str(folder),
    ]
    project_root = Path(__file__).resolve().parents[3]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(project_root), os.environ.get("PYTHONPATH")])
        ),
    }
    # Our own interpreter and module, arguments from settings: no shell, nothing untrusted.
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        record = failed_build(folder, identity=source.identity, precision=precision)
        if record is not None:
            raise parity_error(record)
        tail = "\n".join(result.stderr.strip().splitlines()[-15:])
        raise OnnxBuildFailed(f"The ONNX build failed (exit {result.returncode}):\n{tail}")
