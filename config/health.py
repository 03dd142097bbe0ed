"""`/healthz`: whether this web process can serve, for a load balancer or a supervisor.

200 `{"status": "ok"}` when the database answers; 503 with what failed otherwise. The embedding
cache is not checked: the app serves without it (and says so on its stats page and /metrics).
No authentication and no redirect to HTTPS (SECURE_REDIRECT_EXEMPT): probes come from inside.
"""

import logging

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        logger.warning("health check: the database does not answer: %s", exc)
        return JsonResponse({"status": "unavailable", "database": str(exc)[:200]}, status=503)
    return JsonResponse({"status": "ok"})
