"""What the pages of several subjects share: the user's roles, the way back after a form,
the codeframe an edit may change."""

from django.http import (
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import redirect

from codeframe import scoping, selectors
from codeframe.models import Role

QUESTIONS_PER_PAGE = 50


def roles_of(user, project_id: int) -> dict:
    """What the templates may offer: `can_edit` (analyst), `can_manage` (manager); and `role`,
    the role the pages show (`scoping.shown_role`)."""
    held = scoping.role_in(user, project_id)  # one query for the three
    return {
        "role": scoping.shown_role(user, held),
        "can_edit": scoping.reaches(held, Role.ANALYST),
        "can_manage": scoping.reaches(held, Role.MANAGER),
    }


def back_to_form(request: HttpRequest, codeframe) -> HttpResponse:
    """Back to the page the form was on (a page of this codeframe), else the codeframe."""
    target = request.POST.get("next", "")
    if target.startswith(codeframe.get_absolute_url()):
        return redirect(target)
    return redirect(codeframe)


def editable_codeframe(request: HttpRequest, codeframe_id: int):
    """The codeframe, for an edit: 404 outside the user's projects, 403 below analyst."""
    return selectors.get_codeframe(user=request.user, codeframe_id=codeframe_id, role=Role.ANALYST)
