from django.apps import AppConfig


class CodeframeConfig(AppConfig):
    name = "codeframe"
    verbose_name = "Codeframes"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from codeframe import checks, conf  # noqa: F401 - registers checks and signal handlers
