"""The warning rules of the stats: what is wrong with the cache's use (unreachable, low hit
rate, errors), plus whatever the store says about itself (`BaseStore.settings_warnings()` and
`health_warnings()`: memory, eviction policy, persistence, a shared database)."""

from collections.abc import Mapping, Sequence
from typing import Any

from embeddings.stores import HealthWarning


def usage_warnings(
    *,
    reachable: bool,
    error: str | None,
    last_hour: Any,  # selectors.Usage
    thresholds: Mapping[str, Any],
) -> list[HealthWarning]:
    found: list[HealthWarning] = []
    if not reachable:
        found.append(
            HealthWarning(
                "unreachable",
                f"The cache is unreachable ({error}); embeddings are computed without it.",
                level="critical",
            )
        )
    if (
        last_hour.hit_rate is not None
        and last_hour.requests >= thresholds["MIN_REQUESTS_FOR_HIT_RATE"]
        and last_hour.hit_rate < thresholds["MIN_HIT_RATE"]
    ):
        found.append(
            HealthWarning(
                "low_hit_rate",
                f"Hit rate in the last hour is {last_hour.hit_rate:.0%} "
                f"(below {thresholds['MIN_HIT_RATE']:.0%}) over {last_hour.requests:,} lookups.",
            )
        )
    if last_hour.corrupt or last_hour.errors:
        found.append(
            HealthWarning(
                "errors",
                f"Last hour: {last_hour.errors:,} cache errors, {last_hour.corrupt:,} corrupt "
                "values (recomputed and overwritten).",
            )
        )
    return found


def ordered(*groups: Sequence[HealthWarning]) -> list[HealthWarning]:
    """Warnings of every group, critical first, each code once."""
    seen: set[str] = set()
    out = []
    for warning in sorted(
        (w for group in groups for w in group), key=lambda w: w.level != "critical"
    ):
        if warning.code not in seen:
            seen.add(warning.code)
            out.append(warning)
    return out
