"""codeframe.carryback: a wave frame's edits carried back into the approved frame, so the next
wave is coded with them; and its page and API action."""

import threading
from html import unescape
from io import BytesIO, StringIO

import openpyxl
import pyreadstat
import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.urls import reverse

from codeframe import carryback, exports, selectors, services, waves
from codeframe.exceptions import CarryBackConflict, NotAWaveFrame, NotTheWavesFrame
from codeframe.exports.rows import answer_rows
from codeframe.models import (
    Assignment,
    Code,
    Codeframe,
    GenerationJob,
    Membership,
    Net,
    Question,
    Role,
)
from tests.codeframe.conftest import ANSWERS, make_question
from tests.codeframe.test_waves import (
    NEXT_WAVE,
    frame_shape,
    read_labelled,
    rows,
    suggestion_of,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("real_model")]


@pytest.fixture
def approved(real_model, question):
    return waves.approve_codeframe(
        codeframe=services.create_codeframe(question=question, n_codes=3)
    )


@pytest.fixture
def wave2(approved):
    return waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-01")


def code(frame, number):
    return frame.codes.select_related("net").get(number=number)


def numbers(frame):
    return sorted(frame.codes.values_list("number", flat=True))


def test_a_rename_keywords_and_net_move_reach_the_approved_frame_and_the_next_wave(approved, wave2):
    first, second = numbers(wave2)[:2]
    services.rename_code(code=code(wave2, first), label="App crashes and freezes")
    edited = code(wave2, second)
    edited.keywords = ["fees", "charges"]
    edited.save()
    # A code moved to a new net (the admin's net field), and a net renamed.
    new_net = Net.objects.create(codeframe=wave2, number=99, label="Money")
    Code.objects.filter(pk=edited.pk).update(net=new_net)
    renamed_net = code(wave2, first).net
    renamed_net.label = "The app"
    renamed_net.save()
    before = frame_shape(approved)
    coding = sorted(
        Assignment.objects.filter(codeframe=approved).values_list(
            "response_id", "code__number", "is_primary"
        )
    )

    preview = carryback.preview_carry_back(codeframe=wave2)
    assert not preview.applied and not preview.conflicts
    kinds = {(c.kind, c.number) for c in preview.changes}
    assert kinds == {
        ("renamed", first),
        ("keywords", second),
        ("moved", second),
        ("net_added", 99),
        ("net_renamed", renamed_net.number),
    }
    assert frame_shape(approved) == before  # a preview writes nothing

    summary = carryback.carry_back(codeframe=wave2)
    assert summary.applied and summary.counts["renamed"] == 1 and summary.counts["moved"] == 1
    assert "1 renamed" in summary.describe()
    assert code(approved, first).label == "App crashes and freezes"
    assert code(approved, first).net.label == "The app"
    assert code(approved, second).keywords == ["fees", "charges"]
    assert code(approved, second).net.number == 99 and code(approved, second).net.label == "Money"
    assert numbers(approved) == [n for n, *_ in before]  # numbers never change
    # The approved frame's own coding (wave 1's answers) is untouched.
    assert coding == sorted(
        Assignment.objects.filter(codeframe=approved).values_list(
            "response_id", "code__number", "is_primary"
        )
    )

    # Idempotent: nothing more to carry, nothing written.
    after = frame_shape(approved)
    again = carryback.carry_back(codeframe=wave2)
    assert again.changes == () and again.describe() == "nothing to carry back"
    assert frame_shape(approved) == after

    wave3 = waves.code_wave(codeframe=approved, rows=rows(ANSWERS[:6]), wave="2027-02")
    assert frame_shape(wave3) == frame_shape(approved)
    assert code(wave3, first).label == "App crashes and freezes"
    assert code(wave3, second).net.label == "Money"


