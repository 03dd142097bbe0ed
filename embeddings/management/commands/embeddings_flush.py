"""manage.py embeddings_flush: delete cached embeddings, and nothing else."""

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from embeddings import maintenance
from embeddings.exceptions import EmbeddingsError

PROGRESS_EVERY = 5.0  # seconds between plain progress lines when not on a terminal


class Command(BaseCommand):
    help = (
        "Delete cached embeddings: the current model's by default, another model's with "
        "--model FINGERPRINT, every model's with --all-models. Only keys under the embeddings "
        "prefix are touched (SCAN + UNLINK in batches, never FLUSHDB)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group()
        which.add_argument(
            "--model",
            metavar="FINGERPRINT",
            help="Flush the model whose keys read {prefix}:v1:FINGERPRINT:... (see --dry-run).",
        )
        which.add_argument(
            "--all-models", action="store_true", help="Flush the embeddings of every model."
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Only count the keys.")
        parser.add_argument(
            "--batch-size",
            type=int,
            default=maintenance.DEFAULT_FLUSH_BATCH,
            help=f"Keys per SCAN page and UNLINK (default {maintenance.DEFAULT_FLUSH_BATCH}).",
        )
        parser.add_argument("--quiet", action="store_true", help="No progress output.")

    def handle(self, *args, **options) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        try:
            self._flush(options)
        except (EmbeddingsError, ValueError) as exc:
            raise CommandError(str(exc)) from exc

    def _flush(self, options) -> None:
        if options["all_models"]:
            namespace, what = maintenance.all_models_namespace(), "every model"
        elif options["model"]:
            namespace = maintenance.model_namespace(options["model"])
            what = f"model {options['model']}"
        else:
            namespace, what = maintenance.current_namespace(), "the current model"

        count = maintenance.count_keys(namespace=namespace, batch=options["batch_size"])
        self.stdout.write(f"{count.total:,} embedding keys of {what} under '{namespace}'.")
        if options["all_models"] or options["verbosity"] > 1:
            for fingerprint, keys in sorted(count.by_model.items(), key=lambda item: -item[1]):
                self.stdout.write(f"  model {fingerprint}: {keys:,}")
        if options["dry_run"] or count.total == 0:
            return
        if options["interactive"]:
            try:
                answer = input(
                    f"This deletes {count.total:,} cached embeddings; they will be recomputed "
                    "when next needed.\nType 'yes' to continue, or 'no' to cancel: "
                )
            except EOFError as exc:  # no terminal: cron, `docker exec` without -i
                raise CommandError(
                    "Nothing to confirm with (no input); nothing was deleted. Run with "
                    "--noinput to flush without asking."
                ) from exc
            if answer.strip().lower() != "yes":
                self.stdout.write("Flush cancelled.")
                return

        progress = _Progress(self.stdout, total=count.total, quiet=options["quiet"])
        try:
            with progress:
                result = maintenance.flush_keys(
                    namespace=namespace, batch=options["batch_size"], on_batch=progress.update
                )
        except KeyboardInterrupt:
            raise CommandError(
                f"Interrupted after deleting {progress.deleted:,} keys; run again to finish.",
                returncode=130,
            ) from None
        rate = result.deleted / result.seconds if result.seconds > 0 else 0.0
        self.stdout.write(
            self.style.SUCCESS(
                f"Deleted {result.deleted:,} keys in {result.seconds:.1f} s ({rate:,.0f} keys/s)."
            )
        )


class _Progress:
    def __init__(self, stdout, *, total: int, quiet: bool) -> None:
        self.stdout = stdout
        self.total = total
        self.quiet = quiet
        self.bar = None
        self.last_print = time.perf_counter()
        self.deleted = 0

    def __enter__(self) -> "_Progress":
        if not self.quiet and self.stdout.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, unit=" keys", unit_scale=True, file=self.stdout._out)
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()

    def update(self, deleted: int) -> None:
        self.deleted = deleted
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.update(deleted - self.bar.n)
            return
        now = time.perf_counter()
        if now - self.last_print >= PROGRESS_EVERY:
            self.last_print = now
            self.stdout.write(f"progress: {deleted:,}/{self.total:,} keys deleted")
            self.stdout.flush()
