"""The analysts' edits of a codeframe: its codes and nets (rename, move, merge, delete) and
its answers' codes (move, add to several, take off, leave uncoded, confirm). Each takes the
codeframe's lock first (`lock_codeframe`), so two analysts' edits run one after the other."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet

from codeframe.exceptions import InvalidEdit
from codeframe.models import Assignment, Code, Codeframe, HandCoded, Net, Response, SuggestedCode
from codeframe.param_keys import MERGED_INTO, RETIRED, RETIRED_IDS
from codeframe.suggestions import MIN_SUGGESTION_SIZE
from codeframe.validators import has_visible, label_key, one_line


def refresh_sizes(*, codeframe: Codeframe) -> None:
    """Recount every code's size (answers with it as primary code)."""
    counts = dict(
        Code.objects.filter(codeframe=codeframe)
        .annotate(n=Count("assignments", filter=Q(assignments__is_primary=True)))
        .values_list("pk", "n")
    )
    codes = list(Code.objects.filter(codeframe=codeframe))
    for code in codes:
        code.size = counts.get(code.pk, 0)
    Code.objects.bulk_update(codes, ["size"])


def rename_code(*, code: Code, label: str) -> Code:
    """Give the code a new label (stripped, at most 200 characters)."""
    return _relabel(code, label, "A code needs a label.")


def rename_net(*, net: Net, label: str) -> Net:
    """Give the net a new label (stripped, at most 200 characters); its number stays, so a
    tracker's net rows still line up."""
    return _relabel(net, label, "A net needs a label.")


def _relabel(thing: Code | Net, label: str, blank: str) -> Code | Net:
    label = label.strip()
    if not label:
        raise InvalidEdit(blank)
    with transaction.atomic():  # as add_code: two renames at once cannot both take a label
        lock_codeframe(thing.codeframe_id)
        refuse_taken_label(
            type(thing).objects.filter(codeframe_id=thing.codeframe_id).exclude(pk=thing.pk),
            label,
        )
        thing.label = label[:200]
        thing.save(update_fields=["label"])
    return thing


def refuse_taken_label(others: QuerySet, label: str) -> None:
    """Raise InvalidEdit when one of `others` (the codeframe's other codes, or nets) has the
    label (ignoring case and look-alikes, `validators.label_key`): two codes labelled alike
    cannot be told apart in the exports (SPSS value labels, the CSV's headers) or the
    tracker."""
    try:  # every path that sets a label comes here: the pages, the API, the admin
        one_line(label)
    except ValidationError as exc:
        raise InvalidEdit(exc.messages[0]) from exc
    wanted = label_key(label[:200])  # in Python: SQLite's iexact folds ASCII letters only
    if not has_visible(label):  # zero-width spaces: a blank column heading in every export
        raise InvalidEdit("A label needs a visible character.")
    for number, other in others.order_by("number").values_list("number", "label"):
        if label_key(other) == wanted:
            kind = "Net" if others.model is Net else "Code"
            raise InvalidEdit(
                f"{kind} {number} is already labelled “{other}”: give this one a label of its "
                "own (two alike cannot be told apart in the exports)."
            )


def move_code_to_net(*, code: Code, net: Net | None) -> Code:
    """Put the code in `net` (None: in no net). Net and code numbers stay as they are."""
    if net is not None and net.codeframe_id != code.codeframe_id:
        raise InvalidEdit("That net belongs to another codeframe.")
    code.net = net
    code.save(update_fields=["net"])
    return code


