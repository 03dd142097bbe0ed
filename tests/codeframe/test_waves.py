"""codeframe.waves and `manage.py code_wave`: a new wave coded with an approved frame."""

import csv
import io
import re
import tempfile
from html import escape, unescape
from pathlib import Path

import pyreadstat
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from codeframe import carryback, exports, jobs, selectors, services, tracker, waves
from codeframe.exceptions import ImportFailed, InvalidEdit, NotApproved, SuggestionDecided
from codeframe.importers import ImportedRow
from codeframe.languages import language_of
from codeframe.models import Assignment, Code, Codeframe, Question, Response, SuggestedCode
from tests.codeframe.conftest import ANSWERS, make_question
from tests.codeframe.test_coding import FOREIGN_WAVE, LABELLED

pytestmark = pytest.mark.django_db

NEXT_WAVE = [
    "The app crashed twice this week",
    "Fees went up again",
    "Waited an hour for customer service",
    "",
    "nothing",
    "App keeps freezing on login",
]


def read_labelled(name):
    with (LABELLED / name).open(newline="", encoding="utf-8") as handle:
        return [(r["answer"], r["code"]) for r in csv.DictReader(handle)]


def rows(texts):
    return [ImportedRow(line=i, respondent_id=f"W{i}", text=t) for i, t in enumerate(texts, 1)]


def suggestion_of(frame, label, n=1):
    """A pending suggestion over `n` answers of the wave frame that the coder left uncoded (their
    codes removed here), as `suggest_codes` makes one: accepting it has answers to code."""
    taken = {pk for s in frame.suggestions.all() for pk in s.response_ids}
    ids = list(
        frame.question.responses.exclude(pk__in=taken)
        .order_by("-position")
        .values_list("pk", flat=True)[:n]
    )
    assert len(ids) == n, "the wave needs more answers"
    Assignment.objects.filter(codeframe=frame, response_id__in=ids).delete()
    return SuggestedCode.objects.create(codeframe=frame, label=label, size=n, response_ids=ids)


@pytest.fixture
def approved(codeframe):
    code = codeframe.codes.order_by("number").first()
    code.label = "Renamed by the analyst"
    code.save()
    return waves.approve_codeframe(codeframe=codeframe)


def frame_shape(codeframe):
    return [
        (c.number, c.label, c.kind, c.net.number if c.net else None, c.net.label if c.net else "")
        for c in codeframe.codes.select_related("net").order_by("number")
    ]


def test_a_wave_keeps_every_number_label_and_net_of_the_approved_frame(approved):
    stored = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    assert stored.pk != approved.pk and stored.coded_with == approved and not stored.approved
    assert frame_shape(stored) == frame_shape(approved)
    question = stored.question
    root = approved.question
    root.refresh_from_db()
    assert (root.wave_order, question.wave_order, question.wave_label) == (1, 2, "2027-01")
    assert question.tracker == root and question.survey == root.survey
    assert question.responses.count() == 5  # the blank line is skipped, as in every import
    # Every answer's codes are codes of the frame; primary exactly once when coded.
    for response in question.responses.all():
        held = Assignment.objects.filter(codeframe=stored, response=response)
        assert held.filter(is_primary=True).count() <= 1
        assert set(held.values_list("code__codeframe", flat=True)) <= {stored.pk}
    nothing = question.responses.get(text="nothing")
    na_code = Assignment.objects.get(codeframe=stored, response=nothing, is_primary=True).code
    assert na_code.kind == "non_answer"
    assert (
        sum(c.size for c in stored.codes.all())
        == Assignment.objects.filter(codeframe=stored, is_primary=True).count()
    )
    # Exports use the same numbers in both waves.
    assert exports.get_exporter("csv").render(codeframe=stored)  # renders
    header = "".join(exports.iter_csv(codeframe=stored, layout="binary")).splitlines()[0]
    old = "".join(exports.iter_csv(codeframe=approved, layout="binary")).splitlines()[0]
    assert header == old

    third = waves.code_wave(codeframe=approved, rows=rows(ANSWERS[:4]), wave="2027-02")
    assert third.question.wave_order == 3 and third.question.tracker == root
    assert [q.wave_label for q in waves.tracker_questions(question=third.question)] == [
        "1",
        "2027-01",
        "2027-02",
    ]
    table = waves.tracker_tables(question=root).codes
    assert table.waves == ["1", "2027-01", "2027-02"]
    assert set(table.codes) == {c.number for c in approved.codes.all()}
    first = approved.codes.order_by("number").first()
    cell = table.cells[("1", first.number)]
    assert cell.base == 12 and cell.count == Assignment.objects.filter(code=first).count()


def _net_counts(codeframe):
    """Net number -> distinct answers with any code of the net, counted answer by answer."""
    carried = {}
    for assignment in Assignment.objects.filter(codeframe=codeframe).select_related("code__net"):
        if assignment.code.net is not None:
            carried.setdefault(assignment.code.net.number, set()).add(assignment.response_id)
    return {number: len(answers) for number, answers in carried.items()}


def _nets_with_codes(codeframe):
    return {c.net.number: c.net.label for c in codeframe.codes.select_related("net") if c.net}


def test_the_tracker_counts_each_net_once_per_answer_with_each_waves_grouping(approved):
    """An answer with two codes of one net counts once for the net (twice in the code rows);
    codes regrouped in the second wave move only that wave's net counts; a net the second
    wave's frame no longer has (its codes all regrouped) has no share there, not 0%."""
    second = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    grouped = list(second.codes.filter(net__isnull=False).select_related("net").order_by("number"))
    target = grouped[0].net
    emptied = next(c.net for c in grouped if c.net_id != target.pk)
    moved = list(second.codes.filter(net=emptied))
    second.codes.filter(net=emptied).update(net=target)  # regrouped in wave 2 only
    coded = Assignment.objects.filter(codeframe=second, code=grouped[0]).first()
    assert coded is not None, "the wave needs an answer of the first code"
    Assignment.objects.get_or_create(
        codeframe=second, response=coded.response, code=moved[0], defaults={"is_primary": False}
    )

    codes_table, nets, _uncoded = waves.tracker_tables(question=second.question)
    assert nets.waves == ["1", "2027-01"]
    first_nets, second_nets = _nets_with_codes(approved), _nets_with_codes(second)
    assert emptied.number in first_nets and emptied.number not in second_nets
    assert nets.codes == {**first_nets, **second_nets}
    for wave, frame, present in (("1", approved, first_nets), ("2027-01", second, second_nets)):
        counts = _net_counts(frame)
        for number in nets.codes:
            cell = nets.cells[(wave, number)]
            if number in present:
                assert cell.count == counts.get(number, 0) and cell.share == cell.count / cell.base
            else:
                assert cell.share is None and cell.change is None and cell.p is None
    assert nets.cells[("2027-01", target.number)].base == len([t for t in NEXT_WAVE if t.strip()])
    in_target = [c.number for c in second.codes.filter(net=target)]
    carried = sum(codes_table.cells[("2027-01", n)].count for n in in_target)
    assert nets.cells[("2027-01", target.number)].count < carried  # the answer counted once


