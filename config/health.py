"""`/healthz`: whether this web process can serve, for a load balancer or a supervisor.

200 `{"status": "ok"}` when the database answers; 503 `{"status": "unavailable"}` otherwise
(the error goes to the log only: it may name hosts and users). The embedding
cache is not checked: the app serves without it (and says so on its stats page and /metrics).
No authentication and no redirect to HTTPS: probes come from inside.
"""

import logging

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)


@never_cache
@require_safe  # GET and HEAD
def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        logger.warning("health check: the database does not answer: %s", exc)
        return JsonResponse({"status": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})
