"""`{% refused action as r %}`: the page's form that was refused (`views.shared.refuse`), if it
is this one, so the form shows the error beside it, open, with what the user typed."""

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def refused(context, action: str, **same) -> dict | None:
    """The refusal (`message`, `values`) when the form refused posts to `action` and posted
    each of `same` (e.g. `response=response.pk`, for one of several forms of the page with
    one action; `None`: did not post it), else None. Marks it shown: otherwise the page says
    it below its content (base.html), rather than not at all."""
    kept = context.get("refused")
    if not kept or kept["action"] != action:
        return None
    values = kept["values"]
    for name, value in same.items():
        if values.get(name) != (None if value is None else str(value)):
            return None
    kept["shown"] = True
    return kept
