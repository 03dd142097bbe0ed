"""`/api/codeframes/<id>/codes/`, `.../nets/<number>/` and `.../responses/<id>/`: the edits the
codeframe's pages make (add, rename, move to another net, merge and delete a code; rename a
net; code an answer, leave it uncoded or confirm its codes; add a code to answers found by
their words, or take it off them) and the review queue, for a client
of the API alone, e.g. a data-processing script that tidies each wave's frame before carrying
it back, or a review tool of the agency's own.

Codes and nets are named by their numbers, as in the codeframe's payload (`nets[].codes[].id`,
`nets[].id`) and every export; a number never changes and is never used again. The edits are
the pages' services, so their rules hold here too: labels unique in the frame (ignoring case),
new numbers above every number the tracker used, merges and deletes recorded for carry-back.
Each needs the analyst role (403 for a viewer; 404 outside the user's projects).
"""

from django.db import transaction
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from codeframe import param_keys, search, selectors, services, waves
from codeframe.api import NO_CODEFRAME_404, VIEWER_403, LimitedJSONParser
from codeframe.api_errors import UnusableInput
from codeframe.models import Code, Codeframe, Net, Role
from codeframe.serializers import (
    AnswerCodingSerializer,
    AnswerEditSerializer,
    CodeAddSerializer,
    CodeAnswersSerializer,
    CodeEditSerializer,
    CodeMergeSerializer,
    CodesAddedSerializer,
    CodesRemovedSerializer,
    EditedCodeSerializer,
    FindQuerySerializer,
    FoundAnswersSerializer,
    NetEditSerializer,
    NetSerializer,
    ReviewQuerySerializer,
    ReviewSerializer,
)
from config.api import ERROR_BODY

NO_CODE_404 = OpenApiResponse(ERROR_BODY, description="No such codeframe or code")
INVALID_400 = OpenApiResponse(
    ERROR_BODY, description="Invalid input: a label another code has, no such net or code, ..."
)