def test_an_accepted_suggestion_keeps_its_number_and_codes_the_next_waves_answers(
    tmp_path, api_client, staff_client
):
    """A frame of the hand-coded bank survey; waves 2 and 3 bring train delays (a new theme)."""
    bank = read_labelled("survey_labelled.csv")
    trains = [t for t, c in read_labelled("commuter_labelled.csv") if c == "Delays / punctuality"]
    frame = waves.approve_codeframe(
        codeframe=services.create_codeframe(question=make_question([t for t, _ in bank]))
    )
    wave2 = waves.code_wave(
        codeframe=frame, rows=rows([t for t, _ in bank[::4]] + trains[:12]), wave="w2"
    )
    texts = dict(wave2.question.responses.values_list("pk", "text"))
    suggestion = max(
        wave2.suggestions.all(), key=lambda s: sum(texts[pk] in trains for pk in s.response_ids)
    )
    new = waves.accept_suggestion(suggestion=suggestion, label="Train delays")
    assert new.number == max(numbers(frame)) + 1

    summary = carryback.carry_back(codeframe=wave2)
    assert [(c.kind, c.number) for c in summary.changes] == [("added", new.number)]
    carried = code(frame, new.number)
    assert (carried.label, carried.keywords, carried.kind) == (
        "Train delays",
        new.keywords,
        "theme",
    )
    # Its examples are the wave's answers coded with it (the frame's own answers have none).
    wave_answers = set(Assignment.objects.filter(code=new).values_list("response__text", flat=True))
    assert set(carried.examples) == wave_answers and len(wave_answers) >= 3
    assert waves.classifier_examples(codeframe=frame)[new.number] == carried.examples

    wave3 = waves.code_wave(
        codeframe=frame, rows=rows([t for t, _ in bank[1::8]] + trains[12:]), wave="w3"
    )
    assert numbers(wave3) == numbers(frame)
    primary = {
        a.response.text: a.code.number
        for a in Assignment.objects.filter(codeframe=wave3, is_primary=True).select_related(
            "response", "code"
        )
    }
    late = [t for t in trains[12:] if primary.get(t) == new.number]
    assert len(late) >= len(trains[12:]) // 2, primary
    bank_in_new = [t for t, n in primary.items() if n == new.number and t not in trains]
    assert len(bank_in_new) <= 1, bank_in_new
    assert carryback.carry_back(codeframe=wave2).changes == ()

    # The first wave's answers were never coded with it: no share there (not 0%), no change
    # into the second wave, and system-missing in the stacked SPSS file.
    table = waves.tracker_tables(question=frame.question).codes
    first, second, third = table.row(new.number)
    assert (first.share, second.change) == (None, None)
    assert second.share > 0 and third.change is not None
    assert all(cell.share is not None for cell in table.row(min(numbers(frame))))
    path = tmp_path / "tracker.sav"
    path.write_bytes(
        exports.build_tracker_sav(
            question=frame.question, waves=waves.tracker_frames(question=frame.question)
        )
    )
    data, _meta = pyreadstat.read_sav(str(path))
    by_wave = data.groupby("wave")[f"c{new.number}"]
    assert by_wave.count().to_dict() == {
        1.0: 0,
        2.0: len(wave2.question.responses.all()),
        3.0: len(wave3.question.responses.all()),
    }
    # The first wave's own exports agree: system-missing in its .sav, blank in its 0/1 CSV, and
    # its net (if any) counts only the codes its answers were coded with.
    frame.refresh_from_db()  # carry_back noted the code in its params
    path.write_bytes(exports.build_sav(codeframe=frame))
    own, _meta = pyreadstat.read_sav(str(path))
    assert own[f"c{new.number}"].isna().all() and own[f"c{min(numbers(frame))}"].notna().all()
    binary = list(answer_rows(codeframe=frame, layout="binary"))
    column = next(i for i, name in enumerate(binary[0]) if name.startswith(f"{new.number}. "))
    assert {row[column] for row in binary[1:]} == {""}
    # ... and so do its page, XLSX and API: "not asked", not 0.
    page = staff_client.get(frame.get_absolute_url()).content.decode()
    assert page.count("not asked in this wave</td>") == 1
    sheet = openpyxl.load_workbook(BytesIO(exports.build_xlsx(codeframe=frame)))["Codeframe"]
    cells = {r[1]: r[5:9] for r in sheet.iter_rows(min_row=2, values_only=True) if r[1]}
    assert cells[new.number] == (None, None, None, None)
    assert None not in cells[min(numbers(frame))]
    api = api_client.get(f"/api/codeframes/{frame.pk}/").json()
    asked = {c["id"]: c["asked"] for net in api["nets"] for c in net["codes"]}
    assert [n for n, yes in asked.items() if not yes] == [new.number]
    # Once an analyst codes an answer of the first wave with it, the first wave has it.
    services.move_response(response=frame.question.responses.first(), to_code=carried)
    table = waves.tracker_tables(question=frame.question).codes
    assert table.row(new.number)[0].share == 1 / frame.question.responses.count()
    binary = list(answer_rows(codeframe=frame, layout="binary"))
    assert sorted(row[column] for row in binary[1:])[-2:] == [0, 1]


