"""The exports registry and the SPSS .sav export, read back with pyreadstat."""

import csv
import io
import os
import shutil
import subprocess
import tempfile

import pyreadstat
import pytest
from django.urls import reverse

from codeframe import exports, services, waves
from codeframe.importers import ImportedRow
from codeframe.models import Assignment, Question, SuggestedCode
from tests.codeframe.conftest import ANSWERS

pytestmark = pytest.mark.django_db


def run_pspp(script, out) -> subprocess.CompletedProcess:
    """GNU PSPP runs `script`, its tables going to `out` (CSV). `make test` installs Debian's
    `pspp`; without it the test fails saying so (it never skips)."""
    if shutil.which("pspp") is None:
        pytest.fail("pspp is missing: `make test` installs it (apt-get install pspp)")
    return subprocess.run(
        ["pspp", "-o", str(out), str(script)], capture_output=True, text=True, timeout=120
    )


def read_sav(content: bytes):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "read.sav")
        with open(path, "wb") as handle:
            handle.write(content)
        return pyreadstat.read_sav(path, user_missing=True)


def test_sav_has_a_0_1_variable_per_code_with_labels_from_the_codeframe(codeframe):
    response = codeframe.question.responses.order_by("position").first()
    primary = Assignment.objects.get(response=response, is_primary=True).code
    extra = codeframe.codes.exclude(pk=primary.pk).order_by("number").first()
    Assignment.objects.create(codeframe=codeframe, response=response, code=extra, confidence=0.1)
    services.rename_code(code=extra, label="Café & fees: 'too high'")
    extra.refresh_from_db()

    content = exports.build_sav(codeframe=codeframe)
    frame, meta = read_sav(content)
    # Compressed as SPSS saves by default (the header's compression field, after "$FL2", the
    # product name, the layout code and the case size): a 0/1 value is a byte, not eight.
    assert content[:4] == b"$FL2" and int.from_bytes(content[72:76], "little") == 1
    codes = list(codeframe.codes.order_by("number"))
    code_vars = [f"c{c.number}" for c in codes]
    # `wave` first in every file, a tracker's first wave's before its second wave too, so the
    # first month's file stacks with the next ones.
    assert meta.column_names[:4] == ["wave", "resp_id", "answer", "primary"]
    assert meta.variable_value_labels["wave"] == {1.0: "1"} and set(frame["wave"]) == {1.0}
    assert meta.column_names[4 : 4 + len(codes)] == code_vars
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
    assert labels["resp_id"] == "Respondent ID"
    for code, name in zip(codes, code_vars, strict=True):
        assert labels[name] == f"{code.number}. {code.label}"
        assert meta.variable_value_labels[name] == {0: "Not mentioned", 1: code.label}
        assert int(frame[name].sum()) == Assignment.objects.filter(code=code).count()
    assert labels[f"c{extra.number}"].endswith("Café & fees: 'too high'")
    assert meta.variable_value_labels["primary"] == {float(c.number): c.label for c in codes}

    assert len(frame) == codeframe.question.responses.count()
    first = frame.iloc[0]
    assert first["resp_id"] == response.respondent_id and first["answer"] == response.text
    assert first["primary"] == primary.number
    assert first[f"c{primary.number}"] == 1 and first[f"c{extra.number}"] == 1
    uncoded = codeframe.question.responses.exclude(assignments__is_primary=True).count()
    assert int(frame["primary"].isna().sum()) == uncoded

    # The multiple dichotomy set travels as MRSETS syntax (pyreadstat cannot write the record).
    note = "\n".join(meta.notes)
    assert note.startswith("MRSETS /MDGROUP NAME=$codes")
    assert f"LABEL='{codeframe.question.text}'" in note and note.endswith("VALUE=1.")
    assert " ".join(note.split("VARIABLES=")[1].split("VALUE")[0].split()) == " ".join(code_vars)
    assert all(len(line) <= 80 for line in meta.notes)
    nets = [n for n in meta.column_names if n.startswith("net")]
    assert nets and all(set(frame[n].unique()) <= {0, 1} for n in nets)


