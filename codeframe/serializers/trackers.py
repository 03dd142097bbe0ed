"""A tracker's tables: each code's and net's share per wave, and the answers without a code,
with the change from the wave before and its test."""

from rest_framework import serializers

from codeframe import tracker


class TrackerCellSerializer(serializers.Serializer):
    wave = serializers.CharField()
    code = serializers.IntegerField(help_text="The code's number (the same in every wave).")
    count = serializers.IntegerField(
        allow_null=True,
        help_text="Answers of the wave carrying the code; null if its frame lacks the code.",
    )
    base = serializers.IntegerField(help_text="Answers in the wave, less the `late` ones.")
    share = serializers.FloatField(allow_null=True, help_text="count / base; null if no answers.")
    change = serializers.FloatField(
        allow_null=True,
        help_text="Share minus the previous wave's; null for the first wave, when either wave's "
        "frame lacks the code or has no answers, and when `redefined`.",
    )
    z = serializers.FloatField(
        allow_null=True,
        help_text="Two-proportion z of the change; null if not tested (a base "
        "under 30 in either wave).",
    )
    p = serializers.FloatField(allow_null=True, help_text="Its two-sided p; null if not tested.")
    significant = serializers.BooleanField(help_text="The change is significant at 95%.")
    redefined = serializers.BooleanField(
        help_text="No change from the previous wave: a merge joined other codes into this one "
        "in only one of the two waves (code the other again to compare)."
    )
    paired = serializers.IntegerField(
        help_text="Respondents of the wave also in the previous one (matched by the respondent "
        "ids the uploads gave), whose two answers the test takes as pairs; 0 when the samples "
        "are independent or there is no test."
    )
    note = serializers.ChoiceField(
        choices=["", *tracker.NOTES],
        help_text="Why a figure is missing or to be read with care (the page's marks): the "
        "wave is not coded yet; its codeframe lacks the code; the change is not tested (a base "
        "under 30 in either wave); the wave's base is under 30; or, for a share without a "
        "change, the wave before's reason (not coded yet, lacks the code, drafted rather than "
        "coded with the frame, no answers; `redefined` has its own field). Empty otherwise.",
    )
    late = serializers.IntegerField(
        help_text="The wave's answers imported after it was coded and not coded since (late "
        "fieldwork): not in `base`, as they are system-missing in the SPSS file."
    )


class TrackerCodeSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    label = serializers.CharField(help_text="As in the newest wave that has the code.")


class TrackerNetCellSerializer(TrackerCellSerializer):
    code = None
    net = serializers.IntegerField(source="code", help_text="The net's number.")
    count = serializers.IntegerField(
        allow_null=True, help_text="Answers of the wave with any code of the net."
    )
    redefined = serializers.BooleanField(
        help_text="No change from the previous wave: the net groups other codes in one of the "
        "two (a code moved into or out of it, added, deleted or merged in from another net)."
    )


class TrackerUncodedCellSerializer(TrackerCellSerializer):
    code = None
    count = serializers.IntegerField(
        allow_null=True, help_text="Answers of the wave without a code; null if not coded yet."
    )


class TrackerSerializer(serializers.Serializer):
    """Each code's and each net's share per wave of a tracker, and the share of answers without
    a code: the tables behind the tracker page. Serialises `codeframe.waves.TrackerTables`."""

    waves = serializers.ListField(child=serializers.CharField(), help_text="Oldest first.")
    codes = TrackerCodeSerializer(many=True)
    cells = TrackerCellSerializer(many=True, help_text="One per wave and code.")
    nets = TrackerCodeSerializer(
        many=True, help_text="Nets with codes, labelled as in the newest wave that has them."
    )
    net_cells = TrackerNetCellSerializer(
        many=True,
        help_text="One per wave and net; an answer counts once per net, with each wave's own "
        "grouping of codes into nets.",
    )
    uncoded = TrackerUncodedCellSerializer(
        many=True,
        help_text="One per wave: answers without a code (non-answers without a code, answers "
        "no code fits; blank answers are not imported); a share growing wave on wave says the "
        "frame is getting stale.",
    )

    def to_representation(self, tables):
        table, nets, uncoded = tables
        return {
            "waves": list(table.waves),
            "codes": [{"number": n, "label": label} for n, label in table.codes.items()],
            "cells": [
                TrackerCellSerializer(table.cells[(wave, number)]).data
                for number in table.codes
                for wave in table.waves
            ],
            "nets": [{"number": n, "label": label} for n, label in nets.codes.items()],
            "net_cells": [
                TrackerNetCellSerializer(nets.cells[(wave, number)]).data
                for number in nets.codes
                for wave in nets.waves
            ],
            "uncoded": [
                TrackerUncodedCellSerializer(cell).data
                for number in uncoded.codes
                for cell in uncoded.row(number)
            ],
        }
