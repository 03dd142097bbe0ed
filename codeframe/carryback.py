"""Carrying a wave's frame edits back into the approved frame it was coded with, so the next
wave is coded with the frame as the analysts left it and every code keeps its number.

A wave's codeframe starts as a copy of the approved frame (`codeframe.waves`); the analysts
then rename codes, change keywords, move codes between nets, rename nets, accept suggested new
codes, merge and delete codes. `carry_back` repeats those frame-level edits in the approved
frame (`Codeframe.coded_with`); answers moved between codes are the wave's own coding and are
not carried (the approved frame's answers are another wave's).

What counts as the wave's edit is decided three ways, field by field (label, keywords, net of
each code; label of each net): the wave frame now, the approved frame now, and the frame the
wave started from (`params[CARRY_BASE]`, stored when the wave was coded and moved forward by
every carry-back).

- Only the wave changed the field: the approved frame takes the wave's value.
- Only the approved frame changed it, or both made the same change: nothing to do.
- Both changed it differently: a conflict. Nothing is carried until the analyst makes the two
  frames agree on it (edit either one); the preview lists every conflict. We refuse rather than
  pick a winner because a silent overwrite of an approved frame is what a data processor can
  least afford to find out about later.
- A change that would leave two codes (or nets) of the approved frame labelled alike, ignoring
  case (two waves each added "Fees"), is a conflict too: one frame refuses that edit outright
  (`services.refuse_taken_label`), and the exports could not tell the two apart.

Codes accepted from suggestions (numbers the start frame did not have) are added with their
number, label, keywords, kind and net, and with the wave's answers coded with them as examples:
they have no answer in the approved frame's own question, so `waves.classifier_examples` falls
back to these when coding the next wave. A code the wave merged (`services.merge_codes` notes
`params["merged_into"]`) is merged the same way in the approved frame, which moves the approved
frame's answers over; a code the wave deleted is deleted there. Numbers never change.

Answers analysts coded into a code by hand in the wave (`HandCoded`: "Code as", moved, a
suggestion's answers coded with it) teach it to the approved frame when the approved frame has
fewer than `FEW_ANSWERS` answers in it (a code added by hand has none, so the classifier could
never code a wave's answer with it): they are added to its stored examples (up to
`MAX_CARRIED_EXAMPLES`), which `waves.classifier_examples` learns such a code from. Codes with
answers enough keep learning from those alone, so their coding does not move. Only the
analysts' coding teaches: the classifier's own would feed its mistakes back.

Carrying back is atomic and idempotent: a second carry-back of the same frame finds nothing to
do. A wave frame coded before `CARRY_BASE` existed uses the approved frame as it is now for its
start: every difference is then the wave's edit (no conflicts can be seen), and only codes the
wave frame notes as retired are merged or deleted.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace

from django.db import transaction
from django.db.models import Count

from codeframe import param_keys
from codeframe.exceptions import CarryBackConflict, NotAWaveFrame
from codeframe.models import Assignment, Code, Codeframe, HandCoded, Net
from codeframe.param_keys import CARRIED_IN, CARRY_BASE, MERGED_INTO
from codeframe.selectors import coded_with, merge_holder
from codeframe.services import delete_code, merge_codes, refresh_sizes
from codeframe.validators import label_key

logger = logging.getLogger(__name__)

# An added code takes at most this many of the wave's answers as its examples; a taught code
# keeps at most this many.
MAX_CARRIED_EXAMPLES = 200
# A code with fewer answers than this in a frame also learns from its stored examples
# (`waves.classifier_examples`), and a wave's answers coded into it by hand teach it there.
FEW_ANSWERS = 3
# The code fields carried back, with how a message names them.
CODE_FIELDS = {"label": "label", "keywords": "keywords", "net": "net"}


@dataclass(frozen=True)
class Change:
    """One edit carried back. `number` is a code's number (a net's for net_added and
    net_renamed); `before`/`after` are what the approved frame shows, in words."""

    # renamed, keywords, moved, added, merged, removed, net_added, net_renamed, taught
    kind: str
    number: int
    label: str
    before: str = ""
    after: str = ""
    into: int | None = None  # merged: the code number the answers go to
    # merged, removed: how many of the approved frame's own answers (its wave's) carry the
    # code, whose coding carrying back rewrites (moved to `into`; falling back to their next
    # code).
    answers: int | None = None
    # removed: how many of those answers are left without a code (no other code to fall back
    # to, or only codes deleted too).
    uncoded: int | None = None
    # taught: how many of the wave's answers coded in it by hand become its examples.
    examples: int | None = None


@dataclass(frozen=True)
class CarryBackSummary:
    """What carrying the wave frame `codeframe` back into `approved` changes (a preview) or
    changed (`applied`). With `conflicts`, nothing can be carried."""

    codeframe: int
    approved: int
    changes: tuple[Change, ...] = ()
    approved_wave: str = ""  # the wave label of the approved frame's question
    # The approved frame's own answers whose coding the merges and deletes rewrite (each
    # answer once, however many of its codes go).
    recoded: int = 0
    conflicts: tuple[str, ...] = ()
    applied: bool = False
    counts: dict[str, int] = field(default_factory=dict)

    def of(self, kind: str) -> list[Change]:
        return [c for c in self.changes if c.kind == kind]

    def describe(self) -> str:
        """One line for a message: "2 renamed, 1 added, 1 merged"."""
        if not self.changes:
            return "nothing to carry back"
        return ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in self.counts.items() if n)

    def as_dict(self) -> dict:
        return {
            "codeframe": self.codeframe,
            "approved_codeframe": self.approved,
            "approved_wave": self.approved_wave,
            "recoded_answers": self.recoded,
            "applied": self.applied,
            "counts": dict(self.counts),
            "changes": [asdict(c) for c in self.changes],
            "conflicts": list(self.conflicts),
        }


KINDS = (
    "renamed",
    "keywords",
    "moved",
    "net_renamed",
    "net_added",
    "added",
    "merged",
    "removed",
    "taught",
)


def frame_shape(*, codeframe: Codeframe) -> dict:
    """The frame-level content of the codeframe as JSON: {"codes": {number: {label, keywords,
    net, kind}}, "nets": {number: label}} (numbers as strings, net as a net number or None)."""
    codes = codeframe.codes.select_related("net").order_by("number")
    return {
        "codes": {
            str(c.number): {
                "label": c.label,
                "keywords": list(c.keywords),
                "net": c.net.number if c.net else None,
                "kind": c.kind,
            }
            for c in codes
        },
        "nets": {str(n.number): n.label for n in codeframe.nets.order_by("number")},
    }


def preview_carry_back(*, codeframe: Codeframe) -> CarryBackSummary:
    """What `carry_back` would change, and the conflicts that stop it; writes nothing.
    Raises NotAWaveFrame."""
    wave = Codeframe.objects.get(pk=codeframe.pk)  # as stored: its merge record may be newer
    return _summary(wave, _approved_of(wave))


def carry_back(*, codeframe: Codeframe) -> CarryBackSummary:
    """Apply the wave frame `codeframe`'s frame edits to the approved frame it was coded with
    (see the module docstring), all or nothing; returns what changed (`applied` True).

    Raises NotAWaveFrame (no `coded_with`), CarryBackConflict (both frames changed the same
    thing differently, or two codes would be labelled alike; nothing is written; `.summary`
    lists the conflicts).
    """
    with transaction.atomic():
        # Locked in this order (the wave's, then the approved frame), so two carry-backs into
        # one approved frame wait for each other and each plans on what the other left.
        wave = Codeframe.objects.select_for_update().get(pk=codeframe.pk)
        approved = _approved_of(wave, lock=True)
        summary = _summary(wave, approved)
        if summary.conflicts:
            raise CarryBackConflict(
                "Not carried back: " + " ".join(summary.conflicts),
                summary=summary,
            )
        if summary.changes:
            _apply(summary.changes, wave=wave, approved=approved)
            added = [c.number for c in summary.changes if c.kind == "added"]
            if added:  # the approved frame's own answers were not coded with them
                approved.refresh_from_db(fields=["params"])
                carried = sorted({*approved.params.get(CARRIED_IN, ()), *added})
                approved.params = {**approved.params, CARRIED_IN: carried}
                approved.save(update_fields=["params"])
            wave.refresh_from_db(fields=["params"])
            wave.params = {**wave.params, CARRY_BASE: frame_shape(codeframe=wave)}
            wave.save(update_fields=["params"])
            refresh_sizes(codeframe=approved)
    logger.info("carried codeframe %s back into %s: %s", wave.pk, approved.pk, summary.describe())
    return replace(summary, applied=True)


def plan_changes(
    *, base: dict, wave: dict, approved: dict, merged_into: dict[str, int]
) -> tuple[list[Change], list[str]]:
    """The changes and conflicts of carrying `wave` back into `approved`, both measured from
    `base` (three `frame_shape`s); `merged_into` is the wave's merge record (number -> number).
    Pure."""
    plan = _Plan(base=base, wave=wave, approved=approved)
    for key in sorted(wave["codes"], key=int):
        plan.code_edited(key)
    merges = {int(n): int(into) for n, into in merged_into.items()}
    added = {c.number for c in plan.changes if c.kind == "added"}
    for key in sorted(set(base["codes"]) - set(wave["codes"]), key=int):
        plan.code_gone(key, merges=merges, added=added)
    for key in sorted(wave["nets"], key=int):
        plan.net_edited(key)
    changes = sorted(plan.changes, key=lambda c: (KINDS.index(c.kind), c.number))
    return changes, plan.conflicts + label_clashes(changes, approved=approved)


@dataclass
class _Plan:
    """`plan_changes`' working state: the three shapes, and what it has found so far."""

    base: dict
    wave: dict
    approved: dict
    changes: list[Change] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    # Nets the changes put codes in: a net new in the wave is carried only when one is.
    needed_nets: set[int] = field(default_factory=set)

    def net_name(self, shape: dict, number: int | None) -> str:
        if number is None:
            return "(no net)"
        return shape["nets"].get(str(number)) or f"net {number}"

    def code_edited(self, key: str) -> None:
        """The wave's code `key`: added, or each of its fields edited in the wave since `base`
        (a change) unless the approved frame edited it too (a conflict)."""
        number, now = int(key), self.wave["codes"][key]
        start, there = self.base["codes"].get(key), self.approved["codes"].get(key)
        if there is None:
            if start is None:
                self.changes.append(
                    Change("added", number, now["label"], after=", ".join(now["keywords"]))
                )
                if now["net"] is not None:
                    self.needed_nets.add(now["net"])
            elif any(now[f] != start[f] for f in CODE_FIELDS):
                self.conflicts.append(
                    f"Code {number} “{now['label']}” was edited in this wave but is no longer in "
                    "the approved frame."
                )
            return
        start = start or there
        for name, words in CODE_FIELDS.items():
            if now[name] == start[name] or now[name] == there[name]:
                continue
            if there[name] != start[name]:
                if name == "net":
                    theirs, ours = (
                        self.net_name(self.approved, there[name]),
                        self.net_name(self.wave, now[name]),
                    )
                else:
                    theirs, ours = _words(there[name]), _words(now[name])
                self.conflicts.append(
                    f"Code {number}: its {words} is “{theirs}” in the approved frame and "
                    f"“{ours}” in this wave."
                )
            elif name == "label":
                self.changes.append(
                    Change("renamed", number, now["label"], there["label"], now["label"])
                )
            elif name == "keywords":
                self.changes.append(
                    Change("keywords", number, now["label"], _words(there[name]), _words(now[name]))
                )
            else:
                self.changes.append(
                    Change(
                        "moved",
                        number,
                        now["label"],
                        self.net_name(self.approved, there["net"]),
                        self.net_name(self.wave, now["net"]),
                    )
                )
                if now["net"] is not None:
                    self.needed_nets.add(now["net"])

    def code_gone(self, key: str, *, merges: dict[int, int], added: set[int]) -> None:
        """A code of `base` the wave no longer has: deleted, or merged into another (`merges`;
        `added`, the codes the wave adds), unless the approved frame edited it since."""
        approved_codes = self.approved["codes"]
        if key not in approved_codes:
            return  # the approved frame no longer has it either
        number, label = int(key), approved_codes[key]["label"]
        into = merge_holder(number, merges, {int(k) for k in self.wave["codes"]})
        edited = [
            w
            for f, w in CODE_FIELDS.items()
            if approved_codes[key][f] != self.base["codes"][key][f]
        ]
        if edited:
            # The mirror of a wave's edit to a code the approved frame dropped: carrying the
            # delete or merge would silently throw the approved frame's edit away.
            done = "deleted" if into is None else f"merged into code {into}"
            self.conflicts.append(
                f"Code {number} “{label}” was {done} in this wave, but its "
                f"{' and '.join(edited)} changed in the approved frame since."
            )
        elif into is None:
            self.changes.append(Change("removed", number, label))
        elif str(into) in approved_codes or into in added:
            into_label = self.wave["codes"][str(into)]["label"]
            self.changes.append(
                Change("merged", number, label, after=f"{into}. {into_label}", into=into)
            )
        else:
            self.conflicts.append(
                f"Code {number} was merged into code {into} in this wave, which is no longer in "
                "the approved frame."
            )

    def net_edited(self, key: str) -> None:
        """The wave's net `key`: added (when a change needs it), or renamed in the wave since
        `base` unless the approved frame renamed it too."""
        number, label = int(key), self.wave["nets"][key]
        start, there = self.base["nets"].get(key), self.approved["nets"].get(key)
        if there is None:
            if number in self.needed_nets:
                self.changes.append(Change("net_added", number, label, after=label))
            return
        start = there if start is None else start
        if label in (start, there):
            return
        if there != start:
            self.conflicts.append(
                f"Net {number}: its label is “{there}” in the approved frame and “{label}” in "
                "this wave."
            )
            return
        self.changes.append(Change("net_renamed", number, label, there, label))


