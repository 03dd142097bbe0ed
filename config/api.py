"""What every API endpoint shares, whichever app it is in: one error shape, and the errors
every operation can answer written into the OpenAPI schema.

Every error body is `{"detail": "a sentence a person can act on"}` (`ERROR_SCHEMA`, which
views document as `ERROR_BODY`). A validation error (400) keeps DRF's per-field messages under
`errors` and says them in `detail` too, so a client that reads `detail` alone still shows what
was wrong.

An app's own exceptions become API errors through settings.API_ERROR_TRANSLATORS: dotted paths
of functions that take an exception and return an APIException for it, or None when it is not
theirs. So a view calls the app's services and lets their errors rise.
"""

from collections.abc import Callable, Mapping

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from django.utils.encoding import escape_uri_path
from django.utils.module_loading import import_string
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "errors": {
            "type": "object",
            "additionalProperties": {},
            "description": "A 400 for invalid input: the messages per field (as `detail` says "
            "them).",
        },
        "conflicts": {
            "type": "array",
            "items": {"type": "string"},
            "description": "A carry-back's 409: each conflicting edit (as `detail` says them).",
        },
    },
    "required": ["detail"],
}
# What a view gives drf-spectacular for an error's body (`OpenApiResponse(ERROR_BODY, ...)`):
# the `Error` component, which `document_common_errors` adds to the schema.
ERROR_BODY = {"$ref": "#/components/schemas/Error"}


def _translators() -> tuple[Callable[[Exception], exceptions.APIException | None], ...]:
    return tuple(import_string(path) for path in getattr(settings, "API_ERROR_TRANSLATORS", ()))


def exception_handler(exc, context):
    """DRF's handler, after the apps' translators (settings.API_ERROR_TRANSLATORS), with
    validation errors given a `detail` (see the module's docstring)."""
    for translate in _translators():
        if (translated := translate(exc)) is not None:
            translated.__cause__ = exc  # the app's error stays in a logged traceback
            exc = translated
            break
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError):
        data = response.data
        errors = data if isinstance(data, Mapping) else {api_settings.NON_FIELD_ERRORS_KEY: data}
        response.data = {"detail": " ".join(_messages(errors)), "errors": errors}
    return response


def _messages(errors, where: str = "") -> list[str]:
    """Each message of DRF's nested errors, prefixed with where it is (`responses[0]: ...`)."""
    if isinstance(errors, Mapping):
        out = []
        for key, value in errors.items():
            if key == api_settings.NON_FIELD_ERRORS_KEY:
                out += _messages(value, where)
            elif str(key).isdigit():
                out += _messages(value, f"{where}[{key}]")
            else:
                out += _messages(value, f"{where}.{key}" if where else str(key))
        return out
    if isinstance(errors, list | tuple):
        return [m for value in errors for m in _messages(value, where)]
    return [f"{where}: {errors}" if where else str(errors)]


@csrf_exempt  # it changes nothing; a POST to a wrong URL gets this 404, not a CSRF 403
def api_not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any URL under /api/ that no endpoint has (the last /api/ route): a JSON 404, in DEBUG
    too (Django's handler404 only serves with DEBUG off). When the same URL with a final slash
    is an endpoint, a GET is redirected there (as APPEND_SLASH did before this route took every
    /api/ URL) and any other method told so: a redirect would lose its body."""
    detail = "No such API endpoint."
    if not request.path_info.endswith("/"):
        try:
            match = resolve(request.path_info + "/")
        except Resolver404:
            match = None
        if match is not None and match.url_name != "api-not-found":
            if request.method in ("GET", "HEAD") and settings.APPEND_SLASH:
                return HttpResponsePermanentRedirect(
                    request.get_full_path(force_append_slash=True)  # escaped, with the query
                )
            detail += f" Did you mean {escape_uri_path(request.path)}/ (with the final slash)?"
    return JsonResponse({"detail": detail}, status=404)


def server_error(request: HttpRequest):
    """handler500: under /api/ a JSON body a client can parse (the traceback is logged), else
    Django's page."""
    if request.path_info.startswith("/api/"):
        return JsonResponse(
            {
                "detail": "The server failed on an unexpected error; it is logged. Try again, "
                "and tell the operators if it persists."
            },
            status=500,
        )
    return defaults.server_error(request)


def bad_request(request: HttpRequest, exception=None):
    """handler400 (a host not in ALLOWED_HOSTS, a suspicious request): JSON under /api/."""
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return defaults.bad_request(request, exception)


COMMON_ERRORS = {
    "401": "Not authenticated: no credentials, or an invalid token (`WWW-Authenticate` says "
    "which scheme)",
    "404": "No such object, or not in your projects",
    "413": "The body is larger than the configured limit",
    "415": "A body that is not JSON",
}


def document_common_errors(result, generator, request, public):
    """drf-spectacular postprocessing hook: every operation can answer 401; one on an object
    (a `{...}` in its path) 404; one with a body 413 and 415. Each as the `Error` body, unless it
    documents its own; and every error an operation documents without a body has that one."""
    error = {"application/json": {"schema": ERROR_BODY}}
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            wanted = ["401"]
            if "{" in path:
                wanted.append("404")
            if "requestBody" in operation:
                wanted += ["413", "415"]
            for code in wanted:
                responses.setdefault(code, {"content": error, "description": COMMON_ERRORS[code]})
            for code, response in responses.items():
                if str(code).startswith("4"):
                    response.setdefault("content", error)
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    return result


def close_request_bodies(result, generator, request, public):
    """drf-spectacular postprocessing hook: a request body refuses keys it does not know
    (`codeframe.serializers.RequestSerializer`: a typo must not fall back to a default), so its
    component says `additionalProperties: false`, and a generated client does not send them."""
    from codeframe.serializers import RequestSerializer

    schemas = result.get("components", {}).get("schemas", {})
    pending = [RequestSerializer]
    while pending:
        serializer = pending.pop()
        pending += serializer.__subclasses__()
        name = serializer.__name__.removesuffix("Serializer")
        if name in schemas:
            schemas[name]["additionalProperties"] = False
    return result
