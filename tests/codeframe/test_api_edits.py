"""`/api/codeframes/<id>/codes/`, `.../nets/<number>/`, `.../responses/<id>/` and `.../review/`:
the codeframe's pages' edits through the API, by code and net numbers, with the pages' rules.
Who may call them: the route matrix (tests/proof/test_security.py)."""

import pytest

from codeframe.models import Assignment, Net

pytestmark = pytest.mark.django_db


def url(codeframe, rest=""):
    return f"/api/codeframes/{codeframe.pk}/{rest}"


def codes(codeframe):
    return {c.number: c for c in codeframe.codes.select_related("net")}


def test_a_code_is_added_renamed_moved_merged_and_deleted_by_number(api_client, codeframe):
    first, second, third = sorted(codes(codeframe))[:3]
    response = codeframe.question.responses.order_by("position").first()
    highest = max(codes(codeframe))

    added = api_client.post(
        url(codeframe, "codes/"), {"label": "Apple Pay", "response": response.pk}, format="json"
    )
    assert added.status_code == 201, added.content
    body = added.json()
    number = body["id"]
    assert number > highest
    assert (body["label"], body["size"], body["net"]) == ("Apple Pay", 1, None)
    assert added["Location"] == f"/api/codeframes/{codeframe.pk}/codes/{number}/"
    primary = Assignment.objects.get(codeframe=codeframe, response=response, is_primary=True)
    assert primary.code.number == number

    net = codes(codeframe)[second].net
    renamed = api_client.patch(
        url(codeframe, f"codes/{number}/"),
        {"label": "Mobile wallets", "net": net.number},
        format="json",
    )
    assert renamed.status_code == 200, renamed.content
    assert (renamed.json()["label"], renamed.json()["net"]) == ("Mobile wallets", net.number)
    assert (codes(codeframe)[number].label, codes(codeframe)[number].net) == ("Mobile wallets", net)
    out = api_client.patch(url(codeframe, f"codes/{number}/"), {"net": None}, format="json")
    assert out.status_code == 200 and codes(codeframe)[number].net is None

    size = codes(codeframe)[first].size + codes(codeframe)[number].size
    merged = api_client.post(
        url(codeframe, f"codes/{number}/merge/"), {"into": first}, format="json"
    )
    assert merged.status_code == 200, merged.content
    assert (merged.json()["id"], merged.json()["size"]) == (first, size)
    assert number not in codes(codeframe)
    gone = api_client.patch(url(codeframe, f"codes/{number}/"), {"label": "x"}, format="json")
    assert gone.status_code == 404
    assert gone.json()["detail"] == f"Code {number} was merged into code {first}."

    into_gone = api_client.post(
        url(codeframe, f"codes/{second}/merge/"), {"into": number}, format="json"
    )
    assert into_gone.status_code == 400
    assert into_gone.json()["detail"] == f"Code {number} was merged into code {first}."

    deleted = api_client.delete(url(codeframe, f"codes/{third}/"))
    assert deleted.status_code == 204 and third not in codes(codeframe)
    again = api_client.delete(url(codeframe, f"codes/{third}/"))
    assert again.status_code == 404
    assert again.json()["detail"] == f"Code {third} was deleted from this codeframe."
    # The numbers retired by the merge and the delete are never given again.
    again = api_client.post(url(codeframe, "codes/"), {"label": "Later theme"}, format="json")
    assert again.json()["id"] > max(number, third)


