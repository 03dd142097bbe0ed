"""Template context for every page: the projects of the switcher in the page header."""

from django.http import HttpRequest

from codeframe import selectors
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
