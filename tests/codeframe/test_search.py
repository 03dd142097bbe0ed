"""Finding answers by their words and coding them together: `codeframe.search`,
`services.add_code_to_answers`, the "Find answers" page and the API's
`GET .../responses/?search=` and `POST .../codes/<number>/responses/`. Who may call them: the
route matrix (tests/proof/test_security.py)."""

from html.parser import HTMLParser

import pytest

from codeframe import search, services
from codeframe.exceptions import InvalidEdit
from codeframe.exports import get_exporter
from codeframe.models import Assignment, HandCoded

from .conftest import make_question

pytestmark = pytest.mark.django_db


def coding(codeframe, response):
    """The answer's code numbers in the codeframe, primary first."""
    rows = Assignment.objects.filter(codeframe=codeframe, response=response).order_by(
        "-is_primary", "code__number"
    )
    return [a.code.number for a in rows]


def add_answers(codeframe, texts):
    ids = [f"N{i}" for i in range(len(texts))]
    services.import_responses(rows=services.text_rows(texts, ids), question=codeframe.question)


def answer(codeframe, text):
    return codeframe.question.responses.get(text=text)


def test_every_word_is_looked_for_ignoring_case_and_accents(codeframe):
    more = ["Le CAFÉ était froid", "cafe too bitter", "Café au lait"]
    add_answers(codeframe, more)

    def found(query, **options):
        result = search.find_answers(codeframe=codeframe, query=query, **options)
        return [a.text for a in result.answers]

    assert found("café") == more
    assert found("Cafe LAIT") == ["Café au lait"]  # every word, in any order
    assert found("crash") == [  # a part of a word
        "The app keeps crashing when I log in",
        "App crashes every time I open statements",
    ]
    assert found("app crash statements") == ["App crashes every time I open statements"]
    assert found("id:R004") == found("ID: r004") == ["Fees are far too high"]
    assert found("id:R00") == []  # ids are not searched by parts
    # A number is words, not an id: respondent 45's answer is not among those with "45".
    rows = services.text_rows(["Lovely staff at the branch"], ["45"])
    services.import_responses(rows=rows, question=codeframe.question)
    assert found("45") == ["I waited 45 minutes on hold"]
    assert found("id:45") == ["Lovely staff at the branch"]
    assert found("R004") == []
    assert found("   ") == found("") == []
    # An apostrophe as phones type it is the keyboard's.
    typed = ["I don\u2019t like the fees", "I don't like the app", "don\u2018t know"]
    already = found("don't")  # the sample's own "don't know"
    rows = services.text_rows(typed, ["A1", "A2", "A3"])
    services.import_responses(rows=rows, question=codeframe.question)
    assert found("don't") == found("don\u2019t") == found("DON`T") == [*already, *typed]


def test_the_count_is_of_every_match_and_the_list_stops_at_the_limit(codeframe):
    add_answers(codeframe, [f"fee number {i}" for i in range(7)])
    found = search.find_answers(codeframe=codeframe, query="fee", limit=4)
    assert found.total == 9  # the fixture's two fee answers and the seven
    assert [a.text for a in found.answers] == [
        "Fees are far too high",
        "The monthly fee is a rip-off",
        "fee number 0",
        "fee number 1",
    ]


def test_uncoded_only_leaves_out_the_answers_with_a_code(codeframe):
    fees = answer(codeframe, "Fees are far too high")
    services.uncode_response(response=fees, codeframe=codeframe)
    found = search.find_answers(codeframe=codeframe, query="fee", uncoded_only=True)
    assert [(a.text, a.codes, a.by_hand) for a in found.answers] == [
        ("Fees are far too high", [], True)
    ]


