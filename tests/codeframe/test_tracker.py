"""codeframe.tracker: shares per wave, the change and its z-test, the CSV and the SVG chart."""

import csv
import io
import math
import random
import re
import xml.etree.ElementTree as ET

import pytest
from scipy.stats import chi2, chi2_contingency

from codeframe.tracker import (
    CSV_HEADER,
    Overlap,
    Pairs,
    WaveCounts,
    top_codes,
    tracker,
    tracker_csv,
    tracker_svg,
    two_proportion_z_test,
)

CODES = {1: "Fees too high", 2: "App crashes", 3: '<Staff> & "service"'}
WAVES = [
    WaveCounts("2026-11", 100, {1: 45, 2: 10, 3: 5}),
    WaveCounts("2026-12", 100, {1: 60, 2: 11}),
    WaveCounts("2027-01", 0, {}),
    WaveCounts("2027-02", 400, {1: 240, 2: 44, 3: 20}),
]


def test_z_test_on_a_known_case():
    # 45/100 -> 60/100: pooled p = 0.525, se = sqrt(.525 * .475 * (1/100 + 1/100)) = 0.07062,
    # z = 0.15 / 0.07062 = 2.124, two-sided p = 0.0337: significant at 95%.
    z, p = two_proportion_z_test(45, 100, 60, 100)
    assert z == pytest.approx(2.1240, abs=1e-4)
    assert p == pytest.approx(0.03367, abs=1e-5)
    # The same test as a 2x2 chi-square without continuity correction: chi2 = z^2, same p.
    chi2, p_chi2, _, _ = chi2_contingency([[45, 55], [60, 40]], correction=False)
    assert chi2 == pytest.approx(z * z) and p_chi2 == pytest.approx(p)
    assert two_proportion_z_test(60, 100, 45, 100)[0] == pytest.approx(-z)
    assert two_proportion_z_test(0, 50, 0, 80) == (0.0, 1.0)
    with pytest.raises(ValueError):
        two_proportion_z_test(1, 0, 1, 10)
    with pytest.raises(ValueError):
        two_proportion_z_test(11, 10, 1, 10)


def test_a_panels_change_is_tested_on_its_pairs():
    """100 respondents asked twice: 30 carry the code both times, 5 lost it, 15 gained it (35%
    -> 45%). As independent samples that is no significant change (z = 1.44); as the same
    people it is McNemar's test, (15 - 5) / sqrt(15 + 5) = 2.236."""
    panel = Pairs(shared=100, first=35, second=45, both=30)
    z, p = two_proportion_z_test(35, 100, 45, 100, pairs=panel)
    assert z == pytest.approx(10 / math.sqrt(20))
    assert p == pytest.approx(chi2.sf((15 - 5) ** 2 / (15 + 5), df=1))  # McNemar, uncorrected
    assert p < 0.05 < two_proportion_z_test(35, 100, 45, 100)[1]
    # No respondent shared: the two-sample test, unchanged.
    assert two_proportion_z_test(35, 100, 45, 100, pairs=Pairs(0, 0, 0, 0)) == (
        two_proportion_z_test(35, 100, 45, 100)
    )
    # Half shared, 15 of them with the code both times and none changed: the change is the
    # other 50's, 20 -> 30, pooled 0.5: z = 0.1 / sqrt(.25 * (50 + 50) / 100^2) = 2.0.
    half = two_proportion_z_test(35, 100, 45, 100, pairs=Pairs(50, 15, 15, 15))[0]
    assert half == pytest.approx(2.0)
    # Panel members unlike the new respondents (30 of 90 with the code both times, none
    # changed; 0 of 10 new ones, then 3 of 10): only the new ones changed, z = 1.88, not the
    # 2.98 a covariance taken from the whole sample's share gave.
    z, p = two_proportion_z_test(30, 100, 33, 100, pairs=Pairs(90, 30, 30, 30))
    assert z == pytest.approx(0.03 / math.sqrt(0.15 * 0.85 * 20 / 100**2)) and p > 0.05
    # Nothing varies (the pairs unchanged, the others all alike): nothing to test.
    assert two_proportion_z_test(40, 100, 40, 100, pairs=Pairs(60, 0, 0, 0)) == (0.0, 1.0)
    for bad in (
        Pairs(101, 0, 0, 0),
        Pairs(50, 10, 10, 11),
        Pairs(50, 36, 0, 0),
        Pairs(50, 51, 0, 0),
    ):
        with pytest.raises(ValueError, match="pairs"):
            two_proportion_z_test(35, 100, 45, 100, pairs=bad)


