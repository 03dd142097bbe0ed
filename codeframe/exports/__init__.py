"""A codeframe as coders take it away: a registry of export formats (as Django REST
framework's renderers), which the codeframe page lists and `views.codeframe_export` and the
API (`GET /api/codeframes/{id}/export/{fmt}/`) serve as attachments (`exports.http`).

A new format is one `BaseExporter` subclass in its own module, added to `EXPORTERS`.
"""

from codeframe.exports.base import BaseExporter
from codeframe.exports.csv import BinaryCSVExporter, ListCSVExporter, iter_csv
from codeframe.exports.rows import LAYOUTS, Layout, code_heading
from codeframe.exports.spss import SPSSExporter, build_sav, build_tracker_sav
from codeframe.exports.xlsx import XLSXExporter, build_xlsx
from codeframe.formulas import neutralise

EXPORTERS: tuple[BaseExporter, ...] = (
    BinaryCSVExporter(),
    ListCSVExporter(),
    XLSXExporter(),
    SPSSExporter(),
)


class UnknownExport(LookupError):
    """No exporter for that format (or that layout of it)."""


class UnknownLayout(UnknownExport):
    """The format exists, the layout asked for does not."""


def get_exporter(fmt: str, layout: str | None = None) -> BaseExporter:
    """The exporter for format `fmt` and, for formats with layouts, `layout` (None: the first).

    Raises UnknownExport (a LookupError) naming what exists, and UnknownLayout for an unknown
    layout of a known format, or any layout of a format without layouts (`?layout=binary` on
    the XLSX was ignored: a script got the file it did not ask for without a word).
    """
    candidates = [e for e in EXPORTERS if e.format == fmt]
    if not candidates:
        known = ", ".join(sorted({f".{e.format}" for e in EXPORTERS}))
        raise UnknownExport(f"Exports are {known}.")
    if layout is None:
        return candidates[0]
    for exporter in candidates:
        if exporter.layout == layout:
            return exporter
    layouts = " or ".join(repr(e.layout) for e in candidates if e.layout)
    raise UnknownLayout(f"layout must be {layouts}" if layouts else f".{fmt} has no layouts")


__all__ = [
    "EXPORTERS",
    "LAYOUTS",
    "BaseExporter",
    "Layout",
    "UnknownExport",
    "UnknownLayout",
    "build_sav",
    "build_tracker_sav",
    "build_xlsx",
    "code_heading",
    "get_exporter",
    "iter_csv",
    "neutralise",
]
