"""The app's exceptions as HTTP statuses: raised by a service, answered by
config.api.exception_handler through settings.API_ERROR_TRANSLATORS (no try block in a view)."""

import pytest
from rest_framework.exceptions import ValidationError
from rest_framework.views import APIView

from codeframe.api_errors import as_api_error
from codeframe.exceptions import (
    CarryBackConflict,
    ConflictingOptions,
    GenerationFailed,
    ImportFailed,
    InUse,
    InvalidEdit,
    JobStateError,
    QueueFull,
    SuggestionDecided,
    TooManyResponses,
)
from config.api import exception_handler


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InUse("This question is kept: a later wave"), 409),
        (SuggestionDecided("already accepted"), 409),
        (JobStateError("finished"), 409),
        (CarryBackConflict("both changed"), 409),
        (InvalidEdit("A code needs a label."), 400),
        (ConflictingOptions("n_codes above max_codes"), 400),
        (ImportFailed("not a CSV"), 400),
        (TooManyResponses("too many"), 413),
        (QueueFull("10 queued"), 429),
        (GenerationFailed("no draft"), 500),
    ],
)
def test_a_codeframe_error_answers_with_its_status_and_detail(error, status):
    response = exception_handler(error, {"view": APIView(), "request": None})
    assert response is not None, "the handler let an app error through as a 500 page"
    assert response.status_code == status
    if status != 500:  # a generation failure says nothing of its internals
        assert response.data["detail"] == str(error)


def test_other_errors_are_not_the_apps_to_translate():
    assert as_api_error(ValueError("x")) is None
    assert exception_handler(ValueError("x"), {"view": APIView(), "request": None}) is None
    response = exception_handler(ValidationError({"wave": ["Required."]}), {"view": APIView()})
    assert response.data == {"detail": "wave: Required.", "errors": {"wave": ["Required."]}}
