"""A tracker's statistics: each code's share per wave, the change from the previous wave and
whether it is significant, with a note where a figure is missing or weak.

Shares are of the wave's base (every respondent who answered, coded or not), and count an
answer once per code it carries, so a multi-coded answer counts for both codes and the shares
of a wave may add up to more than 100%, as coders' tables do. A net's table is the same kind of
table, with "codes" the nets and an answer counted once per net it has any code of. The
change is tested with the two-proportion z-test (pooled standard error, two-sided) at 95%,
unless a wave's base is low (under LOW_BASE answers). When the two waves share respondents (a
panel, asked again: `Overlap`), their two answers are not independent samples: the pairs'
change is tested as McNemar's test does, the others' as the two-sample test does
(`two_proportion_z_test`'s `pairs`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import NamedTuple

CONFIDENCE = 0.95


# A wave's base under this many answers is marked "low base" (shares that move a lot by chance),
# and a change from or to it is not tested: the z-test's normal approximation does not hold
# there (a code on 1 of 2 answers after 28 of 338 read as significant), and survey tables do not
# mark significance on such bases.
LOW_BASE = 30


@dataclass(frozen=True)
class Overlap:
    """The respondents a wave shares with the previous wave (matched by respondent id): how
    many, and per code how many of them carry it in the previous wave, in this one, and in
    both (`Pairs`; a code missing from `codes` none of them carries)."""

    respondents: int
    codes: Mapping[int, tuple[int, int, int]]  # number -> (first, second, both)

    def pairs(self, code: int) -> Pairs:
        return Pairs(self.respondents, *self.codes.get(code, (0, 0, 0)))


class Pairs(NamedTuple):
    """The respondents in both of two samples, for one code: how many they are, and how many
    of them carry it in the first sample, in the second, and in both."""

    shared: int
    first: int
    second: int
    both: int


@dataclass(frozen=True)
class WaveCounts:
    label: str  # e.g. "2027-01"
    base: int  # answers in the wave
    counts: Mapping[int, int]  # code number -> answers carrying that code
    # The codes the wave's codeframe has (None: all of them). A code it lacks was not asked
    # about there: no share, not 0% (a code accepted later, a net regrouped away).
    present: frozenset[int] | None = None
    # False: counted unlike the previous wave (its share of uncoded answers from a coded wave
    # after a generated one, which codes every theme answer), so no change or test across them.
    follows: bool = True
    # Per code, the code numbers its answers stand for in this wave when that is more than its
    # own: the codes merged into it (a merge carried back) that this wave's frame no longer has
    # apart. Per net (a nets' table), the code numbers it groups, each with those it stands for.
    # A row whose numbers differ from the previous wave's was redefined between them: no change.
    holds: Mapping[int, frozenset[int]] | None = None
    # The respondents it shares with the previous wave (None: none, or not known).
    overlap: Overlap | None = None
    # False: a wave not coded yet (its job queued, running, failed): its base, no counts.
    coded: bool = True
    # Answers imported after the wave was coded and not coded since (late fieldwork): not in
    # `base`, as they are system-missing in the SPSS file, and not "fits no code".
    late: int = 0

    def has(self, code: int) -> bool:
        return self.present is None or code in self.present

    def stands_for(self, code: int) -> frozenset[int]:
        return (self.holds or {}).get(code, frozenset({code}))


@dataclass(frozen=True)
class Cell:
    wave: str
    code: int
    count: int | None  # None when the wave's frame lacks the code (not asked about)
    base: int
    share: float | None  # None when the wave has no answers or its frame lacks the code
    change: float | None  # share minus the previous wave's; None for the first wave
    previous_share: float | None  # the previous wave's share when there is a change
    z: float | None
    p: float | None
    significant: bool  # the change is significant at CONFIDENCE
    # No change from the previous wave: the row stands for other codes there (`WaveCounts.holds`).
    redefined: bool = False
    # Respondents of the wave also in the previous one, whose answers the test pairs (0: two
    # independent samples, or no test).
    paired: int = 0
    # Why a figure is missing or to be read with care, for the CSV and the API, where the
    # page's marks are not: one of NOTES, or "".
    note: str = ""
    # The wave's answers imported after it was coded and not coded since, not in `base`
    # (`WaveCounts.late`).
    late: int = 0


@dataclass(frozen=True)
class Tracker:
    waves: list[str]
    codes: dict[int, str]  # number -> label, in number order
    cells: dict[tuple[str, int], Cell]  # (wave, code)
    bases: dict[str, int]  # wave -> answers in it
    # wave -> its respondents also in the previous wave (matched by respondent id), when any
    shared: dict[str, int] = field(default_factory=dict)
    # wave -> its answers imported after it was coded and not coded since (not in its base)
    late: dict[str, int] = field(default_factory=dict)

    def row(self, code: int) -> list[Cell]:
        return [self.cells[(wave, code)] for wave in self.waves]

    def low_bases(self) -> list[str]:
        """Waves with answers but fewer than LOW_BASE."""
        return [w for w in self.waves if 0 < self.bases[w] < LOW_BASE]


NOT_CODED = "not coded yet"


# As the codeframe page says it ("not asked in this wave") and the API (`asked: false`): the
# wave's frame lacks the code, carried in after the wave was coded or regrouped away.
NOT_ASKED = "not asked in this wave"


NOT_TESTED = f"change not tested: a base under {LOW_BASE}"


LOW = f"low base: under {LOW_BASE} answers"


# No change from the wave before, for a reason of that wave's (`redefined` has its column).
BEFORE_NOT_CODED = "no change: the wave before is not coded yet"


BEFORE_NOT_ASKED = "no change: not asked in the wave before"


BEFORE_DRAFTED = "no change: the wave before was drafted, not coded with the frame"


BEFORE_EMPTY = "no change: the wave before has no answers"


NOTES = (
    NOT_CODED, NOT_ASKED, NOT_TESTED, LOW,
    BEFORE_NOT_CODED, BEFORE_NOT_ASKED, BEFORE_DRAFTED, BEFORE_EMPTY,
)  # fmt: skip


def two_proportion_z_test(
    x1: int, n1: int, x2: int, n2: int, *, pairs: Pairs | None = None
) -> tuple[float, float]:
    """(z, two-sided p) for the change from x1/n1 to x2/n2, pooled standard error.

    `pairs`: respondents in both samples (a panel, asked again; `Pairs`). Their two answers are
    not independent, so the change is split into theirs and the others', and its variance is
    the sum of the two parts':
    - the pairs', as McNemar's test takes it under the null hypothesis (no change in the pair's
      mean): the sum over them of (y1/n1 - y2/n2)^2, y the 0/1 answers;
    - the others' (only in the first sample or only in the second), as the two-sample test
      takes it: one proportion pooled over them, p(1 - p)(a/n1^2 + b/n2^2) for the a and b
      respondents in one sample only.
    With no respondent shared this is the pooled two-proportion test; with every respondent in
    both, McNemar's, (c - b) / sqrt(b + c) for the b who lost the code and the c who gained it.
    Each part's variance is estimated from its own respondents, so panel members who differ
    from the new ones (panel attrition) do not make the change look surer than it is.

    Raises ValueError for an empty sample, counts outside 0..n, or pairs that do not fit the
    samples. Without variation (everyone alike in both samples, or the pairs all unchanged and
    the others all alike) the test has nothing to go on: (0.0, 1.0).
    """
    if n1 <= 0 or n2 <= 0:
        raise ValueError("both samples need at least one answer")
    if not (0 <= x1 <= n1 and 0 <= x2 <= n2):
        raise ValueError("counts must be between 0 and the sample size")
    shared, first, second, both = pairs or Pairs(0, 0, 0, 0)
    if not (
        0 <= both <= min(first, second)
        and max(first, second) <= shared <= min(n1, n2)
        and first <= x1 <= n1 - shared + first
        and second <= x2 <= n2 - shared + second
    ):
        raise ValueError("the pairs do not fit the samples")
    lost, gained = first - both, second - both
    paired = both * (1 / n1 - 1 / n2) ** 2 + lost / n1**2 + gained / n2**2
    only1, only2 = n1 - shared, n2 - shared
    variance = paired
    if only1 + only2:
        pooled = (x1 - first + x2 - second) / (only1 + only2)
        variance += pooled * (1 - pooled) * (only1 / n1**2 + only2 / n2**2)
    if variance <= 0:
        return 0.0, 1.0
    z = (x2 / n2 - x1 / n1) / math.sqrt(variance)
    return z, math.erfc(abs(z) / math.sqrt(2))


def tracker(waves: Sequence[WaveCounts], *, codes: Mapping[int, str]) -> Tracker:
    """Each code's share per wave (waves in the order given: oldest first), the change from
    the previous wave, its z-test. Codes missing from a wave's counts count 0 there, unless the
    wave's frame lacks them (`WaveCounts.present`): then they have no share, and no change to
    or from that wave. A wave that does not follow the previous one (`WaveCounts.follows`) has
    its shares but no change from it; nor has a code that stands for other codes in one of the
    two waves than in the other (`WaveCounts.holds`; `Cell.redefined`). A change from or to a
    wave of fewer than LOW_BASE answers is shown but not tested (no z, p or significance).

    Raises ValueError for duplicate wave labels or a count above its wave's base.
    """
    labels = [w.label for w in waves]
    if len(set(labels)) != len(labels):
        raise ValueError("wave labels must be unique")
    ordered = dict(sorted(codes.items()))
    cells: dict[tuple[str, int], Cell] = {}
    alpha = 1 - CONFIDENCE
    for index, wave in enumerate(waves):
        for number, count in wave.counts.items():
            if count > wave.base or count < 0:
                raise ValueError(f"wave {wave.label}: code {number} counts {count} of {wave.base}")
        for number in ordered:
            # Not asked about (the wave's frame lacks the code, or is not there yet): no count.
            count = int(wave.counts.get(number, 0)) if wave.has(number) else None
            share = count / wave.base if wave.base and count is not None else None
            change = z = p = previous_share = None
            redefined = False
            paired = 0
            if index and share is not None and wave.follows:
                before = waves[index - 1]
                redefined = before.has(number) and (
                    before.stands_for(number) != wave.stands_for(number)
                )
                if before.base and before.has(number) and not redefined:
                    previous = int(before.counts.get(number, 0))
                    # Exactly, then to the nearest float: 29/200 - 24/200 is 0.025, not
                    # 0.024999..., which a page would round down.
                    change = float(Fraction(count, wave.base) - Fraction(previous, before.base))
                    if min(wave.base, before.base) >= LOW_BASE:
                        pairs = wave.overlap.pairs(number) if wave.overlap else None
                        paired = pairs.shared if pairs else 0
                        z, p = two_proportion_z_test(
                            previous, before.base, count, wave.base, pairs=pairs
                        )
                    previous_share = previous / before.base
            note = _note(
                wave, waves[index - 1] if index else None, number, count, change, p, redefined
            )
            cells[(wave.label, number)] = Cell(
                wave=wave.label,
                code=number,
                count=count,
                base=wave.base,
                share=share,
                change=change,
                previous_share=previous_share,
                z=z,
                p=p,
                significant=p is not None and p < alpha,
                redefined=redefined,
                paired=paired,
                note=note,
                late=wave.late,
            )
    bases = {w.label: w.base for w in waves}
    shared = {w.label: w.overlap.respondents for w in waves if w.overlap and w.overlap.respondents}
    late = {w.label: w.late for w in waves if w.late}
    return Tracker(waves=labels, codes=ordered, cells=cells, bases=bases, shared=shared, late=late)


def _note(
    wave: WaveCounts,
    before: WaveCounts | None,
    number: int,
    count: int | None,
    change: float | None,
    p: float | None,
    redefined: bool,
) -> str:
    """Why the cell's figures are missing or weak (`Cell.note`), or "": the wave's own reasons
    first, then, for a share without a change, the wave before's."""
    if not wave.coded:
        return NOT_CODED
    if count is None:
        return NOT_ASKED
    if change is not None and p is None:
        return NOT_TESTED
    if 0 < wave.base < LOW_BASE:
        return LOW
    if before is None or change is not None or redefined or not wave.base:
        return ""
    if not wave.follows:
        return BEFORE_DRAFTED
    if not before.coded:
        return BEFORE_NOT_CODED
    if not before.has(number):
        return BEFORE_NOT_ASKED
    if not before.base:
        return BEFORE_EMPTY
    return ""
