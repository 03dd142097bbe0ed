"""A tracker's exports: a registry (`exports.TRACKER_EXPORTERS`) that the tracker page lists
and serves by `?format=`, as the codeframe's exports are."""

import csv
import io

import pytest
from django.urls import reverse

from codeframe import exports, waves
from codeframe.exports.base import BaseTrackerExporter
from codeframe.importers import ImportedRow
from codeframe.models import Question

pytestmark = pytest.mark.django_db


def second_wave(codeframe):
    approved = waves.approve_codeframe(codeframe=codeframe)
    answers = ["Fees went up again", "The app crashed", "=1+1"]
    rows = [ImportedRow(line=i, respondent_id=f"W{i}", text=t) for i, t in enumerate(answers)]
    return waves.code_wave(codeframe=approved, rows=rows, wave="2027-01")


def test_the_registry_lists_the_trackers_formats_and_names_them_when_asked_for_another():
    assert [(e.format, e.media_type) for e in exports.TRACKER_EXPORTERS] == [
        ("csv", "text/csv; charset=utf-8"),
        ("sav", "application/x-spss-sav"),
    ]
    assert exports.get_tracker_exporter("sav").label.endswith("(SPSS .sav)")
    with pytest.raises(exports.UnknownExport, match=r"\.csv, \.sav"):
        exports.get_tracker_exporter("xlsx")


def test_the_tracker_page_links_and_serves_every_registered_format(staff_client, codeframe):
    """Each as the page served it before the registry: the same bytes, type and name."""
    wave = second_wave(codeframe)
    url = reverse("codeframe:question-tracker", args=[wave.question_id])
    page = staff_client.get(url).content.decode()
    for exporter in exports.TRACKER_EXPORTERS:
        assert f'<a href="?format={exporter.format}">' in page
        response = staff_client.get(url, {"format": exporter.format})
        assert response.status_code == 200
        assert response["Content-Type"] == exporter.media_type
        assert response["Content-Disposition"] == (
            f'attachment; filename="tracker-bank-nps-2026.{exporter.format}"'
        )
    table = staff_client.get(url, {"format": "csv"}).content
    assert table == exports.get_tracker_exporter("csv").render(question=wave.question)
    rows = list(csv.DictReader(io.StringIO(table.decode("utf-8-sig"))))
    assert {row["wave"] for row in rows} == {"1", "2027-01"}


def test_a_format_the_tracker_has_not_is_a_404_not_the_page(staff_client, codeframe):
    """`?format=xlsx` answered 200 with the tracker's HTML page: a script asking for a file
    the tracker does not make got a page, without a word."""
    wave = second_wave(codeframe)
    url = reverse("codeframe:question-tracker", args=[wave.question_id])
    refused = staff_client.get(url, {"format": "xlsx"})
    assert refused.status_code == 404
    assert staff_client.get(url, {"format": ""}).status_code == 200  # the page


class _StackedText(BaseTrackerExporter):
    format = "txt"
    media_type = "text/plain; charset=utf-8"
    label = "Every wave's answers, as text"

    def render(self, *, question: Question) -> bytes:
        return "\n".join(
            f"{number}\t{answer.text}"
            for number, _label, frame in waves.tracker_frames(question=question)
            for answer in frame.question.responses.order_by("position")
        ).encode("utf-8")


def test_a_new_tracker_format_is_one_class_in_the_registry(staff_client, codeframe, monkeypatch):
    """No edit to the view, the template or the URL: the page lists the class and serves it."""
    wave = second_wave(codeframe)
    monkeypatch.setattr(exports, "TRACKER_EXPORTERS", (*exports.TRACKER_EXPORTERS, _StackedText()))
    url = reverse("codeframe:question-tracker", args=[wave.question_id])
    page = staff_client.get(url).content.decode()
    assert '<a href="?format=txt">Every wave&#x27;s answers, as text</a>' in page
    response = staff_client.get(url, {"format": "txt"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    assert response["Content-Disposition"] == 'attachment; filename="tracker-bank-nps-2026.txt"'
    lines = response.content.decode().splitlines()
    assert lines[-3:] == ["2\tFees went up again", "2\tThe app crashed", "2\t=1+1"]
    assert lines[0].startswith("1\t")