def test_a_panels_respondents_are_paired_across_waves_by_the_ids_their_uploads_gave(
    approved, staff_client
):
    """Wave 2027-02 asks 30 of 2027-01's 40 respondents again (ids 11-40): its changes are
    tested on those pairs. Wave 2027-03's answers were pasted without ids and numbered 1-40:
    those numbers are 2027-02's ids 11-40 too, but nobody's, so no pairs."""
    texts = [f"{ANSWERS[i % len(ANSWERS)]} ({i})" for i in range(60)]

    def panel(ids, start):
        return [
            ImportedRow(line=n, respondent_id=r, text=texts[start + n])
            for n, r in enumerate(ids, 1)
        ]

    waves.code_wave(
        codeframe=approved, rows=panel([str(i) for i in range(1, 41)], 0), wave="2027-01"
    )
    second = waves.code_wave(
        codeframe=approved, rows=panel([str(i) for i in range(11, 51)], 5), wave="2027-02"
    )
    pasted = [ImportedRow(line=n, respondent_id="", text=t) for n, t in enumerate(texts[:40], 1)]
    third = waves.code_wave(codeframe=approved, rows=pasted, wave="2027-03")
    assert set(third.question.responses.values_list("respondent_id", flat=True)) == {
        str(n) for n in range(1, 41)
    }
    table, nets, uncoded = waves.tracker_tables(question=third.question)
    assert table.shared == nets.shared == uncoded.shared == {"2027-02": 30}

    first = Codeframe.objects.get(question__wave_label="2027-01")

    def held(frame):
        rows = Assignment.objects.filter(codeframe=frame).values_list(
            "response__respondent_id", "code__number"
        )
        by_id = {}
        for respondent, number in rows:
            by_id.setdefault(respondent, set()).add(number)
        return by_id

    before, after = held(first), held(second)
    tested = 0
    for number in table.codes:
        cell = table.cells[("2027-02", number)]
        if cell.p is None:
            continue
        tested += 1
        shared = [str(i) for i in range(11, 41)]
        then = sum(number in before.get(r, ()) for r in shared)
        now = sum(number in after.get(r, ()) for r in shared)
        both = sum(number in before.get(r, ()) and number in after.get(r, ()) for r in shared)
        previous = table.cells[("2027-01", number)].count
        expected = tracker.two_proportion_z_test(
            previous, 40, cell.count, 40, pairs=tracker.Pairs(30, then, now, both)
        )
        assert (cell.paired, cell.z, cell.p) == (30, *expected)
        assert table.cells[("2027-03", number)].paired == 0
    assert tested >= 3
    page = staff_client.get(reverse("codeframe:question-tracker", args=[third.question.pk]))
    assert page.content.decode().count("also in the wave before") == 2  # codes' and nets' tables
    assert "30 also in the wave before" in page.content.decode()


def test_a_wave_deleted_and_coded_again_takes_its_number_back(approved, staff_client, api_client):
    """A month coded from the wrong file is deleted and coded again: it went last, after the
    months that follow it, and the stacked SPSS file's `wave` for it changed. It may now take
    the number it left free; a wave's number is never another's, nor past the next."""
    root = approved.question
    second = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-02")
    services.delete_question(question=second.question)
    assert [tuple(p) for p in waves.wave_places(question=root)] == [
        (4, "2027-02", ""),
        (2, "1", "2027-02"),
    ]
    for taken in (1, 3, 5):
        with pytest.raises(InvalidEdit, match=rf"Wave number {taken} is not free.*deleted"):
            waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="x", order=taken)

    # The page offers the free place (only when there is one) and the API takes it.
    page = reverse("codeframe:wave-new", args=[approved.pk])
    form = staff_client.get(page).content.decode()
    assert 'name="order"' in form and "Wave 2, between 1 and 2027-02" in form
    refused = api_client.post(
        f"/api/codeframes/{approved.pk}/waves/",
        {"responses": NEXT_WAVE, "wave": "2027-01", "wave_order": 3},
        format="json",
    )
    assert refused.status_code == 400 and "Wave number 3 is not free" in refused.json()["detail"]
    posted = staff_client.post(
        page, {"wave": "2027-01", "pasted": "\n".join(NEXT_WAVE), "order": "2"}
    )
    assert posted.status_code == 302
    again = Question.objects.get(tracker=root, wave_label="2027-01")
    assert again.wave_order == 2
    assert [q.wave_label for q in waves.tracker_questions(question=root)] == [
        "1",
        "2027-01",
        "2027-02",
    ]
    assert [tuple(p) for p in waves.wave_places(question=root)] == [(4, "2027-02", "")]
    assert 'name="order"' not in staff_client.get(page).content.decode()  # no place free
    # The place was taken by the time a second page open on it posted: refused, not last.
    late = {"wave": "2027-09", "pasted": "\n".join(NEXT_WAVE), "order": "2"}
    refused = staff_client.post(page, late)
    assert refused.status_code == 200
    assert "Wave number 2 is no longer free" in refused.content.decode()
    assert not Question.objects.filter(wave_label="2027-09").exists()


def test_the_uncoded_share_has_no_change_from_a_generated_wave(approved):
    """The first wave's frame was generated (every theme answer got a code); "fits no code" is
    decided only in coded waves, so the uncoded row has no change (nor a significance mark)
    from the generated wave to the first coded one, then changes as usual between coded waves;
    the code rows change from the first wave on."""
    second = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    third = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-02")
    for frame in (second, third):  # an uncoded answer in each coded wave
        Assignment.objects.filter(
            codeframe=frame, response=frame.question.responses.order_by("pk").first()
        ).delete()
    table, _nets, uncoded = waves.tracker_tables(question=third.question)
    first, after_generated, between_coded = (
        uncoded.cells[(wave, waves.UNCODED)] for wave in ("1", "2027-01", "2027-02")
    )
    assert after_generated.share > 0 and after_generated.count >= 1
    assert after_generated.change is None and after_generated.p is None
    assert not after_generated.significant
    assert between_coded.change is not None and between_coded.previous_share is not None
    assert first.change is None
    number = next(iter(table.codes))
    assert table.cells[("2027-01", number)].change is not None


def test_a_wave_not_coded_yet_keeps_its_place_in_the_tracker_and_the_sav(approved, client):
    """A wave whose job is queued or failed is a column without shares (the next wave gets no
    change across it), and the waves after it keep their number in the stacked SPSS file: a
    data processor's syntax (`wave = 3`) must not change meaning when a month is late."""
    late = waves.start_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    third = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-02")
    table, nets, uncoded = waves.tracker_tables(question=third.question)
    assert table.waves == nets.waves == uncoded.waves == ["1", "2027-01", "2027-02"]
    assert uncoded.cells[("2027-01", waves.UNCODED)].share is None
    # An answer moved to "no code" counts in the uncoded row (and the codeframe page's Uncoded).
    answer = third.question.responses.first()
    Assignment.objects.filter(codeframe=third, response=answer).delete()
    services.refresh_sizes(codeframe=third)
    newest = waves.tracker_tables(question=third.question).uncoded.cells[("2027-02", 0)]
    overview = selectors.codeframe_overview(codeframe=third)
    assert newest.count == overview.uncoded >= 1 and newest.base == overview.total
    assert table.bases["2027-01"] == late.responses.count() > 0
    for number in table.codes:
        _first, pending, now = table.row(number)
        assert pending.share is None and now.change is None and now.share is not None
    assert tracker.top_codes(table, 2) == tracker.top_codes(
        tracker.tracker(
            [
                tracker.WaveCounts(
                    "x",
                    table.bases["2027-02"],
                    {n: table.cells[("2027-02", n)].count for n in table.codes},
                )
            ],
            codes=table.codes,
        ),
        2,
    )  # charted by the newest wave with shares, not the one without
    frames = waves.tracker_frames(question=third.question)
    assert [(number, label) for number, label, _ in frames] == [(1, "1"), (3, "2027-02")]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tracker.sav"
        path.write_bytes(exports.build_tracker_sav(question=third.question, waves=frames))
        data, meta = pyreadstat.read_sav(str(path))
    assert meta.variable_value_labels["wave"] == {1.0: "1", 3.0: "2027-02"}
    assert set(data["wave"]) == {1.0, 3.0}

    user = get_user_model().objects.create_superuser("dp", password="pw-dp-12345")
    client.force_login(user)
    page = client.get(reverse("codeframe:question-tracker", args=[third.question_id]))
    marked = page.content.decode().count('<span class="small muted">not coded yet</span>')
    assert marked == 2  # in the code and the net tables


