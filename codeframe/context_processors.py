"""Template context for every page: the projects of the switcher in the page header, whether
the reader runs the installation (`operator`), whether the admin has a page for them
(`admin_link`), and the form refused on the way here (`refused`)."""

from functools import partial

from django.contrib import admin
from django.http import HttpRequest

from codeframe import scoping, selectors
from codeframe.validators import as_id
from codeframe.views.shared import REFUSED


def projects(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        # A lazy queryset: evaluated only by pages that render the switcher.
        "switcher_projects": selectors.user_projects(user=user),
        "current_project_id": as_id(request.GET.get("project", "")),
    }


def operator(request: HttpRequest) -> dict:
    """`operator`: the reader sees the shared cache's figures and the steps' timings
    (`scoping.is_operator`), as the API's operators do."""
    user = getattr(request, "user", None)
    return {"operator": user is not None and user.is_authenticated and scoping.is_operator(user)}


def _admin_has_a_page(request: HttpRequest) -> bool:
    return bool(admin.site.get_app_list(request))


def admin_link(request: HttpRequest) -> dict:
    """`admin_link`: whether the header links to the admin, for staff who have a page there.
    Staff of a project without Django model permissions (and, since the cache's page is the
    superusers', nothing else) found an empty admin behind the link. Called by the template,
    so only pages that render the header ask; the permissions it reads are cached per user."""
    user = getattr(request, "user", None)
    if user is None or not (user.is_active and user.is_staff):
        return {"admin_link": False}
    return {"admin_link": partial(_admin_has_a_page, request)}


def refused(request: HttpRequest) -> dict:
    """`refused`: the form `views.shared.refuse` sent back to this page (its `action`, the
    `message` and the `values` typed), once; `{% refused %}` finds it among the page's forms.
    Left in the session for another page: it is this page's form, not theirs."""
    session = getattr(request, "session", None)
    if session is None or request.method != "GET":
        return {}
    kept = session.get(REFUSED)
    if not kept or kept.get("page") != request.path:
        return {}
    del session[REFUSED]
    return {"refused": kept}