def test_a_panels_test_holds_its_level_when_the_panel_differs_from_new_respondents():
    """Under no change, a test at 95% flags about 5% of waves. Panel members who carry the code
    more often than the new respondents (p 0.5 against 0.1, the waves' shares alike), and who
    mostly answer as before: 2,000 seeded pairs of waves of 200, half of them shared. A
    covariance estimated from the whole sample's share flagged 29% of them."""
    rng = random.Random(0)
    flagged = 0
    for _ in range(2000):
        panel_then = [rng.random() < 0.5 for _ in range(100)]
        panel_now = [y if rng.random() < 0.9 else rng.random() < 0.5 for y in panel_then]
        new_then = sum(rng.random() < 0.1 for _ in range(100))
        new_now = sum(rng.random() < 0.1 for _ in range(100))
        pairs = Pairs(
            100,
            sum(panel_then),
            sum(panel_now),
            sum(a and b for a, b in zip(panel_then, panel_now)),
        )
        x1, x2 = pairs.first + new_then, pairs.second + new_now
        flagged += two_proportion_z_test(x1, 200, x2, 200, pairs=pairs)[1] < 0.05
    assert 0.03 < flagged / 2000 < 0.07


def test_a_waves_respondents_from_the_wave_before_are_paired_in_its_tests():
    waves = [
        WaveCounts("2026-11", 100, {1: 35, 2: 10}),
        WaveCounts(
            "2026-12", 100, {1: 45, 2: 12}, overlap=Overlap(100, {1: (35, 45, 30), 2: (10, 12, 9)})
        ),
    ]
    table = tracker(waves, codes={1: "Fees", 2: "App"})
    fees = table.cells[("2026-12", 1)]
    assert (fees.paired, fees.significant) == (100, True)
    assert fees.z == two_proportion_z_test(35, 100, 45, 100, pairs=Pairs(100, 35, 45, 30))[0]
    # A code none of the shared respondents carries: pairs of zeros, not a missing test.
    half = [WaveCounts("a", 100, {2: 10}), WaveCounts("b", 100, {2: 12}, overlap=Overlap(50, {}))]
    app = tracker(half, codes={2: "App"}).cells[("b", 2)]
    assert app.z == two_proportion_z_test(10, 100, 12, 100, pairs=Pairs(50, 0, 0, 0))[0]
    assert table.cells[("2026-11", 1)].paired == 0 and table.shared == {"2026-12": 100}
    rows = csv.DictReader(io.StringIO(tracker_csv(table).lstrip("\ufeff")))
    assert [row["paired"] for row in rows] == ["", "100", "", "100"]


def test_shares_changes_and_significance_per_wave():
    table = tracker(WAVES, codes=CODES)
    fees = table.row(1)
    assert [c.share for c in fees] == [0.45, 0.60, None, 0.60]
    assert fees[0].change is None and not fees[0].significant
    assert fees[1].change == pytest.approx(0.15) and fees[1].significant
    assert fees[2].change is None  # an empty wave has no share...
    assert fees[3].change is None  # ...so the next one has nothing to compare with
    app = table.row(2)
    assert app[1].change == pytest.approx(0.01) and not app[1].significant
    staff = table.row(3)
    assert staff[1].count == 0 and staff[1].share == 0.0  # missing counts are zeros
    assert staff[1].p == pytest.approx(two_proportion_z_test(5, 100, 0, 100)[1])
    assert staff[1].significant  # 5% -> 0% of 100: z = 2.29
    with pytest.raises(ValueError, match="unique"):
        tracker([WAVES[0], WAVES[0]], codes=CODES)
    with pytest.raises(ValueError, match="counts 101 of 100"):
        tracker([WaveCounts("w", 100, {1: 101})], codes=CODES)


