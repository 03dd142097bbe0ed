import datetime
import io

import pytest
from openpyxl import Workbook

from codeframe.exceptions import ImportFailed
from codeframe.importers import clean_answer, read_csv, read_pasted, read_upload, read_xlsx


def csv_file(text: str, encoding: str = "utf-8") -> io.BytesIO:
    return io.BytesIO(text.encode(encoding))


def xlsx_file(rows: list[list], *, title: str = "Sheet") -> io.BytesIO:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    out.seek(0)
    return out


def test_csv_by_column_name_with_respondent_ids():
    data = csv_file('respondent_id,q1,q2\nA1,first,x\nA2,"multi\nline, quoted",y\n')
    rows = list(read_csv(data, column="Q2"))
    assert [(r.respondent_id, r.text) for r in rows] == [("A1", "x"), ("A2", "y")]
    rows = list(read_csv(csv_file('respondent_id,q1\nA1,"a\nb"\nA2,c\n'), column="q1"))
    assert [(r.line, r.text) for r in rows] == [(3, "a\nb"), (4, "c")]


@pytest.mark.parametrize("name", ["Serial", "RespondentID", "ResponseId", "uuid", "Case ID"])
def test_survey_platforms_respondent_id_columns_are_guessed(name):
    rows = list(read_csv(csv_file(f"{name},answer\nX-17,Too slow\n")))
    assert [(r.respondent_id, r.text) for r in rows] == [("X-17", "Too slow")]


def test_the_answer_column_named_as_the_id_column_is_refused():
    """It was dropped, the answers numbered, and the message said to name the id column."""
    with pytest.raises(ImportFailed, match="The respondent id column cannot be the answer column"):
        list(read_csv(csv_file("answer,other\nToo slow,x\n"), column="answer", id_column="answer"))
    guessed = list(read_csv(csv_file("id\n7\n8\n")))  # one column, guessed as both: numbered
    assert [(r.respondent_id, r.text) for r in guessed] == [("", "7"), ("", "8")]


def test_an_answer_without_its_respondent_id_is_refused_with_its_line():
    data = "Serial,answer\nA1,fine\n,,\n ,Too slow\n"
    with pytest.raises(ImportFailed, match="Line 4: the answer has no respondent id"):
        list(read_csv(csv_file(data)))
    sheet = xlsx_file([["Serial", "answer"], ["A1", "fine"], [None, None], [None, "Too slow"]])
    with pytest.raises(ImportFailed, match="Line 4: the answer has no respondent id"):
        list(read_xlsx(sheet))


def test_csv_column_by_number_and_guessing():
    data = "id;comment;score\n7;Too slow;3\n"
    assert [r.text for r in read_csv(csv_file(data), column="3")] == ["3"]
    guessed = list(read_csv(csv_file(data)))
    assert [(r.respondent_id, r.text) for r in guessed] == [("7", "Too slow")]
    assert [r.text for r in read_csv(csv_file("Why?\nbecause\n"))] == ["because"]


def test_csv_with_bom_and_tabs():
    rows = list(read_csv(csv_file("\ufeffanswer\tother\nGreat 👍\tz\n")))
    assert rows[0].text == "Great 👍"


def test_wrong_column_lists_the_columns():
    with pytest.raises(ImportFailed, match=r"no column 'answr'.*'respondent_id', 'answer'"):
        read_csv(csv_file("respondent_id,answer\n1,x\n"), column="answr")


def test_ambiguous_columns_ask_for_a_choice():
    with pytest.raises(ImportFailed, match="Choose the column"):
        read_csv(csv_file("q1,q2\na,b\n"))


def test_empty_file():
    with pytest.raises(ImportFailed, match="empty"):
        read_csv(csv_file(""))


def test_non_utf8_names_the_line():
    data = csv_file("answer\nfine\ncaf\xe9 cr\xe8me\n", encoding="latin-1")
    rows = read_csv(data)
    with pytest.raises(ImportFailed, match=r"Line 3 is not UTF-8.*0xe9"):
        list(rows)


def test_overlong_answer_is_refused_with_its_line(settings):
    settings.CODEFRAME = {"MAX_ANSWER_CHARS": 10}
    with pytest.raises(ImportFailed, match=r"Line 3: the answer is 11 characters"):
        list(read_csv(csv_file("answer\nshort\n" + "x" * 11 + "\n")))


