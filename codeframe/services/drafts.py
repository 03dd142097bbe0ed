"""Generating a codeframe and storing it: the steps a generation job runs
(`codeframe.jobs`), and `create_codeframe`, which runs them all in this process."""

import logging
import time
from collections.abc import Callable

import numpy as np
from django.db import IntegrityError, transaction

from codeframe.conf import get_config
from codeframe.exceptions import AnswersChanged, GenerationFailed, NoResponses, TooManyResponses
from codeframe.generation import CodeframeDraft, generate_codeframe
from codeframe.models import Assignment, Code, Codeframe, Net, Question, Response
from codeframe.selectors import question_texts
from codeframe.services.edits import refresh_sizes
from codeframe.services.imports import lock_question
from embeddings.services import embed_texts, embed_texts_with_report

logger = logging.getLogger(__name__)


def prepare_generation(*, question: Question) -> tuple[list[int], list[str]]:
    """The first step of a generation: (response ids, texts) of the question's answers, in
    import order. Raises NoResponses or TooManyResponses."""
    responses = question_texts(question=question)
    if not responses:
        raise NoResponses(f"“{question}” has no answers yet; import some first.")
    limit = get_config()["MAX_RESPONSES"]
    if len(responses) > limit:
        raise TooManyResponses(f"{len(responses):,} answers is more than the limit of {limit:,}.")
    return [pk for pk, _ in responses], [text for _, text in responses]


class PhraseEmbedder:
    """`embed_texts` for the generator's candidate label phrases (cached like the answers),
    counting them: they add to the cache's counters beside the answers, and the codeframe's
    timings say how many (`label_phrase_lookups`)."""

    def __init__(self) -> None:
        self.lookups = 0

    def __call__(self, phrases: list[str]) -> np.ndarray:
        self.lookups += len(phrases)
        return embed_texts(phrases)


def embed_answers(
    texts: list[str],
    *,
    batch: int | None = None,
    on_batch: Callable[[int, int, int], None] | None = None,
) -> tuple[np.ndarray, dict]:
    """Embed `texts` through the cache: the vectors, and the timings a codeframe keeps
    (embedding_seconds, cache_hits, cache_misses). With `batch`, in batches of that many,
    calling `on_batch(done, hits, misses)` after each (a job's progress report)."""
    size = batch or max(len(texts), 1)
    parts: list[np.ndarray] = []
    hits = misses = 0
    seconds = 0.0
    for start in range(0, len(texts), size):
        result = embed_texts_with_report(texts[start : start + size])
        parts.append(result.vectors)
        hits, misses, seconds = hits + result.hits, misses + result.misses, seconds + result.seconds
        if on_batch is not None:
            on_batch(min(start + size, len(texts)), hits, misses)
    vectors = np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)
    return vectors, {"embedding_seconds": seconds, "cache_hits": hits, "cache_misses": misses}


def create_codeframe(
    *,
    question: Question,
    n_codes: int | None = None,
    max_codes: int | None = None,
    random_state: int = 0,
) -> Codeframe:
    """Generate a codeframe for the question's answers in this process and store it; returns it.

    The same steps a background job runs (`codeframe.jobs`), without a job row or progress.
    Raises NoResponses, TooManyResponses, or GenerationFailed when the draft does not fit the
    answers (then nothing is stored).
    """
    started = time.perf_counter()
    ids, texts = prepare_generation(question=question)
    vectors, embedding = embed_answers(texts)
    phrases = PhraseEmbedder()
    draft = generate_codeframe(
        texts,
        vectors=vectors,
        embed=phrases,
        n_codes=n_codes,
        max_codes=max_codes,
        random_state=random_state,
    )
    return store_codeframe(
        question=question,
        response_ids=ids,
        draft=draft,
        embedding={**embedding, "label_phrase_lookups": phrases.lookups},
        started=started,
    )


def store_codeframe(
    *,
    question: Question,
    response_ids: list[int],
    draft: CodeframeDraft,
    embedding: dict[str, float],
    started: float,
    before_commit: Callable[[Codeframe], None] | None = None,
) -> Codeframe:
    """The last step of a generation: store `draft` for the answers `response_ids` in one
    transaction. `embedding` carries embedding_seconds, cache_hits and cache_misses;
    `started` is the `time.perf_counter()` the generation began at. `before_commit(codeframe)`
    runs inside the transaction (a job marks itself done there, so both land or neither).

    Raises GenerationFailed when the draft does not fit the answers (nothing is stored).
    """
    timings = {**draft.timings, **embedding}
    codeframe = store_draft(
        question=question,
        response_ids=response_ids,
        draft=draft,
        timings=timings,
        started=started,
        before_commit=before_commit,
    )
    logger.info(
        "codeframe %s for question %s: %d answers, %d codes, %.2f s",
        codeframe.pk,
        question.pk,
        len(response_ids),
        len(draft.codes),
        codeframe.timings["total_seconds"],
    )
    return codeframe


