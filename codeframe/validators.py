"""Validators shared by the forms and the API's serializers."""

import unicodedata

from django.core.exceptions import ValidationError


def one_line(value: str) -> None:
    """A name or label is one line of text: no line break, tab or other control character
    (category Cc). They would end up in SPSS file and value labels, CSV headers and file
    names, where a CR/LF breaks lines."""
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ValidationError(
            "One line of text, please: no line breaks, tabs or other control characters.",
            code="one_line",
        )