def label_clashes(changes: list[Change], *, approved: dict) -> list[str]:
    """Conflicts for codes (nets) that carrying `changes` into `approved` (a `frame_shape`)
    would leave labelled alike, ignoring case, as `services.refuse_taken_label` refuses in one
    frame: two waves can each add "Fees", or rename a code to a label the other carried back.
    Only clashes a change makes count; the analyst renames one of the codes in either frame."""
    gone = {c.number for c in changes if c.kind in ("merged", "removed")}
    frames = {
        "code": {int(k): v["label"] for k, v in approved["codes"].items() if int(k) not in gone},
        "net": {int(k): label for k, label in approved["nets"].items()},
    }
    touched: dict[str, set[int]] = {"code": set(), "net": set()}
    for change in changes:
        if change.kind in ("renamed", "added", "net_renamed", "net_added"):
            kind = "net" if change.kind.startswith("net_") else "code"
            frames[kind][change.number] = change.label
            touched[kind].add(change.number)
    clashes = []
    for kind, labels in frames.items():
        alike: dict[str, list[int]] = {}
        for number in sorted(labels):
            alike.setdefault(label_key(labels[number]), []).append(number)
        for numbers in alike.values():
            if len(numbers) > 1 and touched[kind] & set(numbers):
                named = [f"{kind} {n} “{labels[n]}”" for n in numbers]
                said = f"{', '.join(named[:-1])} and {named[-1]}"
                clashes.append(
                    f"{said[0].upper()}{said[1:]} would be labelled alike in the approved frame "
                    "(two alike cannot be told apart in the exports): rename one of them in "
                    "either frame."
                )
    return clashes