class CodeframeEditViewSet(viewsets.ViewSet):
    """A codeframe's codes and nets, edited as on the codeframe page."""

    permission_classes = [IsAuthenticated]
    parser_classes = [LimitedJSONParser]

    @extend_schema(
        request=CodeAddSerializer,
        responses={
            201: OpenApiResponse(
                EditedCodeSerializer, description="Added; `Location` is the code's URL"
            ),
            400: INVALID_400,
            403: VIEWER_403,
            404: NO_CODEFRAME_404,
        },
        summary="Add a code to a codeframe",
        description=(
            "A theme the draft missed: numbered above every number the codeframe's tracker "
            "used, so it never takes a number another wave has. With `response`, that answer "
            "is coded with it."
        ),
    )
    def add_code(self, request: Request, codeframe_id: int) -> Response:
        codeframe = _editable(request, codeframe_id)
        data = _valid(CodeAddSerializer, request)
        response = None
        if "response" in data:
            response = selectors.answer_of(codeframe=codeframe, response_id=data["response"])
            if response is None:
                raise UnusableInput(f"This codeframe's question has no answer {data['response']}.")
        code = waves.add_code(codeframe=codeframe, label=data["label"], response=response)
        where = reverse("codeframe-api:code-detail", args=[codeframe.pk, code.number])
        return Response(
            _code_payload(code), status=status.HTTP_201_CREATED, headers={"Location": where}
        )

    @extend_schema(
        request=CodeEditSerializer,
        responses={200: EditedCodeSerializer, 400: INVALID_400, 403: VIEWER_403, 404: NO_CODE_404},
        summary="Rename a code or move it to another net",
        description=(
            '`{"label": "..."}`, `{"net": 3}` (a net\'s number; `null`: no net) or both, '
            "all or nothing. The code keeps its number."
        ),
    )
    def edit_code(self, request: Request, codeframe_id: int, number: int) -> Response:
        codeframe = _editable(request, codeframe_id)
        code = _code(codeframe, number)
        data = _valid(CodeEditSerializer, request)
        with transaction.atomic():
            # As the pages' merges and renames: under the codeframe's lock, on the code as it
            # is now (merged or deleted by a colleague meanwhile: a 404 that says so).
            codeframe = services.lock_codeframe(codeframe.pk)
            code = _code(codeframe, number)
            if "net" in data:
                net = None
                if data["net"] is not None:
                    net = selectors.net_numbered(codeframe=codeframe, number=data["net"])
                    if net is None:
                        raise UnusableInput(f"This codeframe has no net {data['net']}.")
                services.move_code_to_net(code=code, net=net)
            if "label" in data:
                services.rename_code(code=code, label=data["label"])
        return Response(_code_payload(code))

    @extend_schema(
        request=None,
        responses={204: None, 400: INVALID_400, 403: VIEWER_403, 404: NO_CODE_404},
        summary="Delete a code",
        description=(
            "Its answers fall back to their next code, or are left uncoded. Its number is "
            "never used again; carrying the wave back deletes it in the approved frame too."
        ),
    )
    def delete_code(self, request: Request, codeframe_id: int, number: int) -> Response:
        codeframe = _editable(request, codeframe_id)
        with transaction.atomic():  # as edit_code: the code as it is under the lock
            services.delete_code(code=_code(services.lock_codeframe(codeframe.pk), number))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=CodeMergeSerializer,
        responses={200: EditedCodeSerializer, 400: INVALID_400, 403: VIEWER_403, 404: NO_CODE_404},
        summary="Merge a code into another",
        description=(
            '`{"into": 3}`: code 3 takes this code\'s answers, keywords and examples, and this '
            "code goes (its number is never used again). The reply is code 3."
        ),
    )
    def merge_code(self, request: Request, codeframe_id: int, number: int) -> Response:
        codeframe = _editable(request, codeframe_id)
        code = _code(codeframe, number)
        into = _valid(CodeMergeSerializer, request)["into"]
        if into == number:
            raise UnusableInput("A code cannot be merged into itself.")
        target = selectors.code_numbered(codeframe=codeframe, number=into)
        if target is None:
            raise UnusableInput(_no_code(codeframe, into))
        with transaction.atomic():  # as edit_code: the code as it is under the lock
            code = _code(services.lock_codeframe(codeframe.pk), number)
            target = services.merge_codes(target=target, sources=[code])
        return Response(_code_payload(target))

    @extend_schema(
        request=CodeAnswersSerializer,
        responses={200: CodesAddedSerializer, 400: INVALID_400, 403: VIEWER_403, 404: NO_CODE_404},
        summary="Code answers with a code as well",
        description=(
            '`{"responses": [12, 15]}`: each answer gets the code, as its primary code if it had '
            "none, else as a further code beside its primary (multi-coding), and counts as "
            "coded by hand. An id that is not one of the codeframe's answers, or a non-answer "
            "code for answers that have codes, refuses the whole request (400), nothing coded. "
            "With `GET .../responses/?search=`: code every answer that says it."
        ),
    )
    def code_answers(self, request: Request, codeframe_id: int, number: int) -> Response:
        codeframe = _editable(request, codeframe_id)
        code = _code(codeframe, number)
        wanted = _valid(CodeAnswersSerializer, request)["responses"]
        added = services.add_code_to_answers(code=code, response_ids=wanted)
        return Response({**vars(added), "code": _code_payload(code)})

    @extend_schema(
        request=CodeAnswersSerializer,
        responses={
            200: CodesRemovedSerializer,
            400: INVALID_400,
            403: VIEWER_403,
            404: NO_CODE_404,
        },
        summary="Take a code off answers",
        description=(
            '`{"responses": [12, 15]}`: the code comes off each answer that carries it (a '
            "wrong `POST .../responses/` undone). Where it was the primary code, the answer's "
            "next most confident code takes its place, or it is left uncoded. The answers that "
            "carried it count as coded by hand. An id that is not one of the codeframe's "
            "answers refuses the whole request (400), nothing changed."
        ),
    )
    def uncode_answers(self, request: Request, codeframe_id: int, number: int) -> Response:
        codeframe = _editable(request, codeframe_id)
        code = _code(codeframe, number)
        wanted = _valid(CodeAnswersSerializer, request)["responses"]
        removed = services.remove_code_from_answers(code=code, response_ids=wanted)
        return Response({"removed": removed, "code": _code_payload(code)})

    @extend_schema(
        request=NetEditSerializer,
        responses={200: NetSerializer, 400: INVALID_400, 403: VIEWER_403, 404: NO_CODE_404},
        summary="Rename a net",
        description="It keeps its number, so a tracker's net rows still line up.",
    )
    def edit_net(self, request: Request, codeframe_id: int, number: int) -> Response:
        codeframe = _editable(request, codeframe_id)
        net = selectors.get_numbered(Net, codeframe=codeframe, number=number)
        services.rename_net(net=net, label=_valid(NetEditSerializer, request)["label"])
        overview = selectors.codeframe_overview(codeframe=codeframe)
        # The overview leaves out nets without codes (all moved out): this one, empty.
        empty = selectors.NetRow(net=net, label=net.label)
        row = next((row for row in overview.nets if row.number == number), empty)
        return Response(NetSerializer(row).data)

    @extend_schema(
        request=AnswerEditSerializer,
        responses={
            200: AnswerCodingSerializer,
            400: INVALID_400,
            403: VIEWER_403,
            404: OpenApiResponse(ERROR_BODY, description="No such codeframe or answer"),
        },
        summary="Code an answer, leave it uncoded, or confirm its codes",
        description=(
            '`{"code": 3}` makes code 3 its primary code (a second code stays), `{"code": '
            'null}` leaves it uncoded, `{"confirm": true}` says its codes are right. Each marks '
            "it coded by hand: it leaves the review queue, and coding the wave again keeps it. "
            '`{"confirm": false}` undoes that: its codes stay, coding the wave again decides '
            "them, and the review queue lists it again. "
            "`response` is the answer's id in the codeframe's payload (`responses[].response`)."
        ),
    )
    def edit_response(self, request: Request, codeframe_id: int, response_id: int) -> Response:
        codeframe = _editable(request, codeframe_id)
        data = _valid(AnswerEditSerializer, request)
        response = selectors.answer_of(codeframe=codeframe, response_id=response_id)
        if response is None:
            raise NotFound(f"This codeframe's question has no answer {response_id}.")
        if data.get("confirm"):
            services.confirm_coding(response=response, codeframe=codeframe)
        elif "confirm" in data:
            services.release_coding(response=response, codeframe=codeframe)
        elif data["code"] is None:
            services.uncode_response(response=response, codeframe=codeframe)
        else:
            code = selectors.code_numbered(codeframe=codeframe, number=data["code"])
            if code is None:
                raise UnusableInput(_no_code(codeframe, data["code"]))
            services.move_response(response=response, to_code=code)
        coding = selectors.answer_coding(codeframe=codeframe, response=response)
        return Response(AnswerCodingSerializer(coding).data)

    @extend_schema(
        parameters=[FindQuerySerializer],
        responses={200: FoundAnswersSerializer, 400: INVALID_400, 404: NO_CODEFRAME_404},
        summary="Find a codeframe's answers by their words, with their codes",
        description=(
            "`?search=overdraft fee`: the answers with every word (as a word or part of one, "
            "ignoring case and accents), in import order (`?search=id:R045`: the answer of "
            "respondent R045); "
            "`&uncoded=true`: among the answers without a code only. `total` counts them all, "
            "`responses` lists the first `limit`."
        ),
    )
    def find(self, request: Request, codeframe_id: int) -> Response:
        codeframe = selectors.get_codeframe(user=request.user, codeframe_id=codeframe_id)
        query = FindQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        found = search.find_answers(
            codeframe=codeframe,
            query=query.validated_data["search"],
            uncoded_only=query.validated_data["uncoded"],
            limit=query.validated_data["limit"],
        )
        return Response(FoundAnswersSerializer(found).data)

    @extend_schema(
        parameters=[ReviewQuerySerializer],
        responses={200: ReviewSerializer, 400: INVALID_400, 404: NO_CODEFRAME_404},
        summary="The review queue: coded answers nobody has checked, least sure first",
        description=(
            "By the confidence of their primary code, lowest first: where the mistakes of a "
            "draft or a wave gather. An answer leaves it once coded, uncoded or confirmed by "
            "hand (PATCH `.../responses/{response}/`)."
        ),
    )
    def review(self, request: Request, codeframe_id: int) -> Response:
        codeframe = selectors.get_codeframe(user=request.user, codeframe_id=codeframe_id)
        query = ReviewQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        queue = selectors.least_sure_answers(
            codeframe=codeframe, limit=query.validated_data["limit"]
        )
        return Response(ReviewSerializer(queue).data)


