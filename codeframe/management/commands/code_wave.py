"""`manage.py code_wave --codeframe ID answers.csv --wave "2027-01"`."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from codeframe import waves
from codeframe.conf import get_config
from codeframe.exceptions import CodeframeError
from codeframe.importers import read_upload
from codeframe.models import Codeframe
from codeframe.services import ImportResult
from codeframe.uploads import human_bytes


class Command(BaseCommand):
    help = (
        "Import a new wave of a tracker from a CSV or XLSX file and code it with an approved "
        "codeframe: same code numbers, labels and nets; suggested new codes for the answers "
        "that fit none. All or nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path, help="CSV (UTF-8) or XLSX file; row 1 = header")
        parser.add_argument("--codeframe", type=int, required=True, help="Approved codeframe id")
        parser.add_argument("--wave", required=True, help='Wave label, e.g. "2027-01"')
        parser.add_argument("--column", help="Answer column (name or 1-based number)")
        parser.add_argument("--id-column", help="Respondent id column (name or number)")
        parser.add_argument("--sheet", help="XLSX sheet (default: the first)")
        parser.add_argument(
            "--wave-order",
            type=int,
            help="Its number in the tracker: default the next; or one a deleted wave left free",
        )

    def handle(self, *args, path: Path, codeframe: int, wave: str, **options) -> None:
        approved = Codeframe.objects.select_related("question").filter(pk=codeframe).first()
        if approved is None:
            raise CommandError(f"There is no codeframe {codeframe}.")
        limit = get_config()["MAX_UPLOAD_BYTES"]
        try:
            size = path.stat().st_size
            if size > limit:
                raise CommandError(
                    f"{path} is {human_bytes(size)}; the limit is {human_bytes(limit)}."
                )
            with path.open("rb") as handle:
                rows = list(  # the file is under MAX_UPLOAD_BYTES; counted below
                    read_upload(
                        handle,
                        filename=path.name,
                        column=options.get("column"),
                        id_column=options.get("id_column"),
                        sheet=options.get("sheet"),
                    )
                )
            numeric = waves.had_numeric_ids(question=approved.question)
            stored = waves.code_wave(
                codeframe=approved, rows=rows, wave=wave, order=options.get("wave_order")
            )
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from exc
        except CodeframeError as exc:
            raise CommandError(f"{exc} Nothing was imported.") from exc
        answered = [row for row in rows if row.text.strip()]
        result = ImportResult(
            question=stored.question,
            imported=len(answered),
            skipped=len(rows) - len(answered),
            numbered=sum(1 for row in answered if not row.respondent_id),
        )
        if result.skipped:
            self.stdout.write(f"{result.skipped:,} blank answers skipped.")
        if notice := result.id_notice(option="--id-column"):
            self.stderr.write(self.style.WARNING(notice))
        if notice := waves.string_ids_notice(question=stored.question, had_numeric=numeric):
            self.stderr.write(self.style.WARNING(notice))
        uncoded = stored.params.get("uncoded", {})
        suggestions = list(stored.suggestions.all())
        self.stdout.write(
            f"Wave {wave}: {stored.response_count:,} answers coded with codeframe "
            f"{approved.pk} into codeframe {stored.pk} (question {stored.question_id})."
        )
        self.stdout.write(
            "Uncoded: "
            + (", ".join(f"{n:,} {reason}" for reason, n in uncoded.items()) or "none")
            + "."
        )
        for suggestion in suggestions:
            self.stdout.write(f"Suggested new code: {suggestion.label} ({suggestion.size})")
        if not suggestions:
            self.stdout.write("No new codes suggested.")
