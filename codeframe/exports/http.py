"""An export as the page and the API serve it: the exporter a request asks for, and the file
download it makes."""

from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.text import slugify

from codeframe.exports import BaseExporter, get_exporter
from codeframe.waves import tracker_numbering


def requested_exporter(fmt: str, layout: str | None) -> BaseExporter:
    """The exporter a request asks for: format `fmt` and, for a format with layouts, `layout`
    (None: the format's default layout). Raises UnknownExport for an unknown format,
    UnknownLayout for an unknown layout of a known one, or any layout of a format without
    layouts (`?layout=binary` on the XLSX was ignored: a script got the file it did not ask
    for without a word)."""
    return get_exporter(fmt, layout)


def attachment(*, codeframe, exporter: BaseExporter) -> HttpResponseBase:
    """The codeframe exported by `exporter` as a file download (streamed when it streams)."""
    question = codeframe.question
    stem = f"codeframe-{codeframe.pk}-{slugify(question.survey)[:40] or 'survey'}"
    if question.wave_order:  # a tracker's wave: monthly downloads say which month they are
        stem += f"-wave-{question.wave_order}-{slugify(question.wave_name)[:40]}".rstrip("-")
    if tracker_numbering(codeframe=codeframe) is False:  # a fresh draft on a wave
        stem += "-own-numbers"
    content = exporter.render(codeframe=codeframe)
    if exporter.streaming:
        response = StreamingHttpResponse(content, content_type=exporter.media_type)
    else:
        response = HttpResponse(content, content_type=exporter.media_type)
    response["Content-Disposition"] = f'attachment; filename="{exporter.filename(stem)}"'
    return response