def test_refused_edits_say_why_and_change_nothing(api_client, codeframe):
    first, second = sorted(codes(codeframe))[:2]
    before = {n: (c.label, c.net_id) for n, c in codes(codeframe).items()}
    other_net = codeframe.nets.exclude(pk=codes(codeframe)[first].net_id).first()
    taken = codes(codeframe)[second].label.upper()
    cases = [
        ("post", "codes/", {"label": taken}, f"Code {second} is already labelled"),
        ("post", "codes/", {"label": "   "}, "may not be blank"),
        ("post", "codes/", {"label": "New", "colour": "red"}, "Unknown field: colour"),
        # All or nothing: the move to another net is not kept when the label is refused.
        ("patch", f"codes/{first}/", {"label": taken, "net": other_net.number}, "already"),
        ("patch", f"codes/{first}/", {"net": 999}, "This codeframe has no net 999."),
        ("patch", f"codes/{first}/", {}, "Send a `label`, a `net` or both."),
        ("post", f"codes/{first}/merge/", {"into": first}, "cannot be merged into itself"),
        ("post", f"codes/{first}/merge/", {"into": 999}, "This codeframe has no code 999."),
        ("post", f"codes/{first}/merge/", {}, "This field is required."),
        # Numbers and flags as JSON has them: "2" or 2.0 is a client's bug, told as one.
        ("post", f"codes/{first}/merge/", {"into": str(second)}, "Not a whole number"),
        ("post", f"codes/{first}/merge/", {"into": float(second)}, "Not a whole number"),
        ("patch", f"codes/{first}/", {"net": True}, "Not a whole number"),
        ("post", f"codes/{first}/responses/", {"responses": ["1"]}, "Not a whole number"),
        ("post", f"codes/{first}/responses/remove/", {"responses": [1.0]}, "Not a whole number"),
        ("patch", f"nets/{other_net.number}/", {"label": ""}, "may not be blank"),
    ]
    for method, rest, body, message in cases:
        answer = getattr(api_client, method)(url(codeframe, rest), body, format="json")
        assert answer.status_code == 400, (rest, body, answer.content)
        assert message in answer.content.decode(), (rest, body, answer.json())
    assert {n: (c.label, c.net_id) for n, c in codes(codeframe).items()} == before
    assert (
        api_client.patch(url(codeframe, "codes/999/"), {"label": "x"}, format="json").status_code
        == 404
    )
    assert (
        api_client.patch(url(codeframe, "nets/999/"), {"label": "x"}, format="json").status_code
        == 404
    )
    form = api_client.post(url(codeframe, "codes/"), {"label": "New"})  # multipart: not JSON
    assert form.status_code == 415


def test_a_net_is_renamed_by_number_and_keeps_it(api_client, codeframe):
    net, other = codeframe.nets.order_by("number")[:2]
    renamed = api_client.patch(
        url(codeframe, f"nets/{net.number}/"), {"label": "Money"}, format="json"
    )
    assert renamed.status_code == 200, renamed.content
    body = renamed.json()
    assert (body["id"], body["label"]) == (net.number, "Money")
    assert {c["id"] for c in body["codes"]} == set(net.codes.values_list("number", flat=True))
    assert Net.objects.get(pk=net.pk).label == "Money"
    taken = api_client.patch(
        url(codeframe, f"nets/{other.number}/"), {"label": "MONEY"}, format="json"
    )
    assert (
        taken.status_code == 400
        and f"Net {net.number} is already labelled" in taken.json()["detail"]
    )


def test_the_schema_documents_the_edits(api_client):
    paths = api_client.get("/api/schema/", {"format": "json"}).json()["paths"]
    assert set(paths["/api/codeframes/{codeframe_id}/codes/"]) == {"post"}
    assert set(paths["/api/codeframes/{codeframe_id}/codes/{number}/"]) == {"patch", "delete"}
    assert set(paths["/api/codeframes/{codeframe_id}/codes/{number}/merge/"]) == {"post"}
    assert set(paths["/api/codeframes/{codeframe_id}/nets/{number}/"]) == {"patch"}
    assert set(paths["/api/codeframes/{codeframe_id}/responses/{response_id}/"]) == {"patch"}
    assert set(paths["/api/codeframes/{codeframe_id}/review/"]) == {"get"}
    assert set(paths["/api/codeframes/{codeframe_id}/responses/"]) == {"get"}
    assert set(paths["/api/codeframes/{codeframe_id}/codes/{number}/responses/"]) == {"post"}
    assert set(paths["/api/codeframes/{codeframe_id}/codes/{number}/responses/remove/"]) == {"post"}


def test_the_schema_says_what_a_body_refuses(api_client):
    """Bodies refuse keys they do not know and are validated whole, PATCH too: a client
    generated from a schema without `additionalProperties: false`, or with "Patched" copies
    whose required fields read optional, sent bodies that were 400s (a fuzzing review)."""
    schemas = api_client.get("/api/schema/", {"format": "json"}).json()["components"]["schemas"]
    assert not [name for name in schemas if name.startswith("Patched")]
    for name in ("CodeAdd", "CodeEdit", "NetEdit", "AnswerEdit", "WaveName", "CodeframeRequest"):
        assert schemas[name]["additionalProperties"] is False, name
    assert schemas["NetEdit"]["required"] == ["label"]
    assert schemas["WaveName"]["required"] == ["wave"]
    assert "additionalProperties" not in schemas["Error"]


