"""A TEXT_SOURCE callable for tests, standing in for the product's database selector."""

from collections.abc import Iterator

RESPONSES = {1: ["q1 first", "q1 second", None], 2: ["q2 only"]}


def texts(*, question_ids: list[int] | None = None) -> Iterator[str | None]:
    for question_id, answers in RESPONSES.items():
        if question_ids is None or question_id in question_ids:
            yield from answers
