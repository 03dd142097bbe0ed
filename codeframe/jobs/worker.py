"""The task worker (`manage.py db_worker`): django-tasks-db's, made to outlive its database
connection.

django-tasks-db's loop lets a lost connection's error out of `run()`, and the process exits: an
idle worker when its poll for tasks fails (a failover: "connection refused"), a busy one when
recording its task's end fails on the connection its task lost. Ours closes the broken
connection, waits until the database answers again and goes on; a task's end is recorded on
the new connection. Nothing is run twice: a task is claimed in the poll's transaction, which
either committed (the task runs) or went with the connection (it stays ready)."""

from __future__ import annotations

import itertools
import logging
import time

from django.db import connection, connections
from django_tasks_db.management.commands.db_worker import Worker as DatabaseWorker
from django_tasks_db.models import DBTaskResult

from codeframe.jobs.connection import DATABASE_ERRORS, connection_lost, on_new_connection

logger = logging.getLogger(__name__)

# Pauses while the database does not answer: soon at first, then every few seconds.
RECONNECT_PAUSES = (0.5, 1.0, 2.0, 5.0)


class Worker(DatabaseWorker):
    """django-tasks-db's worker, which a lost database connection does not end."""

    def run(self) -> None:
        while True:
            try:
                return super().run()
            except DATABASE_ERRORS as exc:
                if not connection_lost(exc):
                    raise
                logger.warning(
                    "worker %s: the database connection was lost (%s); reconnecting",
                    self.worker_id,
                    exc,
                )
                if not self.running:  # asked to stop: nothing to go back to
                    return None
                self._reconnect()

    def run_task(self, db_task_result: DBTaskResult) -> None:
        try:
            super().run_task(db_task_result)
        except DATABASE_ERRORS as exc:
            # The task ended, and recording how (django-tasks-db's set_successful, then its
            # set_failed) failed on a lost connection: record it as failed on a new one, so the
            # row does not say RUNNING for ever. The task's own state (a job's row) is its own.
            if not connection_lost(exc):
                raise
            logger.warning(
                "task %s: the database connection was lost recording its end (%s); recording "
                "it as failed on a new connection",
                db_task_result.id,
                exc,
            )
            connection.close()
            on_new_connection(
                lambda error=exc: db_task_result.set_failed(error), what=f"task {db_task_result.id}"
            )

    def _reconnect(self) -> None:
        """Return once the database answers again, on a new connection (or the worker is asked
        to stop)."""
        lost = time.monotonic()
        for tries in itertools.count(1):
            if not self.running:  # asked to stop while the database is away: stop now
                return
            connections.close_all()
            try:
                connection.ensure_connection()
                if connection.is_usable():
                    break
            except DATABASE_ERRORS as exc:
                logger.debug("worker %s: no database yet (%s)", self.worker_id, exc)
            time.sleep(RECONNECT_PAUSES[min(tries, len(RECONNECT_PAUSES)) - 1])
        logger.info(
            "worker %s: reconnected to the database after %.1f s",
            self.worker_id,
            time.monotonic() - lost,
        )
