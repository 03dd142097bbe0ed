"""The exports registry and the SPSS .sav export, read back with pyreadstat."""

import os
import tempfile

import pyreadstat
import pytest
from django.urls import reverse

from codeframe import exports, services
from codeframe.models import Assignment

pytestmark = pytest.mark.django_db


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

    frame, meta = read_sav(exports.build_sav(codeframe=codeframe))
    codes = list(codeframe.codes.order_by("number"))
    code_vars = [f"c{c.number}" for c in codes]
    assert meta.column_names[:3] == ["resp_id", "answer", "primary"]
    assert meta.column_names[3 : 3 + len(codes)] == code_vars
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
