"""System checks: misconfiguration is reported by `manage.py check`, not at request time."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from embeddings import codec
from embeddings.conf import get_config


@register(Tags.caches)
def check_cache_alias(app_configs=None, **kwargs) -> list:
    from embeddings.stores import store_class_path

    config = get_config()
    alias = config["CACHE_ALIAS"]
    errors = []
    if alias not in settings.CACHES:
        errors.append(
            Error(
                f"EMBEDDINGS['CACHE_ALIAS'] is {alias!r}, which is not in CACHES.",
                hint="Add a cache alias for the embeddings (see .env.example).",
                id="embeddings.E001",
            )
        )
    else:
        backend = settings.CACHES[alias].get("BACKEND", "")
        try:
            import_string(backend)
        except ImportError as exc:
            errors.append(
                Error(
                    f"Cache backend {backend!r} of alias {alias!r} cannot be imported: {exc}",
                    id="embeddings.E002",
                )
            )
        try:
            store_class_path(alias)
        except ImproperlyConfigured as exc:
            errors.append(Error(str(exc), id="embeddings.E005"))
    try:
        import_string(config["BACKEND"])
    except ImportError as exc:
        errors.append(
            Error(
                f"EMBEDDINGS['BACKEND'] {config['BACKEND']!r} cannot be imported: {exc}",
                id="embeddings.E003",
            )
        )
    if config["STORAGE_DTYPE"] not in codec.STORAGE_DTYPES:
        errors.append(
            Error(
                f"EMBEDDINGS['STORAGE_DTYPE'] must be one of {codec.STORAGE_DTYPES}.",
                id="embeddings.E004",
            )
        )
    if config["ONNX_PRECISION"] not in ("int8", "fp32"):
        errors.append(
            Error(
                f"EMBEDDINGS['ONNX_PRECISION'] must be 'int8' or 'fp32', not "
                f"{config['ONNX_PRECISION']!r}.",
                id="embeddings.E006",
            )
        )
    return errors


@register(Tags.caches)
def check_store_settings(app_configs=None, **kwargs) -> list:
    """What the store says about its settings (no connection): W001 a Redis database shared
    with another alias, W002 the pickle serializer."""
    store = _store_or_none()
    if store is None:
        return []
    return [
        Warning(w.message, hint=w.hint or None, id=w.check_id)
        for w in store.settings_warnings()
        if w.check_id
    ]


@register(Tags.caches, deploy=True)
def check_store_server(app_configs=None, **kwargs) -> list:
    """Checks that ask the store's server itself; run by `manage.py check --deploy`: W003
    unreachable, and what the store judges from its answer (W004 no persistence, W005
    noeviction with maxmemory)."""
    from embeddings.exceptions import CacheError

    store = _store_or_none()
    if store is None:
        return []
    try:
        info = store.server_info()
    except CacheError as exc:
        return [
            Warning(
                f"Cannot reach the embeddings store ({store.describe().location}): {exc}",
                hint="The app still works without it, computing every embedding.",
                id="embeddings.W003",
            )
        ]
    return [
        Warning(w.message, hint=w.hint or None, id=w.check_id)
        for w in store.health_warnings(info)
        if w.check_id
    ]


def _store_or_none():
    """The configured store, or None when E001/E002/E005 already report why there is none."""
    from embeddings.stores import store_class_path

    alias = get_config()["CACHE_ALIAS"]
    if alias not in settings.CACHES:
        return None
    try:
        cls = import_string(store_class_path(alias))
        return cls(alias=alias, config=get_config())
    except (ImportError, ImproperlyConfigured):
        return None
