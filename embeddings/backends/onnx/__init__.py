"""ONNX Runtime backend: the configured sentence-transformers model, exported once per machine
to ONNX (int8 or fp32) and served by onnxruntime + tokenizers + numpy, without torch.

- `backend.OnnxBackend`: what `EMBEDDINGS["BACKEND"]` names; never imports torch.
- `artifacts`: where the built files live, their manifest, the checks that keep a corrupt or
  stale file from being used, and the per-machine build lock.
- `build`: the export, quantization and parity check; the only module that imports torch, run in
  a child process on first use (or by `manage.py embeddings_build_onnx`).
"""

from embeddings.backends.onnx.backend import OnnxBackend

__all__ = ["OnnxBackend"]
