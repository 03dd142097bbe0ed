from django.contrib.auth.decorators import login_not_required
from django.urls import path

from embeddings.api import CacheStatsView

app_name = "embeddings"
urlpatterns = [
    # DRF authenticates (a token too): not LoginRequiredMiddleware's login page.
    path("stats/", login_not_required(CacheStatsView.as_view()), name="stats"),
]
