"""`manage.py carry_back --codeframe ID [--apply]`: a wave frame's edits into its approved frame."""

from django.core.management.base import BaseCommand, CommandError

from codeframe import carryback
from codeframe.exceptions import CarryBackConflict, CodeframeError
from codeframe.models import Codeframe


class Command(BaseCommand):
    help = (
        "Show the frame edits (renames, keywords, nets, added, merged and deleted codes) of a "
        "wave's codeframe that would be carried back into the approved frame it was coded "
        "with; --apply carries them, all or nothing. Code numbers never change."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--codeframe", type=int, required=True, help="The wave's codeframe id")
        parser.add_argument("--apply", action="store_true", help="Carry the edits back")

    def handle(self, *args, codeframe: int, apply: bool, **options) -> None:
        wave = Codeframe.objects.filter(pk=codeframe).first()
        if wave is None:
            raise CommandError(f"There is no codeframe {codeframe}.")
        try:
            if apply:
                summary = carryback.carry_back(codeframe=wave)
            else:
                summary = carryback.preview_carry_back(codeframe=wave)
        except CarryBackConflict as exc:
            self._write_changes(exc.summary)
            raise CommandError(f"{exc} Nothing was changed.") from exc
        except CodeframeError as exc:
            raise CommandError(str(exc)) from exc
        self._write_changes(summary)
        if not summary.changes:
            self.stdout.write("Nothing to carry back.")
        elif apply:
            self.stdout.write(
                f"Carried back into codeframe {summary.approved}: {summary.describe()}."
            )
        else:
            self.stdout.write("Preview only: run again with --apply to carry these back.")

    def _write_changes(self, summary: carryback.CarryBackSummary) -> None:
        for change in summary.changes:
            words = f" ({change.before} -> {change.after})" if change.before or change.after else ""
            into = f" into {change.into}" if change.into is not None else ""
            recodes = ""
            if change.answers is not None:
                left = f", {change.uncoded} left without a code" if change.uncoded else ""
                recodes = f" [{change.answers} answer(s) of the approved frame's wave{left}]"
            self.stdout.write(
                f"{change.kind}: {change.number} {change.label}{into}{words}{recodes}"
            )
        for conflict in summary.conflicts:
            self.stdout.write(f"conflict: {conflict}")
        if summary.recoded:
            self.stdout.write(
                f"{'Recoded' if summary.applied else 'This recodes'} {summary.recoded} "
                f"answer(s) of wave "
                f"{summary.approved_wave or '1'} (the approved frame's own): its tracker "
                "figures change."
            )