def test_a_merge_and_a_delete_are_repeated_and_their_numbers_never_reused(
    approved, wave2, staff_client
):
    kept, merged, deleted = numbers(wave2)[:3]
    wave1_answers = set(
        Assignment.objects.filter(codeframe=approved, code__number=merged).values_list(
            "response_id", flat=True
        )
    )
    assert wave1_answers
    services.merge_codes(target=code(wave2, kept), sources=[code(wave2, merged)])
    services.delete_code(code=code(wave2, deleted))
    assert wave2.__class__.objects.get(pk=wave2.pk).params["merged_into"] == {str(merged): kept}

    # The preview says how many of wave 1's own answers the merge and the delete recode; an
    # answer carrying both codes (made so here, as a second code) counts once in all.
    Assignment.objects.get_or_create(
        codeframe=approved,
        response_id=min(wave1_answers),
        code=code(approved, deleted),
        defaults={"is_primary": False},
    )
    preview = carryback.preview_carry_back(codeframe=wave2)
    wave1_deleted = Assignment.objects.filter(codeframe=approved, code__number=deleted)
    recodes = {(c.kind, c.number): c.answers for c in preview.changes if c.answers is not None}
    assert recodes == {
        ("merged", merged): len(wave1_answers),
        ("removed", deleted): wave1_deleted.count(),
    }
    assert preview.approved_wave == "1"
    both = wave1_answers | set(wave1_deleted.values_list("response_id", flat=True))
    assert preview.recoded == len(both) < sum(recodes.values())
    alone = [  # the deleted code's answers with no other code: left without one
        r
        for r in wave1_deleted.values_list("response_id", flat=True)
        if set(
            Assignment.objects.filter(codeframe=approved, response_id=r).values_list(
                "code__number", flat=True
            )
        )
        == {deleted}
    ]
    removal = next(c for c in preview.changes if c.kind == "removed")
    assert removal.uncoded == len(alone) < removal.answers  # the one also merged keeps a code
    page = staff_client.get(reverse("codeframe:codeframe-carry-back", args=[wave2.pk]))
    html = page.content.decode()
    assert 'id="carry-back-recodes"' in html and "rewrites wave 1's coding" in html
    assert f"recode\n  {preview.recoded} of its answers" in html
    assert f"its {len(wave1_answers)} answers in wave 1 move there" in html
    assert f"answers in wave 1, {len(alone)} " in html and "left without a code" in html
    out = StringIO()
    call_command("carry_back", "--codeframe", str(wave2.pk), stdout=out)
    assert f"This recodes {preview.recoded} answer(s) of wave 1" in out.getvalue()
    assert f", {len(alone)} left without a code]" in out.getvalue()

    summary = carryback.carry_back(codeframe=wave2)
    assert {(c.kind, c.number, c.into) for c in summary.changes if c.kind != "keywords"} == {
        ("merged", merged, kept),
        ("removed", deleted, None),
    }
    assert numbers(approved) == numbers(wave2)
    # The approved frame's answers of the merged code moved to the code kept.
    assert wave1_answers <= set(
        Assignment.objects.filter(code=code(approved, kept)).values_list("response_id", flat=True)
    )
    assert set(code(wave2, kept).keywords) == set(code(approved, kept).keywords)
    assert carryback.carry_back(codeframe=wave2).changes == ()

    # The next wave has neither code, and a new code never takes their numbers.
    wave3 = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-02")
    assert numbers(wave3) == numbers(approved)
    highest = max(kept, merged, deleted, *numbers(approved))
    suggestion = suggestion_of(wave3, "Branch closures")
    assert waves.accept_suggestion(suggestion=suggestion).number == highest + 1


def test_conflicting_edits_are_refused_until_the_frames_agree(approved, wave2):
    number = numbers(wave2)[0]
    services.rename_code(code=code(approved, number), label="Approved frame's name")
    services.rename_code(code=code(wave2, number), label="Wave's name")
    other = numbers(wave2)[1]
    services.rename_code(code=code(wave2, other), label="Only the wave renamed this")

    preview = carryback.preview_carry_back(codeframe=wave2)
    assert len(preview.conflicts) == 1 and "Approved frame's name" in preview.conflicts[0]
    with pytest.raises(CarryBackConflict, match="Wave's name") as refused:
        carryback.carry_back(codeframe=wave2)
    assert refused.value.summary.conflicts == preview.conflicts
    assert code(approved, other).label != "Only the wave renamed this"  # all or nothing

    services.rename_code(code=code(wave2, number), label="Approved frame's name")
    summary = carryback.carry_back(codeframe=wave2)
    assert [(c.kind, c.number) for c in summary.changes] == [("renamed", other)]
    assert code(approved, number).label == "Approved frame's name"


def test_a_wave_delete_of_a_code_the_approved_frame_renamed_is_a_conflict(approved, wave2):
    deleted = numbers(wave2)[1]
    services.rename_code(code=code(approved, deleted), label="Complaints handling")
    services.delete_code(code=code(wave2, deleted))
    preview = carryback.preview_carry_back(codeframe=wave2)
    assert preview.conflicts == (
        f"Code {deleted} “Complaints handling” was deleted in this wave, but its label changed "
        "in the approved frame since.",
    )
    with pytest.raises(CarryBackConflict):
        carryback.carry_back(codeframe=wave2)
    assert code(approved, deleted).label == "Complaints handling"  # kept, nothing carried


def test_two_waves_coded_with_one_frame_do_not_undo_each_others_edits(approved, wave2):
    wave3 = waves.code_wave(codeframe=approved, rows=rows(ANSWERS[:6]), wave="2027-02")
    first, second = numbers(approved)[:2]
    services.rename_code(code=code(wave2, first), label="From wave 2")
    services.rename_code(code=code(wave3, second), label="From wave 3")
    carryback.carry_back(codeframe=wave2)
    carryback.carry_back(codeframe=wave3)  # wave 3 never touched `first`: it stays
    assert code(approved, first).label == "From wave 2"
    assert code(approved, second).label == "From wave 3"
    # Wave 2 edits again after its first carry-back: measured from what it carried.
    services.rename_code(code=code(wave2, first), label="From wave 2, again")
    assert [c.kind for c in carryback.carry_back(codeframe=wave2).changes] == ["renamed"]
    assert code(approved, first).label == "From wave 2, again"


