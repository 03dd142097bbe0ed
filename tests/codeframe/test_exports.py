import csv
import io
import tempfile

import pytest
from openpyxl import load_workbook

from codeframe import exports, selectors, services, waves
from codeframe.importers import ImportedRow
from codeframe.models import Assignment
from tests.codeframe.conftest import make_question

pytestmark = pytest.mark.django_db

HOSTILE = [
    '=HYPERLINK("http://evil.example","click")',
    "+1+2",
    "-2+3",
    "@SUM(A1:A2)",
    "\tTabbed",
    "\rReturn",
    "plain answer",
    "Bell \x07 char",
]


@pytest.fixture
def hostile_codeframe(db):
    question = make_question(HOSTILE, survey="=cmd|' /C calc'!A0")
    codeframe = services.create_codeframe(question=question, n_codes=2)
    services.rename_code(code=codeframe.codes.first(), label="=2*3")
    return codeframe


def read_csv(codeframe, layout) -> list[list[str]]:
    text = "".join(exports.iter_csv(codeframe=codeframe, layout=layout))
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.mark.parametrize("value", HOSTILE[:6])
def test_neutralise_prefixes_formula_starts(value):
    assert exports.neutralise(value) == "'" + value
    assert exports.neutralise("fine = ok") == "fine = ok" and exports.neutralise(5) == 5


@pytest.mark.parametrize("value", ["-1", "+447700900123", "-2.5", "+1e3", "-.5"])
def test_plain_numbers_are_no_formulas(value):
    """Respondent ids such as these came out as '-1 in CSV and XLSX (not in the .sav): they
    no longer merged back onto the survey's cases."""
    assert exports.neutralise(value) == value


def test_list_layout_has_semicolon_separated_codes_primary_first(codeframe):
    rows = read_csv(codeframe, "list")
    assert rows[0] == ["respondent_id", "answer", "codes", "coded"]
    assert len(rows) == codeframe.question.responses.count() + 1
    response = codeframe.question.responses.order_by("position").first()
    primary = Assignment.objects.get(response=response, is_primary=True).code
    extra = codeframe.codes.exclude(pk=primary.pk).first()
    Assignment.objects.create(codeframe=codeframe, response=response, code=extra, confidence=0.1)
    rows = read_csv(codeframe, "list")
    assert rows[1] == [
        response.respondent_id,
        response.text,
        f"{primary.number};{extra.number}",
        "1",
    ]


def test_binary_layout_has_one_0_1_column_per_code(codeframe):
    rows = read_csv(codeframe, "binary")
    codes = list(codeframe.codes.order_by("number"))
    assert rows[0] == ["respondent_id", "answer", *(f"{c.number}. {c.label}" for c in codes)]
    body = rows[1:]
    assert all(set(row[2:]) <= {"0", "1"} for row in body)
    for index, code in enumerate(codes):
        assert sum(int(row[2 + index]) for row in body) == code.size


