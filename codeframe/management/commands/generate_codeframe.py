"""`manage.py generate_codeframe --question ID` (or `--file FILE`): generate, store, print.

Runs the generation job in this process, the same function a worker runs, with a progress bar:
no worker is needed."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.http import Http404

from codeframe import selectors
from codeframe.console import import_file, run_generation, timing_line
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
        parser.add_argument("--id-column", help="Respondent id column of --file (name or number)")
        parser.add_argument("--n-codes", type=int, help="Exact number of codes")
        parser.add_argument("--max-codes", type=int, help="At most this many codes")

    def handle(self, *args, **options) -> None:
        if options["file"] is not None:
            path: Path = options["file"]
            result = import_file(
                path,
                survey=options["survey"] or path.stem,
                column=options["column"],
                id_column=options["id_column"],
            )
            question = result.question
            skipped = f" ({result.skipped:,} blank skipped)" if result.skipped else ""
            self.stdout.write(
                f"Imported {result.imported:,} answers as question {question.pk}{skipped}."
            )
            if notice := result.id_notice(option="--id-column"):
                self.stderr.write(self.style.WARNING(notice))
        else:
            try:
                question = selectors.get_question(user=OPERATOR, question_id=options["question"])
            except Http404 as exc:
                raise CommandError(f"There is no question {options['question']}.") from exc
        self.stdout.write(f"Generating a codeframe for “{question}”…")
        codeframe = run_generation(
            question=question,
            stream=getattr(self.stderr, "_out", self.stderr),
            n_codes=options["n_codes"],
            max_codes=options["max_codes"],
        )
        self.stdout.write(codeframe_table(codeframe=codeframe))
        self.stdout.write(timing_line(codeframe))
        self.stdout.write(f"Stored as codeframe {codeframe.pk}: {codeframe.get_absolute_url()}")