def test_csv_is_the_table_behind_the_chart():
    text = tracker_csv(tracker(WAVES[:2], codes={**CODES, 4: "=HYPERLINK()"}))
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0] == CSV_HEADER
    assert rows[1] == ["code", "2026-11", "1", "Fees too high", "45", "100", "0.4500"] + [
        ""
    ] * 7 + ["0"]
    assert rows[2][:8] == ["code", "2026-12", "1", "Fees too high", "60", "100", "0.6000", "0.1500"]
    assert rows[2][10] == "yes" and rows[4][10] == "no"
    assert rows[-1][3] == "'=HYPERLINK()"
    assert len(rows) == 1 + 2 * 4

    nets = tracker(
        [WaveCounts("2026-11", 100, {7: 50}), WaveCounts("2026-12", 100, {7: 65})],
        codes={7: "Money"},
    )
    rows = list(
        csv.reader(io.StringIO(tracker_csv(tracker(WAVES[:2], codes=CODES), nets=nets)[1:]))
    )
    assert [r[0] for r in rows[1:]] == ["code"] * 6 + ["net"] * 2
    assert rows[-1][:8] == ["net", "2026-12", "7", "Money", "65", "100", "0.6500", "0.1500"]


def test_svg_is_well_formed_escaped_and_marks_significant_changes():
    svg = tracker_svg(tracker(WAVES, codes=CODES), title="Why <that> score?")
    root = ET.fromstring(svg)  # well-formed XML, labels escaped
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert "Why <that> score?" in texts and '3. <Staff> & "service"' in texts
    assert [w for w in ("2026-11", "2026-12", "2027-01", "2027-02") if w in texts] == [
        "2026-11",
        "2026-12",
        "2027-01",
        "2027-02",
    ]
    rings = [c for c in root.iter(f"{ns}circle") if c.get("class") == "significant"]
    assert len(rings) == 2  # fees 45% -> 60%, staff 5% -> 0%
    points = [c for c in root.iter(f"{ns}circle") if c.get("class") is None]
    assert len(points) == 3 * 3  # three codes, three waves with answers
    tips = [t.text for c in points for t in c.iter(f"{ns}title")]
    assert "1. Fees too high, 2026-12: 60.0% (60 of 100), +15.0 points (significant at 95%)" in tips
    assert "script" not in svg.lower() and "http://" not in svg.replace(
        "http://www.w3.org/2000/svg", ""
    )
    assert math.isclose(float(root.get("width")), 720)


def test_the_chart_shows_first_the_largest_codes_of_the_newest_wave_with_answers():
    waves = [
        WaveCounts("a", 100, {1: 50, 2: 10, 3: 30}),
        WaveCounts("b", 100, {1: 5, 2: 40, 3: 30}),
        WaveCounts("c", 0, {}),  # no answers yet: the wave before decides
    ]
    table = tracker(waves, codes=CODES)
    assert top_codes(table, 2) == [2, 3]
    assert top_codes(table) == [1, 2, 3]
    tied = tracker([WaveCounts("a", 10, {2: 3, 3: 3})], codes=CODES)
    assert top_codes(tied, 1) == [2]  # ties: the lower number
    assert top_codes(tracker([WaveCounts("a", 0, {})], codes=CODES), 2) == [1, 2]
    # A newest wave of a low base does not pick them (its ties, 1 answer each, would)...
    small = [WaveCounts("a", 100, {1: 10, 2: 40, 3: 30}), WaveCounts("b", 19, {1: 1, 2: 1})]
    assert top_codes(tracker(small, codes=CODES), 2) == [2, 3]
    # ...unless no wave has more answers.
    assert top_codes(tracker(small[1:], codes=CODES), 2) == [1, 2]


def test_bases_per_wave_and_low_bases():
    table = tracker([*WAVES, WaveCounts("2027-03", 29, {1: 3})], codes=CODES)
    assert table.bases == {
        "2026-11": 100,
        "2026-12": 100,
        "2027-01": 0,
        "2027-02": 400,
        "2027-03": 29,
    }
    assert table.low_bases() == ["2027-03"]  # an empty wave has no shares to doubt


