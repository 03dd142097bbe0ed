"""A codeframe the user may see, the approved frame a wave's was coded with, and its codes,
nets and answers looked up by id or number (with where merged-away numbers went)."""

from collections.abc import Container, Mapping

from django.shortcuts import get_object_or_404

from codeframe import param_keys
from codeframe.models import Code, Codeframe, Net, Response, Role
from codeframe.scoping import User, codeframes_for, require_role


def get_codeframe(*, user: User, codeframe_id: int, role: Role | str = Role.VIEWER) -> Codeframe:
    """The codeframe with its question if the user can see it (else Http404); raises
    PermissionDenied if the user's role there is below `role`."""
    codeframe = get_object_or_404(
        codeframes_for(user).select_related("question__project"), pk=codeframe_id
    )
    require_role(user, codeframe.question.project_id, role)
    return codeframe


def coded_with(*, codeframe: Codeframe, lock: bool = False) -> Codeframe | None:
    """The approved frame a wave's codeframe was coded with, when it is in the wave's project;
    None otherwise. A wave moved to another project (in the admin) must not reach its old
    client's frame: carrying back would write into it, coding again would copy it."""
    if codeframe.coded_with_id is None:
        return None
    return frame_in_project(
        codeframe_id=codeframe.coded_with_id, project_id=codeframe.question.project_id, lock=lock
    )


def frame_in_project(*, codeframe_id: int, project_id: int, lock: bool = False) -> Codeframe | None:
    """The codeframe, if it is in the project (None otherwise): what a wave's codeframe or job
    may code with, or carry back into."""
    # The codeframe's row only: a bare FOR UPDATE also locked the joined question, the
    # tracker's first, which add_code, accepting a suggestion and a wave's store lock before
    # the frame; a carry-back took them the other way round, and PostgreSQL broke the deadlock
    # with a 500.
    frames = Codeframe.objects.select_for_update(of=("self",)) if lock else Codeframe.objects
    return frames.filter(pk=codeframe_id, question__project_id=project_id).first()


def get_code(*, codeframe: Codeframe, code_id: int) -> Code:
    return get_object_or_404(
        Code.objects.select_related("codeframe"), codeframe=codeframe, pk=code_id
    )


def get_net(*, codeframe: Codeframe, net_id: int) -> Net:
    return get_object_or_404(Net, codeframe=codeframe, pk=net_id)


def code_numbered(*, codeframe: Codeframe, number: int) -> Code | None:
    """The codeframe's code `number` (the API names codes by number), or None."""
    return codeframe.codes.filter(number=number).select_related("codeframe").first()


def net_numbered(*, codeframe: Codeframe, number: int) -> Net | None:
    """The codeframe's net `number`, or None."""
    return codeframe.nets.filter(number=number).first()


def answer_of(*, codeframe: Codeframe, response_id: int) -> Response | None:
    """The answer `response_id` of the codeframe's question, or None (another question's)."""
    return codeframe.question.responses.filter(pk=response_id).first()


def merge_holder(number: int, merged_into: Mapping[int, int], codes: Container[int]) -> int | None:
    """The code of `codes` that `number`'s answers ended up in through its merges (number ->
    number; followed until a code `codes` has), or None (deleted, or merged into a code that was
    deleted later). Carrying back (which code a merge goes into), the tracker
    (`waves.tracker_tables`: which codes a wave's code holds) and `merges_of` follow merges
    with it."""
    seen = set()
    while number in merged_into and number not in seen:
        seen.add(number)
        number = merged_into[number]
        if number in codes:
            return number
    return None


def merges_of(*, codeframe: Codeframe) -> list[tuple[int, Code]]:
    """The codeframe's merged-away code numbers, each with the code its answers are in now
    (followed through later merges), by number; deleted codes are not listed."""
    merged = param_keys.merges(codeframe.params)
    codes = {code.number: code for code in codeframe.codes.all()}
    found = ((n, merge_holder(n, merged, codes)) for n in sorted(merged))
    return [(number, codes[into]) for number, into in found if into is not None]


def get_numbered(model: type[Code] | type[Net], *, codeframe: Codeframe, number: int):
    """The codeframe's code (net) with that number, as the API and the exports name them; 404
    if it has none (a code merged away or deleted: its number is never used again)."""
    return get_object_or_404(model.objects.filter(codeframe=codeframe), number=number)


def get_response(*, codeframe: Codeframe, response_id: int) -> Response:
    return get_object_or_404(Response, question_id=codeframe.question_id, pk=response_id)
