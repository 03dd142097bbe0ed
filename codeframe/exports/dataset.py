"""A codeframe's answers as a statistics package loads them, whatever the file format: the
variables, their labels and value labels, and the codes as a multiple dichotomy set
(`LabelledDataset`). `spss.write_sav` writes one as SPSS .sav; another package's format (Stata
via `pyreadstat.write_dta`, say) is another writer of the same dataset.

Variables, in order: `wave` (the question's number in its tracker, value-labelled with the
wave's name; 1 for a question that is no tracker's wave yet, so the first month's file has the
layout of the next ones), `resp_id` (the respondent id: numeric when every id of the tracker is
a whole number, see `waves.ids`; else a string), `answer` (the verbatim), `primary` (the
primary code's number, value-labelled with every code; missing when uncoded), one 0/1
variable `c<number>` per code (variable label "<number>. <label>", value labels 1 = the code's
label, 0 = "Not mentioned"), then one 0/1 variable `net<number>` per net (any of its codes);
all missing for an answer imported after the codeframe was made and not coded since (it was
not coded, which is not "not mentioned"). Variable names follow the code numbers, which stay
the same across the waves of a tracker, so wave files stack. `tracker_dataset` stacks them
itself: every wave of a tracker in one dataset, with each wave's own nets (see there).

Labels are cut, when the dataset is built, to the byte limits of the format it is built for
(`LabelLimits`): the value labels that tell codes apart (`primary`'s) must still do once cut,
and each `c<number>` says its code as `primary` does.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from codeframe.models import Codeframe, Question
from codeframe.selectors import asked_codes, codeframe_overview, iter_coded_responses
from codeframe.waves import numeric_ids, tracker_numbering, tracker_questions

if TYPE_CHECKING:
    import pandas as pd

NOT_MENTIONED = "Not mentioned"


@dataclass(frozen=True)
class LabelLimits:
    """The most bytes of UTF-8 a format keeps of a variable label and of a value label."""

    variable: int
    value: int


@dataclass(frozen=True)
class MultipleDichotomySet:
    """The codes as survey tools tabulate them: one question, answered by the variables that
    hold `counted` (1: mentioned)."""

    label: str  # the question's text, on one line
    variables: list[str]
    counted: int = 1


@dataclass
class LabelledDataset:
    """What a writer writes. `frame` has one column per variable in the file's order: numbers
    as float64 (NaN: missing, as SPSS's system-missing), text as str. Writers do not change it
    (they work on a copy), so one dataset can be written in several formats."""

    frame: pd.DataFrame
    variable_labels: dict[str, str]
    value_labels: dict[str, dict[float, str]]
    # The numeric variables (every one a whole number: numbers, codes, 0/1, ids): how many
    # digits each is shown with. All of them are categories (nominal), none a quantity.
    display_widths: dict[str, int]
    code_set: MultipleDichotomySet
    file_label: str  # the survey's name, whole (a writer cuts it to its format's limit)
    # Sentences a reader must see before using the file (a writer puts them in its notes).
    warnings: list[str] = field(default_factory=list)


def codeframe_dataset(*, codeframe: Codeframe, limits: LabelLimits) -> LabelledDataset:
    """One codeframe's answers (its wave's), as described above."""
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
    widths = {"wave": 4, "primary": 8, **{name: 1 for name in binary}}
    _with_ids(data, widths, numeric=numeric_ids(question=question))
    labels, value_labels = _code_labels({code.number: code.label for code in codes}, limits)
    _add_net_labels(labels, value_labels, {net.number: net.label for net in nets}, limits)
    labels = {"wave": "Wave", **labels}
    # Every wave of the tracker so far, not this one's alone: ADD FILES keeps the first file's
    # labels, so the months stacked after it read as their names, not bare numbers.
    waves = tracker_questions(question=question)
    named = {float(q.wave_order): q.wave_name for q in waves if q.wave_order}
    named[float(wave)] = question.wave_label or str(wave)
    value_labels = {
        "wave": {
            number: cut_to_bytes(name, limits.value) for number, name in sorted(named.items())
        },
        **value_labels,
    }
    return LabelledDataset(
        frame=_frame(data),
        variable_labels=labels,
        value_labels=value_labels,
        display_widths=widths,
        code_set=_code_set(question, list(code_vars.values())),
        file_label=question.survey,
        warnings=_own_numbers(codeframe),
    )


def tracker_dataset(
    *, question: Question, waves: list[tuple[int, str, Codeframe]], limits: LabelLimits
) -> LabelledDataset:
    """Every wave of a tracker in one dataset: `waves` is (wave number, wave label, codeframe),
    oldest first (`codeframe.waves.tracker_frames`). Variables: `wave` (the wave's number, its
    order in the tracker, the same in every month's file whether or not an earlier wave is
    coded yet; value-labelled with the wave labels), then as `codeframe_dataset`: `resp_id`,
    `answer`, `primary`, `c<number>` for every code number any wave has and `net<number>` for
    every net number any wave has (with codes), each labelled as in the newest wave that has
    it. A code that a wave's codeframe does not have (a code accepted later, or deleted), or
    that a carry-back added to it after its answers were coded (`selectors.asked_codes`), is
    missing in that wave's rows, not 0: it was not asked about, which is not the same as not
    mentioned; so is a net. A net counts, in each wave's rows, the codes it has in that wave's
    codeframe (nets can be regrouped)."""
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
            if coded.late:  # as in codeframe_dataset
                for name in [*code_vars.values(), *net_vars.values()]:
                    data[name][-1] = float("nan")
    widths = {
        "wave": 4,
        "primary": 8,
        **{name: 1 for name in [*code_vars.values(), *net_vars.values()]},
    }
    _with_ids(data, widths, numeric=numeric_ids(question=question))
    code_labels, code_value_labels = _code_labels(codes, limits)
    _add_net_labels(code_labels, code_value_labels, nets, limits)
    labels = {"wave": "Wave", **code_labels}
    value_labels = {
        "wave": {float(number): cut_to_bytes(label, limits.value) for number, label, _ in waves},
        **code_value_labels,
    }
    return LabelledDataset(
        frame=_frame(data),
        variable_labels=labels,
        value_labels=value_labels,
        display_widths=widths,
        code_set=_code_set(question, list(code_vars.values())),
        file_label=question.survey,
    )


def cut_to_bytes(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` of UTF-8, never inside a character."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


def _code_set(question: Question, variables: list[str]) -> MultipleDichotomySet:
    # One line: a question text of several lines would break the syntax pasted from a note.
    label = " ".join((question.text or question.survey).split())
    return MultipleDichotomySet(label=label, variables=variables)


def _with_ids(data: dict, widths: dict[str, int], *, numeric: bool) -> None:
    """`resp_id` as numbers (in place), shown as wide as the longest, when `numeric`."""
    if numeric:
        ids = data["resp_id"]
        widths["resp_id"] = max((len(i) for i in ids), default=1)
        data["resp_id"] = array("d", map(float, ids))


def _columns(binary: list[str]) -> dict:
    """The dataset's columns, filled a row at a time: the numeric ones as packed doubles
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
    """The warning for a codeframe generated afresh on a tracker's wave: its `c1` is not the
    tracker's `c1`, so its file must not be stacked with the waves' files."""
    if tracker_numbering(codeframe=codeframe) is not False:
        return []
    return [
        f"Codeframe #{codeframe.pk} was generated afresh on this wave: its code numbers are "
        "its own, not the tracker's. Do not stack this file with the tracker's wave files."
    ]