def test_carrying_back_never_leaves_two_codes_or_nets_labelled_alike(approved, wave2):
    """Each wave frame refuses a label one of its codes has, but two waves can each add
    "Fees", or rename a net to a label the approved frame gave another: those are conflicts."""
    wave3 = waves.code_wave(codeframe=approved, rows=rows(ANSWERS[:6]), wave="2027-02")
    fees = waves.add_code(codeframe=wave2, label="Fees")
    carryback.carry_back(codeframe=wave2)
    waves.add_code(codeframe=wave3, label="fees")
    net = code(wave3, numbers(wave3)[0]).net
    other_net = approved.nets.exclude(number=net.number).first()
    other_net.label = "Money"  # renamed in the approved frame only
    other_net.save()
    net.label = "MONEY"
    net.save()
    before = frame_shape(approved)

    preview = carryback.preview_carry_back(codeframe=wave3)
    added = max(numbers(wave3))
    nets = sorted([(net.number, "MONEY"), (other_net.number, "Money")])
    assert preview.conflicts == (
        f"Code {fees.number} “Fees” and code {added} “fees” would be labelled alike in the "
        "approved frame (two alike cannot be told apart in the exports): rename one of them in "
        "either frame.",
        f"Net {nets[0][0]} “{nets[0][1]}” and net {nets[1][0]} “{nets[1][1]}” would be "
        "labelled alike in the approved frame (two alike cannot be told apart in the exports): "
        "rename one of them in either frame.",
    )
    with pytest.raises(CarryBackConflict, match="labelled alike"):
        carryback.carry_back(codeframe=wave3)
    assert frame_shape(approved) == before  # nothing carried

    # Renamed apart in the wave (the code and the net): carried.
    services.rename_code(code=code(wave3, added), label="Fees for transfers")
    net.label = "The app, again"
    net.save()
    summary = carryback.carry_back(codeframe=wave3)
    assert {(c.kind, c.number) for c in summary.changes} == {
        ("added", added),
        ("net_renamed", net.number),
    }
    assert code(approved, added).label == "Fees for transfers"


def test_a_wave_frame_coded_before_the_start_frame_was_kept(approved, wave2):
    """No `carry_base`: the approved frame stands in for it; only codes the wave notes as
    retired are merged or deleted, so a code the approved frame gained since is kept."""
    wave2.params.pop(carryback.CARRY_BASE)
    wave2.save(update_fields=["params"])
    first, second = numbers(wave2)[:2]
    services.rename_code(code=code(wave2, first), label="Old wave's rename")
    Code.objects.filter(codeframe=wave2, number=second).delete()  # no record: not carried
    Code.objects.create(codeframe=approved, number=500, label="Added to the approved frame")
    summary = carryback.carry_back(codeframe=wave2)
    assert [(c.kind, c.number) for c in summary.changes] == [("renamed", first)]
    assert code(approved, first).label == "Old wave's rename"
    assert {second, 500} <= set(numbers(approved))
    assert carryback.carry_back(codeframe=wave2).changes == ()


def test_only_a_wave_frame_carries_back(approved):
    with pytest.raises(NotAWaveFrame, match="not coded with an approved codeframe"):
        carryback.preview_carry_back(codeframe=approved)


# --- The page and the API -------------------------------------------------------------------


def test_the_page_previews_then_carries_back(staff_client, approved, wave2):
    number = numbers(wave2)[0]
    services.rename_code(code=code(wave2, number), label="Renamed in the wave")
    detail = staff_client.get(wave2.get_absolute_url()).content.decode()
    url = reverse("codeframe:codeframe-carry-back", args=[wave2.pk])
    assert f'href="{url}"' in detail and "Carry edits back to the approved frame" in detail
    assert url not in staff_client.get(approved.get_absolute_url()).content.decode()

    page = staff_client.get(url)
    html = page.content.decode()
    assert page.status_code == 200 and 'id="carry-back-changes"' in html
    assert "Renamed in the wave" in html and "Carry this change back" in html
    assert 'id="carry-back-recodes"' not in html  # a rename recodes no answer
    assert code(approved, number).label != "Renamed in the wave"

    done = staff_client.post(url, follow=True)
    assert done.redirect_chain[-1][0] == approved.get_absolute_url()
    assert "Carried back into approved codeframe" in done.content.decode()
    assert code(approved, number).label == "Renamed in the wave"
    assert 'id="carry-back-nothing"' in staff_client.get(url).content.decode()
    again = staff_client.post(url, follow=True).content.decode()
    assert "Nothing to carry back" in again

    # A conflict: shown on the preview, refused on POST with the reason.
    services.rename_code(code=code(approved, number), label="Approved again")
    services.rename_code(code=code(wave2, number), label="Wave again")
    html = staff_client.get(url).content.decode()
    assert 'id="carry-back-conflicts"' in html and "Carry th" not in html
    refused = staff_client.post(url, follow=True).content.decode()
    assert "Not carried back" in refused and code(approved, number).label == "Approved again"

    not_a_wave = staff_client.get(reverse("codeframe:codeframe-carry-back", args=[approved.pk]))
    assert not_a_wave["Location"] == approved.get_absolute_url()


def test_the_page_is_scoped(client, django_user_model, approved, wave2):
    url = reverse("codeframe:codeframe-carry-back", args=[wave2.pk])
    outsider = django_user_model.objects.create_user("outsider", password="pw-out-1")
    viewer = django_user_model.objects.create_user("viewer", password="pw-view-1")
    Membership.objects.create(project=approved.question.project, user=viewer, role=Role.VIEWER)
    services.rename_code(code=code(wave2, numbers(wave2)[0]), label="Renamed in the wave")
    for user, status in ((outsider, 404), (viewer, 403)):
        client.force_login(user)
        assert client.get(url).status_code == status
        assert client.post(url).status_code == status
    assert code(approved, numbers(wave2)[0]).label != "Renamed in the wave"
    assert "Carry edits back" not in client.get(wave2.get_absolute_url()).content.decode()


