"""Template context for every page: the projects of the switcher in the page header, and
whether the reader runs the installation (`operator`)."""

from django.http import HttpRequest

from codeframe import scoping, selectors
from codeframe.validators import as_id


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
