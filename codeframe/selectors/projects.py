"""Projects the user may see, with the user's role in each, and their members."""

from django.db.models import OuterRef, QuerySet, Subquery, Value
from django.shortcuts import get_object_or_404

from codeframe.models import Membership, Project, Role
from codeframe.scoping import SUPERUSER, User, projects_for, require_role


def user_projects(*, user: User) -> QuerySet[Project]:
    """The projects the user can see, with the role the pages show as `my_role`: the user's
    membership's, or "superuser" for a superuser (`scoping.shown_role`)."""
    if user.is_superuser:
        return projects_for(user).annotate(my_role=Value(SUPERUSER))
    return projects_for(user).annotate(
        my_role=Subquery(
            Membership.objects.filter(project=OuterRef("pk"), user_id=user.pk).values("role")[:1]
        )
    )


def get_project(*, user: User, project_id: int, role: Role | str = Role.VIEWER) -> Project:
    """The project if the user can see it (else Http404); PermissionDenied below `role`."""
    project = get_object_or_404(projects_for(user), pk=project_id)
    require_role(user, project.pk, role)
    return project


def project_members(*, project: Project) -> QuerySet[Membership]:
    return project.memberships.select_related("user").order_by("user__username")


def get_membership(*, project: Project, user_id: int) -> Membership:
    return get_object_or_404(project.memberships.select_related("user"), user_id=user_id)
