"""Projects (a client's data) and their members."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import (
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from codeframe import selectors, services
from codeframe.exceptions import (
    CodeframeError,
)
from codeframe.forms import (
    MemberForm,
    ProjectForm,
)
from codeframe.models import Role
from codeframe.views.shared import QUESTIONS_PER_PAGE, refuse, roles_of


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    """The user's projects; a POST creates one with the user as its manager."""
    services.personal_project(user=request.user)
    form = ProjectForm()
    if request.method == "POST":
        form = ProjectForm(request.POST)
        if form.is_valid():
            project = services.create_project(name=form.cleaned_data["name"], manager=request.user)
            messages.success(request, f"Created project “{project}”.")
            return redirect(project)
    return render(
        request,
        "codeframe/project_list.html",
        {"projects": selectors.user_projects(user=request.user), "form": form},
    )


@require_GET
@login_required
def project_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    project = selectors.get_project(user=request.user, project_id=project_id)
    # Paged by row: a tracker with all its waves is one, so its waves never split over pages.
    page = Paginator(
        selectors.listed_questions(user=request.user, project=project), QUESTIONS_PER_PAGE
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "codeframe/project_detail.html",
        {
            "project": project,
            "questions": selectors.with_waves(user=request.user, questions=page),
            "page": page,
            "members": selectors.project_members(project=project),
            "member_form": MemberForm(),
            **roles_of(request.user, project.pk),
        },
    )


@require_POST
@login_required
def project_member_set(request: HttpRequest, project_id: int) -> HttpResponse:
    """Add a member by username, or change a member's role (managers only)."""
    project = selectors.get_project(user=request.user, project_id=project_id, role=Role.MANAGER)
    form = MemberForm(request.POST)
    if not form.is_valid():
        return refuse(request, "Give a username and a role.", redirect(project))
    try:
        membership = services.set_member(
            project=project, username=form.cleaned_data["username"], role=form.cleaned_data["role"]
        )
    except CodeframeError as exc:  # no such user; the project's last manager
        return refuse(request, str(exc), redirect(project))
    messages.success(
        request, f"{membership.user.get_username()} is now {membership.get_role_display()}."
    )
    return redirect(project)


@require_POST
@login_required
def project_member_remove(request: HttpRequest, project_id: int, user_id: int) -> HttpResponse:
    project = selectors.get_project(user=request.user, project_id=project_id, role=Role.MANAGER)
    membership = selectors.get_membership(project=project, user_id=user_id)
    try:
        services.remove_member(membership=membership)
    except CodeframeError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Removed {membership.user.get_username()} from the project.")
    return redirect(project)
