"""`manage.py import_responses FILE --question ID` (or `--survey NAME` for a new question)."""

from pathlib import Path

from django.core.management.base import BaseCommand

from codeframe import waves
from codeframe.console import find_question, import_file


class Command(BaseCommand):
    help = "Import the answers in a CSV or XLSX file into a question (all or nothing)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path, help="CSV (UTF-8) or XLSX file; row 1 = header")
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--question", type=int, help="Id of an existing question")
        target.add_argument("--survey", help="Survey name of a new question")
        parser.add_argument("--question-text", default="", help="Text of the new question")
        parser.add_argument("--column", help="Answer column (name or 1-based number)")
        parser.add_argument("--id-column", help="Respondent id column (name or number)")
        parser.add_argument("--sheet", help="XLSX sheet (default: the first)")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Delete the question's answers and codeframes first (refused for a tracker's "
            "wave coded with its approved frame)",
        )

    def handle(self, *args, path: Path, **options) -> None:
        numeric = waves.had_numeric_ids(question=find_question(options.get("question")))
        result = import_file(path, **options)
        skipped = f"; {result.skipped:,} blank skipped" if result.skipped else ""
        self.stdout.write(
            f"Imported {result.imported:,} answers into question {result.question.pk} "
            f"({result.question}){skipped}."
        )
        if deleted := result.deleted_codeframes:
            frames = ", ".join(f"#{pk}" for pk in deleted)
            self.stdout.write(
                f"Replaced its answers: deleted codeframe{'s' if len(deleted) > 1 else ''} "
                f"{frames} with the old ones."
            )
        if notice := result.id_notice(option="--id-column"):
            self.stderr.write(self.style.WARNING(notice))
        if notice := waves.string_ids_notice(question=result.question, had_numeric=numeric):
            self.stderr.write(self.style.WARNING(notice))
        if (wave := waves.coded_wave(question=result.question)) is not None:
            self.stderr.write(self.style.WARNING(f"{wave.heading} {wave.advice}"))
