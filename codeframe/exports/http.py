"""An export as the pages and the API serve it: the file download an exporter makes."""

from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.text import slugify

from codeframe.exports import BaseExporter, BaseTrackerExporter
from codeframe.waves import tracker_numbering


def attachment(*, codeframe, exporter: BaseExporter) -> HttpResponseBase:
    """The codeframe exported by `exporter` as a file download (streamed when it streams)."""
    question = codeframe.question
    stem = f"codeframe-{codeframe.pk}-{slugify(question.survey)[:40] or 'survey'}"
    if question.wave_order:  # a tracker's wave: monthly downloads say which month they are
        stem += f"-wave-{question.wave_order}-{slugify(question.wave_name)[:40]}".rstrip("-")
    if tracker_numbering(codeframe=codeframe) is False:  # a fresh draft on a wave
        stem += "-own-numbers"
    content = exporter.render(codeframe=codeframe)
    return _download(exporter, content, filename=exporter.filename(stem))


def tracker_attachment(*, question, exporter: BaseTrackerExporter) -> HttpResponseBase:
    """The tracker of `question` (any of its waves) exported by `exporter` as a file download:
    named after the survey, as every wave's is."""
    stem = f"tracker-{slugify(question.survey)[:40] or 'tracker'}"
    content = exporter.render(question=question)
    return _download(exporter, content, filename=exporter.filename(stem))


def _download(
    exporter: BaseExporter | BaseTrackerExporter, content, *, filename: str
) -> HttpResponseBase:
    if exporter.streaming:
        response = StreamingHttpResponse(content, content_type=exporter.media_type)
    else:
        response = HttpResponse(content, content_type=exporter.media_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
