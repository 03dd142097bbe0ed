import pytest
from django.urls import reverse

from codeframe.models import Assignment, Code

pytestmark = pytest.mark.django_db

MODELS = ["question", "response", "codeframe", "net", "code", "assignment"]


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password="pw-root-123"))
    return client


@pytest.mark.parametrize("model", MODELS)
def test_changelists_search_and_filter(admin_client, codeframe, model):
    url = reverse(f"admin:codeframe_{model}_changelist")
    assert admin_client.get(url).status_code == 200
    response = admin_client.get(url, {"q": "app"})
    assert response.status_code == 200
    model_admin = response.context["cl"].model_admin
    assert model_admin.search_fields and model_admin.list_filter


def test_codeframe_page_shows_its_codes_inline(admin_client, codeframe):
    page = admin_client.get(reverse("admin:codeframe_codeframe_change", args=[codeframe.pk]))
    assert page.status_code == 200
    assert codeframe.codes.first().label in page.content.decode()


def test_merge_action_folds_codes_into_the_largest(admin_client, codeframe):
    codes = list(codeframe.codes.order_by("-size", "number"))[:3]
    total = sum(c.size for c in codes)
    response = admin_client.post(
        reverse("admin:codeframe_code_changelist"),
        {"action": "merge_selected", "_selected_action": [c.pk for c in codes]},
    )
    assert response.status_code == 302
    assert list(Code.objects.filter(pk__in=[c.pk for c in codes])) == [codes[0]]
    assert Code.objects.get(pk=codes[0].pk).size == total


def test_deleting_a_code_in_the_admin_keeps_sizes_consistent(admin_client, codeframe):
    code = codeframe.codes.order_by("-size").first()
    url = reverse("admin:codeframe_code_delete", args=[code.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    total = sum(codeframe.codes.values_list("size", flat=True))
    assert total == Assignment.objects.filter(codeframe=codeframe, is_primary=True).count()


def test_moving_an_answer_in_the_admin(admin_client, codeframe, question):
    from codeframe import services

    assignment = Assignment.objects.filter(codeframe=codeframe, is_primary=True).first()
    to_code = codeframe.codes.exclude(pk=assignment.code_id).first()
    url = reverse("admin:codeframe_assignment_change", args=[assignment.pk])
    data = {
        "response": assignment.response_id,
        "code": to_code.pk,
        "confidence": "1.0",
        "is_primary": "on",
    }
    assert admin_client.post(url, data).status_code == 302
    primary = Assignment.objects.get(response=assignment.response, is_primary=True)
    assert primary.code_id == to_code.pk
    other = services.create_codeframe(question=question, n_codes=2).codes.first()
    primary = Assignment.objects.get(
        codeframe=codeframe, response=assignment.response, is_primary=True
    )
    url = reverse("admin:codeframe_assignment_change", args=[primary.pk])
    page = admin_client.post(url, {**data, "code": other.pk})
    assert page.status_code == 200
    assert "Choose a code of the same codeframe" in page.content.decode()


@pytest.mark.parametrize("model", MODELS)
def test_changelists_make_no_query_per_row(admin_client, codeframe, question, model):
    """The same number of queries with one codeframe as with three (filters included)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from codeframe import services

    url = reverse(f"admin:codeframe_{model}_changelist")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(url).status_code == 200
        return len(captured)

    one = queries()
    for _ in range(2):
        services.create_codeframe(question=question, n_codes=3)
    assert queries() == one