def test_sav_of_a_large_frame_with_a_long_quoted_question(codeframe):
    """readstat refuses a document line over 80 bytes: the MRSETS note of a frame with many
    codes, or a question text full of quotes and accents, must still fit."""
    question = codeframe.question
    question.text = "Qu'est-ce qu'on pourrait améliorer à l'agence ? 'Dites-nous' " * 3
    question.save()
    last = codeframe.codes.order_by("number").last()
    for number in range(last.number + 1, last.number + 120):
        codeframe.codes.create(number=number, label=f"Code {number}", net=last.net)
    frame, meta = read_sav(exports.build_sav(codeframe=codeframe))
    code_vars = [
        f"c{n}" for n in codeframe.codes.order_by("number").values_list("number", flat=True)
    ]
    assert len(code_vars) > 120 and set(code_vars) <= set(frame.columns)
    note = "\n".join(meta.notes)
    assert " ".join(note.split("VARIABLES=")[1].split("VALUE")[0].split()) == " ".join(code_vars)
    assert all(len(line.encode("utf-8")) <= 80 for line in meta.notes)
    label = note.split("LABEL='")[1].split("'\n")[0]
    assert label.replace("''", "'") in question.text and label.startswith("Qu''est-ce qu''on")


def test_registry_lists_every_format_and_finds_layouts():
    assert [(e.format, e.layout) for e in exports.EXPORTERS] == [
        ("csv", "binary"),
        ("csv", "list"),
        ("xlsx", None),
        ("sav", None),
    ]
    assert exports.get_exporter("csv").layout == "binary"
    assert exports.get_exporter("csv", "list").label == "CSV, code ids separated by ;"
    with pytest.raises(exports.UnknownExport, match=r"\.csv, \.sav, \.xlsx"):
        exports.get_exporter("pdf")
    with pytest.raises(exports.UnknownExport, match="'binary' or 'list'"):
        exports.get_exporter("csv", "wide")


def test_page_links_every_format_and_the_sav_downloads(staff_client, codeframe):
    page = staff_client.get(codeframe.get_absolute_url()).content.decode()
    for exporter in exports.EXPORTERS:
        assert exporter.label in page
    url = reverse("codeframe:codeframe-export", args=[codeframe.pk, "sav"])
    assert url in page
    response = staff_client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-spss-sav"
    assert response["Content-Disposition"].endswith('.sav"')
    frame, _ = read_sav(response.content)
    assert len(frame) == codeframe.question.responses.count()
    bad = staff_client.get(
        reverse("codeframe:codeframe-export", args=[codeframe.pk, "csv"]) + "?layout=x"
    )
    assert bad.status_code == 400
    # A layout for a format that has none was ignored: the file came without a word.
    for fmt in ("sav", "xlsx"):
        page = reverse("codeframe:codeframe-export", args=[codeframe.pk, fmt])
        api = f"/api/codeframes/{codeframe.pk}/export/{fmt}/"
        for url in (page, api):
            refused = staff_client.get(url + "?layout=binary")
            assert (
                refused.status_code == 400 and f".{fmt} has no layouts" in refused.content.decode()
            )


def _two_waves(codeframe, answers):
    """The codeframe approved, and the second wave (respondents W0, W1...) coded with it."""
    approved = waves.approve_codeframe(codeframe=codeframe)
    rows = [ImportedRow(line=i, respondent_id=f"W{i}", text=t) for i, t in enumerate(answers)]
    return approved, waves.code_wave(codeframe=approved, rows=rows, wave="2027-01")


