"""Sections the project adds to the cache's stats page, its API and /metrics (setting
`STATS_SECTIONS`), so operators see what sits around the cache (the workers' job queue) in the
same places, while this app imports nothing of the project."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.utils.module_loading import import_string

from embeddings.conf import get_config

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StatsValue:
    key: str  # metric name suffix and API key: [a-z_]+
    label: str  # what the page shows
    value: float | int | None  # None: unknown right now
    help: str = ""
    unit: str = ""  # shown after the value ("s", "jobs")


@dataclass(frozen=True)
class StatsSection:
    name: str  # metric prefix and API key: [a-z_]+
    title: str
    values: list[StatsValue] = field(default_factory=list)

    def as_dict(self) -> dict[str, float | int | None]:
        return {value.key: value.value for value in self.values}


def stats_sections() -> list[StatsSection]:
    """Every configured section; one that fails is left out (and logged), since the stats of
    the cache must answer whatever the project's extras do."""
    sections = []
    for path in get_config()["STATS_SECTIONS"]:
        try:
            sections.append(import_string(path)())
        except Exception:
            # Stats pages answer during outages: a broken extra must not take the page down.
            logger.exception("stats section %s failed", path)
    return sections