def merge_codes(*, target: Code, sources: Iterable[Code]) -> Code:
    """Fold `sources` into `target`: their answers, keywords and examples move over and the
    sources are deleted. An answer keeps its primary code if that was one of them."""
    sources = [s for s in sources if s.pk != target.pk]
    if any(s.codeframe_id != target.codeframe_id for s in sources):
        raise InvalidEdit("Only codes of the same codeframe can be merged.")
    if not sources:
        return target
    with transaction.atomic():
        lock_codeframe(target.codeframe_id)
        target = _current(target)
        sources = list(Code.objects.filter(pk__in=[s.pk for s in sources]))
        if not sources:  # merged or deleted meanwhile
            return target
        source_ids = [s.pk for s in sources]
        held = {
            a.response_id: a for a in Assignment.objects.filter(code=target).select_for_update()
        }
        moving = list(
            Assignment.objects.filter(code_id__in=source_ids)
            .select_for_update()
            .order_by("response_id", "-is_primary", "-confidence")
        )
        before = {a.pk: (a.confidence, a.is_primary) for a in [*held.values(), *moving]}
        promote: set[int] = set()
        for assignment in moving:
            kept = held.get(assignment.response_id)
            if kept is None:
                held[assignment.response_id] = assignment
                assignment.code = target
                continue
            if assignment.is_primary:
                promote.add(assignment.response_id)
            kept.confidence = max(kept.confidence, assignment.confidence)
        # Delete the duplicates first so the one-primary constraint holds at every step.
        duplicates = [a.pk for a in moving if a.code_id != target.pk]
        Assignment.objects.filter(pk__in=duplicates).delete()
        # The sources' rows left are the moved ones: one UPDATE (bulk_update's CASE over the
        # 1,740 answers of a big code took most of a 3 s merge at 50,000 answers).
        Assignment.objects.filter(code_id__in=source_ids).update(code=target)
        changed = []  # of the rows kept: only those whose confidence or primary flag changed
        for assignment in held.values():
            assignment.is_primary = assignment.is_primary or assignment.response_id in promote
            if (assignment.confidence, assignment.is_primary) != before[assignment.pk]:
                changed.append(assignment)
        Assignment.objects.bulk_update(changed, ["confidence", "is_primary"])
        for source in sorted(sources, key=lambda s: -s.size):
            target.keywords = _unique([*target.keywords, *source.keywords])
            target.examples = _unique([*target.examples, *source.examples])
        target.save(update_fields=["keywords", "examples"])
        Code.objects.filter(pk__in=source_ids).delete()
        _retire(target.codeframe_id, sources, merged_into=target.number)
        refresh_sizes(codeframe=target.codeframe)
        target.refresh_from_db()
    return target


def delete_code(*, code: Code) -> None:
    """Delete the code; its answers fall back to their next most confident code, or uncoded."""
    with transaction.atomic():
        lock_codeframe(code.codeframe_id)
        code = _current(code)
        orphans = list(
            Assignment.objects.filter(code=code, is_primary=True).values_list(
                "response_id", flat=True
            )
        )
        codeframe = code.codeframe
        _retire(codeframe.pk, [code])  # while the code has its id
        code.delete()
        if orphans:
            fallback = _promote_next(codeframe, orphans)
            # Left uncoded by the delete, not by hand: coding the wave again codes them.
            HandCoded.objects.filter(codeframe=codeframe, response_id__in=orphans).exclude(
                response_id__in=fallback
            ).delete()
        refresh_sizes(codeframe=codeframe)


def move_response(*, response: Response, to_code: Code) -> Assignment:
    """Make `to_code` the answer's primary code in its codeframe, replacing the old primary."""
    if response.question_id != to_code.codeframe.question_id:
        raise InvalidEdit("The answer and the code belong to different questions.")
    with transaction.atomic():
        codeframe = lock_codeframe(to_code.codeframe_id)
        to_code = _current(to_code)
        left = Assignment.objects.filter(
            codeframe=codeframe, response=response, is_primary=True
        ).exclude(code=to_code)
        left_codes = list(Code.objects.filter(pk__in=left.values("code_id")))
        left.delete()
        assignment, _ = Assignment.objects.update_or_create(
            response=response,
            code=to_code,
            defaults={"codeframe": codeframe, "is_primary": True, "confidence": 1.0},
        )
        mark_hand_coded(codeframe_id=codeframe.pk, response_ids=[response.pk])
        refresh_sizes(codeframe=codeframe)
        for code in left_codes:
            _refresh_description(code)
    return assignment


@dataclass(frozen=True)
class CodesAdded:
    primary: int  # answers that had no code (or a non-answer's): `code` is their primary now
    further: int  # answers that had one: `code` is a further code beside their primary
    had_it: int  # answers that carried it already (unchanged, now counted as by hand)


