"""The analysts' pages: plain HTML forms, usable without JavaScript, for any logged-in user
within their projects. Every object is fetched through a scoped selector: one outside the
user's projects is a 404, a visible one the user's role may not change a 403.

One module per subject: `questions` (importing answers, starting generation), `jobs` (a
background job's progress), `codeframes` (reviewing and editing a codeframe, exports),
`trackers` (approving, coding new waves, suggestions, carrying edits back, the tracker chart)
and `projects` (clients and their members); `shared` holds what several of them use."""

from codeframe.views.codeframes import (
    answers_add_code,
    code_add,
    code_delete,
    code_detail,
    code_merge,
    code_rename,
    code_set_net,
    codeframe_delete,
    codeframe_detail,
    codeframe_export,
    codeframe_find,
    codeframe_review,
    codeframe_uncoded,
    net_rename,
    response_confirm,
    response_move,
    response_release,
    response_remove_second_code,
    response_uncode,
    review_confirm_all,
)
from codeframe.views.jobs import (
    job_cancel,
    job_detail,
    job_retry,
)
from codeframe.views.projects import (
    project_detail,
    project_list,
    project_member_remove,
    project_member_set,
)
from codeframe.views.questions import (
    question_delete,
    question_detail,
    question_generate,
    question_import,
    question_list,
    question_wave_name,
)
from codeframe.views.trackers import (
    codeframe_approve,
    codeframe_carry_back,
    codeframe_recode,
    question_tracker,
    suggestion_decide,
    wave_new,
)

__all__ = [
    "answers_add_code",
    "code_add",
    "code_delete",
    "code_detail",
    "code_merge",
    "code_rename",
    "code_set_net",
    "codeframe_approve",
    "codeframe_carry_back",
    "codeframe_delete",
    "codeframe_detail",
    "codeframe_export",
    "codeframe_find",
    "codeframe_recode",
    "codeframe_review",
    "codeframe_uncoded",
    "job_cancel",
    "job_detail",
    "job_retry",
    "net_rename",
    "project_detail",
    "project_list",
    "project_member_remove",
    "project_member_set",
    "question_delete",
    "question_detail",
    "question_generate",
    "question_import",
    "question_list",
    "question_tracker",
    "question_wave_name",
    "response_confirm",
    "response_move",
    "response_release",
    "response_remove_second_code",
    "response_uncode",
    "review_confirm_all",
    "suggestion_decide",
    "wave_new",
]
