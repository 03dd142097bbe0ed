"""`/api/codeframes/`: generate a codeframe from answers (or a stored question) and read it."""

import json

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from codeframe import selectors, services
from codeframe.conf import get_config
from codeframe.exceptions import (
    CodeframeError,
    GenerationFailed,
    ImportFailed,
    NoResponses,
    TooManyResponses,
)
from codeframe.serializers import CodeframeRequestSerializer, CodeframeSerializer
from codeframe.uploads import content_length, human_bytes


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Too large."
    default_code = "too_large"


class UnusableInput(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The answers cannot be used."
    default_code = "unusable_input"


class GenerationError(APIException):
    status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
    default_detail = "The codeframe could not be generated; nothing was stored."
    default_code = "generation_failed"


def as_api_error(exc: CodeframeError) -> APIException:
    """The one place where the app's errors become HTTP statuses."""
    if isinstance(exc, TooManyResponses):
        return PayloadTooLarge(str(exc))
    if isinstance(exc, NoResponses | ImportFailed):
        return UnusableInput(str(exc))
    if isinstance(exc, GenerationFailed):
        return GenerationError()
    return UnusableInput(str(exc))


class LimitedJSONParser(BaseParser):
    """Refuses bodies above CODEFRAME["MAX_UPLOAD_BYTES"] before reading them, and answers 400
    (not 500) for JSON nested too deeply for the decoder.

    Not a JSONParser subclass on purpose: DRF reads `request.body` for those, so Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE (meant for forms) would answer first, with an HTML 400.
    """

    media_type = "application/json"
    renderer_class = JSONRenderer

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        limit = get_config()["MAX_UPLOAD_BYTES"]
        request = parser_context.get("request")
        too_large = PayloadTooLarge(
            f"The request body is larger than the limit of {human_bytes(limit)}."
        )
        if request is not None and content_length(request.META) > limit:
            raise too_large
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise too_large
        try:
            return json.loads(body.decode(parser_context.get("encoding") or "utf-8"))
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply") from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc


_error = inline_serializer("Error", fields={"detail": serializers.CharField()})


class CodeframeViewSet(viewsets.ViewSet):
    """Codeframes drafted from survey answers. Authenticated users only."""

    permission_classes = [IsAuthenticated]
    parser_classes = [LimitedJSONParser]
    lookup_value_converter = "int"

    @extend_schema(
        request=CodeframeRequestSerializer,
        responses={
            201: CodeframeSerializer,
            400: OpenApiResponse(_error, description="Invalid input or no usable answers"),
            404: OpenApiResponse(_error, description="No such question"),
            413: OpenApiResponse(
                _error, description="More answers than CODEFRAME['MAX_RESPONSES'] or too big"
            ),
        },
        summary="Generate a codeframe",
        description=(
            'Send `{"responses": ["answer", ...]}` (stored as a new question) or '
            '`{"question": id}`. The answers are embedded (cached), clustered and stored.'
        ),
    )
    def create(self, request: Request) -> Response:
        responses = request.data.get("responses") if isinstance(request.data, dict) else None
        limit = get_config()["MAX_RESPONSES"]
        if isinstance(responses, list) and len(responses) > limit:
            raise PayloadTooLarge(
                f"{len(responses):,} answers is more than the limit of {limit:,} per codeframe."
            )
        payload = CodeframeRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        options = {"n_codes": data.get("n_codes"), "max_codes": data.get("max_codes")}
        try:
            if "question" in data:
                question = selectors.get_question(question_id=data["question"])
                codeframe = services.create_codeframe(question=question, **options)
            else:
                codeframe = services.create_codeframe_from_texts(
                    texts=data["responses"],
                    survey=data["survey"],
                    question_text=data["question_text"],
                    **options,
                )
        except CodeframeError as exc:
            raise as_api_error(exc) from exc
        return Response(self._payload(codeframe), status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: CodeframeSerializer}, summary="A codeframe")
    def retrieve(self, request: Request, pk: int) -> Response:
        codeframe = selectors.get_codeframe(codeframe_id=pk)
        return Response(self._payload(codeframe))

    def _payload(self, codeframe) -> dict:
        overview = selectors.codeframe_overview(codeframe=codeframe)
        return CodeframeSerializer(
            {
                "codeframe": codeframe,
                "total": overview.total,
                "uncoded": overview.uncoded,
                "nets": overview.nets,
                "responses": list(selectors.iter_coded_responses(codeframe=codeframe)),
            }
        ).data
