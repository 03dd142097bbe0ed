"""The labelled dataset behind the statistics packages' files (`exports.dataset`): built once,
written by the .sav writer, and enough for another writer (Stata's, here) without SPSS's
details."""

import math
import os
import tempfile

import pyreadstat
import pytest

from codeframe import services, waves
from codeframe.exports import build_sav, build_tracker_sav
from codeframe.exports.dataset import (
    LabelledDataset,
    LabelLimits,
    codeframe_dataset,
    tracker_dataset,
)
from codeframe.exports.spss import SPSS_LIMITS, write_sav
from codeframe.importers import ImportedRow

pytestmark = pytest.mark.django_db


def read_sav(content: bytes):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "read.sav")
        with open(path, "wb") as handle:
            handle.write(content)
        return pyreadstat.read_sav(path)


def _header_free(content: bytes) -> bytes:
    """The .sav bytes without the header's creation date and time."""
    return content[:92] + content[109:]


def two_waves(codeframe, answers):
    approved = waves.approve_codeframe(codeframe=codeframe)
    rows = [ImportedRow(line=i, respondent_id=f"W{i}", text=t) for i, t in enumerate(answers)]
    return approved, waves.code_wave(codeframe=approved, rows=rows, wave="2027-01")


def test_the_sav_files_are_their_datasets_written(codeframe):
    """`build_sav` and `build_tracker_sav` are the dataset builders then `write_sav`: the
    same bytes."""
    _approved, second = two_waves(codeframe, ["Fees went up again", "The app crashed"])
    dataset = codeframe_dataset(codeframe=second, limits=SPSS_LIMITS)
    assert _header_free(write_sav(dataset)) == _header_free(build_sav(codeframe=second))
    frames = waves.tracker_frames(question=second.question)
    stacked = tracker_dataset(question=second.question, waves=frames, limits=SPSS_LIMITS)
    built = build_tracker_sav(question=second.question, waves=frames)
    assert _header_free(write_sav(stacked)) == _header_free(built)


def test_writing_leaves_the_dataset_as_built(codeframe):
    """The .sav cuts an answer to its 4,096-byte width and pads the first row's strings: on
    its copy, so another writer given the same dataset gets the whole answer."""
    long = "🙂" * 1025  # 4,100 bytes
    _approved, second = two_waves(codeframe, [long, "The app crashed"])
    dataset = codeframe_dataset(codeframe=second, limits=SPSS_LIMITS)
    before = dataset.frame.copy()
    frame, meta = read_sav(write_sav(dataset))
    assert len(frame["answer"][0].encode("utf-8")) == 4096
    assert meta.notes[0].startswith("* 1 answer was cut to 4,096 bytes")
    assert dataset.frame.equals(before) and dataset.frame["answer"][0] == long


def test_labels_are_cut_to_the_limits_the_dataset_is_built_for(codeframe):
    """`primary` tells two long labels apart once cut, and each `c<number>` says its code as
    `primary` does, at whatever limits the format has."""
    first, second = codeframe.codes.order_by("number")[:2]
    services.rename_code(code=first, label="Fees and charges on the current account")
    services.rename_code(code=second, label="Fees and charges on the savings account")
    dataset = codeframe_dataset(codeframe=codeframe, limits=LabelLimits(variable=30, value=20))
    primary = dataset.value_labels["primary"]
    assert primary[float(first.number)] != primary[float(second.number)]
    assert primary[float(first.number)].endswith(f"… #{first.number}")
    for code in (first, second):
        label = dataset.value_labels[f"c{code.number}"][1]
        assert label == primary[float(code.number)] and len(label.encode("utf-8")) <= 20
        variable = dataset.variable_labels[f"c{code.number}"]
        assert len(variable) == 30 and variable.startswith(f"{code.number}. Fees and charges")
    assert dataset.variable_labels["wave"] == "Wave"
    assert dataset.file_label == "Bank NPS 2026"  # whole: each writer cuts it to its limit
    assert dataset.code_set.label == "Why did you give that score?"


def _write_dta(dataset: LabelledDataset, path: str) -> None:
    """What a Stata writer would do with the dataset (no Stata format is offered)."""
    pyreadstat.write_dta(
        dataset.frame,
        path,
        file_label=dataset.file_label[:80],
        column_labels={name: label[:80] for name, label in dataset.variable_labels.items()},
        variable_value_labels={
            name: {int(value): label for value, label in labels.items()}
            for name, labels in dataset.value_labels.items()
        },
        variable_format={name: f"%{w}.0f" for name, w in dataset.display_widths.items()},
    )


def test_a_second_writer_needs_nothing_but_the_dataset(tmp_path, codeframe):
    """The stacked tracker, written as Stata .dta from the same dataset the .sav is written
    from: the same variables, values, variable labels and value labels."""
    approved, second = two_waves(codeframe, ["Fees went up again", "The app crashed"])
    frames = waves.tracker_frames(question=second.question)
    dataset = tracker_dataset(question=second.question, waves=frames, limits=SPSS_LIMITS)
    path = str(tmp_path / "tracker.dta")
    _write_dta(dataset, path)
    dta, dta_meta = pyreadstat.read_dta(path)
    sav, sav_meta = read_sav(write_sav(dataset))
    assert dta_meta.column_names == sav_meta.column_names
    assert dta_meta.column_names[:4] == ["wave", "resp_id", "answer", "primary"]
    assert dta_meta.column_labels == sav_meta.column_labels
    assert dta_meta.variable_value_labels["wave"] == {1: "1", 2: "2027-01"}
    for name in sav_meta.column_names:
        expected = sav_meta.variable_value_labels.get(name, {})
        assert dta_meta.variable_value_labels.get(name, {}) == expected, name
        for ours, theirs in zip(dta[name], sav[name], strict=True):
            assert ours == theirs or (math.isnan(ours) and math.isnan(theirs)), name
    assert list(dta["wave"]) == [1.0] * approved.question.responses.count() + [2.0, 2.0]
    assert len(dataset.code_set.variables) >= 2
    assert set(dataset.code_set.variables) <= set(dta_meta.column_names)
