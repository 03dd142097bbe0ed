"""Refusing uploads above CODEFRAME["MAX_UPLOAD_BYTES"] before they are read into memory."""

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from codeframe.conf import get_config

TooLarge = Callable[..., HttpResponse]


class LimitedUploadHandler(FileUploadHandler):
    """First in the chain: lets chunks through until a file passes the limit, then skips it.

    The view checks the request's Content-Length first; this catches bodies that do not
    declare one (chunked) or lie about it. `exceeded` tells the view why the file is missing.
    """

    def __init__(self, request=None, *, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.exceeded = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            self.exceeded = True
            raise SkipFile(f"upload larger than {self.limit} bytes")
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def limit_upload(too_large: TooLarge) -> Callable[[Callable], Callable]:
    """For a page that takes an upload: a POST whose body passes CODEFRAME["MAX_UPLOAD_BYTES"]
    gets `too_large(request, limit, *args, **kwargs)` (the page again, with a 413) before the
    body is read into memory, whether it declares its length or not (chunked, or a lie), and
    whether the excess is a file or pasted text (over DATA_UPLOAD_MAX_MEMORY_SIZE). CSRF is
    checked after that, by the view: the CSRF middleware would parse the whole body first."""

    def decorator(view: Callable) -> Callable:
        protected = csrf_protect(view)

        @csrf_exempt
        @wraps(view)
        def limited(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            limit = get_config()["MAX_UPLOAD_BYTES"]
            if request.method == "POST" and not _within(request, limit):
                return too_large(request, limit, *args, **kwargs)
            return protected(request, *args, **kwargs)

        return limited

    return decorator


def _within(request: HttpRequest, limit: int) -> bool:
    """Whether the POST's body is within `limit`: its declared length, then parsed through
    LimitedUploadHandler (a body without a length, or lying about it) and Django's own limit
    on form fields held in memory."""
    if content_length(request.META) > limit:
        return False
    handler = LimitedUploadHandler(request, limit=limit)
    request.upload_handlers.insert(0, handler)
    try:
        request.POST  # noqa: B018 - parse now, through the limited handler
    except RequestDataTooBig:
        return False
    return not handler.exceeded


def too_large_message(limit: int) -> str:
    return (
        f"The upload is larger than the limit of {human_bytes(limit)}; nothing was imported. "
        "Split the file or remove unused columns."
    )


def content_length(meta: dict) -> int:
    """The declared body size (0 when absent or malformed)."""
    try:
        return max(0, int(meta.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def human_bytes(size: int) -> str:
    """20971520 -> "20 MB"."""
    if size < 1024:
        return f"{size:,} bytes"
    for unit in ("KB", "MB", "GB"):
        size /= 1024
        if size < 1024 or unit == "GB":
            return f"{size:.1f}".removesuffix(".0") + f" {unit}"
    raise AssertionError("unreachable")
