"""What every export shares: the rows of answers in both layouts, headings, and the guard
against formula injection.

- "binary": one 0/1 column per code (the answer carries the code or not; blank for a code its
  answers were not coded with, see `selectors.asked_codes`, and for an answer imported after
  the codeframe was made and not coded since: `CodedResponse.late`);
- "list": one column of semicolon-separated code numbers, primary first, and a `coded` column:
  1, or 0 for an answer imported after the codeframe was made and not coded since (an empty
  codes cell is then "not coded yet", not "coded with no code", which it is beside a 1). The
  columns are the same whatever the data, so a script reads them by position or by name.

A tracker's wave's rows end with a `wave` column: the wave's name (`wave_of`), as the .sav
files label their `wave` and the tracker's CSV names its waves. Monthly files stacked keep
which month each row came from, and a panel's respondent, in several months, stays several
rows told apart. Last, so every other column keeps its place for a script that reads them by
position (the .sav, read by name, has `wave` first). A plain survey's files have no such column
and are as they were: a `wave` of 1 in every file, as the .sav has, would change every plain
survey's columns for the trackers' sake. A first wave has it once its tracker starts, or from
when it is named (Name this wave): named before the second wave comes, its files have the next
months' columns.

Text cells that a spreadsheet would read as a formula are kept inert by `codeframe.formulas`
(answers are untrusted input).
"""

from collections.abc import Iterator
from typing import Literal

from codeframe.models import Code, Codeframe
from codeframe.selectors import asked_codes, iter_coded_responses

Layout = Literal["binary", "list"]
LAYOUTS: tuple[Layout, ...] = ("binary", "list")


def code_heading(code: Code) -> str:
    return f"{code.number}. {code.label}"


def wave_of(codeframe: Codeframe) -> str:
    """What the `wave` column of the codeframe's answer rows says: its question's wave name,
    as the tracker names it (its label, else its number: `Question.wave_name`; a first wave
    named before its tracker starts, by that name); "" for a question that is no tracker's
    wave and was not named as one: no `wave` column."""
    return codeframe.question.wave_name


def answer_rows(
    *, codeframe: Codeframe, layout: Layout, overview_codes: list[Code] | None = None
) -> Iterator[list]:
    """A header row, then one row per answer in the question's order; a tracker's wave's
    rows end with its `wave` (`wave_of`)."""
    codes = (
        overview_codes if overview_codes is not None else list(codeframe.codes.order_by("number"))
    )
    wave = wave_of(codeframe)
    heading, tail = (["wave"], [wave]) if wave else ([], [])
    if layout == "list":
        yield ["respondent_id", "answer", "codes", "coded", *heading]
        for coded in iter_coded_responses(codeframe=codeframe):
            codes = ";".join(str(n) for n in coded.codes)
            yield [coded.respondent_id, coded.text, codes, int(not coded.late), *tail]
        return
    numbers = [code.number for code in codes]
    # A code carried back into the frame after its answers were coded was not asked about:
    # blank, not 0 (as system-missing in the SPSS files).
    asked = asked_codes(codeframe=codeframe)
    yield ["respondent_id", "answer", *(code_heading(code) for code in codes), *heading]
    for coded in iter_coded_responses(codeframe=codeframe):
        carried = set(coded.codes)
        # An answer imported after the frame was made is not coded: blank, not "not mentioned".
        cells = (int(n in carried) if n in asked and not coded.late else "" for n in numbers)
        yield [coded.respondent_id, coded.text, *cells, *tail]
