"""The local demo (`make demo`): the account a newcomer logs in with to look at the result.

Local settings only: in production (`DJANGO_ENV=production`) accounts are made with
`createsuperuser`, never with a password printed to a terminal.
"""

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model

from codeframe.exceptions import CodeframeError

DEMO_USERNAME = "demo"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    created: bool


def reset_demo_account(*, username: str = DEMO_USERNAME) -> DemoAccount:
    """Create the local demo account (a superuser, so the admin's cache page opens too), or give
    the existing one a new password; returns the credentials to print.

    Raises CodeframeError outside local settings.
    """
    if not getattr(settings, "LOCAL", False):
        raise CodeframeError(
            "The demo account exists only with local settings (DJANGO_ENV=local); in "
            "production create accounts with `manage.py createsuperuser`."
        )
    password = secrets.token_urlsafe(9)
    user, created = get_user_model().objects.get_or_create(
        username=username, defaults={"email": f"{username}@localhost"}
    )
    user.is_staff = user.is_superuser = user.is_active = True
    user.set_password(password)
    user.save()
    # A new password is printed: attempts with the old one (a saved browser password) must
    # not keep the account locked out for AUTH_LOCKOUT_MINUTES.
    from axes.utils import reset

    reset(username=username)
    return DemoAccount(username=username, password=password, created=created)
