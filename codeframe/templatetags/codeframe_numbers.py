"""`{{ share|percent }}`: a share (0..1) as a whole percent, the way survey tables print it;
`{{ share|percent1 }}` with one decimal, and `{{ cell|change_points }}` a tracker cell's change
as the difference of the two shares shown, so that the row adds up; `{{ n|thousands }}` a count
with thousands separators ("3,080"), as the messages write them (`f"{n:,}"`)."""

from decimal import ROUND_HALF_UP, Decimal

from django import template

from codeframe.tracker import change_text, percent_text

register = template.Library()


@register.filter
def percent(value: float | None) -> int | str:
    """Whole percent with halves rounded away from zero, as survey tables round: 0.135 -> 14,
    0.025 -> 3, -0.025 -> -3 (`widthratio` uses round(), which takes halves to the even number:
    14 but 2). The shortest repr of the float is rounded, so 0.025 is a half. "" for None."""
    if value is None:
        return ""
    return int((Decimal(repr(value)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@register.filter
def percent1(value: float | None) -> str:
    """One decimal (`tracker.percent_text`): 0.0449 -> "4.5". "" for None."""
    return "" if value is None else percent_text(value)


@register.filter
def change_points(cell) -> str:
    """A tracker cell's change in points as the shares shown differ (`tracker.change_text`)."""
    return change_text(cell)


@register.filter
def thousands(value):
    """A whole count with thousands separators: 3080 -> "3,080"; anything else (None, text) as
    it is. The app's own, as embeddings' is: django.contrib.humanize is not installed."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return value
