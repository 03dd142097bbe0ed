"""Refusing uploads above CODEFRAME["MAX_UPLOAD_BYTES"] before they are read into memory."""

from django.core.files.uploadhandler import FileUploadHandler, SkipFile


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