def test_api_previews_and_carries_back(api_client, approved, wave2):
    number = numbers(wave2)[0]
    services.rename_code(code=code(wave2, number), label="Renamed by the API user")
    url = f"/api/codeframes/{wave2.pk}/carry-back/"
    preview = api_client.get(url)
    assert preview.status_code == 200, preview.content
    body = preview.json()
    assert body["applied"] is False and body["approved_codeframe"] == approved.pk
    assert body["changes"] == [
        {
            "kind": "renamed",
            "number": number,
            "label": "Renamed by the API user",
            "before": code(approved, number).label,
            "after": "Renamed by the API user",
            "into": None,
            "answers": None,
            "uncoded": None,
            "examples": None,
        }
    ]
    assert (body["approved_wave"], body["recoded_answers"]) == ("1", 0)
    applied = api_client.post(url, format="json")
    assert applied.status_code == 200 and applied.json()["applied"] is True
    assert applied.json()["counts"]["renamed"] == 1
    assert code(approved, number).label == "Renamed by the API user"
    assert api_client.post(url, format="json").json()["changes"] == []
    not_a_wave = api_client.post(f"/api/codeframes/{approved.pk}/carry-back/", format="json")
    assert not_a_wave.status_code == 409 and "not coded with" in not_a_wave.json()["detail"]

    services.rename_code(code=code(approved, number), label="Approved again")
    services.rename_code(code=code(wave2, number), label="Wave again")
    conflict = api_client.post(url, format="json")
    assert conflict.status_code == 409 and "Approved again" in conflict.json()["detail"]
    listed = conflict.json()["conflicts"]  # one by one, as the preview lists them
    assert listed == api_client.get(url).json()["conflicts"] and len(listed) == 1
    assert "Approved again" in listed[0] and "Wave again" in listed[0]
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    assert "/api/codeframes/{id}/carry-back/" in schema["paths"]
    assert set(schema["paths"]["/api/codeframes/{id}/carry-back/"]) >= {"get", "post"}


def test_the_command_previews_then_applies_and_reports_conflicts(approved, wave2):
    def run(*args) -> str:
        out = StringIO()
        call_command("carry_back", *args, stdout=out)
        return out.getvalue()

    first, second = numbers(wave2)[:2]
    services.rename_code(code=code(wave2, first), label="Renamed in the wave")
    preview = run("--codeframe", str(wave2.pk))
    assert f"renamed: {first} Renamed in the wave" in preview and "--apply" in preview
    assert code(approved, first).label != "Renamed in the wave"  # a preview writes nothing
    applied = run("--codeframe", str(wave2.pk), "--apply")
    assert f"Carried back into codeframe {approved.pk}: 1 renamed." in applied
    assert code(approved, first).label == "Renamed in the wave"
    assert "Nothing to carry back." in run("--codeframe", str(wave2.pk), "--apply")

    services.rename_code(code=code(approved, second), label="Approved's")
    services.rename_code(code=code(wave2, second), label="Wave's")
    with pytest.raises(CommandError, match="Nothing was changed"):
        run("--codeframe", str(wave2.pk), "--apply")
    assert code(approved, second).label == "Approved's"
    with pytest.raises(CommandError, match="was not coded with an approved codeframe"):
        run("--codeframe", str(approved.pk))
    with pytest.raises(CommandError, match="There is no codeframe 0"):
        run("--codeframe", "0")


def test_carried_examples_stop_at_the_cap_most_certain_first(approved, monkeypatch):
    """A code's answers are read in chunks until MAX_CARRIED_EXAMPLES distinct ones."""
    monkeypatch.setattr(carryback, "MAX_CARRIED_EXAMPLES", 2)
    counts = {c: Assignment.objects.filter(code=c).count() for c in approved.codes.all()}
    biggest = max(counts, key=counts.get)
    assert counts[biggest] > 4  # more answers than the cap lets it read
    ordered = (
        Assignment.objects.filter(code=biggest)
        .order_by("-is_primary", "-confidence", "response__position")
        .values_list("response__text", flat=True)
    )
    assert carryback._wave_examples(biggest) == list(dict.fromkeys(ordered))[:2]