def test_an_answer_past_csvs_own_field_limit_names_our_limit():
    """Past csv's 131,072 characters, its own error came through ("field larger than field
    limit (131072)"), not the answer limit the README promises."""
    with pytest.raises(ImportFailed, match=r"Line 2: a field is over 131,072 .* is 10,000\."):
        list(read_csv(csv_file("id,answer\n1," + "x" * 200_000 + "\n")))
    # A quote never closed in a long file reaches csv's cap first: that is what it says.
    lines = "".join(f"{i},answer {i} with some words in it\n" for i in range(3, 4000))
    with pytest.raises(ImportFailed, match="Line 2: a double quote opens an answer"):
        list(read_csv(csv_file('id,answer\n2,"stray quote\n' + lines)))


def test_nul_and_surrogates_are_cleaned():
    assert clean_answer(" a\x00b \ud800") == "ab ?"
    assert clean_answer(None) == "" and clean_answer(4.5) == "4.5"


def test_xlsx_column_choice_and_types():
    data = xlsx_file([["ID", "Verbatim", "Score"], ["R1", "Love it", 9], ["R2", None, 3], [3, 42]])
    rows = list(read_xlsx(data))
    assert [(r.respondent_id, r.text, r.line) for r in rows] == [
        ("R1", "Love it", 2),
        ("R2", "", 3),
        ("3", "42", 4),
    ]
    data.seek(0)
    assert [r.text for r in read_xlsx(data, column="score")] == ["9", "3", ""]


def test_xlsx_number_ids_read_as_their_digits_and_long_ones_are_refused():
    """An id typed as a number came back as "1003.0", or as "1.234567890123457e+17" past what
    Excel keeps (15 digits): neither merges back onto the survey's cases."""
    data = xlsx_file([["Serial", "Answer"], [1003.0, "Fees"], [1003.5, "App"], [77, "Staff"]])
    assert [r.respondent_id for r in read_xlsx(data)] == ["1003", "1003.5", "77"]
    data = xlsx_file([["Serial", "Answer"], [123456789012345678.0, "Fees"]])
    with pytest.raises(ImportFailed, match=r"Line 2: the respondent id 1\.23456789012346e\+17 is"):
        list(read_xlsx(data))


def test_xlsx_date_and_time_cells_read_as_typed():
    """openpyxl reads a date cell as a midnight datetime: str() made it "2024-01-02 00:00:00"."""
    data = xlsx_file(
        [
            ["ID", "Answer"],
            ["R1", datetime.date(2024, 1, 2)],
            [datetime.date(2024, 3, 4), datetime.datetime(2024, 1, 2, 14, 30)],
            ["R3", datetime.datetime(2024, 1, 2, 14, 30, 15)],
            ["R4", datetime.time(9, 5)],
        ]
    )
    assert [(r.respondent_id, r.text) for r in read_xlsx(data)] == [
        ("R1", "2024-01-02"),
        ("2024-03-04", "2024-01-02 14:30"),
        ("R3", "2024-01-02 14:30:15"),
        ("R4", "09:05"),
    ]


def test_xlsx_named_sheet_and_errors():
    data = xlsx_file([["answer"], ["ok"]], title="Wave 2")
    assert [r.text for r in read_xlsx(data, sheet="Wave 2")] == ["ok"]
    data.seek(0)
    with pytest.raises(ImportFailed, match=r"No sheet 'Wave 3'.*Wave 2"):
        read_xlsx(data, sheet="Wave 3")
    with pytest.raises(ImportFailed, match=r"not a readable \.xlsx"):
        read_xlsx(io.BytesIO(b"not a zip"))
    with pytest.raises(ImportFailed, match="There is no column 'x'"):
        read_xlsx(xlsx_file([["answer"], ["a"]]), column="x")


def test_read_upload_dispatches_on_the_extension():
    assert [r.text for r in read_upload(csv_file("answer\na\n"), filename="S.CSV")] == ["a"]
    assert [r.text for r in read_upload(xlsx_file([["answer"], ["b"]]), filename="s.xlsx")] == ["b"]
    with pytest.raises(ImportFailed, match=r"csv or \.xlsx"):
        read_upload(csv_file("x"), filename="survey.pdf")


def test_pasted_text_one_answer_per_line():
    rows = list(read_pasted("first\r\n\n  second  \n"))
    # No ids in pasted text: the importer numbers each answer by its line.
    assert [(r.line, r.respondent_id, r.text) for r in rows] == [
        (1, "", "first"),
        (2, "", ""),
        (3, "", "second"),
    ]


