"""An .xlsx workbook: the codeframe (nets, codes, sizes) and the answers in both layouts."""

import io

from codeframe.exports.base import BaseExporter
from codeframe.exports.rows import answer_rows, wave_of
from codeframe.formulas import FORMULA_PREFIXES
from codeframe.models import Codeframe
from codeframe.selectors import codeframe_overview
from codeframe.waves import numeric_ids


def build_xlsx(*, codeframe: Codeframe) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    overview = codeframe_overview(codeframe=codeframe, examples=True)
    sheet = workbook.create_sheet("Codeframe")
    _lay_out(sheet, CODEFRAME_WIDTHS, freeze="A2")
    # size / share: answers with the code as primary (with "Uncoded" they add up to the answers
    # coded: all but those imported since, not coded yet, counted on a row of their own);
    # mentions / mention share: answers carrying it at all, as the tracker and the SPSS file
    # count them.
    header = ["net", "code", "label", "kind", "keywords", "size", "share"]
    sheet.append([*header, "mentions", "mention share", "examples"])
    for net in overview.nets:
        for row in net.codes:
            code = row.code
            sheet.append(
                _xlsx_cells(
                    sheet,
                    [
                        net.label,
                        code.number,
                        code.label,
                        code.kind,
                        ", ".join(code.keywords),
                        # A code carried back after this wave was coded: not asked (blank,
                        # as in the answer sheets), not 0.
                        *(
                            (
                                code.size,
                                _percent(sheet, row.share),
                                row.mentions,
                                _percent(sheet, row.mention_share),
                            )
                            if row.asked
                            else (None, None, None, None)
                        ),
                        " | ".join(row.examples),  # a wave's: its own answers
                    ],
                )
            )
    uncoded_share = _percent(sheet, overview.uncoded_share) if overview.base else None
    sheet.append(
        _xlsx_cells(
            sheet, ["", "", "Uncoded", "", "", overview.uncoded, uncoded_share, None, None, ""]
        )
    )
    if overview.late:  # not in the shares' base: blank in the answer sheets, not 0
        row = ["", "", "Imported since, not coded yet", "", "", overview.late, None, None, None, ""]
        sheet.append(_xlsx_cells(sheet, row))
    # A tracker's wave's answer rows end with its `wave` (`rows.wave_of`).
    wave = (WAVE_WIDTH,) if wave_of(codeframe) else ()
    # Whole-number ids as numbers, as the SPSS files have them (the tracker's rule): a survey's
    # case ids are numbers, and Excel's lookups do not match a number stored as text.
    as_number = numeric_ids(question=codeframe.question)
    for layout, title in (("list", "Answers (code list)"), ("binary", "Answers (0-1)")):
        sheet = workbook.create_sheet(title)
        # The id and the answer stay in sight while the codes scroll by.
        columns = 4 if layout == "list" else 2 + len(overview.codes)
        _lay_out(sheet, ANSWER_WIDTHS + (CODE_WIDTH,) * (columns - 2) + wave, freeze="C2")
        rows = answer_rows(codeframe=codeframe, layout=layout, overview_codes=overview.codes)
        sheet.append(_xlsx_cells(sheet, next(rows)))  # the header
        for cells in rows:
            if as_number:
                cells[0] = int(cells[0])
            sheet.append(_xlsx_cells(sheet, cells))
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


# Column widths (characters): a sheet that opens readable, header frozen. The answer sheets'
# code columns (0-1, or the code list and `coded`) take CODE_WIDTH, a wave's `wave` WAVE_WIDTH.
CODEFRAME_WIDTHS = (24, 6, 32, 10, 40, 8, 8, 10, 13, 80)
ANSWER_WIDTHS = (16, 60)
WAVE_WIDTH = 12
CODE_WIDTH = 12


def _lay_out(sheet, widths: tuple[int, ...], *, freeze: str) -> None:
    """Before any row (a write-only sheet takes them only then): each column's width, and the
    panes frozen above and left of `freeze`."""
    from openpyxl.utils import get_column_letter

    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = freeze


def _percent(sheet, share: float):
    """A share as a number (unrounded, so sums and charts work and Excel rounds it as the
    page does) shown as a percentage."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=share)
    cell.number_format = "0.0%"
    return cell


def _xlsx_cells(sheet, cells: list) -> list:
    """The row's cells, text that would start a formula as a text cell with Excel's hidden
    quote prefix (the value unchanged: an id "-1" or "+447700900123" stays that; a literal
    apostrophe, as CSV needs, was part of the value)."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    row = []
    for value in cells:
        if isinstance(value, str):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
            if value.startswith(FORMULA_PREFIXES):
                cell = WriteOnlyCell(sheet, value=value)
                cell.data_type = "s"  # openpyxl would make "=..." a formula
                cell.quotePrefix = True  # and Excel would, once the cell is edited
                value = cell
        row.append(value)
    return row


class XLSXExporter(BaseExporter):
    format = "xlsx"
    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    label = "XLSX"

    def render(self, *, codeframe: Codeframe) -> bytes:
        return build_xlsx(codeframe=codeframe)
