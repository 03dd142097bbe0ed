"""Refusing uploads above CODEFRAME["MAX_UPLOAD_BYTES"] before they are read into memory."""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
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


# What a form's other fields and the multipart framing add to a file's bytes: a body may pass
# the file limit by this much before it is refused unread, so a file just under the limit is
# not refused for the form around it (the file itself is held to the limit as it streams in).
FORM_ALLOWANCE = 64 * 1024


def limit_upload(too_large: TooLarge) -> Callable[[Callable], Callable]:
    """For a page that takes an upload: a POST whose file passes CODEFRAME["MAX_UPLOAD_BYTES"],
    or whose pasted text passes DATA_UPLOAD_MAX_MEMORY_SIZE, gets `too_large(request, message,
    *args, **kwargs)` (the page again, with a 413 and `message`) before the body is read into
    memory, whether it declares its length or not (chunked, or a lie). CSRF is checked after
    that, by the view: the CSRF middleware would parse the whole body first."""

    def decorator(view: Callable) -> Callable:
        protected = csrf_protect(view)

        @csrf_exempt
        @wraps(view)
        def limited(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method == "POST":
                refusal = _refusal(request, get_config()["MAX_UPLOAD_BYTES"])
                if refusal:
                    return too_large(request, refusal, *args, **kwargs)
            return protected(request, *args, **kwargs)

        return limited

    return decorator


def _refusal(request: HttpRequest, limit: int) -> str:
    """Why the POST's body is refused, or "" when it is within the limits: its declared length
    (`limit` and the form around a file), then parsed through LimitedUploadHandler (a file past
    `limit`, in a body without a length or lying about it) and Django's own limit on the form
    fields it holds in memory (pasted answers)."""
    if content_length(request.META) > limit + FORM_ALLOWANCE:  # a file or text: not read yet
        return too_large_message(limit, pasted=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    handler = LimitedUploadHandler(request, limit=limit)
    request.upload_handlers.insert(0, handler)
    try:
        request.POST  # noqa: B018 - parse now, through the limited handler
    except RequestDataTooBig:
        return (
            "The pasted answers are larger than the limit of "
            f"{human_bytes(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)}; nothing was imported. "
            f"Upload them as a file (up to {human_bytes(limit)}) or paste them in parts."
        )
    return too_large_message(limit) if handler.exceeded else ""


def too_large_message(limit: int, *, pasted: int | None = None) -> str:
    """A file past `limit`; with `pasted`, a body that may be a file or pasted answers (their
    limit)."""
    also = f" for a file ({human_bytes(pasted)} for pasted answers)" if pasted else ""
    return (
        f"The upload is larger than the limit of {human_bytes(limit)}{also}; nothing was "
        "imported. Split the file or remove unused columns."
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
