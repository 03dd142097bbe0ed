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


# A database id as a string: at most 18 digits fits PostgreSQL's bigint (int() of 4,301 digits
# raises, and a 20-digit one overflows the query).
MAX_ID_DIGITS = 18


def as_id(value: object) -> int | None:
    """`value` (a query or form string) as an id: ASCII digits, 1 to MAX_ID_DIGITS of them;
    None for anything else ("²" and "٣" are digits to `str.isdigit` but no id)."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        return None
    return int(value) if len(value) <= MAX_ID_DIGITS else None


# Characters that draw nothing but are not "format" characters (Cf), so label_key keeps them:
# the Hangul fillers and the blank Braille pattern.
_BLANKS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def has_visible(text: str) -> bool:
    """Whether `text` has a character that draws something: a letter, digit, symbol or
    punctuation mark (not a space, a zero-width or combining character, or a filler such as
    U+3164). A label of none reads blank in the exports' headings."""
    return any(unicodedata.category(char)[0] in "LNSP" and char not in _BLANKS for char in text)


def label_key(label: str) -> str:
    """What two labels are compared by when a codeframe refuses a second code (net) labelled
    alike: compatibility-normalised (NFKC: "Café" composed or not, fullwidth letters), without
    invisible format characters (a zero-width space), whitespace runs as one space, case
    folded. Labels equal by it look the same in the exports and cannot be told apart there.
    Deliberately coarse: "10³" is "103" and an emoji joined by a zero-width joiner is its
    parts, so such near-twins are refused too (rename one)."""
    text = unicodedata.normalize("NFKC", label)
    text = "".join(char for char in text if unicodedata.category(char) != "Cf")
    return " ".join(text.split()).casefold()
