"""What the management commands share: importing a file with command-line errors, running a
generation job in the foreground with a progress bar, and the lines they print."""

from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import CommandError
from django.http import Http404
from tqdm import tqdm

from codeframe import jobs, selectors, services
from codeframe.conf import get_config
from codeframe.exceptions import CodeframeError
from codeframe.importers import read_upload
from codeframe.models import Codeframe, GenerationJob, Question
from codeframe.scoping import OPERATOR
from codeframe.uploads import human_bytes


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
    existing = find_question(question)
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


def find_question(question: int | None) -> Question | None:
    """The question of id `question` (None: none). Raises CommandError when there is none."""
    if question is None:
        return None
    try:
        return selectors.get_question(user=OPERATOR, question_id=question)
    except Http404 as exc:
        raise CommandError(f"There is no question {question}.") from exc


def run_generation(*, question: Question, stream: TextIO, **params: Any) -> Codeframe:
    """Run a generation job for `question` in this process (no worker needed), the same
    function a worker's task runs, with a progress bar on `stream`; the stored codeframe.
    Raises CommandError when the job does not end done."""
    try:
        job = jobs.create_job(question=question, **params)
    except CodeframeError as exc:
        raise CommandError(str(exc)) from exc
    on_terminal = getattr(stream, "isatty", lambda: False)()
    bar = tqdm(total=job.total, unit="answers", file=stream, disable=not on_terminal, leave=False)
    stage = None

    def progress(step: jobs.Progress) -> None:
        nonlocal stage
        if step.stage != stage:
            stage = step.stage
            label = GenerationJob.Stage(step.stage).label
            bar.set_description(label.lower())
            if not on_terminal:  # a log, not a bar: one line per step
                stream.write(f"{label}: {step.done:,} of {step.total:,} answers\n")
        bar.update(step.done - bar.n)

    try:
        job = jobs.run_job(job_id=job.pk, on_progress=progress)
    finally:
        bar.close()
    if job is None:
        raise CommandError("The question was deleted while its codeframe was being generated.")
    if job.state != GenerationJob.State.DONE or job.codeframe is None:
        raise CommandError(job.error or f"The generation ended {job.state}.")
    return job.codeframe


def timing_line(codeframe: Codeframe) -> str:
    timings = codeframe.timings
    return (
        f"{codeframe.response_count:,} answers in {timings.get('total_seconds', 0):.2f} s: "
        f"embedding {timings.get('embedding_seconds', 0):.2f} s ({codeframe.cache_hits:,} cache "
        f"hits, {codeframe.cache_misses:,} misses), clustering "
        f"{timings.get('clustering_seconds', 0):.2f} s"
    )
