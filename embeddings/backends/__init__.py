"""What turns text into vectors. `get_backend()` returns one shared instance per model."""

import threading
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from embeddings.backends.base import BaseBackend
from embeddings.conf import get_config

__all__ = ["BaseBackend", "get_backend", "reset"]

_instances: dict[str | None, BaseBackend] = {}
_lock = threading.Lock()


def get_backend(model: str | None = None) -> BaseBackend:
    """Return the backend for `model` (None = the configured one), built once per process."""
    backend = _instances.get(model)
    if backend is None:
        with _lock:
            backend = _instances.get(model)
            if backend is None:
                config = get_config()
                cls = import_string(config["BACKEND"])
                backend = cls(model=model if model is not None else config["MODEL"], config=config)
                _instances[model] = backend
    return backend


def reset() -> None:
    """Forget built backends (settings changed); loaded models are released."""
    with _lock:
        _instances.clear()


@receiver(setting_changed)
def _reset_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    if setting == "EMBEDDINGS":
        reset()
