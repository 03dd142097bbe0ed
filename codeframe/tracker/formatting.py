"""A share and a change in points as the tracker's table, chart and pages print them: percent
with one decimal, halves rounded away from zero."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from codeframe.tracker.stats import Cell


def _tenths(value: float) -> Decimal:
    """Percent with one decimal, halves away from zero, as survey tables round (the shortest
    repr of the float is rounded, so 0.025 is a half)."""
    return (Decimal(repr(value)) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def percent_text(share: float) -> str:
    """A share as the table and the chart show it: 0.0449 -> "4.5"."""
    return str(_tenths(share))


def change_text(cell: Cell) -> str:
    """A cell's change in points as the difference of the two shares shown ("+0.6", "0.0",
    "-1.2"): rounding the exact change could print "4.4 -> 5.0, +0.5". "" without a change."""
    if cell.change is None or cell.previous_share is None or cell.share is None:
        return ""
    points = _tenths(cell.share) - _tenths(cell.previous_share)
    return f"+{points}" if points > 0 else str(points)
