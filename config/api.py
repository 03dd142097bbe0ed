"""What every API endpoint shares, whichever app it is in: one error shape, and the errors
every operation can answer written into the OpenAPI schema.

Every error body is `{"detail": "a sentence a person can act on"}`. A validation error (400)
keeps DRF's per-field messages under `errors` and says them in `detail` too, so a client that
reads `detail` alone (as the schema's `Error` tells it) still shows what was wrong.
"""

from collections.abc import Mapping

from django.http import HttpRequest, JsonResponse
from django.views.defaults import page_not_found
from rest_framework import exceptions
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    """DRF's handler, with validation errors given a `detail` (see the module's docstring)."""
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


def not_found(request: HttpRequest, exception=None):
    """404 for a URL no route matches: JSON under /api/ (what a client parses), else the page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "No such API endpoint."}, status=404)
    return page_not_found(request, exception)


COMMON_ERRORS = {
    "401": "Not authenticated: no credentials, or an invalid token (`WWW-Authenticate` says "
    "which scheme)",
    "404": "No such object, or not in your projects",
    "415": "A body that is not JSON",
}


def document_common_errors(result, generator, request, public):
    """drf-spectacular postprocessing hook: every operation can answer 401; one on an object
    (`{id}`) 404; one with a body 415. Each as the `Error` body, unless it documents its own."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            wanted = ["401"]
            if "{id}" in path:
                wanted.append("404")
            if "requestBody" in operation:
                wanted.append("415")
            for code in wanted:
                responses.setdefault(code, {"content": error, "description": COMMON_ERRORS[code]})
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(
        "Error",
        {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]},
    )
    return result
