"""What every request body shares: keys it does not know are refused, and its fields take
only their own JSON type (text, whole numbers, true or false, respondent ids)."""

from collections.abc import Mapping

from rest_framework import serializers
from rest_framework.settings import api_settings

from codeframe import validators


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


def ids_match(attrs: dict) -> dict:
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