def test_a_wave_coded_again_takes_the_edits_carried_back(staff_client, api_client, approved, wave2):
    """Edits carried back reach a wave already coded when it is coded again: a new codeframe
    the tracker uses for the wave, the old one (and its review) kept."""
    first = numbers(wave2)[0]
    services.rename_code(code=code(wave2, first), label="Renamed, then carried back")
    carryback.carry_back(codeframe=wave2)
    url = reverse("codeframe:codeframe-recode", args=[wave2.pk])
    assert f'action="{url}"' in staff_client.get(wave2.get_absolute_url()).content.decode()
    assert 'id="recode"' not in staff_client.get(approved.get_absolute_url()).content.decode()

    job = GenerationJob.objects.get(pk=staff_client.post(url)["Location"].split("/")[-2])
    assert job.state == GenerationJob.State.DONE and job.question == wave2.question
    assert job.params == {"codeframe": approved.pk, "wave": "2027-01", "recode": wave2.pk}
    again = job.codeframe
    assert again.coded_with == approved and numbers(again) == numbers(approved)
    assert code(again, first).label == "Renamed, then carried back"
    assert Codeframe.objects.filter(pk=wave2.pk).exists()
    by_wave = {w.label: w.codeframe for w in waves.tracker_waves(question=approved.question)}
    assert by_wave == {"1": approved, "2027-01": again}
    # The wave's page says which of its codeframes the tracker counts.
    rows_html = staff_client.get(wave2.question.get_absolute_url()).content.decode().split("<tr>")
    status = {pk: next(r for r in rows_html if f">#{pk}</a>" in r) for pk in (again.pk, wave2.pk)}
    assert "tracker-frame" in status[again.pk] and "tracker-frame" not in status[wave2.pk]
    assert "Coded with approved <a" in status[wave2.pk]

    # The old frame no longer stands for the wave: coding again from it would not count.
    stale = api_client.post(f"/api/codeframes/{wave2.pk}/recode/")
    assert stale.status_code == 409
    assert f"The tracker uses codeframe #{again.pk} for this wave" in stale.json()["detail"]
    assert 'id="recode"' not in staff_client.get(wave2.get_absolute_url()).content.decode()
    assert 'id="recode"' in staff_client.get(again.get_absolute_url()).content.decode()
    reply = api_client.post(f"/api/codeframes/{again.pk}/recode/")
    assert reply.status_code == 202 and reply.json()["state"] == "done"
    refused = api_client.post(f"/api/codeframes/{approved.pk}/recode/")
    assert refused.status_code == 409
    assert "nothing to code its wave again" in refused.json()["detail"]
    # Coded again twice: `again` is replaced too, and the newest is the wave's to approve.
    newest = waves.tracker_wave(question=wave2.question).codeframe
    assert newest not in (again, wave2)
    waves.approve_codeframe(codeframe=newest)
    refused = api_client.post(f"/api/codeframes/{newest.pk}/recode/")
    assert refused.status_code == 409 and "tracker keeps it" in refused.json()["detail"]
    waves.approve_codeframe(codeframe=approved, approved=False)
    refused = api_client.post(f"/api/codeframes/{wave2.pk}/recode/")
    assert refused.status_code == 409 and "no longer approved" in refused.json()["detail"]
    page = staff_client.post(url, follow=True).content.decode()
    assert "no longer approved" in page


def test_a_replaced_wave_frame_codes_no_later_wave(staff_client, api_client, approved, wave2):
    """A wave's codeframe replaced when the wave was coded again lacks the edits carried back
    since (a merge: the number the approved frame retired): it could still be approved and code
    a new wave, whose tracker column then counted the retired code as asked."""
    first, second = numbers(wave2)[:2]
    services.merge_codes(target=code(wave2, first), sources=[code(wave2, second)])
    carryback.carry_back(codeframe=wave2)
    assert api_client.post(f"/api/codeframes/{wave2.pk}/recode/").status_code == 202
    again = waves.tracker_wave(question=wave2.question).codeframe
    assert again != wave2 and second not in numbers(again)
    assert waves.replaced_by(codeframe=wave2) == again
    assert waves.replaced_by(codeframe=again) is None
    assert waves.replaced_by(codeframe=approved) is None

    refused = api_client.post(f"/api/codeframes/{wave2.pk}/approve/")
    assert refused.status_code == 409
    assert f"replaced by codeframe #{again.pk}" in refused.json()["detail"]
    page = staff_client.get(wave2.get_absolute_url()).content.decode()
    assert "Approve this codeframe" not in page and "so it codes no later wave" in page
    assert "Approve this codeframe" in staff_client.get(again.get_absolute_url()).content.decode()
    shown = staff_client.post(
        reverse("codeframe:codeframe-approve", args=[wave2.pk]), {"approved": "1"}, follow=True
    )
    assert f"replaced by codeframe #{again.pk}" in shown.content.decode()
    wave2.refresh_from_db()
    assert not wave2.approved
    with pytest.raises(NotTheWavesFrame, match="replaced by codeframe"):
        waves.approve_codeframe(codeframe=wave2)
    assert waves.approve_codeframe(codeframe=again).approved  # the wave's own: approved


def test_the_tracker_compares_no_code_across_a_merge_one_wave_lacks(
    staff_client, api_client, approved, wave2
):
    """A merge carried back recodes the approved frame's wave and the wave it was made in, not
    the waves between: there the merged code still stands apart, so the code it went into means
    more in some waves than in others. The tracker showed (and tested) a change across that; it
    shows none until the wave is coded again."""
    wave3 = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE), wave="2027-02")
    first, second = numbers(wave3)[:2]
    services.merge_codes(target=code(wave3, first), sources=[code(wave3, second)])
    carryback.carry_back(codeframe=wave3)

    def cells() -> dict[str, tuple]:
        row = waves.tracker_tables(question=approved.question).codes.row(first)
        return {c.wave: (c.change is None, c.redefined) for c in row}

    assert cells() == {"1": (True, False), "2027-01": (True, True), "2027-02": (True, True)}
    page = staff_client.get(reverse("codeframe:question-tracker", args=[approved.question_id]))
    # the code's two cells, and its net's (the net gained the other code's answers there)
    assert page.content.decode().count('class="small muted redefined"') == 4
    data = api_client.get(f"/api/codeframes/{approved.pk}/tracker/").json()
    flagged = [(c["wave"], c["change"]) for c in data["cells"] if c["redefined"]]
    assert flagged == [("2027-01", None), ("2027-02", None)]
    assert api_client.post(f"/api/codeframes/{wave2.pk}/recode/").status_code == 202
    assert cells() == {"1": (True, False), "2027-01": (False, False), "2027-02": (False, False)}


