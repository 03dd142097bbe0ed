"""The job queue as a section of the embedding cache's stats page, API and /metrics
(EMBEDDINGS["STATS_SECTIONS"])."""

from __future__ import annotations

import logging

from codeframe import selectors
from codeframe.jobs.recovery import recover_stale_jobs

logger = logging.getLogger(__name__)


def job_queue_section():
    """The generation queue as a section of the cache's stats page, API and /metrics
    (EMBEDDINGS["STATS_SECTIONS"]). Running jobs whose workers died are recovered first: the
    watchdog is a task, and with every worker dead it never runs, so a scrape would show the
    job "running" for ever; recovered, it is queued, and oldest_queued_seconds grows."""
    from embeddings.sections import StatsSection, StatsValue

    try:
        recover_stale_jobs()
    except Exception:  # the queue's figures still matter most when recovery fails
        logger.exception("recovering stale jobs while reading the queue failed")
    stats = selectors.job_queue_stats()
    return StatsSection(
        name="codeframe_jobs",
        title="Generation jobs (task workers)",
        values=[
            StatsValue("queued", "Queued", stats.queued, "Jobs waiting for a worker.", "jobs"),
            StatsValue("running", "Running", stats.running, "Jobs a worker is running.", "jobs"),
            StatsValue(
                "failed_last_hour",
                "Failed in the last hour",
                stats.failed_last_hour,
                "Jobs that ended failed in the last hour.",
                "jobs",
            ),
            StatsValue(
                "done_last_hour",
                "Done in the last hour",
                stats.done_last_hour,
                "Jobs that stored a codeframe in the last hour.",
                "jobs",
            ),
            StatsValue(
                "oldest_queued_seconds",
                "Oldest queued job waiting for",
                None
                if stats.oldest_queued_seconds is None
                else round(stats.oldest_queued_seconds, 1),
                "Age of the oldest queued job: it grows when the workers cannot keep up.",
                "s",
            ),
            StatsValue(
                "silent_seconds",
                "Longest a running job's worker has been silent",
                None if stats.silent_seconds is None else round(stats.silent_seconds, 1),
                "Since the least recent progress report of a running job: past "
                "CODEFRAME['JOB_TIMEOUT'] its worker died or hung.",
                "s",
            ),
        ],
    )
