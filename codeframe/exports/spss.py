"""SPSS .sav (via pyreadstat): a labelled dataset (`exports.dataset`: the variables, their
labels, the codes as a multiple dichotomy set) written as survey data processors load coded
open-ends. `build_sav` writes one wave's codeframe, `build_tracker_sav` every wave of a tracker
stacked; the variables are described in `exports.dataset`.

pyreadstat (1.3) cannot write SPSS multiple response set records (`write_sav` has no such
option; it only reads them), so the set's definition travels as MRSETS syntax in the file's
document note (SPSS: File > Display Data File Information; or paste it into a syntax window).

The string variables have fixed widths (STRING_WIDTHS), whatever the answers: `answer` 4,096
bytes, a string `resp_id` 400, so a file once delivered stacks with every later month's. A
longer answer is cut to 4,096 bytes at a character boundary, and a comment ahead of the MRSETS
syntax in the note counts the cuts; the CSV and XLSX exports keep the full text.
"""

import os
import tempfile
import textwrap

from codeframe.exports.base import BaseExporter, BaseTrackerExporter
from codeframe.exports.dataset import (
    LabelledDataset,
    LabelLimits,
    MultipleDichotomySet,
    codeframe_dataset,
    cut_to_bytes,
    tracker_dataset,
)
from codeframe.importers import MAX_ID_CHARS
from codeframe.models import Codeframe, Question
from codeframe.waves import tracker_frames

MR_SET_NAME = "$codes"
# SPSS limits, in bytes: variable labels, value labels, file label (its note lines: 80).
MAX_VARIABLE_LABEL = 256
MAX_VALUE_LABEL = 120
MAX_FILE_LABEL = 64
SPSS_LIMITS = LabelLimits(variable=MAX_VARIABLE_LABEL, value=MAX_VALUE_LABEL)
# The document note's lines (readstat refuses a longer one: "The provided note is too long").
MAX_NOTE_LINE = 80
# The storage widths (bytes) of the string variables, the same in every file ever exported:
# ADD FILES refuses a variable whose width differs between the files (PSPP: "different type or
# width") and MATCH FILES a string key whose width does. They were once each tracker's longest
# values, recomputed at every export: a month's file delivered in February stopped stacking
# with March's once March had a longer id or answer. SPSS pads every value to the width, but
# the bytecode compression the files use makes eight spaces one byte: 4,096 bytes made
# `bench/exports.py`'s 50,000-answer file 33.2 MB, 1,024 made it 14.5 (a width as wide as
# SPSS's 32,767 made it 210 MB, so a longer answer is cut). A respondent id is at most
# MAX_ID_CHARS characters, four bytes each at most in UTF-8: every id fits, none is cut.
ANSWER_WIDTH = 4_096
STRING_WIDTHS = {"answer": ANSWER_WIDTH, "resp_id": 4 * MAX_ID_CHARS}


def build_sav(*, codeframe: Codeframe) -> bytes:
    """One codeframe's answers as .sav (`dataset.codeframe_dataset`)."""
    return write_sav(codeframe_dataset(codeframe=codeframe, limits=SPSS_LIMITS))


def build_tracker_sav(*, question: Question, waves: list[tuple[int, str, Codeframe]]) -> bytes:
    """Every wave of a tracker stacked in one .sav (`dataset.tracker_dataset`): `waves` is
    (wave number, wave label, codeframe), oldest first (`codeframe.waves.tracker_frames`)."""
    return write_sav(tracker_dataset(question=question, waves=waves, limits=SPSS_LIMITS))


def write_sav(dataset: LabelledDataset) -> bytes:
    """The .sav bytes of `dataset` (built with SPSS_LIMITS): its numeric variables nominal,
    shown as F<width>.0, its strings as wide as STRING_WIDTHS says (`_fit_strings` cuts,
    `_widen_strings` pads, on a copy), its warnings and the codes' MRSETS syntax in the
    document note after a comment counting the cuts, the survey as the file label."""
    import pyreadstat

    frame = dataset.frame.copy(deep=False)  # copy-on-write: the dataset's columns stay
    cuts = _fit_strings(frame)
    _widen_strings(frame, STRING_WIDTHS)
    formats = {name: f"F{width}.0" for name, width in dataset.display_widths.items()}
    warnings = [
        line
        for warning in dataset.warnings
        for line in textwrap.wrap(f"* {warning}", width=MAX_NOTE_LINE)
    ]
    with tempfile.TemporaryDirectory(prefix="codeframe-sav-") as folder:
        path = os.path.join(folder, "export.sav")
        pyreadstat.write_sav(
            frame,
            path,
            file_label=cut_to_bytes(dataset.file_label, MAX_FILE_LABEL),
            column_labels=dataset.variable_labels,
            variable_value_labels=dataset.value_labels,
            variable_measure={name: "nominal" for name in formats},
            variable_format=formats,
            # SPSS's own default (bytecode compression): a 0/1 value takes a byte, not eight.
            row_compress=True,
            note=[*warnings, *cuts, *mrsets_syntax(dataset.code_set)],
        )
        with open(path, "rb") as handle:
            return handle.read()