def test_a_wave_moved_to_another_project_no_longer_reaches_its_frame(approved, wave2):
    """A wave question moved to another client's project (in the admin) still pointed at its
    old client's approved frame: that project's analysts could read its labels in the preview,
    carry edits back into it and copy it by coding the wave again."""
    from codeframe.models import Project, Question

    other = Project.objects.create(name="Client B")
    Question.objects.filter(pk=wave2.question_id).update(project=other)
    wave2 = Codeframe.objects.get(pk=wave2.pk)
    code = wave2.codes.order_by("number").first()
    services.rename_code(code=code, label="WRITTEN BY CLIENT B")
    for step in (carryback.preview_carry_back, carryback.carry_back):
        with pytest.raises(NotAWaveFrame, match="of its project"):
            step(codeframe=wave2)
    with pytest.raises(NotAWaveFrame, match="of its project"):
        waves.recode_with(codeframe=wave2)
    assert "WRITTEN BY CLIENT B" not in set(approved.codes.values_list("label", flat=True))


def test_a_wave_with_edits_not_carried_back_is_coded_again_only_on_request(
    staff_client, api_client, approved, wave2
):
    """Coding a wave again makes a new codeframe the tracker counts: edits not carried back
    (a rename, an accepted code) would be lost to the tracker without a word."""
    first = numbers(wave2)[0]
    services.rename_code(code=code(wave2, first), label="Only in the wave")
    url = f"/api/codeframes/{wave2.pk}/recode/"
    refused = api_client.post(url, format="json")
    assert refused.status_code == 409
    assert refused.json()["detail"].startswith(
        f"Codeframe #{wave2.pk} has edits not carried back (1 renamed): coded again from "
        f"approved codeframe #{approved.pk}"
    )
    page = staff_client.post(reverse("codeframe:codeframe-recode", args=[wave2.pk]), follow=True)
    assert "has edits not carried back" in page.content.decode()
    assert not GenerationJob.objects.filter(kind=GenerationJob.Kind.WAVE, params__recode=wave2.pk)
    for bad in ("maybe", "yes", 1):  # JSON's true only: DRF's own field read "yes" as true
        refused = api_client.post(url, {"discard_edits": bad}, format="json")
        assert refused.status_code == 400 and "Not true or false" in refused.json()["detail"]

    # Carried back, the edit codes the wave again; or discarded on request.
    carryback.carry_back(codeframe=wave2)
    coded = api_client.post(url, format="json")
    assert coded.status_code == 202, coded.content
    again = Codeframe.objects.get(pk=coded.json()["codeframe"]["id"])
    assert code(again, first).label == "Only in the wave"
    services.rename_code(code=code(again, first), label="Not carried")
    refused = api_client.post(f"/api/codeframes/{again.pk}/recode/", format="json")
    assert refused.status_code == 409
    discarded = api_client.post(
        f"/api/codeframes/{again.pk}/recode/", {"discard_edits": True}, format="json"
    )
    assert discarded.status_code == 202
    newest = Codeframe.objects.get(pk=discarded.json()["codeframe"]["id"])
    assert code(newest, first).label == "Only in the wave"


def test_a_wave_frame_without_its_start_frame_is_coded_again_after_a_fix_in_the_approved(
    api_client, approved, wave2
):
    """Without `carry_base` a fix made in the approved frame reads as a wave edit undoing it:
    no reason to refuse coding the wave again (the fix is what it is for)."""
    wave2.params.pop(carryback.CARRY_BASE)
    wave2.save(update_fields=["params"])
    first = numbers(wave2)[0]
    services.rename_code(code=code(approved, first), label="Fixed in the approved frame")
    coded = api_client.post(f"/api/codeframes/{wave2.pk}/recode/", format="json")
    assert coded.status_code == 202, coded.content
    again = Codeframe.objects.get(pk=coded.json()["codeframe"]["id"])
    assert code(again, first).label == "Fixed in the approved frame"


