"""CSV: a codeframe's answers in both layouts coders use, streamed line by line; a tracker's
tables (`tracker.tracker_csv`)."""

import csv
import io
from collections.abc import Iterator

from codeframe import tracker, waves
from codeframe.exports.base import BaseExporter, BaseTrackerExporter
from codeframe.exports.rows import LAYOUTS, Layout, answer_rows
from codeframe.formulas import neutralise
from codeframe.models import Codeframe, Question


def iter_csv(*, codeframe: Codeframe, layout: Layout) -> Iterator[str]:
    """The CSV file in pieces (one per line), starting with a UTF-8 BOM so Excel reads the
    answers' accents and emoji correctly."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; use one of {LAYOUTS}")
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: list) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([neutralise(cell) for cell in cells])
        return buffer.getvalue()

    yield "\ufeff"
    for cells in answer_rows(codeframe=codeframe, layout=layout):
        yield line(cells)


class BinaryCSVExporter(BaseExporter):
    format = "csv"
    layout = "binary"
    media_type = "text/csv; charset=utf-8"
    label = "CSV, one 0/1 column per code"
    streaming = True

    def render(self, *, codeframe: Codeframe) -> Iterator[str]:
        return iter_csv(codeframe=codeframe, layout=self.layout)


class ListCSVExporter(BinaryCSVExporter):
    layout = "list"
    label = "CSV, code ids separated by ;"


class TrackerCSVExporter(BaseTrackerExporter):
    """The tracker page's tables (codes, nets, the uncoded answers per wave) in one file."""

    format = "csv"
    media_type = BinaryCSVExporter.media_type
    label = "Download the table (CSV)"

    def render(self, *, question: Question) -> bytes:
        table, nets, uncoded = waves.tracker_tables(question=question)
        return tracker.tracker_csv(table, nets=nets, uncoded=uncoded).encode("utf-8")