def _net_codes(codeframe: Codeframe) -> dict[int, tuple[str, set[int]]]:
    """Net number -> (label, its codes' numbers) of the nets of `codeframe` that have codes."""
    nets: dict[int, tuple[str, set[int]]] = {}
    rows = codeframe.codes.filter(net__isnull=False).values_list(
        "net__number", "net__label", "number"
    )
    for net_number, label, code_number in rows:
        nets.setdefault(net_number, (label, set()))[1].add(code_number)
    return nets


def _add_net_labels(
    labels: dict[str, str],
    value_labels: dict[str, dict],
    nets: dict[int, str],
    limits: LabelLimits,
) -> None:
    """Variable and value labels of one `net<number>` per net (number -> label)."""
    short = _value_labels(nets, limits.value)
    for number, label in sorted(nets.items()):
        labels[f"net{number}"] = cut_to_bytes(f"Net {number}. {label}", limits.variable)
        value_labels[f"net{number}"] = {0: NOT_MENTIONED, 1: short[number]}


def _code_labels(
    codes: dict[int, str], limits: LabelLimits
) -> tuple[dict[str, str], dict[str, dict]]:
    """Variable and value labels of `resp_id`, `answer`, `primary` and one `c<number>` per code
    (number -> label), in number order."""
    labels = {"resp_id": "Respondent ID", "answer": "Answer (verbatim)", "primary": "Primary code"}
    short = _value_labels(codes, limits.value)
    value_labels: dict[str, dict] = {"primary": {float(n): short[n] for n in sorted(codes)}}
    for number, label in sorted(codes.items()):
        labels[f"c{number}"] = cut_to_bytes(f"{number}. {label}", limits.variable)
        value_labels[f"c{number}"] = {0: NOT_MENTIONED, 1: short[number]}
    return labels, value_labels


def _value_labels(labels: dict[int, str], max_bytes: int) -> dict[int, str]:
    """Each label (number -> label) cut to `max_bytes`; labels alike once cut (two long labels
    that differ only past the cut) end in their number instead, as `primary`'s value labels
    must tell every code apart."""
    cut = {number: cut_to_bytes(label, max_bytes) for number, label in labels.items()}
    counts: dict[str, int] = {}
    for label in cut.values():
        counts[label.casefold()] = counts.get(label.casefold(), 0) + 1
    for number, label in cut.items():
        if counts[label.casefold()] > 1 and label != labels[number]:
            ending = f"… #{number}"
            cut[number] = cut_to_bytes(label, max_bytes - len(ending.encode("utf-8"))) + ending
    return cut