def test_a_codeframe_generated_afresh_never_enters_the_trackers_numbering(approved, client):
    """Another frame of the first wave (generated afresh: numbers of its own), even approved,
    neither stands for a wave nor codes one: the tracker would compare unrelated codes under
    one number. A wave with only such a frame is not coded yet. The pages say so before an
    analyst fills in a wave's form: no "Code a new wave" on it, and the approval says why."""
    second = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    root = approved.question
    fresh = services.create_codeframe(question=root, n_codes=2, random_state=7)
    client.force_login(get_user_model().objects.create_superuser("dp", password="pw-dp-12345"))
    approving = client.post(
        reverse("codeframe:codeframe-approve", args=[fresh.pk]), {"approved": "1"}, follow=True
    )
    fresh.refresh_from_db()
    assert fresh.approved
    said = approving.content.decode()
    assert "Approved, but it cannot code waves" in said and "numbers of its own" in said
    assert reverse("codeframe:wave-new", args=[fresh.pk]) not in said
    assert (
        reverse("codeframe:wave-new", args=[approved.pk])
        in client.get(reverse("codeframe:codeframe-detail", args=[approved.pk])).content.decode()
    )
    form = client.get(reverse("codeframe:wave-new", args=[fresh.pk]), follow=True)
    assert form.redirect_chain[-1][0] == reverse("codeframe:codeframe-detail", args=[fresh.pk])
    assert "numbers of its own" in form.content.decode()
    assert waves.tracker_series(question=root) == (approved.pk, {approved.pk, second.pk})
    with pytest.raises(InvalidEdit, match=f"numbers of codeframe #{approved.pk}; codeframe #"):
        waves.code_wave(codeframe=fresh, rows=rows(NEXT_WAVE), wave="2027-02")
    assert [f.pk for _, _, f in waves.tracker_frames(question=root)] == [approved.pk, second.pk]
    late = waves.start_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-02")
    waves.approve_codeframe(codeframe=services.create_codeframe(question=late, n_codes=2))
    by_wave = {w.label: w.codeframe for w in waves.tracker_waves(question=root)}
    assert by_wave == {"1": approved, "2027-01": second, "2027-02": None}
    # A wave's approved frame codes the next wave in the same numbering.
    waves.approve_codeframe(codeframe=second)
    third = waves.code_wave(codeframe=second, rows=rows(NEXT_WAVE), wave="2027-03")
    assert third.pk in waves.tracker_series(question=root).frames
    assert waves.tracker_waves(question=root)[-1].codeframe == third


def test_answers_imported_into_a_coded_wave_stay_out_of_its_base_until_coded(approved, client):
    """Late fieldwork imported into a coded wave was coded by nobody: the tracker's base and its
    "Uncoded" row leave it out, as the SPSS file's valid cases do (its codes are system-missing
    there), and the page, the CSV and the API say so, rather than 27 of 309 on the page beside
    27 of 304 in SPSS."""
    wave = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    table, _, uncoded = waves.tracker_tables(question=approved.question)
    services.import_responses(
        rows=[
            ImportedRow(line=i, respondent_id=f"LATE{i}", text=text)
            for i, text in enumerate(["The fees went up again", "App crashed"], 1)
        ],
        question=wave.question,
    )
    after, _, uncoded_after = waves.tracker_tables(question=approved.question)
    assert after.bases["2027-01"] == table.bases["2027-01"] == wave.question.responses.count() - 2
    assert after.late == {"2027-01": 2}
    cell = ("2027-01", waves.UNCODED)
    assert uncoded_after.cells[cell].count == uncoded.cells[cell].count
    assert [c.share for c in after.cells.values()] == [c.share for c in table.cells.values()]
    assert {c.late for c in after.cells.values()} == {0, 2}
    assert {c.late for c in after.cells.values() if c.wave == "2027-01"} == {2}
    csv_rows = list(csv.DictReader(io.StringIO(tracker.tracker_csv(after).lstrip("\ufeff"))))
    assert {r["late"] for r in csv_rows if r["wave"] == "2027-01"} == {"2"}
    sav, _ = pyreadstat.read_sav(
        _written(
            exports.build_tracker_sav(
                question=approved.question, waves=waves.tracker_frames(question=approved.question)
            )
        )
    )
    in_wave = sav[sav["wave"] == 2]
    code = next(n for n in after.codes if after.cells[("2027-01", n)].count)
    assert in_wave[f"c{code}"].notna().sum() == after.bases["2027-01"]
    assert in_wave[f"c{code}"].sum() == after.cells[("2027-01", code)].count
    client.force_login(get_user_model().objects.create_superuser("dp", password="pw-dp-12345"))
    page = client.get(reverse("codeframe:question-tracker", args=[approved.question_id]))
    assert "2 imported since, not coded yet" in page.content.decode()
    detail = client.get(reverse("codeframe:codeframe-detail", args=[wave.pk])).content.decode()
    uncoded_page = reverse("codeframe:codeframe-uncoded", args=[wave.pk])
    assert f'id="late-answers"><a href="{uncoded_page}">2</a>' in detail  # where to code them
    listed = client.get(uncoded_page).content.decode()
    assert 'id="late-count">2 more were imported since' in listed
    assert listed.count("(imported since, not coded yet)") == 2
    # First, not past the page's 500 after a big "Other" pile of earlier answers.
    coded = Assignment.objects.filter(codeframe=wave, is_primary=True).first().response
    services.uncode_response(response=coded, codeframe=wave)
    first = selectors.uncoded_responses(codeframe=wave, limit=2)
    assert [r.respondent_id for r in first] == ["LATE1", "LATE2"]


def _written(content: bytes) -> str:
    folder = tempfile.mkdtemp()
    path = Path(folder) / "file.sav"
    path.write_bytes(content)
    return str(path)


@pytest.mark.parametrize("delete", ["codeframe", "question", "replace", "chain"])
def test_a_deleted_waves_new_code_numbers_are_never_given_out_again(approved, delete):
    """A code accepted in a wave may be in exports already: deleting that wave's frame (or the
    wave, or replacing its answers; or a wave coded from it, then it) must not free its number
    for another code."""
    wave = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    coder = waves.approve_codeframe(codeframe=wave) if delete == "chain" else approved
    later = waves.code_wave(codeframe=coder, rows=rows(NEXT_WAVE), wave="2027-02")
    accepted_in = later if delete == "chain" else wave
    taken = waves.accept_suggestion(suggestion=suggestion_of(accepted_in, "Mortgage")).number
    if delete == "codeframe":
        services.delete_codeframe(codeframe=wave)
    elif delete == "question":
        services.delete_question(question=wave.question)
    elif delete == "replace":  # refused: it would delete the wave's coding without a word
        with pytest.raises(ImportFailed, match="they are wave “2027-01” of a tracker") as refused:
            services.import_responses(rows=rows(NEXT_WAVE), question=wave.question, replace=True)
        # Deleted and coded again, a middle wave would come after the later ones unless it
        # takes its number back: it says which.
        assert "with its wave number, 2, to keep its place" in str(refused.value)
        assert Codeframe.objects.filter(pk=wave.pk).exists()
        services.delete_codeframe(codeframe=wave)
    else:  # the wave coded from the wave's frame, then the wave
        services.delete_question(question=later.question)
        services.delete_question(question=wave.question)
    assert taken not in set(approved.codes.values_list("number", flat=True))
    last = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-03")
    assert waves.accept_suggestion(suggestion=suggestion_of(last, "Station")).number == taken + 1


