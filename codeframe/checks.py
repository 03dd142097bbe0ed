"""System checks of the codeframe app, reported by `manage.py check` (`--deploy` for W001)."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

# Caches that live inside one process: each gunicorn worker would count on its own.
PROCESS_LOCAL_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


@register(Tags.caches, deploy=True)
def check_throttle_cache(app_configs=None, **kwargs) -> list:
    """The API and page throttles (`codeframe.throttling`) count in the default cache."""
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if backend not in PROCESS_LOCAL_CACHES:
        return []
    return [
        Warning(
            "The default cache is process-local, so each web process counts throttled "
            "requests (generation, imports) on its own: with 4 gunicorn workers a user gets "
            "4 times the limit.",
            hint="Set DJANGO_CACHE_URL to a Redis database of its own (e.g. "
            "redis://127.0.0.1:6379/2).",
            id="codeframe.W001",
        )
    ]


@register()
def check_worker_command(app_configs=None, **kwargs) -> list:
    """`manage.py db_worker` must be codeframe's (`codeframe.jobs.worker`): django-tasks-db's
    own exits when its database connection drops, leaving its job running until the watchdog
    takes it for dead."""
    from django.core.management import get_commands

    owner = get_commands().get("db_worker")
    if owner in (None, "codeframe"):
        return []
    return [
        Error(
            f"`manage.py db_worker` is {owner}'s, not codeframe's: its workers exit when the "
            "database connection drops (a failover, a restart).",
            hint="List 'codeframe' before 'django_tasks_db' in INSTALLED_APPS.",
            id="codeframe.E001",
        )
    ]
