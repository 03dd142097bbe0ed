"""SPSS .sav (via pyreadstat): the codes as a multiple dichotomy set, as survey data processors
load coded open-ends.

Variables, in order: `wave` (the question's number in its tracker, value-labelled with the
wave's name; 1 for a question that is no tracker's wave yet, so the first month's file has the
layout of the next ones), `resp_id` (the respondent id: numeric when every id of the tracker is
a whole number, see `waves.ids`; else a string), `answer` (the verbatim), `primary` (the
primary code's number, value-labelled with every code; system-missing when uncoded), one 0/1
variable `c<number>` per code (variable label "<number>. <label>", value labels 1 = the code's
label, 0 = "Not mentioned"), then one 0/1 variable `net<number>` per net (any of its codes);
all system-missing for an answer imported after the codeframe was made and not coded since (it
was not coded, which is not "not mentioned"). Variable names follow the code numbers, which
stay the same across the waves of a tracker, so wave files stack. `build_tracker_sav` stacks
them itself: every wave of a tracker in one file, with each wave's own nets (see there).

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
from array import array

from codeframe.exports.base import BaseExporter
from codeframe.importers import MAX_ID_CHARS
from codeframe.models import Codeframe, Question
from codeframe.selectors import asked_codes, codeframe_overview, iter_coded_responses
from codeframe.waves import numeric_ids, tracker_numbering, tracker_questions

NOT_MENTIONED = "Not mentioned"
MR_SET_NAME = "$codes"
# SPSS limits, in bytes: variable labels, value labels, file label (its note lines: 80).
MAX_VARIABLE_LABEL = 256
MAX_VALUE_LABEL = 120
MAX_FILE_LABEL = 64
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


def _with_ids(data: dict, formats: dict[str, str], *, numeric: bool) -> None:
    """`resp_id` as numbers (in place), formatted as wide as the longest, when `numeric`."""
    if numeric:
        ids = data["resp_id"]
        formats["resp_id"] = f"F{max((len(i) for i in ids), default=1)}.0"
        data["resp_id"] = array("d", map(float, ids))


def build_sav(*, codeframe: Codeframe) -> bytes:
    overview = codeframe_overview(codeframe=codeframe)
    codes = sorted(overview.codes, key=lambda c: c.number)
    nets = [net for net in overview.nets if net.net is not None and net.codes]
    code_vars = {code.number: f"c{code.number}" for code in codes}
    net_vars = {net.number: f"net{net.number}" for net in nets}
    net_codes = {net.number: {row.code.number for row in net.codes} for net in nets}

    question = codeframe.question
    # Every file carries its wave's number, as in the stacked file, so the waves' files stack:
    # a first wave's too, before its tracker starts (1, named as the tracker will name it).
    wave = question.wave_order or 1
    asked = asked_codes(codeframe=codeframe)
    net_codes = {number: members & asked for number, members in net_codes.items()}
    binary = [*code_vars.values(), *net_vars.values()]
    data = _columns(binary)
    missing = float("nan")  # a code carried back later was not asked about (`asked_codes`)
    for coded in iter_coded_responses(codeframe=codeframe):
        carried = set(coded.codes)
        data["wave"].append(float(wave))
        data["resp_id"].append(coded.respondent_id)
        data["answer"].append(coded.text)
        data["primary"].append(float(coded.codes[0]) if coded.codes else missing)
        for number, name in code_vars.items():
            data[name].append(float(number in carried) if number in asked else missing)
        for number, name in net_vars.items():
            members = net_codes[number]
            data[name].append(float(bool(members & carried)) if members else missing)
        if coded.late:  # imported after the frame was made: not coded, not "not mentioned"
            for name in binary:
                data[name][-1] = missing
    formats = {"wave": "F4.0", "primary": "F8.0", **{name: "F1.0" for name in binary}}
    _with_ids(data, formats, numeric=numeric_ids(question=question))
    frame = _frame(data)
    labels, value_labels = _code_labels({code.number: code.label for code in codes})
    _add_net_labels(labels, value_labels, {net.number: net.label for net in nets})
    labels = {"wave": "Wave", **labels}
    # Every wave of the tracker so far, not this one's alone: ADD FILES keeps the first file's
    # labels, so the months stacked after it read as their names, not bare numbers.
    waves = tracker_questions(question=question)
    named = {float(q.wave_order): q.wave_name for q in waves if q.wave_order}
    named[float(wave)] = question.wave_label or str(wave)
    value_labels = {
        "wave": {number: _cut(name, MAX_VALUE_LABEL) for number, name in sorted(named.items())},
        **value_labels,
    }
    return _write_sav(
        frame,
        question=question,
        labels=labels,
        value_labels=value_labels,
        formats=formats,
        code_vars=list(code_vars.values()),
        warning=_own_numbers(codeframe),
    )


def _columns(binary: list[str]) -> dict:
    """The file's columns, filled a row at a time: the numeric ones as packed doubles
    (`array`), 8 bytes a value where a list of floats took 32, so a 50,000-answer export of 87
    codes holds 35 MB of them, not 140; `resp_id` and `answer` as lists of strings."""
    numbers = ["wave", "primary", *binary]
    return {"resp_id": [], "answer": [], **{name: array("d") for name in numbers}}


def _frame(data: dict):
    """The DataFrame of `_columns`' data, in the file's variable order (pandas copies the
    packed columns into one block: 35 MB at 50,000 answers x 87 codes, once)."""
    import numpy as np
    import pandas as pd

    order = ["wave", "resp_id", "answer", "primary"]
    names = [*order, *(name for name in data if name not in order)]
    return pd.DataFrame(
        {
            name: np.frombuffer(data[name], dtype="float64")
            if isinstance(data[name], array)
            else pd.Series(data[name])
            for name in names
        }
    )


def _own_numbers(codeframe: Codeframe) -> list[str]:
    """The note's warning for a codeframe generated afresh on a tracker's wave: its `c1` is
    not the tracker's `c1`, so its file must not be stacked with the waves' files."""
    if tracker_numbering(codeframe=codeframe) is not False:
        return []
    return textwrap.wrap(
        f"* Codeframe #{codeframe.pk} was generated afresh on this wave: its code numbers are "
        "its own, not the tracker's. Do not stack this file with the tracker's wave files.",
        width=MAX_NOTE_LINE,
    )


def build_tracker_sav(*, question: Question, waves: list[tuple[int, str, Codeframe]]) -> bytes:
    """Every wave of a tracker in one file: `waves` is (wave number, wave label, codeframe), oldest
    first (`codeframe.waves.tracker_frames`). Variables: `wave` (the wave's number, its order in
    the tracker, the same in every month's file whether or not an earlier wave is coded yet;
    value-labelled with the wave labels), then as `build_sav`: `resp_id`, `answer`, `primary`,
    `c<number>` for every code number any wave has and `net<number>` for every net number any
    wave has (with codes), each labelled as in the newest wave that has it. A code that a wave's
    codeframe does not have (a code accepted later, or deleted), or that a carry-back added to
    it after its answers were coded (`selectors.asked_codes`), is system-missing in that wave's
    rows, not 0: it was not asked about, which is not the same as not mentioned; so is a net. A
    net counts, in each wave's rows, the codes it has in that wave's codeframe (nets can be
    regrouped)."""
    per_wave = [dict(codeframe.codes.values_list("number", "label")) for *_, codeframe in waves]
    asked = [asked_codes(codeframe=codeframe) for *_, codeframe in waves]
    nets_per_wave = [
        {n: (label, members & wave_asked) for n, (label, members) in _net_codes(cf).items()}
        for (*_, cf), wave_asked in zip(waves, asked, strict=True)
    ]
    codes: dict[int, str] = {}
    nets: dict[int, str] = {}
    for wave_codes, wave_nets in zip(per_wave, nets_per_wave, strict=True):
        codes.update(wave_codes)  # the newest wave's label wins
        nets.update({number: label for number, (label, _) in wave_nets.items()})
    code_vars = {number: f"c{number}" for number in sorted(codes)}
    net_vars = {number: f"net{number}" for number in sorted(nets)}
    data = _columns([*code_vars.values(), *net_vars.values()])
    rows = zip(waves, asked, nets_per_wave, strict=True)
    for (wave_number, _label, codeframe), present, wave_nets in rows:
        for coded in iter_coded_responses(codeframe=codeframe):
            carried = set(coded.codes)
            data["wave"].append(float(wave_number))
            data["resp_id"].append(coded.respondent_id)
            data["answer"].append(coded.text)
            data["primary"].append(float(coded.codes[0]) if coded.codes else float("nan"))
            for number, name in code_vars.items():
                data[name].append(float(number in carried) if number in present else float("nan"))
            for number, name in net_vars.items():
                members = wave_nets.get(number, (None, None))[1]
                data[name].append(float(bool(members & carried)) if members else float("nan"))
            if coded.late:  # as in build_sav
                for name in [*code_vars.values(), *net_vars.values()]:
                    data[name][-1] = float("nan")
    formats = {
        "wave": "F4.0",
        "primary": "F8.0",
        **{name: "F1.0" for name in [*code_vars.values(), *net_vars.values()]},
    }
    _with_ids(data, formats, numeric=numeric_ids(question=question))
    frame = _frame(data)
    code_labels, code_value_labels = _code_labels(codes)
    _add_net_labels(code_labels, code_value_labels, nets)
    labels = {"wave": "Wave", **code_labels}
    value_labels = {
        "wave": {float(number): _cut(label, MAX_VALUE_LABEL) for number, label, _ in waves},
        **code_value_labels,
    }
    return _write_sav(
        frame,
        question=question,
        labels=labels,
        value_labels=value_labels,
        formats=formats,
        code_vars=list(code_vars.values()),
    )


def _net_codes(codeframe: Codeframe) -> dict[int, tuple[str, set[int]]]:
    """Net number -> (label, its codes' numbers) of the nets of `codeframe` that have codes."""
    nets: dict[int, tuple[str, set[int]]] = {}
    rows = codeframe.codes.filter(net__isnull=False).values_list(
        "net__number", "net__label", "number"
    )
    for net_number, label, code_number in rows:
        nets.setdefault(net_number, (label, set()))[1].add(code_number)
    return nets


def _add_net_labels(labels: dict[str, str], value_labels: dict[str, dict], nets: dict[int, str]):
    """Variable and value labels of one `net<number>` per net (number -> label)."""
    short = _value_labels(nets)
    for number, label in sorted(nets.items()):
        labels[f"net{number}"] = _cut(f"Net {number}. {label}", MAX_VARIABLE_LABEL)
        value_labels[f"net{number}"] = {0: NOT_MENTIONED, 1: short[number]}


def _code_labels(codes: dict[int, str]) -> tuple[dict[str, str], dict[str, dict]]:
    """Variable and value labels of `resp_id`, `answer`, `primary` and one `c<number>` per code
    (number -> label), in number order."""
    labels = {"resp_id": "Respondent ID", "answer": "Answer (verbatim)", "primary": "Primary code"}
    short = _value_labels(codes)
    value_labels: dict[str, dict] = {"primary": {float(n): short[n] for n in sorted(codes)}}
    for number, label in sorted(codes.items()):
        labels[f"c{number}"] = _cut(f"{number}. {label}", MAX_VARIABLE_LABEL)
        value_labels[f"c{number}"] = {0: NOT_MENTIONED, 1: short[number]}
    return labels, value_labels


def _value_labels(labels: dict[int, str]) -> dict[int, str]:
    """Each label (number -> label) cut to MAX_VALUE_LABEL bytes; labels alike once cut (two
    long labels that differ only past the cut) end in their number instead, as `primary`'s
    value labels must tell every code apart."""
    cut = {number: _cut(label, MAX_VALUE_LABEL) for number, label in labels.items()}
    counts: dict[str, int] = {}
    for label in cut.values():
        counts[label.casefold()] = counts.get(label.casefold(), 0) + 1
    for number, label in cut.items():
        if counts[label.casefold()] > 1 and label != labels[number]:
            ending = f"… #{number}"
            cut[number] = _cut(label, MAX_VALUE_LABEL - len(ending.encode("utf-8"))) + ending
    return cut


def _write_sav(
    frame,
    *,
    question: Question,
    labels: dict[str, str],
    value_labels: dict[str, dict],
    formats: dict[str, str],
    code_vars: list[str],
    warning: list[str] | None = None,
) -> bytes:
    """The .sav bytes of `frame`: the variables in `formats` nominal, its strings as wide as
    STRING_WIDTHS says (`_fit_strings` cuts, `_widen_strings` pads), the codes' MRSETS syntax
    in the document note after a comment counting the cuts, the survey as the file label."""
    import pyreadstat

    cuts = _fit_strings(frame)
    _widen_strings(frame, STRING_WIDTHS)
    with tempfile.TemporaryDirectory(prefix="codeframe-sav-") as folder:
        path = os.path.join(folder, "export.sav")
        pyreadstat.write_sav(
            frame,
            path,
            file_label=_cut(f"{question.survey}", MAX_FILE_LABEL),
            column_labels=labels,
            variable_value_labels=value_labels,
            variable_measure={name: "nominal" for name in formats},
            variable_format=formats,
            # SPSS's own default (bytecode compression): a 0/1 value takes a byte, not eight.
            row_compress=True,
            note=[*(warning or []), *cuts, *mrsets_syntax(question=question, variables=code_vars)],
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
                value, count = _cut(value, limit), count + 1
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


def mrsets_syntax(*, question: Question, variables: list[str]) -> list[str]:
    """SPSS syntax lines (at most MAX_NOTE_LINE bytes each, the width of a file's document
    lines) defining the codes as one multiple dichotomy set with counted value 1."""
    if len(variables) < 2:  # SPSS wants at least two variables in a set
        return []
    # Quotes are doubled inside the label: cut the text until the quoted label fits its line.
    room = MAX_NOTE_LINE - len("  LABEL=''")
    # One line: a question text of several lines would break the syntax pasted from the note.
    label = _cut(" ".join((question.text or question.survey).split()), room)
    while len(label.replace("'", "''").encode("utf-8")) > room:
        label = _cut(label, len(label.encode("utf-8")) - 1)
    label = label.replace("'", "''")
    first, rest = "  VARIABLES=", "    "
    names = textwrap.wrap(
        " ".join(variables), width=MAX_NOTE_LINE - len(first), break_long_words=False
    )
    return [
        f"MRSETS /MDGROUP NAME={MR_SET_NAME}",
        f"  LABEL='{label}'",
        "  CATEGORYLABELS=VARLABELS",
        *((first if i == 0 else rest) + line for i, line in enumerate(names)),
        "  VALUE=1.",
    ]


def _cut(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` of UTF-8, never inside a character."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


class SPSSExporter(BaseExporter):
    format = "sav"
    media_type = "application/x-spss-sav"
    label = "SPSS (.sav)"

    def render(self, *, codeframe: Codeframe) -> bytes:
        return build_sav(codeframe=codeframe)
