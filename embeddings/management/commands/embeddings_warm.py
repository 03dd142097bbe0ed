"""manage.py embeddings_warm: compute and cache the embeddings of many texts ahead of time."""

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.management.base import BaseCommand, CommandError, CommandParser

from embeddings import maintenance, sources
from embeddings.exceptions import EmbeddingsError

PROGRESS_EVERY = 10.0  # seconds between plain progress lines when not on a terminal


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so the summary of finished batches is printed."""


class Command(BaseCommand):
    help = (
        "Embed and cache texts ahead of time, from a file (.txt one per line, .csv --column, "
        ".jsonl --field), stdin (-) or the database (--question/--all). Only texts not yet "
        "cached are encoded; an interrupted run resumes where it stopped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", help="File to read, or - for stdin.")
        parser.add_argument("--column", help="CSV column (header name) holding the texts.")
        parser.add_argument("--field", help="JSONL field holding the texts.")
        parser.add_argument(
            "--format", choices=sources.FORMATS, help="Override the format guessed from PATH."
        )
        parser.add_argument("--encoding", default="utf-8", help="File encoding (utf-8).")
        parser.add_argument(
            "--question",
            type=int,
            action="append",
            dest="questions",
            metavar="ID",
            help="Warm the stored responses of this question (repeatable).",
        )
        parser.add_argument(
            "--all", action="store_true", dest="all_questions", help="Every stored response."
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=maintenance.DEFAULT_WARM_BATCH,
            help=f"Texts per lookup/encode/write round (default {maintenance.DEFAULT_WARM_BATCH}).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only count how many texts would be computed; the model is not loaded.",
        )
        parser.add_argument(
            "--quiet", action="store_true", help="No progress output (-v 0 also drops the summary)."
        )

    def handle(self, *args, **options) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        records, total, unit = self._records(options)
        stats = maintenance.WarmStats()
        progress = _Progress(self.stdout, total=total, unit=unit, quiet=options["quiet"])
        signals = _Signals()
        try:
            with signals.raising(), progress:
                maintenance.warm_texts(
                    signals.guard(records),
                    batch_size=options["batch_size"],
                    dry_run=options["dry_run"],
                    stats=stats,
                    on_batch=progress.update,
                )
                signals.check()
        except KeyboardInterrupt as exc:
            stats.finished = time.perf_counter()
            note = "interrupted" if stats.dry_run else "interrupted; finished batches are cached"
            self._summary(stats, options, note=note)
            terminated = isinstance(exc, Terminated) or signals.received == signal.SIGTERM
            code = 143 if terminated else 130
            raise CommandError(
                f"Interrupted after line {stats.last_line}; run the same command again to "
                "resume (cached texts are skipped).",
                returncode=code,
            ) from None
        except (EmbeddingsError, ValueError) as exc:
            if stats.batches:
                self._summary(stats, options, note="stopped by an error")
            raise CommandError(str(exc)) from exc
        self._summary(stats, options)

    def _records(self, options) -> tuple[Iterator[sources.Record], int | None, str]:
        """The record stream, its expected length (None if unknown) and the progress unit."""
        path = options["path"]
        from_db = options["all_questions"] or options["questions"]
        if bool(path) == bool(from_db):
            raise CommandError("Give exactly one source: a PATH (or -), --question ID or --all.")
        if options["all_questions"] and options["questions"]:
            raise CommandError("--question and --all exclude each other.")
        if from_db:
            ids = None if options["all_questions"] else options["questions"]
            return sources.database_texts(question_ids=ids), None, "texts"
        fmt = options["format"] or sources.format_for(
            path, column=options["column"], field=options["field"]
        )
        records = sources.read_texts(
            path,
            format=fmt,
            column=options["column"],
            field=options["field"],
            encoding=options["encoding"],
        )
        return records, sources.count_lines(path), "lines"

    def _summary(self, stats: maintenance.WarmStats, options, *, note: str = "") -> None:
        if options["verbosity"] == 0 and not note:
            return
        verb = "would embed" if stats.dry_run else "newly embedded"
        lines = [
            f"{'Dry run: ' if stats.dry_run else ''}{stats.read} read, "
            f"{stats.cached} already cached, {stats.embedded} {verb}, "
            f"{stats.duplicates} repeated, {stats.skipped} skipped (blank/invalid)",
            f"{stats.seconds:.1f} s ({stats.encode_seconds:.1f} s encoding), "
            f"{stats.rate:,.0f} texts/s",
        ]
        if note:
            lines.append(f"({note})")
        self.stdout.write("\n".join(lines))


class _Progress:
    """A tqdm bar on a terminal, a plain line every PROGRESS_EVERY seconds otherwise."""

    def __init__(self, stdout, *, total: int | None, unit: str, quiet: bool) -> None:
        self.stdout = stdout
        self.total = total
        self.unit = unit
        self.quiet = quiet
        self.bar = None
        self.last_print = 0.0

    def __enter__(self) -> "_Progress":
        if not self.quiet and self.stdout.isatty():
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.total, unit=f" {self.unit}", unit_scale=True, file=self.stdout._out
            )
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()

    def update(self, stats: maintenance.WarmStats) -> None:
        if self.quiet:
            return
        position = stats.last_line if self.unit == "lines" else stats.read
        if self.bar is not None:
            self.bar.update(position - self.bar.n)
            self.bar.set_postfix(cached=stats.cached, new=stats.embedded, refresh=False)
            return
        now = time.perf_counter()
        if stats.batches > 1 and now - self.last_print < PROGRESS_EVERY:
            return
        self.last_print = now
        done = f"{position:,}"
        if self.total:
            done += f"/{self.total:,} {self.unit} ({100 * position / self.total:.1f}%)"
            if stats.rate > 0 and position:
                left = (self.total - position) * stats.seconds / position
                done += f", ETA {_duration(left)}"
        else:
            done += f" {self.unit}"
        self.stdout.write(
            f"progress: {done}; {stats.cached:,} cached, {stats.embedded:,} new, "
            f"{stats.rate:,.0f} texts/s"
        )
        self.stdout.flush()


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class _Signals:
    """SIGINT and SIGTERM as exceptions that cannot be lost.

    Our own handlers for both, because Python only turns SIGINT into KeyboardInterrupt when the
    process did not inherit it ignored, and a shell ignores it for background jobs (a CI run,
    `make test &`): there a `kill -INT` was silently dropped and the run, reading stdin, took
    the writer closing the pipe for the end of input and reported success. The handler also
    records the signal, and `guard` / `check` raise it again when the input ends or the run
    returns, for an interrupt raised where Python drops it (in a finalizer during garbage
    collection, "Exception ignored in ...")."""

    def __init__(self) -> None:
        self.received: int | None = None

    def _raise(self, signum, frame) -> None:
        self.received = signum
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()

    def check(self) -> None:
        if self.received is not None:
            raise Terminated() if self.received == signal.SIGTERM else KeyboardInterrupt()

    def guard(self, records: Iterator[sources.Record]) -> Iterator[sources.Record]:
        for record in records:
            self.check()
            yield record
        self.check()  # end of input after a signal is the signal, not the end

    @contextmanager
    def raising(self):
        try:
            previous = {s: signal.signal(s, self._raise) for s in (signal.SIGINT, signal.SIGTERM)}
        except ValueError:  # not the main thread (e.g. called from a worker): leave signals alone
            yield
            return
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
