from django.apps import AppConfig


class CodeframeConfig(AppConfig):
    name = "codeframe"
    verbose_name = "Codeframes"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib import admin

        from codeframe import checks, conf  # noqa: F401 - registers checks and signal handlers
        from codeframe.admin_reach import SPANNING_EVERY_PROJECT, close_to_staff

        # Here, not in codeframe.admin: every app's admin module has been imported by the admin
        # app's ready() (it comes first in INSTALLED_APPS), whatever order the others are in.
        # At the end of codeframe.admin, the tasks' admin was still open to staff once this app
        # moved before django_tasks_db.
        close_to_staff(admin.site, SPANNING_EVERY_PROJECT)
