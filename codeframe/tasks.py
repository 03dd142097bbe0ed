"""The background tasks (Django's task interface, via django-tasks): thin wrappers around
`codeframe.jobs`. Workers run them: `manage.py db_worker`. Arguments are JSON (the job's id as
a string); nothing is pickled."""

from django_tasks import task

from codeframe import jobs
from codeframe.exceptions import AttemptRequeued, JobCancelled


@task()
def run_generation(job_id: str) -> str:
    """Run a queued generation job; returns its final state ("deleted" when the job went with
    its question before it could end). Raises JobCancelled when this run's attempt lost the
    job to a later one (its worker was taken for dead, then came back): the task row, which
    the recovery marked failed, stays failed instead of reading successful with the other
    attempt's state. Raises AttemptRequeued when this run lost its database connection and
    queued the job again: its task is over, the job is not."""
    ran = jobs.run_attempt(job_id=job_id, keep_alive=True)
    if ran is None:
        return "deleted"
    if ran.requeued:
        raise AttemptRequeued(f"job {job_id}: the database connection was lost; queued again")
    if ran.superseded:
        raise JobCancelled(f"job {job_id}: another attempt took it over; this run stored nothing")
    return ran.job.state


@task()
def check_job(job_id: str) -> None:
    """Watchdog: recover the job if the worker running it died."""
    jobs.watch_job(job_id)