def test_a_deleted_newest_wave_leaves_its_place_to_the_wave_coded_again(approved):
    """A wave deleted from the newest back (a wrong file) frees its wave number and label, so
    the same wave coded again from the corrected file takes its place: the stacked file's waves
    stay 1, 2, 3. Its code numbers stay reserved (the test above)."""
    first = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    wrong = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE[:20]), wave="2027-02")
    assert (first.question.wave_order, wrong.question.wave_order) == (2, 3)
    services.delete_question(question=wrong.question)
    again = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-02")
    assert (again.question.wave_label, again.question.wave_order) == ("2027-02", 3)
    orders = [w.question.wave_order for w in waves.tracker_waves(question=approved.question)]
    assert orders == [1, 2, 3]


def test_before_any_wave_is_coded_a_later_waves_own_codeframe_stays_out(approved):
    """A wave imported but not coded yet, with a codeframe generated afresh on it: the
    tracker's numbering has not started there, so that frame neither stands for the wave nor
    codes the next one."""
    late = waves.start_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    draft = waves.approve_codeframe(codeframe=services.create_codeframe(question=late, n_codes=2))
    assert waves.tracker_series(question=late) is None
    by_wave = {w.label: w.codeframe for w in waves.tracker_waves(question=late)}
    assert by_wave == {"1": approved, "2027-01": None}
    with pytest.raises(InvalidEdit, match=f"Codeframe #{draft.pk} belongs to a later wave"):
        waves.code_wave(codeframe=draft, rows=rows(NEXT_WAVE), wave="2027-02")


def test_only_approved_frames_and_new_labels(codeframe):
    with pytest.raises(NotApproved):
        waves.code_wave(codeframe=codeframe, rows=rows(NEXT_WAVE), wave="2027-01")
    waves.approve_codeframe(codeframe=codeframe)
    waves.code_wave(codeframe=codeframe, rows=rows(NEXT_WAVE), wave="2027-01")
    count = Question.objects.count()
    with pytest.raises(InvalidEdit, match="already has a wave"):
        waves.code_wave(codeframe=codeframe, rows=rows(NEXT_WAVE), wave="2027-01")
    with pytest.raises(InvalidEdit, match="label"):
        waves.code_wave(codeframe=codeframe, rows=rows(NEXT_WAVE), wave="  ")
    # Look-alikes of a label the tracker has (a zero-width space, full-width digits) are it.
    for alike in ("2027-01\u200b", "\u200e2027-01", "\uff12\uff10\uff12\uff17-\uff10\uff11"):
        with pytest.raises(InvalidEdit, match="already has a wave “2027-01”"):
            waves.code_wave(codeframe=codeframe, rows=rows(NEXT_WAVE), wave=alike)
    with pytest.raises(InvalidEdit, match="label"):
        waves.code_wave(codeframe=codeframe, rows=rows(NEXT_WAVE), wave="\u200b")
    assert Question.objects.count() == count  # nothing half-written
    # Nor another case: "W3" beside "w3" cannot be told apart in the tracker's tables.
    waves.code_wave(codeframe=codeframe, rows=rows(NEXT_WAVE), wave="Spring W3")
    with pytest.raises(InvalidEdit, match="already has a wave “Spring W3”"):
        waves.code_wave(codeframe=codeframe, rows=rows(NEXT_WAVE), wave="spring w3")


def test_a_new_wave_cannot_take_the_first_waves_default_label(codeframe):
    """The first wave is labelled "1" when the tracker starts; a wave "1" would clash with it
    (and break the tracker's tables, whose wave labels are unique)."""
    waves.approve_codeframe(codeframe=codeframe)
    with pytest.raises(InvalidEdit, match="already has a wave “1”"):
        waves.code_wave(codeframe=codeframe, rows=rows(NEXT_WAVE), wave="1")
    waves.code_wave(codeframe=codeframe, rows=rows(NEXT_WAVE), wave="2")
    assert waves.tracker_tables(question=codeframe.question).codes.waves == ["1", "2"]


def test_accepted_suggestions_get_new_numbers_and_existing_never_change(approved):
    stored = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    before = frame_shape(stored)
    left_out = stored.question.responses.order_by("position").first()  # as the coder might
    Assignment.objects.filter(codeframe=stored, response=left_out).delete()
    uncoded = list(
        stored.question.responses.exclude(assignments__codeframe=stored).values_list(
            "pk", flat=True
        )
    )
    coded = Assignment.objects.filter(codeframe=stored, is_primary=True).first()
    # A deleted code's number is never reused: the tracker used it.
    highest = max(c.number for c in approved.codes.all())
    Code.objects.filter(codeframe=stored, number=highest).delete()
    first = SuggestedCode.objects.create(
        codeframe=stored, label="Mortgage rates", size=2, response_ids=[*uncoded, coded.response_id]
    )
    second = suggestion_of(stored, "Branch closures")
    dismissed = SuggestedCode.objects.create(codeframe=stored, label="Weather", size=1)

    code = waves.accept_suggestion(suggestion=first)
    assert code.number == highest + 1 and code.label == "Mortgage rates"
    # Uncoded answers take the new code as primary; coded ones keep theirs.
    assert set(
        Assignment.objects.filter(code=code, is_primary=True).values_list("response_id", flat=True)
    ) == set(uncoded)
    coded.refresh_from_db()
    assert coded.is_primary and coded.code_id != code.pk
    assert code.size == len(uncoded)
    assert waves.accept_suggestion(suggestion=second, label="Branches").number == highest + 2
    waves.dismiss_suggestion(suggestion=dismissed)
    assert frame_shape(stored)[: len(before) - 1] == [s for s in before if s[0] != highest]
    with pytest.raises(InvalidEdit, match="already accepted"):
        waves.accept_suggestion(suggestion=first)
    with pytest.raises(InvalidEdit, match="already dismissed"):
        waves.accept_suggestion(suggestion=dismissed)


def test_a_suggestion_is_decided_once_even_from_a_stale_page(approved):
    """Two clicks (or two analysts) on one suggestion: the second finds it decided, so no
    second code takes a tracker number; one whose answers were all coded since is refused."""
    stored = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    suggestion = suggestion_of(stored, "Mortgage rates", 2)
    stale = SuggestedCode.objects.get(pk=suggestion.pk)
    codes = stored.codes.count()
    waves.accept_suggestion(suggestion=suggestion)
    with pytest.raises(SuggestionDecided, match="already accepted"):
        waves.accept_suggestion(suggestion=stale)
    with pytest.raises(SuggestionDecided, match="already accepted"):
        waves.dismiss_suggestion(suggestion=stale)
    assert stored.codes.count() == codes + 1
    assert SuggestedCode.objects.get(pk=suggestion.pk).status == SuggestedCode.Status.ACCEPTED

    late = suggestion_of(stored, "Branch closures")
    fees = stored.codes.order_by("number").first()
    for pk in late.response_ids:  # the analyst codes its answers by hand meanwhile: it goes
        services.move_response(response=stored.question.responses.get(pk=pk), to_code=fees)
    assert not SuggestedCode.objects.filter(pk=late.pk).exists()
    with pytest.raises(InvalidEdit, match="is gone: its answers were coded by hand since"):
        waves.accept_suggestion(suggestion=late)  # from the page read before
    with pytest.raises(InvalidEdit, match="is gone"):
        waves.dismiss_suggestion(suggestion=late)
    assert stored.codes.count() == codes + 1


