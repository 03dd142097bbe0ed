"""The "Embedding cache" admin page: stats, warnings, and reset and flush buttons (POST with
CSRF, after a confirmation page), for superusers: the operators (`embeddings.access`)."""

import logging

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from embeddings import maintenance, services
from embeddings.access import is_operator
from embeddings.exceptions import EmbeddingsError
from embeddings.models import CacheStatistics
from embeddings.sections import stats_sections
from embeddings.selectors import get_cache_stats

logger = logging.getLogger(__name__)

ACTIONS = {
    "reset": (
        "Reset the counters",
        "Zero the hit, miss and error counters of every model. Cached vectors stay.",
    ),
    "flush": (
        "Flush this model's cached vectors",
        "Delete every cached vector of the current model. They will be computed again on "
        "next use. Other models' vectors, counters and other data in the store stay.",
    ),
    "recount": (
        "Count the cached vectors now",
        "Count the cached vectors per model with SCAN (a few seconds per million).",
    ),
}


@admin.register(CacheStatistics)
class CacheStatisticsAdmin(admin.ModelAdmin):
    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return is_operator(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_urls(self):
        extra = [
            path(
                f"{name}/",
                self.admin_site.admin_view(self.action_view),
                {"action": name},
                name=f"embeddings_cachestatistics_{name}",
            )
            for name in ACTIONS
        ]
        # Only the stats page: the model has no table, so the object routes (change, delete,
        # history) would answer 500 to whoever types their URL.
        changelist = [
            url for url in super().get_urls() if url.name == "embeddings_cachestatistics_changelist"
        ]
        return extra + changelist

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Embedding cache",
            "opts": self.model._meta,
            "stats": get_cache_stats(),
            "sections": stats_sections(),
            "can_maintain": is_operator(request.user),
            "actions": ACTIONS,
        }
        return TemplateResponse(request, "admin/embeddings/cache_stats.html", context)

    def action_view(self, request: HttpRequest, action: str) -> HttpResponse:
        if not is_operator(request.user):
            raise PermissionDenied
        title, explanation = ACTIONS[action]
        back = reverse("admin:embeddings_cachestatistics_changelist")
        if request.method == "POST":
            who = request.user.get_username()
            try:
                done = _run(action)
            except EmbeddingsError as exc:
                logger.warning("%s by %s in the admin failed: %s", title, who, exc)
                self.message_user(request, f"{title} failed: {exc}", messages.ERROR)
            else:
                # Who emptied the cache, or its counters, and when: the store keeps no record.
                logger.info("%s by %s in the admin: %s", title, who, done)
                self.message_user(request, done, messages.SUCCESS)
            return HttpResponseRedirect(back)
        stats = get_cache_stats()
        context = {
            **self.admin_site.each_context(request),
            "title": f"{title}?",
            "opts": self.model._meta,
            "explanation": explanation,
            "stats": stats,
            "action": action,
            "back": back,
        }
        return TemplateResponse(request, "admin/embeddings/confirm.html", context)


def _run(action: str) -> str:
    if action == "reset":
        services.reset_counters()
        return "Counters reset."
    if action == "flush":
        result = maintenance.flush_keys(namespace=maintenance.current_namespace())
        return f"Deleted {result.deleted:,} cached vectors in {result.seconds:.1f} s."
    counts = maintenance.refresh_entry_counts()
    return f"Counted {sum(counts.values()):,} cached vectors of {len(counts)} model(s)."
