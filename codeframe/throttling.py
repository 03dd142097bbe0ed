"""Per-user rate limits on the expensive operations: generating codeframes and importing answers.

DRF throttles, used by the API as declarations and by the pages through `throttle_page`. Rates
are DRF settings (`REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["codeframe_generate"]`, ...), set
from the environment in config/settings.py. Counts live in the `default` cache: point it at
Redis in production so that every worker counts together.
"""

import math
from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle


class _ConfiguredRateThrottle(UserRateThrottle):
    """Reads its rate from the current DRF settings on every request (DRF binds
    `THROTTLE_RATES` once, at import, so changed settings would be ignored)."""

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class GenerationThrottle(_ConfiguredRateThrottle):
    scope = "codeframe_generate"


class ImportThrottle(_ConfiguredRateThrottle):
    scope = "codeframe_import"


def throttle_page(*throttles: type[UserRateThrottle]) -> Callable:
    """Decorate a page view: POSTs over a rate get a 429 page with Retry-After."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method == "POST":
                for throttle_class in throttles:
                    throttle = throttle_class()
                    if not throttle.allow_request(request, None):
                        return too_many_requests(request, throttle.wait())
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def too_many_requests(request: HttpRequest, wait: float | None) -> HttpResponse:
    seconds = max(1, math.ceil(wait or 1))
    response = render(request, "codeframe/throttled.html", {"seconds": seconds}, status=429)
    response["Retry-After"] = str(seconds)
    return response
