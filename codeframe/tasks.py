"""The background tasks (Django's task interface, via django-tasks): thin wrappers around
`codeframe.jobs`. Workers run them: `manage.py db_worker`. Arguments are JSON (the job's id as
a string); nothing is pickled."""

from django_tasks import task

from codeframe import jobs


@task()
def run_generation(job_id: str) -> str:
    """Run a queued generation job; returns its final state ("deleted" when the job went with
    its question before it could end)."""
    job = jobs.run_job(job_id=job_id, keep_alive=True)
    return job.state if job is not None else "deleted"


@task()
def check_job(job_id: str) -> None:
    """Watchdog: recover the job if the worker running it died."""
    jobs.watch_job(job_id)