def _editable(request: Request, codeframe_id: int) -> Codeframe:
    return selectors.get_codeframe(user=request.user, codeframe_id=codeframe_id, role=Role.ANALYST)


def _valid(serializer_class, request: Request) -> dict:
    payload = serializer_class(data=request.data)
    payload.is_valid(raise_exception=True)
    return payload.validated_data


def _code(codeframe: Codeframe, number: int) -> Code:
    """The code numbered so; a 404 that says where a merged-away code's answers went."""
    code = selectors.code_numbered(codeframe=codeframe, number=number)
    if code is None:
        raise NotFound(_no_code(codeframe, number))
    return code


def _no_code(codeframe: Codeframe, number: int) -> str:
    """Why the codeframe has no code `number`: merged (into which code, now), deleted, or never."""
    merged = param_keys.merges(codeframe.params)
    if number in merged:
        numbers = set(codeframe.codes.values_list("number", flat=True))
        holder = selectors.merge_holder(number, merged, numbers)
        if holder is not None:
            return f"Code {number} was merged into code {holder}."
    if number in param_keys.retired(codeframe.params):
        return f"Code {number} was deleted from this codeframe."
    return f"This codeframe has no code {number}."


def _code_payload(code: Code) -> dict:
    """The code as the codeframe's payload shows it (its figures as they are now), and its net."""
    overview = selectors.codeframe_overview(codeframe=code.codeframe, examples=True)
    row = next(row for net in overview.nets for row in net.codes if row.code.pk == code.pk)
    net = row.code.net.number if row.code.net else None
    return EditedCodeSerializer({**vars(row), "examples": row.examples, "net": net}).data
