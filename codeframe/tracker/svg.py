"""The tracker's chart, made on the server as SVG: each code's share per wave, the significant
changes ringed; and which codes a chart of many shows first."""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from codeframe.tracker.formatting import change_text, percent_text
from codeframe.tracker.stats import LOW_BASE, Tracker

# Colour-blind-safe (Okabe-Ito, then greys); codes beyond them repeat with dashes.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]


def top_codes(table: Tracker, n: int = len(PALETTE)) -> list[int]:
    """The `n` codes with the largest share in the newest wave that has shares (answers, and a
    codeframe; ties: lower number first), in number order: what a chart of many codes shows
    first. A wave of a low base (under LOW_BASE answers) decides only when no wave of more
    has shares: in 19 answers, codes of 1 answer each tie, and the tie would pick them."""
    with_shares = [
        w
        for w in reversed(table.waves)
        if any(table.cells[(w, c)].share is not None for c in table.codes)
    ]
    newest = next((w for w in with_shares if table.bases[w] >= LOW_BASE), None)
    newest = newest or next(iter(with_shares), None)
    if newest is None:
        return sorted(table.codes)[:n]
    ranked = sorted(table.codes, key=lambda c: (-(table.cells[(newest, c)].share or 0.0), c))
    return sorted(ranked[:n])


def tracker_svg(
    table: Tracker,
    *,
    codes: Sequence[int] | None = None,
    width: int = 720,
    height: int = 360,
    title: str = "Share of answers per wave",
    described_by: str = "",
) -> str:
    """An SVG line chart of each code's share per wave (all codes, or `codes`), a ring on a
    change significant at 95%, a `<title>` tooltip per point. Text is XML-escaped.
    `described_by`: the id of the table with its figures, which screen readers are pointed to
    (the chart is one image to them)."""
    numbers = list(codes) if codes is not None else list(table.codes)
    left, right, top, bottom = 48, 220, 32, 48
    plot_w, plot_h = width - left - right, height - top - bottom
    shares = [c.share for n in numbers for c in table.row(n) if c.share is not None]
    y_max, y_step = axis(max(shares, default=0.0))
    n_waves = len(table.waves)

    def x_at(i: int) -> float:
        return left + (plot_w * i / (n_waves - 1) if n_waves > 1 else plot_w / 2)

    def y_at(share: float) -> float:
        return top + plot_h * (1 - share / y_max)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label={quoteattr(title)} '
        + (f"aria-describedby={quoteattr(described_by)} " if described_by else "")
        + 'font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<text x="{left}" y="18" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    for step in range(round(y_max / y_step) + 1):
        share = y_step * step
        y = y_at(share)
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#ddd"/>'
        )
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_tick(share)}</text>')
    for i, wave in enumerate(table.waves):
        out.append(
            f'<text x="{x_at(i):.1f}" y="{top + plot_h + 18}" text-anchor="middle">'
            f"{escape(wave)}</text>"
        )
    for k, number in enumerate(numbers):
        colour = PALETTE[k % len(PALETTE)]
        dash = ' stroke-dasharray="5 3"' if k >= len(PALETTE) else ""
        label = f"{number}. {table.codes[number]}"
        points = [(i, c) for i, c in enumerate(table.row(number)) if c.share is not None]
        if len(points) > 1:
            path = " ".join(f"{x_at(i):.1f},{y_at(c.share):.1f}" for i, c in points)
            out.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>'
            )
        for i, cell in points:
            share = percent_text(cell.share)
            tip = f"{label}, {cell.wave}: {share}% ({cell.count:,} of {cell.base:,})"
            if cell.change is not None:
                tip += f", {change_text(cell)} points"
                tip += " (significant at 95%)" if cell.significant else ""
            x, y = x_at(i), y_at(cell.share)
            out.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                f"<title>{escape(tip)}</title></circle>"
            )
            if cell.significant:
                out.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="7" fill="none" stroke="{colour}" '
                    'stroke-width="1.5" class="significant"/>'
                )
        legend_y = top + 14 * k + 4
        name = label if len(label) <= 30 else label[:29] + "…"
        out.append(
            f'<line x1="{width - right + 16}" y1="{legend_y}" x2="{width - right + 36}" '
            f'y2="{legend_y}" stroke="{colour}" stroke-width="2"{dash}/>'
        )
        out.append(f'<text x="{width - right + 42}" y="{legend_y + 4}">{escape(name)}</text>')
    note_y = height - 8
    out.append(
        f'<text x="{left}" y="{note_y}" fill="#555">Ringed points: change from the previous '
        "wave significant at 95% (two-proportion z-test).</text>"
    )
    out.append("</svg>")
    return "\n".join(out)


def _tick(share: float) -> str:
    """An axis label: whole percent, or one decimal where the gridline is not on one (2.5%)."""
    text = f"{share * 100:.1f}"
    return (text[:-2] if text.endswith(".0") else text) + "%"


# Steps a reader counts in: 1, 2, 2.5 and 5 times a power of ten (each divides 100%).
_NICE_STEPS = (0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5)


def axis(value: float, *, lines: int = 4) -> tuple[float, float]:
    """The axis' top and its gridlines' step for shares up to `value`: the smallest nice step
    (`_NICE_STEPS`) that reaches `value` (at least 10%) in `lines` steps or fewer, and the
    first multiple of it at or above `value`. A quarter of a 5% top put gridlines at 3.8%,
    8.8%, 11.2%, 26.2%."""
    value = min(1.0, max(0.1, value))
    step = next(s for s in _NICE_STEPS if s * lines >= value - 1e-9)
    return step * math.ceil(value / step - 1e-9), step