def test_a_trackers_first_wave_and_frame_stay_while_later_waves_need_them(approved, client):
    """Deleting the first wave, its approved frame or replacing its answers would cut the
    later waves off (no tracker, no carry-back): refused with a message, nothing deleted."""
    second = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    root = approved.question
    with pytest.raises(InvalidEdit, match=r"later waves \(2027-01\) depend on it"):
        services.delete_question(question=root)
    # Named in wave order, not by their labels' text.
    third = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="1 (re-run)")
    with pytest.raises(InvalidEdit, match=r"later waves \(2027-01, 1 \(re-run\)\) depend on it"):
        services.delete_question(question=root)
    services.delete_question(question=third.question)
    with pytest.raises(InvalidEdit, match=r"Codeframe #\d+ is kept"):
        services.delete_codeframe(codeframe=approved)
    with pytest.raises(ImportFailed, match="cannot be replaced"):
        services.import_responses(rows=rows(["new"]), question=root, replace=True)
    assert Codeframe.objects.filter(pk=approved.pk).exists() and root.responses.count() == 12
    user = get_user_model().objects.create_superuser("dp", password="pw-dp-12345")
    client.force_login(user)
    page = client.get(root.get_absolute_url()).content.decode()
    assert page.count("Delete this question, its answers and codeframes") == 1
    refused = client.post(reverse("codeframe:question-delete", args=[root.pk]), follow=True)
    assert "later waves (2027-01) depend on it" in refused.content.decode()
    assert Question.objects.filter(pk=root.pk).exists()
    # A draft generated afresh on the wave's question never stands for the wave.
    draft = services.create_codeframe(question=second.question, n_codes=2)
    assert draft.coded_with is None
    assert [f.pk for _, _, f in waves.tracker_frames(question=root)] == [approved.pk, second.pk]
    # The later wave first, then the first wave: the whole tracker can go.
    services.delete_question(question=second.question)
    services.delete_question(question=root)
    assert not Question.objects.filter(pk__in=[root.pk, second.question_id]).exists()
    # So can a whole project, its trackers with it.
    project = services.create_project(name="Client", manager=user)
    first = services.import_responses(rows=rows(ANSWERS), project=project, survey="T").question
    frame = waves.approve_codeframe(codeframe=services.create_codeframe(question=first, n_codes=3))
    waves.code_wave(codeframe=frame, rows=rows(NEXT_WAVE), wave="2027-01")
    project.delete()
    assert not Question.objects.filter(project_id=project.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_code_wave_embeds_before_it_takes_the_write_lock(codeframe, monkeypatch):
    """The slow part (embedding a wave not in the cache) runs before the transaction: on
    SQLite a transaction holds the write lock, and every other write would time out."""
    from django.db import connection

    waves.approve_codeframe(codeframe=codeframe)
    seen = []
    real = waves.coding.embed_answers

    def spy(texts, **options):
        seen.append((connection.in_atomic_block, len(texts)))
        return real(texts, **options)

    monkeypatch.setattr(waves.coding, "embed_answers", spy)
    waves.code_wave(codeframe=codeframe, rows=rows(NEXT_WAVE), wave="2027-01")
    assert seen[0][0] is False and seen[0][1] >= len([t for t in NEXT_WAVE if t.strip()])
    with pytest.raises(InvalidEdit, match="Wave number 2 is not free"):  # nor a place taken
        waves.code_wave(codeframe=codeframe, rows=rows(["Never embedded"]), wave="2027-02", order=2)
    with pytest.raises(NotApproved):  # refused before anything is embedded
        waves.code_wave(
            codeframe=waves.approve_codeframe(codeframe=codeframe, approved=False),
            rows=rows(["Never embedded"]),
            wave="2027-02",
        )
    assert len(seen) == 2  # the first call's two embeddings, none for the refused ones


def test_a_suggestion_is_never_coded_with_another_frames_code(approved):
    stored = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    suggestion = SuggestedCode.objects.create(codeframe=stored, label="Fees", size=0)
    with pytest.raises(InvalidEdit, match="another codeframe"):
        waves.assign_suggestion(suggestion=suggestion, code=approved.codes.first())
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestedCode.Status.PENDING


def test_one_entry_decides_suggestions_and_refuses_what_it_cannot_do(approved):
    stored = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    suggestion = SuggestedCode.objects.create(codeframe=stored, label="Fees", size=0)
    with pytest.raises(InvalidEdit, match="Choose one of this codeframe's codes"):
        waves.decide_suggestion(suggestion=suggestion, decision="assign")
    with pytest.raises(InvalidEdit, match="not 'keep'"):
        waves.decide_suggestion(suggestion=suggestion, decision="keep")
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestedCode.Status.PENDING
    fees = stored.codes.order_by("number").first()
    assert waves.decide_suggestion(suggestion=suggestion, decision="assign", code=fees) == fees
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestedCode.Status.ACCEPTED and suggestion.code == fees


def test_suggestions_are_stored_for_a_new_theme(real_model):
    """An approved frame of the hand-coded bank survey; the next wave brings train delays."""
    bank = read_labelled("survey_labelled.csv")
    commuter = read_labelled("commuter_labelled.csv")
    question = make_question([t for t, _ in bank])
    frame = waves.approve_codeframe(codeframe=services.create_codeframe(question=question))
    trains = [t for t, code in commuter if code == "Delays / punctuality"]
    wave = [t for t, _ in bank[::4]] + trains
    stored = waves.code_wave(codeframe=frame, rows=rows(wave), wave="2027-01")
    suggestions = list(stored.suggestions.all())
    assert suggestions, stored.params["uncoded"]
    texts = dict(stored.question.responses.values_list("pk", "text"))
    taken = [texts[pk] for s in suggestions for pk in s.response_ids]
    assert len(set(taken) & set(trains)) >= len(trains) // 2, (taken, stored.params["uncoded"])
    numbers = {c.number for c in frame.codes.all()}
    code = waves.accept_suggestion(suggestion=suggestions[0])
    assert code.number == max(numbers) + 1
    assert {c.number for c in stored.codes.all()} == numbers | {code.number}


def test_answers_in_other_languages_become_a_code_the_next_waves_use(real_model):
    """A tracker whose first wave has no answers in other languages: the second wave's are left
    out and suggested as one code "Other languages: ..."; accepted and carried back to the
    approved frame, it codes the third wave's, in other languages still, with its number."""
    english = [t for t, _ in read_labelled("survey_labelled.csv") if language_of(t) is None]
    question = make_question(english)
    frame = waves.approve_codeframe(codeframe=services.create_codeframe(question=question))
    second = waves.code_wave(
        codeframe=frame, rows=rows(english[::4] + FOREIGN_WAVE[:8]), wave="2027-01"
    )
    texts = dict(second.question.responses.values_list("pk", "text"))
    [suggestion] = [s for s in second.suggestions.all() if s.label.startswith("Other languages")]
    assert sorted(texts[pk] for pk in suggestion.response_ids) == sorted(FOREIGN_WAVE[:8])
    code = waves.accept_suggestion(suggestion=suggestion)
    carryback.carry_back(codeframe=second)

    third = waves.code_wave(
        codeframe=frame, rows=rows(english[1::4] + FOREIGN_WAVE[8:]), wave="2027-02"
    )
    primary = dict(
        Assignment.objects.filter(codeframe=third, is_primary=True).values_list(
            "response__text", "code__number"
        )
    )
    assert {t: primary.get(t) for t in FOREIGN_WAVE[8:]} == dict.fromkeys(
        FOREIGN_WAVE[8:], code.number
    )
    assert code.number not in {primary.get(t) for t in english[1::4]}
    assert not any(s.label.startswith("Other languages") for s in third.suggestions.all())


def test_code_wave_command(tmp_path, approved):
    path = tmp_path / "wave.csv"
    path.write_text(
        "respondent_id,answer\n" + "".join(f"R{i},{t}\n" for i, t in enumerate(NEXT_WAVE)),
        encoding="utf-8",
    )
    out = io.StringIO()
    call_command(
        "code_wave", str(path), "--codeframe", str(approved.pk), "--wave", "2027-01", stdout=out
    )
    stored = Codeframe.objects.get(coded_with=approved)
    assert f"into codeframe {stored.pk}" in out.getvalue()
    assert stored.question.wave_label == "2027-01"
    assert set(stored.question.responses.values_list("respondent_id", flat=True)) == {
        "R0",
        "R1",
        "R2",
        "R4",
        "R5",
    }
    with pytest.raises(CommandError, match="already has a wave"):
        call_command("code_wave", str(path), "--codeframe", str(approved.pk), "--wave", "2027-01")
    with pytest.raises(CommandError, match="no codeframe 999"):
        call_command("code_wave", str(path), "--codeframe", "999", "--wave", "x")
    with pytest.raises(CommandError, match=r"Wave number 2 is not free.*Nothing was imported"):
        call_command(
            "code_wave", str(path), "--codeframe", str(approved.pk), "--wave", "x",
            "--wave-order", "2",
        )  # fmt: skip
    waves.approve_codeframe(codeframe=approved, approved=False)
    with pytest.raises(CommandError, match="not approved"):
        call_command("code_wave", str(path), "--codeframe", str(approved.pk), "--wave", "x")


def test_importing_more_answers_into_a_coded_wave_warns(approved, client):
    """More answers change a coded wave's published base and stay uncoded: the page says so
    and points to coding the wave again, or to a new wave."""
    user = get_user_model().objects.create_superuser("dp", password="pw-dp-12345")
    client.force_login(user)

    def page(question):
        url = reverse("codeframe:question-import-more", args=[question.pk])
        return client.get(url).content.decode()

    assert 'id="coded-wave-warning"' not in page(approved.question)  # no tracker yet
    second = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    first = page(approved.question)
    assert "This is wave “1” of a tracker, already coded." in first
    assert "Code this wave again" not in first  # the first wave's frame is not a wave's
    assert "This is wave “2027-01” of a tracker, already coded." in page(second.question)
    assert "Code this wave again" in page(second.question)
    late = waves.start_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-02")
    assert 'id="coded-wave-warning"' not in page(late)  # not coded yet: nothing published


def test_import_responses_into_a_coded_wave_says_what_the_import_page_says(approved, tmp_path):
    """`manage.py import_responses --question` into a coded wave printed only "Imported N
    answers": the answers change the wave's published base and stay uncoded, which the import
    page warns about; the command says it in the same words."""

    def imported(question) -> str:
        path = tmp_path / f"late{question.responses.count()}.csv"
        path.write_text(f"id,answer\n{path.stem},The fees went up again\n", encoding="utf-8")
        out, err = io.StringIO(), io.StringIO()
        args = [str(path), "--question", str(question.pk), "--id-column", "id"]
        call_command("import_responses", *args, stdout=out, stderr=err)
        assert "Imported 1 answers" in out.getvalue()
        return " ".join(err.getvalue().split())

    assert imported(approved.question) == ""  # no tracker yet: nothing published as a wave
    second = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    said = imported(second.question)
    wave = waves.coded_wave(question=second.question)
    assert said == f"{wave.heading} {wave.advice}"
    assert said.startswith("This is wave “2027-01” of a tracker, already coded. Answers")
    assert "stay uncoded until someone codes them" in said and "Code this wave again" in said
    first = imported(approved.question)
    assert first.startswith("This is wave “1” of a tracker, already coded.")
    assert "Code this wave again" not in first  # the first wave's frame is not a wave's


def test_the_pages_say_which_wave_a_question_is(approved, client, settings):
    """Three rows of "Bank NPS 2026 / Why?" in the question list could not be told apart, and
    neither the wave's question page nor its codeframe page named the wave."""
    client.force_login(get_user_model().objects.create_superuser("dp", password="pw-dp-12345"))
    second = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    listed = client.get(reverse("codeframe:question-list")).content.decode()
    first_url, second_url = approved.question.get_absolute_url(), second.question.get_absolute_url()
    assert listed.count(f'class="wave" href="{first_url}">wave 1<') == 1
    assert listed.count(f'class="wave" href="{second_url}">wave 2027-01<') == 1
    first_page = client.get(approved.question.get_absolute_url()).content.decode()
    tracker_url = reverse("codeframe:question-tracker", args=[approved.question.pk])
    assert "· wave 1</span></h1>" in first_page and f'href="{tracker_url}"' in first_page
    wave_page = client.get(second.question.get_absolute_url()).content.decode()
    assert "· wave 2027-01</span></h1>" in wave_page
    frame_page = client.get(second.get_absolute_url()).content.decode()
    assert f"Codeframe #{second.pk} <span" in frame_page and "· wave 2027-01" in frame_page
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}  # queued
    job = jobs.queue_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-02")
    job_page = client.get(job.get_absolute_url()).content.decode()
    assert "<h1>Coding wave 2027-02</h1>" in job_page  # not "Codeframe generation"


