"""`manage.py import_responses FILE --question ID` (or `--survey NAME` for a new question)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.http import Http404

from codeframe import selectors, services
from codeframe.conf import get_config
from codeframe.exceptions import CodeframeError
from codeframe.importers import read_upload
from codeframe.scoping import OPERATOR
from codeframe.uploads import human_bytes


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
            help="Delete the question's answers and codeframes first",
        )

    def handle(self, *args, path: Path, **options) -> None:
        result = import_file(path, **options)
        skipped = f"; {result.skipped:,} blank skipped" if result.skipped else ""
        self.stdout.write(
            f"Imported {result.imported:,} answers into question {result.question.pk} "
            f"({result.question}){skipped}."
        )


def import_file(
    path: Path,
    *,
    question: int | None = None,
    survey: str | None = None,
    question_text: str = "",
    column: str | None = None,
    id_column: str | None = None,
    sheet: str | None = None,
    replace: bool = False,
    **_: object,
) -> services.ImportResult:
    """Shared by the commands: read `path` and import it, mapping errors to CommandError."""
    existing = None
    if question is not None:
        try:
            existing = selectors.get_question(user=OPERATOR, question_id=question)
        except Http404 as exc:
            raise CommandError(f"There is no question {question}.") from exc
    limit = get_config()["MAX_UPLOAD_BYTES"]
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    if size > limit:
        raise CommandError(f"{path} is {human_bytes(size)}; the limit is {human_bytes(limit)}.")
    try:
        with path.open("rb") as handle:
            rows = read_upload(
                handle, filename=path.name, column=column, id_column=id_column, sheet=sheet
            )
            return services.import_responses(
                rows=rows,
                question=existing,
                survey=survey or "",
                question_text=question_text,
                replace=replace,
            )
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    except CodeframeError as exc:
        raise CommandError(f"{path}: {exc} Nothing was imported.") from exc
