"""The contracts of export formats (as Django REST framework's renderers): a class with a
`format` (the URL's extension, or the tracker page's `?format=`), a `media_type` and a `label`
that the page lists. A codeframe's formats (`BaseExporter`, some with a `layout`) are
registered in `codeframe.exports.EXPORTERS`, a tracker's (`BaseTrackerExporter`: every wave at
once) in `codeframe.exports.TRACKER_EXPORTERS`; `codeframe.exports.http` serves both."""

from collections.abc import Iterable

from codeframe.models import Codeframe, Question


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


class BaseTrackerExporter:
    """A file of a whole tracker (its tables, or its waves' answers), from any of its waves'
    questions."""

    format: str  # the tracker page's ?format=<format>, and the file's extension
    media_type: str
    label: str  # what the tracker page's download link says
    streaming: bool = False  # as BaseExporter's

    def render(self, *, question: Question) -> bytes | Iterable[str]:
        """The file's content: the tracker of `question` (any of its waves)."""
        raise NotImplementedError

    def filename(self, stem: str) -> str:
        return f"{stem}.{self.format}"