def test_a_code_added_to_answers_is_the_primary_of_the_uncoded_and_a_further_code_of_others(
    codeframe,
):
    code = codeframe.codes.filter(kind="theme").order_by("number").last()
    fees = answer(codeframe, "Fees are far too high")
    hold = answer(codeframe, "I waited 45 minutes on hold")
    services.uncode_response(response=fees, codeframe=codeframe)
    HandCoded.objects.filter(codeframe=codeframe).delete()
    before = coding(codeframe, hold)
    assert before and code.number not in before

    added = services.add_code_to_answers(code=code, response_ids=[fees.pk, hold.pk, fees.pk])
    assert (added.primary, added.further, added.had_it) == (1, 1, 0)
    assert coding(codeframe, fees) == [code.number]
    assert coding(codeframe, hold) == [before[0], *sorted([*before[1:], code.number])]
    primary = Assignment.objects.get(codeframe=codeframe, response=hold, is_primary=True)
    assert primary.code.number == before[0]  # its primary stays
    hand = HandCoded.objects.filter(codeframe=codeframe).values_list("response", flat=True)
    assert set(hand) == {fees.pk, hold.pk}
    code.refresh_from_db()
    assert code.size == Assignment.objects.filter(code=code, is_primary=True).count()

    again = services.add_code_to_answers(code=code, response_ids=[fees.pk, hold.pk])
    assert (again.primary, again.further, again.had_it) == (0, 0, 2)

    # The exports carry the further code (list layout: primary first).
    exported = "".join(get_exporter("csv", "list").render(codeframe=codeframe))
    row = next(line for line in exported.splitlines() if line.startswith(hold.respondent_id))
    assert row.endswith(",".join([";".join(map(str, coding(codeframe, hold))), "1"]))


def test_a_non_answer_code_is_no_further_code(codeframe):
    """ "Don't know" beside a theme contradicts itself: refused, nothing coded; an answer
    without codes may get it."""
    dont_know = codeframe.codes.get(kind="non_answer", label="Don't know")
    fees = answer(codeframe, "Fees are far too high")  # coded
    before = coding(codeframe, fees)
    with pytest.raises(InvalidEdit, match=r"non-answer code.*1 of these answers has codes"):
        services.add_code_to_answers(code=dont_know, response_ids=[fees.pk])
    assert coding(codeframe, fees) == before
    services.uncode_response(response=fees, codeframe=codeframe)
    added = services.add_code_to_answers(code=dont_know, response_ids=[fees.pk])
    assert added.primary == 1 and coding(codeframe, fees) == [dont_know.number]


def test_a_theme_given_to_a_non_answer_replaces_it(codeframe):
    """ "Nothing really" coded "Nothing" and given a theme by hand mentions the theme after
    all: the non-answer code goes (it is an answer's only code)."""
    theme = codeframe.codes.filter(kind="theme").order_by("number").first()
    nothing = answer(codeframe, "Nothing really")
    assert [c.kind for c in codeframe.codes.filter(assignments__response=nothing)] == ["non_answer"]
    added = services.add_code_to_answers(code=theme, response_ids=[nothing.pk])
    assert (added.primary, added.further) == (1, 0)
    assert coding(codeframe, nothing) == [theme.number]


def test_an_answer_of_another_question_refuses_the_whole_request(codeframe):
    code = codeframe.codes.filter(kind="theme").order_by("number").first()
    other = make_question(["Trains are late"], survey="Commuters").responses.get()
    fees = answer(codeframe, "Fees are far too high")
    before = list(Assignment.objects.values_list("pk", "response", "code", "is_primary"))
    with pytest.raises(InvalidEdit, match=f"no answer {other.pk}: nothing was changed"):
        services.add_code_to_answers(code=code, response_ids=[fees.pk, other.pk])
    assert list(Assignment.objects.values_list("pk", "response", "code", "is_primary")) == before
    assert not HandCoded.objects.exists()


