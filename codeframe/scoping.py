"""Who may see and change what: every read and write of project data is scoped here.

A user sees the projects they are a member of (superusers: all). Everything else hangs off a
project through a lookup path, and `scope()` filters any queryset by it:

    scope(GenerationJob.objects.all(), user, via="question__project")

Objects outside the user's projects are simply not in the queryset, so the adapters answer 404
for them (ids cannot be probed). A visible object the user's role does not allow changing is a
403 (`require_role`).
"""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet

from codeframe.models import (
    Assignment,
    Code,
    Codeframe,
    GenerationJob,
    Membership,
    Net,
    Project,
    Question,
    Response,
    Role,
    SuggestedCode,
)


class Operator:
    """Whoever runs a management command: shell access to the installation means every
    project (like a superuser), without a user account."""

    pk = None
    is_authenticated = True
    is_active = True
    is_superuser = True


OPERATOR = Operator()

User = AbstractBaseUser | AnonymousUser | Operator

# How each model reaches its project (the `via` of `scope`).
PATHS: dict[type[Model], str] = {
    Project: "",
    Membership: "project",
    Question: "project",
    Response: "question__project",
    Codeframe: "question__project",
    Net: "codeframe__question__project",
    Code: "codeframe__question__project",
    Assignment: "codeframe__question__project",
    GenerationJob: "question__project",
    SuggestedCode: "codeframe__question__project",
}


def project_id_of(obj: Model) -> int:
    """The id of the project `obj` belongs to, following its `PATHS` entry."""
    path = PATHS[type(obj)]
    if not path:
        return obj.pk
    *hops, last = path.split("__")
    for hop in hops:
        obj = getattr(obj, hop)
    return getattr(obj, f"{last}_id")


def member_project_ids(user: User, *, role: Role | str = Role.VIEWER) -> QuerySet:
    """A subquery of the ids of the projects where `user` has at least `role`."""
    return Membership.objects.filter(user_id=user.pk, role__in=Role.at_least(role)).values(
        "project_id"
    )


def scope(
    queryset: QuerySet, user: User, *, role: Role | str = Role.VIEWER, via: str | None = None
) -> QuerySet:
    """`queryset` restricted to objects of projects where `user` has at least `role`.

    `via` is the lookup path from the model to its project ("" for Project itself); by default
    it is taken from `PATHS`. Anonymous and inactive users get nothing; superusers everything.
    """
    if via is None:
        via = PATHS[queryset.model]
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.is_superuser:
        return queryset
    lookup = f"{via}__in" if via else "pk__in"
    return queryset.filter(**{lookup: member_project_ids(user, role=role)})


def projects_for(user: User, *, role: Role | str = Role.VIEWER) -> QuerySet[Project]:
    return scope(Project.objects.all(), user, role=role)


def questions_for(user: User, *, role: Role | str = Role.VIEWER) -> QuerySet[Question]:
    return scope(Question.objects.all(), user, role=role)


def responses_for(user: User, *, role: Role | str = Role.VIEWER) -> QuerySet[Response]:
    return scope(Response.objects.all(), user, role=role)


def codeframes_for(user: User, *, role: Role | str = Role.VIEWER) -> QuerySet[Codeframe]:
    return scope(Codeframe.objects.all(), user, role=role)


def jobs_for(user: User, *, role: Role | str = Role.VIEWER) -> QuerySet[GenerationJob]:
    return scope(GenerationJob.objects.all(), user, role=role)


SUPERUSER = "superuser"


def is_operator(user: User) -> bool:
    """Whether `user` runs the installation (a superuser): who sees the shared embedding cache's
    figures and timings, and times to the microsecond (`serializers.SecondsDateTimeField`).

    The cache is every project's, so whether an answer was a hit, or how long a step took (a
    cached answer embeds in a millisecond, a new one in tens), tells whether some other
    project holds it; others see how long in whole seconds."""
    return bool(user.is_superuser)


def role_in(user: User, project_id: int) -> str | None:
    """The user's role in the project (superusers: manager), or None."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.MANAGER
    return (
        Membership.objects.filter(user_id=user.pk, project_id=project_id)
        .values_list("role", flat=True)
        .first()
    )


def shown_role(user: User, role: str | None) -> str:
    """The role the pages and the API show: "superuser" for a superuser, whatever a membership
    says (a superuser holds every right in every project; one who was a viewer of a project
    read "viewer" in its list, "manager" on its pages), else the membership's role."""
    return SUPERUSER if user.is_superuser else (role or "")


def has_role(user: User, project_id: int, role: Role | str) -> bool:
    return reaches(role_in(user, project_id), role)


def reaches(held: str | None, role: Role | str) -> bool:
    """Whether a held role (`role_in`; None: none) is at least `role`."""
    return held is not None and held in Role.at_least(role)


def require_role(user: User, project_id: int, role: Role | str) -> None:
    """Raise PermissionDenied (403) unless `user` has at least `role` in the project.

    Only call it for an object already fetched through a scoped queryset: an object the user
    cannot see at all must be a 404, never a 403.
    """
    if not has_role(user, project_id, role):
        raise PermissionDenied(f"This needs the {Role(role).label.split(' ')[0].lower()} role.")
