from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from embeddings.metrics import metrics_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/embeddings/", include("embeddings.urls")),
    path("metrics", metrics_view, name="metrics"),
    path("api/codeframes/", include("codeframe.api_urls")),
    path("api/jobs/", include("codeframe.api_job_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("", include("codeframe.urls")),
]
