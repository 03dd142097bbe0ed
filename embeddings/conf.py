"""The app's settings: one `EMBEDDINGS` dict in Django settings, read only through here.

    EMBEDDINGS = {"TTL": 3600, "MODEL": "/models/my-model"}

`get_config()` merges it over `DEFAULTS`; the result is cached and cleared whenever a test
overrides settings (`embeddings.backends` and `embeddings.stores` reset their own instances).
"""

from functools import cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

DEFAULTS: dict[str, Any] = {
    # Cache alias in CACHES that holds the embeddings (its own, so flushes stay ours).
    "CACHE_ALIAS": "embeddings",
    # First segment of every key we write. Keys are derived only in embeddings.keys.
    "KEY_PREFIX": "emb",
    # Seconds a vector stays cached (a positive integer); None keeps it until evicted. 0 is
    # refused rather than read as None.
    "TTL": 7 * 24 * 3600,
    # Dotted path of the class that turns texts into vectors (see embeddings.backends.base).
    "BACKEND": "embeddings.backends.sentence_transformers.SentenceTransformerBackend",
    # Sentence-transformers model name or local folder; None = the bundled all-MiniLM-L6-v2.
    "MODEL": None,
    # Pins the model's identity in the key fingerprint instead of hashing its weight files.
    "MODEL_REVISION": None,
    "DEVICE": "cpu",
    # ONNX backend (embeddings.backends.onnx.OnnxBackend): "int8" (weights quantized per
    # channel, about twice as fast as torch, cosine to its vectors >= 0.97) or "fp32" (the torch
    # vectors to float rounding, no faster). Part of the key fingerprint.
    "ONNX_PRECISION": "int8",
    # Where the ONNX files are built (once per machine, per source model); None = a folder in
    # the user's cache (~/.cache/django-embeddings/onnx).
    "ONNX_DIR": None,
    "BATCH_SIZE": 64,
    # Ask the model to L2-normalise (all-MiniLM-L6-v2 already does, in its own pipeline).
    "NORMALIZE": False,
    # Token limit; None = the model's own (256 for all-MiniLM-L6-v2).
    "MAX_SEQ_LENGTH": None,
    # Text put before every input by the model (instruction-tuned models); None = none.
    "PROMPT": None,
    # float32 stores exactly what the model returned; float16 halves memory (cosine >= 0.9999).
    "STORAGE_DTYPE": "float32",
    # Dotted path of the store class; None picks it from the cache alias' backend.
    "STORE": None,
    # Redis Cluster: hash-tag buckets per model space. A lookup sends at most one MGET per
    # bucket (one round trip per node); more buckets spread one model over more nodes.
    "CLUSTER_BUCKETS": 16,
    # Keys per MGET; larger lookups send several MGETs in one pipelined round trip.
    "MGET_CHUNK": 10_000,
    # Writes per pipeline flush when a call has very many misses.
    "WRITE_CHUNK": 5_000,
    # Circuit breaker: first back-off after a failure, doubling up to the maximum. The maximum
    # is how late a Redis that is back gets used again (60 s kept it idle 30 s after a 45 s
    # outage, bench/faults.py); a probe of a dead Redis costs at most one socket timeout.
    "BREAKER_BACKOFF": 5.0,
    "BREAKER_MAX_BACKOFF": 10.0,
    # Calls with at least this many texts log their summary at INFO, smaller ones at DEBUG.
    "LOG_INFO_MIN_TEXTS": 500,
    # Concurrent calls missing the same texts encode each of them once: a call claims the
    # misses it will compute (a short-lived claim key per text) and waits for those another
    # process or thread has claimed, up to COALESCE_MAX_WAIT seconds, computing itself whatever
    # has not arrived by then (or whose claimer died: claims expire).
    "COALESCE_MISSES": True,
    "COALESCE_MAX_WAIT": 120.0,
    # Where `embeddings_warm --question/--all` reads texts: dotted path of a callable
    # `(*, question_ids: list[int] | None) -> Iterable[str]` (None = every question; LookupError
    # for ids it does not know), so this app never imports the product's models. None: those
    # options are unavailable.
    "TEXT_SOURCE": None,
    # More sections for the stats page, its API and /metrics, from the project around this app
    # (e.g. the job queue of the workers that embed): dotted paths of callables returning an
    # `embeddings.sections.StatsSection`.
    "STATS_SECTIONS": [],
    # Stats page, API and metrics: thresholds of the warnings, and the per-model entry count.
    "STATS": {
        "MIN_HIT_RATE": 0.5,  # last hour, warn below
        "MIN_REQUESTS_FOR_HIT_RATE": 100,  # fewer lookups in the hour say nothing
        "MEMORY_WARN_BYTES": None,  # warn above this much used memory (None = off)
        "MAXMEMORY_WARN_RATIO": 0.9,  # warn when used memory reaches this share of maxmemory
        "COUNT_MAX_AGE": 600,  # seconds before the per-model entry count is refreshed
        "AUTO_RECOUNT": True,  # refresh it in a background thread when stale
    },
    # Bearer token that lets a Prometheus scraper read /metrics (superusers' sessions always can).
    "METRICS_TOKEN": None,
}


@cache
def get_config() -> dict[str, Any]:
    """Return the effective settings: `DEFAULTS` updated with `settings.EMBEDDINGS`."""
    user = getattr(settings, "EMBEDDINGS", {}) or {}
    unknown = set(user) - set(DEFAULTS)
    if unknown:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"Unknown EMBEDDINGS setting(s): {', '.join(sorted(unknown))}")
    merged = {**DEFAULTS, **user}
    merged["STATS"] = {**DEFAULTS["STATS"], **(user.get("STATS") or {})}
    ttl = merged["TTL"]
    if ttl is not None and (type(ttl) is not int or ttl <= 0):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            f"EMBEDDINGS['TTL'] must be a positive integer (seconds) or None (no expiry), "
            f"not {ttl!r}"
        )
    buckets = merged["CLUSTER_BUCKETS"]
    if type(buckets) is not int or not 1 <= buckets <= 4096:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            f"EMBEDDINGS['CLUSTER_BUCKETS'] must be an integer from 1 to 4096, not {buckets!r}"
        )
    return merged


@receiver(setting_changed)
def _reset_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    if setting == "EMBEDDINGS":
        get_config.cache_clear()