def listed_rows(page):
    """The question table's rows as text, cell by cell: (row class, cells)."""
    rows_found = []
    for row_class, row in re.findall(r'<tr(?: class="([^"]*)")?[^>]*>(.*?)</tr>', page, re.S):
        cells = [
            " ".join(re.sub(r"<[^>]+>", " ", c).split())
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        if cells:
            rows_found.append((row_class, cells))
    return rows_found


@pytest.mark.parametrize("page_name", ["question-list", "project-detail"])
def test_a_trackers_waves_are_listed_together_under_it(approved, client, page_name):
    """An analyst's monthly tracker showed as "Bank NPS 2026", "Bank NPS 2026 wave 2027-01",
    ... among the other questions, newest first, with nothing tying them together nor a way
    to its tracker page from the lists."""
    client.force_login(get_user_model().objects.create_superuser("dp", password="pw-dp-12345"))
    other = make_question(ANSWERS[:3], survey="Brand health")
    second = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    third = waves.code_wave(codeframe=approved, rows=rows(ANSWERS[:4]), wave="2027-02")
    root = approved.question
    args = [root.project_id] if page_name == "project-detail" else []
    page = client.get(reverse(f"codeframe:{page_name}", args=args)).content.decode()
    tracker_url = reverse("codeframe:question-tracker", args=[root.pk])
    assert page.count(f'href="{tracker_url}"') == 1
    offset = 1 if page_name == "question-list" else 0  # the Project column
    listed = [(kind, cells[offset:]) for kind, cells in listed_rows(page)]
    # The tracker once, its waves under it in wave order, then the other question: the tracker
    # has the newest wave.
    assert [(kind, cells[0]) for kind, cells in listed] == [
        ("tracker", "Bank NPS 2026 tracker, 3 waves Tracker page: each code's share by wave"),
        ("tracker-wave", "wave 1"),
        ("tracker-wave", "wave 2027-01"),
        ("tracker-wave", "wave 2027-02"),
        ("", "Brand health"),
    ]
    # Each wave with its own answers, codeframes and latest codeframe.
    assert [cells[2:5] for _kind, cells in listed[1:4]] == [
        ["12", "1", f"#{approved.pk}"],
        ["5", "1", f"#{second.pk}"],
        ["4", "1", f"#{third.pk}"],
    ]
    for wave in (root, second.question, third.question):
        assert f'href="{wave.get_absolute_url()}"' in page
    assert listed[4][1][2:4] == ["3", "0"] and other.get_absolute_url() in page


def test_the_question_lists_page_by_tracker_and_stay_flat_in_queries(client, django_user_model):
    """A page of the lists holds whole trackers: 50 rows, a tracker with its waves one of them,
    and no query a row or a wave."""
    user = django_user_model.objects.create_user("ann", password="pw-ann-12345")
    project = services.create_project(name="Trackers", manager=user)

    def tracker(survey, n_waves):
        first = services.import_responses(rows=rows(["a", "b"]), project=project, survey=survey)
        first = first.question
        Question.objects.filter(pk=first.pk).update(wave_order=1)
        for order in range(2, n_waves + 1):
            wave = services.import_responses(rows=rows(["c"]), project=project, survey=survey)
            Question.objects.filter(pk=wave.question.pk).update(
                tracker=first, wave_order=order, wave_label=f"M{order}"
            )
        return first

    def listed(page_number=1):
        url = reverse("codeframe:project-detail", args=[project.pk])
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, {"page": page_number})
        return response.context["questions"], response.context["page"], len(queries)

    client.force_login(user)
    oldest = tracker("Oldest tracker", 3)
    for i in range(54):
        services.import_responses(rows=rows(["x"]), project=project, survey=f"S{i}")
    rows_one, page, queries = listed()
    assert page.paginator.count == 55  # 54 questions and a tracker of 3 waves
    assert len(rows_one) == 50 and page.paginator.num_pages == 2
    last, _page, _queries = listed(2)
    assert [q.pk for q in last[-1].waves] == [
        oldest.pk,
        *oldest.later_waves.order_by("wave_order").values_list("pk", flat=True),
    ]
    assert [q.wave_name for q in last[-1].waves] == ["1", "M2", "M3"]
    # A new wave brings its tracker to the top, with all its waves on the page.
    wave = services.import_responses(rows=rows(["d"]), project=project, survey="Oldest tracker")
    Question.objects.filter(pk=wave.question.pk).update(
        tracker=oldest, wave_order=4, wave_label="M4"
    )
    for i in range(5):
        tracker(f"T{i}", 6)
    rows_one, page, more_queries = listed()
    assert page.paginator.count == 60 and len(rows_one) == 50
    assert [q.survey for q in rows_one[:6]] == ["T4", "T3", "T2", "T1", "T0", "Oldest tracker"]
    assert [len(q.waves) for q in rows_one[:6]] == [6, 6, 6, 6, 6, 4]
    assert all(q.waves == [] for q in rows_one[6:])
    assert more_queries == queries