def add_code_to_answers(*, code: Code, response_ids: Iterable[int]) -> CodesAdded:
    """Code those answers of the code's question with `code` as well (an analyst's "these all
    mention it"): the primary code of an answer that had none, or only a non-answer code
    ("Don't know": it mentions a theme after all, so that code goes), else a further code
    beside its primary (multi-coding; its primary stays). Every one of them counts as coded by
    hand (`mark_hand_coded`). Raises InvalidEdit, nothing changed, for ids of other questions'
    answers (a client's id typo must not quietly code less than was asked) and for a
    non-answer code on answers that have codes: it is an answer's only code."""
    wanted = _unique(list(response_ids))
    with transaction.atomic():
        codeframe = lock_codeframe(code.codeframe_id)
        code = _current(code)
        _refuse_strangers(codeframe, wanted)
        carried = Assignment.objects.filter(codeframe=codeframe, response_id__in=wanted)
        had_it = set(carried.filter(code=code).values_list("response_id", flat=True))
        if code.kind == Code.Kind.NON_ANSWER:
            if other := set(carried.values_list("response_id", flat=True)) - had_it:
                raise InvalidEdit(
                    f"“{code.label}” is a non-answer code, an answer's only code, and "
                    f"{len(other)} of these answers {'has' if len(other) == 1 else 'have'} "
                    f"codes (answer {min(other)}, say): nothing was coded. Leave those out, "
                    "or leave them uncoded first."
                )
        else:  # a theme for an answer taken for a non-answer: that code goes
            carried.filter(code__kind=Code.Kind.NON_ANSWER).delete()
        coded = set(carried.values_list("response_id", flat=True))
        Assignment.objects.bulk_create(
            [
                Assignment(
                    codeframe=codeframe,
                    response_id=pk,
                    code=code,
                    confidence=1.0,
                    is_primary=pk not in coded,
                )
                for pk in wanted
                if pk not in had_it
            ]
        )
        mark_hand_coded(codeframe_id=codeframe.pk, response_ids=wanted)
        primary = len([pk for pk in wanted if pk not in coded])
        refresh_sizes(codeframe=codeframe)
    return CodesAdded(primary=primary, further=len(coded - had_it), had_it=len(had_it))


def remove_code_from_answers(*, code: Code, response_ids: Iterable[int]) -> int:
    """Take `code` off those answers of the code's question (a wrong "Add code" undone at
    once): where it was the primary code, the answer's next most confident code takes its
    place, or it is left uncoded. The answers that carried it count as coded by hand. Returns
    how many carried it. Raises InvalidEdit, nothing changed, for ids of other questions'
    answers."""
    wanted = _unique(list(response_ids))
    with transaction.atomic():
        codeframe = lock_codeframe(code.codeframe_id)
        code = _current(code)
        _refuse_strangers(codeframe, wanted)
        held = Assignment.objects.filter(codeframe=codeframe, code=code, response_id__in=wanted)
        carried = set(held.values_list("response_id", flat=True))
        orphans = list(held.filter(is_primary=True).values_list("response_id", flat=True))
        held.delete()
        _promote_next(codeframe, orphans)
        mark_hand_coded(codeframe_id=codeframe.pk, response_ids=sorted(carried))
        refresh_sizes(codeframe=codeframe)
        _refresh_description(code)
    return len(carried)


def _refuse_strangers(codeframe: Codeframe, wanted: list[int]) -> None:
    """Raise InvalidEdit when an id of `wanted` is no answer of the codeframe's question."""
    found = set(
        Response.objects.filter(question_id=codeframe.question_id, pk__in=wanted).values_list(
            "pk", flat=True
        )
    )
    if strangers := [pk for pk in wanted if pk not in found]:
        raise InvalidEdit(
            f"This codeframe's question has no answer {strangers[0]}"
            + (f" (nor {len(strangers) - 1} more)" if len(strangers) > 1 else "")
            + ": nothing was changed."
        )


def _promote_next(codeframe: Codeframe, response_ids: list[int]) -> set[int]:
    """The answers that lost their primary code get their next most confident code as primary
    (ties: the lower number); returns those that had one (the others are left uncoded)."""
    fallback = {}
    for assignment in Assignment.objects.filter(
        codeframe=codeframe, response_id__in=response_ids
    ).order_by("response_id", "-confidence", "code__number"):
        fallback.setdefault(assignment.response_id, assignment)
    for assignment in fallback.values():
        assignment.is_primary = True
    Assignment.objects.bulk_update(fallback.values(), ["is_primary"])
    return set(fallback)