def store_draft(
    *,
    question: Question,
    response_ids: list[int],
    draft: CodeframeDraft,
    timings: dict[str, float],
    started: float,
    before_commit: Callable[[Codeframe], None] | None,
) -> Codeframe:
    """Store `draft` (codes, nets and the coding of the answers `response_ids`) as a new
    codeframe of `question` with `timings`, in one transaction; `store_codeframe` for a
    generation, `waves.code_wave` for a wave (which holds its tracker's lock around it).
    Raises GenerationFailed when the draft does not fit the answers and AnswersChanged when
    they were deleted meanwhile (nothing is stored)."""
    if len(draft.assignments) != len(response_ids) or len(draft.confidences) != len(response_ids):
        raise GenerationFailed(
            f"the draft codes {len(draft.assignments)} answers, the question has "
            f"{len(response_ids)}"
        )
    try:
        return _write_draft(
            question=question,
            response_ids=response_ids,
            draft=draft,
            timings=timings,
            started=started,
            before_commit=before_commit,
        )
    except IntegrityError as exc:
        # A delete that slipped past `_write_draft`'s check (a database without row locks).
        raise _answers_changed(question) from exc


def _answers_changed(question: Question) -> AnswersChanged:
    return AnswersChanged(
        f"The answers of “{question}” changed while the codeframe was being generated; "
        "nothing was stored. Generate it again."
    )


def _write_draft(
    *,
    question: Question,
    response_ids: list[int],
    draft: CodeframeDraft,
    timings: dict[str, float],
    started: float,
    before_commit: Callable[[Codeframe], None] | None,
) -> Codeframe:
    batch_size = get_config()["BATCH_SIZE"]
    with transaction.atomic():
        # A write first: SQLite then takes its write lock (waiting its turn) instead of failing
        # a later read-to-write upgrade with "database is locked".
        codeframe = Codeframe.objects.create(
            question=question,
            params=_jsonable(draft.params),
            timings={k: float(v) for k, v in timings.items()},
            cache_hits=int(timings.get("cache_hits", 0)),
            cache_misses=int(timings.get("cache_misses", 0)),
            response_count=len(response_ids),
            coded_through=max(response_ids, default=None),
        )
        # The answers were read outside this transaction (generation takes seconds): an import
        # with `replace` may have deleted them since. Imports lock the same row.
        if not lock_question(question):
            raise _answers_changed(question)
        current = set(Response.objects.filter(question_id=question.pk).values_list("pk", flat=True))
        if not current.issuperset(response_ids):
            raise _answers_changed(question)
        nets = {
            net.id: Net(codeframe=codeframe, number=net.id, label=net.label[:200])
            for net in draft.nets
        }
        Net.objects.bulk_create(nets.values())
        codes = {}
        for draft_code in draft.codes:
            net = nets.get(draft_code.net_id)
            if net is None:
                net = nets[draft_code.net_id] = Net(
                    codeframe=codeframe, number=draft_code.net_id, label=draft_code.net[:200]
                )
                net.save()
            codes[draft_code.id] = Code(
                codeframe=codeframe,
                net=net,
                number=draft_code.id,
                label=draft_code.label[:200],
                keywords=list(draft_code.keywords),
                kind=draft_code.kind,
                examples=list(draft_code.examples),
            )
        Code.objects.bulk_create(codes.values())
        pending: list[Assignment] = []
        for response_id, code_ids, confidences in zip(
            response_ids, draft.assignments, draft.confidences, strict=True
        ):
            seen = set()
            for rank, (code_id, confidence) in enumerate(zip(code_ids, confidences, strict=True)):
                if code_id not in codes:
                    raise GenerationFailed(f"the draft assigns unknown code {code_id}")
                if code_id in seen:
                    continue
                seen.add(code_id)
                pending.append(
                    Assignment(
                        codeframe=codeframe,
                        response_id=response_id,
                        code=codes[code_id],
                        confidence=float(confidence),
                        is_primary=rank == 0,
                    )
                )
            if len(pending) >= batch_size:
                Assignment.objects.bulk_create(pending)
                pending = []
        Assignment.objects.bulk_create(pending)
        refresh_sizes(codeframe=codeframe)
        codeframe.timings["total_seconds"] = time.perf_counter() - started
        codeframe.save(update_fields=["timings"])
        if before_commit is not None:
            before_commit(codeframe)
    return codeframe


def _jsonable(value: object) -> object:
    """Params as JSON (numpy scalars and tuples included)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
