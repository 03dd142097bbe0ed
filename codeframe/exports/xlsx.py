"""An .xlsx workbook: the codeframe (nets, codes, sizes) and the answers in both layouts."""

import io

from codeframe.exports.base import BaseExporter
from codeframe.exports.rows import answer_rows, neutralise
from codeframe.models import Codeframe
from codeframe.selectors import codeframe_overview


def build_xlsx(*, codeframe: Codeframe) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    overview = codeframe_overview(codeframe=codeframe)
    sheet = workbook.create_sheet("Codeframe")
    # size / share: answers with the code as primary (with "Uncoded" they add up to all
    # answers); mentions / mention share: answers carrying it at all, as the tracker and the
    # SPSS file count them.
    header = ["net", "code", "label", "kind", "keywords", "size", "share"]
    sheet.append([*header, "mentions", "mention share", "examples"])
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
                        # A code carried back after this wave was coded: not asked (blank,
                        # as in the answer sheets), not 0.
                        *(
                            (
                                code.size,
                                round(row.share, 4),
                                row.mentions,
                                round(row.mention_share, 4),
                            )
                            if row.asked
                            else (None, None, None, None)
                        ),
                        " | ".join(code.examples),
                    ]
                )
            )
    sheet.append(_xlsx_cells(["", "", "Uncoded", "", "", overview.uncoded, None, None, None, ""]))
    for layout, title in (("list", "Answers (code list)"), ("binary", "Answers (0-1)")):
        sheet = workbook.create_sheet(title)
        for cells in answer_rows(codeframe=codeframe, layout=layout, overview_codes=overview.codes):
            sheet.append(_xlsx_cells(cells))
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def _xlsx_cells(cells: list) -> list:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return [
        neutralise(ILLEGAL_CHARACTERS_RE.sub("", cell)) if isinstance(cell, str) else cell
        for cell in cells
    ]


class XLSXExporter(BaseExporter):
    format = "xlsx"
    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    label = "XLSX"

    def render(self, *, codeframe: Codeframe) -> bytes:
        return build_xlsx(codeframe=codeframe)
