"""The analysts' edits through the API (`codeframe.api_edits`): codes added, renamed, moved
and merged, nets renamed, an answer's codes set or confirmed, a code added to or taken off
answers; the edited code with its figures."""

from rest_framework import serializers

from codeframe.search import FIND_LIMIT
from codeframe.serializers.base import Flag, RequestSerializer, Text, WholeNumber
from codeframe.serializers.codeframes import CodeSerializer


class EditedCodeSerializer(CodeSerializer):
    """A code after an edit through `/api/codeframes/<id>/codes/`: its figures, and its net."""

    net = serializers.IntegerField(
        allow_null=True, help_text="The number of its net (`nets[].id`); null: in no net."
    )


class CodeAddSerializer(RequestSerializer):
    label = Text(
        one_line=True,
        max_length=200,
        help_text="A label no other code of the frame has (ignoring case).",
    )
    response = WholeNumber(
        required=False,
        help_text="An answer's id (`responses[].response`) to code with it, as its primary "
        "code (its other codes in this frame go).",
    )


class CodeEditSerializer(RequestSerializer):
    label = Text(
        one_line=True,
        max_length=200,
        required=False,
        help_text="A new label no other code of the frame has (ignoring case); its number stays.",
    )
    net = WholeNumber(
        required=False,
        allow_null=True,
        help_text="The number of a net of the frame (`nets[].id`) to move it into; null: no net.",
    )

    def validate(self, attrs: dict) -> dict:
        if not attrs:
            raise serializers.ValidationError("Send a `label`, a `net` or both.")
        return attrs


class CodeMergeSerializer(RequestSerializer):
    into = WholeNumber(
        help_text="The number of the code that takes this code's answers, keywords and examples."
    )


class NetEditSerializer(RequestSerializer):
    label = Text(
        one_line=True,
        max_length=200,
        help_text="A label no other net of the frame has (ignoring case).",
    )


class AnswerEditSerializer(RequestSerializer):
    code = WholeNumber(
        required=False,
        allow_null=True,
        help_text="The number of the code to make the answer's primary code (a second code "
        "stays); null: leave it uncoded (it fits none of the codes).",
    )
    confirm = Flag(
        required=False,
        help_text="true: its codes are right as they are; false: no longer coded by hand "
        "(its codes stay; coding the wave again decides them, and the review queue lists it).",
    )

    def validate(self, attrs):
        if ("code" in attrs) == ("confirm" in attrs):
            raise serializers.ValidationError(
                'Send {"code": 3}, {"code": null}, {"confirm": true} or {"confirm": false}.'
            )
        return attrs


class CodeAnswersSerializer(RequestSerializer):
    responses = serializers.ListField(
        child=WholeNumber(min_value=1, max_value=2**63 - 1),
        min_length=1,
        max_length=FIND_LIMIT,
        help_text="Ids of the codeframe's answers (`responses[].response`).",
    )


class CodesAddedSerializer(serializers.Serializer):
    primary = serializers.IntegerField(help_text="Answers that had no code: it is their primary.")
    further = serializers.IntegerField(help_text="Answers that had codes: a further code now.")
    had_it = serializers.IntegerField(help_text="Answers that carried it already.")
    code = EditedCodeSerializer(help_text="The code with its figures as they are now.")


class CodesRemovedSerializer(serializers.Serializer):
    removed = serializers.IntegerField(help_text="Answers that carried it (it is off them now).")
    code = EditedCodeSerializer(help_text="The code with its figures as they are now.")
