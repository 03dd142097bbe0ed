"""Reads: questions, answers and codeframes as the pages, API, exports and commands show them.

One module a subject, each importable on its own; their public names are gathered here, so
callers write `selectors.codeframe_overview(...)`:

- `questions`: the question lists (with their counts and waves), one question, its answers' texts;
- `codeframes`: a codeframe, the frame a wave's was coded with, codes, nets and answers by id
  or number, merges;
- `overview`: a codeframe's nets and codes with their sizes and shares;
- `answers`: the answers with their codes (streamed, by code, uncoded, late) and the review queue;
- `jobs`: generation jobs and the queue's figures;
- `trackers`: a tracker's waves and a wave's new-code suggestions;
- `projects`: projects and their members.
"""

from codeframe.selectors.answers import (
    REVIEW_PAGE,
    CodedResponse,
    ReviewQueue,
    answer_coding,
    checked_count,
    code_responses,
    code_second_responses,
    coded_answers,
    iter_coded_responses,
    late_responses,
    least_sure_answers,
    uncoded_responses,
)
from codeframe.selectors.codeframes import (
    answer_of,
    code_numbered,
    coded_with,
    frame_in_project,
    get_code,
    get_codeframe,
    get_net,
    get_numbered,
    get_response,
    merge_holder,
    merges_of,
    net_numbered,
)
from codeframe.selectors.jobs import (
    QueueStats,
    get_job,
    job_queue_stats,
    question_jobs,
)
from codeframe.selectors.overview import (
    CodeframeOverview,
    CodeRow,
    NetRow,
    answers_in_codes,
    approved_code_examples,
    asked_among,
    asked_codes,
    codeframe_overview,
)
from codeframe.selectors.projects import (
    get_membership,
    get_project,
    project_members,
    user_projects,
)
from codeframe.selectors.questions import (
    get_listed_question,
    get_question,
    iter_response_texts,
    listed_questions,
    question_codeframes,
    question_list,
    question_texts,
    sample_responses,
    subquery_count,
    with_waves,
)
from codeframe.selectors.trackers import (
    get_suggestion,
    is_tracker,
    pending_suggestions,
    waves_coded_with,
)

__all__ = [
    "REVIEW_PAGE",
    "CodeRow",
    "CodedResponse",
    "CodeframeOverview",
    "NetRow",
    "QueueStats",
    "ReviewQueue",
    "answer_coding",
    "answer_of",
    "answers_in_codes",
    "approved_code_examples",
    "asked_among",
    "asked_codes",
    "checked_count",
    "code_numbered",
    "code_responses",
    "code_second_responses",
    "coded_answers",
    "coded_with",
    "codeframe_overview",
    "frame_in_project",
    "get_code",
    "get_codeframe",
    "get_job",
    "get_listed_question",
    "get_membership",
    "get_net",
    "get_numbered",
    "get_project",
    "get_question",
    "get_response",
    "get_suggestion",
    "is_tracker",
    "iter_coded_responses",
    "iter_response_texts",
    "job_queue_stats",
    "late_responses",
    "least_sure_answers",
    "listed_questions",
    "merge_holder",
    "merges_of",
    "net_numbered",
    "pending_suggestions",
    "project_members",
    "question_codeframes",
    "question_jobs",
    "question_list",
    "question_texts",
    "sample_responses",
    "subquery_count",
    "uncoded_responses",
    "user_projects",
    "waves_coded_with",
    "with_waves",
]