def test_a_change_from_or_to_a_low_base_is_not_tested():
    """1 of 2 answers after 28 of 338 read as significant (p = 0.035) on a base of 2, where the
    z-test's normal approximation does not hold: the change is shown, not tested."""
    assert two_proportion_z_test(28, 338, 1, 2)[1] < 0.05
    waves = [WaveCounts("a", 338, {1: 28}), WaveCounts("b", 2, {1: 1})]
    waves += [WaveCounts("c", 338, {1: 28}), WaveCounts("d", 30, {1: 12})]
    cells = tracker(waves, codes={1: "Fees"}).row(1)
    assert [round(c.change, 4) if c.change is not None else None for c in cells] == [
        None,
        0.4172,
        -0.4172,
        0.3172,
    ]
    assert [(c.z is None, c.p is None, c.significant) for c in cells[1:3]] == [
        (True, True, False)
    ] * 2
    assert cells[3].significant and cells[3].p < 0.05  # a base of 30 is tested
    text = tracker_csv(tracker(waves, codes={1: "Fees"}))
    assert text.splitlines()[2].endswith(
        ",2,0.5000,0.4172,,,,,,change not tested: a base under 30,0"
    )
    # no z, p, nor "no"; the note says why


def test_a_code_standing_for_other_codes_in_one_wave_has_no_change_there():
    both = frozenset({1, 2})
    waves = [
        WaveCounts("a", 100, {1: 40}, holds={1: both}),  # 2 merged into 1 (carried back)
        WaveCounts("b", 100, {1: 30, 2: 12}),  # coded before the merge: 2 apart
        WaveCounts("c", 100, {1: 44}, holds={1: both}),
        WaveCounts("d", 100, {1: 45}, holds={1: both}),
    ]
    row = tracker(waves, codes={1: "Fees", 2: "Charges"}).row(1)
    assert [(c.change is None, c.z is None, c.redefined) for c in row] == [
        (True, True, False),
        (True, True, True),
        (True, True, True),
        (False, False, False),
    ]
    assert [c.share for c in row] == [0.4, 0.3, 0.44, 0.45]  # shares stay
    text = tracker_csv(tracker(waves, codes={1: "Fees", 2: "Charges"}))
    rows = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    assert [row["redefined"] for row in rows][:4] == ["", "yes", "yes", ""]


def test_the_csv_and_the_api_say_why_a_figure_is_missing_or_weak():
    """A blank count is a wave not coded yet or a code its frame lacks; a blank test is a low
    base: the page marks these, the CSV and the API said nothing (a data processor could not
    tell them apart)."""
    waves = [
        WaveCounts("a", 100, {1: 40, 2: 10}),
        WaveCounts("b", 100, {1: 42}, present=frozenset({1})),
        WaveCounts("c", 40, {}, present=frozenset(), coded=False),
        WaveCounts("d", 100, {1: 45, 2: 30}),
        WaveCounts("e", 19, {1: 9, 2: 3}),
    ]
    table = tracker(waves, codes={1: "Fees", 2: "Charges"})
    assert [c.note for c in table.row(2)] == [
        "",
        "not asked in this wave",
        "not coded yet",
        "no change: the wave before is not coded yet",
        "change not tested: a base under 30",
    ]
    assert table.cells[("c", 1)].note == "not coded yet"
    after_lacking = tracker(waves[1:2] + waves[3:4], codes={2: "Charges"}).cells[("d", 2)]
    assert after_lacking.note == "no change: not asked in the wave before"
    drafted = [WaveCounts("a", 100, {1: 40}), WaveCounts("b", 100, {1: 30}, follows=False)]
    assert tracker(drafted, codes={1: "Fees"}).cells[("b", 1)].note == (
        "no change: the wave before was drafted, not coded with the frame"
    )
    empty = tracker(WAVES, codes=CODES).cells[("2027-02", 1)]
    assert empty.note == "no change: the wave before has no answers"
    first = tracker(waves[4:], codes={1: "Fees"})
    assert first.cells[("e", 1)].note == "low base: under 30 answers"
    rows = csv.DictReader(io.StringIO(tracker_csv(table).lstrip("\ufeff")))
    assert [r["note"] for r in rows if r["number"] == "2"][1:3] == [
        "not asked in this wave",  # as the codeframe page and the API's `asked` say it
        "not coded yet",
    ]


