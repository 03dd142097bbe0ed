"""The task backend under the jobs: handing a job to it, and the database queue's order.

Projects take turns (`next_turn`); the workers of the database queue (`db_worker`) take the
highest priority first, so `take_turns` sets the priorities from the turns. The queue's rows
are the backend's own (`is_task_row`, `fail_task_row`)."""

from __future__ import annotations

import uuid

from django.db import connection
from django.db.models import Max, Q
from django.utils import timezone

from codeframe.models import GenerationJob, Question

State = GenerationJob.State


def next_turn(question: Question) -> int:
    """A new job's turn in the queue, so that projects take turns (start-time fair queuing):
    the turn being served (the highest of a job that has started), or the one after its
    project's last turn if that is later. A project's jobs queued at once take one turn each,
    and another project's next job comes in at the turn being served: one client's ten waves
    hold another client's job behind one of them, not all ten, and a client with a backlog
    keeps its place against clients queuing one job at a time (its next turn comes before
    theirs). Only jobs that started or are still waiting hold a turn: one cancelled before it
    started gives its turn up. Workers take the lowest turn first (`take_turns`), the oldest
    job of a turn first. Call in the transaction that creates the job: the queue lock held
    to its end keeps two jobs of one project from taking the same turn."""
    lock_queue(question=question)
    started = GenerationJob.objects.filter(started__isnull=False)
    served = started.aggregate(turn=Max("turn"))["turn"] or 0
    own = GenerationJob.objects.filter(question__project_id=question.project_id).filter(
        Q(started__isnull=False) | Q(state__in=GenerationJob.ACTIVE_STATES)
    )
    last = own.aggregate(turn=Max("turn"))["turn"]
    return served if last is None else max(served, last + 1)


# The PostgreSQL advisory lock key of the queue's turns (any constant of this app's own).
_QUEUE_LOCK = 0x636F6465  # "code"


def lock_queue(*, question: Question | None = None) -> None:
    """Serialises the turns' bookkeeping (`next_turn`, `take_turns`) to the end of the current
    transaction: concurrent requests updating task priorities in differing orders deadlocked.
    PostgreSQL takes a transaction-level advisory lock; SQLite writes one at a time anyway.
    Only the database queue has turns (the immediate backend runs a job in the request's
    transaction, which must not hold the lock).

    With `question` (a job of it is about to be made), its row is locked first: a request that
    locked the question and then queues (a wave: `start_wave`, `_queue_wave_job`) takes them in
    that order, and the new job's foreign key would wait for the question under the queue lock,
    a deadlock. No key update: rows that refer to the question (answers, jobs) are not held
    up."""
    if connection.vendor == "postgresql" and database_queue():
        if question is not None:
            Question.objects.select_for_update(no_key=True).filter(pk=question.pk).exists()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_QUEUE_LOCK])


def database_queue() -> bool:
    """Whether jobs go to the database queue (`db_worker`), the only one with priorities."""
    from django_tasks_db.backend import DatabaseBackend

    from codeframe.tasks import run_generation

    return isinstance(run_generation.get_backend(), DatabaseBackend)


def enqueue(job: GenerationJob) -> None:
    """Hand the job to the task backend. Call inside the transaction that made the job: a
    worker never sees a task whose job is not there."""
    from codeframe.tasks import run_generation

    result = run_generation.enqueue(str(job.pk))
    GenerationJob.objects.filter(pk=job.pk).update(task_id=str(result.id))
    take_turns()


def take_turns() -> None:
    """Sets the database queue's task priorities from the queued jobs' turns (`next_turn`): minus
    the rank of a job's turn among the queued ones (0 for the lowest, down to django-tasks'
    lowest priority), so the workers, which take the highest priority first and then the oldest
    task, serve the turns in order. Ranks, not distances: a job re-queued at the turn it had
    long ago would put the others over 100 turns past it, one priority, first come, first
    served; only over 100 distinct turns queued share the lowest. Called whenever a job joins
    or leaves the queue. Other backends keep their own order."""
    if not database_queue():
        return
    from django_tasks.base import TASK_MIN_PRIORITY
    from django_tasks_db.models import DBTaskResult

    lock_queue()
    queued = GenerationJob.objects.filter(state=State.QUEUED).values_list("task_id", "turn")
    turns = {task_id: turn for task_id, turn in queued if is_task_row(task_id)}
    # Only tasks still waiting for a worker: a queued job whose task was taken by a worker that
    # died before claiming it would hold the lowest turn until it is recovered.
    ready = DBTaskResult.objects.filter(id__in=list(turns), status="READY")
    tasks = [(str(task_id), turns[str(task_id)]) for task_id in ready.values_list("id", flat=True)]
    if not tasks:
        return
    rank = {turn: i for i, turn in enumerate(sorted({turn for _, turn in tasks}))}
    by_priority: dict[int, list[str]] = {}
    for task_id, turn in tasks:
        by_priority.setdefault(max(-rank[turn], TASK_MIN_PRIORITY), []).append(task_id)
    for priority, ids in by_priority.items():
        DBTaskResult.objects.filter(id__in=ids, status="READY").exclude(priority=priority).update(
            priority=priority
        )


def is_task_row(task_id: str) -> bool:
    """Whether `task_id` can be the database backend's task row (the immediate backend's ids
    are not UUIDs; a job not handed over yet has none)."""
    try:
        uuid.UUID(task_id)
    except ValueError:
        return False
    return True


def fail_task_row(task_id: str) -> None:
    """The dead worker's task row says RUNNING for ever: close it too, so the task admin and
    `prune_db_task_results` see it as failed. Only the database backend keeps such rows."""
    from django.apps import apps

    if not apps.is_installed("django_tasks_db") or not is_task_row(task_id):
        return
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.filter(id=task_id, status="RUNNING").update(
        status="FAILED", finished_at=timezone.now()
    )