# --- helpers ------------------------------------------------------------------------------


def _approved_of(codeframe: Codeframe, *, lock: bool = False) -> Codeframe:
    approved = coded_with(codeframe=codeframe, lock=lock)
    if approved is None:
        raise NotAWaveFrame(
            f"Codeframe #{codeframe.pk} was not coded with an approved codeframe of its "
            "project (or that codeframe was deleted): there is nothing to carry its edits "
            "back to."
        )
    return approved


def _summary(wave: Codeframe, approved: Codeframe) -> CarryBackSummary:
    wave_shape, approved_shape = frame_shape(codeframe=wave), frame_shape(codeframe=approved)
    base = wave.params.get(CARRY_BASE)
    if base is None:
        # Coded before the start frame was kept: the approved frame stands in for it, and
        # only codes the wave notes as retired count as merged or deleted.
        retired = {str(n) for n in param_keys.retired(wave.params)}
        base = {
            "codes": {
                k: v
                for k, v in approved_shape["codes"].items()
                if k in wave_shape["codes"] or k in retired
            },
            "nets": approved_shape["nets"],
        }
    changes, conflicts = plan_changes(
        base=base,
        wave=wave_shape,
        approved=approved_shape,
        merged_into=wave.params.get(MERGED_INTO, {}),
    )
    gone = {c.number for c in changes if c.kind in ("added", "merged", "removed")}
    labels = {int(k): v["label"] for k, v in wave_shape["codes"].items()}
    for number, texts in _teachings(wave, approved, gone=gone).items():
        held = len(approved.codes.get(number=number).examples)
        changes.append(
            Change(
                "taught",
                number,
                labels[number],
                before=f"{held} stored example{'s' * (held != 1)}",
                after=f"{held + len(texts)} stored examples",
                examples=len(texts),
            )
        )
    counts = {kind: sum(c.kind == kind for c in changes) for kind in KINDS}
    changes, recoded = _with_answers(changes, approved)
    return CarryBackSummary(
        codeframe=wave.pk,
        approved=approved.pk,
        changes=tuple(changes),
        approved_wave=approved.question.wave_label,
        recoded=recoded,
        conflicts=tuple(conflicts),
        counts=counts,
    )


