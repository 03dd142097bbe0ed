"""Reading settings from the environment, shared by `config.settings` and
`config/gunicorn.conf.py`: a value that is not what it must be stops startup with its name,
instead of a bare traceback or a silent default."""

import math
import os
import re

from django.core.exceptions import ImproperlyConfigured

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}


def env_bool(name: str, default: bool) -> bool:
    """A yes/no switch; anything but the words of TRUE and FALSE is refused ("ture" read as off
    would turn DJANGO_SECURE_SSL_REDIRECT off without a word)."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value not in TRUE | FALSE:
        raise ImproperlyConfigured(f"{name} must be one of {sorted(TRUE | FALSE)}, not {value!r}.")
    return value in TRUE


def env_number(name: str, default: float, *, minimum: float = 1, kind: type = int):
    """A number from the environment (int, or float with kind=float), refused at startup when it
    is not one or is below `minimum`: CODEFRAME_JOB_TIMEOUT=0 would recover every running job
    at once, and "abc" was a bare ValueError traceback."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value < minimum:  # "nan" is a float
        what = "a whole number" if kind is int else "a number"
        raise ImproperlyConfigured(f"{name} must be {what} of at least {minimum}, not {raw!r}.")
    return value


def env_choice(name: str, default: str, choices) -> str:
    """One of `choices` (case and spaces ignored), refused at startup otherwise:
    CODEFRAME_TASK_BACKEND=celery was a bare KeyError, EMBEDDINGS_LOG_LEVEL=LOUD a logging
    ValueError that named neither."""
    value = os.environ.get(name, "").strip().lower() or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {sorted(choices)}, not {value!r}.")
    return value


def env_url(name: str, schemes: set[str]) -> str:
    """A URL of one of `schemes`, or "" when unset; refused at startup otherwise (a cache URL of
    http:// passed every check and made each throttled request a 500)."""
    from urllib.parse import urlsplit

    value = os.environ.get(name, "").strip()
    if value and urlsplit(value).scheme not in schemes:
        wanted = ", ".join(f"{s}://" for s in sorted(schemes))
        raise ImproperlyConfigured(f"{name} must be a {wanted} URL, not {value.split(':')[0]!r}.")
    return value


# A throttle rate as Django REST framework parses it: requests / a period whose first letter is
# s, m, h or d ("60/hour", "5/min").
RATE = re.compile(r"[0-9]+/[smhd][a-z]*")


def env_rate(name: str, default: str) -> str:
    """A throttle rate (`RATE`), refused at startup otherwise: CODEFRAME_GENERATE_RATE=lots
    passed every check, then each generation was a 500 (DRF's parse_rate failed in the
    request)."""
    value = os.environ.get(name, "").strip() or default
    if not RATE.fullmatch(value):
        raise ImproperlyConfigured(
            f"{name} must be requests per period, as 60/hour or 5/min, not {value!r}."
        )
    return value


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]
