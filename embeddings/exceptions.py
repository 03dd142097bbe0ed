"""The app's exception hierarchy.

Library errors (redis-py, diskcache, sentence-transformers) are translated into these where they
occur; adapters (commands, API, admin) map them once to their own way of failing.
"""


class EmbeddingsError(Exception):
    """Base class of every error this app raises on purpose."""


class CacheError(EmbeddingsError):
    """The cache store failed an operation. Embedding goes on without it."""


class CacheUnavailable(CacheError):
    """The store cannot be reached (connection refused, timeout, authentication).

    Opens the circuit breaker: the store is skipped until its back-off has passed.
    """


class CacheSkipped(CacheUnavailable):
    """The circuit breaker is open: the store was not even tried."""


class CacheRefused(CacheError):
    """The store answered but refused the command (e.g. Redis full under `noeviction`).

    Reads keep working, so this does not open the circuit breaker.
    """


class ModelNotFound(EmbeddingsError):
    """The configured model is neither a local folder nor in the local Hugging Face cache."""


class OnnxBuildFailed(EmbeddingsError):
    """The ONNX files of the model could not be built (export, quantization or writing)."""


class ParityCheckFailed(OnnxBuildFailed):
    """The ONNX export's vectors are too far from the torch model's; it is not served."""
