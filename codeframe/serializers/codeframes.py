"""A codeframe: what `POST /api/codeframes/` accepts, and a codeframe as JSON (its nets, codes
and coded answers)."""

from rest_framework import serializers

from codeframe.conf import MAX_CODES_ASKED, get_config
from codeframe.models import Code
from codeframe.serializers.base import RequestSerializer, RespondentId, Text, WholeNumber, ids_match
from codeframe.serializers.times import SecondsDateTimeField


class CodeframeRequestSerializer(RequestSerializer):
    """Either `responses` (the answers themselves; stored as a new question) or `question`."""

    responses = serializers.ListField(
        child=Text(allow_blank=True, trim_whitespace=False),
        required=False,
        allow_empty=False,
        help_text="The answers, one string each. Limit: CODEFRAME['MAX_RESPONSES'] (413 above).",
    )
    respondent_ids = serializers.ListField(
        child=RespondentId(max_length=100),
        required=False,
        help_text="With `responses`: each answer's respondent id, in the same order (what "
        "exports merge back on); default: 1, 2, ...",
    )
    question = WholeNumber(
        required=False, min_value=1, help_text="Id of a question whose answers are imported."
    )
    project = WholeNumber(
        required=False,
        min_value=1,
        help_text="With `responses`: the project (id) the new question goes into; default: "
        "your personal project.",
    )
    survey = Text(
        one_line=True,
        required=False,
        max_length=200,
        default="API upload",
        help_text="With `responses`.",
    )
    question_text = Text(
        required=False, allow_blank=True, default="", help_text="With `responses`."
    )
    n_codes = WholeNumber(
        required=False,
        min_value=1,
        max_value=MAX_CODES_ASKED,
        help_text="Theme codes to draft; the non-answer codes come on top.",
    )
    max_codes = WholeNumber(
        required=False,
        min_value=1,
        max_value=MAX_CODES_ASKED,
        help_text="At most this many theme codes; the non-answer codes come on top.",
    )

    def validate_responses(self, value: list[str]) -> list[str]:
        max_chars = get_config()["MAX_ANSWER_CHARS"]
        for position, text in enumerate(value):
            if len(text) > max_chars:
                raise serializers.ValidationError(
                    f"responses[{position}] is {len(text):,} characters long; the limit is "
                    f"{max_chars:,}."
                )
        return value

    def validate(self, attrs: dict) -> dict:
        if ("responses" in attrs) == ("question" in attrs):
            raise serializers.ValidationError("Send either `responses` or `question`.")
        # `survey` and `question_text` have defaults: whether they were sent is in the body.
        for option in ("project", "respondent_ids", "survey", "question_text"):
            if option in self.initial_data and "question" in attrs:
                raise serializers.ValidationError(
                    f"`{option}` goes with `responses`, not `question`."
                )
        return ids_match(attrs)


# The embedding cache is shared by all projects: a hit says some project holds the answer.
CACHE_HELP = "Embedding cache hits or misses: operators (superusers) only, null for others."


# A code's kinds, named in the API schema once (settings.SPECTACULAR_SETTINGS).
CODE_KINDS = Code.Kind.values


class CodeSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="code.number", help_text="The code id used in exports.")
    label = serializers.CharField(source="code.label")
    kind = serializers.ChoiceField(source="code.kind", choices=CODE_KINDS)
    keywords = serializers.ListField(source="code.keywords", child=serializers.CharField())
    size = serializers.IntegerField(source="code.size", help_text="Answers with it as primary.")
    share = serializers.FloatField(
        help_text="size / the answers coded: all the question's but the codeframe's `late` ones"
    )
    mentions = serializers.IntegerField(
        help_text="Answers carrying it at all (primary or second): what the tracker counts."
    )
    mention_share = serializers.FloatField(help_text="mentions / the answers coded (as `share`)")
    asked = serializers.BooleanField(
        help_text="False for a code carried back into this frame after its answers were "
        "coded: not asked in this wave, so its figures here mean nothing (not 0)."
    )
    empty = serializers.BooleanField(
        help_text="True: no answer of this codeframe carries it and it has no stored example "
        "(a code added by hand, say). The wave classifier knows a code only by those, so a wave "
        "coded with this codeframe puts no answer in it until answers are moved into it here, "
        "or coded into it by hand in a wave whose edits are then carried back."
    )
    examples = serializers.ListField(
        child=serializers.CharField(),
        help_text="Its most central answers; a wave's codeframe's: the wave's own answers in "
        "it, the surest first (the approved frame's stored examples are the approved frame's).",
    )


class NetSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="number", allow_null=True)
    label = serializers.CharField()
    size = serializers.IntegerField()
    codes = CodeSerializer(many=True)


class CodedResponseSerializer(serializers.Serializer):
    response = serializers.IntegerField(source="response_id")
    respondent_id = serializers.CharField()
    codes = serializers.ListField(
        child=serializers.IntegerField(), help_text="Code ids, primary first; [] = uncoded."
    )
    confidences = serializers.ListField(child=serializers.FloatField())
    late = serializers.BooleanField(
        help_text="Imported after this codeframe was made and not coded since: not coded "
        "(its `codes` [] says nothing about it), as the exports leave it blank (the list "
        "layout: `coded` 0)."
    )


class CodeframeSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="codeframe.pk")
    question = serializers.IntegerField(source="codeframe.question_id")
    created = SecondsDateTimeField(source="codeframe.created")
    approved = serializers.BooleanField(
        source="codeframe.approved", help_text="Whether it codes new waves (POST .../approve/)."
    )
    coded_with = serializers.IntegerField(
        source="codeframe.coded_with_id",
        allow_null=True,
        help_text="A wave's codeframe: the approved codeframe it was coded with.",
    )
    tracker_numbering = serializers.BooleanField(
        allow_null=True,
        help_text="Whether its code numbers are its tracker's: false for a codeframe generated "
        "afresh on a wave (numbered on its own: do not stack its exports with the tracker's), "
        "null when there is no coded wave yet.",
    )
    wave = serializers.CharField(
        source="codeframe.question.wave_label",
        help_text="Its question's wave label in a tracker (empty when it has none: not a "
        "wave, or a first wave not named; a question named before its tracker starts has one).",
    )
    response_count = serializers.IntegerField(source="total")
    uncoded = serializers.IntegerField(
        help_text='Answers coded with no code ("Other"); not the `late` ones.'
    )
    late = serializers.IntegerField(
        help_text="Answers imported after the codeframe was made and not coded since (late "
        "fieldwork): not coded, so not in the shares' base; their `codes` are empty and their "
        "`late` true.",
    )
    params = serializers.JSONField(
        source="codeframe.params",
        help_text="How the codeframe was made, as it was then: the generation's options and "
        "figures, or for a wave's frame the classifier's (`coded_with`, and under `uncoded` the "
        "answers it left without a code, by rule, when it coded the wave); and its history "
        "(`retired` and `reserved` code numbers, `retired_ids`: the retired codes' ids and "
        "numbers, `merged_into`, `carried_in`, `carry_base`). "
        "Edits since do not change its figures: the top-level `uncoded` and the codes' sizes "
        "are the frame's now.",
    )
    timings = serializers.JSONField(
        help_text="For operators (superusers): embedding_seconds, clustering_seconds, "
        "total_seconds, cache_hits and cache_misses; for others total_seconds alone, in whole "
        "seconds (a step's time would tell which answers the shared cache holds).",
    )
    cache_hits = serializers.IntegerField(allow_null=True, help_text=CACHE_HELP)
    cache_misses = serializers.IntegerField(allow_null=True, help_text=CACHE_HELP)
    nets = NetSerializer(many=True)
    responses = CodedResponseSerializer(
        many=True, required=False, help_text="The coded answers; left out with ?responses=false."
    )
