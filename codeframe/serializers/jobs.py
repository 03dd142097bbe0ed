"""A generation job: where it stands, and its codeframe once it is done."""

from rest_framework import serializers

from codeframe.models import GenerationJob
from codeframe.serializers.codeframes import CACHE_HELP, CodeframeSerializer
from codeframe.serializers.times import SecondsDateTimeField


class JobSerializer(serializers.Serializer):
    """A generation job: where it stands; with the codeframe once it is done."""

    id = serializers.UUIDField(source="job.pk")
    kind = serializers.ChoiceField(
        source="job.kind", choices=[kind.value for kind in GenerationJob.Kind]
    )
    question = serializers.IntegerField(source="job.question_id")
    state = serializers.ChoiceField(
        source="job.state",
        choices=[state.value for state in GenerationJob.State],
    )
    stage = serializers.ChoiceField(
        source="job.stage", choices=[stage.value for stage in GenerationJob.Stage]
    )
    done = serializers.IntegerField(source="job.done", help_text="Texts embedded so far.")
    total = serializers.IntegerField(
        source="job.total",
        help_text="Texts to embed: the answers; for a wave's job, once it runs, also the "
        "approved codeframe's examples (so it grows when the job starts).",
    )
    percent = serializers.IntegerField(source="job.percent", help_text="Overall, 0..100.")
    cache_hits = serializers.IntegerField(allow_null=True, help_text=CACHE_HELP)
    cache_misses = serializers.IntegerField(allow_null=True, help_text=CACHE_HELP)
    attempts = serializers.IntegerField(source="job.attempts")
    cancel_requested = serializers.BooleanField(source="job.cancel_requested")
    error = serializers.CharField(source="job.error", help_text="Why it failed, when it did.")
    created = SecondsDateTimeField(source="job.created")
    started = SecondsDateTimeField(source="job.started", allow_null=True)
    finished = SecondsDateTimeField(source="job.finished", allow_null=True)
    elapsed_seconds = serializers.FloatField(
        allow_null=True, help_text="In whole seconds but for operators (superusers)."
    )
    status_url = serializers.CharField(help_text="GET it for progress.")
    notice = serializers.CharField(
        help_text="What importing the job's answers changed that a data processor must know, "
        "or empty: a wave whose respondent ids made `resp_id` a string, not a number, in every "
        "SPSS file of the tracker from now on."
    )
    codeframe = CodeframeSerializer(
        allow_null=True, help_text="The codeframe (as GET /api/codeframes/{id}/), once done."
    )
