"""A codeframe as coders take it away: a registry of export formats (as Django REST
framework's renderers), which the codeframe page lists and `views.codeframe_export` and the
API (`GET /api/codeframes/{id}/export/{fmt}/`) serve as attachments (`exports.http`); and a
registry of a tracker's files (every wave at once), which the tracker page lists and serves
(`?format=<format>`) the same way.

A new format is one `BaseExporter` subclass in its format's module, added to `EXPORTERS`; a
tracker's, one `BaseTrackerExporter` subclass added to `TRACKER_EXPORTERS`. A statistics
package's format writes the labelled dataset `exports.dataset` builds, as `spss.write_sav`.
"""

from codeframe.exports.base import BaseExporter, BaseTrackerExporter
from codeframe.exports.csv import BinaryCSVExporter, ListCSVExporter, TrackerCSVExporter, iter_csv
from codeframe.exports.rows import LAYOUTS, Layout, code_heading
from codeframe.exports.spss import SPSSExporter, TrackerSPSSExporter, build_sav, build_tracker_sav
from codeframe.exports.xlsx import XLSXExporter, build_xlsx
from codeframe.formulas import neutralise

EXPORTERS: tuple[BaseExporter, ...] = (
    BinaryCSVExporter(),
    ListCSVExporter(),
    XLSXExporter(),
    SPSSExporter(),
)

TRACKER_EXPORTERS: tuple[BaseTrackerExporter, ...] = (
    TrackerCSVExporter(),
    TrackerSPSSExporter(),
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


def get_tracker_exporter(fmt: str) -> BaseTrackerExporter:
    """The tracker exporter for format `fmt`. Raises UnknownExport naming what exists."""
    for exporter in TRACKER_EXPORTERS:
        if exporter.format == fmt:
            return exporter
    known = ", ".join(sorted(f".{e.format}" for e in TRACKER_EXPORTERS))
    raise UnknownExport(f"A tracker's exports are {known}.")


__all__ = [
    "EXPORTERS",
    "LAYOUTS",
    "TRACKER_EXPORTERS",
    "BaseExporter",
    "BaseTrackerExporter",
    "Layout",
    "UnknownExport",
    "UnknownLayout",
    "build_sav",
    "build_tracker_sav",
    "build_xlsx",
    "code_heading",
    "get_exporter",
    "get_tracker_exporter",
    "iter_csv",
    "neutralise",
]
