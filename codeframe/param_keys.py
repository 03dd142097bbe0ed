"""What a codeframe keeps in `Codeframe.params` beside its generation's options, by key.

The generation stores its options and figures there as `generate_codeframe` reports them
(`n_codes`, `random_state`, `uncoded`...; a wave's frame `coded_with` and the classifier's). The
keys below are the codeframe's history, which the edits, the waves and carry-back write and
read; each is named once, here, with its readers. Pure: a `params` dict in, plain values out.
"""

from collections.abc import Mapping
from typing import Any

# Code numbers the frame no longer has (merged or deleted): never given to a new code of its
# tracker (`waves.used_code_numbers`), and named as such when asked for (`api_edits`).
RETIRED = "retired"
# str(code id) -> number, of the codes retired since this key was written: a page of a code by
# its id (an open tab, a bookmark) that is gone says which code it was, and whether it was
# merged or deleted (`views.codeframes.code_detail`).
RETIRED_IDS = "retired_ids"
# str(code number) -> the number it was merged into: carry-back repeats the merge in the
# approved frame, the tracker counts the merged code's answers in its holder.
MERGED_INTO = "merged_into"
# On an approved frame: the numbers of its deleted wave frames' codes, which exports may have
# published (`services.deletion.reserve_numbers`): never given out again.
RESERVED = "reserved"
# On an approved frame: the numbers of codes a carry-back added (`carryback.carry_back`): later
# waves' codes, which its own wave's answers were not coded with (`selectors.asked_codes`).
CARRIED_IN = "carried_in"
# On a wave's frame: the frame (`carryback.frame_shape`) its edits are measured from.
CARRY_BASE = "carry_base"


def merges(params: Mapping[str, Any] | None) -> dict[int, int]:
    """The merges `params` record: code number -> the number it was merged into."""
    return {int(n): int(into) for n, into in (params or {}).get(MERGED_INTO, {}).items()}


def retired_number(params: Mapping[str, Any] | None, code_id: int) -> int | None:
    """The number of the retired code whose id was `code_id`, or None when `params` do not
    record it (not a code of this frame, or retired before its id was recorded)."""
    number = (params or {}).get(RETIRED_IDS, {}).get(str(code_id))
    return None if number is None else int(number)


def retired(params: Mapping[str, Any] | None) -> set[int]:
    """The code numbers `params` record as merged or deleted."""
    return {int(n) for n in (params or {}).get(RETIRED, [])}