def _with_answers(changes: list[Change], approved: Codeframe) -> tuple[list[Change], int]:
    """`changes` with `answers` set on merges and deletes (the approved frame's answers that
    carry the code, which carrying back recodes: an earlier wave's coding), and how many
    answers that is in all, each once."""
    numbers = [c.number for c in changes if c.kind in ("merged", "removed")]
    if not numbers:
        return changes, 0
    carrying = Assignment.objects.filter(codeframe=approved, code__number__in=numbers)
    counts = dict(
        carrying.values("code__number")
        .annotate(n=Count("response", distinct=True))
        .values_list("code__number", "n")
    )
    removed = {c.number for c in changes if c.kind == "removed"}
    codes_of: dict[int, set[int]] = {}
    pairs = Assignment.objects.filter(
        codeframe=approved,
        response__in=carrying.filter(code__number__in=removed).values("response"),
    ).values_list("response_id", "code__number")
    for response, number in pairs:
        codes_of.setdefault(response, set()).add(number)
    left = {
        number: sum(number in codes and codes <= removed for codes in codes_of.values())
        for number in removed
    }
    changes = [
        replace(c, answers=counts.get(c.number, 0), uncoded=left.get(c.number))
        if c.number in numbers
        else c
        for c in changes
    ]
    return changes, carrying.values("response").distinct().count()