def test_one_column_file_keeps_an_unquoted_comma_in_the_answer():
    data = 'answer\nFees are high, and the app crashes\n"Quoted, as Excel writes it"\nok,\n'
    rows = list(read_csv(csv_file(data)))
    assert [(r.line, r.text) for r in rows] == [
        (2, "Fees are high, and the app crashes"),
        (3, "Quoted, as Excel writes it"),
        (4, "ok,"),
    ]
    other = list(read_csv(csv_file("Why?\r\nslow;  expensive , ugly\r\n")))
    assert [r.text for r in other] == ["slow;  expensive , ugly"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            "respondent_id,answer\nR1,fine\nR2,Fees are high, and the app crashes every day\n",
            r"^Line 3 has 3 fields but the header has 2: an answer with a comma must be in "
            r"double quotes\. Save the file from Excel as “CSV UTF-8”, which quotes them\.$",
        ),
        ("id;answer\nR1;Slow; expensive\n", r"^Line 2 has 3 fields .* with a semicolon must"),
        ("id\tanswer\tscore\nR1\tSlow\t3\t\tugly\n", r"^Line 2 has 5 fields .*3: .* with a tab"),
    ],
)
def test_extra_cells_past_the_header_are_refused_with_their_line(data, message):
    with pytest.raises(ImportFailed, match=message):
        list(read_csv(csv_file(data)))


def test_a_quoted_comma_and_extra_empty_trailing_cells_are_accepted():
    data = (
        'respondent_id,answer\r\nR1,"Fees are high, and the app crashes"\r\n'
        "R2,fine,,\r\nR3,ok, \r\n"
    )
    rows = list(read_csv(csv_file(data)))
    assert [(r.line, r.respondent_id, r.text) for r in rows] == [
        (2, "R1", "Fees are high, and the app crashes"),
        (3, "R2", "fine"),
        (4, "R3", "ok"),
    ]
    # Only empty extra cells: the same file with a non-empty one is refused.
    with pytest.raises(ImportFailed, match=r"^Line 5 has 4 fields but the header has 2"):
        list(read_csv(csv_file(data + "R4,ok,,stray\r\n")))


@pytest.mark.parametrize("newline", ["\r", "\n", "\r\n"])
def test_csv_line_endings_cr_lf_and_crlf(newline):
    data = newline.join(["id,answer", "A1,first", 'A2,"multi', 'line, quoted"', "A3,last", ""])
    rows = list(read_csv(csv_file(data)))
    assert [(r.line, r.respondent_id, r.text) for r in rows] == [
        (2, "A1", "first"),
        (4, "A2", f"multi{newline}line, quoted"),
        (5, "A3", "last"),
    ]


def test_old_mac_cr_only_file():
    assert [r.text for r in read_csv(csv_file("answer\rfirst\rsecond\r"))] == ["first", "second"]


@pytest.mark.parametrize("block_bytes", [1, 2, 3, 4, 5, 64 * 1024])
def test_csv_lines_are_split_across_read_blocks(monkeypatch, block_bytes):
    # Small blocks split CRLFs, CR pairs and multi-byte characters between two reads.
    monkeypatch.setattr("codeframe.importers._BLOCK_BYTES", block_bytes)
    data = "answer\r\ncafé crème\r\r\nsecond\rthird\n\nfourth\r"
    rows = list(read_csv(csv_file(data)))
    assert [(r.line, r.text) for r in rows if r.text] == [
        (2, "café crème"),
        (4, "second"),
        (5, "third"),
        (7, "fourth"),
    ]
    data = csv_file("answer\rfine\rcaf\xe9\r", encoding="latin-1")
    with pytest.raises(ImportFailed, match=r"Line 3 is not UTF-8.*0xe9 at position 4"):
        list(read_csv(data))


@pytest.mark.parametrize(
    "data",
    [
        'id,answer\nR1,fine\nR2,"Great\nR3,slow\nR4,fees high\n',
        'answer\nfine\n"Great\nslow\n',
        'id,answer\nR1,fine\nR2,"Great',
    ],
)
def test_a_quote_never_closed_is_refused_with_the_line_it_opens_on(data):
    """csv reads the rest of the file into that one answer without a word."""
    with pytest.raises(ImportFailed, match="Line 3: a double quote opens an answer that is never"):
        list(read_csv(csv_file(data)))


