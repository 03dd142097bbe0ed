"""Projects and their members: who may see which questions (`codeframe.scoping` reads it)."""

import logging

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from codeframe.exceptions import MembershipError
from codeframe.models import Membership, Project, Role

logger = logging.getLogger(__name__)


DEFAULT_PROJECT = "Default"


def default_project() -> Project:
    """The shared project of questions made without one (commands, the demo, questions from
    before projects existed). Only superusers and its members see it."""
    project = Project.objects.filter(name=DEFAULT_PROJECT, personal_for=None).order_by("id").first()
    return project or Project.objects.create(name=DEFAULT_PROJECT)


def personal_project(*, user) -> Project:
    """The user's own project, made (with the user as its manager) on first use. Only the
    user is ever a member of it (`set_member` refuses others). A project marked personal for
    the user that the user does not manage alone is not theirs (someone marked it so, to
    receive their uploads): it loses the mark, and the user gets a project of their own."""
    try:
        project = user.personal_project
    except Project.DoesNotExist:
        project = None
    if project is not None:
        members = list(project.memberships.values_list("user_id", "role"))
        if members == [(user.pk, Role.MANAGER)]:
            return project
        logger.warning(
            "project %s was marked personal for user %s, who does not manage it alone: unmarked",
            project.pk,
            user.pk,
        )
        Project.objects.filter(pk=project.pk).update(personal_for=None)
        user.personal_project = None
    try:
        with transaction.atomic():
            project = Project.objects.create(
                name=f"{user.get_username()}'s project", personal_for=user
            )
            Membership.objects.create(project=project, user=user, role=Role.MANAGER)
    except IntegrityError:
        # Another request of the same user made it first.
        project = Project.objects.get(personal_for=user)
    user.personal_project = project
    return project


def create_project(*, name: str, manager) -> Project:
    """A new project with `manager` as its first manager."""
    name = name.strip()
    if not name:
        raise MembershipError("Give the project a name.")
    with transaction.atomic():
        project = Project.objects.create(name=name[:200])
        Membership.objects.create(project=project, user=manager, role=Role.MANAGER)
    logger.info("project %s created by user %s", project.pk, manager.pk)
    return project


def set_member(*, project: Project, username: str, role: Role | str) -> Membership:
    """Add the user called `username` to the project with `role`, or change their role."""
    if role not in Role.values:
        raise MembershipError(f"Unknown role {role!r}.")
    if project.personal_for_id is not None:
        # Checked first: whether a username exists is not for anyone to probe through theirs.
        raise MembershipError(
            "A personal project is its owner's alone; create a project to share work."
        )
    user = get_user_model().objects.filter(username=username.strip(), is_active=True).first()
    if user is None:
        raise MembershipError(f"There is no active user {username.strip()!r}.")
    with transaction.atomic():
        membership, created = Membership.objects.select_for_update().get_or_create(
            project=project, user=user, defaults={"role": role}
        )
        if not created and membership.role != role:
            if membership.role == Role.MANAGER:
                _keep_a_manager(project, leaving=membership)
            membership.role = role
            membership.save(update_fields=["role"])
    logger.info("project %s: user %s is %s", project.pk, user.pk, role)
    return membership


def remove_member(*, membership: Membership) -> None:
    """Take the user out of the project; a project keeps at least one manager."""
    with transaction.atomic():
        if membership.role == Role.MANAGER:
            _keep_a_manager(membership.project, leaving=membership)
        membership.delete()
    logger.info("project %s: user %s removed", membership.project_id, membership.user_id)


def _keep_a_manager(project: Project, *, leaving: Membership) -> None:
    managers = (
        Membership.objects.select_for_update()
        .filter(project=project, role=Role.MANAGER)
        .exclude(pk=leaving.pk)
    )
    if not managers.exists():
        raise MembershipError("A project needs at least one manager; make someone else one first.")
