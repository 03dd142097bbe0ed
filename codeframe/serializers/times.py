"""Times in the API: to the second, but for operators.

A job's `started` and `finished`, or a codeframe's `created` beside its job's, to the
microsecond gave how long its answers took to embed, which tells a guessed answer of another
client's survey (a hit in the shared cache: a millisecond) from one nobody holds (tens of
milliseconds). Every time of a payload is cut where it is turned into text, so a new endpoint or
a nested payload cannot forget it.
"""

from datetime import datetime

from django.db import models
from rest_framework import serializers

from codeframe import scoping


class SecondsDateTimeField(serializers.DateTimeField):
    """A DateTimeField whose output is to the second (the fraction is dropped, as
    `...T01:55:27Z`) unless the serializer's context holds a request by an operator
    (`scoping.is_operator`), who gets the microseconds. No request in the context (a command,
    an export, a serializer built without one) is to the second: the safe side."""

    def to_representation(self, value):
        if isinstance(value, datetime) and not self._operator_asks():
            value = value.replace(microsecond=0)
        return super().to_representation(value)

    def _operator_asks(self) -> bool:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return user is not None and scoping.is_operator(user)


# A ModelSerializer whose model times (`created`...) are SecondsDateTimeFields. No docstring:
# the API schema would give it as the description of every serializer built on it.
class SecondsModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: SecondsDateTimeField,
    }