def test_answers_imported_after_coding_are_blank_not_0_until_coded(codeframe, api_client):
    """Late fieldwork imported into a coded question is not coded by the frame: 0 ("not
    mentioned") in every code would be a claim about answers nobody coded."""
    from codeframe.importers import ImportedRow
    from tests.codeframe.test_exports_spss import read_sav

    before = selectors.codeframe_overview(codeframe=codeframe)
    services.import_responses(
        rows=[ImportedRow(line=1, respondent_id="LATE1", text="The fees went up again")],
        question=codeframe.question,
    )
    rows = read_csv(codeframe, "binary")
    assert rows[-1][:2] == ["LATE1", "The fees went up again"] and set(rows[-1][2:]) == {""}
    assert all(set(row[2:]) <= {"0", "1"} for row in rows[1:-1])  # the coded ones as before
    frame, _ = read_sav(exports.build_sav(codeframe=codeframe))
    code_vars = [f"c{c.number}" for c in codeframe.codes.all()]
    assert frame[code_vars].iloc[-1].isna().all() and frame[code_vars].iloc[:-1].notna().all().all()
    body = api_client.get(f"/api/codeframes/{codeframe.pk}/").json()
    assert [r["late"] for r in body["responses"]] == [False] * (len(body["responses"]) - 1) + [True]
    # Nor are they in the shares' base, nor among the answers no code fits: the figures are
    # the coded answers', as the SPSS file's valid cases are.
    assert (body["response_count"], body["late"]) == (before.total + 1, 1)
    assert body["uncoded"] == before.uncoded
    overview = selectors.codeframe_overview(codeframe=codeframe)
    assert (overview.total, overview.base, overview.late) == (before.total + 1, before.total, 1)
    assert [r.share for n in overview.nets for r in n.codes] == [
        r.share for n in before.nets for r in n.codes
    ]
    sheet = load_workbook(io.BytesIO(exports.build_xlsx(codeframe=codeframe)))["Codeframe"]
    last = [c.value for c in list(sheet.iter_rows())[-1]]
    assert (last[2], last[5], last[6]) == ("Imported since, not coded yet", 1, None)

    # The list layout's codes cell is empty for it and for an answer coded with no code: its
    # `coded` column tells them apart, in the CSV and in the XLSX's sheet alike.
    uncoded = codeframe.question.responses.order_by("position").first()
    Assignment.objects.filter(codeframe=codeframe, response=uncoded).delete()  # no code fits
    workbook = load_workbook(io.BytesIO(exports.build_xlsx(codeframe=codeframe)))
    sheet = [list(r) for r in workbook["Answers (code list)"].iter_rows(values_only=True)]
    for listed, empty, no in ((read_csv(codeframe, "list"), "", "0"), (sheet, None, 0)):
        assert listed[0] == ["respondent_id", "answer", "codes", "coded"]
        assert listed[-1] == ["LATE1", "The fees went up again", empty, no]
        by_id = {row[0]: row for row in listed[1:-1]}
        assert by_id[uncoded.respondent_id][2:] == [empty, "1" if no == "0" else 1]
        assert {row[3] for row in listed[1:-1]} == {"1" if no == "0" else 1}

    # Coded by hand since: coded, as any other answer.
    late = codeframe.question.responses.get(respondent_id="LATE1")
    code = codeframe.codes.order_by("number").first()
    services.move_response(response=late, to_code=code)
    rows = read_csv(codeframe, "binary")
    assert set(rows[-1][2:]) == {"0", "1"} and rows[-1][2] == "1"
    frame, _ = read_sav(exports.build_sav(codeframe=codeframe))
    assert frame[code_vars].iloc[-1].notna().all()
    assert read_csv(codeframe, "list")[-1][2:] == [str(code.number), "1"]


def test_csv_neutralises_formulas_in_answers_and_labels(hostile_codeframe):
    for layout in exports.LAYOUTS:
        rows = read_csv(hostile_codeframe, layout)
        cells = [cell for row in rows for cell in row]
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
        assert '\'=HYPERLINK("http://evil.example","click")' in cells
    header = read_csv(hostile_codeframe, "binary")[0]
    assert any(cell.endswith(". =2*3") for cell in header)


def test_xlsx_parses_back_with_all_sheets_and_no_formulas(hostile_codeframe):
    workbook = load_workbook(io.BytesIO(exports.build_xlsx(codeframe=hostile_codeframe)))
    assert workbook.sheetnames == ["Codeframe", "Answers (code list)", "Answers (0-1)"]
    inert = 0
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str) and cell.value.startswith(("=", "+", "-", "@")):
                    # Text with Excel's hidden quote: the value itself is unchanged.
                    assert cell.data_type == "s" and cell.quotePrefix, cell.coordinate
                    inert += 1
    assert inert >= 2 * 4 + 1  # the hostile answers in both answer sheets, the label
    answers = [row[1] for row in workbook["Answers (code list)"].iter_rows(values_only=True)]
    assert answers[0] == "answer" and "+1+2" in answers and "Bell  char" in answers
    codebook = list(workbook["Codeframe"].iter_rows(values_only=True))
    assert codebook[0][:3] == ("net", "code", "label")
    assert "=2*3" in [row[2] for row in codebook]
    sizes = sum(row[5] for row in codebook[1:])
    assert sizes == len(HOSTILE)  # code sizes plus the uncoded row
    # It opens readable: the header frozen (and the id and answer beside the codes), the
    # answers wide and every column of a sheet as wide as set (a DP's review).
    answer_sheets = [workbook["Answers (code list)"], workbook["Answers (0-1)"]]
    assert workbook["Codeframe"].freeze_panes == "A2"
    assert [sheet.freeze_panes for sheet in answer_sheets] == ["C2", "C2"]
    for sheet in answer_sheets:
        assert sheet.column_dimensions["B"].width == 60
        assert sheet.column_dimensions[sheet.cell(1, sheet.max_column).column_letter].width