def test_a_code_a_waves_frame_lacks_has_no_share_there():
    """Not asked about is not 0%: no share in that wave, no change into or out of it."""
    waves = [
        WaveCounts("a", 100, {1: 40, 2: 10}),
        WaveCounts("b", 100, {1: 42}, present=frozenset({1})),  # code 2 regrouped away
        WaveCounts("c", 100, {1: 45, 2: 30}),
    ]
    table = tracker(waves, codes={1: "Fees", 2: "Staff"})
    b, c = table.cells[("b", 2)], table.cells[("c", 2)]
    assert (b.share, b.change, b.p, b.significant) == (None, None, None, False)
    assert c.share == 0.3 and c.change is None and c.p is None  # nothing to compare with
    assert table.cells[("b", 1)].change == pytest.approx(0.02)
    text = tracker_csv(table)
    assert "code,b,2,Staff,,100,,,,," in text and b.count is None  # not asked: no count


def test_a_change_is_exact_so_pages_round_it_as_the_shares():
    """29/200 - 24/200 in floats is 0.024999..., shown "+2" beside 15 % and 12 %."""
    table = tracker(
        [WaveCounts("a", 200, {1: 24}), WaveCounts("b", 200, {1: 29})], codes={1: "Fees"}
    )
    assert table.cells[("b", 1)].change == 0.025


@pytest.mark.parametrize(
    ("share", "shown"),
    [(0.135, 14), (0.025, 3), (27 / 200, 14), (4 / 160, 3), (-0.025, -3), (-0.0725, -7), (0, 0)],
)
def test_pages_round_percent_halves_away_from_zero(share, shown):
    """As survey tables do; widthratio took 2.5% to 2 and 13.5% to 14 on one page."""
    from django.template import Context, Template

    rendered = Template("{% load codeframe_numbers %}{{ share|percent }}").render(
        Context({"share": share})
    )
    assert rendered == str(shown)


@pytest.mark.parametrize(
    ("before", "after", "shown"),
    [
        # 4.45% -> 4.96%: the exact change 0.51 would print "+0.5" beside 4.5 % and 5.0 %.
        ((89, 2000), (992, 20000), ("4.5", "5.0", "+0.5")),
        ((44, 1000), (50, 1000), ("4.4", "5.0", "+0.6")),
        ((45, 1000), (44, 1000), ("4.5", "4.4", "-0.1")),
        ((1, 200), (1, 200), ("0.5", "0.5", "0.0")),
    ],
)
def test_the_tracker_table_shows_one_decimal_and_changes_that_add_up(before, after, shown):
    """Shares and changes rounded apart read "4 % -> 5 %, change 0": the change shown is the
    difference of the shares shown."""
    from django.template import Context, Template

    table = tracker(
        [WaveCounts("a", before[1], {1: before[0]}), WaveCounts("b", after[1], {1: after[0]})],
        codes={1: "Fees"},
    )
    first, second = table.row(1)
    rendered = Template(
        "{% load codeframe_numbers %}{{ a.share|percent1 }}|{{ b.share|percent1 }}|"
        "{{ b|change_points }}|{{ a|change_points }}"
    ).render(Context({"a": first, "b": second}))
    assert rendered == "|".join(shown) + "|"
    before_shown, after_shown, change = shown
    assert float(after_shown) - float(before_shown) == pytest.approx(float(change))


def test_chart_gridlines_are_labelled_as_they_lie():
    from codeframe.tracker.svg import _tick

    assert [_tick(0.1 * s / 4) for s in range(5)] == ["0%", "2.5%", "5%", "7.5%", "10%"]


@pytest.mark.parametrize(
    ("highest", "ticks"),
    [
        (0.03, ["0%", "2.5%", "5%", "7.5%", "10%"]),
        (0.14, ["0%", "5%", "10%", "15%"]),  # was 0, 3.8, 7.5, 11.2, 15
        (0.31, ["0%", "10%", "20%", "30%", "40%"]),  # was 0, 8.8, 17.5, 26.2, 35
        (0.5, ["0%", "20%", "40%", "60%"]),
        (0.97, ["0%", "25%", "50%", "75%", "100%"]),
    ],
)
def test_chart_gridlines_fall_on_round_shares(highest, ticks):
    """A quarter of the axis' top put gridlines at 3.8%, 8.8%, 11.2% or 26.2% (defect 5)."""
    waves = [WaveCounts("a", 100, {1: round(highest * 100)}), WaveCounts("b", 100, {1: 1})]
    svg = tracker_svg(tracker(waves, codes={1: "Fees"}))
    labels = re.findall(r'text-anchor="end">([^<]+)</text>', svg)
    assert labels == ticks
