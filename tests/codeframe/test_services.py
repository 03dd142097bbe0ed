import threading

import pytest
from django.db import connection

from codeframe import selectors, services
from codeframe.exceptions import (
    GenerationFailed,
    ImportFailed,
    InvalidEdit,
    NoResponses,
    TooManyResponses,
)
from codeframe.generation import CodeframeDraft, DraftCode, DraftNet
from codeframe.importers import ImportedRow
from codeframe.models import Assignment, Code, Codeframe, Net, Question, Response
from codeframe.services import drafts
from tests.codeframe.conftest import ANSWERS, make_question

pytestmark = pytest.mark.django_db


def rows(*texts: str) -> list[ImportedRow]:
    return [ImportedRow(line=i, respondent_id="", text=t) for i, t in enumerate(texts, 1)]


def primary_codes(codeframe: Codeframe) -> dict[int, int]:
    """response id -> code number of its primary code."""
    return dict(
        Assignment.objects.filter(codeframe=codeframe, is_primary=True).values_list(
            "response_id", "code__number"
        )
    )


# --- import ------------------------------------------------------------------------------


def test_import_creates_the_question_keeps_order_and_skips_blanks():
    result = services.import_responses(rows=rows("b", "", "a"), survey="S", question_text="Q?")
    assert (result.imported, result.skipped) == (2, 1)
    answers = list(result.question.responses.values_list("text", "respondent_id", "position"))
    assert answers == [("b", "1", 1), ("a", "3", 2)]


def test_import_appends_after_existing_answers(question):
    services.import_responses(rows=rows("later"), question=question)
    assert question.responses.order_by("position").last().text == "later"
    assert question.responses.count() == len(ANSWERS) + 1


def ided(*pairs: tuple[str, str]) -> list[ImportedRow]:
    return [ImportedRow(line=i, respondent_id=r, text=t) for i, (r, t) in enumerate(pairs, 2)]


@pytest.mark.parametrize(
    ("ids", "message"),
    [([" ", "r2"], r"respondent_ids\[0\] is blank"), (["r1", "x" * 101], r"\[1\] is longer")],
)
def test_ids_sent_as_a_list_are_checked_as_a_files_are(ids, message):
    with pytest.raises(ImportFailed, match=message):
        services.import_texts(texts=["a", "b"], respondent_ids=ids, survey="S")
    assert not Question.objects.exists()


def test_a_respondent_id_given_twice_is_refused_and_nothing_kept():
    with pytest.raises(ImportFailed, match=r"Line 4: respondent id 'R1' is already on line 2"):
        services.import_responses(rows=ided(("R1", "a"), ("R2", "b"), ("R1", "c")), survey="S")
    assert not Question.objects.exists()


def test_an_appended_id_the_question_has_is_refused_and_the_question_kept(question):
    before = list(question.responses.values_list("pk", flat=True))
    taken = question.responses.first().respondent_id
    with pytest.raises(ImportFailed, match=f"respondent id '{taken}' is already on an answer"):
        services.import_responses(rows=ided(("new-1", "x"), (taken, "y")), question=question)
    assert list(question.responses.values_list("pk", flat=True)) == before


def test_answers_without_ids_added_to_a_question_number_on_from_its_positions():
    """Pasted text twice (or a file without an id column): a new question's answers are
    numbered by line, later ones from their position on, skipping numbers already taken, so
    no two answers share an id."""
    first = services.import_responses(rows=rows("a", "", "b"), survey="S").question
    services.import_responses(rows=ided(("4", "given")), question=first)  # takes position 3's
    services.import_responses(rows=rows("c", "d"), question=first)
    ids = list(first.responses.order_by("position").values_list("respondent_id", flat=True))
    assert ids == ["1", "3", "4", "5", "6"]


def test_a_failing_line_leaves_nothing_imported():
    def failing():
        yield from rows("fine", "also fine")
        raise ImportFailed("Line 3 is not UTF-8 text")

    with pytest.raises(ImportFailed, match="Line 3"):
        services.import_responses(rows=failing(), survey="S")
    assert not Question.objects.exists()
    assert not Response.objects.exists()