def test_a_trackers_waves_stack_in_one_sav_with_a_wave_variable(staff_client, codeframe):
    """Two waves; a code accepted in the second is system-missing in the first wave's rows
    (not asked about), 0/1 in the second's; numbers and labels as in the codeframes."""
    answers = ["Mortgage rates went up", "Fees went up again", "The app crashed"]
    approved, second = _two_waves(codeframe, answers)
    mortgage = second.question.responses.get(text=answers[0])
    Assignment.objects.filter(codeframe=second, response=mortgage).delete()
    suggestion = SuggestedCode.objects.create(
        codeframe=second, label="Mortgage rates", size=1, response_ids=[mortgage.pk]
    )
    added = waves.accept_suggestion(suggestion=suggestion)
    services.rename_code(code=second.codes.order_by("number").first(), label="Fees (renamed)")

    url = reverse("codeframe:question-tracker", args=[second.question_id])
    assert "?format=sav" in staff_client.get(url).content.decode()
    response = staff_client.get(url, {"format": "sav"})
    assert response.status_code == 200 and response["Content-Type"] == "application/x-spss-sav"
    assert response["Content-Disposition"].endswith('.sav"')
    frame, meta = read_sav(response.content)

    first_n, second_n = approved.question.responses.count(), len(answers)
    assert len(frame) == first_n + second_n
    assert meta.column_names[:4] == ["wave", "resp_id", "answer", "primary"]
    assert meta.variable_value_labels["wave"] == {1.0: "1", 2.0: "2027-01"}
    assert list(frame["wave"]) == [1.0] * first_n + [2.0] * second_n
    numbers = sorted({c.number for c in approved.codes.all()} | {added.number})
    assert [n for n in meta.column_names if n.startswith("c")] == [f"c{n}" for n in numbers]
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
    renamed = second.codes.order_by("number").first()
    assert labels[f"c{renamed.number}"] == f"{renamed.number}. Fees (renamed)"  # newest wave's
    new = frame[f"c{added.number}"]
    assert new[:first_n].isna().all()  # the first wave's frame had no such code
    assert list(new[first_n:]) == [1.0, 0.0, 0.0]
    mortgage_row = frame.iloc[first_n]
    assert mortgage_row["resp_id"] == "W0" and mortgage_row["primary"] == added.number
    assert meta.variable_value_labels["primary"][float(added.number)] == "Mortgage rates"
    # Codes both waves have are 0/1 in every row, counted as in each wave's codeframe.
    for code in approved.codes.all():
        column = frame[f"c{code.number}"]
        assert set(column.unique()) <= {0.0, 1.0}
        assert column[:first_n].sum() == Assignment.objects.filter(code=code).count()
    assert "\n".join(meta.notes).startswith("MRSETS /MDGROUP NAME=$codes")
    # Each wave's own file carries its wave number too, so the monthly files stack the same way.
    for number, label, wave_frame, rows in ((1, "1", approved, first_n), (2, "2027-01", second, 3)):
        own, own_meta = read_sav(exports.build_sav(codeframe=wave_frame))
        assert own_meta.column_names[:4] == ["wave", "resp_id", "answer", "primary"]
        # Every wave's name so far, so the files stacked after the first read as names.
        assert own_meta.variable_value_labels["wave"] == {1.0: "1", 2.0: "2027-01"}
        assert own_meta.variable_value_labels["wave"][float(number)] == label
        assert list(own["wave"]) == [float(number)] * rows
        stacked = frame[frame["wave"] == number].reset_index(drop=True)
        for name in ("resp_id", "primary", *(f"c{c.number}" for c in wave_frame.codes.all())):
            assert list(own[name].fillna(-1)) == list(stacked[name].fillna(-1)), name