def _refresh_description(code: Code) -> None:
    """After an answer left `code`: its examples show what its answers are, so the examples no
    longer among its (primary) answers go, topped up with its most confident answers (a moved
    Spanish answer stayed an example of the code it left, in the exports too). Keywords stay:
    they describe the theme (typed by an analyst, or from a sample; a wave's come from its
    approved frame, and carry-back would take any change here back to it)."""
    texts = list(
        Response.objects.filter(assignments__code=code, assignments__is_primary=True)
        .order_by("-assignments__confidence", "position")
        .values_list("text", flat=True)
    )
    present = set(texts)
    examples = [e for e in code.examples if e in present]
    wanted = max(len(code.examples), 1)
    for text in texts:
        if len(examples) >= wanted:
            break
        if text not in examples:
            examples.append(text)
    if examples != code.examples:
        code.examples = examples
        code.save(update_fields=["examples"])


def uncode_response(*, response: Response, codeframe: Codeframe) -> None:
    """Leave the answer without any code of `codeframe` ("Other"): it fits none of them."""
    with transaction.atomic():
        lock_codeframe(codeframe.pk)
        assignments = Assignment.objects.filter(codeframe=codeframe, response=response)
        left = list(Code.objects.filter(pk__in=assignments.values("code_id")))
        assignments.delete()
        mark_hand_coded(codeframe_id=codeframe.pk, response_ids=[response.pk])
        refresh_sizes(codeframe=codeframe)
        for code in left:
            _refresh_description(code)


def confirm_coding(*, response: Response, codeframe: Codeframe) -> None:
    """An analyst checked the answer's codes in `codeframe` and they are right: they count as
    set by hand from now on (`HandCoded`: coding the wave again keeps them, and the review
    queue no longer lists the answer). Raises InvalidEdit when the answer has no code there
    (an uncoded answer is coded from the uncoded answers' page)."""
    with transaction.atomic():
        lock_codeframe(codeframe.pk)
        if not Assignment.objects.filter(codeframe=codeframe, response=response).exists():
            raise InvalidEdit(
                f"Answer {response.respondent_id} has no code in this codeframe to confirm."
            )
        mark_hand_coded(codeframe_id=codeframe.pk, response_ids=[response.pk])


def confirm_codings(*, codeframe: Codeframe, response_ids: Iterable[int]) -> int:
    """`confirm_coding` for several answers at once (the review page's "All of these are
    right"): those of `response_ids` that have a code in `codeframe` (others, uncoded since or
    of another question, are skipped). Returns how many were not confirmed before."""
    with transaction.atomic():
        lock_codeframe(codeframe.pk)
        coded = set(
            Assignment.objects.filter(codeframe=codeframe, response_id__in=list(response_ids))
            .values_list("response_id", flat=True)
            .distinct()
        )
        before = set(
            HandCoded.objects.filter(codeframe=codeframe, response_id__in=coded).values_list(
                "response_id", flat=True
            )
        )
        mark_hand_coded(codeframe_id=codeframe.pk, response_ids=sorted(coded - before))
    return len(coded - before)


def release_coding(*, response: Response, codeframe: Codeframe) -> bool:
    """Undo "by hand" for the answer in `codeframe`: its codes stay as they are, but coding
    the wave again decides them afresh (`waves.keep_hand_coding` no longer keeps them) and the
    review queue lists it again. An answer confirmed, moved or left uncoded by mistake had no
    way back to the classifier. Returns whether it was coded by hand."""
    with transaction.atomic():
        lock_codeframe(codeframe.pk)
        released, _ = HandCoded.objects.filter(codeframe=codeframe, response=response).delete()
    return bool(released)


def remove_second_code(*, response: Response, code: Code) -> None:
    """Take `code` off the answer where it is its second code (the primary stays). Raises
    InvalidEdit when the answer does not carry it as a second code."""
    with transaction.atomic():
        lock_codeframe(code.codeframe_id)
        removed, _ = Assignment.objects.filter(
            codeframe_id=code.codeframe_id, response=response, code=code, is_primary=False
        ).delete()
        if not removed:
            raise InvalidEdit(f"That answer does not carry code {code.number} as a second code.")
        mark_hand_coded(codeframe_id=code.codeframe_id, response_ids=[response.pk])


