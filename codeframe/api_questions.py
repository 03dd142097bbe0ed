"""`/api/projects/` and `/api/questions/`: what there is to work on, within the user's projects.

Lists (paginated: `?page=`, `?page_size=` up to 1,000) so that a client of the API alone can
find its projects, their questions and each question's codeframes and the jobs that need
attention, without the pages; and naming a question's wave and deleting a question, as its
page does.
"""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from codeframe import selectors, services, waves
from codeframe.api import LimitedJSONParser
from codeframe.models import Role
from codeframe.serializers import (
    ProjectSerializer,
    QuestionDetailSerializer,
    QuestionSerializer,
    WaveNameSerializer,
)
from codeframe.validators import as_id
from config.api import ERROR_BODY


class Pages(PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class ProjectViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The projects the user is a member of (a superuser: all), with the user's role in each."""

    permission_classes = [IsAuthenticated]
    serializer_class = ProjectSerializer
    pagination_class = Pages

    def get_queryset(self):
        return selectors.user_projects(user=self.request.user)  # by name (Project.Meta)

    @extend_schema(
        responses={
            200: ProjectSerializer(many=True),
            404: OpenApiResponse(ERROR_BODY, description="No such page"),
        },
        summary="Your projects, with your role in each",
    )
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)


class QuestionViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Questions (a tracker's waves among them), newest first, with their answer counts."""

    permission_classes = [IsAuthenticated]
    parser_classes = [LimitedJSONParser]  # as the codeframes': a form body is a 415
    serializer_class = QuestionSerializer
    pagination_class = Pages
    lookup_url_kwarg = "question_id"
    lookup_value_converter = "int"

    def get_serializer_class(self):
        # The browsable API's PATCH form (its raw data: `{"wave": ...}`).
        return WaveNameSerializer if self.action == "partial_update" else QuestionSerializer

    def get_queryset(self):
        project = None
        if (wanted := self.request.query_params.get("project")) is not None:
            if (project_id := as_id(wanted)) is None:
                raise ValidationError({"project": ["A project id (a number)."]})
            project = selectors.get_project(user=self.request.user, project_id=project_id)
        return selectors.question_list(user=self.request.user, project=project)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "project", int, required=False, description="Only this project's questions."
            )
        ],
        responses={
            200: QuestionSerializer(many=True),
            400: OpenApiResponse(ERROR_BODY, description="`project` is not a number"),
            404: OpenApiResponse(
                ERROR_BODY, description="No such project (for you), or no such page"
            ),
        },
        summary="Questions in your projects, newest first",
    )
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        responses={
            200: QuestionDetailSerializer,
            404: OpenApiResponse(ERROR_BODY, description="No such question (for you)"),
        },
        summary="A question with its codeframes and the jobs that need attention",
        description="`codeframes` newest first (a wave's: `coded_with` its approved frame); "
        "`jobs` the latest 10 generations or wave codings queued, running, failed or "
        "cancelled (retry them with `POST /api/jobs/{id}/retry/`).",
    )
    def retrieve(self, request: Request, question_id: int) -> Response:
        # Whatever `?project=` says: the id is the question.
        question = selectors.get_listed_question(user=request.user, question_id=question_id)
        codeframes = list(selectors.question_codeframes(question=question))
        series = waves.tracker_series(question=question)
        for codeframe in codeframes:  # one tracker_series for them all
            codeframe.tracker_numbering = waves.in_series(codeframe, series)
        entry = None
        if selectors.is_tracker(question=question):
            entry = waves.tracker_wave(question=question)
        detail = QuestionDetailSerializer(
            {
                "question": question,
                "tracker_codeframe": entry.codeframe.pk if entry and entry.codeframe else None,
                "codeframes": codeframes,
                "jobs": selectors.question_jobs(question=question),
            },
            context={"request": request},
        )
        # A plain dict: the browsable API's forms read the serializer's instance, which is no
        # question here (a 500 for a browser).
        return Response(dict(detail.data))

    @extend_schema(
        request=WaveNameSerializer,
        responses={
            200: QuestionDetailSerializer,
            400: OpenApiResponse(
                ERROR_BODY,
                description="No `wave`, or another wave of the tracker has that name",
            ),
            403: OpenApiResponse(ERROR_BODY, description="Your role in the project is viewer"),
            404: OpenApiResponse(ERROR_BODY, description="No such question (for you)"),
        },
        summary="Name the question's wave",
        description="`wave`: the name its tracker's table, chart, CSV and SPSS file use (a "
        "first wave is `1` until named; a question that is no tracker's wave yet keeps it for "
        "when its first later wave is coded). Analysts and managers, as on its page.",
    )
    def partial_update(self, request: Request, question_id: int) -> Response:
        question = selectors.get_question(
            user=request.user, question_id=question_id, role=Role.ANALYST
        )
        wanted = WaveNameSerializer(data=request.data)
        wanted.is_valid(raise_exception=True)
        waves.rename_wave(question=question, label=wanted.validated_data["wave"])  # InvalidEdit
        return self.retrieve(request, question_id)

    @extend_schema(
        responses={
            204: None,
            403: OpenApiResponse(ERROR_BODY, description="Your role in the project is not manager"),
            404: OpenApiResponse(ERROR_BODY, description="No such question (for you)"),
            409: OpenApiResponse(
                ERROR_BODY,
                description="Later waves of its tracker depend on it, or a wave is being coded "
                "with one of its codeframes",
            ),
        },
        summary="Delete a question with its answers, codeframes and jobs",
        description="Managers only, as on its page. A tracker's first wave, and a wave whose "
        "codeframe later waves were coded with, are kept while those waves exist (409). "
        "Deleting a wave keeps the code numbers its codeframes used reserved in the tracker and "
        "frees its label and its wave number. A wave coded again goes last unless it is given "
        "that number back (`wave_order` of `POST /api/codeframes/{id}/waves/`): so the "
        "newest wave, deleted and coded again from a corrected file, takes its place, and a "
        "middle wave does when it is coded again with its number.",
    )
    def destroy(self, request: Request, question_id: int) -> Response:
        question = selectors.get_question(
            user=request.user, question_id=question_id, role=Role.MANAGER
        )
        services.delete_question(question=question)  # InUse: 409
        return Response(status=status.HTTP_204_NO_CONTENT)