def _fit_strings(frame) -> list[str]:
    """Cut, in place, every string of `frame`'s string variables to its width in STRING_WIDTHS
    (bytes of UTF-8: only an answer can be longer); returns the document note's lines saying
    how many were cut, as an SPSS comment (so the note can still be pasted into a syntax window
    whole), or no lines when none was."""
    import pandas as pd

    lines: list[str] = []
    for name in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[name]):
            continue
        limit = STRING_WIDTHS[name]
        fitted, count = [], 0
        for value in frame[name]:
            if isinstance(value, str) and len(value.encode("utf-8")) > limit:
                value, count = cut_to_bytes(value, limit), count + 1
            fitted.append(value)
        if not count:
            continue
        frame[name] = pd.Series(fitted, index=frame.index, dtype=frame[name].dtype)
        noun = "answer" if name == "answer" else f"{name} value"
        counted = f"1 {noun} was" if count == 1 else f"{count:,} {noun}s were"
        lines += textwrap.wrap(
            f"* {counted} cut to {limit:,} bytes (the width of {name} in every file); the full"
            " text is in the CSV and XLSX exports.",
            width=MAX_NOTE_LINE,
        )
    return lines


def _widen_strings(frame, widths: dict[str, int]) -> None:
    """Give the string variables of `widths` that storage width (STRING_WIDTHS), in place:
    pyreadstat takes a string variable's width from its longest value, so the first row's
    value is padded with spaces to it. SPSS pads every string with spaces to its width and
    ignores them (pyreadstat strips them on reading): the value reads as it was."""
    import pandas as pd

    if frame.empty:
        return
    for name, width in widths.items():
        if name not in frame.columns or pd.api.types.is_numeric_dtype(frame[name]):
            continue
        first = frame[name].iloc[0]
        text = first if isinstance(first, str) else ""
        padding = width - len(text.encode("utf-8"))
        if padding > 0:
            frame.iloc[0, frame.columns.get_loc(name)] = text + " " * padding


def mrsets_syntax(code_set: MultipleDichotomySet) -> list[str]:
    """SPSS syntax lines (at most MAX_NOTE_LINE bytes each, the width of a file's document
    lines) defining `code_set` as one multiple dichotomy set."""
    if len(code_set.variables) < 2:  # SPSS wants at least two variables in a set
        return []
    # Quotes are doubled inside the label: cut the text until the quoted label fits its line.
    room = MAX_NOTE_LINE - len("  LABEL=''")
    label = cut_to_bytes(code_set.label, room)
    while len(label.replace("'", "''").encode("utf-8")) > room:
        label = cut_to_bytes(label, len(label.encode("utf-8")) - 1)
    label = label.replace("'", "''")
    first, rest = "  VARIABLES=", "    "
    names = textwrap.wrap(
        " ".join(code_set.variables), width=MAX_NOTE_LINE - len(first), break_long_words=False
    )
    return [
        f"MRSETS /MDGROUP NAME={MR_SET_NAME}",
        f"  LABEL='{label}'",
        "  CATEGORYLABELS=VARLABELS",
        *((first if i == 0 else rest) + line for i, line in enumerate(names)),
        f"  VALUE={code_set.counted}.",
    ]


class SPSSExporter(BaseExporter):
    format = "sav"
    media_type = "application/x-spss-sav"
    label = "SPSS (.sav)"

    def render(self, *, codeframe: Codeframe) -> bytes:
        return build_sav(codeframe=codeframe)


class TrackerSPSSExporter(BaseTrackerExporter):
    """Every wave's coded answers stacked, with a wave variable: what the data processor
    loads."""

    format = "sav"
    media_type = SPSSExporter.media_type
    label = "Every wave's coded answers, stacked (SPSS .sav)"

    def render(self, *, question: Question) -> bytes:
        return build_tracker_sav(question=question, waves=tracker_frames(question=question))
