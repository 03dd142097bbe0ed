"""A tracker's statistics: each code's share per wave, the change from the previous wave and
whether it is significant, as a table, its CSV and a server-made SVG chart. Pure Python (no
ORM, no JavaScript): the caller passes counts per wave.

One module a subject, each importable on its own; their public names are gathered here, so
callers write `tracker.tracker_csv(...)`:

- `stats`: the shares, the changes and their z-tests, the notes on weak figures;
- `formatting`: a share and a change as the table, the chart and the pages print them;
- `table_csv`: the table as CSV;
- `svg`: the chart.
"""

from codeframe.tracker.formatting import (
    change_text,
    percent_text,
)
from codeframe.tracker.stats import (
    BEFORE_DRAFTED,
    BEFORE_EMPTY,
    BEFORE_NOT_ASKED,
    BEFORE_NOT_CODED,
    CONFIDENCE,
    LOW,
    LOW_BASE,
    NOT_ASKED,
    NOT_CODED,
    NOT_TESTED,
    NOTES,
    Cell,
    Overlap,
    Pairs,
    Tracker,
    WaveCounts,
    tracker,
    two_proportion_z_test,
)
from codeframe.tracker.svg import (
    PALETTE,
    top_codes,
    tracker_svg,
)
from codeframe.tracker.table_csv import (
    CSV_HEADER,
    tracker_csv,
)

__all__ = [
    "BEFORE_DRAFTED",
    "BEFORE_EMPTY",
    "BEFORE_NOT_ASKED",
    "BEFORE_NOT_CODED",
    "CONFIDENCE",
    "CSV_HEADER",
    "LOW",
    "LOW_BASE",
    "NOTES",
    "NOT_ASKED",
    "NOT_CODED",
    "NOT_TESTED",
    "PALETTE",
    "Cell",
    "Overlap",
    "Pairs",
    "Tracker",
    "WaveCounts",
    "change_text",
    "percent_text",
    "top_codes",
    "tracker",
    "tracker_csv",
    "tracker_svg",
    "two_proportion_z_test",
]
