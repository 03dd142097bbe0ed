"""Outliving a lost database connection (a failover, a restart, a backend terminated by an
operator): which errors are one, and writes that go on on a new connection.

Django opens a new connection on the next query once the broken one is closed, but not inside
a transaction: what the transaction wrote went with the connection, so there the loss is
raised to whoever can start over (`run.run_attempt` queues the job again)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import connection
from django.db.utils import InterfaceError, OperationalError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# What a lost connection raises: OperationalError ("terminating connection due to administrator
# command", "server closed the connection unexpectedly", "connection refused") or, on a
# connection psycopg has closed already, InterfaceError ("the connection is closed").
DATABASE_ERRORS = (OperationalError, InterfaceError)

# Pauses before each new try: a dropped connection is back at once, a failover takes seconds.
RETRY_PAUSES = (0.2, 1.0, 3.0)


def connection_lost(exc: BaseException) -> bool:
    """Whether `exc` is the loss of the database connection (terminated, closed, or not to be
    had), rather than an error of the query itself (a missing table, a lock timeout, SQLite's
    "database is locked"), which a new connection would only repeat.

    On PostgreSQL, by psycopg's error: one without an SQLSTATE is the client's own (the
    connection failed, was lost or closed), class 08 is a connection exception, 57P an
    operator's intervention (pg_terminate_backend, a shutdown). Not by whether the connection
    answers now: a transaction that fails re-opens it on its way out (Django's atomic)."""
    if not isinstance(exc, DATABASE_ERRORS):
        return False
    if connection.vendor == "postgresql":
        sqlstate = getattr(exc.__cause__, "sqlstate", None)
        return sqlstate is None or sqlstate.startswith(("08", "57P"))
    if connection.connection is None:  # closed after the error, or could not be opened
        return True
    return not connection.is_usable()


def on_new_connection(call: Callable[[], T], *, what: str) -> T:
    """`call()`, tried again on a new connection, after a pause, each time it fails because the
    connection was lost (RETRY_PAUSES: up to three times); returns what it returns. `call` must
    be safe to repeat (a conditional update, a whole transaction). Inside a transaction the loss
    is raised at once: what the transaction wrote before is gone. Raises the last error."""
    for pause in (*RETRY_PAUSES, None):
        try:
            return call()
        except DATABASE_ERRORS as exc:
            if pause is None or connection.in_atomic_block or not connection_lost(exc):
                raise
            logger.warning("%s: the database connection was lost (%s); trying again", what, exc)
            connection.close()
            time.sleep(pause)
    raise AssertionError("unreachable")  # the last pass returns or raises
