"""Code answers with an existing (approved) codeframe. Pure numpy / scikit-learn: no ORM.

`code_answers(examples, texts)` codes a new wave of a tracker with the codes the analysts
approved, each known by the answers they reviewed into it (its examples). In order:

1. Blank answers stay uncoded and non-answers ("nothing", "don't know", "asdfgh") get the
   frame's code for their kind, exactly as `generation.generate_codeframe` does; a code is a
   non-answer code when most of its examples are non-answers of one kind. Duplicates (after
   `nonanswers.normalise`) are coded once, with the mean of their copies' vectors.
2. Every other answer is scored against each theme code: the mean cosine similarity to the
   code's `TOP_K` most similar examples (a class-wise k-NN that keeps a code's variety of
   wordings, which a centroid averages away), turned into probabilities by a softmax, and a
   logistic regression trained on the examples. The primary code is the best of their
   weighted probabilities (`LOGISTIC_WEIGHT` on the regression; the weight and `LOGISTIC_C`
   were chosen on four labelled sets x 5 seeds, where this mix matched or beat either part
   alone on all four and the regression alone at C=10 by 0.2-3 points). A second code is
   added as `generate_codeframe` adds one (close to the primary's similarity, high in itself).
3. Answers that fit no code stay uncoded ("Other"), by two open-set rules, both calibrated on
   the examples as split-conformal thresholds rather than set as constants, so they follow how
   alike a frame's answers are:
   - "far": its similarity to the nearest example is below the `ALPHA_FAR` quantile of the
     examples' own leave-one-out values (each example's nearest other example); catches
     answers isolated from the whole frame, unless (in a frame of three codes or more) their
     primary code has a probability of `FAR_SURE` (more likely than all the other codes
     together): the loosest wordings of a code are far from every example too, but plainly
     that code's (most of the on-topic answers this rule took, 1.1% of BANKING77's, were right;
     with the exception nearly as many transport answers are left out, 95% of 20 isolated ones
     in the BANKING77 frame instead of 97%, bench/waves.py);
   - "crowd" (transductive, a density ratio): the wave is pooled with the examples at the
     examples' density (a seeded sample of the wave, at most as many answers coded to each
     code as it has examples), and an answer's score is its mean similarity to its
     `DENSITY_K` nearest examples minus that to its `DENSITY_K` nearest other sampled answers.
     An on-topic answer is drawn like the examples, so its score is exchangeable with the same
     score of each example (itself left out); the threshold is the `ALPHA_CROWD` quantile of
     the examples' scores. A new theme or an off-topic subject comes as answers alike one
     another with no examples near them: the wave is dense where the frame is not, and they
     fall under it. A code whose share grows in the wave looks the same way, so every score is
     first measured from its code's centre (the median score of the code's examples, shrunk
     towards the overall median by `CENTER_PRIOR` examples' worth; an answer takes its primary
     code's): without it, a code whose share doubled lost 12% of its answers to "Other" on
     BANKING77 (21% at four times), an undercount in the tracker's figures; with it, 4-5%,
     as before this rule. An unseen theme right next to a code drags that code's centre down
     too, but with the "new" step below the centre costs nothing there: "banking77 halves"
     leaves 65% of its off-topic answers out with it, 61% without (bench/waves.py, 5 seeds; at
     2.8% and 2.2% of on-topic answers).
     A wave whose answers differ in form from the examples (longer, a reworded question,
     another mode of interview) is denser in itself too, everywhere: so the answers surely
     on-topic (their best code leads as clearly as the examples' upper quarter does, and
     they are as near the frame as the median example) are compared with the examples of
     that kind, and when they are denser every score is raised by the difference
     (`_Model.form_shift`). Answers of a new subject are not near the frame and do not move
     it; on bench/waves.py's sets with off-topic answers it never moved (0 on all 30 splits).
   - "new" (the crowd rule's groups, grown; `_Model.novel`): the crowd rule judges each answer
     by its neighbourhood alone, so it catches a few on-topic answers by chance, and of an
     unseen theme next to a code only the answers farthest from the code's examples. So its
     catches and the "far" answers count only in a group (at least `NOVEL_GROUP` of their
     `DENSITY_K` nearest sampled answers caught too); those become the examples of "new", a
     few more classes of a logistic regression with the frame's codes (k-means splits them
     by theme: an unseen theme is one cluster, and the themes lie all around the frame),
     which carries to the rest of their theme. An answer is left out when "new" beats every
     code by more than the `ALPHA_NOVEL` upper quantile of the same margin over held-out
     examples (`NOVEL_FOLDS` folds), or when it is one of the group; in both cases only if its
     best code's score leads the second's by less than the `NOVEL_UNSURE` quantile of the
     examples' leads (each left out): on-topic answers in a new form, which the vectors set
     apart too, still point clearly at one code, and stay coded. With too few examples to
     calibrate "new" (fewer than 1 / ALPHA_NOVEL), the crowd rule's catches are left out as
     they are.
     Two checks keep a wave with nothing new from losing answers to "new" (the crowd rule's
     level is spent on every wave, new theme or not, and its catches group by chance where a
     code is loose): a group whose answers are at least as near an example as the examples'
     lower quartile is to its nearest other one (`INSIDE_QUANTILE`) lies inside the frame and
     is no new theme (`_Model.drop_inside_groups`), and an answer "new" takes beyond the groups
     must have "new" as its likeliest class, whatever the held-out margins allow. With these
     two and the "far" exception, a wave with nothing new (BANKING77 halves of all intents)
     has 0.9% of its answers left out instead of 2.9%, which cost the classifier 1.2 points of
     accuracy against the logistic regression alone; now level with it, 0.887 against 0.885
     (bench/waves.py's sets, 15 seeds).

4. Answers in another language than English (`codeframe.languages`, sure at 0.9): the vectors
   read them by their look, not their meaning, so one is far from an English frame, left out,
   or unsure between codes, and whichever code it lands in says nothing of what it says. Those
   left out or coded at a probability under `LANGUAGE_UNSURE` are read, and go to the frame's
   code for such answers (a code most of whose examples are in other languages: what
   `generate_codeframe` names "Other languages: ..."), as a non-answer goes to its kind's code;
   without one they stay uncoded as "language", and the wave's suggestions offer them all as
   one such code, which, accepted and carried back to the approved frame, takes them in the
   waves after.

All rules calibrate on the examples of codes with another example (an answer of a one-example
code still has that example; the example left out of its code has none). They need enough of
them to leave anything out: 1 / ALPHA_CROWD (about 30) for "crowd", 1 / ALPHA_FAR for "far".

Measured on `bench/waves.py` (5 seeds), where the figures are printed next to the baselines:
on-topic answers left uncoded stay at 0.7-3.0% (1.0% of BANKING77's with all its intents, where
the classifier now codes as accurately as the logistic regression: 0.890 against 0.887). Off-topic
answers that come in groups are mostly left uncoded: 98% of transport answers in a banking frame
(94% in a long-tailed one with non-answers), 80% of the commuter survey's answers in the bank
survey's frame, 66% the other way round, 63% of the answers of unseen BANKING77 intents (the
crowd rule alone, before the "new" step: 97%, 69%, 66%, 57%, with more on-topic answers left
out: 4.2% against 1.0% on BANKING77). What stays coded of the
unseen intents is mostly near-synonyms of a code (top_up_failed next to top_up_reverted);
isolated answers close to a code's subject (a single unseen BANKING77 intent next to seen ones)
cannot be told from a code's loosest on-topic answers with these vectors, and are mostly coded
(3%). Of on-topic answers made of two messages joined by "Also," (a new form), 0.5% / 1.3% are
left uncoded at 10,000 / 50,000 answers when many hold an example word for word (the speed
bench), 1.5-2.5% when none does (without the form correction 4.7% / 12.0% and 17.5-24%).

Everything is sorted before it is scored; the same answers in any order get the same codes.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from codeframe import languages, nonanswers

# Similarity to a code: the mean of its TOP_K most similar examples.
TOP_K = 3
# Share of on-topic answers each "fits nothing" rule may leave uncoded (conformal level).
ALPHA_FAR = 0.01
ALPHA_CROWD = 0.035
# The "new" class grown from the crowd rule's groups: the share of on-topic answers it may take
# (conformal level), the folds its held-out margins come from, at most how many of the wave's
# answers (or as many as the examples) it learns from, how many of an answer's DENSITY_K
# nearest sampled answers must be caught too for a group, and the quantile of the examples'
# leave-one-out lead (best code's score over the second's) under which an answer's lead must
# fall for it to be left out. NOVEL_GROUP, NOVEL_UNSURE and ALPHA_NOVEL were chosen on
# bench/waves.py's five sets together (a grid of 8), for off-topic answers left uncoded on every
# set with groups at least as often as by the crowd rule alone, with fewer on-topic ones.
ALPHA_NOVEL = 0.02
NOVEL_FOLDS = 5
NOVEL_SEEDS = 2000
NOVEL_GROUP = 4
NOVEL_UNSURE = 0.75
# A group of answers "new" learns from whose answers are (by their median) at least as near an
# example as the INSIDE_QUANTILE of the examples are to their nearest other example lies inside
# the frame (the loose part of its codes), not beside it: it is no new theme, and is not left
# out. A lower quartile, not the median: the crowd rule caught these answers because few examples
# are around them, so even a group of a code's own answers lies further from the examples than
# the typical example from its neighbour (the median on bench/waves.py, 5 seeds: 0.4-0.7
# points less accuracy on BANKING77 with all its intents). Measuring a group by its centre
# instead, which averaging brings nearer every example, took the train delays of
# tests/codeframe/test_waves.py for a bank code.
INSIDE_QUANTILE = 0.25
# An answer far from every example is left out only if its primary code's probability is under
# this: far, but more likely that code than all the others together, it is the code's. Only in
# frames of three codes or more: with one or two, every answer has a code at half or more.
FAR_SURE = 0.5
# The answers "new" learns from come as several themes (each unseen theme its own cluster);
# they are split by k-means into classes of about NOVEL_CLASS_SIZE (at most NOVEL_CLASSES), and
# an answer's "new" probability is their sum. One class for all of them is one linear direction
# against every code, which the themes spread around the frame do not share: on bench/waves.py
# (5 seeds) the split leaves 65% of the unseen BANKING77 intents' answers out instead of 60% at
# the same 2.8% of on-topic ones, 79% of the commuter answers in the bank frame instead of 76%,
# and fewer answers in a new form (1.8% / 2.8% of the speed bench's instead of 2.7% / 4.7%);
# the small commuter frame loses a little (65.9% of the bank answers instead of 66.3%).
NOVEL_CLASS_SIZE = 10
NOVEL_CLASSES = 40
# A wave denser in itself than the frame (answers in another form): the quantile of the examples'
# nearness to the frame (mean similarity to their DENSITY_K nearest) that a surely on-topic answer
# must reach, and how many such answers and examples it takes to measure the difference.
FORM_NEAR = 0.5
FORM_MIN_ANSWERS = 30
FORM_MIN_EXAMPLES = 10
# Neighbours (examples; answers of the wave) over which the density-ratio score averages.
DENSITY_K = 15
# Examples' worth of the overall median in each code's centre of the density-ratio score.
CENTER_PRIOR = 5.0
# The same multi-coding rule as generation (second code: at least this similar to its
# centroid, and within MARGIN of the primary code's).
MULTI_CODE_SIMILARITY = 0.55
MULTI_CODE_MARGIN = 0.03
# Softmax temperature turning similarities into probabilities (as generation's confidences).
TEMPERATURE = 0.05
# Inverse regularisation of the logistic regression on the examples.
LOGISTIC_C = 30.0
# Weight of the logistic regression's probabilities against the class-wise k-NN's.
LOGISTIC_WEIGHT = 0.7
# Answers in another language than English are read (`codeframe.languages`) when they are left
# out or their primary code's probability is under this: the vectors read such an answer by its
# look, which makes it far from an English frame or unsure between codes; an answer coded
# surely is not read (reading every answer would cost 0.12 ms each, 6 s at 50,000).
LANGUAGE_UNSURE = 0.5
ROWS_PER_BLOCK = 4096
# Threads (of one BLAS thread each) that fit the "new" step's six regressions and read the
# frame's block products, this many at a time.
FIT_THREADS = 2

Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class CodedAnswers:
    # In input order: the code ids of each text, primary first; [] = fits no code ("Other").
    assignments: list[list[int]]
    # Parallel to `assignments`: the confidence (0..1) of each of those codes.
    confidences: list[list[float]]
    # In input order: why a text is uncoded: "blank", "non_answer" (no code for its kind),
    # "far" (fits no code), "crowd" (one of a new group of answers), "language" (in another
    # language than English, and the frame has no code for such answers); None when coded.
    uncoded_reasons: list[str | None]
    # The calibrated thresholds, the codes used, counts.
    params: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def code_answers(
    examples: Mapping[int, Sequence[str]],
    texts: Sequence[str],
    *,
    vectors: np.ndarray | None = None,
    example_vectors: Mapping[int, np.ndarray] | None = None,
    embed: Embed | None = None,
    leave_out: bool = True,
) -> CodedAnswers:
    """Code `texts` with the codes of `examples` (code id -> the answers approved for it).

    `vectors` has one row per text, `example_vectors` one array per code with one row per
    example (e.g. float32 from `embeddings.services.embed_texts`); whichever is missing is
    computed with `embed` (a callable: list of texts -> array). Codes without examples cannot
    be recognised and are never assigned. `leave_out=False` codes every answer with its best
    code (closed set: no "far" or "crowd"; blanks and non-answers as ever; a frame without any
    theme code with examples still codes nothing), as the closed-set baselines of
    bench/waves.py do, which compares the classifier alone with them.

    Returns the assignments and confidences in input order. Raises ValueError if vectors are
    missing and there is no `embed`, or an array does not have one row per text.
    """
    started = time.perf_counter()
    texts = list(texts)
    frame = _frame(examples, example_vectors, embed)
    vectors = _rows(vectors, texts, embed, "vectors")
    if frame.dim and texts and vectors.shape[1] != frame.dim:
        raise ValueError(f"vectors have {vectors.shape[1]} dimensions, examples {frame.dim}")

    keys = [nonanswers.normalise(t) for t in texts]
    kinds = {key: nonanswers.classify(key) for key in set(keys) if key}
    assignments: list[list[int]] = [[] for _ in texts]
    confidences: list[list[float]] = [[] for _ in texts]
    reasons: list[str | None] = [None] * len(texts)
    theme_rows: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        if not key:
            reasons[i] = "blank"
            continue
        kind = kinds[key]
        if kind is None:
            theme_rows.setdefault(key, []).append(i)
        elif kind in frame.non_answer_codes:
            assignments[i], confidences[i] = [frame.non_answer_codes[kind]], [1.0]
        else:
            reasons[i] = "non_answer"

    distinct = sorted(theme_rows)
    x = _means(vectors, [theme_rows[k] for k in distinct], max(frame.dim, 1))
    model = _Model.fit(frame) if len(frame.code_ids) else None
    crowd_threshold, form_shift = float("nan"), 0.0
    if model is not None and len(x):
        decided = model.code(x, leave_out=leave_out)
        if leave_out:
            _code_other_languages(
                examples, frame.code_ids, [texts[theme_rows[k][0]] for k in distinct], decided
            )
        crowd_threshold, form_shift = decided.crowd_threshold, decided.form_shift
        for u, key in enumerate(distinct):
            for i in theme_rows[key]:
                assignments[i] = list(decided.codes[u])
                confidences[i] = list(decided.confidences[u])
                reasons[i] = decided.reasons[u]
    else:
        for key in distinct:
            for i in theme_rows[key]:
                reasons[i] = "far"

    counts = Counter(r for r in reasons if r)
    return CodedAnswers(
        assignments=assignments,
        confidences=confidences,
        uncoded_reasons=reasons,
        params={
            "theme_codes": list(frame.code_ids),
            "non_answer_codes": dict(frame.non_answer_codes),
            "examples": len(frame.x),
            # None: too few examples to calibrate (the rule then leaves nothing out).
            "far_threshold": _finite(model.far_threshold) if model else None,
            "crowd_threshold": _finite(crowd_threshold) if model else None,
            # How much denser than the frame the wave's surely on-topic answers are (<= 0).
            "form_shift": round(form_shift, 4),
            **({} if leave_out else {"leave_out": False}),  # absent: the default
            "answers": len(texts),
            "distinct_answers": len(distinct),
            "uncoded": dict(sorted(counts.items())),
        },
        timings={"coding_seconds": time.perf_counter() - started},
    )


def _code_other_languages(
    examples: Mapping[int, Sequence[str]],
    code_ids: list[int],
    texts: list[str],
    decided: _Decided,
) -> None:
    """Step 4 (see the module's docstring), in place on `decided` (one row per text of
    `texts`): the answers left out or coded with a probability under `LANGUAGE_UNSURE` that
    are in another language than English go to the frame's code for such answers (the first
    of `code_ids` most of whose examples are in other languages, as in a code `generation`
    names "Other languages: ..."), or stay uncoded as "language" when it has none."""
    unsure = [
        u
        for u, confidences in enumerate(decided.confidences)
        if not confidences or confidences[0] < LANGUAGE_UNSURE
    ]
    foreign = [u for u in unsure if languages.language_of(texts[u]) is not None]
    if not foreign:
        return
    code_id = next((c for c in code_ids if languages.other_languages(list(examples[c]))), None)
    for u in foreign:
        decided.codes[u] = [code_id] if code_id is not None else []
        decided.confidences[u] = [1.0] if code_id is not None else []
        decided.reasons[u] = None if code_id is not None else "language"


# --- the frame: theme examples and non-answer codes ---------------------------------------


@dataclass(frozen=True)
class _Frame:
    code_ids: list[int]  # theme codes with examples, sorted
    x: np.ndarray  # unit vectors of their distinct examples, grouped by code
    labels: np.ndarray  # per row of x: index into code_ids
    non_answer_codes: dict[str, int]  # nonanswers kind -> code id
    dim: int


def _frame(
    examples: Mapping[int, Sequence[str]],
    example_vectors: Mapping[int, np.ndarray] | None,
    embed: Embed | None,
) -> _Frame:
    non_answer_votes: dict[str, Counter] = {}
    theme: dict[int, dict[str, list[np.ndarray]]] = {}
    missing = [c for c in examples if example_vectors is None or c not in example_vectors]
    if missing and embed is None:
        raise ValueError("example vectors are missing and no embed function was given")
    dim = 0
    for code_id in sorted(examples):
        answers = list(examples[code_id])
        if example_vectors is not None and code_id in example_vectors:
            rows = _rows(example_vectors[code_id], answers, None, f"example_vectors[{code_id}]")
        else:
            rows = _rows(None, answers, embed, f"example_vectors[{code_id}]")
        if len(answers):
            dim = dim or rows.shape[1]
            if rows.shape[1] != dim:
                raise ValueError(f"example_vectors[{code_id}] has {rows.shape[1]} dimensions")
        kinds = Counter()
        for text, row in zip(answers, rows, strict=True):
            key = nonanswers.normalise(text)
            if not key:
                continue
            kind = nonanswers.classify(key)
            if kind is not None:
                kinds[kind] += 1
            else:
                theme.setdefault(code_id, {}).setdefault(key, []).append(row)
        themed = sum(len(v) for v in theme.get(code_id, {}).values())
        if kinds and kinds.most_common(1)[0][1] > themed:
            # A non-answer code: its theme-looking examples are the analysts' exceptions.
            theme.pop(code_id, None)
            for kind, n in kinds.items():
                non_answer_votes.setdefault(kind, Counter())[code_id] += n
    non_answer_codes = {
        kind: min(votes, key=lambda c: (-votes[c], c)) for kind, votes in non_answer_votes.items()
    }
    for code_id in non_answer_codes.values():
        theme.pop(code_id, None)
    code_ids = sorted(theme)
    rows, labels = [], []
    for index, code_id in enumerate(code_ids):
        for key in sorted(theme[code_id]):
            rows.append(np.mean(np.asarray(theme[code_id][key], dtype=np.float64), axis=0))
            labels.append(index)
    x = _unit(np.asarray(rows)).astype(np.float32) if rows else np.zeros((0, dim), np.float32)
    return _Frame(code_ids, x, np.asarray(labels, dtype=np.intp), non_answer_codes, dim)


# --- the model ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Decided:
    codes: list[list[int]]
    confidences: list[list[float]]
    reasons: list[str | None]
    crowd_threshold: float
    form_shift: float


class _Model:
    """Scores answers against a frame's theme codes; knows its own "fits nothing" thresholds."""

    def __init__(
        self,
        frame: _Frame,
        classifier: Any,
        far_threshold: float,
        held_out_lead: np.ndarray,
        held_out_near: np.ndarray,
        inside_similarity: float,
    ) -> None:
        self.frame = frame
        self.classifier = classifier
        self.far_threshold = far_threshold
        # How near an example a group's answers must be to lie inside the frame (INSIDE_QUANTILE).
        self.inside_similarity = inside_similarity
        # Per example, itself left out: how far its best code's score leads the second's, and
        # its mean similarity to its DENSITY_K nearest examples.
        self.held_out_lead = held_out_lead
        self.held_out_near = held_out_near
        k = len(frame.code_ids)
        self.centroids = _unit(
            np.stack([frame.x[frame.labels == c].mean(axis=0) for c in range(k)])
        ).astype(np.float32)

    @classmethod
    def fit(cls, frame: _Frame) -> _Model:
        from threadpoolctl import threadpool_limits

        classifier = None
        k = len(frame.code_ids)
        # One BLAS thread: on a busy machine a small fit with a thread per core ran 10-50x
        # slower (threads waiting for one another), 0.2 s against 2-10 s on BANKING77. The
        # regression is fitted in a thread of its own while the leave-one-out values below are
        # computed (numpy lets go of the interpreter in both).
        with threadpool_limits(limits=1), ThreadPoolExecutor(1) as pool:
            fitting = None
            if k > 1:
                from sklearn.linear_model import LogisticRegression

                # tol 1e-3: half the iterations of the default, the same accuracy on BANKING77.
                classifier = LogisticRegression(C=LOGISTIC_C, max_iter=1000, tol=1e-3)
                fitting = pool.submit(classifier.fit, frame.x, frame.labels)
            # Leave-one-out: each example's nearest other example, its best code's lead, and
            # its mean similarity to its DENSITY_K nearest other examples.
            own, leads, near = [], [], []
            for block, sims in _blocks(frame.x, frame.x):
                rows = np.arange(block.start, block.stop)
                sims[np.arange(len(rows)), rows] = -np.inf
                own.append(sims.max(axis=1))
                leads.append(_lead(_code_scores(sims, frame.labels, k)))
                near.append(_top_mean(sims, DENSITY_K))  # last: reorders `sims`
            if fitting is not None:
                fitting.result()
        loo = np.concatenate(own) if own else np.zeros(0)
        loo = loo[_calibrating(frame)]
        held_out_lead = np.concatenate(leads) if leads else np.zeros(0)
        held_out_near = np.concatenate(near) if near else np.zeros(0)
        far_threshold = _conformal_quantile(loo, ALPHA_FAR)
        inside = float(np.quantile(loo, INSIDE_QUANTILE)) if len(loo) else np.inf
        return cls(frame, classifier, far_threshold, held_out_lead, held_out_near, inside)

    def crowd_scores(
        self, x: np.ndarray, to_frame: np.ndarray, primary: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The density-ratio score of the wave's answers and of the frame's examples, given
        each answer's mean similarity to its DENSITY_K nearest examples (`to_frame`), and each
        answer's DENSITY_K nearest sampled answers (positions in `x`, one row per answer).

        The wave is pooled with the examples at the examples' density (a seeded sample of the
        wave: of the answers whose primary code is c, at most as many as c has examples). An
        answer's score is its mean similarity to its
        DENSITY_K nearest examples minus that to its DENSITY_K nearest sampled answers (itself
        left out). Each example gets the same score (itself left out of the examples), so an
        on-topic answer, drawn like the examples, is exchangeable with them: the scores of the
        examples calibrate the threshold. Off-topic answers, which have no examples near them
        but other answers of their kind, score low."""
        frame = self.frame
        rng = np.random.default_rng(0)
        quotas = np.bincount(frame.labels, minlength=len(frame.code_ids))
        picked = []
        for c, quota in enumerate(quotas):
            members = np.flatnonzero(primary == c)
            if len(members) > quota:
                members = rng.choice(members, quota, replace=False)
            picked.append(members)
        sample = np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.intp)
        reference = x[sample]
        position = np.full(len(x), -1, dtype=np.intp)
        position[sample] = np.arange(len(sample))
        to_wave, neighbours = [], []
        for block, sims in _blocks(x, reference):
            cols = position[block]
            hit = cols >= 0
            sims[np.flatnonzero(hit), cols[hit]] = -np.inf
            nearest = _nearest(sims, DENSITY_K)
            to_wave.append(_top_mean(np.take_along_axis(sims, nearest, axis=1), DENSITY_K))
            neighbours.append(sample[nearest])
        frame_scores = []
        for block, sims in _blocks(frame.x, frame.x):
            rows = np.arange(block.start, block.stop)
            sims[np.arange(len(rows)), rows] = -np.inf
            frame_scores.append(
                _top_mean(sims, DENSITY_K) - _top_mean(frame.x[block] @ reference.T, DENSITY_K)
            )
        frame_scores = np.concatenate(frame_scores) if frame_scores else np.zeros(0)
        return to_frame - np.concatenate(to_wave), frame_scores, np.concatenate(neighbours)

    def form_shift(
        self,
        wave_scores: np.ndarray,
        frame_scores: np.ndarray,
        lead: np.ndarray,
        to_frame: np.ndarray,
        calibrating: np.ndarray,
    ) -> float:
        """How much denser the wave is than the frame in itself (<= 0; 0 when it is not, or
        cannot be told): the median density-ratio score of the answers that are surely on-topic
        (their best code leads the second by at least the NOVEL_UNSURE quantile of the
        examples' leads, and they are as near the frame as the FORM_NEAR quantile of the
        examples) minus the same median over the examples of that kind (each left out). Such
        answers are drawn like the examples in subject; denser among themselves, they differ in
        form (longer answers, another mode of interview), which would otherwise read as new.
        Answers of a new subject are far from the frame and not among them."""
        examples = self.held_out_lead[calibrating]
        if not len(examples):
            return 0.0
        sure_lead = np.quantile(examples, NOVEL_UNSURE)
        near = np.quantile(self.held_out_near[calibrating], FORM_NEAR)
        sure = (lead >= sure_lead) & (to_frame >= near)
        sure_examples = (
            calibrating
            & (self.held_out_lead >= sure_lead)
            & (self.held_out_near >= near)
            & np.isfinite(frame_scores)
        )
        if sure.sum() < FORM_MIN_ANSWERS or sure_examples.sum() < FORM_MIN_EXAMPLES:
            return 0.0
        shift = float(np.median(wave_scores[sure]) - np.median(frame_scores[sure_examples]))
        return min(shift, 0.0)

    def drop_inside_groups(
        self,
        x: np.ndarray,
        grouped: np.ndarray,
        new: np.ndarray,
        themes: np.ndarray,
        nearest: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Drops the groups (`themes` of the answers `new`) that lie inside the frame: a
        group whose answers are (by their median `nearest`, similarity to the nearest example)
        at least as near an example as the examples' INSIDE_QUANTILE is to its nearest other
        one (`inside_similarity`) is the loose part of a code, where the crowd rule catches
        answers by chance, and no new theme. Returns `grouped` without such groups' answers
        (when `new` is a sample, the answers not in it go with the group whose centre is
        nearest), and `new` and `themes` without them, the themes renumbered 0..m-1. The sample
        was drawn before: "new" may learn from fewer answers than NOVEL_SEEDS."""
        if not len(new):
            return grouped, new, themes
        themes = np.unique(themes, return_inverse=True)[1]  # 0..m-1, none empty
        m = int(themes.max()) + 1
        median = np.array([np.median(nearest[new[themes == j]]) for j in range(m)])
        inside = median >= self.inside_similarity
        if not inside.any():
            return grouped, new, themes
        grouped = grouped.copy()
        rest = np.setdiff1d(np.flatnonzero(grouped), new)  # answers of groups left out of a sample
        if len(rest):  # ... go with the group whose centre is nearest
            centres = _unit(np.stack([x[new[themes == j]].mean(axis=0) for j in range(m)]))
            grouped[rest[inside[np.argmax(x[rest] @ centres.T, axis=1)]]] = False
        keep = ~inside[themes]
        grouped[new[~keep]] = False
        return grouped, new[keep], np.unique(themes[keep], return_inverse=True)[1]

    def novel(
        self,
        x: np.ndarray,
        seeds: np.ndarray,
        neighbours: np.ndarray,
        lead: np.ndarray,
        calibrating: np.ndarray,
        nearest: np.ndarray,
    ) -> np.ndarray:
        """Which answers are new (see the module's docstring): `seeds` are the answers the
        "crowd" and "far" rules caught, `neighbours` each answer's DENSITY_K nearest sampled
        answers (from `crowd_scores`), `nearest` each answer's similarity to its nearest
        example (for `drop_inside_groups`). A logistic regression learns the frame's codes from the
        examples plus "new" from the seeds caught in a group (a seeded sample of at most
        NOVEL_SEEDS, or as many as the examples; split by `_themes` into several classes, whose
        probabilities add up to "new"'s); the same regression without each fold of the
        examples (NOVEL_FOLDS folds by position within each code) gives the held-out margins and
        certainties the two thresholds are calibrated on."""
        from sklearn.linear_model import LogisticRegression
        from threadpoolctl import threadpool_limits

        frame = self.frame
        k = len(frame.code_ids)
        if np.floor(ALPHA_NOVEL * (calibrating.sum() + 1)) < 1:
            return seeds  # too few examples to calibrate the "new" class: the rules' catches
        unsure = lead < np.quantile(self.held_out_lead[calibrating], NOVEL_UNSURE)
        rng = np.random.default_rng(0)
        # Others only: a wave of at most DENSITY_K sampled answers lists each sampled answer
        # among its own neighbours (at -inf), which would count it in its own group.
        others = neighbours != np.arange(len(x))[:, None]
        grouped = seeds & ((seeds[neighbours] & others).sum(axis=1) >= NOVEL_GROUP)
        new = np.flatnonzero(grouped)
        if not len(new):
            return grouped
        cap = max(len(frame.x), NOVEL_SEEDS)
        if len(new) > cap:
            new = np.sort(rng.choice(new, cap, replace=False))
        themes = _themes(x[new])
        grouped, new, themes = self.drop_inside_groups(x, grouped, new, themes, nearest)
        if not len(new):
            return grouped & unsure
        features = np.vstack([frame.x, x[new]])
        labels = np.concatenate([frame.labels, k + themes])
        fold = np.zeros(len(frame.x), dtype=np.intp)
        for c in range(k):
            members = np.flatnonzero(frame.labels == c)
            fold[members] = np.arange(len(members)) % NOVEL_FOLDS

        def margin(model: Any, rows: np.ndarray) -> np.ndarray:
            """How much more probable "new" (any of its classes) is than the best code."""
            probability = model.predict_proba(rows)
            is_new = model.classes_ >= k
            return probability[:, is_new].sum(axis=1) - probability[:, ~is_new].max(axis=1)

        held_out = np.full(len(frame.x), np.nan)

        def fitted(f: int) -> Any:
            """The regression without fold `f` of the examples (all of them: f = -1)."""
            train = np.concatenate([fold != f, np.ones(len(new), dtype=bool)])
            model = LogisticRegression(C=LOGISTIC_C, max_iter=1000, tol=1e-3)
            return model.fit(features[train], labels[train])

        # Codes with fewer examples than folds leave folds empty.
        folds = [f for f in range(NOVEL_FOLDS) if (fold == f).any()]
        with threadpool_limits(limits=1), ThreadPoolExecutor(FIT_THREADS) as pool:  # as in fit
            models = list(pool.map(fitted, [-1, *folds]))
        for f, model in zip(folds, models[1:], strict=True):
            out = fold == f
            held_out[out] = margin(model, frame.x[out])
        scores = margin(models[0], x)
        # ... and "new" must be the likeliest class: a margin calibrated below 0 (a "new" clear
        # of the frame, whose held-out examples all lean to their codes) would leave out
        # answers that lean to a code too, to spend the level.
        threshold = max(-_conformal_quantile(-held_out[calibrating], ALPHA_NOVEL), 0.0)
        return (grouped | (scores > threshold)) & unsure

    def left_out(
        self,
        x: np.ndarray,
        primary: np.ndarray,
        lead: np.ndarray,
        to_frame: np.ndarray,
        nearest: np.ndarray,
        certainty: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, float, float]:
        """Which answers fit no code: (far, crowd, the crowd threshold, the form shift), given
        each answer's primary code, its best code's lead, its mean similarity to its DENSITY_K
        nearest examples and to its nearest one, and its primary code's probability (see the
        module's docstring)."""
        frame = self.frame
        k = len(frame.code_ids)
        wave_scores, frame_scores, neighbours = self.crowd_scores(x, to_frame, primary)
        calibrating = _calibrating(frame)
        center = _code_centers(frame_scores, frame.labels, calibrating, k)
        wave_scores = wave_scores - center[primary]
        frame_scores = frame_scores - center[frame.labels]
        shift = self.form_shift(wave_scores, frame_scores, lead, to_frame, calibrating)
        wave_scores = wave_scores - shift
        crowd_threshold = _conformal_quantile(frame_scores[calibrating], ALPHA_CROWD)
        far = nearest < self.far_threshold
        if k > 2:  # with one or two codes, every answer has a code at half the probability
            far &= certainty < FAR_SURE
        crowd = ~far & (wave_scores < crowd_threshold)
        if crowd.any() and self.classifier is not None:
            crowd = ~far & self.novel(x, far | crowd, neighbours, lead, calibrating, nearest)
        return far, crowd, crowd_threshold, shift

    def code(self, x: np.ndarray, *, leave_out: bool = True) -> _Decided:
        from threadpoolctl import threadpool_limits

        frame = self.frame
        k = len(frame.code_ids)

        def read(block: slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            sims = x[block] @ frame.x.T  # one product per block, read three ways
            return _code_scores(sims, frame.labels, k), sims.max(axis=1), _top_mean(sims, DENSITY_K)

        # Blocks in FIT_THREADS threads of one BLAS thread each (numpy's products and
        # partitions let go of the interpreter): at most that many blocks' products at once.
        with threadpool_limits(limits=1), ThreadPoolExecutor(FIT_THREADS) as pool:
            parts, nearest, to_frame = zip(*pool.map(read, _slices(len(x))), strict=True)
        scores = np.concatenate(parts)
        probability = _softmax(scores / TEMPERATURE)
        if self.classifier is not None:
            probability = (1 - LOGISTIC_WEIGHT) * probability + LOGISTIC_WEIGHT * (
                self.classifier.predict_proba(x)
            )
        primary = np.argmax(probability, axis=1)
        if leave_out:
            far, crowd, crowd_threshold, shift = self.left_out(
                x,
                primary,
                _lead(scores),
                np.concatenate(to_frame),
                np.concatenate(nearest),
                probability.max(axis=1),
            )
        else:
            far = crowd = np.zeros(len(x), dtype=bool)
            crowd_threshold, shift = float("nan"), 0.0

        centroid_sims = x @ self.centroids.T
        rows = np.arange(len(x))
        own = centroid_sims[rows, primary]
        masked = centroid_sims.copy()
        masked[rows, primary] = -np.inf
        second = np.argmax(masked, axis=1) if k > 1 else primary
        other = masked[rows, second]
        multi = (other >= MULTI_CODE_SIMILARITY) & (other >= own - MULTI_CODE_MARGIN)

        codes, confidences, reasons = [], [], []
        for u in range(len(x)):
            if far[u] or crowd[u]:
                codes.append([])
                confidences.append([])
                reasons.append("far" if far[u] else "crowd")
                continue
            chosen = [int(primary[u]), int(second[u])] if multi[u] and k > 1 else [int(primary[u])]
            chosen.sort(key=lambda c: -probability[u, c])
            codes.append([frame.code_ids[c] for c in chosen])
            confidences.append([round(float(probability[u, c]), 4) for c in chosen])
            reasons.append(None)
        return _Decided(codes, confidences, reasons, crowd_threshold, shift)


def _themes(x: np.ndarray) -> np.ndarray:
    """Class labels 0..m-1 splitting the answers "new" learns from into their themes: k-means
    (seeded) into about NOVEL_CLASS_SIZE answers a class, at most NOVEL_CLASSES and no more
    than the distinct vectors (k-means would warn and leave classes empty)."""
    m = min(NOVEL_CLASSES, int(np.ceil(len(x) / NOVEL_CLASS_SIZE)), len(np.unique(x, axis=0)))
    if m < 2:
        return np.zeros(len(x), dtype=np.intp)
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # as in _Model.fit
        return KMeans(m, n_init=1, random_state=0).fit_predict(x).astype(np.intp)


def _code_centers(
    scores: np.ndarray, labels: np.ndarray, calibrating: np.ndarray, k: int
) -> np.ndarray:
    """Per code, the median score of its examples, shrunk towards the median of all of them
    (CENTER_PRIOR examples' worth). A code whose share grows in a wave has its answers denser
    in the wave than its examples are in the frame; so do its examples' scores, and measuring
    each answer from its code's centre keeps a growing code from looking like a new one."""
    if CENTER_PRIOR is None:
        return np.zeros(k)
    usable = calibrating & np.isfinite(scores)
    overall = float(np.median(scores[usable])) if usable.any() else 0.0
    center = np.full(k, overall)
    for c in range(k):
        values = scores[usable & (labels == c)]
        if len(values):
            center[c] = (len(values) * np.median(values) + CENTER_PRIOR * overall) / (
                len(values) + CENTER_PRIOR
            )
    return center


def _calibrating(frame: _Frame) -> np.ndarray:
    """The examples whose leave-one-out score stands for an on-topic answer's: those of codes
    with another example. An answer of a one-example code still has that example; the example
    left out of its own code has none, and would make the thresholds needlessly lenient."""
    return np.bincount(frame.labels, minlength=len(frame.code_ids))[frame.labels] > 1


# --- numerics ---------------------------------------------------------------------------------


def _code_scores(sims: np.ndarray, labels: np.ndarray, k: int, *, top_k: int = TOP_K) -> np.ndarray:
    """(rows, k): per code, the mean of the TOP_K largest similarities among its columns
    (fewer if it has fewer finite ones; -inf if none). `labels` must be sorted (each code's
    columns contiguous), which keeps every code's columns a view, not a copy."""
    out = np.full((sims.shape[0], k), -np.inf, dtype=np.float64)
    bounds = np.searchsorted(labels, np.arange(k + 1))
    for c in range(k):
        cols = sims[:, bounds[c] : bounds[c + 1]]
        if cols.shape[1] == 0:
            continue
        top = min(top_k, cols.shape[1])
        n = cols.shape[1]
        part = np.partition(cols, n - top, axis=1)[:, n - top :] if n > top else cols
        finite = np.isfinite(part)
        if finite.all():
            out[:, c] = part.mean(axis=1)
            continue
        n = finite.sum(axis=1)
        total = np.where(finite, part, 0).sum(axis=1)
        out[:, c] = np.where(n > 0, total / np.maximum(n, 1), -np.inf)
    return out


def _top_mean(sims: np.ndarray, k: int) -> np.ndarray:
    """Per row, the mean of its k largest finite values (all of them if fewer; -inf if none).
    Reorders each row of `sims` in place (no copy: at 50,000 answers the copies cost ~10%)."""
    n = sims.shape[1]
    if n <= k:
        return _code_scores(sims, np.zeros(n, dtype=np.intp), 1, top_k=k)[:, 0]
    sims.partition(n - k, axis=1)
    top = sims[:, n - k :]
    if np.isfinite(top).all():
        return top.mean(axis=1, dtype=np.float64)
    return _code_scores(top, np.zeros(k, dtype=np.intp), 1, top_k=k)[:, 0]


def _nearest(sims: np.ndarray, k: int) -> np.ndarray:
    """Per row, the columns of its k largest values (all columns if it has no more)."""
    n = sims.shape[1]
    if n <= k:
        return np.broadcast_to(np.arange(n), sims.shape).copy()
    return np.argpartition(sims, n - k, axis=1)[:, n - k :]


def _slices(n: int) -> list[slice]:
    """Blocks of ROWS_PER_BLOCK rows of n."""
    return [slice(i, min(i + ROWS_PER_BLOCK, n)) for i in range(0, n, ROWS_PER_BLOCK)]


def _blocks(x: np.ndarray, reference: np.ndarray):
    """(slice, x[slice] @ reference.T) in blocks of rows, bounding memory."""
    for block in _slices(len(x)):
        yield block, x[block] @ reference.T


def _conformal_quantile(values: np.ndarray, alpha: float) -> float:
    """The split-conformal lower threshold: the floor(alpha * (n + 1))-th smallest value, so a
    new value from the same distribution falls below it with probability at most alpha."""
    values = np.sort(values[np.isfinite(values)])
    rank = int(np.floor(alpha * (len(values) + 1)))
    if rank < 1:
        return -np.inf  # too few examples to reject anything at this level
    return float(values[rank - 1])


def _means(vectors: np.ndarray, groups: list[list[int]], dim: int) -> np.ndarray:
    """Unit float32 mean vector of each group of rows (one group per distinct answer)."""
    if not groups:
        return np.zeros((0, dim), dtype=np.float32)
    order = np.fromiter((i for rows in groups for i in rows), dtype=np.intp)
    if len(order) == len(groups):  # no duplicates: nothing to average
        return _unit(vectors[order]).astype(np.float32)
    starts = np.cumsum([0] + [len(rows) for rows in groups[:-1]])
    sums = np.add.reduceat(vectors[order].astype(np.float64), starts, axis=0)
    return _unit(sums).astype(np.float32)


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _lead(scores: np.ndarray) -> np.ndarray:
    """Per row, how far its best code's score is ahead of the second's (0 with one code)."""
    if scores.shape[1] < 2:
        return np.zeros(len(scores))
    top = np.partition(np.where(np.isfinite(scores), scores, -1.0), -2, axis=1)
    return top[:, -1] - top[:, -2]


def _softmax(z: np.ndarray) -> np.ndarray:
    z = np.where(np.isfinite(z), z, -1e9)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms == 0, 1, norms)


def _rows(vectors: np.ndarray | None, texts: list[str], embed: Embed | None, name: str):
    if vectors is None:
        if embed is None:
            raise ValueError(f"{name} is missing and no embed function was given")
        vectors = embed(list(texts)) if texts else None
        if vectors is None:
            return np.zeros((0, 0), dtype=np.float32)
    vectors = np.asarray(vectors, dtype=np.float32)
    if not texts and vectors.size == 0:
        return vectors.reshape(0, vectors.shape[-1] if vectors.ndim == 2 else 0)
    if vectors.ndim != 2 or vectors.shape[0] != len(texts):
        raise ValueError(f"{name} has shape {vectors.shape}, expected ({len(texts)}, dim)")
    return vectors