def test_the_page_finds_answers_and_codes_the_ticked_ones(staff_client, codeframe):
    code = codeframe.codes.filter(kind="theme").order_by("number").last()
    page = staff_client.get(f"/codeframes/{codeframe.pk}/find/", {"q": "app"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "<strong>4</strong> answers" in html  # "Please add Apple Pay" too
    crash, freeze = (
        answer(codeframe, "The app keeps crashing when I log in"),
        answer(codeframe, "The app freezes on the payments page"),
    )
    for found in (crash, freeze):
        assert f'name="response" value="{found.pk}" form="add-code" checked' in html

    # The analyst unticked Apple Pay and the statements answer: only the two ticked are coded.
    back = f"/codeframes/{codeframe.pk}/find/?q=app"
    statements = answer(codeframe, "App crashes every time I open statements")
    apple = answer(codeframe, "Please add Apple Pay")
    shown = [crash.pk, statements.pk, freeze.pk, apple.pk]
    posted = staff_client.post(
        f"/codeframes/{codeframe.pk}/find/code/",
        {
            "code": code.pk,
            "response": [crash.pk, freeze.pk],
            "shown": ",".join(map(str, shown)),
            "next": back,
        },
        follow=True,
    )
    assert posted.redirect_chain == [(back, 302)]
    assert code.number in coding(codeframe, crash) and code.number in coding(codeframe, freeze)
    assert code.number not in coding(codeframe, statements)
    message = [str(m) for m in posted.context["messages"]]
    assert len(message) == 1
    assert message[0].startswith(f"Coded 2 answers with code {code.number} (“{code.label}”): ")
    # The page comes back with the answers unticked still unticked: ticked again, the next
    # code would go to answers the analyst had ruled out.
    html = posted.content.decode()
    for pk, ticked in ((crash.pk, True), (freeze.pk, True), (statements.pk, False)):
        box = f'name="response" value="{pk}" form="add-code"'
        assert (f"{box} checked" in html) is ticked and box in html
    fresh = staff_client.get(f"/codeframes/{codeframe.pk}/find/", {"q": "crash"})
    assert f'value="{statements.pk}" form="add-code" checked' in fresh.content.decode()

    nothing = staff_client.post(
        f"/codeframes/{codeframe.pk}/find/code/", {"code": code.pk, "next": back}, follow=True
    )
    assert [str(m) for m in nothing.context["messages"]] == ["Tick at least one answer."]


class _FormFields(HTMLParser):
    """The fields a browser sends for the form `form_id`: its own inputs and those tied to it
    with `form=`, checkboxes only when checked."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id, self.inside, self.fields = form_id, False, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        if tag != "input" or not (self.inside or attrs.get("form") == self.form_id):
            return
        if attrs.get("type") == "checkbox" and "checked" not in attrs:
            return
        if attrs.get("name"):
            self.fields.append((attrs["name"], attrs.get("value", "")))

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False


def test_a_full_page_of_found_answers_is_coded(staff_client, codeframe):
    """The page lists up to FIND_LIMIT answers: each sent its own hidden field besides its tick,
    and 500 answers passed Django's 1,000 fields a request, a bare "Bad Request" page."""
    add_answers(codeframe, [f"Card fee number {i}" for i in range(search.FIND_LIMIT + 20)])
    code = codeframe.codes.filter(kind="theme").order_by("number").last()
    page = staff_client.get(f"/codeframes/{codeframe.pk}/find/", {"q": "card fee"})
    parser = _FormFields("add-code")
    parser.feed(page.content.decode())
    fields = {}
    for name, value in parser.fields:
        fields.setdefault(name, []).append(value)
    fields["code"] = [str(code.pk)]
    assert len(fields["response"]) == search.FIND_LIMIT
    posted = staff_client.post(f"/codeframes/{codeframe.pk}/find/code/", fields)
    assert posted.status_code == 302
    coded = Assignment.objects.filter(codeframe=codeframe, code=code)
    assert coded.filter(response__text__startswith="Card fee").count() == search.FIND_LIMIT


def test_the_api_finds_answers_and_codes_them(api_client, codeframe):
    code = codeframe.codes.filter(kind="theme").order_by("number").last()
    found = api_client.get(f"/api/codeframes/{codeframe.pk}/responses/", {"search": "FEE"})
    assert found.status_code == 200, found.content
    body = found.json()
    assert (body["query"], body["total"]) == ("FEE", 2)
    ids = [r["response"] for r in body["responses"]]
    assert [r["text"] for r in body["responses"]] == [
        "Fees are far too high",
        "The monthly fee is a rip-off",
    ]

    coded = api_client.post(
        f"/api/codeframes/{codeframe.pk}/codes/{code.number}/responses/",
        {"responses": ids},
        format="json",
    )
    assert coded.status_code == 200, coded.content
    assert coded.json()["code"]["id"] == code.number
    assert coded.json()["primary"] + coded.json()["further"] + coded.json()["had_it"] == 2
    again = api_client.get(f"/api/codeframes/{codeframe.pk}/responses/", {"search": "fee"})
    assert all(code.number in r["codes"] and r["by_hand"] for r in again.json()["responses"])
    # ... and taken off them again.
    size = coded.json()["code"]["size"]
    removed = api_client.post(
        f"/api/codeframes/{codeframe.pk}/codes/{code.number}/responses/remove/",
        {"responses": ids},
        format="json",
    )
    assert removed.status_code == 200, removed.content
    assert removed.json()["removed"] == 2
    assert removed.json()["code"]["size"] == size - coded.json()["primary"]
    after = api_client.get(f"/api/codeframes/{codeframe.pk}/responses/", {"search": "fee"})
    assert not any(code.number in r["codes"] for r in after.json()["responses"])

    for url in ("responses/", "responses/remove/"):
        stranger = api_client.post(
            f"/api/codeframes/{codeframe.pk}/codes/{code.number}/{url}",
            {"responses": [ids[0], 10**12]},
            format="json",
        )
        assert stranger.status_code == 400
        assert "no answer 1000000000000" in stranger.json()["detail"]
    for bad in ({"search": ""}, {"search": "x", "limit": 0}, {"search": "x" * 201}):
        refused = api_client.get(f"/api/codeframes/{codeframe.pk}/responses/", bad)
        assert refused.status_code == 400, bad


def test_a_code_taken_off_answers_undoes_add_code(staff_client, codeframe):
    """A wrong bulk Add code is undone at once: the code comes off the ticked answers, and
    where it was the primary code the next one takes its place."""
    theme = codeframe.codes.filter(kind="theme").order_by("number").last()
    fees = answer(codeframe, "Fees are far too high")
    hold = answer(codeframe, "I waited 45 minutes on hold")
    services.uncode_response(response=fees, codeframe=codeframe)
    before = coding(codeframe, hold)
    services.add_code_to_answers(code=theme, response_ids=[fees.pk, hold.pk])
    back = f"/codeframes/{codeframe.pk}/find/?q=e"
    posted = staff_client.post(
        f"/codeframes/{codeframe.pk}/find/code/",
        {"code": theme.pk, "response": [fees.pk, hold.pk], "remove": "1", "next": back},
        follow=True,
    )
    said = [str(m) for m in posted.context["messages"]]
    assert said == [f"Took code {theme.number} (“{theme.label}”) off 2 answers."]
    assert coding(codeframe, fees) == [] and coding(codeframe, hold) == before
    # Its primary code taken off, an answer's next code is its primary.
    first = before[0]
    services.add_code_to_answers(code=theme, response_ids=[hold.pk])
    primary = codeframe.codes.get(number=first)
    assert services.remove_code_from_answers(code=primary, response_ids=[hold.pk]) == 1
    assert coding(codeframe, hold)[0] == theme.number
    assert Assignment.objects.get(codeframe=codeframe, response=hold, is_primary=True).code == theme
