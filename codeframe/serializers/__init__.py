"""API payloads: what the endpoints accept and what they answer, one module a subject.

Each module is importable on its own; their public names are gathered here, so callers write
`from codeframe.serializers import JobSerializer`:

- `base`: what every request body shares (unknown keys refused, fields strict about types);
- `codeframes`: the request that drafts a codeframe, and a codeframe as JSON;
- `edits`: the analysts' edits of codes, nets and answers' codes;
- `answers`: finding a codeframe's answers, and the review queue;
- `waves`: a tracker's next wave, coding a wave again, the new-code suggestions;
- `trackers`: a tracker's tables (shares per wave, changes, tests);
- `jobs`: a generation job;
- `carryback`: carrying a wave frame's edits back into its approved frame;
- `projects`: projects and their questions;
- `times`: times to the second, but for operators (every time a payload gives).
"""

from codeframe.serializers.answers import (
    REVIEW_LIMIT,
    AnswerCodingSerializer,
    FindQuerySerializer,
    FoundAnswersSerializer,
    ReviewAnswerSerializer,
    ReviewQuerySerializer,
    ReviewSerializer,
)
from codeframe.serializers.base import (
    Flag,
    RequestSerializer,
    RespondentId,
    Text,
    WholeNumber,
    ids_match,
)
from codeframe.serializers.carryback import (
    CarryBackChangeSerializer,
    CarryBackSerializer,
)
from codeframe.serializers.codeframes import (
    CACHE_HELP,
    CODE_KINDS,
    CodedResponseSerializer,
    CodeframeRequestSerializer,
    CodeframeSerializer,
    CodeSerializer,
    NetSerializer,
)
from codeframe.serializers.edits import (
    AnswerEditSerializer,
    CodeAddSerializer,
    CodeAnswersSerializer,
    CodeEditSerializer,
    CodeMergeSerializer,
    CodesAddedSerializer,
    CodesRemovedSerializer,
    EditedCodeSerializer,
    NetEditSerializer,
)
from codeframe.serializers.jobs import (
    JobSerializer,
)
from codeframe.serializers.projects import (
    ProjectSerializer,
    QuestionCodeframeSerializer,
    QuestionDetailSerializer,
    QuestionJobSerializer,
    QuestionSerializer,
    WaveNameSerializer,
)
from codeframe.serializers.times import SecondsDateTimeField
from codeframe.serializers.trackers import (
    TrackerCellSerializer,
    TrackerCodeSerializer,
    TrackerNetCellSerializer,
    TrackerSerializer,
    TrackerUncodedCellSerializer,
)
from codeframe.serializers.waves import (
    RecodeRequestSerializer,
    SuggestionDecisionSerializer,
    SuggestionSerializer,
    WaveRequestSerializer,
)

__all__ = [
    "CACHE_HELP",
    "CODE_KINDS",
    "REVIEW_LIMIT",
    "AnswerCodingSerializer",
    "AnswerEditSerializer",
    "CarryBackChangeSerializer",
    "CarryBackSerializer",
    "CodeAddSerializer",
    "CodeAnswersSerializer",
    "CodeEditSerializer",
    "CodeMergeSerializer",
    "CodeSerializer",
    "CodedResponseSerializer",
    "CodeframeRequestSerializer",
    "CodeframeSerializer",
    "CodesAddedSerializer",
    "CodesRemovedSerializer",
    "EditedCodeSerializer",
    "FindQuerySerializer",
    "Flag",
    "FoundAnswersSerializer",
    "JobSerializer",
    "NetEditSerializer",
    "NetSerializer",
    "ProjectSerializer",
    "QuestionCodeframeSerializer",
    "QuestionDetailSerializer",
    "QuestionJobSerializer",
    "QuestionSerializer",
    "RecodeRequestSerializer",
    "RequestSerializer",
    "RespondentId",
    "ReviewAnswerSerializer",
    "ReviewQuerySerializer",
    "ReviewSerializer",
    "SecondsDateTimeField",
    "SuggestionDecisionSerializer",
    "SuggestionSerializer",
    "Text",
    "TrackerCellSerializer",
    "TrackerCodeSerializer",
    "TrackerNetCellSerializer",
    "TrackerSerializer",
    "TrackerUncodedCellSerializer",
    "WaveNameSerializer",
    "WaveRequestSerializer",
    "WholeNumber",
    "ids_match",
]
