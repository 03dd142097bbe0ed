"""Prometheus metrics of the embedding cache, at `/metrics`.

Readable by operators' sessions (superusers, `embeddings.access`), or by a scraper sending
`Authorization: Bearer <METRICS_TOKEN>`.
Numbers come from the shared counters, so any worker answers for all of them.
"""

import hmac

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from embeddings.access import is_operator
from embeddings.conf import get_config
from embeddings.sections import stats_sections
from embeddings.selectors import get_cache_stats


class CacheCollector:
    def collect(self):
        stats = get_cache_stats()
        labels = ["model", "fingerprint"]
        families = {
            "hits": CounterMetricFamily(
                "embeddings_cache_hits", "Input texts served from the cache.", labels=labels
            ),
            "misses": CounterMetricFamily(
                "embeddings_cache_misses",
                "Input texts not in the cache, each repeat within a call counted (hits + "
                "misses = texts requested); the vectors computed are fewer when texts repeat.",
                labels=labels,
            ),
            "errors": CounterMetricFamily(
                "embeddings_cache_errors", "Failed cache operations.", labels=labels
            ),
            "corrupt": CounterMetricFamily(
                "embeddings_cache_corrupt_values",
                "Cached values that failed validation.",
                labels=labels,
            ),
            "encode_seconds": CounterMetricFamily(
                "embeddings_encode_seconds", "Seconds spent computing embeddings.", labels=labels
            ),
        }
        entries = GaugeMetricFamily(
            "embeddings_cache_model_entries",
            "Cached vectors per model, as last counted.",
            labels=labels,
        )
        for model in stats.models:
            values = [model.label, model.fingerprint]
            for name, family in families.items():
                family.add_metric(values, getattr(model.lifetime, name))
            if model.entries is not None:
                entries.add_metric(values, model.entries)
        yield from families.values()
        yield entries
        yield GaugeMetricFamily(
            "embeddings_cache_up", "1 if the cache store answered.", value=int(stats.reachable)
        )
        if stats.entries_total is not None:
            yield GaugeMetricFamily(
                "embeddings_cache_entries", "Keys in the cache store.", value=stats.entries_total
            )
        if stats.used_memory is not None:
            yield GaugeMetricFamily(
                "embeddings_cache_memory_bytes",
                "Memory used by the store.",
                value=stats.used_memory,
            )
        if stats.maxmemory:
            yield GaugeMetricFamily(
                "embeddings_cache_maxmemory_bytes", "Redis maxmemory.", value=stats.maxmemory
            )
        if stats.last_hour.hit_rate is not None:
            yield GaugeMetricFamily(
                "embeddings_cache_hit_ratio_last_hour",
                "Hits / lookups over the last hour, current model.",
                value=stats.last_hour.hit_rate,
            )
        serving = stats.serving
        info = GaugeMetricFamily(
            "embeddings_backend_info",
            "What serves the vectors (always 1; the labels say).",
            labels=["engine", "precision"],
        )
        info.add_metric([str(serving.get("engine")), str(serving.get("precision"))], 1)
        yield info
        if serving.get("load_seconds") is not None:
            yield GaugeMetricFamily(
                "embeddings_model_load_seconds",
                "Seconds this process took to load the model.",
                value=serving["load_seconds"],
            )
        yield GaugeMetricFamily(
            "embeddings_cache_warnings",
            "Active warnings on the stats page.",
            value=len(stats.warnings),
        )
        for section in stats_sections():
            for item in section.values:
                if item.value is not None:
                    yield GaugeMetricFamily(
                        f"{section.name}_{item.key}", item.help or item.label, value=item.value
                    )


@login_not_required  # it authenticates itself (operator, or the token): a scraper has no login
def metrics_view(request: HttpRequest) -> HttpResponse:
    user = getattr(request, "user", None)
    allowed = is_operator(user)
    token = get_config()["METRICS_TOKEN"]
    header = request.headers.get("Authorization", "")
    if not allowed and token and header.startswith("Bearer "):
        allowed = hmac.compare_digest(header.removeprefix("Bearer ").encode(), token.encode())
    if not allowed:
        if (user is not None and user.is_authenticated) or header:
            return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
        response = HttpResponse("Authentication required\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CacheCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
