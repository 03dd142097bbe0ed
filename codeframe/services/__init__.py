"""Writes: importing answers, generating and storing codeframes, and the analysts' edits.

Every function here is atomic: on an error nothing it started is left in the database. One
module a subject, each importable on its own; their public names are gathered here, so callers
write `services.merge_codes(...)`:

- `imports`: answers into a question (a file's rows or a list), with respondent ids;
- `deletion`: deleting questions and codeframes without breaking a tracker;
- `projects`: projects and their members;
- `drafts`: generating a codeframe and storing it (the steps of a generation job);
- `edits`: the analysts' edits of codes, nets and their answers' codes.
"""

from codeframe.services.deletion import delete_codeframe, delete_question
from codeframe.services.drafts import (
    PhraseEmbedder,
    create_codeframe,
    embed_answers,
    prepare_generation,
    store_codeframe,
    store_draft,
)
from codeframe.services.edits import (
    CodesAdded,
    add_code_to_answers,
    confirm_coding,
    confirm_codings,
    delete_code,
    drop_from_suggestions,
    lock_codeframe,
    mark_hand_coded,
    merge_codes,
    move_code_to_net,
    move_response,
    refresh_sizes,
    refuse_taken_label,
    release_coding,
    remove_code_from_answers,
    remove_second_code,
    rename_code,
    rename_net,
    uncode_response,
)
from codeframe.services.imports import (
    ImportResult,
    id_notice,
    import_responses,
    import_texts,
    lock_question,
    pasted_notice,
    text_rows,
)
from codeframe.services.projects import (
    DEFAULT_PROJECT,
    create_project,
    default_project,
    personal_project,
    remove_member,
    set_member,
)

__all__ = [
    "DEFAULT_PROJECT",
    "CodesAdded",
    "ImportResult",
    "PhraseEmbedder",
    "add_code_to_answers",
    "confirm_coding",
    "confirm_codings",
    "create_codeframe",
    "create_project",
    "default_project",
    "delete_code",
    "delete_codeframe",
    "delete_question",
    "drop_from_suggestions",
    "embed_answers",
    "id_notice",
    "import_responses",
    "import_texts",
    "lock_codeframe",
    "lock_question",
    "mark_hand_coded",
    "merge_codes",
    "move_code_to_net",
    "move_response",
    "pasted_notice",
    "personal_project",
    "prepare_generation",
    "refresh_sizes",
    "refuse_taken_label",
    "release_coding",
    "remove_code_from_answers",
    "remove_member",
    "remove_second_code",
    "rename_code",
    "rename_net",
    "set_member",
    "store_codeframe",
    "store_draft",
    "text_rows",
    "uncode_response",
]
