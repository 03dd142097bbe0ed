"""Per-user rate limits on the expensive operations: generating codeframes and importing answers.

DRF throttles, used by the API as declarations (with `RefundsEarlyRefusals`) and by the pages
through `throttle_page`. Rates are DRF settings
(`REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["codeframe_generate"]`, ...), set from the environment
in config/settings.py. Counts live in the `default` cache: point it at Redis in production so
that every worker counts together.

A request refused before its expensive part (a typo in the body, an id not found, a role
that may not, a state that does not allow it, a 429 of another rate, the queue full when nothing
was imported: `refunded_on`) is counted while it runs,
as DRF does, and then taken back (`refund`): an integrator fixing a client does not spend the
hour's generations on 400s. One that did the work and then failed (a file that fails on its
last row, too many answers, the queue full after the import) still counts: the rate guards
that work.
"""

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


@contextmanager
def refunded_on(request, *errors: type[Exception]) -> Iterator[None]:
    """Around a step that may refuse the request before any work (the queue full, for a
    generation from stored answers: nothing was imported): `refund` when one of `errors` is
    raised, and raise it on."""
    try:
        yield
    except errors:
        refund(request)
        raise


def refused_early(response) -> bool:
    """Whether an API answer refused the request before its expensive part: no credentials or
    role (401, 403), no such object (404), a state that does not allow it (409), a body that
    is not JSON (415), invalid fields (a 400 with per-field `errors`), or another rate's 429
    (with Retry-After; the queue's own 429 has none: it comes after the import)."""
    status, data = response.status_code, getattr(response, "data", None)
    if status in (401, 403, 404, 405, 409, 415):
        return True
    if status == 400:
        return isinstance(data, dict) and "errors" in data
    return status == 429 and response.has_header("Retry-After")


class RefundsEarlyRefusals:
    """APIView mixin: an answer that refused the request early (`refused_early`) takes back
    its counts."""

    def finalize_response(self, request, response, *args, **kwargs):
        if refused_early(response):
            refund(request)
        return super().finalize_response(request, response, *args, **kwargs)


class GenerationThrottle(_ConfiguredRateThrottle):
    scope = "codeframe_generate"


class ImportThrottle(_ConfiguredRateThrottle):
    scope = "codeframe_import"


def throttle_page(*throttles: type[UserRateThrottle]) -> Callable:
    """Decorate a page view: POSTs over a rate get a 429 page with Retry-After. A POST that
    raises (404, 403) takes its count back; a view refused early otherwise (an invalid form)
    calls `refund` itself."""

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
                return view(request, *args, **kwargs)
            except BaseException:
                refund(request)
                raise

        return wrapped

    return decorator


def too_many_requests(request: HttpRequest, wait: float | None) -> HttpResponse:
    seconds = max(1, math.ceil(wait or 1))
    response = render(request, "codeframe/throttled.html", {"seconds": seconds}, status=429)
    response["Retry-After"] = str(seconds)
    return response