def test_a_trackers_stacked_sav_has_each_waves_nets(staff_client, codeframe):
    """One `net<number>` per net number, labelled as in the newest wave; in each wave's rows a
    net is "any of the codes it has in that wave's codeframe", so a code regrouped in the second
    wave counts in its old net in the first wave's rows and in its new one in the second's."""
    answers = ["Fees went up again", "The app crashed", "Staff were rude"]
    approved, second = _two_waves(codeframe, answers)
    first_nets = {net.number for net in approved.nets.all() if net.codes.exists()}
    assert len(first_nets) >= 2, "the fixture's frame needs two nets with codes"
    moved = second.codes.filter(net__isnull=False).order_by("number").first()
    target = second.nets.exclude(pk=moved.net_id).order_by("number").first()
    old_number = moved.net.number
    second.codes.filter(pk=moved.pk).update(net=target)
    second.nets.filter(pk=target.pk).update(label="Regrouped")

    response = staff_client.get(
        reverse("codeframe:question-tracker", args=[second.question_id]), {"format": "sav"}
    )
    frame, meta = read_sav(response.content)
    first_n = approved.question.responses.count()
    net_columns = [n for n in meta.column_names if n.startswith("net")]
    assert net_columns == [f"net{n}" for n in sorted(first_nets)]
    assert meta.column_names.index(net_columns[0]) > max(
        meta.column_names.index(n) for n in meta.column_names if n.startswith("c")
    )
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
    assert labels[f"net{target.number}"] == f"Net {target.number}. Regrouped"  # newest wave's
    assert meta.variable_value_labels[f"net{target.number}"] == {0: "Not mentioned", 1: "Regrouped"}
    for wave_frame, rows in ((approved, slice(0, first_n)), (second, slice(first_n, None))):
        for net in wave_frame.nets.all():
            members = [f"c{n}" for n in net.codes.values_list("number", flat=True)]
            if not members:
                continue
            expected = frame[members][rows].max(axis=1)
            assert list(frame[f"net{net.number}"][rows]) == list(expected), (wave_frame, net)
    assert moved.number in approved.nets.get(number=old_number).codes.values_list(
        "number", flat=True
    )


def test_answers_longer_than_spss_strings_are_cut_to_fit_and_the_note_says_so(
    staff_client, codeframe
):
    """`answer` is 4,096 bytes wide in every file (STRING_WIDTHS: SPSS pads every value to the
    width, and 32,767 bytes made a 50,000-answer file 210 MB): 1,025 emoji (4,100 bytes)
    are cut at a character boundary, in the stacked file and in the wave's own; 2,000 "é"
    (4,000 bytes) stay whole."""
    long, fits = "🙂" * 1025, "é" * 2000
    _approved, second = _two_waves(codeframe, [long, fits, "Fees went up again"])
    stacked = staff_client.get(
        reverse("codeframe:question-tracker", args=[second.question_id]), {"format": "sav"}
    )
    for content in (stacked.content, exports.build_sav(codeframe=second)):
        frame, meta = read_sav(content)
        assert meta.original_variable_types["answer"] == "A4096"
        answers = list(frame["answer"][frame["resp_id"] == "W0"])
        assert len(answers) == 1 and long.startswith(answers[0])
        assert len(answers[0].encode("utf-8")) == 4096  # 1,024 emoji of 4 bytes
        assert list(frame["answer"][frame["resp_id"] == "W1"]) == [fits]
        assert list(frame["answer"][frame["resp_id"] == "W2"]) == ["Fees went up again"]
        note = "\n".join(meta.notes)
        assert note.startswith("* 1 answer was cut to 4,096 bytes (the width of answer in")
        assert "CSV and XLSX" in note and "\nMRSETS /MDGROUP NAME=$codes" in note
        assert all(len(line.encode("utf-8")) <= 80 for line in meta.notes)


def test_the_mrsets_label_of_a_question_text_on_several_lines_is_one_line(codeframe):
    """The import form's question text is a multi-line box: a line break inside LABEL='...'
    broke the syntax a data processor pastes from the note."""
    question = codeframe.question
    question.text = "Why that score?\r\nPlease be specific."
    question.save()
    _, meta = read_sav(exports.build_sav(codeframe=codeframe))
    assert "  LABEL='Why that score? Please be specific.'" in meta.notes


