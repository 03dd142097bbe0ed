"""The code menus of the answer rows (Move to, Code as): one `<select>` a row, the same options
in each."""

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

register = template.Library()


@register.simple_tag(takes_context=True)
def code_options(context, codes, without=None) -> SafeString:
    """The `<option>`s of `codes` ("12. Fees and charges", the label cut at 30 characters),
    leaving out the code whose pk is `without` (the answer's own). Rendered once a page for
    each `without`, not once an answer row: 500 rows of a 50,000-answer code with 87 codes
    took 4 s to render, 43,500 options through the template language."""
    cache = context.render_context.setdefault("codeframe_code_options", {})
    # Keyed by the list's id, which it holds on to: a list made afresh at each call (and
    # freed after it) could hand its id to the next one, and its options with it.
    kept = cache.get(id(codes))
    if kept is None:  # each option escaped once; a menu without one is a join
        kept = cache[id(codes)] = (
            codes,
            [
                (code.pk, format_html('<option value="{}">{}. {}</option>', *_shown(code)))
                for code in codes
            ],
        )
    options = kept[1]
    key = (id(codes), without)
    if key not in cache:
        joined = "".join(html for pk, html in options if pk != without)
        cache[key] = mark_safe(joined)  # noqa: S308 - each option was escaped by format_html
    return cache[key]


def _shown(code) -> tuple:
    """What a code's option shows: its pk (the value), its number and its label cut short."""
    return code.pk, code.number, Truncator(code.label).chars(30)
