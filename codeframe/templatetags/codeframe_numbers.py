"""`{{ share|percent }}`: a share (0..1) as a whole percent, the way survey tables print it."""

from decimal import ROUND_HALF_UP, Decimal

from django import template

register = template.Library()


@register.filter
def percent(value: float | None) -> int | str:
    """Whole percent with halves rounded away from zero, as survey tables round: 0.135 -> 14,
    0.025 -> 3, -0.025 -> -3 (`widthratio` uses round(), which takes halves to the even number:
    14 but 2). The shortest repr of the float is rounded, so 0.025 is a half. "" for None."""
    if value is None:
        return ""
    return int((Decimal(repr(value)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