@pytest.mark.django_db(transaction=True)
def test_locking_the_approved_frame_leaves_its_question_alone():
    """A carry-back locks the approved frame (`frame_in_project`), whose bare FOR UPDATE also
    locked the joined question, the tracker's first. add_code, accepting a suggestion and a
    wave's store lock that question before the frame: under load PostgreSQL broke the
    deadlock with a 500 (10 of 50 requests in an operator's review)."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (make test runs this on it)")
    codeframe = services.create_codeframe(question=make_question(), n_codes=3)
    question = codeframe.question
    held, release = threading.Event(), threading.Event()

    def hold_the_question() -> None:
        try:
            with transaction.atomic():
                Question.objects.select_for_update().get(pk=question.pk)
                held.set()
                release.wait(20)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_question)
    holder.start()
    try:
        assert held.wait(20)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            frame = selectors.frame_in_project(
                codeframe_id=codeframe.pk, project_id=question.project_id, lock=True
            )
        assert frame == codeframe
    finally:
        release.set()
        holder.join()


CRYPTO = [
    "Let me buy bitcoin in the app",
    "I want to trade crypto",
    "Add an Ethereum wallet",
    "Please add Apple Pay",  # also an answer of the first wave
]


def test_deleting_a_wave_takes_its_texts_out_of_every_frame_it_taught(
    staff_client, api_client, approved
):
    """A wave's accepted code carried back keeps the wave's answers as its examples in the
    approved frame (and every wave coded since copies them): deleting the wave, which says its
    answers are deleted for good, takes them out there too."""
    wave2 = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE + CRYPTO), wave="2027-02")
    crypto = waves.accept_suggestion(
        suggestion=suggestion_of(wave2, "Crypto", n=len(CRYPTO)), label="Crypto"
    )
    carryback.carry_back(codeframe=wave2)
    assert set(code(approved, crypto.number).examples) == set(CRYPTO)
    wave3 = waves.code_wave(codeframe=approved, rows=rows(NEXT_WAVE[:3]), wave="2027-03")
    assert set(code(wave3, crypto.number).examples) == set(CRYPTO)  # the copy a wave takes
    services.delete_question(question=wave3.question)  # deleted first: wave 2 is alone then

    services.delete_question(question=wave2.question)

    gone = CRYPTO[:3]
    left = [e for c in Code.objects.all() for e in c.examples]
    assert not set(gone) & set(left), left
    # The first wave's own answer stays an example: it is that answer's text too.
    assert code(approved, crypto.number).examples == ["Please add Apple Pay"]
    page = staff_client.get(approved.get_absolute_url()).content.decode()
    api = api_client.get(f"/api/codeframes/{approved.pk}/").content.decode()
    xlsx = openpyxl.load_workbook(BytesIO(exports.build_xlsx(codeframe=approved)))
    cells = " ".join(
        str(v) for sheet in xlsx for row in sheet.iter_rows(values_only=True) for v in row if v
    )
    for text in gone:
        assert text not in page and text not in api and text not in cells
    # No wave left was asked about code 19: the tracker has no row of dashes for it.
    table = waves.tracker_tables(question=approved.question).codes
    assert crypto.number not in table.codes
    assert set(table.codes) == set(numbers(approved)) - {crypto.number}


MORTGAGE_W2 = [
    "I need a mortgage",
    "Your mortgage rates are far too high",
    "They would not approve my mortgage application",
    "Remortgaging with you took months",
]
MORTGAGE_W3 = [
    "I need a mortgage for my first home",
    "Mortgage interest is a rip-off",
    "It took forever to get a mortgage offer",
    "Better mortgage deals please",
    "Make it easier to get a mortgage",
]


def _mortgage_tracker():
    """A bank frame without a loans code, approved with code "Mortgage" added by hand (no
    answers), and a second wave whose mortgage answers the analyst coded as it by hand."""
    bank = [(t, c) for t, c in read_labelled("survey_labelled.csv") if "mortgage" not in c]
    frame = services.create_codeframe(question=make_question([t for t, _ in bank]))
    mortgage = waves.add_code(codeframe=frame, label="Mortgage")
    waves.approve_codeframe(codeframe=frame)
    wave2 = waves.code_wave(
        codeframe=frame, rows=rows([t for t, _ in bank[::5]] + MORTGAGE_W2), wave="w2"
    )
    return frame, mortgage, wave2, bank


def _coded_as(frame, texts):
    primary = dict(
        Assignment.objects.filter(codeframe=frame, is_primary=True).values_list(
            "response__text", "code__number"
        )
    )
    return [primary.get(t) for t in texts]


def test_answers_coded_by_hand_into_an_empty_code_teach_it_to_the_approved_frame(staff_client):
    frame, mortgage, wave2, bank = _mortgage_tracker()
    # The classifier knows a code by its answers: an empty code gets none of the wave's.
    assert waves.empty_codes(codeframe=frame) == [mortgage]
    assert mortgage.number not in _coded_as(wave2, MORTGAGE_W2)
    hand = list(wave2.question.responses.filter(text__in=MORTGAGE_W2).values_list("pk", flat=True))
    services.add_code_to_answers(code=wave2.codes.get(number=mortgage.number), response_ids=hand)

    page = staff_client.get(reverse("codeframe:codeframe-carry-back", args=[wave2.pk]))
    assert "Taught (this wave's answers coded in them by hand" in unescape(page.content.decode())
    summary = carryback.carry_back(codeframe=wave2)
    assert [(c.kind, c.number, c.examples) for c in summary.changes] == [
        ("taught", mortgage.number, len(MORTGAGE_W2))
    ]
    assert sorted(code(frame, mortgage.number).examples) == sorted(MORTGAGE_W2)
    assert waves.empty_codes(codeframe=frame) == []
    assert carryback.carry_back(codeframe=wave2).changes == ()  # idempotent
    # Codes with answers learn from them alone, as before.
    before = waves.classifier_examples(codeframe=frame)
    assert all(
        before[c.number]
        == list(
            Assignment.objects.filter(code=c)
            .order_by("response__position")
            .values_list("response__text", flat=True)
        )
        for c in frame.codes.exclude(number=mortgage.number)
        if c.size >= carryback.FEW_ANSWERS
    )

    wave3 = waves.code_wave(
        codeframe=frame, rows=rows([t for t, _ in bank[2::5]] + MORTGAGE_W3), wave="w3"
    )
    coded = _coded_as(wave3, MORTGAGE_W3)
    assert coded.count(mortgage.number) >= 4, coded
    others = _coded_as(wave3, [t for t, _ in bank[2::5]])
    assert others.count(mortgage.number) <= 1, others
