"""Answers are untrusted input: text a spreadsheet would read as a formula (a leading =, +, -,
@, tab or CR) is kept inert in every export (CSV/XLSX formula injection). Pure, no ORM: the
codeframe exports and the tracker's CSV share it.

A plain number ("-1", "+447700900123", "-2.5") starts with a sign but is no formula: it is
left as it is, so respondent ids such as those still merge back onto the survey's cases.
"""

import re

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def starts_formula(text: str) -> bool:
    return text.startswith(FORMULA_PREFIXES) and not _NUMBER.fullmatch(text)


def neutralise(value: object) -> object:
    """For CSV: the value, with text that would start a formula made inert by a leading
    apostrophe (a CSV cell has no type to say "text"; XLSX cells have, see exports.xlsx)."""
    if isinstance(value, str) and starts_formula(value):
        return "'" + value
    return value
