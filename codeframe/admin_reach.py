"""Admin pages that reach across projects: other apps' closed to staff or scoped, and the
shared cache's figures in ours for operators only.

The "view on site" redirect (Django's `contenttypes` shortcut, `admin/r/<type>/<id>/`) checks
no permission: it told any staff user whether another project's question, codeframe or job of
that id exists (a redirect, or a 404). `view_on_site` answers only for an object the model's
admin shows the user (`codeframe.admin`'s scoped querysets).

Other apps' admin pages whose rows span every project are for superusers only.

API tokens (one is its user's whole access), users and groups (every client's people; changing
one is granting rights), task results (every project's job ids, errors and tracebacks) and
django-axes' login records (every user's name and address) cannot be scoped to a staff user's
projects as `codeframe.admin`'s pages are. One Django "view" permission on them
was a superuser's reach (a token's key is its user's login), so they stay closed to staff who
are not superusers, whatever permissions they are given.
"""

from django.contrib import admin
from django.contrib.contenttypes import views as contenttypes_views
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import DateTimeField, Model
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.dateparse import parse_date, parse_datetime

from codeframe.models import Codeframe, GenerationJob


def view_on_site(request: HttpRequest, content_type_id: int, object_id: str) -> HttpResponse:
    """Django's "view on site" redirect for an object the user's admin shows; 404 for any other,
    as for one that does not exist. Superusers see every object."""
    if not request.user.is_superuser:
        model = ContentType.objects.filter(pk=content_type_id).first()
        model_admin = admin.site._registry.get(model.model_class()) if model else None
        try:
            shown = model_admin is not None and (
                model_admin.get_queryset(request).filter(pk=object_id).exists()
            )
        except (ValidationError, ValueError):  # not an id of that model
            shown = False
        if not shown:
            raise Http404("No such object.")
    return contenttypes_views.shortcut(request, content_type_id, object_id)


class SuperusersOnly:
    """ModelAdmin mixin: the admin's own permissions, for superusers alone."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)


def close_to_staff(site: admin.AdminSite, labels: set[str]) -> list[str]:
    """Re-register the admins of the models named `labels` ("app_label.ModelName") with
    `SuperusersOnly`; the labels done (an app not installed has none). Idempotent: the apps'
    ready() runs again when a test changes INSTALLED_APPS."""
    done = []
    for model, model_admin in list(site._registry.items()):
        label = model._meta.label
        if label not in labels:
            continue
        if isinstance(model_admin, SuperusersOnly):  # ready() again (INSTALLED_APPS changed)
            done.append(label)
            continue
        closed = type(
            f"SuperusersOnly{type(model_admin).__name__}",
            (SuperusersOnly, type(model_admin)),
            {},
        )
        site._registry[model] = closed(model, site)  # in its place: the admin index's order
        done.append(label)
    return done


SPANNING_EVERY_PROJECT = {
    "authtoken.TokenProxy",
    "authtoken.Token",
    "django_tasks_database.DBTaskResult",
    "auth.User",
    "auth.Group",
    "axes.AccessAttempt",
    "axes.AccessLog",
    "axes.AccessFailureLog",
}


# The shared embedding cache's figures and the steps' timings, for operators only
# (`scoping.is_operator`, as in the API and on the pages): the cache is every project's, so
# whether an answer was a hit, or how long its embedding took, told staff of one project which
# answers another client's project holds (a reviewer read them off a codeframe's admin page).
OPERATOR_FIELDS: dict[type[Model], frozenset[str]] = {
    Codeframe: frozenset({"cache_hits", "cache_misses", "timings"}),
    GenerationJob: frozenset({"cache_hits", "cache_misses"}),
}
# How others may filter by a time: bounds to the second (the API's times are), as the sidebar's
# date links and the date hierarchy give them. A bound typed to the microsecond, or a text
# match on the stored time (`created__contains=...`), found when a job started and its
# codeframe was stored, to the microsecond: how long its embedding took.
_TIME_BOUNDS = frozenset({"exact", "gt", "gte", "lt", "lte"})
_TIME_PARTS = frozenset({"year", "month", "day"})


def _to_the_second(value: str) -> bool:
    """Whether `value` is a date, or a date and time with no fraction of a second."""
    for parse in (parse_datetime, parse_date):
        try:
            parsed = parse(value.strip())
        except ValueError:  # well formed, but no such day
            return False
        if parsed is not None:
            return getattr(parsed, "microsecond", 0) == 0
    return False


def operators_only_lookup(model: type[Model], lookup: str, value: str) -> bool:
    """Whether the changelist filter `lookup`=`value` (on `model`'s admin) reads what only
    operators see: a cache figure, a timing, or a time finer than a second."""
    parts = lookup.split("__")
    for index, part in enumerate(parts):
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return False  # not a field: Django ignores it, or refuses it
        if part in OPERATOR_FIELDS.get(model, ()):
            return True
        if isinstance(field, DateTimeField):
            rest = parts[index + 1 :] or ["exact"]
            if rest == ["isnull"]:
                return False
            if len(rest) == 1 and rest[0] in _TIME_BOUNDS:
                return not _to_the_second(value)
            if len(rest) == 1 and rest[0] in _TIME_PARTS:
                return not value.strip().isdigit()
            return True
        if not field.is_relation:
            return False
        model = field.related_model
    return False
