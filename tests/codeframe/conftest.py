"""Fixtures for the codeframe tests: questions with answers, generated codeframes, clients."""

import pytest

from codeframe import services
from codeframe.importers import ImportedRow
from codeframe.models import Codeframe, Membership, Question, Role

ANSWERS = [
    "The app keeps crashing when I log in",
    "App crashes every time I open statements",
    "The app freezes on the payments page",
    "Fees are far too high",
    "The monthly fee is a rip-off",
    "Lower the overdraft charges please",
    "Customer service took ages to answer",
    "I waited 45 minutes on hold",
    "Support chat never replies",
    "Nothing really",
    "don't know",
    "Please add Apple Pay",
]


def make_question(texts: list[str] | None = None, *, survey: str = "Bank NPS 2026") -> Question:
    rows = [
        ImportedRow(line=i, respondent_id=f"R{i:03d}", text=t)
        for i, t in enumerate(texts or ANSWERS, start=1)
    ]
    return services.import_responses(
        rows=rows, survey=survey, question_text="Why did you give that score?"
    ).question


@pytest.fixture
def question(db) -> Question:
    return make_question()


@pytest.fixture
def codeframe(question) -> Codeframe:
    return services.create_codeframe(question=question, n_codes=3)


@pytest.fixture
def staff_user(django_user_model):
    """A user who manages the shared "Default" project, where `make_question` puts questions.
    Not staff: the pages and the API need a project role, not the staff flag."""
    user = django_user_model.objects.create_user(username="analyst", password="pw-analyst-123")
    Membership.objects.create(project=services.default_project(), user=user, role=Role.MANAGER)
    return user


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def api_client(staff_user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(staff_user)
    return client