def numbered_frame(*, first_id: int):
    """An approved codeframe of the sample answers, their respondent ids whole numbers from
    `first_id` on (a survey's numeric case ids)."""
    rows = [
        ImportedRow(line=i, respondent_id=str(first_id + i), text=t) for i, t in enumerate(ANSWERS)
    ]
    first = services.import_responses(rows=rows, survey="Numbered", question_text="Why?").question
    return waves.approve_codeframe(codeframe=services.create_codeframe(question=first, n_codes=3))


def test_whole_number_ids_are_numeric_across_the_tracker_else_strings(real_model):
    """SPSS merges the codes onto the survey data (MATCH FILES /BY resp_id) only when the key
    has one type in both files, and a survey's case id is usually numeric."""
    frame = numbered_frame(first_id=1000)
    data, meta = read_sav(exports.build_sav(codeframe=frame))
    assert meta.readstat_variable_types["resp_id"] == "double"
    assert meta.original_variable_types["resp_id"] == "F4.0"
    assert list(data["resp_id"]) == [1000.0 + i for i in range(len(ANSWERS))]
    # The XLSX too: Excel's lookups do not match a number stored as text.
    assert xlsx_ids(frame) == [1000 + i for i in range(len(ANSWERS))] * 2

    # One id of a later wave that is no whole number (or keeps a leading zero): every file of
    # the tracker has string ids, so they still stack.
    wave = waves.code_wave(
        codeframe=frame,
        rows=[
            ImportedRow(line=1, respondent_id="2001", text="Fees went up"),
            ImportedRow(line=2, respondent_id="007", text="The app crashed"),
        ],
        wave="2027-01",
    )
    for built in (
        exports.build_sav(codeframe=frame),
        exports.build_sav(codeframe=wave),
        exports.build_tracker_sav(
            question=wave.question,
            waves=[(1, "1", frame), (2, "2027-01", wave)],
        ),
    ):
        data, meta = read_sav(built)
        assert meta.readstat_variable_types["resp_id"] == "string"
    assert list(data["resp_id"])[-2:] == ["2001", "007"]
    assert xlsx_ids(wave) == ["2001", "007"] * 2
    assert xlsx_ids(frame)[:2] == ["1000", "1001"]


def xlsx_ids(frame) -> list:
    """The respondent ids of the frame's XLSX, its two answer sheets one after the other."""
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(exports.build_xlsx(codeframe=frame)))
    sheets = ("Answers (code list)", "Answers (0-1)")
    return [
        row[0] for title in sheets for row in workbook[title].iter_rows(min_row=2, values_only=True)
    ]


def test_long_labels_alike_once_cut_stay_apart_in_the_value_labels(codeframe):
    """SPSS value labels hold 120 bytes; two 200-character labels that differ past the cut
    came out alike, and `primary` could not tell the codes apart."""
    first, second = codeframe.codes.order_by("number")[:2]
    services.rename_code(code=first, label="É" * 200)
    services.rename_code(code=second, label="É" * 199 + "x")
    _, meta = read_sav(exports.build_sav(codeframe=codeframe))
    primary = meta.variable_value_labels["primary"]
    assert len(set(primary.values())) == len(primary)
    assert primary[float(first.number)].endswith(f"… #{first.number}")
    assert len(primary[float(second.number)].encode("utf-8")) <= 120
    assert meta.variable_value_labels[f"c{first.number}"][1] == primary[float(first.number)]


