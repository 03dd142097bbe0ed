"""System checks: misconfiguration is reported by `manage.py check`, not at request time."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
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
    if config["ONNX_PRECISION"] not in ("int8", "fp32"):
        errors.append(
            Error(
                f"EMBEDDINGS['ONNX_PRECISION'] must be 'int8' or 'fp32', not "
                f"{config['ONNX_PRECISION']!r}.",
                id="embeddings.E005",
            )
        )
    return errors


@register(Tags.caches)
def check_redis_settings(app_configs=None, **kwargs) -> list:
    """Settings-only checks of the Redis alias (no connection)."""
    from embeddings.selectors import describe_location, shared_with

    alias = get_config()["CACHE_ALIAS"]
    if alias not in settings.CACHES or describe_location(alias).backend != "redis":
        return []
    found = []
    shared = shared_with(alias)
    if shared:
        found.append(
            Warning(
                f"Cache alias {alias!r} shares its Redis database with {', '.join(shared)}.",
                hint="Give the embeddings their own database number (redis://host:6379/2): "
                "entry counts then come from DBSIZE, and nothing else sits in their key space.",
                id="embeddings.W001",
            )
        )
    serializer = settings.CACHES[alias].get("OPTIONS", {}).get("SERIALIZER", "")
    if not serializer or "pickle" in serializer.lower():
        found.append(
            Warning(
                f"Cache alias {alias!r} uses django-redis' pickle serializer"
                f"{' (the default)' if not serializer else ''}.",
                hint="Anything read through that alias' cache API would be unpickled: code "
                "execution for whoever can write to Redis. Set OPTIONS['SERIALIZER'] to "
                "'django_redis.serializers.json.JSONSerializer'.",
                id="embeddings.W002",
            )
        )
    return found


@register(Tags.caches, deploy=True)
def check_redis_server(app_configs=None, **kwargs) -> list:
    """Checks that ask the Redis server itself; run by `manage.py check --deploy`."""
    from embeddings.exceptions import CacheError
    from embeddings.selectors import describe_location
    from embeddings.stores import get_store

    alias = get_config()["CACHE_ALIAS"]
    if alias not in settings.CACHES or describe_location(alias).backend != "redis":
        return []
    try:
        info = get_store().server_info()
    except CacheError as exc:
        return [
            Warning(
                f"Cannot reach the embeddings Redis: {exc}",
                hint="The app still works without it, computing every embedding.",
                id="embeddings.W003",
            )
        ]
    found = []
    if not int(info.get("aof_enabled", 0) or 0) and not info.get("config_save"):
        found.append(
            Warning(
                "The embeddings Redis has no persistence (no AOF, no RDB snapshots).",
                hint="A Redis restart loses the whole cache. Enable appendonly yes (or save).",
                id="embeddings.W004",
            )
        )
    if int(info.get("maxmemory", 0) or 0) and info.get("maxmemory_policy") == "noeviction":
        found.append(
            Warning(
                "The embeddings Redis has maxmemory with maxmemory-policy noeviction.",
                hint="When it is full every embedding write fails. Use allkeys-lru for a cache.",
                id="embeddings.W005",
            )
        )
    return found
