"""API payloads: what `POST /api/codeframes/` accepts and what a codeframe looks like as JSON."""

from collections.abc import Mapping

from rest_framework import serializers
from rest_framework.settings import api_settings

from codeframe import scoping, tracker, validators
from codeframe.conf import MAX_CODES_ASKED, get_config
from codeframe.models import (
    Code,
    Codeframe,
    GenerationJob,
    Project,
    Question,
    Role,
    SuggestedCode,
)
from codeframe.search import FIND_LIMIT, MAX_QUERY_CHARS


class RequestSerializer(serializers.Serializer):
    """A request body. Keys it does not know are refused: DRF would drop them silently, and a
    typo (`respondent_id` for `respondent_ids`) would then get the default (ids 1, 2, ...)
    and the codes could not be merged back on the survey's data."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping) and (unknown := sorted(set(data) - set(self.fields))):
            raise serializers.ValidationError(
                {
                    api_settings.NON_FIELD_ERRORS_KEY: [
                        f"Unknown field{'s' if len(unknown) > 1 else ''}: "
                        f"{', '.join(map(str, unknown))}. This accepts "
                        f"{', '.join(self.fields)}."
                    ]
                }
            )
        return super().to_internal_value(data)


class Text(serializers.CharField):
    """A string of a request body, and only a string: DRF's CharField turns 5 into "5" and
    1e400 into "inf", so `"wave": 5` named a wave and `[1, 2, 3]` imported the answers "1",
    "2", "3" without a word. `one_line`: a name or label (`validators.one_line`)."""

    default_error_messages = {"not_text": "Not a string: send text, in quotes."}

    def __init__(self, *, one_line: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        if one_line:
            self.validators.append(validators.one_line)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_text")
        return super().to_internal_value(data)


class WholeNumber(serializers.IntegerField):
    """A whole number of a request body, and only a number: DRF's IntegerField takes "147",
    147.0 and " 147 " too, so a client that sends ids as strings works until one is "147a"
    (the message then blames the value, not the type). As `Text` for strings."""

    default_error_messages = {"not_number": "Not a whole number: send a number, without quotes."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("not_number")
        return super().to_internal_value(data)


class Flag(serializers.BooleanField):
    """true or false of a request body, and only those: DRF's BooleanField takes "no", "0",
    "off" and 1 too, and any other string fails with a message about booleans."""

    default_error_messages = {"not_flag": "Not true or false: send true or false, without quotes."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("not_flag")
        return data


class RespondentId(serializers.CharField):
    """A respondent id: a string, or a whole number (1001 is "1001"); not 1001.0, true, 1e3."""

    default_error_messages = {"not_id": "Not an id: send a string or a whole number."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int):
            self.fail("not_id")
        return super().to_internal_value(data)


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
        return _ids_match(attrs)


# The embedding cache is shared by all projects: a hit says some project holds the answer.
CACHE_HELP = "Embedding cache hits or misses: operators (staff) only, null for others."


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
    examples = serializers.ListField(source="code.examples", child=serializers.CharField())


class NetSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="number", allow_null=True)
    label = serializers.CharField()
    size = serializers.IntegerField()
    codes = CodeSerializer(many=True)


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


class AnswerCodingSerializer(serializers.Serializer):
    response = serializers.IntegerField(source="response_id")
    respondent_id = serializers.CharField()
    text = serializers.CharField()
    codes = serializers.ListField(
        child=serializers.IntegerField(), help_text="Code numbers, primary first; [] = uncoded."
    )
    confidences = serializers.ListField(child=serializers.FloatField())
    by_hand = serializers.BooleanField(
        help_text="Set or confirmed by an analyst: coding the wave again keeps it."
    )


class ReviewAnswerSerializer(serializers.Serializer):
    response = serializers.IntegerField(source="response_id")
    respondent_id = serializers.CharField(source="response.respondent_id")
    text = serializers.CharField(source="response.text")
    code = serializers.IntegerField(source="code.number", help_text="Its primary code's number.")
    confidence = serializers.FloatField()


# The most answers one review reply lists.
REVIEW_LIMIT = 1000


class ReviewQuerySerializer(serializers.Serializer):
    """The query string of `GET .../review/`."""

    limit = serializers.IntegerField(
        required=False,
        default=200,
        min_value=1,
        max_value=REVIEW_LIMIT,
        help_text=f"At most this many answers (1-{REVIEW_LIMIT}).",
    )


class FindQuerySerializer(serializers.Serializer):
    """The query string of `GET .../responses/`."""

    search = serializers.CharField(
        max_length=MAX_QUERY_CHARS,
        help_text="Words that must all be in the answer (parts of words too; case and accents "
        'ignored); "id:R045" for the answer of respondent R045.',
    )
    uncoded = serializers.BooleanField(
        required=False, default=False, help_text="Only answers without a code."
    )
    limit = serializers.IntegerField(
        required=False,
        default=FIND_LIMIT,
        min_value=1,
        max_value=FIND_LIMIT,
        help_text=f"At most this many answers listed (1-{FIND_LIMIT}).",
    )


class FoundAnswersSerializer(serializers.Serializer):
    query = serializers.CharField()
    total = serializers.IntegerField(help_text="Answers that match, listed or not.")
    responses = AnswerCodingSerializer(
        many=True, source="answers", help_text="In import order, at most `limit`."
    )


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


class ReviewSerializer(serializers.Serializer):
    left = serializers.IntegerField(help_text="Coded answers nobody has checked yet.")
    checked = serializers.IntegerField(help_text="Coded answers set or confirmed by hand.")
    responses = ReviewAnswerSerializer(
        many=True, source="assignments", help_text="The least sure first, at most `limit`."
    )


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
    created = serializers.DateTimeField(source="codeframe.created")
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
    params = serializers.JSONField(source="codeframe.params")
    timings = serializers.JSONField(
        help_text="For operators (staff): embedding_seconds, clustering_seconds, total_seconds, "
        "cache_hits and cache_misses; for others total_seconds alone, in whole seconds (a "
        "step's time would tell which answers the shared cache holds).",
    )
    cache_hits = serializers.IntegerField(allow_null=True, help_text=CACHE_HELP)
    cache_misses = serializers.IntegerField(allow_null=True, help_text=CACHE_HELP)
    nets = NetSerializer(many=True)
    responses = CodedResponseSerializer(
        many=True, required=False, help_text="The coded answers; left out with ?responses=false."
    )


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
        return _ids_match(attrs)


def _ids_match(attrs: dict) -> dict:
    """`respondent_ids`, when sent, has one id per answer of `responses`, each once."""
    ids = attrs.get("respondent_ids")
    if ids is None:
        return attrs
    if len(ids) != len(attrs.get("responses", ())):
        raise serializers.ValidationError(
            {
                "respondent_ids": f"{len(ids):,} ids for {len(attrs.get('responses', ())):,} "
                "responses; send one per answer, in the same order."
            }
        )
    first: dict[str, int] = {}
    for position, respondent in enumerate(ids):
        if respondent in first:
            raise serializers.ValidationError(
                {
                    "respondent_ids": f"respondent_ids[{position}] ({respondent!r}) repeats "
                    f"respondent_ids[{first[respondent]}]; each respondent answers once."
                }
            )
        first[respondent] = position
    return attrs


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
    created = serializers.DateTimeField(source="job.created")
    started = serializers.DateTimeField(source="job.started", allow_null=True)
    finished = serializers.DateTimeField(source="job.finished", allow_null=True)
    elapsed_seconds = serializers.FloatField(
        allow_null=True, help_text="In whole seconds but for operators (staff)."
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


class CarryBackChangeSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=[
            "renamed",
            "keywords",
            "moved",
            "net_renamed",
            "net_added",
            "added",
            "merged",
            "removed",
        ]
    )
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


# --- Projects and questions (codeframe.api_questions) -----------------------------------------


class ProjectSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(
        choices=[*Role.values, scoping.SUPERUSER],
        source="my_role",
        help_text="Your role: viewer, analyst or manager; superuser for a superuser (every "
        "right in every project, member or not), as the pages say.",
    )

    class Meta:
        model = Project
        fields = ["id", "name", "created", "role"]


class QuestionSerializer(serializers.ModelSerializer):
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


class QuestionCodeframeSerializer(serializers.ModelSerializer):
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


class QuestionJobSerializer(serializers.ModelSerializer):
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
