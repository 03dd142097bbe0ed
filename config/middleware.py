"""/healthz and /metrics on plain HTTP only for requests that reached gunicorn directly.

SECURE_REDIRECT_EXEMPT lets Django's SecurityMiddleware serve them over HTTP (a probe or a
Prometheus scrape inside the network, straight to gunicorn). This middleware, first in
MIDDLEWARE, still redirects them to HTTPS when they came through the proxy over plain HTTP
(X-Forwarded-Proto present, not https), so the metrics token never crosses a public network
in clear. A subclass of SecurityMiddleware would do it too, but `check --deploy` looks for
Django's own class by name (security.W001).
"""

from django.conf import settings
from django.http import HttpResponsePermanentRedirect

# Paths served over plain HTTP to requests that reached gunicorn directly.
PLAIN_HTTP_PATHS = frozenset({"healthz", "metrics"})
PLAIN_HTTP_EXEMPT = [rf"^{path}$" for path in sorted(PLAIN_HTTP_PATHS)]


def proxied_plain_http_redirect(get_response):
    def middleware(request):
        if (
            settings.SECURE_SSL_REDIRECT
            and request.path_info.strip("/") in PLAIN_HTTP_PATHS
            and "HTTP_X_FORWARDED_PROTO" in request.META
            and not request.is_secure()
        ):
            return HttpResponsePermanentRedirect(
                f"https://{request.get_host()}{request.get_full_path()}"
            )
        return get_response(request)

    return middleware
