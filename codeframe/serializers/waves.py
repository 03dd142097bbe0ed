"""A tracker's waves: the next wave coded with an approved codeframe, a wave coded again, and
the new-code suggestions drawn from the answers no code fits."""

from rest_framework import serializers

from codeframe.models import SuggestedCode
from codeframe.serializers.base import (
    Flag,
    RequestSerializer,
    RespondentId,
    Text,
    WholeNumber,
    ids_match,
)
from codeframe.serializers.codeframes import CodeframeRequestSerializer


class WaveRequestSerializer(RequestSerializer):
    """The next wave of a tracker, coded with an approved codeframe."""

    responses = serializers.ListField(
        child=Text(allow_blank=True, trim_whitespace=False),
        allow_empty=False,
        help_text="The wave's answers. Limit: CODEFRAME['MAX_RESPONSES'] (413 above).",
    )
    respondent_ids = serializers.ListField(
        child=RespondentId(max_length=100),
        required=False,
        help_text="Each answer's respondent id, in the same order (what exports merge back "
        "on); default: 1, 2, ...",
    )
    wave = Text(one_line=True, max_length=100, help_text="Its label, e.g. 2027-01.")
    wave_order = WholeNumber(
        required=False,
        min_value=2,
        help_text="Its number in the tracker (the questions' `wave_order`, the SPSS file's "
        "`wave`): default the next one, after the newest wave; or one a deleted wave left "
        "free, so a month deleted and coded again takes its place back.",
    )

    validate_responses = CodeframeRequestSerializer.validate_responses

    def validate(self, attrs: dict) -> dict:
        return ids_match(attrs)


class SuggestionSerializer(serializers.Serializer):
    """A group of a wave's answers that fit no code of the approved frame."""

    id = serializers.IntegerField()
    label = serializers.CharField(help_text="The label it suggested.")
    keywords = serializers.ListField(child=serializers.CharField())
    examples = serializers.ListField(child=serializers.CharField())
    size = serializers.IntegerField(help_text="Answers it would take.")
    response_ids = serializers.ListField(child=serializers.IntegerField())
    status = serializers.ChoiceField(choices=SuggestedCode.Status.values)
    code = serializers.IntegerField(
        source="code.number",
        allow_null=True,
        default=None,
        help_text="Once accepted or assigned: the number of the code its answers took.",
    )
    code_label = serializers.CharField(
        source="code.label",
        allow_null=True,
        default=None,
        help_text="Once accepted or assigned: that code's label (the one given on accepting, "
        "or the existing code's).",
    )
    same_label_code = serializers.IntegerField(
        source="same_code.number",
        allow_null=True,
        default=None,
        help_text="The number of an existing code of the codeframe labelled as suggested, or "
        'null. Accepting under that label is refused; `{"decision": "assign", "code": N}` '
        "codes the answers as it (a code added by hand, with no answers for the classifier "
        "to learn it from, comes back as a suggestion of its name).",
    )


class RecodeRequestSerializer(RequestSerializer):
    discard_edits = Flag(
        default=False,
        help_text="Code the wave again even though this codeframe has frame edits not carried "
        "back: the new codeframe, which the tracker then counts, lacks them.",
    )


class SuggestionDecisionSerializer(RequestSerializer):
    decision = serializers.ChoiceField(
        choices=["accept", "assign", "dismiss"],
        help_text="accept: a new code, numbered above every number used; assign: code its "
        "answers with an existing code (`code`); dismiss: its answers stay uncoded.",
    )
    label = Text(
        one_line=True, max_length=200, required=False, help_text="accept: the new code's label."
    )
    code = WholeNumber(required=False, help_text="assign: the existing code's number.")

    def validate(self, data):
        decision = data["decision"]
        if decision == "assign" and "code" not in data:
            raise serializers.ValidationError({"code": "assign needs the number of a code."})
        # A field another decision takes is refused, not ignored: "accept" with a `code` meant
        # "assign", and would make a new code (its number used up for good).
        applies = {"accept": {"label"}, "assign": {"code"}, "dismiss": set()}[decision]
        for name in ("label", "code"):
            if name in data and name not in applies:
                raise serializers.ValidationError(
                    {name: f"{decision} takes no `{name}` (accept takes a label, assign a code)."}
                )
        return data
