"""Exporting a large codeframe: reading every answer with its codes (`selectors.
iter_coded_responses`, which every export and the API's codeframe payload stream from), and
each export format, on synthetic data in a throw-away SQLite database (no model: answers,
codes and assignments are written directly). The baseline is the reading the exports used
before November 2026 (a prefetch of Assignment and Code instances), timed in the same run.

    .venv/bin/python bench/exports.py [--answers 50000] [--codes 87] [--repeats 3]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import tracemalloc
from pathlib import Path

from _common import machine, median_seconds, setup_django, table


def build(answers: int, codes: int):
    """A question of `answers` answers and its codeframe of `codes` codes in nets of 5: each
    answer coded with one code, every tenth with a second, every fiftieth left uncoded."""
    from codeframe import services
    from codeframe.models import Assignment, Code, Codeframe, Net, Response

    rng = random.Random(0)
    question = services.import_texts(
        texts=[f"Answer {i} about fees, the app and the branch staff" for i in range(answers)],
        respondent_ids=[f"R{i:06d}" for i in range(answers)],
        survey="Bench",
    )
    frame = Codeframe.objects.create(question=question, response_count=answers)
    nets = Net.objects.bulk_create(
        [Net(codeframe=frame, number=n + 1, label=f"Net {n + 1}") for n in range(codes // 5 + 1)]
    )
    made = Code.objects.bulk_create(
        [
            Code(codeframe=frame, net=nets[c // 5], number=c + 1, label=f"Code {c + 1}: a theme")
            for c in range(codes)
        ]
    )
    rows = []
    for i, pk in enumerate(question.responses.order_by("position").values_list("pk", flat=True)):
        if i % 50 == 49:
            continue
        first, second = rng.sample(made, 2)
        rows.append(Assignment(codeframe=frame, response_id=pk, code=first, confidence=0.9))
        if i % 10 == 9:
            rows.append(
                Assignment(
                    codeframe=frame, response_id=pk, code=second, confidence=0.6, is_primary=False
                )
            )
    Assignment.objects.bulk_create(rows, batch_size=5000)
    services.refresh_sizes(codeframe=frame)
    assert Response.objects.filter(question=question).count() == answers
    return frame


def prefetched(frame) -> list[tuple]:
    """The baseline: the reading before, Assignment and Code instances prefetched per chunk."""
    from django.db.models import Prefetch

    from codeframe.models import Assignment, Response

    responses = (
        Response.objects.filter(question_id=frame.question_id)
        .order_by("position")
        .prefetch_related(
            Prefetch(
                "assignments",
                queryset=Assignment.objects.filter(codeframe=frame)
                .select_related("code")
                .order_by("-is_primary", "-confidence", "code__number"),
                to_attr="coded",
            )
        )
    )
    return [
        (r.pk, r.respondent_id, [a.code.number for a in r.coded])
        for r in responses.iterator(chunk_size=2000)
    ]


def current(frame) -> list[tuple]:
    from codeframe.selectors import iter_coded_responses

    return [
        (r.response_id, r.respondent_id, r.codes) for r in iter_coded_responses(codeframe=frame)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=50_000)
    parser.add_argument("--codes", type=int, default=87)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    database = Path(tempfile.mkdtemp(prefix="bench-exports-")) / "db.sqlite3"
    setup_django(DATABASE_URL=f"sqlite:///{database}", EMBEDDINGS_LOG_LEVEL="WARNING")
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    frame = build(args.answers, args.codes)
    assert prefetched(frame) == current(frame)  # the same answers, codes and order

    from codeframe import exports

    print(machine())
    print(f"{args.answers:,} answers, {args.codes} codes; SQLite; median of {args.repeats}\n")
    base = median_seconds(lambda: prefetched(frame), repeats=args.repeats)
    now = median_seconds(lambda: current(frame), repeats=args.repeats)
    rows = [["read every answer with its codes", f"{base:.2f}", f"{now:.2f}", f"{base / now:.1f}x"]]
    rows[0] += ["", ""]
    for exporter in exports.EXPORTERS:

        def render(exporter=exporter) -> int:
            out = exporter.render(codeframe=frame)
            return sum(map(len, out)) if exporter.streaming else len(out)

        seconds = median_seconds(render, repeats=args.repeats)
        size, peak = traced(render)
        rows.append(
            [f"export {exporter.label}", "", f"{seconds:.2f}", "", f"{size / 2**20:.1f}", peak]
        )
    print(table(["step", "before (s)", "now (s)", "speed-up", "file (MB)", "peak (MB)"], rows))
    print("peak: Python's and numpy's allocations during one export (tracemalloc), not RSS")


def traced(render) -> tuple[int, str]:
    """The export's size in bytes and the peak of the memory it allocated, in MB."""
    tracemalloc.start()
    try:
        size = render()
        return size, f"{tracemalloc.get_traced_memory()[1] / 2**20:.0f}"
    finally:
        tracemalloc.stop()


if __name__ == "__main__":
    main()
