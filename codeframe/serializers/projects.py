"""Projects and their questions (`codeframe.api_questions`): a project with the user's role, a
question, its page's codeframes and jobs, and naming a question's wave."""

from rest_framework import serializers

from codeframe import scoping
from codeframe.models import Codeframe, GenerationJob, Project, Question, Role
from codeframe.serializers.base import RequestSerializer, Text
from codeframe.serializers.times import SecondsModelSerializer


class ProjectSerializer(SecondsModelSerializer):
    role = serializers.ChoiceField(
        choices=[*Role.values, scoping.SUPERUSER],
        source="my_role",
        help_text="Your role: viewer, analyst or manager; superuser for a superuser (every "
        "right in every project, member or not), as the pages say.",
    )

    class Meta:
        model = Project
        fields = ["id", "name", "created", "role"]


class QuestionSerializer(SecondsModelSerializer):
    wave = serializers.CharField(
        source="wave_label",
        help_text="Its wave label (empty when it has none: not a wave, or a first wave not "
        "named; a question named before its tracker starts has one).",
    )
    tracker = serializers.IntegerField(
        source="tracker_id",
        allow_null=True,
        help_text="A later wave: the tracker's first question (its wave 1).",
    )
    response_count = serializers.IntegerField(help_text="Answers imported (blank ones are not).")
    codeframe_count = serializers.IntegerField()
    latest_codeframe = serializers.IntegerField(
        source="latest_codeframe_id",
        allow_null=True,
        help_text="The newest codeframe, whatever its numbering; a wave's codeframe in its "
        "tracker's numbering is `tracker_codeframe` of the question's own page.",
    )

    class Meta:
        model = Question
        fields = [
            "id",
            "project",
            "survey",
            "text",
            "created",
            "tracker",
            "wave",
            "wave_order",
            "response_count",
            "codeframe_count",
            "latest_codeframe",
        ]


class WaveNameSerializer(RequestSerializer):
    wave = Text(
        one_line=True,
        max_length=100,
        help_text="The wave's name, e.g. 2026-10; unique within its tracker.",
    )


class QuestionCodeframeSerializer(SecondsModelSerializer):
    code_count = serializers.IntegerField()
    coded_with = serializers.IntegerField(source="coded_with_id", allow_null=True)
    tracker_numbering = serializers.BooleanField(
        allow_null=True,
        help_text="Whether its code numbers are its tracker's: false for a codeframe generated "
        "afresh on a wave (numbered on its own; do not stack its files with the tracker's), "
        "null when the question's tracker has no coded wave yet.",
    )

    class Meta:
        model = Codeframe
        fields = ["id", "created", "approved", "coded_with", "code_count", "tracker_numbering"]


class QuestionJobSerializer(SecondsModelSerializer):
    class Meta:
        model = GenerationJob
        fields = ["id", "kind", "state", "created", "error"]


class QuestionDetailSerializer(serializers.Serializer):
    question = QuestionSerializer()
    tracker_codeframe = serializers.IntegerField(
        allow_null=True,
        help_text="A tracker's wave: the codeframe the tracker counts for it (its exports are "
        "the ones that stack with the other waves'); null for no wave, or not coded yet.",
    )
    codeframes = QuestionCodeframeSerializer(many=True)
    jobs = QuestionJobSerializer(many=True)
