"""`manage.py db_worker`: django-tasks-db's command, with its options and name (the Procfile,
the README and supervisors' units run it unchanged), running our worker, which a lost database
connection does not end (`codeframe.jobs.worker`). The app is listed before django_tasks_db in
INSTALLED_APPS, so this command is the one `manage.py` finds (system check codeframe.E001)."""

import os

from django.core.management.base import CommandError
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django_tasks_db.management.commands import db_worker

from codeframe.jobs.worker import Worker


class Command(db_worker.Command):
    help = "Run a database background worker that outlives a lost database connection"

    def handle(
        self,
        *,
        verbosity: int,
        queue_name: str,
        interval: float,
        batch: bool,
        backend_name: str,
        startup_delay: bool,
        reload: bool,
        max_tasks: int | None,
        worker_id: str,
        exclude_queues: str,
        **options,
    ) -> None:
        # django-tasks-db's `handle`, with our Worker: it names its class inside the method.
        self.configure_logging(verbosity)
        if reload and batch:
            self.stderr.write("--reload and --batch cannot be specified together: not reloading.")
            reload = False
        queue_names = queue_name.split(",")
        excluded = exclude_queues.split(",") if exclude_queues else []
        if excluded and "*" not in queue_names:
            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = Worker(
            queue_names=queue_names,
            interval=interval,
            batch=batch,
            backend_name=backend_name,
            startup_delay=startup_delay,
            max_tasks=max_tasks,
            worker_id=worker_id,
            excluded_queue_names=excluded,
        )
        if reload:
            if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":  # only the reloaded child
                worker.configure_signals()
            run_with_reloader(worker.run)
        else:
            worker.configure_signals()
            worker.run()
