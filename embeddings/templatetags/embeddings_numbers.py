"""`{{ n|thousands }}`: a number with thousands separators ("12,345", "1,234.5"), a number
already formatted as text too (`floatformat`'s "1234.5"), and anything else as it is (a dash).
The app's own, so a project need not install django.contrib.humanize for the admin pages (its
`intcomma`, which these pages used, made them a 500 without it)."""

from django import template

register = template.Library()


@register.filter
def thousands(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return f"{value:,}"
    if not isinstance(value, str):
        return value
    whole, dot, fraction = value.partition(".")
    try:
        return f"{int(whole):,}{dot}{fraction}" if fraction.isdigit() or not dot else value
    except ValueError:
        return value  # a dash, "not counted yet"
