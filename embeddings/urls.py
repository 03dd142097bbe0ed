from django.urls import path

from embeddings.api import CacheStatsView

app_name = "embeddings"
urlpatterns = [
    path("stats/", CacheStatsView.as_view(), name="stats"),
]
