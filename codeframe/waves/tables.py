"""The tracker's figures: each code's and net's share per wave, and the answers left uncoded,
with the change from the wave before (`codeframe.tracker` does the sums and the z-tests)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Container, Iterable
from functools import cached_property
from typing import NamedTuple

from django.db.models import Count

from codeframe import param_keys
from codeframe import tracker as tracker_stats
from codeframe.models import Assignment, Code, Codeframe, Net, Question, Response
from codeframe.selectors import asked_among, late_responses, merge_holder
from codeframe.waves.series import tracker_waves

# The one row of `TrackerTables.uncoded`: answers without a code (the codeframe page's
# "Uncoded": non-answers without a code, answers no code fits; blanks are not imported). Its
# share growing wave on wave says the approved frame is getting stale.
UNCODED = 0


UNCODED_LABEL = "Uncoded (no code)"


class TrackerTables(NamedTuple):
    codes: tracker_stats.Tracker  # per code number
    nets: tracker_stats.Tracker  # per net number
    uncoded: tracker_stats.Tracker  # one row, UNCODED


def tracker_tables(*, question: Question) -> TrackerTables:
    """(codes, nets, uncoded): each code's and each net's share per wave of the question's
    tracker (`codeframe.tracker`), and the share of answers without a code, from the codeframes
    of `tracker_waves`; a wave not coded yet has its base and no shares (and the next wave no
    change), rather than being skipped. A net counts an answer once however many of its codes
    it carries, with each wave's own grouping (a code regrouped in a later wave does not move
    earlier waves' answers, and the net has no change across the regrouping:
    `Cell.redefined`); nets without codes are left out. A code or net a wave's frame lacks has
    no share there (not asked about, as in the stacked SPSS file). Labels are the newest
    wave's that has the code or net. The uncoded share of a wave coded with a frame has no
    change from a generated wave's (the approved frame's own, where generation gave every theme
    answer a code): "fits no code" is only decided in coded waves, so the jump says nothing
    about the answers."""
    code_waves, net_waves, uncoded_waves, codes, nets = [], [], [], {}, {}
    generated_before = None
    found = tracker_waves(question=question)
    merges = _merges(w.codeframe for w in found if w.codeframe is not None)
    read = _Figures([w.codeframe for w in found if w.codeframe is not None], found)
    panel = None  # the previous wave's respondents, when it is coded
    for wave in found:
        label, frame = wave.label, wave.codeframe
        if frame is None:  # not coded yet: its base, no shares, no change into the next wave
            base = read.answers.get(wave.question.pk, 0)
            for kept in (code_waves, net_waves, uncoded_waves):
                kept.append(
                    tracker_stats.WaveCounts(label, base, {}, present=frozenset(), coded=False)
                )
            panel = None
            continue
        late = set(late_responses(codeframe=frame).values_list("pk", flat=True))
        panel, before = _Respondents(frame, late=late), panel
        overlaps = panel.overlaps(before) if before is not None else (None, None, None)
        # Answers imported since the wave was coded are nobody's coding yet: not in the base
        # (system-missing in the SPSS file), nor among the answers no code fits.
        base = read.answers.get(frame.question_id, 0) - len(late)
        frame_codes = read.codes.get(frame.pk, [])
        counts = {number: n for number, _, _, n in frame_codes}
        codes.update((number, code_label) for number, code_label, _, _ in frame_codes)
        generated = frame.coded_with_id is None
        uncoded_waves.append(
            tracker_stats.WaveCounts(
                label,
                base,
                {UNCODED: base - read.coded.get(frame.pk, 0)},
                follows=generated_before in (None, generated),
                overlap=overlaps[2],
                late=len(late),
            )
        )
        generated_before = generated
        asked = asked_among(codeframe=frame, mentions=counts)
        holds = _merged({**merges, **_own_merges(frame)}, counts)
        code_wave = tracker_stats.WaveCounts(
            label,
            base,
            counts,
            present=frozenset(asked),
            holds=holds,
            overlap=overlaps[0],
            late=len(late),
        )
        code_waves.append(code_wave)
        # A net stands for the codes it groups that the wave was coded with, and theirs: one
        # that gained or lost a code between two waves (regrouped, added, deleted, merged in
        # from another net) counts other answers, and is not compared across them.
        grouped: dict[int, set[int]] = {}
        for number, _, net, _ in frame_codes:
            if net is not None and number in asked:
                grouped.setdefault(net, set()).update(code_wave.stands_for(number))
        named = {n: net_label for n, net_label in read.nets.get(frame.pk, []) if n in grouped}
        nets.update(named)
        net_waves.append(
            tracker_stats.WaveCounts(
                label,
                base,
                read.net_mentions.get(frame.pk, {}),
                present=frozenset(named),
                holds={net: frozenset(numbers) for net, numbers in grouped.items()},
                overlap=overlaps[1],
                late=len(late),
            )
        )
    # A code no coded wave was asked about has no figure anywhere: one carried back from a wave
    # since deleted, whose approved frame was not coded with it. Its row would be dashes only
    # (and say the deleted wave's theme); it comes back with the first wave coded with it.
    asked_somewhere = set().union(*(wave.present for wave in code_waves if wave.coded))
    codes = {number: label for number, label in codes.items() if number in asked_somewhere}
    return TrackerTables(
        codes=tracker_stats.tracker(code_waves, codes=codes),
        nets=tracker_stats.tracker(net_waves, codes=nets),
        uncoded=tracker_stats.tracker(uncoded_waves, codes={UNCODED: UNCODED_LABEL}),
    )


class _Figures:
    """What the tables count, read for every wave's codeframe at once (a query per kind of
    figure, not per wave: a monthly tracker's page read 10 more queries a wave): answers per
    question; per codeframe its codes (number, label, net number, answers carrying it) in
    number order, its nets (number, label) in number order, the answers with a primary code,
    and per net the answers carrying any of its codes (once each)."""

    def __init__(self, frames: list[Codeframe], found: Iterable) -> None:
        questions = [wave.question.pk for wave in found]
        self.answers = dict(
            Response.objects.filter(question_id__in=questions)
            .values("question_id")
            .annotate(n=Count("pk"))
            .values_list("question_id", "n")
        )
        self.codes: dict[int, list[tuple[int, str, int | None, int]]] = {}
        rows = (
            Code.objects.filter(codeframe__in=frames)
            .annotate(n=Count("assignments"))
            .order_by("codeframe_id", "number")
            .values_list("codeframe_id", "number", "label", "net__number", "n")
        )
        for frame_id, *row in rows:
            self.codes.setdefault(frame_id, []).append(tuple(row))
        self.nets: dict[int, list[tuple[int, str]]] = {}
        net_rows = Net.objects.filter(codeframe__in=frames).order_by("codeframe_id", "number")
        for frame_id, number, label in net_rows.values_list("codeframe_id", "number", "label"):
            self.nets.setdefault(frame_id, []).append((number, label))
        self.coded = dict(
            Assignment.objects.filter(codeframe__in=frames, is_primary=True)
            .values("codeframe_id")
            .annotate(n=Count("response", distinct=True))
            .values_list("codeframe_id", "n")
        )
        self.net_mentions: dict[int, dict[int, int]] = {}
        mentions = (
            Assignment.objects.filter(codeframe__in=frames, code__net__isnull=False)
            .values("codeframe_id", "code__net__number")
            .annotate(n=Count("response", distinct=True))
            .values_list("codeframe_id", "code__net__number", "n")
        )
        for frame_id, net, n in mentions:
            self.net_mentions.setdefault(frame_id, {})[net] = n


class _Answer(NamedTuple):
    codes: set[int]  # code numbers
    nets: set[int]  # net numbers
    coded: bool  # it has a primary code

    def rows(self) -> tuple[set[int], set[int], set[int]]:
        """The rows it counts in, per table: codes, nets, and the uncoded row's."""
        return self.codes, self.nets, set() if self.coded else {UNCODED}