def test_no_answers_is_refused_and_the_new_question_not_kept():
    with pytest.raises(ImportFailed, match="No answers"):
        services.import_responses(rows=rows("", "  "), survey="S")
    assert not Question.objects.exists()


def test_import_above_the_limit_is_refused_whole(settings, question):
    settings.CODEFRAME = {"MAX_RESPONSES": len(ANSWERS) + 2, "BATCH_SIZE": 2}
    with pytest.raises(TooManyResponses):
        services.import_responses(rows=rows("a", "b", "c", "d"), question=question)
    assert question.responses.count() == len(ANSWERS)


def test_replace_swaps_the_answers_and_drops_old_codeframes(codeframe):
    question = codeframe.question
    services.import_responses(rows=rows("only one"), question=question, replace=True)
    assert list(question.responses.values_list("text", flat=True)) == ["only one"]
    assert not Codeframe.objects.exists()


def test_iter_response_texts_streams_all_or_some_questions(question):
    other = make_question(["x", "y"], survey="Other")
    assert list(selectors.iter_response_texts(question_ids=[other.pk])) == ["x", "y"]
    everything = list(selectors.iter_response_texts(chunk_size=3))
    assert everything[: len(ANSWERS)] == ANSWERS and everything[len(ANSWERS) :] == ["x", "y"]
    assert list(selectors.iter_response_texts(question_ids=[])) == []


# --- generation --------------------------------------------------------------------------


def test_create_codeframe_stores_codes_assignments_and_timings(codeframe):
    answers = codeframe.question.responses.count()
    assert codeframe.response_count == answers
    assert codeframe.cache_misses == answers and codeframe.cache_hits == 0
    assert {"embedding_seconds", "clustering_seconds", "total_seconds"} <= set(codeframe.timings)
    codes = list(codeframe.codes.all())
    assert codes and all(code.net is not None for code in codes)
    primaries = primary_codes(codeframe)
    assert sum(code.size for code in codes) == len(primaries) <= answers
    for code in codes:
        assert code.size == sum(1 for number in primaries.values() if number == code.number)


def test_generation_is_deterministic(question):
    first = services.create_codeframe(question=question, n_codes=3)
    second = services.create_codeframe(question=question, n_codes=3)
    assert primary_codes(first) == primary_codes(second)
    assert list(first.codes.values_list("label", "size")) == list(
        second.codes.values_list("label", "size")
    )


def test_a_question_without_answers_is_refused():
    question = Question.objects.create(project=services.default_project(), survey="Empty")
    with pytest.raises(NoResponses, match="no answers"):
        services.create_codeframe(question=question)
    assert not Codeframe.objects.exists()


@pytest.mark.parametrize(
    "texts",
    [
        ["Only one answer"],
        ["Same"] * 6,
        ["Trop cher 😡", "Sehr guter Service 👍", "服务很好", "😀😀😀", "Precio alto", "¿Qué?"],
    ],
    ids=["one", "identical", "emoji-and-non-english"],
)
def test_awkward_answers_still_give_a_valid_codeframe(texts):
    question = make_question(texts)
    codeframe = services.create_codeframe(question=question)
    assert codeframe.codes.exists()
    assert Assignment.objects.filter(codeframe=codeframe, is_primary=True).count() <= len(texts)
    assert codeframe.response_count == len(texts)


def test_too_many_answers_for_a_codeframe(settings, question):
    settings.CODEFRAME = {"MAX_RESPONSES": 5}
    with pytest.raises(TooManyResponses, match="limit of 5"):
        services.create_codeframe(question=question)


def _draft(n: int, *, bad_code: int | None = None) -> CodeframeDraft:
    code = DraftCode(id=1, label="All", keywords=[], net_id=1, net="Net", size=n, examples=[])
    assignments = [[1] for _ in range(n)]
    if bad_code is not None:
        assignments[-1] = [bad_code]
    return CodeframeDraft(
        codes=[code],
        nets=[DraftNet(id=1, label="Net", code_ids=[1])],
        assignments=assignments,
        confidences=[[1.0] for _ in range(n)],
    )


