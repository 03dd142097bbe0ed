"""The table behind the chart as CSV: one row per wave and code, then per wave and net, then
the answers without a code."""

from __future__ import annotations

import csv
import io

from codeframe.formulas import neutralise
from codeframe.tracker.stats import Tracker

CSV_HEADER = [
    "level", "wave", "number", "label", "count", "base", "share", "change", "z", "p",
    "significant", "redefined", "paired", "note", "late",
]  # fmt: skip


def tracker_csv(
    table: Tracker, *, nets: Tracker | None = None, uncoded: Tracker | None = None
) -> str:
    """The table as CSV text (UTF-8 BOM first, for Excel): one row per wave and code ("code"
    level), then per wave and net of `nets` ("net" level), then per wave the answers without a
    code of `uncoded` (a one-row table; "uncoded" level, no number)."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    for level, rows in (("code", table), ("net", nets), ("uncoded", uncoded)):
        if rows is None:
            continue
        for number, label in rows.codes.items():
            for cell in rows.row(number):
                writer.writerow(
                    [
                        level,
                        neutralise(cell.wave),
                        "" if level == "uncoded" else number,
                        neutralise(label),
                        "" if cell.count is None else cell.count,
                        cell.base,
                        _fixed(cell.share, 4),
                        _fixed(cell.change, 4),
                        _fixed(cell.z, 3),
                        _fixed(cell.p, 4),
                        "yes" if cell.significant else ("no" if cell.p is not None else ""),
                        "yes" if cell.redefined else "",
                        cell.paired if cell.p is not None else "",
                        cell.note,
                        cell.late,
                    ]
                )
    return buffer.getvalue()


def _fixed(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"