def test_closed_quotes_and_a_missing_last_newline_read_as_before():
    data = 'id,answer\nR1,"multi\nline"\nR2,"Fast" service\nR3,ok'
    rows = [(r.line, r.respondent_id, r.text) for r in read_csv(csv_file(data))]
    assert rows == [(3, "R1", "multi\nline"), (4, "R2", "Fast service"), (5, "R3", "ok")]


def test_a_respondent_id_too_long_to_store_is_refused_not_cut():
    data = f"Serial,answer\nA1,fine\n{'X' * 101},slow\n"
    with pytest.raises(ImportFailed, match="Line 3: the respondent id is 101 characters long"):
        list(read_csv(csv_file(data)))
    rows = list(read_csv(csv_file(f"Serial,answer\n{'X' * 100},slow\n")))
    assert rows[0].respondent_id == "X" * 100


def test_a_line_that_looks_like_the_end_marker_is_an_answer_like_any_other():
    marker = "\ufffeend of file\ufffe"
    rows = list(read_csv(csv_file(f"answer\n{marker}\nlater\n")))
    assert [r.text for r in rows] == [marker, "later"]


@pytest.mark.parametrize("separator", [";", "\t"])
def test_the_separator_is_the_one_the_lines_agree_on(separator):
    """A header with one semicolon and one comma ("Serial;Q5. Why, in your own words?") was read
    as comma separated: every answer was cut at its comma and the ids were lost, silently."""
    header = f"Serial{separator}Q5. Why, in your own words?"
    data = f"{header}\n002001{separator}Too expensive, really\n002002{separator}Fees, fees\n"
    rows = list(read_csv(csv_file(data), column="2"))
    assert [(r.respondent_id, r.text) for r in rows] == [
        ("002001", "Too expensive, really"),
        ("002002", "Fees, fees"),
    ]
    # Commas that separate still win where the lines agree on them.
    rows = list(read_csv(csv_file('id,answer\nR1,"Slow; expensive"\nR2,ok;fine\n')))
    assert [(r.respondent_id, r.text) for r in rows] == [
        ("R1", "Slow; expensive"),
        ("R2", "ok;fine"),
    ]


@pytest.mark.parametrize(
    "name", ["Respondent.Serial", "Serial number", "Resp No", "Record ID", "Interview nr"]
)
def test_id_columns_named_in_other_words_are_guessed(name):
    rows = list(read_csv(csv_file(f"{name},answer\n1017,Too slow\n")))
    assert [(r.respondent_id, r.text) for r in rows] == [("1017", "Too slow")]
    rows = list(read_csv(csv_file("Respondent Name,answer\nAnn,Too slow\n")))
    assert rows[0].respondent_id == ""  # a name is not an id


@pytest.mark.parametrize(
    "header",
    [
        "Q5 Describe your response (no more than 50 words),Q6 Why?",
        "Which response? (no = 0),Q6 Why?",
        "Case number of siblings at home,Q6 Why?",
    ],
)
def test_question_columns_are_not_taken_for_ids(header):
    """Any header with a word for the respondent and one for a number matched: a question's
    answers became the ids, and the codes could be merged onto the wrong cases silently."""
    rows = list(read_csv(csv_file(f"{header}\nIt was fine,Too slow\n"), column="2"))
    assert [(r.respondent_id, r.text) for r in rows] == [("", "Too slow")]


def test_a_workbook_named_csv_says_so():
    """An .xlsx renamed .csv was read as text: "Line 1 is not UTF-8 text", advice that sent the
    analyst to re-save a file that was never a CSV."""
    workbook = xlsx_file([["answer"], ["Too slow"]])
    with pytest.raises(
        ImportFailed, match=r"wave\.csv is an Excel workbook \(\.xlsx\) named \.csv"
    ):
        read_upload(workbook, filename="wave.csv")
    old = io.BytesIO(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    with pytest.raises(ImportFailed, match=r"an Excel workbook \(\.xls\)"):
        read_upload(old, filename="wave.txt")
    workbook.seek(0)
    assert [r.text for r in read_upload(workbook, filename="wave.xlsx")] == ["Too slow"]
    assert [r.text for r in read_upload(csv_file("answer\nPK fine\n"), filename="a.csv")] == [
        "PK fine"
    ]