@pytest.mark.parametrize("broken", ["unknown code on the last answer", "too few assignments"])
def test_a_draft_that_does_not_fit_leaves_nothing_written(monkeypatch, question, broken):
    n = question.responses.count()
    draft = _draft(n, bad_code=99) if broken.startswith("unknown") else _draft(n - 1)
    monkeypatch.setattr(drafts, "generate_codeframe", lambda texts, **kw: draft)
    with pytest.raises(GenerationFailed):
        services.create_codeframe(question=question)
    assert not Codeframe.objects.exists()
    assert not Net.objects.exists() and not Code.objects.exists()
    assert not Assignment.objects.exists()


def test_real_model_end_to_end_groups_answers_by_theme(real_model):
    themes = {
        "app": [
            "The app keeps crashing when I log in",
            "App crashes every time I open it",
            "The mobile app freezes and crashes",
            "Your app crashed again this morning",
            "App is buggy and crashes constantly",
        ],
        "fees": [
            "Fees are far too high",
            "The monthly fee is too expensive",
            "Your account charges are too high",
            "Too expensive, high fees",
            "The fees cost me too much money",
        ],
        "staff": [
            "The staff in the branch were very friendly",
            "Friendly and helpful staff",
            "The branch staff were kind and helpful",
            "Lovely helpful people at the branch",
            "Staff were friendly and polite",
        ],
    }
    question = make_question([t for texts in themes.values() for t in texts])
    codeframe = services.create_codeframe(question=question)
    by_text = {
        text: code
        for text, code in Assignment.objects.filter(
            codeframe=codeframe, is_primary=True
        ).values_list("response__text", "code_id")
    }
    majority = {}
    for theme, texts in themes.items():
        codes = [by_text.get(t) for t in texts]
        top = max(set(codes), key=codes.count)
        assert top is not None and codes.count(top) >= 3, (theme, codes)
        majority[theme] = top
    assert len(set(majority.values())) == 3
    assert codeframe.cache_misses == 15


def test_second_generation_through_redis_is_served_from_the_cache(redis_cache, question):
    first = services.create_codeframe(question=question)
    second = services.create_codeframe(question=question)
    n = question.responses.count()
    assert (first.cache_hits, first.cache_misses) == (0, n)
    assert (second.cache_hits, second.cache_misses) == (n, 0)


# --- review edits ------------------------------------------------------------------------


def test_rename_survives_reload(codeframe):
    code = codeframe.codes.first()
    services.rename_code(code=code, label="  Price and fees  ")
    assert Code.objects.get(pk=code.pk).label == "Price and fees"
    with pytest.raises(InvalidEdit):
        services.rename_code(code=code, label="   ")


def test_a_label_another_code_of_the_frame_has_is_refused(codeframe, staff_client):
    """Two codes both "Account" were accepted: SPSS then had two value labels alike and the
    CSV "5. Account" beside "6. Account", which a data processor cannot tell apart."""
    from codeframe import waves

    first, second = list(codeframe.codes.order_by("number"))[:2]
    with pytest.raises(InvalidEdit, match=f"Code {first.number} is already labelled"):
        services.rename_code(code=second, label=f"  {first.label.upper()} ")
    services.rename_code(code=first, label=first.label.lower())  # its own label, recased: fine
    # Alike to the eye: composed or not, fullwidth, a zero-width space, doubled spaces.
    services.rename_code(code=first, label="Café  service")
    for alike in ("Cafe\u0301 service", "\uff23afé service", "Café service\u200b", "café service"):
        with pytest.raises(InvalidEdit, match=f"Code {first.number} is already labelled"):
            services.rename_code(code=second, label=alike)
    with pytest.raises(InvalidEdit, match="already labelled"):
        waves.add_code(codeframe=codeframe, label=second.label)
    codeframe.nets.create(number=90, label="Money")
    other = codeframe.nets.create(number=91)
    with pytest.raises(InvalidEdit, match="Net 90 is already labelled “Money”"):
        services.rename_net(net=other, label="money")
    page = staff_client.post(
        f"/codeframes/{codeframe.pk}/codes/{second.pk}/rename/", {"label": first.label}, follow=True
    )
    assert "is already labelled" in page.content.decode()
    assert Code.objects.get(pk=second.pk).label == second.label
    assert Net.objects.get(pk=other.pk).label == ""  # the refused renames wrote nothing
    services.rename_code(code=first, label="Café")  # case folded beyond ASCII, on any database
    with pytest.raises(InvalidEdit, match="already labelled “Café”"):
        services.rename_code(code=second, label="CAFÉ")