class _Respondents:
    """A coded wave's respondents by the ids their upload gave (`Response.id_given`; ids
    numbered by line are every wave's and nobody's), for pairing them with the previous
    wave's: a panel's respondents answer again, and their two answers are not independent."""

    def __init__(self, frame: Codeframe, *, late: Container[int] = ()) -> None:
        self.frame, self.late = frame, late
        self._answers: dict[str, _Answer] | None = None

    @cached_property
    def ids(self) -> dict[int, str]:
        """Answer id -> respondent id, for the answers whose upload gave it and that are in the
        wave's base (not `late`), read when a wave is paired: a tracker of one coded wave reads
        none."""
        given = self.frame.question.responses.filter(id_given=True)
        rows = given.values_list("pk", "respondent_id")
        return {pk: respondent for pk, respondent in rows if pk not in self.late}

    def answers(self) -> dict[str, _Answer]:
        """Respondent id -> the codes, nets and primary code of their answer (read once)."""
        if self._answers is None:
            self._answers = {r: _Answer(set(), set(), False) for r in self.ids.values()}
            rows = Assignment.objects.filter(codeframe=self.frame).values_list(
                "response_id", "code__number", "code__net__number", "is_primary"
            )
            for response, number, net, primary in rows.iterator(chunk_size=5000):
                if (respondent := self.ids.get(response)) is not None:
                    answer = self._answers[respondent]
                    answer.codes.add(number)
                    if net is not None:
                        answer.nets.add(net)
                    if primary:
                        self._answers[respondent] = answer._replace(coded=True)
        return self._answers

    def overlaps(self, before: _Respondents) -> tuple[tracker_stats.Overlap | None, ...]:
        """(codes, nets, uncoded): the respondents this wave shares with `before`, and per row
        how many of them are counted in it in `before`, in this wave and in both
        (`tracker.Overlap`); (None, None, None) when none."""
        shared = set(self.ids.values()) & set(before.ids.values())
        if not shared:
            return None, None, None
        now, then = self.answers(), before.answers()
        tables = [(Counter(), Counter(), Counter()) for _ in range(3)]  # codes, nets, uncoded
        for respondent in shared:
            rows = zip(then[respondent].rows(), now[respondent].rows(), strict=True)
            for (first, second, both), (held_then, held_now) in zip(tables, rows, strict=True):
                first.update(held_then)
                second.update(held_now)
                both.update(held_then & held_now)
        return tuple(
            tracker_stats.Overlap(
                len(shared),
                {n: (first[n], second[n], both[n]) for n in first.keys() | second.keys()},
            )
            for first, second, both in tables
        )


