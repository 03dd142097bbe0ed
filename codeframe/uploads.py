"""Refusing uploads above CODEFRAME["MAX_UPLOAD_BYTES"] before they are read into memory."""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.files.uploadhandler import FileUploadHandler, SkipFile, StopUpload
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse, QueryDict
from django.http.multipartparser import MultiPartParser, MultiPartParserError
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


class FieldsOnlyHandler(FileUploadHandler):
    """Ends the parse where the body's first file starts: what comes before it is the fields
    typed above the file, read without reading the file."""

    met_file = False

    def new_file(self, *args, **kwargs) -> None:
        self.met_file = True
        raise StopUpload(connection_reset=True)  # nothing more is read

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        return None

    def file_complete(self, file_size: int) -> None:
        return None


# What a form's other fields and the multipart framing add to a file's bytes: a body may pass
# the file limit by this much before it is refused unread, so a file just under the limit is
# not refused for the form around it (the file itself is held to the limit as it streams in).
FORM_ALLOWANCE = 64 * 1024


def limit_upload(too_large: TooLarge) -> Callable[[Callable], Callable]:
    """For a page that takes an upload: a POST whose file passes CODEFRAME["MAX_UPLOAD_BYTES"],
    or whose pasted text passes DATA_UPLOAD_MAX_MEMORY_SIZE, gets `too_large(request, message,
    kept, *args, **kwargs)` (the page again, with a 413, `message` and the fields of the form
    that were read, `kept`, to fill it in again) before the body is read into memory, whether
    it declares its length or not (chunked, or a lie). CSRF is checked after that, by the view:
    the CSRF middleware would parse the whole body first."""

    def decorator(view: Callable) -> Callable:
        protected = csrf_protect(view)

        @csrf_exempt
        @wraps(view)
        def limited(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method == "POST":
                refusal, kept = _refusal(request, get_config()["MAX_UPLOAD_BYTES"])
                if refusal:
                    return too_large(request, refusal, kept, *args, **kwargs)
            return protected(request, *args, **kwargs)

        return limited

    return decorator


def _refusal(request: HttpRequest, limit: int) -> tuple[str, QueryDict]:
    """Why the POST's body is refused, or "" when it is within the limits, and the fields read
    before it was refused: its declared length (`limit` and the form around a file; then only
    the fields before the file are read, `fields_before_file`), then parsed through
    LimitedUploadHandler (a file past `limit`, in a body without a length or lying about it:
    every field, the file skipped) and Django's own limit on the form fields it holds in memory
    (pasted answers: none)."""
    if content_length(request.META) > limit + FORM_ALLOWANCE:  # a file or text: not read yet
        message = too_large_message(limit, pasted=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        fields, met_file = fields_before_file(request)
        if met_file:  # no browser lets a page fill in a file input
            message += (
                " What you typed above the file is still here; choose the file again (a "
                "browser cannot keep it), and fill in again what you typed below it: it came "
                "after the file, which was not read."
            )
        return message, fields
    handler = LimitedUploadHandler(request, limit=limit)
    request.upload_handlers.insert(0, handler)
    try:
        request.POST  # noqa: B018 - parse now, through the limited handler
    except RequestDataTooBig:
        return (
            "The pasted answers are larger than the limit of "
            f"{human_bytes(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)}; nothing was imported. "
            f"Upload them as a file (up to {human_bytes(limit)}) or paste them in parts.",
            QueryDict(),
        )
    if handler.exceeded:
        return (
            f"{too_large_message(limit)} What you typed is still here; choose the file again "
            "(a browser cannot keep it).",
            request.POST,
        )
    return "", request.POST


def fields_before_file(request: HttpRequest) -> tuple[QueryDict, bool]:
    """The fields of a multipart body that come before its first file (on the pages, those
    typed above the file input), read from its first FORM_ALLOWANCE bytes at most: the rest,
    the file among it, is never read; and whether a file was met. Without one, the last field
    read is left out: the head may have cut it (pasted answers), and a field filled in again
    with half its text would be imported as if whole. Empty for another kind of body or one
    that does not parse."""
    if request.content_type != "multipart/form-data":
        return QueryDict(), False
    handler = FieldsOnlyHandler(request)
    head = LimitedStream(request, FORM_ALLOWANCE)
    try:
        fields, _files = MultiPartParser(request.META, head, [handler], request.encoding).parse()
    except (MultiPartParserError, SuspiciousOperation):  # framing, too many fields...
        return QueryDict(), False
    if not handler.met_file and fields:
        fields = fields.copy()
        del fields[list(fields)[-1]]
    return fields, handler.met_file


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
