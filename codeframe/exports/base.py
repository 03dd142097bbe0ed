"""The contract of an export format (as Django REST framework's renderers): a class with a
`format` (the URL's extension), an optional `layout`, a `media_type` and a `label` that the
codeframe page lists. Registered in `codeframe.exports.EXPORTERS`."""

from collections.abc import Iterable

from codeframe.models import Codeframe


class BaseExporter:
    format: str  # the file extension in the URL: export.<format>
    layout: str | None = None  # ?layout=..., for formats with several layouts
    media_type: str
    label: str  # what the download link says
    # True: `render` yields text pieces to stream; False: it returns the whole file as bytes.
    streaming: bool = False

    def render(self, *, codeframe: Codeframe) -> bytes | Iterable[str]:
        """The file's content. Raises CodeframeError subclasses for data it cannot export."""
        raise NotImplementedError

    def filename(self, stem: str) -> str:
        suffix = f"-{self.layout}" if self.layout else ""
        return f"{stem}{suffix}.{self.format}"