def _merges(frames: Iterable[Codeframe]) -> dict[int, int]:
    """Every merge the tracker's frames record (`params["merged_into"]`, number -> number; a
    merge carried back is recorded in the approved frame too)."""
    into: dict[int, int] = {}
    for frame in frames:
        into.update(_own_merges(frame))
    return into


def _own_merges(frame: Codeframe) -> dict[int, int]:
    """The merges the frame records: its own, and (an approved frame's) those carried back. A
    number merged into one code in this wave and into another in a later one follows this
    wave's own merge here (`tracker_tables` lays them over every frame's)."""
    return param_keys.merges(frame.params)


def _merged(merges: dict[int, int], codes: dict[int, int]) -> dict[int, frozenset[int]]:
    """Per code of a wave's frame (`codes`), the numbers it stands for when it has others merged
    into it that the frame does not keep apart (a wave coded before the merge still has them).
    A merged number's answers are in the first code along its chain of merges that the frame
    has (12 into 7 in this wave, 7 into 3 only in a later one: 7 holds 12 here)."""
    absorbed: dict[int, set[int]] = {}
    for number in merges:
        if number not in codes and (holder := merge_holder(number, merges, codes)) is not None:
            absorbed.setdefault(holder, {holder}).add(number)
    return {code: frozenset(numbers) for code, numbers in absorbed.items()}
