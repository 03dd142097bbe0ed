from django.apps import AppConfig


class EmbeddingsConfig(AppConfig):
    name = "embeddings"
    verbose_name = "Embedding cache"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from embeddings import checks, conf  # noqa: F401 - registers checks and signal handlers