def _teachings(wave: Codeframe, approved: Codeframe, *, gone: set[int]) -> dict[int, list[str]]:
    """Code number -> the texts of the wave's answers coded in it by hand (any of their codes,
    surest first) that carrying back adds to the approved frame's stored examples: for its codes
    with fewer than FEW_ANSWERS answers there, not among `gone` (added, merged or deleted by
    this carry-back), only texts it does not store yet and up to MAX_CARRIED_EXAMPLES in all."""
    held = dict(
        Assignment.objects.filter(codeframe=approved)
        .values("code__number")
        .annotate(n=Count("response", distinct=True))
        .values_list("code__number", "n")
    )
    stored = {
        code.number: code.examples
        for code in approved.codes.all()
        if code.number not in gone and held.get(code.number, 0) < FEW_ANSWERS
    }
    if not stored:
        return {}
    rows = (
        Assignment.objects.filter(
            codeframe=wave,
            code__number__in=stored,
            response__in=HandCoded.objects.filter(codeframe=wave).values("response"),
        )
        .order_by("code__number", "-is_primary", "-confidence", "response__position")
        .values_list("code__number", "response__text")
    )
    found: dict[int, dict[str, None]] = {}
    for number, text in rows:
        found.setdefault(number, {}).setdefault(text)
    taught = {}
    for number, texts in found.items():
        room = MAX_CARRIED_EXAMPLES - len(stored[number])
        new = [text for text in texts if text not in stored[number]][: max(room, 0)]
        if new:
            taught[number] = new
    return taught


