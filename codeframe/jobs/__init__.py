"""Background generation jobs: queue, run (on a worker or in the foreground), cancel, retry, and
recover the jobs whose worker died.

A job runs the generation's steps in order, each reported on its row:
prepare (read the answers) -> embed (through `embeddings.services`, in batches, one progress
write per batch) -> generate (`generate_codeframe(texts, vectors=..., embed=...)`, pure; `embed`
embeds label phrases through the cache) -> store (one transaction, in which the job is also
marked done: both land or neither).

Workers die (kill -9, out of memory, a machine gone). A running job's `heartbeat` moves with
every progress write; one older than CODEFRAME["JOB_TIMEOUT"] has lost its worker, and
`recover_stale_jobs` queues it again (up to JOB_MAX_ATTEMPTS runs) or marks it failed. Batches
already embedded are in the cache, so a retry pays only for the rest. An attempt that comes back
to life after it was superseded can no longer write: every progress write and the final store
are conditional on the attempt number.

A lost database connection (a failover) ends neither: the worker (`manage.py db_worker`)
reconnects and goes on, a job's writes are made again on a new connection, and a job whose
store lost its connection is queued again at once.

One module a subject: `queue` (queue, retry, cancel), `run` (a job's steps and its end),
`recovery` (workers that die, the watchdog), `backend` (handing jobs to the task backend, the
database queue's turns), `section` (the queue on the cache's stats page), `worker` (the task
worker) and `connection` (outliving a lost database connection); their public names are
gathered here, so callers write `jobs.queue_generation(...)`.
"""

from codeframe.jobs.queue import (
    cancel_job,
    check_options,
    create_job,
    later_job,
    queue_generation,
    queue_generation_for_texts,
    queue_recode,
    queue_wave,
    retry_job,
)
from codeframe.jobs.recovery import recover_stale_jobs, watch_job
from codeframe.jobs.run import Attempt, Progress, ProgressCallback, run_attempt, run_job
from codeframe.jobs.section import job_queue_section

__all__ = [
    "Attempt",
    "Progress",
    "ProgressCallback",
    "cancel_job",
    "check_options",
    "create_job",
    "job_queue_section",
    "later_job",
    "queue_generation",
    "queue_generation_for_texts",
    "queue_recode",
    "queue_wave",
    "recover_stale_jobs",
    "retry_job",
    "run_attempt",
    "run_job",
    "watch_job",
]
