"""`make demo`: the main job on a sample survey, with no server needed."""

import csv
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from embeddings.services import embed_texts_with_report


class Command(BaseCommand):
    help = "Embed a sample survey file twice and show what the persistent cache saves."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path, help="CSV file with an 'answer' column")
        parser.add_argument("--column", default="answer")

    def handle(self, *args, path: Path, column: str, **options) -> None:
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        if not rows or column not in rows[0]:
            raise CommandError(f"{path} has no column {column!r}")
        texts = [row[column] for row in rows]
        self.stdout.write(f"{len(texts)} answers from {path}")
        for attempt in ("first pass", "second pass"):
            started = time.perf_counter()
            report = embed_texts_with_report(texts)
            seconds = time.perf_counter() - started
            self.stdout.write(
                f"{attempt:>11}: {seconds:7.3f} s  {report.hits:4d} cache hits  "
                f"{report.misses:4d} misses  (vectors {report.vectors.shape[0]}x"
                f"{report.vectors.shape[1]})"
            )
        self.stdout.write(
            "The cache persists: run `make demo` again and the first pass is all hits too."
        )
