"""The app keeps no rows in the database. `CacheStatistics` is an unmanaged model (no table)
that only gives the admin an "Embedding cache" entry on its index page."""

from django.db import models


class CacheStatistics(models.Model):
    class Meta:
        managed = False
        default_permissions = ("view",)
        verbose_name = "Embedding cache"
        verbose_name_plural = "Embedding cache"

    def __str__(self) -> str:
        return "Embedding cache"
