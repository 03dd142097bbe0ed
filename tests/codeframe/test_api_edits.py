"""`/api/codeframes/<id>/codes/` and `.../nets/<number>/`: the codeframe page's edits through
the API, by code and net numbers, with the pages' rules. Who may call them: the route matrix
(tests/proof/test_security.py)."""

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
