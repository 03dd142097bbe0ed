"""A codeframe's overview: nets and codes with their sizes, shares and mentions, which codes
its wave was asked about, and a wave's own examples beside the approved frame's."""

from dataclasses import dataclass, field

from django.db.models import Count, F, Window
from django.db.models.functions import RowNumber

from codeframe.models import Assignment, Code, Codeframe, Net
from codeframe.param_keys import CARRIED_IN
from codeframe.selectors.answers import late_responses


@dataclass
class CodeRow:
    code: Code
    share: float  # code.size (answers with it as primary code) of the answers coded (less
    # `CodeframeOverview.late`), 0..1
    # Answers carrying the code at all (primary or second), and their share of all answers:
    # what the tracker and the SPSS file count (a multi-coded answer counts for each code).
    mentions: int = 0
    mention_share: float = 0.0
    # False for a code carried back into this frame after its answers were coded
    # (`asked_codes`): its figures here are "not asked", not 0.
    asked: bool = True
    # A wave's codeframe (`codeframe_overview(..., examples=True)`): the code's examples are
    # this wave's own answers in it, not `code.examples`, which the wave's codes took from the
    # approved frame; those are `approved_examples`, shown as such. None otherwise.
    answers: list[str] | None = None
    approved_examples: list[str] | None = None
    # No answer of the frame carries it and it stores no example (a code added by hand): the
    # wave classifier knows a code only by those, so a wave coded with the frame can put no
    # answer in it (`waves.empty_codes`).
    empty: bool = False

    @property
    def examples(self) -> list[str]:
        """The code's examples as the exports and the API give them: a wave's codeframe's own
        answers in it when read (`answers`), else its stored `Code.examples`."""
        return self.answers if self.answers is not None else list(self.code.examples)


@dataclass
class NetRow:
    net: Net | None
    label: str
    codes: list[CodeRow] = field(default_factory=list)

    @property
    def number(self) -> int | None:
        return self.net.number if self.net is not None else None

    @property
    def size(self) -> int:
        return sum(row.code.size for row in self.codes)


@dataclass
class CodeframeOverview:
    codeframe: Codeframe
    nets: list[NetRow]
    codes: list[Code]
    total: int  # answers of the question
    uncoded: int  # answers coded with no code (`late` ones are not counted)
    # Answers imported after the codeframe was made and not coded since (`late_responses`):
    # nobody coded them, so they are not in `base`, the shares' base (nor in the SPSS file's).
    late: int = 0

    @property
    def base(self) -> int:
        return self.total - self.late

    @property
    def uncoded_share(self) -> float:
        return self.uncoded / self.base if self.base else 0.0


def codeframe_overview(*, codeframe: Codeframe, examples: bool = False) -> CodeframeOverview:
    """Nets → codes with sizes and shares, in code-number order; codes without a net (e.g. after
    their net was deleted) are grouped under "No net". Shares are of the answers coded: those
    imported since, not coded yet, are counted apart (`late`). `examples`: for a wave's
    codeframe, each row's `answers` and `approved_examples` (two more queries)."""
    total = codeframe.question.responses.count()
    late = late_responses(codeframe=codeframe).count()
    base = total - late
    codes = list(
        codeframe.codes.select_related("net")
        .annotate(mentions=Count("assignments"))
        .order_by("number")
    )
    nets: dict[int | None, NetRow] = {
        net.pk: NetRow(net=net, label=net.label) for net in codeframe.nets.order_by("number")
    }
    asked = asked_codes(codeframe=codeframe)
    answers = approved = None
    if examples and codeframe.coded_with_id is not None:
        answers = answers_in_codes(codeframe=codeframe)
        approved = approved_code_examples(codeframe=codeframe)
    for code in codes:
        row = nets.setdefault(code.net_id, NetRow(net=None, label="No net"))
        row.codes.append(
            CodeRow(
                code=code,
                share=code.size / base if base else 0.0,
                mentions=code.mentions,
                mention_share=code.mentions / base if base else 0.0,
                asked=code.number in asked,
                answers=None if answers is None else answers.get(code.pk, []),
                approved_examples=None if approved is None else approved.get(code.number, []),
                empty=not code.mentions and not code.examples,
            )
        )
    coded = sum(code.size for code in codes)
    return CodeframeOverview(
        codeframe=codeframe,
        nets=[row for row in nets.values() if row.codes],
        codes=codes,
        total=total,
        uncoded=max(0, base - coded),
        late=late,
    )


def answers_in_codes(*, codeframe: Codeframe, per_code: int = 3) -> dict[int, list[str]]:
    """Code id -> up to `per_code` of the codeframe's answers with it as their primary code,
    the surest first (then in file order): a wave's own examples of its codes. One query."""
    ranked = (
        Assignment.objects.filter(codeframe=codeframe, is_primary=True)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("code_id")],
                order_by=[F("confidence").desc(), F("response__position").asc()],
            )
        )
        .filter(rank__lte=per_code)
        .order_by("code_id", "rank")
        .values_list("code_id", "response__text")
    )
    found: dict[int, list[str]] = {}
    for code_id, text in ranked:
        found.setdefault(code_id, []).append(text)
    return found


def approved_code_examples(*, codeframe: Codeframe) -> dict[int, list[str]]:
    """Code number -> the examples the approved frame the codeframe was coded with (a wave's
    codeframe) shows for it now; {} for a codeframe not coded with one. Read in the
    codeframe's own project only, as every tracker read is."""
    if codeframe.coded_with_id is None:
        return {}
    codes = Code.objects.filter(
        codeframe_id=codeframe.coded_with_id,
        codeframe__question__project_id=codeframe.question.project_id,
    )
    return dict(codes.values_list("number", "examples"))


def asked_codes(*, codeframe: Codeframe) -> set[int]:
    """The numbers of the codes the codeframe's own answers were coded with: all its codes but
    those a carry-back added later and nobody has coded an answer of this wave with since. A
    tracker shows no share for the others in this wave (not asked about, not 0%)."""
    numbers = set(codeframe.codes.values_list("number", flat=True))
    later = set(codeframe.params.get(CARRIED_IN, ())) & numbers
    if later:
        used = Assignment.objects.filter(codeframe=codeframe, code__number__in=later)
        numbers -= later - set(used.values_list("code__number", flat=True))
    return numbers


def asked_among(*, codeframe: Codeframe, mentions: dict[int, int]) -> set[int]:
    """`asked_codes` from the codeframe's codes' numbers and mentions (answers carrying each),
    for a caller that has read them already (the tracker, for every wave at once)."""
    later = set(codeframe.params.get(CARRIED_IN, ())) & mentions.keys()
    return {number for number, n in mentions.items() if number not in later or n > 0}
