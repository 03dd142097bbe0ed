"""What the pages of several subjects share: the user's roles, the way back after a form (and
after a refused one, `refuse`), the codeframe an edit may change."""

from urllib.parse import urlsplit

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


# The session key of the form refused last (`refuse`), until the page it went back to shows it.
REFUSED = "codeframe-refused-form"

# What is kept of each value typed: a label is at most 200 characters, a username 150; the
# session is not the place for a pasted essay.
_KEPT_CHARS = 1000


def refuse(request: HttpRequest, message: str, back: HttpResponse) -> HttpResponse:
    """`back` (the redirect to the page the form was on), where that form shows `message`
    beside it, open and holding what the user typed (`{% refused %}`, codeframe_forms).

    On the page's top the message was out of sight (the page opens at the form's row, 2,000
    to 6,000 px below it on a long codeframe) and the form showed the old value again, so a
    refused rename looked like nothing had happened. The form is known by its action (this
    request's path) and the values posted."""
    request.session[REFUSED] = {
        "page": urlsplit(back["Location"]).path,
        "action": request.path,
        "message": str(message),
        "values": {
            name: value[:_KEPT_CHARS]
            for name, value in request.POST.items()
            if name not in ("csrfmiddlewaretoken", "next")
        },
    }
    return back


def editable_codeframe(request: HttpRequest, codeframe_id: int):
    """The codeframe, for an edit: 404 outside the user's projects, 403 below analyst."""
    return selectors.get_codeframe(user=request.user, codeframe_id=codeframe_id, role=Role.ANALYST)
