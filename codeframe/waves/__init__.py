"""Trackers: coding a new wave with an approved codeframe, suggested new codes, the tracker's
figures. Services (writes) and the selectors they need; the pure work is in `coding`,
`suggestions` and `tracker`.

A tracker is a chain of questions: the first wave, and later waves pointing at it
(`Question.tracker`), ordered by `wave_order`. A wave's codeframe keeps every code number,
label, keyword list and net of the approved frame it was coded with (`Codeframe.coded_with`),
so exports and the tracker table line up across waves.

One module a subject: `series` (the tracker's waves and frames, read), `coding` (approve, code
a wave, code it again), `decisions` (new codes: added by hand, suggestions decided), `ids` (the
type of `resp_id` in its SPSS files) and `tables` (the tracker's figures); their public names
are gathered here, so callers write `waves.code_wave(...)`.
"""

from codeframe.waves.coding import (
    CODING_ATTEMPTS,
    HAND_CODING,
    CodedWave,
    approve_codeframe,
    can_recode,
    code_wave,
    code_wave_question,
    coded_wave,
    keep_hand_coding,
    recode_with,
    rename_wave,
    start_wave,
    wave_refusal,
)
from codeframe.waves.decisions import (
    DECISIONS,
    accept_suggestion,
    add_code,
    assign_suggestion,
    decide_suggestion,
    dismiss_suggestion,
    mark_same_labels,
    same_label_code,
)
from codeframe.waves.ids import (
    WHOLE_NUMBER,
    had_numeric_ids,
    numeric_ids,
    string_id,
    string_ids_notice,
)
from codeframe.waves.series import (
    TrackerSeries,
    TrackerWave,
    classifier_examples,
    empty_codes,
    in_series,
    replaced_by,
    replaced_message,
    tracker_frames,
    tracker_numbering,
    tracker_questions,
    tracker_root,
    tracker_series,
    tracker_wave,
    tracker_waves,
    used_code_numbers,
    wave_places,
)
from codeframe.waves.tables import UNCODED, UNCODED_LABEL, TrackerTables, tracker_tables

__all__ = [
    "CODING_ATTEMPTS",
    "DECISIONS",
    "HAND_CODING",
    "UNCODED",
    "UNCODED_LABEL",
    "WHOLE_NUMBER",
    "CodedWave",
    "TrackerSeries",
    "TrackerTables",
    "TrackerWave",
    "accept_suggestion",
    "add_code",
    "approve_codeframe",
    "assign_suggestion",
    "can_recode",
    "classifier_examples",
    "code_wave",
    "code_wave_question",
    "coded_wave",
    "decide_suggestion",
    "dismiss_suggestion",
    "empty_codes",
    "had_numeric_ids",
    "in_series",
    "keep_hand_coding",
    "mark_same_labels",
    "numeric_ids",
    "recode_with",
    "rename_wave",
    "replaced_by",
    "replaced_message",
    "same_label_code",
    "start_wave",
    "string_id",
    "string_ids_notice",
    "tracker_frames",
    "tracker_numbering",
    "tracker_questions",
    "tracker_root",
    "tracker_series",
    "tracker_tables",
    "tracker_wave",
    "tracker_waves",
    "used_code_numbers",
    "wave_places",
    "wave_refusal",
]
