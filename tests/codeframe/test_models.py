import pytest
from django.db import IntegrityError, transaction

from codeframe.models import Assignment, Code, Codeframe, Question, Response

pytestmark = pytest.mark.django_db


def test_one_primary_code_per_answer_and_codeframe(codeframe):
    assignment = Assignment.objects.filter(codeframe=codeframe, is_primary=True).first()
    other = Code.objects.filter(codeframe=codeframe).exclude(pk=assignment.code_id).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(
            codeframe=codeframe, response=assignment.response, code=other, is_primary=True
        )


def test_an_answer_carries_a_code_once(codeframe):
    assignment = Assignment.objects.filter(codeframe=codeframe).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(
            codeframe=codeframe, response=assignment.response, code=assignment.code
        )


def test_deleting_a_question_deletes_its_answers_and_codeframes(codeframe):
    codeframe.question.delete()
    assert not Response.objects.exists()
    assert not Codeframe.objects.exists()
    assert not Code.objects.exists()
    assert not Assignment.objects.exists()


def test_strings_and_urls():
    question = Question(pk=7, survey="NPS", text="x" * 100)
    assert str(question).startswith("NPS: xxx") and str(question).endswith("…")
    assert question.get_absolute_url() == "/questions/7/"
    assert Codeframe(pk=3).get_absolute_url() == "/codeframes/3/"
