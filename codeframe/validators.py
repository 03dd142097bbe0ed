"""Validators shared by the forms and the API's serializers."""

import unicodedata

from django.core.exceptions import ValidationError


def is_one_line(value: str) -> bool:
    """No line break, tab or other control character (category Cc) in `value`."""
    return not any(unicodedata.category(char) == "Cc" for char in value)


def one_line(value: str) -> None:
    """A name or label is one line of text (`is_one_line`). Control characters would end up
    in SPSS file and value labels, CSV headers and file names, where a CR/LF breaks lines."""
    if not is_one_line(value):
        raise ValidationError(
            "One line of text, please: no line breaks, tabs or other control characters.",
            code="one_line",
        )
