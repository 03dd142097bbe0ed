"""`/api/codeframes/` and `/api/jobs/`: generate a codeframe from answers (or a stored question)
as a background job and follow it; read, approve and export codeframes; code a tracker's next
wave, decide its suggested codes, carry its edits back and code it again."""

import json
import math
from collections.abc import Mapping

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ParseError, ValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from codeframe import carryback, exports, jobs, scoping, selectors, services, waves
from codeframe.api_errors import PayloadTooLarge, UnusableInput
from codeframe.conf import get_config
from codeframe.exceptions import InvalidEdit, NotApproved, QueueFull
from codeframe.exports import http as exports_http
from codeframe.models import Role
from codeframe.serializers import (
    CarryBackSerializer,
    CodeframeRequestSerializer,
    CodeframeSerializer,
    JobSerializer,
    RecodeRequestSerializer,
    SuggestionDecisionSerializer,
    SuggestionSerializer,
    TrackerSerializer,
    WaveRequestSerializer,
)
from codeframe.throttling import (
    GenerationThrottle,
    ImportThrottle,
    RefundsEarlyRefusals,
    refund,
    refunded_on,
)
from codeframe.uploads import content_length, human_bytes
from config.api import ERROR_BODY


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
            return json.loads(
                body.decode(parser_context.get("encoding") or "utf-8"),
                parse_constant=_not_json,
                parse_float=_finite_float,
            )
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply") from exc
        except LookupError as exc:  # "charset=rot13", or a codec that is not text (base64)
            raise ParseError(
                f"JSON parse error - the body's charset is not one JSON can be in ({exc})."
            ) from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc


def _not_json(name: str):
    """Python's json reads NaN, Infinity and -Infinity, which JSON has not (DRF's own parser
    refuses them too): `"wave": NaN` named a wave "nan"."""
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400
        raise ValueError(f"{text} is out of range for a number")
    return value


# What the export endpoint sends: each format's own type.
EXPORT_MEDIA_TYPES = sorted({e.media_type.split(";")[0] for e in exports.EXPORTERS})

# The errors most operations document alike.
VIEWER_403 = OpenApiResponse(ERROR_BODY, description="Your role in the project is viewer")
NO_CODEFRAME_404 = OpenApiResponse(ERROR_BODY, description="No such codeframe")
# An action that takes no body (`_no_body`): one sent is refused.
NO_BODY_ERRORS = {
    400: OpenApiResponse(ERROR_BODY, description="A body was sent (this takes none)"),
    415: OpenApiResponse(ERROR_BODY, description="A body that is not JSON"),
}


# A codeframe's payload without its coded answers (`codeframe_payload`).
RESPONSES_PARAMETER = OpenApiParameter(
    "responses",
    bool,
    required=False,
    description="false: the codeframe without `responses` (its coded answers: about 4 MB at "
    "50,000), for a light reply; the exports have them too. Default true.",
)


