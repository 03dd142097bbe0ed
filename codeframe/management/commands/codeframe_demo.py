"""`make demo`: the main job end to end on a sample survey, with no server needed."""

from pathlib import Path

from django.core.management.base import BaseCommand

from codeframe import demo, services
from codeframe.conf import get_config
from codeframe.console import import_file, run_generation, timing_line
from codeframe.exceptions import CodeframeError
from codeframe.models import Question
from codeframe.tables import codeframe_table


class Command(BaseCommand):
    help = (
        "Import a sample survey into a demo question (a new one when an earlier run's has "
        "codeframes), generate a codeframe, print it, then generate again to show what the "
        "embedding cache saves."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path, help="CSV file with an answer column")
        parser.add_argument("--column", default="answer")
        parser.add_argument(
            "--address",
            default="http://127.0.0.1:8000",
            help="Where `make serve` answers, for the printed links",
        )

    def handle(self, *args, path: Path, column: str, **options) -> None:
        survey = get_config()["DEMO_SURVEY"]
        question, kept = self._demo_question(survey)
        result = import_file(path, question=question.pk, column=column, replace=True)
        self.stdout.write(
            f"Imported {result.imported:,} answers from {path} into question {question.pk} "
            f"(“{survey}”)."
        )
        if kept:
            self.stdout.write(
                f"Earlier runs' questions and their codeframes are kept ({kept}): delete them "
                "from their pages when done with them."
            )
        runs = []
        for attempt in ("first", "second"):
            codeframe = run_generation(
                question=question, stream=getattr(self.stderr, "_out", self.stderr)
            )
            runs.append(codeframe)
            if attempt == "first":
                self.stdout.write("")
                self.stdout.write(codeframe_table(codeframe=codeframe))
                self.stdout.write("")
                self.stdout.write(f"first generation: {timing_line(codeframe)}")
                if codeframe.cache_hits and not codeframe.cache_misses:
                    self.stdout.write(
                        "  (every answer's vector was cached by an earlier run: `make clean` "
                        "starts cold)"
                    )
        first, second = (run.timings for run in runs)
        self.stdout.write(
            f"second generation: {second['total_seconds']:.2f} s (embedding "
            f"{second.get('embedding_seconds', 0):.2f} s, {runs[1].cache_hits:,} cache hits) "
            f"vs first {first['total_seconds']:.2f} s"
        )
        self.stdout.write("")
        self.stdout.write(self._how_to_look(runs[1], options["address"]))

    def _demo_question(self, survey: str) -> tuple[Question, str]:
        """The demo question to import into, replacing its answers: one of an earlier run
        only while it has no codeframe (an analyst may have reviewed, edited or approved one:
        replacing the answers would delete it without a word), else a new one. Also the
        earlier runs' questions kept, as "question 1, 4"."""
        project = services.default_project()
        earlier = project.questions.filter(survey=survey).order_by("id")
        free = earlier.filter(codeframes__isnull=True, later_waves__isnull=True, tracker=None)
        question = free.first() or Question.objects.create(
            project=project,
            survey=survey,
            text="What is the main reason for the score you gave us?",
        )
        kept = [pk for pk in earlier.values_list("pk", flat=True) if pk != question.pk]
        return question, ", ".join(f"question {pk}" for pk in kept)

    def _how_to_look(self, codeframe, address: str) -> str:
        url = f"{address.rstrip('/')}{codeframe.get_absolute_url()}"
        try:
            account = demo.reset_demo_account()
        except CodeframeError as exc:
            return f"Review it at {url} ({exc})"
        return "\n".join(
            [
                "Look at it in a browser:",
                "  1. make serve      (the web app and a task worker; Ctrl-C stops them)",
                f"  2. open {url}",
                f"  3. log in as: {account.username}   password: {account.password}",
                "     (a local demo account; a new password is printed on every `make demo`)",
                f"The cache's admin page: {address.rstrip('/')}/admin/embeddings/cachestatistics/",
            ]
        )
