"""The one place where the app's errors (`codeframe.exceptions`) become HTTP statuses.

`as_api_error` is listed in settings.API_ERROR_TRANSLATORS, so `config.api.exception_handler`
answers a CodeframeError raised anywhere in an API view with its status and
`{"detail": "..."}`: the views need no try blocks of their own.
"""

from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError

from codeframe.exceptions import (
    AnswersChanged,
    CarryBackConflict,
    CodeframeError,
    EditsNotCarriedBack,
    GenerationFailed,
    InUse,
    InvalidOptions,
    JobStateError,
    NotApproved,
    NotAWaveFrame,
    NotTheWavesFrame,
    QueueFull,
    SuggestionDecided,
    TooManyResponses,
)


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Too large."
    default_code = "too_large"


class UnusableInput(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The answers cannot be used."
    default_code = "unusable_input"


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Not possible in the object's present state."
    default_code = "conflict"

    def __init__(self, detail=None, code=None, *, conflicts: list[str] | None = None) -> None:
        super().__init__(detail, code)
        if conflicts:  # a carry-back's: listed one by one besides the sentence
            self.detail = {"detail": self.detail, "conflicts": list(conflicts)}


class GenerationError(APIException):
    status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
    default_detail = "The codeframe could not be generated; nothing was stored."
    default_code = "generation_failed"


class QueueFullError(APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = "Too many generations queued."
    default_code = "queue_full"


# Refused because of the object's present state (409), not because of what was sent (400).
CONFLICTS = (
    AnswersChanged,
    CarryBackConflict,
    EditsNotCarriedBack,
    InUse,
    JobStateError,
    NotApproved,
    NotAWaveFrame,
    NotTheWavesFrame,
    SuggestionDecided,
)


def as_api_error(exc: Exception) -> APIException | None:
    """The APIException a CodeframeError answers as; None for any other exception."""
    if not isinstance(exc, CodeframeError):
        return None
    if isinstance(exc, QueueFull):
        return QueueFullError(str(exc))
    if isinstance(exc, InvalidOptions):  # what was sent, as a serializer says it (`errors`)
        return ValidationError(str(exc))
    if isinstance(exc, CarryBackConflict) and exc.summary is not None:
        return Conflict(str(exc), conflicts=exc.summary.conflicts)
    if isinstance(exc, CONFLICTS):
        return Conflict(str(exc))
    if isinstance(exc, TooManyResponses):
        return PayloadTooLarge(str(exc))
    if isinstance(exc, GenerationFailed):
        return GenerationError()
    # ImportFailed, NoResponses, ConflictingOptions, InvalidEdit: what was sent is wrong.
    return UnusableInput(str(exc))
