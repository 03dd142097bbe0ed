"""Carrying a wave frame's edits back into its approved frame: what changes, and the conflicts."""

from rest_framework import serializers

from codeframe.carryback import KINDS


class CarryBackChangeSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=list(KINDS))
    number = serializers.IntegerField(help_text="The code's number (the net's for net_*).")
    label = serializers.CharField()
    before = serializers.CharField(help_text="What the approved frame shows now.")
    after = serializers.CharField(help_text="What it shows once carried back.")
    into = serializers.IntegerField(allow_null=True, help_text="merged: the code number kept.")
    answers = serializers.IntegerField(
        allow_null=True,
        help_text="merged, removed: the approved frame's own answers with the code, whose "
        "coding carrying back rewrites (moved into `into`, or to their next code).",
    )
    uncoded = serializers.IntegerField(
        allow_null=True,
        help_text="removed: how many of those answers are left without a code.",
    )
    examples = serializers.IntegerField(
        allow_null=True,
        help_text="taught: how many of the wave's answers coded in the code by hand become its "
        "examples in the approved frame, which has too few answers in it to code waves with.",
    )


class CarryBackSerializer(serializers.Serializer):
    """What carrying a wave frame's edits back into its approved frame changes (or changed)."""

    codeframe = serializers.IntegerField(help_text="The wave's codeframe.")
    approved_codeframe = serializers.IntegerField(help_text="The frame it was coded with.")
    approved_wave = serializers.CharField(help_text="The wave label of the approved frame.")
    recoded_answers = serializers.IntegerField(
        help_text="The approved frame's own answers (that wave's) whose coding the merges and "
        "deletes rewrite: that wave's tracker figures change with them."
    )
    applied = serializers.BooleanField(help_text="False for a preview (GET).")
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Per kind.")
    changes = CarryBackChangeSerializer(many=True)
    conflicts = serializers.ListField(
        child=serializers.CharField(),
        help_text=(
            "Both frames changed these differently, or two codes would be labelled alike; "
            "nothing is carried until the frames agree."
        ),
    )
