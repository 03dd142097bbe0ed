"""Per-user rate limits on the expensive operations: generating codeframes and importing answers.

DRF throttles, used by the API as declarations (with `CountsSuccessOnly`) and by the pages
through `throttle_page`. Rates are DRF settings
(`REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["codeframe_generate"]`, ...), set from the environment
in config/settings.py. Counts live in the `default` cache: point it at Redis in production so
that every worker counts together.

Only what was done counts: a request that fails (a typo in the body, an id not found, a 429 of
another rate) is counted while it runs, as DRF does, and then taken back (`refund`). So an
integrator fixing a client does not spend the hour's generations on 400s.
"""

import math
from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle

# Where the throttles that counted a request note themselves, on the request.
COUNTED = "_codeframe_counted_throttles"


class _ConfiguredRateThrottle(UserRateThrottle):
    """Reads its rate from the current DRF settings on every request (DRF binds
    `THROTTLE_RATES` once, at import, so changed settings would be ignored), and notes on the
    request that it counted it, so that `refund` can take the count back."""

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        self._request = request
        return super().allow_request(request, view)

    def throttle_success(self) -> bool:
        counted = getattr(self._request, COUNTED, None)
        if counted is None:
            counted = []
            setattr(self._request, COUNTED, counted)
        counted.append(self)
        return super().throttle_success()

    def take_back(self) -> None:
        """Remove this request's entry from the history (read afresh: other requests of the
        user may have added theirs since)."""
        history = self.cache.get(self.key, [])
        if self.now in history:
            history.remove(self.now)
            self.cache.set(self.key, history, self.duration)


def refund(request) -> None:
    """Take back what the rates counted for `request`: it did nothing."""
    for throttle in getattr(request, COUNTED, ()):
        throttle.take_back()
    setattr(request, COUNTED, [])


class CountsSuccessOnly:
    """APIView mixin: an answer other than 2xx takes back the request's counts."""

    def finalize_response(self, request, response, *args, **kwargs):
        if not 200 <= response.status_code < 300:
            refund(request)
        return super().finalize_response(request, response, *args, **kwargs)


class GenerationThrottle(_ConfiguredRateThrottle):
    scope = "codeframe_generate"


class ImportThrottle(_ConfiguredRateThrottle):
    scope = "codeframe_import"


def throttle_page(*throttles: type[UserRateThrottle]) -> Callable:
    """Decorate a page view: POSTs over a rate get a 429 page with Retry-After. A POST counts
    only when the view answers with a redirect (a form done: post/redirect/get); a form shown
    again with its errors, an error page or an exception take the count back, and a view that
    redirects after a failure calls `refund` itself."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method != "POST":
                return view(request, *args, **kwargs)
            for throttle_class in throttles:
                throttle = throttle_class()
                if not throttle.allow_request(request, None):
                    refund(request)  # the rates that did count it
                    return too_many_requests(request, throttle.wait())
            try:
                response = view(request, *args, **kwargs)
            except BaseException:
                refund(request)
                raise
            if response.status_code not in (301, 302, 303, 307, 308):
                refund(request)
            return response

        return wrapped

    return decorator


def too_many_requests(request: HttpRequest, wait: float | None) -> HttpResponse:
    seconds = max(1, math.ceil(wait or 1))
    response = render(request, "codeframe/throttled.html", {"seconds": seconds}, status=429)
    response["Retry-After"] = str(seconds)
    return response