def test_the_stacked_sav_opens_in_pspp_and_its_note_defines_the_set(tmp_path, codeframe):
    """What a data processor does with the file, in GNU PSPP (SPSS's free counterpart; `make
    test` installs Debian's `pspp`): open it, paste the document note into the syntax (it
    defines the multiple dichotomy set, which pyreadstat cannot write), and run frequencies.
    The file is compressed as SPSS compresses its own; PSPP reads the codes as they were."""
    answers = ["Mortgage rates went up", "Fees went up again", "The app crashed"]
    approved, second = _two_waves(codeframe, answers)
    frames = waves.tracker_frames(question=second.question)
    path = tmp_path / "tracker.sav"
    path.write_bytes(exports.build_tracker_sav(question=second.question, waves=frames))
    _frame, meta = pyreadstat.read_sav(str(path))
    code = approved.codes.order_by("number").first()
    script = tmp_path / "check.sps"
    script.write_text(
        f"GET FILE='{path}'.\n"
        + "\n".join(meta.notes)
        + "\nMRSETS /DISPLAY NAME=[$codes].\n"
        + f"FREQUENCIES VARIABLES=wave c{code.number}.\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    done = run_pspp(script, out)
    assert done.returncode == 0, done.stdout + done.stderr
    tables = out.read_text(encoding="utf-8")
    assert "error" not in tables.lower(), tables
    rows = list(csv.reader(io.StringIO(tables)))
    mrset = next(row for row in rows if row[:1] == ["$codes"])
    numbers = sorted(c.number for c in second.codes.all())
    assert mrset[1:4] == [codeframe.question.text, "Dichotomies", "1"]
    assert mrset[4].split() == [f"c{n}" for n in numbers]
    carried = Assignment.objects.filter(code__number=code.number).count()
    base = approved.question.responses.count() + len(answers)
    # c<n>'s frequencies (the labels are PSPP's, cut to its column): "Not mentioned" the rest.
    assert ["Valid", "Not mentioned", str(base - carried)] in [row[:3] for row in rows]
    assert ["Valid", "1", str(approved.question.responses.count())] in [r[:3] for r in rows]


def test_the_monthly_files_stack_in_pspp(tmp_path, codeframe):
    """Each wave's own file, downloaded in its month, is stacked with ADD FILES: its string
    variables had the width of its own longest value, so January's file (ids R001...) and
    February's (W0, W1; a longer answer) were refused ("different type or width")."""
    approved = waves.approve_codeframe(codeframe=codeframe)
    january = tmp_path / "january.sav"
    january.write_bytes(exports.build_sav(codeframe=approved))  # before February exists
    answers = ["Mortgage rates went up a great deal this year, far more than I expected", "Fees"]
    rows = [ImportedRow(line=i, respondent_id=f"W{i}", text=t) for i, t in enumerate(answers)]
    second = waves.code_wave(codeframe=approved, rows=rows, wave="2027-01")
    february = tmp_path / "february.sav"
    february.write_bytes(exports.build_sav(codeframe=second))
    widths = [pyreadstat.read_sav(str(p))[1].variable_storage_width for p in (january, february)]
    longest = max(len(r.text.encode("utf-8")) for r in approved.question.responses.all())
    assert longest < len(answers[0]) < 1024  # February's answer is the longer one
    assert widths[0]["answer"] == widths[1]["answer"] == 4096
    assert widths[0]["resp_id"] == widths[1]["resp_id"] == 400  # "R001", "W0" padded to it
    # The newest month first: ADD FILES keeps its dictionary, which names every wave so far.
    paths = [february, january]
    script = tmp_path / "stack.sps"
    files = " ".join(f"/FILE='{p}'" for p in paths)
    script.write_text(f"ADD FILES {files}.\nFREQUENCIES VARIABLES=wave.\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    done = run_pspp(script, out)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    first_n = approved.question.responses.count()
    assert ["Valid", "1", str(first_n)] in [row[:3] for row in rows]
    assert ["", "2027-01", str(len(answers))] in [row[:3] for row in rows]
    # The values read as they were: the padding is SPSS's own, stripped on reading.
    own, _meta = read_sav(february.read_bytes())
    assert list(own["answer"]) == answers


def test_a_months_file_once_delivered_stacks_and_merges_with_every_later_month(tmp_path, codeframe):
    """The widths were each tracker's longest values, recomputed at every export: January's
    file, delivered before February's ids grew a character (R001 -> W1000) and one answer ran
    to 1,789 characters, had `resp_id` A4 and `answer` A1024, February's A5 and A4096; ADD FILES
    refused them ("different type or width"), and January's file downloaded again no longer
    merged (MATCH FILES /BY resp_id) with the survey file built from the first download."""
    approved = waves.approve_codeframe(codeframe=codeframe)
    january = tmp_path / "january.sav"
    january.write_bytes(exports.build_sav(codeframe=approved))  # delivered before February
    answers = ["Fees went up, " * 127 + "again", "The app crashed"]  # 1,783 characters
    rows = [
        ImportedRow(line=i, respondent_id=f"W{1000 + i}", text=t) for i, t in enumerate(answers)
    ]
    second = waves.code_wave(codeframe=approved, rows=rows, wave="2027-01")
    february = tmp_path / "february.sav"
    february.write_bytes(exports.build_sav(codeframe=second))
    again = tmp_path / "january-again.sav"
    again.write_bytes(exports.build_sav(codeframe=approved))
    widths = [
        pyreadstat.read_sav(str(p))[1].variable_storage_width for p in (january, february, again)
    ]
    assert [w["resp_id"] for w in widths] == [400] * 3
    assert [w["answer"] for w in widths] == [4096] * 3
    survey = tmp_path / "survey.sav"
    script = tmp_path / "stack.sps"
    script.write_text(
        # The survey's own file, keyed as January's first download was.
        f"GET FILE='{january}' /KEEP=resp_id.\nSORT CASES BY resp_id.\nSAVE OUTFILE='{survey}'.\n"
        f"GET FILE='{again}'.\nSORT CASES BY resp_id.\n"
        f"MATCH FILES /FILE='{survey}' /FILE=* /BY resp_id.\n"
        "FREQUENCIES VARIABLES=wave.\n"
        f"ADD FILES /FILE='{february}' /FILE='{january}'.\n"
        "FREQUENCIES VARIABLES=wave.\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    done = run_pspp(script, out)
    assert done.returncode == 0, done.stdout + done.stderr
    tables = out.read_text(encoding="utf-8")
    assert "error" not in tables.lower(), tables
    rows = [row[:3] for row in csv.reader(io.StringIO(tables))]
    first_n = str(approved.question.responses.count())
    assert rows.count(["Valid", "1", first_n]) == 2  # merged, then stacked
    assert ["", "2027-01", "2"] in rows
    own, _meta = read_sav(february.read_bytes())
    assert list(own["resp_id"]) == ["W1000", "W1001"] and list(own["answer"]) == answers


def test_the_dp_is_told_when_ids_make_resp_id_a_string_in_every_months_file(
    tmp_path, staff_client, api_client
):
    """One id that is no whole number ("01251" among 1001...) in a later wave turns `resp_id`
    from numeric to string in every wave's file, January's too, so the January file a DP was
    given no longer stacks with the new ones. The rule stays (the files must have one type to
    stack), but it was said nowhere: the command, the wave's page and job, the API's job and
    an import into a wave now say so when it happens, and only then."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    frame = numbered_frame(first_id=1001)
    _, meta = read_sav(exports.build_sav(codeframe=frame))
    assert meta.readstat_variable_types["resp_id"] == "double"  # January's file, delivered

    def code_wave(wave, ids) -> str:
        path = tmp_path / f"{wave}.csv"
        lines = "".join(f"{i},{t}\n" for i, t in zip(ids, ANSWERS, strict=False))
        path.write_text("id,answer\n" + lines, encoding="utf-8")
        err = io.StringIO()
        args = [str(path), "--codeframe", str(frame.pk), "--wave", wave, "--id-column", "id"]
        call_command("code_wave", *args, stdout=io.StringIO(), stderr=err)
        return " ".join(err.getvalue().split())

    assert code_wave("2027-01", ["1101", "1102"]) == ""  # still whole numbers: nothing to say
    said = code_wave("2027-02", ["1201", "01251"])
    assert said.startswith("Respondent id “01251” is not a whole number")
    assert "resp_id is a string, not a number, in every SPSS file" in said
    assert "download the earlier months again" in said
    _, meta = read_sav(exports.build_sav(codeframe=frame))
    assert meta.readstat_variable_types["resp_id"] == "string"  # as the notice said
    assert code_wave("2027-03", ["1301", "A12"]) == ""  # strings already: nothing changes

    # Through the wave's page (the job page and the API's job say it too) and an import into
    # a wave: a second tracker, numeric again.
    second = services.import_responses(
        rows=[ImportedRow(line=i, respondent_id=str(1 + i), text=t) for i, t in enumerate(ANSWERS)],
        survey="Numbered 2",
        question_text="Why?",
    ).question
    other = waves.approve_codeframe(codeframe=services.create_codeframe(question=second, n_codes=3))
    csv_file = SimpleUploadedFile("wave.csv", b"Serial,Answer\n2001,Fees\n2002,The app\n")
    form = {"wave": "2027-01", "file": csv_file, "id_column": "Serial"}
    url = reverse("codeframe:wave-new", args=[other.pk])
    reply = staff_client.post(url, form, follow=True)
    assert not [m for m in reply.context["messages"] if "resp_id" in str(m)]  # whole numbers
    upload = SimpleUploadedFile("late.csv", b"Serial,Answer\n0042,Late fees\n")
    wave_question = other.question.later_waves.get()
    imported = staff_client.post(
        reverse("codeframe:question-import-more", args=[wave_question.pk]),
        {"file": upload, "id_column": "Serial"},
        follow=True,
    )
    shown = [str(m) for m in imported.context["messages"]]
    assert any(m.startswith("Respondent id “0042” is not a whole number") for m in shown)

    third = services.import_responses(
        rows=[ImportedRow(line=i, respondent_id=str(1 + i), text=t) for i, t in enumerate(ANSWERS)],
        survey="Numbered 3",
        question_text="Why?",
    ).question
    another = waves.approve_codeframe(
        codeframe=services.create_codeframe(question=third, n_codes=3)
    )
    csv_file = SimpleUploadedFile("wave.csv", b"Serial,Answer\nW-7,Fees\n")
    form = {"wave": "2027-01", "file": csv_file, "id_column": "Serial"}
    reply = staff_client.post(reverse("codeframe:wave-new", args=[another.pk]), form, follow=True)
    shown = [str(m) for m in reply.context["messages"]]
    assert any(m.startswith("Respondent id “W-7” is not a whole number") for m in shown)
    job = another.question.later_waves.get().jobs.get()
    job_page = staff_client.get(reverse("codeframe:job-detail", args=[job.pk]), {"stay": 1})
    assert 'id="job-notice"' in job_page.content.decode() and "“W-7”" in job_page.content.decode()
    body = api_client.get(f"/api/jobs/{job.pk}/").json()
    assert body["notice"].startswith("Respondent id “W-7” is not a whole number")

    # The import command into a wave says it too; a new question's first ids never do.
    path = tmp_path / "late.csv"
    path.write_text("id,answer\nX1,Late\n", encoding="utf-8")
    err = io.StringIO()
    call_command(
        "import_responses",
        str(path),
        "--question",
        str(second.pk),
        "--id-column",
        "id",
        stdout=io.StringIO(),
        stderr=err,
    )
    assert "is not a whole number" not in err.getvalue()  # the tracker was strings already
    fresh = tmp_path / "fresh.csv"
    fresh.write_text("id,answer\n5,Fees\n", encoding="utf-8")
    err = io.StringIO()
    call_command("import_responses", str(fresh), "--survey", "S", stdout=io.StringIO(), stderr=err)
    new = Question.objects.get(survey="S")
    fresh.write_text("id,answer\nR9,Late\n", encoding="utf-8")
    call_command(
        "import_responses",
        str(fresh),
        "--question",
        str(new.pk),
        "--id-column",
        "id",
        stdout=io.StringIO(),
        stderr=err,
    )
    assert " ".join(err.getvalue().split()).startswith("Respondent id “R9” is not a whole")
