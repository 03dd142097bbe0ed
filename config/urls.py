from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import IsAuthenticated

from codeframe.admin_reach import view_on_site
from config.api import api_not_found, bad_request, server_error
from config.health import healthz
from embeddings.metrics import metrics_view

handler400 = bad_request  # JSON under /api/
handler500 = server_error  # likewise

urlpatterns = [
    # Before the admin's own: its "view on site" redirect, answering only within the user's
    # projects (codeframe.admin_reach).
    path(
        "admin/r/<int:content_type_id>/<path:object_id>/",
        admin.site.admin_view(view_on_site),
        name="admin-view-on-site",
    ),
    path("admin/", admin.site.urls),
    path("api/embeddings/", include("embeddings.urls")),
    path("metrics", metrics_view, name="metrics"),
    path("healthz", healthz, name="healthz"),
    path("api/codeframes/", include("codeframe.api_urls")),
    path("api/jobs/", include("codeframe.api_job_urls")),
    path("api/", include("codeframe.api_question_urls")),  # projects/, questions/
    # The schema lists every route and field: members only.
    path(
        "api/schema/",
        SpectacularAPIView.as_view(permission_classes=[IsAuthenticated]),
        name="schema",
    ),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[IsAuthenticated]),
        name="api-docs",
    ),
    # Last of /api/: a JSON 404 for any URL no endpoint has.
    re_path(r"^api/(?P<rest>[\s\S]*)$", api_not_found, name="api-not-found"),  # newlines too
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("codeframe.urls")),
]