def test_merge_moves_answers_and_keeps_sizes_consistent(codeframe):
    target, source = list(codeframe.codes.order_by("number"))[:2]
    answers_before = primary_codes(codeframe)
    moved = {r for r, n in answers_before.items() if n in (target.number, source.number)}
    source_keywords = list(source.keywords)
    services.merge_codes(target=target, sources=[source])
    assert not Code.objects.filter(pk=source.pk).exists()
    target = Code.objects.get(pk=target.pk)
    after = primary_codes(codeframe)
    assert {r for r, n in after.items() if n == target.number} == moved
    assert target.size == len(moved)
    assert all(k in target.keywords for k in source_keywords)
    assert sum(codeframe.codes.values_list("size", flat=True)) == len(answers_before)


def test_merge_into_a_code_the_answer_already_carries(codeframe):
    target, source = list(codeframe.codes.order_by("number"))[:2]
    response = Assignment.objects.filter(code=source, is_primary=True).first().response
    Assignment.objects.create(
        codeframe=codeframe, response=response, code=target, confidence=0.2, is_primary=False
    )
    services.merge_codes(target=target, sources=[source])
    kept = Assignment.objects.get(response=response, codeframe=codeframe)
    assert kept.code_id == target.pk and kept.is_primary


def test_an_answer_with_two_merged_codes_keeps_the_surer_confidence(codeframe):
    """Both its codes merged into a third: its one row of the target is as sure as the surer
    of the two (as when the target was one of its codes), and stays its primary."""
    target, first, second = list(codeframe.codes.order_by("number"))[:3]
    primary = Assignment.objects.filter(code=first, is_primary=True).first()
    primary.confidence = 0.4
    primary.save(update_fields=["confidence"])
    Assignment.objects.filter(response=primary.response, codeframe=codeframe).exclude(
        pk=primary.pk
    ).delete()
    Assignment.objects.create(
        codeframe=codeframe,
        response=primary.response,
        code=second,
        confidence=0.9,
        is_primary=False,
    )
    services.merge_codes(target=target, sources=[first, second])
    kept = Assignment.objects.get(response=primary.response, codeframe=codeframe)
    assert (kept.code_id, kept.is_primary, kept.confidence) == (target.pk, True, 0.9)


def test_merge_across_codeframes_is_refused(codeframe, question):
    other = services.create_codeframe(question=question, n_codes=3)
    with pytest.raises(InvalidEdit):
        services.merge_codes(target=codeframe.codes.first(), sources=[other.codes.first()])


def test_edits_on_a_page_older_than_a_merge_say_so(codeframe):
    """A page opened before another analyst merged or deleted a code still offers it: merging
    into it, or moving an answer to it, says the code went (was a 500: the code's row was
    gone, and a move inserted an answer's code that no longer existed)."""
    first, second, third = list(codeframe.codes.order_by("number"))[:3]
    stale = Code.objects.get(pk=second.pk)
    services.merge_codes(target=first, sources=[second])
    with pytest.raises(InvalidEdit, match=f"Code {second.number} was merged or deleted"):
        services.merge_codes(target=stale, sources=[third])
    response = Assignment.objects.filter(code=first, is_primary=True).first().response
    with pytest.raises(InvalidEdit, match="reload the page"):
        services.move_response(response=response, to_code=stale)
    assert Assignment.objects.get(response=response, is_primary=True).code_id == first.pk
    assert Code.objects.filter(pk=third.pk).exists()
    # Merging a code merged away meanwhile into another does nothing more.
    assert services.merge_codes(target=third, sources=[stale]).pk == third.pk
    assert Code.objects.get(pk=first.pk).size == primary_count(codeframe, first)


def primary_count(codeframe: Codeframe, code: Code) -> int:
    return Assignment.objects.filter(codeframe=codeframe, code=code, is_primary=True).count()