def _apply(changes: tuple[Change, ...], *, wave: Codeframe, approved: Codeframe) -> None:
    taught = {}  # read before the merges move answers: as the preview counted them
    if any(change.kind == "taught" for change in changes):
        gone = {c.number for c in changes if c.kind in ("added", "merged", "removed")}
        taught = _teachings(wave, approved, gone=gone)
    wave_codes = {c.number: c for c in wave.codes.select_related("net")}
    wave_nets = {n.number: n for n in wave.nets.all()}
    nets = {n.number: n for n in approved.nets.all()}

    def net_for(wave_code: Code) -> Net | None:
        return nets[wave_code.net.number] if wave_code.net else None

    for change in changes:
        if change.kind == "net_added":
            nets[change.number] = Net.objects.create(
                codeframe=approved, number=change.number, label=wave_nets[change.number].label
            )
        elif change.kind == "net_renamed":
            nets[change.number].label = wave_nets[change.number].label
            nets[change.number].save(update_fields=["label"])
    for change in changes:
        if change.kind == "added":
            source = wave_codes[change.number]
            Code.objects.create(
                codeframe=approved,
                number=source.number,
                label=source.label,
                keywords=list(source.keywords),
                kind=source.kind,
                net=net_for(source),
                examples=_wave_examples(source),
            )
    codes = {c.number: c for c in approved.codes.all()}
    for change in changes:
        if change.kind == "merged":
            merge_codes(target=codes[change.into], sources=[codes[change.number]])
        elif change.kind == "removed":
            delete_code(code=codes[change.number])
    # After the merges (which fold keywords into their targets): the wave's values exactly.
    codes = {c.number: c for c in approved.codes.all()}
    for change in changes:
        code, source = codes.get(change.number), wave_codes.get(change.number)
        if change.kind == "renamed":
            code.label = source.label
            code.save(update_fields=["label"])
        elif change.kind == "keywords":
            code.keywords = list(source.keywords)
            code.save(update_fields=["keywords"])
        elif change.kind == "moved":
            code.net = net_for(source)
            code.save(update_fields=["net"])
    for number, texts in taught.items():
        code = codes[number]
        code.examples = [*code.examples, *texts]
        code.save(update_fields=["examples"])


def _wave_examples(code: Code) -> list[str]:
    """The wave's answers coded with `code`, most certain first (its stored examples if none)."""
    texts = (
        Assignment.objects.filter(code=code)
        .order_by("-is_primary", "-confidence", "response__position")
        .values_list("response__text", flat=True)
    )
    examples: dict[str, None] = {}
    # Read in chunks and stop at the cap: a big wave code has tens of thousands of answers.
    for text in texts.iterator(chunk_size=MAX_CARRIED_EXAMPLES):
        examples.setdefault(text)
        if len(examples) == MAX_CARRIED_EXAMPLES:
            break
    return list(examples) or list(code.examples)


def _words(value) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)
