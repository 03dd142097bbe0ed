"""`manage.py generate_codeframe --question ID` (or `--file FILE`): generate, store, print."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.http import Http404

from codeframe import selectors, services
from codeframe.exceptions import CodeframeError
from codeframe.management.commands.import_responses import import_file
from codeframe.models import Codeframe
from codeframe.scoping import OPERATOR
from codeframe.tables import codeframe_table


class Command(BaseCommand):
    help = "Generate a codeframe for a question's answers (or a file's) and print it as a table."

    def add_arguments(self, parser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--question", type=int, help="Id of a question with answers")
        source.add_argument(
            "--file", type=Path, help="CSV/XLSX file: imported into a new question first"
        )
        parser.add_argument("--survey", help="Survey name for --file (default: the file name)")
        parser.add_argument("--column", help="Answer column of --file (name or number)")
        parser.add_argument("--n-codes", type=int, help="Exact number of codes")
        parser.add_argument("--max-codes", type=int, help="At most this many codes")

    def handle(self, *args, **options) -> None:
        if options["file"] is not None:
            path: Path = options["file"]
            result = import_file(
                path, survey=options["survey"] or path.stem, column=options["column"]
            )
            question = result.question
            self.stdout.write(f"Imported {result.imported:,} answers as question {question.pk}.")
        else:
            try:
                question = selectors.get_question(user=OPERATOR, question_id=options["question"])
            except Http404 as exc:
                raise CommandError(f"There is no question {options['question']}.") from exc
        self.stdout.write(f"Generating a codeframe for “{question}”…")
        try:
            codeframe = services.create_codeframe(
                question=question, n_codes=options["n_codes"], max_codes=options["max_codes"]
            )
        except CodeframeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(codeframe_table(codeframe=codeframe))
        self.stdout.write(timing_line(codeframe))
        self.stdout.write(f"Stored as codeframe {codeframe.pk}: {codeframe.get_absolute_url()}")


def timing_line(codeframe: Codeframe) -> str:
    timings = codeframe.timings
    return (
        f"{codeframe.response_count:,} answers in {timings.get('total_seconds', 0):.2f} s: "
        f"embedding {timings.get('embedding_seconds', 0):.2f} s ({codeframe.cache_hits:,} cache "
        f"hits, {codeframe.cache_misses:,} misses), clustering "
        f"{timings.get('clustering_seconds', 0):.2f} s"
    )
