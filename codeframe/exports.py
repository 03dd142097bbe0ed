"""A codeframe as coders take it away: CSV in both layouts they use, and XLSX.

- "binary": one 0/1 column per code (the answer carries the code or not);
- "list": one column of semicolon-separated code numbers, primary first.

Text cells that a spreadsheet would read as a formula (leading =, +, -, @, tab or CR) are
prefixed with an apostrophe: answers are untrusted input (CSV/XLSX formula injection).
"""

import csv
import io
from collections.abc import Iterator
from typing import Literal

from codeframe.models import Code, Codeframe
from codeframe.selectors import codeframe_overview, iter_coded_responses

Layout = Literal["binary", "list"]
LAYOUTS: tuple[Layout, ...] = ("binary", "list")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """The value, with text that would start a formula made inert by a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def code_heading(code: Code) -> str:
    return f"{code.number}. {code.label}"


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
    for cells in _rows(codeframe=codeframe, layout=layout):
        yield line(cells)


def build_xlsx(*, codeframe: Codeframe) -> bytes:
    """An .xlsx workbook: the codeframe (nets, codes, sizes) and the answers in both layouts."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    overview = codeframe_overview(codeframe=codeframe)
    sheet = workbook.create_sheet("Codeframe")
    sheet.append(["net", "code", "label", "kind", "keywords", "size", "share", "examples"])
    for net in overview.nets:
        for row in net.codes:
            code = row.code
            sheet.append(
                _xlsx_cells(
                    [
                        net.label,
                        code.number,
                        code.label,
                        code.kind,
                        ", ".join(code.keywords),
                        code.size,
                        round(row.share, 4),
                        " | ".join(code.examples),
                    ]
                )
            )
    sheet.append(_xlsx_cells(["", "", "Uncoded", "", "", overview.uncoded, None, ""]))
    for layout, title in (("list", "Answers (code list)"), ("binary", "Answers (0-1)")):
        sheet = workbook.create_sheet(title)
        for cells in _rows(codeframe=codeframe, layout=layout, overview_codes=overview.codes):
            sheet.append(_xlsx_cells(cells))
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def _rows(
    *, codeframe: Codeframe, layout: Layout, overview_codes: list[Code] | None = None
) -> Iterator[list]:
    codes = (
        overview_codes if overview_codes is not None else list(codeframe.codes.order_by("number"))
    )
    if layout == "list":
        yield ["respondent_id", "answer", "codes"]
        for coded in iter_coded_responses(codeframe=codeframe):
            yield [coded.respondent_id, coded.text, ";".join(str(n) for n in coded.codes)]
        return
    numbers = [code.number for code in codes]
    yield ["respondent_id", "answer", *(code_heading(code) for code in codes)]
    for coded in iter_coded_responses(codeframe=codeframe):
        carried = set(coded.codes)
        yield [coded.respondent_id, coded.text, *(int(n in carried) for n in numbers)]


def _xlsx_cells(cells: list) -> list:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return [
        neutralise(ILLEGAL_CHARACTERS_RE.sub("", cell)) if isinstance(cell, str) else cell
        for cell in cells
    ]