class AnyAccept(BaseContentNegotiation):
    """For file downloads: the view answers with its file whatever `Accept` says (DRF would
    answer 406 to `Accept: text/csv`, having no CSV renderer)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class CodeframeViewSet(RefundsEarlyRefusals, viewsets.ViewSet):
    """Codeframes drafted from survey answers, within the user's projects. A codeframe or
    question outside them is a 404; generating needs the analyst role (403 otherwise)."""

    permission_classes = [IsAuthenticated]
    parser_classes = [LimitedJSONParser]
    lookup_value_converter = "int"

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        _wants_responses(request)  # a bad ?responses= is refused before anything is done

    def get_throttles(self):
        if self.action == "waves":  # a wave's answers: an import and a coding job
            return [GenerationThrottle(), ImportThrottle()]
        if self.action != "create":
            return []
        # New answers in the body are an import as well as a generation.
        sends_answers = isinstance(self.request.data, dict) and "responses" in self.request.data
        return [GenerationThrottle(), *([ImportThrottle()] if sends_answers else [])]

    @extend_schema(
        request=CodeframeRequestSerializer,
        responses={
            202: JobSerializer,
            400: OpenApiResponse(ERROR_BODY, description="Invalid input or no usable answers"),
            403: VIEWER_403,
            404: OpenApiResponse(ERROR_BODY, description="No such question or project (for you)"),
            409: OpenApiResponse(ERROR_BODY, description="The answers changed during generation"),
            413: OpenApiResponse(
                ERROR_BODY, description="More answers than CODEFRAME['MAX_RESPONSES'] or too big"
            ),
            429: OpenApiResponse(
                ERROR_BODY,
                description="Too many generations (or imports) this hour, or too many queued",
            ),
        },
        summary="Queue a codeframe generation",
        description=(
            'Send `{"responses": ["answer", ...]}` (stored as a new question) or '
            '`{"question": id}`. Answers **202 Accepted** at once with the job (also in '
            "`Location`); a worker embeds (cached), clusters and stores. Poll `status_url` "
            "until `state` is `done` (the codeframe is then in the reply) or `failed`. "
            "New answers go into `project` (an id; default: your personal project), with "
            "`respondent_ids` (one per answer; default 1, 2, ...)."
        ),
    )
    def create(self, request: Request) -> Response:
        _refuse_too_many(request)
        payload = CodeframeRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        options = {"n_codes": data.get("n_codes"), "max_codes": data.get("max_codes")}
        if "question" in data:
            question = selectors.get_question(
                user=request.user, question_id=data["question"], role=Role.ANALYST
            )
            asked = timezone.now()
            with refunded_on(request, QueueFull):  # nothing imported: the rates take it back
                job = jobs.queue_generation(question=question, user=request.user, **options)
            if job.created < asked:  # the same generation, already queued: a retry is free
                refund(request)
        else:
            project = (
                selectors.get_project(
                    user=request.user, project_id=data["project"], role=Role.ANALYST
                )
                if data.get("project")
                else services.personal_project(user=request.user)
            )
            job = jobs.queue_generation_for_texts(
                texts=data["responses"],
                respondent_ids=data.get("respondent_ids"),
                project=project,
                survey=data["survey"],
                question_text=data["question_text"],
                user=request.user,
                **options,
            )
        return accepted(job, request)

    @extend_schema(
        request=WaveRequestSerializer,
        responses={
            202: JobSerializer,
            400: OpenApiResponse(ERROR_BODY, description="Invalid input, or a wave label in use"),
            403: VIEWER_403,
            404: NO_CODEFRAME_404,
            409: OpenApiResponse(ERROR_BODY, description="The codeframe is not approved"),
            413: OpenApiResponse(ERROR_BODY, description="More answers than MAX_RESPONSES"),
            429: OpenApiResponse(
                ERROR_BODY,
                description="Too many generations or imports this hour, or too many queued",
            ),
        },
        summary="Code a tracker's next wave with an approved codeframe",
        description=(
            'Send `{"responses": [...], "wave": "2027-01"}`. The answers become the tracker\'s '
            "next wave (or, with `wave_order`, a deleted wave's); a worker codes them with this "
            "approved codeframe, keeping every code number, label and net (202 with the job; "
            "its codeframe once done). Answers that fit "
            "no code stay uncoded and are grouped into suggested new codes. Send "
            "`respondent_ids` (one per answer) to merge the codes back onto the survey data; "
            "default 1, 2, ..."
        ),
    )
    @action(detail=True, methods=["post"])
    def waves(self, request: Request, pk: int) -> Response:
        codeframe = selectors.get_codeframe(user=request.user, codeframe_id=pk, role=Role.ANALYST)
        _refuse_too_many(request)
        payload = WaveRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        rows = services.text_rows(
            payload.validated_data["responses"], payload.validated_data.get("respondent_ids")
        )
        # The frame's approval and the wave's label are checked before the import: refused
        # there, nothing was done, and the rates take their counts back.
        with refunded_on(request, NotApproved, InvalidEdit):
            job = jobs.queue_wave(
                codeframe=codeframe,
                rows=rows,
                wave=payload.validated_data["wave"],
                user=request.user,
                order=payload.validated_data.get("wave_order"),
            )
        return accepted(job, request)

    @extend_schema(
        request=RecodeRequestSerializer,
        responses={
            202: JobSerializer,
            400: OpenApiResponse(ERROR_BODY, description="Invalid input"),
            403: VIEWER_403,
            404: NO_CODEFRAME_404,
            409: OpenApiResponse(
                ERROR_BODY,
                description="Not a wave's codeframe, or not the one the tracker uses for the "
                "wave (or it is approved or codes later waves), its frame no longer approved, "
                "the wave is being coded already, or edits not carried back",
            ),
        },
        summary="Code a wave again with its approved codeframe as it is now",
        description=(
            "Queues coding this wave's answers again with the approved codeframe it was coded "
            "with, as that frame is now (with the edits carried back since): 202 with the job; "
            "its codeframe once done, which the tracker then uses for the wave. This codeframe "
            "and its review are kept, but the tracker no longer counts it: 409 if it has frame "
            "edits not carried back (renames, accepted codes, merges...), which the new one "
            'would lack, unless `{"discard_edits": true}`. Answers coded by hand in this '
            "codeframe keep that coding (codes by number) in the new one; those whose codes "
            "are all gone from the approved frame are coded afresh. The new codeframe's "
            "`params.hand_coding` counts both (`kept`, `not_kept`)."
        ),
    )
    @action(detail=True, methods=["post"])
    def recode(self, request: Request, pk: int) -> Response:
        codeframe = selectors.get_codeframe(user=request.user, codeframe_id=pk, role=Role.ANALYST)
        payload = RecodeRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        job = jobs.queue_recode(  # not rate-limited
            codeframe=codeframe,
            user=request.user,
            discard_edits=payload.validated_data["discard_edits"],
        )
        return accepted(job, request)

    @extend_schema(
        methods=["GET"],
        request=None,
        responses={
            200: CarryBackSerializer,
            403: VIEWER_403,
            404: NO_CODEFRAME_404,
            409: OpenApiResponse(ERROR_BODY, description="Not a wave's codeframe"),
        },
        summary="Preview carrying a wave frame's edits back into its approved frame",
        description=(
            "What `POST` would change in the approved frame this wave's codeframe was coded "
            "with: renamed codes, keywords, net moves and net labels, codes accepted from "
            "suggestions (added with their numbers), merged and deleted codes; and the "
            "`conflicts` (both frames changed the same thing differently, or two codes would "
            "be labelled alike) that stop it. "
            "Writes nothing."
        ),
    )
    @extend_schema(
        methods=["POST"],
        request=None,
        responses={
            200: CarryBackSerializer,
            **NO_BODY_ERRORS,
            403: VIEWER_403,
            404: NO_CODEFRAME_404,
            409: OpenApiResponse(
                ERROR_BODY, description="Not a wave's codeframe, or conflicting edits (listed)"
            ),
        },
        summary="Carry a wave frame's edits back into its approved frame",
        description=(
            "Applies the changes the `GET` preview lists, all or nothing, so the next wave is "
            "coded with them; code numbers never change. Carrying back again changes nothing "
            "(`changes` is empty). 409 with the conflicts if both frames changed the same "
            "thing differently since the wave was coded, or two codes would be labelled alike."
        ),
    )
    @action(detail=True, methods=["get", "post"], url_path="carry-back")
    def carry_back(self, request: Request, pk: int) -> Response:
        codeframe = selectors.get_codeframe(user=request.user, codeframe_id=pk, role=Role.ANALYST)
        if request.method == "POST":
            _no_body(request)
        if request.method == "POST":
            summary = carryback.carry_back(codeframe=codeframe)
        else:
            summary = carryback.preview_carry_back(codeframe=codeframe)
        return Response(CarryBackSerializer(summary.as_dict()).data)

    @extend_schema(
        responses={
            200: TrackerSerializer,
            404: NO_CODEFRAME_404,
        },
        summary="The tracker of a codeframe's question: each code's and net's share per wave",
        description=(
            "Per wave (oldest first) its codeframe in the tracker's numbering (the approved "
            "one, else the one later waves were coded with, else the wave's newest coded "
            "frame; a wave without one is not coded yet: its base, no shares); per code and "
            "wave the count, base, share, the change from the previous wave and its "
            "two-proportion z-test; the same per net (an answer counted once per net) and for "
            "the answers without a code. The tracker page's charts and CSV show the same tables."
        ),
    )
    @action(detail=True, methods=["get"])
    def tracker(self, request: Request, pk: int) -> Response:
        codeframe = selectors.get_codeframe(user=request.user, codeframe_id=pk)
        return Response(TrackerSerializer(waves.tracker_tables(question=codeframe.question)).data)

    @extend_schema(
        responses={
            200: SuggestionSerializer(many=True),
            404: NO_CODEFRAME_404,
        },
        summary="A wave codeframe's suggested new codes",
        description=(
            "The groups of the wave's answers that fit no code of the approved frame (its "
            'answers left in "Other"), largest first, whatever their status.'
        ),
    )
    @action(detail=True, methods=["get"])
    def suggestions(self, request: Request, pk: int) -> Response:
        codeframe = selectors.get_codeframe(user=request.user, codeframe_id=pk)
        found = list(codeframe.suggestions.select_related("code"))
        waves.mark_same_labels(found, codes=codeframe.codes.all())
        return Response(SuggestionSerializer(found, many=True).data)

    @extend_schema(
        request=SuggestionDecisionSerializer,
        responses={
            200: SuggestionSerializer,
            400: OpenApiResponse(ERROR_BODY, description="No decision, or no such code to assign"),
            403: VIEWER_403,
            404: OpenApiResponse(ERROR_BODY, description="No such codeframe or suggestion"),
            409: OpenApiResponse(ERROR_BODY, description="The suggestion is already decided"),
        },
        summary="Accept, assign or dismiss a suggested code",
        description=(
            '`{"decision": "accept", "label": "..."}` makes it a code numbered above every '
            'number the tracker used; `{"decision": "assign", "code": 3}` codes its answers '
            'with existing code 3 instead; `{"decision": "dismiss"}` leaves them uncoded. '
            "Existing numbers never change; only answers still uncoded are coded."
        ),
    )
    @action(detail=True, methods=["post"], url_path="suggestions/<int:suggestion_id>")
    def decide_suggestion(self, request: Request, pk: int, suggestion_id: int) -> Response:
        codeframe = selectors.get_codeframe(user=request.user, codeframe_id=pk, role=Role.ANALYST)
        suggestion = selectors.get_suggestion(codeframe=codeframe, suggestion_id=suggestion_id)
        payload = SuggestionDecisionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        code = None
        if data["decision"] == "assign":  # the serializer has made sure there is a number
            code = selectors.code_numbered(codeframe=codeframe, number=data["code"])
            if code is None:
                raise UnusableInput(f"This codeframe has no code {data['code']}.")
        waves.decide_suggestion(
            suggestion=suggestion, decision=data["decision"], label=data.get("label"), code=code
        )
        suggestion.refresh_from_db()
        waves.mark_same_labels([suggestion], codes=codeframe.codes.all())
        return Response(SuggestionSerializer(suggestion).data)

    @extend_schema(
        methods=["POST"],
        request=None,
        parameters=[RESPONSES_PARAMETER],
        responses={
            200: CodeframeSerializer,
            **NO_BODY_ERRORS,
            403: VIEWER_403,
            404: NO_CODEFRAME_404,
            409: OpenApiResponse(
                ERROR_BODY,
                description="A wave's codeframe replaced since by coding its wave again",
            ),
        },
        summary="Approve a codeframe: it can code the next waves of its question",
        description=(
            "Only an approved codeframe codes new waves (`POST .../waves/`). Approving twice "
            "changes nothing; `DELETE` withdraws the approval. A wave's codeframe replaced by "
            "coding its wave again (`.../recode/`) is a 409: approve the one that replaced it."
        ),
    )
    @extend_schema(
        methods=["DELETE"],
        request=None,
        parameters=[RESPONSES_PARAMETER],
        responses={
            200: CodeframeSerializer,
            **NO_BODY_ERRORS,
            403: VIEWER_403,
            404: NO_CODEFRAME_404,
        },
        summary="Withdraw a codeframe's approval",
        description=(
            "It codes no new wave until approved again; the waves coded with it keep their "
            "codeframes. A wave job queued with it fails when it runs, saying so."
        ),
    )
    @action(detail=True, methods=["post", "delete"])
    def approve(self, request: Request, pk: int) -> Response:
        codeframe = selectors.get_codeframe(user=request.user, codeframe_id=pk, role=Role.ANALYST)
        approving = request.method == "POST"
        _no_body(request, " To withdraw the approval, send DELETE." if approving else "")
        waves.approve_codeframe(codeframe=codeframe, approved=approving)
        payload = codeframe_payload(codeframe, request)
        return Response(CodeframeSerializer(payload, context={"request": request}).data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "fmt",
                str,
                OpenApiParameter.PATH,
                enum=sorted({e.format for e in exports.EXPORTERS}),
                description="The file's format: "
                + ", ".join(dict.fromkeys(e.format for e in exports.EXPORTERS)),
            ),
            OpenApiParameter(
                "layout",
                str,
                OpenApiParameter.QUERY,
                required=False,
                enum=sorted({e.layout for e in exports.EXPORTERS if e.layout}),
                description="CSV only: one column per code (binary, the default) or the codes "
                "as a list (a 400 for another format)",
            ),
        ],
        responses={
            **{(200, media): OpenApiTypes.BINARY for media in EXPORT_MEDIA_TYPES},
            400: OpenApiResponse(ERROR_BODY, description="No such layout (of this format)"),
            404: OpenApiResponse(ERROR_BODY, description="No such codeframe or format"),
        },
        summary="Download a codeframe's export (the formats: `fmt`)",
        description=(
            "The same files as the codeframe page's export links: one row per answer with its "
            "respondent id, code numbers the same across a tracker's waves."
        ),
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="export/<str:fmt>",
        content_negotiation_class=AnyAccept,
    )
    def export(self, request: Request, pk: int, fmt: str):
        codeframe = selectors.get_codeframe(user=request.user, codeframe_id=pk)
        try:
            exporter = exports.get_exporter(fmt, request.query_params.get("layout"))
        except exports.UnknownLayout as exc:
            raise UnusableInput(str(exc)) from exc
        except exports.UnknownExport as exc:
            raise NotFound(str(exc)) from exc
        return exports_http.attachment(codeframe=codeframe, exporter=exporter)

    @extend_schema(
        parameters=[RESPONSES_PARAMETER],
        responses={
            200: CodeframeSerializer,
            400: OpenApiResponse(ERROR_BODY, description="`responses` is not true or false"),
            404: NO_CODEFRAME_404,
        },
        summary="A codeframe",
    )
    def retrieve(self, request: Request, pk: int) -> Response:
        codeframe = selectors.get_codeframe(user=request.user, codeframe_id=pk)
        payload = codeframe_payload(codeframe, request)
        return Response(CodeframeSerializer(payload, context={"request": request}).data)


class JobViewSet(RefundsEarlyRefusals, viewsets.ViewSet):
    """Generation jobs: progress, the codeframe once done, cancelling, retrying."""

    permission_classes = [IsAuthenticated]
    parser_classes = [LimitedJSONParser]  # as the codeframes': a form body is a 415
    lookup_value_converter = "uuid"

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        _wants_responses(request)  # a bad ?responses= is refused before anything is done

    def get_throttles(self):
        return [GenerationThrottle()] if self.action == "retry" else []

    @extend_schema(
        parameters=[RESPONSES_PARAMETER],
        responses={
            200: JobSerializer,
            400: OpenApiResponse(ERROR_BODY, description="`responses` is not true or false"),
            404: OpenApiResponse(ERROR_BODY),
        },
        summary="A generation job's state and progress",
        description="`state`: queued, running, done (with `codeframe`), failed (with `error`) "
        "or cancelled.",
    )
    def retrieve(self, request: Request, pk) -> Response:
        job = selectors.get_job(user=request.user, job_id=pk)
        # Only once it is the user's: reading another project's job must not change it.
        if jobs.recover_stale_jobs(job_ids=[job.pk]):
            job = selectors.get_job(user=request.user, job_id=job.pk)
        return Response(job_payload(job, request))

    @extend_schema(
        request=None,
        responses={
            200: JobSerializer,
            **NO_BODY_ERRORS,
            403: VIEWER_403,
            404: OpenApiResponse(ERROR_BODY),
            409: OpenApiResponse(ERROR_BODY),
        },
        summary="Cancel a queued or running generation",
        description="A queued job is cancelled at once; a running one stops at its next "
        "progress report and stores nothing. 409 if it has already finished.",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk) -> Response:
        job = selectors.get_job(user=request.user, job_id=pk, role=Role.ANALYST)
        _no_body(request)
        job = jobs.cancel_job(job=job)
        return Response(job_payload(job, request))

    @extend_schema(
        request=None,
        responses={
            202: JobSerializer,
            **NO_BODY_ERRORS,
            403: VIEWER_403,
            404: OpenApiResponse(ERROR_BODY),
            409: OpenApiResponse(
                ERROR_BODY,
                description="Not failed or cancelled; or, for a wave, it can no longer be coded "
                "so (coded since, its frame gone or no longer approved)",
            ),
            429: OpenApiResponse(
                ERROR_BODY, description="Too many generations this hour, or too many queued"
            ),
        },
        summary="Retry a failed or cancelled job",
        description="Queues a new job with the same question and parameters: 202 with it (also "
        "in `Location`). A wave's job is checked again as when it was queued.",
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk) -> Response:
        job = selectors.get_job(user=request.user, job_id=pk, role=Role.ANALYST)
        _no_body(request)
        with refunded_on(request, QueueFull):
            job = jobs.retry_job(job=job, user=request.user)
        return accepted(job, request)


def _no_body(request: Request, hint: str = "") -> None:
    """An action without a body refuses one rather than ignore it: `{"approved": false}` (or a
    bare `false`) sent to approve would otherwise approve. An empty body or `{}` is none.
    Reading it also refuses malformed JSON (400) and other media types (415)."""
    data = request.data
    if not (isinstance(data, Mapping) and not data):
        raise UnusableInput(f"This takes no body.{hint}")


def _refuse_too_many(request: Request) -> None:
    """413 before validating a body with more answers than CODEFRAME["MAX_RESPONSES"]."""
    responses = request.data.get("responses") if isinstance(request.data, dict) else None
    limit = get_config()["MAX_RESPONSES"]
    if isinstance(responses, list) and len(responses) > limit:
        raise PayloadTooLarge(
            f"{len(responses):,} answers is more than the limit of {limit:,} per codeframe."
        )


def accepted(job, request: Request) -> Response:
    """202 with the job, its status URL also in `Location`."""
    body = job_payload(job, request)
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["status_url"]})


# Embedding cache figures: the cache is shared by every project, so whether an answer was a
# hit tells whether some project holds it. Only operators (superusers, who see every project)
# see them, and the steps' timings: a cached answer embeds in a millisecond, a new one in tens
# (the embedding step's seconds told a guessed answer of another client's survey from one
# nobody holds, every time). Others, staff of some projects too, see how long it took in
# whole seconds (and times to the second: `serializers.SecondsDateTimeField`, which reads the
# request from the serializer's context).
CACHE_FIGURES = ("cache_hits", "cache_misses")


def _operator(request: Request) -> bool:
    return scoping.is_operator(request.user)


def _cache_figures(obj, request: Request) -> dict:
    """`obj`'s (a job's or a codeframe's) cache hits and misses: None unless an operator asks."""
    return {k: getattr(obj, k) if _operator(request) else None for k in CACHE_FIGURES}


