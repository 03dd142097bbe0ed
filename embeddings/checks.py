"""System checks: misconfiguration is reported by `manage.py check`, not at request time."""

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.utils.module_loading import import_string

from embeddings import codec
from embeddings.conf import get_config


@register(Tags.caches)
def check_cache_alias(app_configs=None, **kwargs) -> list:
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
    return errors
