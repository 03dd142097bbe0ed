"""The contract every embedding backend fulfils."""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


class BaseBackend:
    """Turns texts into float32 vectors of a fixed dimension.

    Subclasses must answer `dimension`, `label` and `fingerprint_fields()` cheaply, without
    loading the model: a fully cached call never loads it. `encode()` may load the model on first
    use; it must be thread-safe and load at most once per process.
    """

    def __init__(self, *, model: str | None, config: Mapping[str, Any]) -> None:
        self.model = model
        self.config = config

    @property
    def dimension(self) -> int:
        """Length of every vector `encode()` returns."""
        raise NotImplementedError

    @property
    def label(self) -> str:
        """A short human-readable name for logs and stats."""
        raise NotImplementedError

    @property
    def is_loaded(self) -> bool:
        """Whether the model is in memory in this process."""
        return False

    def serving_info(self) -> dict[str, Any]:
        """What serves the vectors, for stats: engine, precision, whether the model is loaded in
        this process and how many seconds loading it took (None until it is)."""
        return {
            "engine": type(self).__name__,
            "precision": None,
            "loaded": self.is_loaded,
            "load_seconds": None,
        }

    def fingerprint_fields(self) -> dict[str, Any]:
        """JSON-serialisable description of everything that changes the vectors.

        Two backends whose fields are equal must return bit-identical vectors for equal texts.
        """
        raise NotImplementedError

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return a C-contiguous float32 array of shape (len(texts), dimension), rows in order."""
        raise NotImplementedError