def test_an_empty_net_is_renamed_and_an_unknown_answer_is_a_400(
    api_client, codeframe, staff_client
):
    net = codeframe.nets.order_by("number").first()
    for code in net.codes.all():  # every code moved out: the overview leaves the net out
        api_client.patch(url(codeframe, f"codes/{code.number}/"), {"net": None}, format="json")
    renamed = api_client.patch(
        url(codeframe, f"nets/{net.number}/"), {"label": "Empty now"}, format="json"
    )
    assert renamed.status_code == 200, renamed.content
    assert (renamed.json()["label"], renamed.json()["codes"]) == ("Empty now", [])

    unknown = api_client.post(
        url(codeframe, "codes/"), {"label": "Wallets", "response": 999999}, format="json"
    )
    assert unknown.status_code == 400
    assert unknown.json()["detail"] == "This codeframe's question has no answer 999999."

    # Labels are one line wherever they are set: the page's form too.
    before = codeframe.codes.count()
    staff_client.post(f"/codeframes/{codeframe.pk}/codes/new/", {"label": "Fees\r\nX"})
    assert codeframe.codes.count() == before


def test_answers_are_coded_uncoded_and_confirmed_through_the_review_queue(api_client, codeframe):
    """The review page's queue and its three actions, for a review tool of the agency's own:
    least sure first; each action marks the answer coded by hand and takes it off the queue."""
    primary = list(
        Assignment.objects.filter(codeframe=codeframe, is_primary=True).order_by(
            "response__position"
        )
    )
    for rank, assignment in enumerate(primary):  # the first answer is the least sure
        assignment.confidence = 0.3 + rank / (2 * len(primary))
        assignment.save(update_fields=["confidence"])
    queue = api_client.get(url(codeframe, "review/?limit=3"))
    assert queue.status_code == 200, queue.content
    body = queue.json()
    assert (body["left"], body["checked"]) == (len(primary), 0)
    assert [r["response"] for r in body["responses"]] == [a.response_id for a in primary[:3]]
    assert body["responses"][0]["code"] == primary[0].code.number

    first, second, third = (a.response_id for a in primary[:3])
    other = next(n for n in sorted(codes(codeframe)) if n != primary[1].code.number)
    answer = url(codeframe, "responses/{}/")
    confirmed = api_client.patch(answer.format(first), {"confirm": True}, format="json")
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["codes"][0] == primary[0].code.number
    assert confirmed.json()["by_hand"] is True
    moved = api_client.patch(answer.format(second), {"code": other}, format="json")
    assert moved.status_code == 200 and moved.json()["codes"][0] == other
    uncoded = api_client.patch(answer.format(third), {"code": None}, format="json")
    assert uncoded.status_code == 200 and uncoded.json()["codes"] == []
    body = api_client.get(url(codeframe, "review/")).json()
    assert (body["left"], body["checked"]) == (len(primary) - 3, 2)
    assert {first, second, third}.isdisjoint(r["response"] for r in body["responses"])

    # Refused, with a reason, and nothing changes.
    for payload, says in (
        ({}, "Send"),
        ({"code": other, "confirm": True}, "Send"),
        ({"code": other, "confirm": False}, "Send"),
        ({"code": 999}, "no code 999"),
        ({"codes": [other]}, "Unknown field: codes"),
        ({"confirm": "false"}, "Not true or false"),  # DRF's own field read it as False
        ({"confirm": 1}, "Not true or false"),
    ):
        refused = api_client.patch(answer.format(first), payload, format="json")
        assert refused.status_code == 400 and says in refused.json()["detail"], refused.content
    gone = api_client.patch(answer.format(third), {"confirm": True}, format="json")
    assert gone.status_code == 400 and "has no code in this codeframe" in gone.json()["detail"]
    assert (
        api_client.patch(answer.format(999999), {"confirm": True}, format="json").status_code == 404
    )
    for bad in ("0", "1001", "x"):
        assert api_client.get(url(codeframe, f"review/?limit={bad}")).status_code == 400
    # Undone: no longer by hand, its codes as they were, back on the queue.
    released = api_client.patch(answer.format(first), {"confirm": False}, format="json")
    assert released.status_code == 200 and released.json()["by_hand"] is False
    assert released.json()["codes"][0] == primary[0].code.number
    body = api_client.get(url(codeframe, "review/")).json()
    assert (body["left"], body["checked"]) == (len(primary) - 2, 1)
    assert first in [r["response"] for r in body["responses"]]


@pytest.mark.parametrize("blank", ["\u200b\u200b", "\u3164\u3164", "\u2800", " \u034f "])
def test_an_invisible_label_is_refused(api_client, codeframe, blank):
    """Zero-width spaces, Hangul fillers, a blank Braille pattern, a lone combining grapheme
    joiner: labels that read blank in every export's heading."""
    number = min(codes(codeframe))
    for path, method in (
        (url(codeframe, "codes/"), "post"),
        (url(codeframe, f"codes/{number}/"), "patch"),
    ):
        reply = getattr(api_client, method)(path, {"label": blank}, format="json")
        assert reply.status_code == 400, (path, reply.content)
        assert reply.json()["detail"] == "A label needs a visible character."
    assert codes(codeframe)[number].label.strip(blank)
