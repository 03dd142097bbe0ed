"""A codeframe's answers with their codes: finding them (`GET .../responses/`) and the review
queue, the least sure first (`GET .../review/`)."""

from rest_framework import serializers

from codeframe.search import FIND_LIMIT, MAX_QUERY_CHARS


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


class ReviewSerializer(serializers.Serializer):
    left = serializers.IntegerField(help_text="Coded answers nobody has checked yet.")
    checked = serializers.IntegerField(help_text="Coded answers set or confirmed by hand.")
    responses = ReviewAnswerSerializer(
        many=True, source="assignments", help_text="The least sure first, at most `limit`."
    )
