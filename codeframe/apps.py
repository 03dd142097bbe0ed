from django.apps import AppConfig


class CodeframeConfig(AppConfig):
    name = "codeframe"
    verbose_name = "Codeframes"
    default_auto_field = "django.db.models.BigAutoField"
