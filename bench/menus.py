"""The answer rows' code menus (Move to, Code as): rendered per row by the template language
(the baseline, as the pages did before) against the `code_options` tag, which renders them once a
page for each code left out. Pure template rendering: no database, no model.

    .venv/bin/python bench/menus.py [--repeats 3]
"""

from __future__ import annotations

import argparse
from functools import partial
from types import SimpleNamespace

from _common import machine, median_seconds, setup_django, table

ROWS_AND_CODES = [(100, 20), (500, 87), (500, 200)]


def _render(template, context: dict) -> str:
    from django.template import Context

    return template.render(Context(context))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    setup_django()
    from django.template import Context, Template

    per_row = Template(
        "{% for row in rows %}<select>{% for code in codes %}{% if code.pk != row.code_id %}"
        '<option value="{{ code.pk }}">{{ code.number }}. {{ code.label|truncatechars:30 }}'
        "</option>{% endif %}{% endfor %}</select>{% endfor %}"
    )
    once = Template(
        "{% load codeframe_menus %}{% for row in rows %}<select>"
        "{% code_options codes without=row.code_id %}</select>{% endfor %}"
    )
    print(machine())
    print(f"median of {args.repeats}; each row's menu leaves out the row's own code\n")
    out = []
    for rows, codes in ROWS_AND_CODES:
        context = {
            "codes": [
                SimpleNamespace(pk=i, number=i, label=f"Code {i}: fees and charges on the card")
                for i in range(1, codes + 1)
            ],
            "rows": [SimpleNamespace(code_id=i % codes + 1) for i in range(rows)],
        }
        assert per_row.render(Context(context)) == once.render(Context(context))
        base = median_seconds(partial(_render, per_row, context), repeats=args.repeats)
        tag = median_seconds(partial(_render, once, context), repeats=args.repeats)
        out.append([rows, codes, f"{base:.3f}", f"{tag:.3f}", f"{base / tag:.1f}x"])
    print(table(["rows", "codes", "template loop (s)", "code_options (s)", "speed-up"], out))


if __name__ == "__main__":
    main()