def test_mentions_count_every_code_an_answer_carries_on_the_page_xlsx_and_tracker(
    staff_client, codeframe
):
    """Size and share count primary codes (with "Uncoded" they add up to the base); mentions
    count every code an answer carries, as the tracker and the SPSS file do: the same figure
    wherever a data processor reads it."""
    primary = codeframe.codes.order_by("number").first()
    others = codeframe.question.responses.exclude(assignments__code=primary)[:2]
    for response in others:
        Assignment.objects.create(codeframe=codeframe, response=response, code=primary)
    services.refresh_sizes(codeframe=codeframe)
    primary.refresh_from_db()
    total = codeframe.question.responses.count()
    mentions = primary.size + 2

    workbook = load_workbook(io.BytesIO(exports.build_xlsx(codeframe=codeframe)))
    header, *rows = workbook["Codeframe"].iter_rows(values_only=True)
    row = dict(zip(header, next(r for r in rows if r[1] == primary.number), strict=True))
    assert (row["size"], row["mentions"]) == (primary.size, mentions)
    assert row["mention share"] == mentions / total
    sizes = [r[header.index("size")] for r in rows]
    assert sum(sizes) == total  # the primary sizes and "Uncoded" add up to every answer
    shares = [r[header.index("share")] for r in rows]  # "Uncoded" has its share too
    assert shares[-1] is not None and abs(sum(shares) - 1) < 1e-3
    cells = next(workbook["Codeframe"].iter_rows(min_row=2, max_row=2))
    assert cells[header.index("share")].number_format == "0.0%"  # shown as on the page

    table = waves.tracker_tables(question=codeframe.question).codes
    assert table.row(primary.number)[0].share == mentions / total
    page = staff_client.get(codeframe.get_absolute_url()).content.decode()
    row = page[page.index(f'<tr id="code-{primary.pk}">') :]
    row = row[: row.index("</tr>")]
    share = round(100 * mentions / total)
    assert f'<td class="num">{mentions} <span class="small muted">({share}%)</span></td>' in row


def _sheets(codeframe) -> dict[str, list[list]]:
    workbook = load_workbook(io.BytesIO(exports.build_xlsx(codeframe=codeframe)))
    return {
        title: [list(row) for row in workbook[title].iter_rows(values_only=True)]
        for title in ("Answers (code list)", "Answers (0-1)")
    }


def _sav_waves(codeframe) -> list[str]:
    """Each row's `wave` as the wave's .sav names it (its value label)."""
    import pyreadstat

    with tempfile.NamedTemporaryFile(suffix=".sav") as handle:
        handle.write(exports.build_sav(codeframe=codeframe))
        handle.flush()
        frame, meta = pyreadstat.read_sav(handle.name)
    return [meta.variable_value_labels["wave"][number] for number in frame["wave"]]


def test_a_waves_answer_files_say_which_wave_each_row_is_and_a_plain_surveys_do_not(codeframe):
    """Monthly answer files, stacked, lost which month each row came from: only the .sav had
    `wave`. A tracker's wave's CSVs and XLSX answer sheets end with it (the wave's name, as the
    .sav labels it), every other column where it was; a plain survey's are as they were."""
    plain = {layout: read_csv(codeframe, layout) for layout in ("list", "binary")}
    codes = [f"{c.number}. {c.label}" for c in codeframe.codes.order_by("number")]
    assert plain["list"][0] == ["respondent_id", "answer", "codes", "coded"]
    assert plain["binary"][0] == ["respondent_id", "answer", *codes]
    assert _sheets(codeframe)["Answers (0-1)"][0] == plain["binary"][0]

    approved = waves.approve_codeframe(codeframe=codeframe)
    rows = [ImportedRow(line=1, respondent_id="R001", text="The fees went up again")]
    second = waves.code_wave(codeframe=approved, rows=rows, wave="2027-01")
    for frame, name in ((approved, "1"), (second, "2027-01")):
        listed, binary = read_csv(frame, "list"), read_csv(frame, "binary")
        assert listed[0] == ["respondent_id", "answer", "codes", "coded", "wave"]
        assert binary[0] == ["respondent_id", "answer", *codes, "wave"]
        assert {row[-1] for row in listed[1:] + binary[1:]} == {name}
        assert [row[-1] for row in listed[1:]] == _sav_waves(frame)
        sheets = _sheets(frame)
        for title, csv_rows in (("Answers (code list)", listed), ("Answers (0-1)", binary)):
            assert sheets[title][0] == csv_rows[0]
            assert [row[-1] for row in sheets[title][1:]] == [name] * len(csv_rows[1:])
    # Stacked by name, a panel's respondent R001 is two rows told apart.
    stacked = [
        dict(zip(f[0], row, strict=True))
        for f in (read_csv(approved, "list"), read_csv(second, "list"))
        for row in f[1:]
    ]
    assert sorted(r["wave"] for r in stacked if r["respondent_id"] == "R001") == ["1", "2027-01"]


def test_a_first_wave_named_before_its_tracker_starts_says_its_name(codeframe):
    """Named (Name this wave) before the second wave is coded, the first month's files have the
    columns the next months' will have, with the name the .sav gives it."""
    waves.rename_wave(question=codeframe.question, label="2026-12")
    listed = read_csv(codeframe, "list")
    assert listed[0][-1] == "wave" and {row[-1] for row in listed[1:]} == {"2026-12"}
    assert [row[-1] for row in listed[1:]] == _sav_waves(codeframe)
