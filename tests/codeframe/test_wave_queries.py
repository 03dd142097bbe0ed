"""A monthly tracker's pages of a wave read as many queries at its 24th wave as at its third
(every one reads the tracker's waves: one query a wave, twice or three times a page, before),
and its tracker page a few more a wave for its panel, not the 10 a wave it read before."""

from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from codeframe import waves
from tests.codeframe.test_waves import NEXT_WAVE, approved, rows  # noqa: F401 - a fixture

# The tracker page pairs each wave's panel respondents with the wave before's, and leaves out
# the answers imported since the wave was coded: a query or two a wave, no more.
TRACKER_PER_WAVE = 3


def test_a_trackers_pages_read_no_more_queries_as_waves_are_added(approved, client):  # noqa: F811
    client.force_login(get_user_model().objects.create_superuser("dp", password="pw-dp-12345"))
    tracker_url = reverse("codeframe:question-tracker", args=[approved.question.pk])

    def queries(frame) -> dict[str, int]:
        pages = {
            "approved frame": approved.get_absolute_url(),
            "wave frame": frame.get_absolute_url(),
            "wave question": frame.question.get_absolute_url(),
            "tracker": tracker_url,
        }
        counted = {}
        for name, url in pages.items():
            with CaptureQueriesContext(connection) as captured:
                assert client.get(url).status_code == 200
            counted[name] = len(captured.captured_queries)
        return counted

    for month in (1, 2):  # two panel waves: the tracker pairs their respondents
        last = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave=f"2027-0{month}")
    three = queries(last)
    for month in range(3, 6):
        last = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave=f"2027-0{month}")
    six = queries(last)
    assert {name: six[name] for name in three if name != "tracker"} == {
        name: n for name, n in three.items() if name != "tracker"
    }
    assert six["tracker"] <= three["tracker"] + 3 * TRACKER_PER_WAVE