def examples_shown(html, css_class):
    """The texts of the first <ul class="`css_class`"> list in `html`, unescaped."""
    found = re.search(rf'<ul class="{css_class}"[^>]*>(.*?)</ul>', html, re.S)
    if found is None:
        return None
    return [unescape(li) for li in re.findall(r"<li>(.*?)</li>", found.group(1), re.S)]


def test_a_waves_codeframe_shows_its_own_answers_as_each_codes_examples(approved, staff_client):
    """A wave's codeframe page showed, as each code's examples, the approved frame's: "Customer
    service took ages to answer" beside a code no answer of the wave had, and none of the
    wave's own answers, so an analyst checking this month's coding read last year's answers.
    Now a code's row shows this wave's answers in it, the approved frame's examples folded
    away under their own name; the code's page names them too."""
    wave = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    page = staff_client.get(wave.get_absolute_url()).content.decode()
    approved_examples = {c.number: c.examples for c in approved.codes.all()}
    empty = 0
    for code in wave.codes.all():
        row = re.search(rf'<tr id="code-{code.pk}">(.*?)</tr>', page, re.S).group(1)
        own = Response.objects.filter(assignments__code=code, assignments__is_primary=True)
        own = set(own.values_list("text", flat=True))
        shown = examples_shown(row, "examples wave-answers") or []
        assert set(shown) <= own and len(shown) == min(3, len(own))
        if not own:
            empty += 1
            assert "No answer of this wave has it as its primary code" in row
        folded = re.search(r'<details class="approved-examples small">(.*?)</details>', row, re.S)
        assert "<summary>The approved frame's examples</summary>" in folded.group(1)
        assert examples_shown(folded.group(1), "examples") == approved_examples[code.number][:3]
        # Outside the folded list, no example of the approved frame that is not also the wave's.
        rest = row.replace(folded.group(0), "")
        for text in set(approved_examples[code.number]) - own:
            assert escape(text) not in rest, text
        code_page = staff_client.get(
            reverse("codeframe:code-detail", args=[wave.pk, code.pk])
        ).content.decode()
        assert f"The approved frame's examples of this code (codeframe #{approved.pk})" in (
            code_page
        )
    assert 0 < empty < wave.codes.count()  # the wave has codes with answers and without
    # The approved frame's own page keeps its examples: they are its own answers.
    first = staff_client.get(approved.get_absolute_url()).content.decode()
    assert "wave-answers" not in first and "approved-examples" not in first
    code = approved.codes.order_by("number").first()
    row = re.search(rf'<tr id="code-{code.pk}">(.*?)</tr>', first, re.S).group(1)
    assert examples_shown(row, "examples") == code.examples[:3]


def test_the_approved_frame_says_which_waves_its_edits_do_not_reach(approved, client):
    """Merging codes of the approved frame after a wave was coded with it changed wave 1's
    figures and not the wave's, and the tracker compared them without a word."""
    client.force_login(get_user_model().objects.create_superuser("dp", password="pw-dp-12345"))
    page = client.get(approved.get_absolute_url()).content.decode()
    assert 'id="coded-waves-warning"' not in page  # no wave yet
    second = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    page = client.get(approved.get_absolute_url()).content.decode()
    warning = page.split('id="coded-waves-warning">', 1)[1].split("</p>", 1)[0]
    assert f'<a href="{second.question.get_absolute_url()}">2027-01</a> was coded' in warning
    assert "Code this wave again" in warning
    wave_page = client.get(second.get_absolute_url()).content.decode()
    assert 'id="coded-waves-warning"' not in wave_page  # the wave's own frame is not approved


def test_the_first_wave_can_be_named_and_every_wave_renamed(approved, client, staff_user):
    """A tracker's first wave was "1" for ever: its tables, chart and SPSS file could not say
    "2026-10". Named on its page (before its tracker starts, kept for it), renamed after."""
    client.force_login(staff_user)
    first = approved.question
    url = reverse("codeframe:question-wave", args=[first.pk])
    assert 'class="wave-name"' in client.get(first.get_absolute_url()).content.decode()
    assert client.post(url, {"wave": " 2026-10 "}).status_code == 302
    first.refresh_from_db()
    assert (first.wave_label, first.wave_order) == ("2026-10", None)  # no tracker yet
    with pytest.raises(InvalidEdit, match="already has a wave “2026-10”"):
        waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2026-10")
    second = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2026-11").question
    assert waves.tracker_tables(question=first).codes.waves == ["2026-10", "2026-11"]

    page = client.post(
        reverse("codeframe:question-wave", args=[second.pk]), {"wave": "2026-10"}, follow=True
    )
    # Beside the form, open and holding the name typed, not the old one (defect 2c).
    form = page.content.decode().split('class="wave-name"', 1)[1].split("</details>", 1)[0]
    assert form.startswith(" open>") and "already has a wave “2026-10”" in form
    assert 'value="2026-10"' in form and 'value="2026-11"' not in form
    client.post(reverse("codeframe:question-wave", args=[second.pk]), {"wave": "2026-12"})
    assert waves.tracker_tables(question=second).codes.waves == ["2026-10", "2026-12"]
    sav = client.get(reverse("codeframe:question-tracker", args=[first.pk]) + "?format=sav")
    with tempfile.NamedTemporaryFile(suffix=".sav") as handle:
        handle.write(sav.content)
        handle.flush()
        _, meta = pyreadstat.read_sav(handle.name)
    assert set(meta.variable_value_labels["wave"].values()) == {"2026-10", "2026-12"}
    with pytest.raises(InvalidEdit, match="label"):
        waves.rename_wave(question=second, label="   ")
    with pytest.raises(InvalidEdit, match="at most 100"):
        waves.rename_wave(question=second, label="x" * 101)