def _timings(codeframe, request: Request) -> dict:
    """The codeframe's timings for operators; for others its total, in whole seconds."""
    if _operator(request):
        return codeframe.timings
    total = codeframe.timings.get("total_seconds")
    return {} if total is None else {"total_seconds": round(total)}


def codeframe_payload(codeframe, request: Request) -> dict:
    overview = selectors.codeframe_overview(codeframe=codeframe, examples=True)
    return {
        "codeframe": codeframe,
        "tracker_numbering": waves.tracker_numbering(codeframe=codeframe),
        "total": overview.total,
        "uncoded": overview.uncoded,
        "late": overview.late,
        "nets": overview.nets,
        **(
            {"responses": list(selectors.iter_coded_responses(codeframe=codeframe))}
            if _wants_responses(request)
            else {}
        ),
        "timings": _timings(codeframe, request),
        **_cache_figures(codeframe, request),
    }


def _wants_responses(request: Request) -> bool:
    """`?responses=false` leaves the coded answers out of a codeframe's payload."""
    wanted = request.query_params.get("responses")
    if wanted is None:
        return True
    try:
        return serializers.BooleanField().to_internal_value(wanted)
    except ValidationError as exc:
        raise ValidationError({"responses": exc.detail}) from exc


def job_payload(job, request: Request) -> dict:
    done = job.state == job.State.DONE and job.codeframe_id is not None
    return JobSerializer(
        {
            "job": job,
            "status_url": request.build_absolute_uri(
                reverse("codeframe-api-jobs:job-detail", args=[job.pk])
            ),
            "codeframe": codeframe_payload(job.codeframe, request) if done else None,
            "elapsed_seconds": (
                job.elapsed_seconds
                if _operator(request) or job.elapsed_seconds is None
                else round(job.elapsed_seconds)
            ),
            "notice": job.params.get("notice", ""),
            **_cache_figures(job, request),
        },
        context={"request": request},
    ).data