def mark_hand_coded(*, codeframe_id: int, response_ids: Iterable[int]) -> None:
    """Record that the answers' codes in the codeframe were set by hand (`HandCoded`): coding
    the wave again keeps them (`waves.keep_hand_coding`). An answer the analyst has decided
    on leaves the codeframe's pending suggestions (`drop_from_suggestions`)."""
    response_ids = list(response_ids)
    HandCoded.objects.bulk_create(
        [HandCoded(codeframe_id=codeframe_id, response_id=pk) for pk in response_ids],
        ignore_conflicts=True,
    )
    drop_from_suggestions(codeframe_id=codeframe_id, response_ids=set(response_ids))


def drop_from_suggestions(*, codeframe_id: int, response_ids: set[int]) -> None:
    """Take answers coded or left uncoded by hand (or deleted) out of the codeframe's pending
    suggestions (a suggestion's size is what it would take, its examples are among them); one
    left with fewer answers than a suggestion needs goes (accepted, it would spend a tracker
    number on a code of one or two)."""
    pending = SuggestedCode.objects.filter(
        codeframe_id=codeframe_id, status=SuggestedCode.Status.PENDING
    )
    for suggestion in pending:
        left = [pk for pk in suggestion.response_ids if pk not in response_ids]
        if len(left) == len(suggestion.response_ids):
            continue
        if len(left) < MIN_SUGGESTION_SIZE:
            suggestion.delete()
            continue
        suggestion.size -= len(suggestion.response_ids) - len(left)
        suggestion.response_ids = left
        suggestion.examples = _examples_among(suggestion.examples, left)
        suggestion.save(update_fields=["size", "response_ids", "examples"])


def _examples_among(examples: list[str], response_ids: list[int]) -> list[str]:
    """`examples` that are still the text of one of the answers `response_ids`, in their order,
    then those answers' own texts until there are as many: an example of an answer coded by
    hand since would show the analyst what the suggestion no longer takes."""
    texts = dict(Response.objects.filter(pk__in=response_ids).values_list("pk", "text"))
    left = [texts[pk] for pk in response_ids if pk in texts]
    still = set(left)
    kept = [text for text in examples if text in still]
    for text in left:
        if len(kept) >= len(examples):
            break
        if text not in kept:
            kept.append(text)
    return kept


def lock_codeframe(codeframe_id: int) -> Codeframe:
    """The codeframe, locked until the transaction ends. Edits of its codes and answers take
    this lock first, so two analysts' edits at once run one after the other: two moves of one
    answer both inserted a primary code (the one-primary constraint refused the second, an
    error page), and opposite merges each locked their own target first (a deadlock)."""
    return Codeframe.objects.select_for_update().get(pk=codeframe_id)


def _current(code: Code) -> Code:
    """`code` read afresh (under the codeframe's lock). Raises InvalidEdit if it was merged
    away or deleted meanwhile."""
    try:
        return Code.objects.get(pk=code.pk)
    except Code.DoesNotExist:
        raise InvalidEdit(
            f"Code {code.number} was merged or deleted meanwhile; reload the page."
        ) from None


def _retire(codeframe_id: int, codes: list[Code], *, merged_into: int | None = None) -> None:
    """Note in the codeframe's params the code numbers it no longer has (`retired`, and by
    their ids `retired_ids`) and, for a merge, where their answers went (`merged_into`, number
    -> number): a retired number is never given to a new code of the tracker, and carrying a
    wave's edits back (`codeframe.carryback`) repeats the merge in the approved frame. Call
    inside a transaction."""
    numbers = [code.number for code in codes]
    codeframe = Codeframe.objects.select_for_update().get(pk=codeframe_id)
    params = dict(codeframe.params)
    params[RETIRED] = sorted({*params.get(RETIRED, []), *numbers})
    params[RETIRED_IDS] = {
        **params.get(RETIRED_IDS, {}),
        **{str(code.pk): code.number for code in codes},
    }
    if merged_into is not None:
        merges = dict(params.get(MERGED_INTO, {}))
        merges.update({str(number): merged_into for number in numbers})
        params[MERGED_INTO] = merges
    codeframe.params = params
    codeframe.save(update_fields=["params"])


def _unique(items: list) -> list:
    return list(dict.fromkeys(items))