def test_the_api_names_a_wave_as_the_page_does(approved, api_client, django_user_model):
    first = approved.question
    url = f"/api/questions/{first.pk}/"
    done = api_client.patch(url, {"wave": "2026-10"}, format="json")
    assert done.status_code == 200 and done.json()["question"]["wave"] == "2026-10"
    assert api_client.patch(url, {}, format="json").status_code == 400
    assert api_client.patch(url, {"wave": "x"}).status_code == 415  # a form body, as elsewhere
    second = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2026-11").question
    clash = api_client.patch(f"/api/questions/{second.pk}/", {"wave": "2026-10"}, format="json")
    assert clash.status_code == 400 and "already has a wave" in clash.json()["detail"]
    from rest_framework.test import APIClient

    from codeframe.models import Membership, Role

    viewer = django_user_model.objects.create_user("viewer", password="pw-viewer-123")
    Membership.objects.create(project=first.project, user=viewer, role=Role.VIEWER)
    outsider = django_user_model.objects.create_user("outsider", password="pw-outsider-123")
    for user, status in ((viewer, 403), (outsider, 404)):
        other = APIClient()
        other.force_authenticate(user)
        assert other.patch(url, {"wave": "x"}, format="json").status_code == status
    first.refresh_from_db()
    assert first.wave_label == "2026-10"


def test_naming_a_wave_refuses_keys_it_does_not_take(approved, api_client):
    url = f"/api/questions/{approved.question.pk}/"
    reply = api_client.patch(url, {"wave": "2026-10", "wave_order": 9}, format="json")
    assert reply.status_code == 400 and "Unknown field: wave_order" in reply.json()["detail"]
    approved.question.refresh_from_db()
    assert approved.question.wave_label == ""


def test_a_merged_code_is_held_by_the_first_code_of_its_chain_the_wave_has():
    """12 merged into 7 in one wave, 7 into 3 in a later one: in the first, 7 holds 12 (not 3,
    the chain's end); in the later, 3 holds both; a wave with all three keeps them apart."""
    merges = {12: 7, 7: 3}
    assert waves.tables._merged(merges, {7: 5, 3: 9}) == {7: frozenset({7, 12})}
    assert waves.tables._merged(merges, {3: 14}) == {3: frozenset({3, 7, 12})}
    assert waves.tables._merged(merges, {12: 1, 7: 4, 3: 9}) == {}
    assert waves.tables._merged({1: 2, 2: 1}, {5: 1}) == {}  # a cycle (never recorded) ends


def test_each_wave_counts_a_merge_as_its_own_frame_made_it(approved):
    """Code b merged into a in wave 2's frame and into c in wave 3's (neither carried back): in
    wave 2, a holds b. Every frame's merges were laid over one another, so wave 2 took wave 3's
    (b in c): code a was compared across the merge and c marked redefined."""
    wave2 = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    wave3 = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-02")
    a, b, c = sorted(wave2.codes.values_list("number", flat=True))[:3]
    services.merge_codes(target=wave2.codes.get(number=a), sources=[wave2.codes.get(number=b)])
    services.merge_codes(target=wave3.codes.get(number=c), sources=[wave3.codes.get(number=b)])
    table = waves.tracker_tables(question=approved.question).codes
    redefined = {n: [cell.redefined for cell in table.row(n)] for n in (a, c)}
    assert redefined == {a: [False, True, True], c: [False, False, True]}


def test_a_net_that_groups_other_codes_in_a_wave_has_no_change_there(approved, api_client):
    """A net counts the answers of the codes it groups in each wave: a code moved out of it in
    one wave's frame made the net count other answers there, and the tracker showed (and
    tested) that as a change in the net. A merge within one net keeps what it counts."""
    wave2 = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    wave3 = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-02")
    wave4 = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-03")
    a, b, c = sorted(approved.codes.filter(kind="theme").values_list("number", flat=True))[:3]
    for frame in (approved, wave2, wave3, wave4):  # one net of a and b, one of c, every wave
        first = frame.nets.create(number=90, label="Money")
        frame.codes.filter(number__in=(a, b)).update(net=first)
        frame.codes.filter(number=c).update(net=frame.nets.create(number=91, label="Service"))
    services.move_code_to_net(code=wave3.codes.get(number=b), net=wave3.nets.get(number=91))
    services.merge_codes(target=wave4.codes.get(number=a), sources=[wave4.codes.get(number=b)])

    nets = waves.tracker_tables(question=approved.question).nets
    assert {n: [c.redefined for c in nets.row(n)] for n in (90, 91)} == {
        90: [False, False, True, True],  # b left in wave 3, is back (merged into a) in wave 4
        91: [False, False, True, True],  # b joined in wave 3, left in wave 4
    }
    assert [c.change is None for c in nets.row(90)] == [True, False, True, True]
    data = api_client.get(f"/api/codeframes/{approved.pk}/tracker/").json()
    flagged = {(c["wave"], c["net"]) for c in data["net_cells"] if c["redefined"]}
    assert flagged == {("2027-02", 90), ("2027-02", 91), ("2027-03", 90), ("2027-03", 91)}
    text = tracker.tracker_csv(waves.tracker_tables(question=approved.question).codes, nets=nets)
    redefined = [row["redefined"] for row in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))]
    assert redefined.count("yes") == 5  # code a's in wave 4


def test_a_waves_exports_and_api_give_its_own_answers_as_examples(approved, api_client):
    """The page showed a wave's own answers as its codes' examples, but the XLSX and the API
    still gave the approved frame's (last wave's answers as this wave's)."""
    from openpyxl import load_workbook

    from codeframe import exports

    wave = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    own = set(wave.question.responses.values_list("text", flat=True))
    sheet = load_workbook(io.BytesIO(exports.build_xlsx(codeframe=wave)))["Codeframe"]
    shown = {
        t
        for row in list(sheet.iter_rows(values_only=True))[1:]
        if row[9]
        for t in row[9].split(" | ")
    }
    body = api_client.get(f"/api/codeframes/{wave.pk}/?responses=false").json()
    given = {t for net in body["nets"] for code in net["codes"] for t in code["examples"]}
    assert shown and shown <= own and given == shown


def test_an_empty_code_says_so_and_a_suggestion_of_its_label_is_coded_as_it_in_one_click(
    staff_client, api_client, approved
):
    """A code added by hand to an approved frame has no answers for the classifier to learn it
    from: the frame's page, the wave form and the API say so; its theme comes back as a
    suggestion of its name, which is offered as "Code as" that code, not refused."""
    mortgage = waves.add_code(codeframe=approved, label="Mortgage")
    assert waves.empty_codes(codeframe=approved) == [mortgage]
    page = unescape(staff_client.get(approved.get_absolute_url()).content.decode())
    assert f"Code {mortgage.number} “Mortgage” has no answers</strong>" in page
    assert "carry that wave's edits back" in page
    form = unescape(
        staff_client.get(reverse("codeframe:wave-new", args=[approved.pk])).content.decode()
    )
    assert f"Code {mortgage.number} “Mortgage” has no answers" in form
    body = api_client.get(f"/api/codeframes/{approved.pk}/").json()
    assert [c["id"] for net in body["nets"] for c in net["codes"] if c["empty"]] == [
        mortgage.number
    ]

    wave = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")
    suggestion = suggestion_of(wave, "mortgage", n=2)
    with pytest.raises(
        InvalidEdit,
        match=f"no answers yet: code this suggestion's answers as code {mortgage.number}",
    ):
        waves.accept_suggestion(suggestion=suggestion)
    page = unescape(staff_client.get(wave.get_absolute_url()).content.decode())
    assert f"Code as {mortgage.number}. Mortgage" in page and "no answers yet" in page
    listed = api_client.get(f"/api/codeframes/{wave.pk}/suggestions/").json()
    assert [s["same_label_code"] for s in listed] == [mortgage.number]
    in_wave = wave.codes.get(number=mortgage.number)
    decided = staff_client.post(
        reverse("codeframe:suggestion-decide", args=[wave.pk, suggestion.pk, "assign"]),
        {"code": in_wave.pk},
    )
    assert decided.status_code == 302
    assert set(in_wave.assignments.values_list("response_id", flat=True)) == set(
        suggestion.response_ids
    )
