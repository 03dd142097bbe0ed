"""A codeframe as a plain-text table (nets → codes), for the management commands."""

from codeframe.models import Codeframe
from codeframe.selectors import codeframe_overview

LABEL_WIDTH = 44


def codeframe_table(*, codeframe: Codeframe, keywords: int = 4) -> str:
    """Nets, each followed by its codes: number, label, size, share and the first keywords."""
    overview = codeframe_overview(codeframe=codeframe)
    total = overview.base or 1  # the answers coded, as the shares are
    lines = [
        f"{'code':>4}  {'label':<{LABEL_WIDTH}} {'size':>6} {'share':>6}  keywords",
        "-" * (LABEL_WIDTH + 40),
    ]
    for net in overview.nets:
        lines.append(
            f"{'':>4}  {_fit(net.label.upper()):<{LABEL_WIDTH}} {net.size:>6} "
            f"{net.size / total:>6.1%}"
        )
        for row in net.codes:
            code = row.code
            lines.append(
                f"{code.number:>4}    {_fit(code.label, LABEL_WIDTH - 2):<{LABEL_WIDTH - 2}} "
                f"{code.size:>6} {row.share:>6.1%}  {', '.join(code.keywords[:keywords])}"
            )
    lines.append(
        f"{'':>4}  {'(uncoded)':<{LABEL_WIDTH}} {overview.uncoded:>6} "
        f"{overview.uncoded / total:>6.1%}"
    )
    if overview.late:
        late = "(imported since, not coded yet)"
        lines.append(f"{'':>4}  {late:<{LABEL_WIDTH}} {overview.late:>6}")
    return "\n".join(lines)


def _fit(text: str, width: int = LABEL_WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