@pytest.mark.django_db(transaction=True)
def test_two_analysts_editing_at_once_get_no_error_page():
    """Edits of one codeframe at once (two analysts moving one answer, opposite merges) ran
    side by side: the second move inserted a second primary code (an IntegrityError, a 500) and
    opposite merges could deadlock. They take the codeframe's lock and run in turn."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (make test runs this on it)")
    question = make_question(ANSWERS)
    codeframe = services.create_codeframe(question=question, n_codes=4)
    codes = list(codeframe.codes.order_by("number"))
    response = Assignment.objects.filter(codeframe=codeframe, is_primary=True).first().response
    errors: list[BaseException] = []

    def at_once(*edits) -> None:
        start = threading.Barrier(len(edits))

        def run(edit) -> None:
            try:
                start.wait()
                edit()
            except InvalidEdit:
                pass  # a clear message: the other analyst's edit came first
            except BaseException as exc:  # what the test is looking for
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=run, args=(edit,)) for edit in edits]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    for _ in range(5):
        at_once(
            *(
                lambda code=code: services.move_response(response=response, to_code=code)
                for code in codes
            )
        )
        assert Assignment.objects.filter(response=response, is_primary=True).count() == 1
    a, b = codes[:2]
    at_once(
        lambda: services.merge_codes(target=a, sources=[b]),
        lambda: services.merge_codes(target=b, sources=[a]),
    )
    assert errors == []
    assert codeframe.codes.filter(pk__in=[a.pk, b.pk]).count() == 1
    total = sum(codeframe.codes.values_list("size", flat=True))
    assert total == Assignment.objects.filter(codeframe=codeframe, is_primary=True).count()


def test_delete_falls_back_to_the_next_code_or_uncoded(codeframe):
    doomed, fallback = list(codeframe.codes.order_by("number"))[:2]
    with_second, *alone = [
        a.response for a in Assignment.objects.filter(code=doomed, is_primary=True)
    ]
    Assignment.objects.filter(response=with_second, code=fallback).delete()
    Assignment.objects.create(
        codeframe=codeframe, response=with_second, code=fallback, confidence=0.4
    )
    services.delete_code(code=doomed)
    assert not Code.objects.filter(pk=doomed.pk).exists()
    assert Assignment.objects.get(response=with_second, is_primary=True).code_id == fallback.pk
    for response in alone:
        assert not Assignment.objects.filter(response=response, codeframe=codeframe).exists()
    total = sum(Code.objects.filter(codeframe=codeframe).values_list("size", flat=True))
    assert total == Assignment.objects.filter(codeframe=codeframe, is_primary=True).count()


def test_move_response_changes_its_primary_code(codeframe):
    assignment = Assignment.objects.filter(codeframe=codeframe, is_primary=True).first()
    to_code = codeframe.codes.exclude(pk=assignment.code_id).first()
    old_code = assignment.code
    services.move_response(response=assignment.response, to_code=to_code)
    primary = Assignment.objects.get(
        codeframe=codeframe, response=assignment.response, is_primary=True
    )
    assert primary.code_id == to_code.pk
    assert not Assignment.objects.filter(response=assignment.response, code=old_code).exists()
    assert Code.objects.get(pk=to_code.pk).size == to_code.size + 1
    assert Code.objects.get(pk=old_code.pk).size == old_code.size - 1


def test_a_code_an_answer_left_shows_only_its_own_answers_as_examples(codeframe):
    """After its answers are moved out, a code shows none of them as examples (they were,
    and were exported so); its keywords, which describe the theme, stay."""
    code = max(codeframe.codes.all(), key=lambda c: c.size)
    other = codeframe.codes.exclude(pk=code.pk).first()
    keywords = list(code.keywords)
    assert code.examples and keywords
    moved = [
        a.response
        for a in Assignment.objects.filter(code=code, is_primary=True).select_related("response")
    ]
    kept, moved = moved[0], moved[1:]
    for response in moved:
        services.move_response(response=response, to_code=other)
    code.refresh_from_db()
    assert code.examples == [kept.text]  # the moved ones gone, its one answer in
    assert code.keywords == keywords
    services.move_response(response=kept, to_code=other)
    code.refresh_from_db()
    assert code.size == 0 and code.examples == [] and code.keywords == keywords


def test_move_to_a_code_of_another_question_is_refused(codeframe):
    other = make_question(["x"], survey="Other")
    with pytest.raises(InvalidEdit):
        services.move_response(response=other.responses.first(), to_code=codeframe.codes.first())
