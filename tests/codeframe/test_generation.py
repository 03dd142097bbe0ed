"""codeframe.generation on real all-MiniLM-L6-v2 embeddings of small fixtures."""

import csv
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from codeframe import clustering, labelling, phrases, polarity
from codeframe.generation import CodeframeDraft, generate_codeframe
from embeddings.services import embed_texts

BANKING77 = Path(__file__).resolve().parents[2] / "data" / "banking77_test.csv"
DATA = Path(__file__).resolve().parent / "data"

# Vectors of every text embedded so far in this process: the model is loaded once per process,
# but each test gets an empty embeddings cache.
_vectors: dict[str, np.ndarray] = {}


def embed(texts: list[str]) -> np.ndarray:
    """Real embeddings; only call from tests that request the `real_model` fixture."""
    missing = [t for t in dict.fromkeys(texts) if t not in _vectors]
    if missing:
        _vectors.update(zip(missing, embed_texts(missing), strict=True))
    return np.stack([_vectors[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)


def banking77(n_classes: int, per_class: int) -> tuple[list[str], list[str]]:
    with BANKING77.open() as f:
        rows = list(csv.DictReader(f))
    by_class: dict[str, list[str]] = {}
    for row in rows:
        by_class.setdefault(row["category"], []).append(row["text"])
    texts, gold = [], []
    for category in sorted(by_class)[:: max(1, len(by_class) // n_classes)][:n_classes]:
        texts += by_class[category][:per_class]
        gold += [category] * per_class
    return texts, gold


def assert_valid(draft: CodeframeDraft, n: int) -> None:
    ids = [c.id for c in draft.codes]
    assert sorted(ids) == list(range(1, len(ids) + 1))
    assert len(draft.assignments) == len(draft.confidences) == n
    for codes, confidences in zip(draft.assignments, draft.confidences, strict=True):
        assert len(codes) == len(confidences) == len(set(codes))
        assert set(codes) <= set(ids)
        assert all(0 <= c <= 1 for c in confidences)
        assert confidences == sorted(confidences, reverse=True)
    primary = Counter(a[0] for a in draft.assignments if a)
    for code in draft.codes:
        assert code.size == primary[code.id] > 0
        assert code.label and code.examples and len(code.examples) <= 5
        assert code.kind in {"theme", "non_answer"}
    in_nets = [cid for net in draft.nets for cid in net.code_ids]
    assert sorted(in_nets) == sorted(ids)
    net_of = {cid: net for net in draft.nets for cid in net.code_ids}
    for code in draft.codes:
        assert (net_of[code.id].id, net_of[code.id].label) == (code.net_id, code.net)


def canonical(draft: CodeframeDraft, texts: list[str]) -> tuple:
    """The draft as comparable data, assignments keyed by text."""
    codes = [
        (c.id, c.label, tuple(c.keywords), c.net, c.size, tuple(c.examples)) for c in draft.codes
    ]
    by_text = {
        t: (tuple(a), tuple(c)) for t, a, c in zip(texts, draft.assignments, draft.confidences)
    }
    return codes, [(n.id, n.label, tuple(n.code_ids)) for n in draft.nets], sorted(by_text.items())


NON_ANSWERS = [
    "nothing",
    "Nothing.",
    "don't know",
    "n/a",
    "no comment",
    "-",
    "asdfgh",
    "none",
    "idk",
    "no idea",
    "nothing to add",
    "can't think of anything",
    "Not sure",
]


def test_same_answers_in_any_order_give_the_same_codeframe(real_model):
    texts, _ = banking77(8, 12)
    texts += texts[:10] + NON_ANSWERS + ["", "  "]
    expected = None
    for seed in range(3):
        shuffled = texts[:]
        random.Random(seed).shuffle(shuffled)
        draft = generate_codeframe(shuffled, vectors=embed(shuffled))
        assert_valid(draft, len(shuffled))
        if expected is None:
            expected = canonical(draft, shuffled)
        else:
            assert canonical(draft, shuffled) == expected


def test_duplicates_and_blanks_collapse(real_model):
    texts, _ = banking77(4, 10)
    copies = [
        "My card has not arrived yet",
        "my card has  not arrived yet ",
        "MY CARD HAS NOT ARRIVED YET",
    ]
    answers = texts + copies * 3 + ["", "   ", "\n"]
    draft = generate_codeframe(answers, vectors=embed(answers))
    assert_valid(draft, len(answers))
    assert draft.params["distinct_answers"] == len(set(texts)) + 1
    assert draft.params["blank_answers"] == 3
    assert draft.assignments[-3:] == [[], [], []]  # blanks are uncoded
    copy_codes = {tuple(a) for a in draft.assignments[len(texts) : -3]}
    assert len(copy_codes) == 1 and copy_codes != {()}
    card = next(c for c in draft.codes if c.id == draft.assignments[len(texts)][0])
    assert card.examples.count("My card has not arrived yet") <= 1  # collapsed, not repeated


def test_non_answers_get_their_own_codes_not_theme_codes(real_model):
    texts, _ = banking77(6, 10)
    answers = texts + NON_ANSWERS
    draft = generate_codeframe(answers, vectors=embed(answers))
    assert_valid(draft, len(answers))
    kind = {c.id: c.kind for c in draft.codes}
    label = {c.id: c.label for c in draft.codes}
    for text, codes in zip(answers[len(texts) :], draft.assignments[len(texts) :], strict=True):
        assert len(codes) == 1 and kind[codes[0]] == "non_answer", text
    assert {label[a[0]] for a in draft.assignments[len(texts) :]} == {
        "Nothing / no comment",
        "Don't know",
        "Unintelligible",
    }
    assert all(kind[a[0]] == "theme" for a in draft.assignments[: len(texts)] if a)
    assert draft.nets[-1].label == "Non-answers"
    assert {c.kind for c in draft.codes if c.net == "Non-answers"} == {"non_answer"}


@pytest.mark.parametrize(
    "answers",
    [
        ["The app keeps crashing"],
        ["Too expensive"] * 12,
        ["👍", "👍👍", "😡", "❤️", "🙂", "👎"],
        [
            "Le personnel était très aimable",
            "Das Essen war kalt",
            "El precio es demasiado alto",
            "サービスが遅い",
            "Personale gentile e disponibile",
            "Der Preis ist zu hoch",
        ],
        ["", " ", "nothing"],
        [],
    ],
    ids=["one", "identical", "emoji", "non-english", "no-themes", "empty"],
)
def test_edge_inputs_give_a_valid_codeframe(real_model, answers):
    draft = generate_codeframe(answers, vectors=embed(answers))
    assert_valid(draft, len(answers))
    if answers and all(a.strip() for a in answers):
        assert all(draft.assignments)  # nothing silently dropped from tiny inputs


def test_n_codes_and_max_codes_are_respected(real_model):
    texts, _ = banking77(10, 10)
    vectors = embed(texts)
    free = generate_codeframe(texts, vectors=vectors)
    fixed = generate_codeframe(texts, vectors=vectors, n_codes=4)
    capped = generate_codeframe(texts, vectors=vectors, max_codes=5)
    assert len(free.codes) > 5
    assert len(fixed.codes) == 4
    assert 1 <= len(capped.codes) <= 5
    for draft in (free, fixed, capped):
        assert_valid(draft, len(texts))
    with pytest.raises(ValueError):
        generate_codeframe(texts, vectors=vectors, n_codes=0)


def test_an_answer_between_two_codes_gets_both_primary_first():
    rng = np.random.default_rng(0)
    a, b = np.eye(8, dtype=np.float32)[:2]
    vectors = np.vstack(
        [a + rng.normal(0, 0.02, (30, 8)), b + rng.normal(0, 0.02, (30, 8)), 0.5 * a + 0.5 * b]
    ).astype(np.float32)
    texts = [f"price answer {i}" for i in range(30)] + [f"staff answer {i}" for i in range(30)]
    draft = generate_codeframe([*texts, "both price and staff"], vectors=vectors)
    assert_valid(draft, 61)
    assert len(draft.codes) == 2
    assert all(len(a) == 1 for a in draft.assignments[:60])  # clear answers get one code
    assert sorted(draft.assignments[-1]) == [1, 2]
    assert draft.confidences[-1][1] > 0.2


def test_is_pure_it_takes_vectors_and_embeds_only_label_phrases_through_the_callable():
    rng = np.random.default_rng(1)
    a, b = np.eye(8, dtype=np.float32)[:2]
    texts = [f"late delivery again {w}" for w in ("today", "sadly", "as usual", "twice")] + [
        f"rude staff at the {w}" for w in ("till", "door", "desk", "counter")
    ]
    vectors = np.vstack([a + rng.normal(0, 0.02, (4, 8)), b + rng.normal(0, 0.02, (4, 8))])
    with pytest.raises(TypeError):
        generate_codeframe(texts)  # no vectors: the caller embeds, the generator never does
    asked: list[list[str]] = []

    def embed(phrases: list[str]) -> np.ndarray:
        asked.append(phrases)
        return np.array([a if "deliver" in p else b for p in phrases], dtype=np.float32)

    plain = generate_codeframe(texts, vectors=vectors.astype(np.float32))
    embedded = generate_codeframe(texts, vectors=vectors.astype(np.float32), embed=embed)
    assert set(plain.timings) == {"clustering_seconds"}
    assert len(asked) == 1 and asked[0] == sorted(set(asked[0]))  # one call, each phrase once
    assert all(p.split()[0] in {"late", "delivery", "rude", "staff"} for p in asked[0])
    for draft in (plain, embedded):
        assert_valid(draft, len(texts))
        assert {c.label for c in draft.codes} == {"Late delivery", "Rude staff"}


def test_quality_floor_on_a_banking77_subset(real_model):
    """20 intents x 20 messages of BANKING77 (Casanueva et al., 2020), number of codes not given."""
    texts, gold = banking77(20, 20)
    draft = generate_codeframe(texts, vectors=embed(texts))
    assert_valid(draft, len(texts))
    primary = [a[0] if a else 0 for a in draft.assignments]
    assert normalized_mutual_info_score(gold, primary) >= 0.7
    assert sum(not a for a in draft.assignments) / len(texts) <= 0.1
    assert 10 <= len(draft.codes) <= 60
    # Labels are phrases of the code's own answers, unique; examples are its answers.
    assert len({c.label.lower() for c in draft.codes}) == len(draft.codes)
    for code in draft.codes:
        members = {t.lower() for t, a in zip(texts, draft.assignments) if a and a[0] == code.id}
        assert code.keywords and len(code.label.split()) <= 4
        assert sum(code.label.lower() in m for m in members) >= min(2, len(members))
        assert not any(ch.isdigit() for ch in code.label)
        members = {t for t, a in zip(texts, draft.assignments) if a and a[0] == code.id}
        assert set(code.examples) <= members


SURVEY = Path(__file__).parent / "data" / "survey_labelled.csv"


def test_quality_floor_on_the_labelled_sample_survey(real_model):
    """The bundled 339-answer survey (sample_data/survey_responses.csv, blank row dropped),
    hand-coded into 29 themes: a few big ones, a long tail, non-answers. Answers of one theme
    are phrased far more variously than BANKING77 messages of one intent."""
    with SURVEY.open() as f:
        rows = list(csv.DictReader(f))
    texts, gold = [r["answer"] for r in rows], [r["code"] for r in rows]
    draft = generate_codeframe(texts, vectors=embed(texts), embed=embed)
    assert_valid(draft, len(texts))
    primary = [a[0] if a else 0 for a in draft.assignments]
    assert normalized_mutual_info_score(gold, primary) >= 0.70
    # About as many codes as the hand coding's 24 themes of 3+ answers, not twice as many.
    assert 18 <= sum(c.kind == "theme" for c in draft.codes) <= 32
    labels = [c.label.lower() for c in draft.codes]
    assert len(set(labels)) == len(labels)
    assert all(
        len(label.split()) <= 5 and not any(ch.isdigit() for ch in label) for label in labels
    )
    assert sum(not a for a in draft.assignments) / len(texts) <= 0.15
    label_of = {c.id: c.label for c in draft.codes}
    code_of = dict(zip(texts, primary, strict=True))
    # The answers the 0.5 attach threshold left uncoded although their theme had a code.
    for text in [
        "Support chat never replies",
        "Nobody answers emails",
        "Wallet payments on my watch",
    ]:
        assert code_of[text], text
    assert label_of[code_of["Apple Pay please"]] == "Apple pay"
    assert "customer service" in label_of[code_of["Customer service is terrible"]].lower()
    assert code_of["xxx"] and draft.codes[code_of["xxx"] - 1].kind == "non_answer"
    # No label takes a side 30% of its code's leaning answers do not (the code of praise and
    # complaints about customer service was "Customer service is terrible").
    answers_of: dict[int, list[str]] = {}
    for text, code in zip(texts, primary, strict=True):
        answers_of.setdefault(code, []).append(text)
    for code in draft.codes:
        said = polarity.tone(code.label)
        if abs(said) < polarity.POLAR:
            continue
        leaning = [t for t in polarity.tones(answers_of[code.id]) if abs(t) >= polarity.POLAR]
        against = sum((t > 0) != (said > 0) for t in leaning)
        assert against < 0.3 * len(leaning), (code.label, against, len(leaning))


@pytest.mark.parametrize("central", ["Great", "Terrible"])
def test_a_code_of_ratings_both_ways_is_labelled_both_ways(central):
    """Every phrase of a code of "Good"/"Bad" answers takes a side, so it fell back to its
    most central answer, which took one too."""
    docs = ["Good", "Good", "Great", "Good", "Great", "Bad", "Terrible", "Bad", "Terrible", "Bad"]
    unit = np.random.default_rng(0).normal(size=(len(docs), 8))
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    centroid = unit.mean(axis=0, keepdims=True) / np.linalg.norm(unit.mean(axis=0))
    labels = phrases.choose_labels(
        labelling.count_terms(docs),
        np.zeros(len(docs), dtype=int),
        1,
        weights=np.ones(len(docs)),
        unit=unit,
        centroids=centroid,
        order=[0],
        fallbacks=[central],
        texts=docs,
    )
    positive, negative = labels[0].split(" / ")
    assert polarity.tone(positive) >= polarity.POLAR and polarity.tone(negative) <= -polarity.POLAR


def test_labels_prefer_a_dominant_bigram_and_skip_numbers_and_filler_words():
    docs = [
        "Please add Apple Pay",
        "Apple Pay please",
        "Let me use Apple Pay on my watch",
        "Apple pay for my business card",
        "The app keeps crashing",
        "App crashes every time, took 12 tries",
        "The app keeps crashing on my phone",
        "12 crashes a day, the app went down",
    ]
    groups = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    keywords = labelling.keywords_by_group(labelling.count_terms(docs), groups, 2)
    assert keywords[0][0] == "apple pay"
    # "crashing" and "crashes" are one keyword; no "12", "keeps", "took", "went", "let".
    words = {w for kw in keywords[1] for w in kw.split()}
    assert not words & {"12", "keeps", "took", "went", "let", "time"}
    assert len({"crashes", "crashing"} & words) == 1


def test_keywords_count_every_respondent_not_just_distinct_answers():
    docs = ["Better savings rates", "Interest on my ISA", "Raise the interest"]
    groups = np.zeros(3, dtype=int)
    counts = labelling.count_terms(docs)
    assert labelling.keywords_by_group(counts, groups, 1)[0][0] == "interest"
    weighted = labelling.keywords_by_group(counts, groups, 1, weights=np.array([5, 1, 1]))
    assert weighted[0][0] == "savings rates"


def test_phrases_hold_no_digits_nor_stop_words_at_their_ends():
    counts = labelling.count_terms(
        ["Flight AB123 was late, the top-up failed", "My top-up failed again", "Cost of living"]
    )
    terms = set(counts.terms.tolist())
    assert {"top-up failed", "cost of living", "flight"} <= terms
    assert not any(ch.isdigit() for t in terms for ch in t)
    assert not {"ab", "flight ab", "was late", "the top-up", "of living"} & terms
    assert all(len(t.split()) <= 4 for t in terms)


def test_two_codes_never_share_a_label():
    docs = ["lost luggage at the airport", "my luggage was lost", "lost luggage again"] * 2
    groups = np.array([0, 0, 0, 1, 1, 1])
    vectors = np.tile(np.eye(4, dtype=np.float32)[:1], (6, 1))
    labels = phrases.choose_labels(
        labelling.count_terms(docs),
        groups,
        2,
        weights=np.ones(6),
        unit=vectors,
        centroids=np.eye(4, dtype=np.float32)[:2],
        order=[0, 1],
        fallbacks=["lost luggage", "lost luggage"],
    )
    assert labels[0] == "Lost luggage"
    assert labels[1] in {"Luggage", "Lost"}  # the next phrase, not a copy or a number


def test_a_label_does_not_stop_on_a_word_its_answers_nearly_always_follow():
    """A long-tailed BANKING77 draft had "Update my personal": every answer holding it goes
    on ("... details", "... information"), and no one phrase of them is common enough to be
    its dominant extension."""
    docs = [
        "Update my personal details",
        "update my personal details please",
        "update my personal information",
        "how do I update my personal information",
        "update my personal address",
        "card arrived late",
        "my card has not arrived",
        "card still not arrived",
    ]
    groups = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    unit = np.eye(4, dtype=np.float32)[groups]
    counts = labelling.count_terms(docs)

    def labels(texts):
        return phrases.choose_labels(
            counts,
            groups,
            2,
            weights=np.ones(len(docs)),
            unit=unit,
            centroids=np.eye(4, dtype=np.float32)[:2],
            order=[0, 1],
            fallbacks=docs[:1] + docs[5:6],
            texts=texts,
        )

    assert labels(None)[0] == "Update my personal"  # without the answers' texts, as before
    assert labels(docs)[0] == "Update my personal details"
    # "personal" goes on in all 5 answers holding it; "update" in none ("my" is a stop word).
    assert labelling.runs_on("personal", docs, np.ones(len(docs))) == (5, 5)
    assert labelling.runs_on("update", docs, np.ones(len(docs))) == (5, 0)
    assert labelling.runs_on("card", docs, np.ones(len(docs))) == (3, 1)  # "card arrived"
    assert labelling.runs_on("top", ["Top up", "top up my card"], np.ones(2)) == (2, 2)


def test_two_codes_are_not_labelled_with_forms_of_one_word():
    """BANKING77's draft had "Currency" beside "Currencies" and "Exchange rate" beside
    "Exchange rates": a suffix-stripper took "rates" to "rat" and "currencies" to "currenci"."""
    for one, other in [
        ("Currency", "Currencies"),
        ("Exchange rate", "Exchange rates"),
        ("Hidden charge", "Hidden charges"),
        ("Card crashing", "Card crashes"),
    ]:
        assert phrases._signature(one) == phrases._signature(other), (one, other)
    assert phrases._signature("Rates") != phrases._signature("Rats")
    docs = ["exchange rates are bad", "bad exchange rates", "exchange rate too high"] * 2
    labels = phrases.choose_labels(
        labelling.count_terms(docs),
        np.array([0, 0, 0, 1, 1, 1]),
        2,
        weights=np.ones(6),
        unit=np.tile(np.eye(4, dtype=np.float32)[:1], (6, 1)),
        centroids=np.eye(4, dtype=np.float32)[:2],
        order=[0, 1],
        fallbacks=["exchange rates", "exchange rate"],
    )
    assert phrases._signature(labels[0]) != phrases._signature(labels[1]), labels


def test_a_big_theme_of_a_long_tailed_set_stays_one_code(real_model):
    """40 messages of one BANKING77 intent and 9 smaller intents (20 down to 4 messages): Ward
    cuts the big intent into pieces far tighter than the target, which merge back because they
    are as alike to each other as answers of one code should be (`CROSS_SHARE`)."""
    with BANKING77.open() as f:
        rows = list(csv.DictReader(f))
    by_class: dict[str, list[str]] = {}
    for row in rows:
        by_class.setdefault(row["category"], []).append(row["text"])
    sizes = [40, 20, 14, 10, 8, 7, 6, 5, 5, 4]
    texts, gold = [], []
    for category, n in zip(sorted(by_class)[::7], sizes, strict=False):
        texts += by_class[category][:n]
        gold += [category] * n
    draft = generate_codeframe(texts, vectors=embed(texts))
    assert_valid(draft, len(texts))
    primary = [a[0] if a else 0 for a in draft.assignments]
    big = Counter(p for p, g in zip(primary, gold, strict=True) if g == gold[0])
    assert big.most_common(1)[0][1] >= 0.9 * 40  # was split 27 / 13 before the rule
    assert adjusted_rand_score(gold, primary) >= 0.75  # 0.60 before


def test_big_sets_look_for_an_answers_neighbours_among_all_answers(real_model):
    """Above the sample size the neighbour similarity is still an answer's 3rd most similar
    answer of ALL answers, not of a sample (which finds a farther one and lowers the target)."""
    texts, _ = banking77(20, 20)
    x = embed(texts)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    background, exact = clustering.similarity_levels(x)
    sampled_background, sampled = clustering.similarity_levels(x, sample=100)
    within_sample = clustering.similarity_levels(x[np.linspace(0, 399, 100).round().astype(int)])
    assert abs(sampled - exact) <= 0.01
    assert within_sample[1] < exact - 0.03  # what a sample alone would have said
    assert abs(sampled_background - background) <= 0.03


def test_a_code_of_two_unrelated_themes_is_split_into_them(real_model):
    """Ward's tree over 8 messages of each of two unrelated BANKING77 intents, taken as one
    code: its halves are less alike than two answers at random, so it is split; either intent
    alone is not split, its halves being far more alike than that."""
    texts, gold = banking77(20, 8)
    x = embed(texts)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    background, _ = clustering.similarity_levels(x)
    first, last = gold[0], gold[-1]
    pick = [i for i, g in enumerate(gold) if g in {first, last}]

    def split(rows: list[int]) -> np.ndarray:
        merges = clustering._ward(x[rows])
        roots, _ = clustering._split_unrelated_halves(
            merges,
            clustering._cut_roots(merges, len(rows), 1),
            x[rows].astype(np.float64),
            np.ones(len(rows)),
            background=background,
            min_size=3,
            max_roots=10,
        )
        return clustering._label_leaves(merges, len(rows), roots)

    labels = split(pick)
    assert adjusted_rand_score([gold[i] for i in pick], labels) == 1.0
    assert len(set(split([i for i in pick if gold[i] == first]).tolist())) == 1


# Remarks on no subject of the survey (other ones than bench/codeframe_sets.py tuned with).
OFF_TOPIC = [
    "My dog needs a walk", "It is raining again here", "Who is going to win the cup final?",
    "This questionnaire is taking forever", "Spaghetti tonight I think", "Am I on the right page",
    "Typing this on the train home", "Congrats to my sister on her wedding",
    "Roadworks everywhere on my street", "Looking forward to the summer break",
    "Blue is the best colour", "test test", "When does the supermarket open on Sunday",
    "Coffee is better than tea", "Only doing this for the prize draw", "My laptop is so slow",
    "Watched a brilliant series last night", "hi there", "No idea why you sent me this",
    "The garden needs weeding",
]  # fmt: skip


def test_off_topic_remarks_are_left_uncoded_not_made_a_code(real_model):
    """11 BANKING77 intents (12 messages each) and 20 remarks on no subject at all: Ward puts
    the remarks somewhere: without the loose-code rule they made 4 codes of their own ("My dog
    needs a walk", "This questionnaire is taking forever"...: grab-bags an analyst would have
    to take apart). Those codes are hardly more alike inside than two answers at random, so they
    are dissolved and the remarks stay uncoded; the intents' codes keep their answers."""
    texts, gold = banking77(11, 12)
    texts += OFF_TOPIC
    gold += ["(off-topic)"] * len(OFF_TOPIC)
    draft = generate_codeframe(texts, vectors=embed(texts))
    assert_valid(draft, len(texts))
    assert draft.params["loose_codes"] >= 1
    off = [codes for codes, g in zip(draft.assignments, gold, strict=True) if g == "(off-topic)"]
    on = [codes for codes, g in zip(draft.assignments, gold, strict=True) if g != "(off-topic)"]
    assert sum(not codes for codes in off) >= 18  # 20 (0 without the rule)
    assert sum(not codes for codes in on) <= 1  # 0
    primary = [codes[0] if codes else 0 for codes in on]
    assert adjusted_rand_score(gold[: len(on)], primary) >= 0.7


FOREIGN = [
    "Trop de frais sur mon compte",
    "Le service client ne répond jamais",
    "El servicio al cliente es excelente",
    "La app se cierra sola cada vez que la abro",
    "Las comisiones son demasiado altas",
    "Der Kundenservice ist sehr langsam",
    "Die App stürzt ständig ab",
    "Il servizio clienti non risponde mai al telefono",
]


def test_a_code_of_answers_in_other_languages_is_named_for_them(real_model):
    """The model reads English, so answers in French, Spanish, German and Italian cluster
    together whatever they say; their code is named for their languages, not after a fragment
    of one of them, and no code of the English answers is."""
    texts, _ = banking77(8, 10)
    texts += FOREIGN
    draft = generate_codeframe(texts, vectors=embed(texts))
    assert_valid(draft, len(texts))
    label = {code.id: code.label for code in draft.codes}
    foreign_codes = Counter(label[codes[0]] for codes in draft.assignments[-len(FOREIGN) :])
    name, count = foreign_codes.most_common(1)[0]
    assert count >= 6
    assert name.startswith("Other languages: ")
    assert set(name.removeprefix("Other languages: ").split(", ")) <= {
        "French", "Spanish", "German", "Italian"
    }  # fmt: skip
    # Its keywords are its languages, not fragments of them ("abro", "al", "app se").
    [code] = [code for code in draft.codes if code.label == name]
    assert code.keywords == [n.lower() for n in name.removeprefix("Other languages: ").split(", ")]
    english = {label[codes[0]] for codes in draft.assignments[: -len(FOREIGN)] if codes}
    assert not any(name.startswith("Other languages") for name in english)


def test_a_loose_big_theme_whose_node_reaches_the_target_stays_one_code(real_model):
    """40 messages of one BANKING77 intent and 11 smaller intents (24 down to 3 messages): one
    cut height cut the big intent in 3 (28 / 8 / 4) to make up for codes that mix two small
    intents; its node and both its halves reach the target cohesion, so it stays one code."""
    with BANKING77.open() as f:
        rows = list(csv.DictReader(f))
    by_class: dict[str, list[str]] = {}
    for row in rows:
        by_class.setdefault(row["category"], []).append(row["text"])
    sizes = {
        "top_up_reverted": 40,
        "passcode_forgotten": 24,
        "balance_not_updated_after_bank_transfer": 15,
        "top_up_by_card_charge": 10,
        "cash_withdrawal_charge": 8,
        "exchange_charge": 6,
        "card_payment_not_recognised": 5,
        "declined_transfer": 5,
        "terminate_account": 4,
        "balance_not_updated_after_cheque_or_cash_deposit": 3,
        "top_up_by_bank_transfer_charge": 3,
        "contactless_not_working": 3,
    }
    texts, gold = [], []
    for category, n in sizes.items():
        texts += by_class[category][:n]
        gold += [category] * n
    draft = generate_codeframe(texts, vectors=embed(texts))
    assert_valid(draft, len(texts))
    assert draft.params["kept_whole"] >= 1
    primary = [a[0] if a else 0 for a in draft.assignments]
    big = Counter(p for p, g in zip(primary, gold, strict=True) if g == "top_up_reverted")
    assert big.most_common(1)[0][1] >= 0.85 * 40  # 36 (28 before the rule)
    assert adjusted_rand_score(gold, primary) >= 0.65  # 0.72 (0.59 before)


def test_a_net_no_shared_phrase_names_is_named_by_its_codes(real_model):
    """On the commuter survey, a net of a "Staff" and a "Station" code was labelled "Staff
    (ii)": its first code's label made unique. Named by its codes it says what it holds."""
    with (SURVEY.parent / "commuter_labelled.csv").open() as f:
        texts = [r["answer"] for r in csv.DictReader(f)]
    draft = generate_codeframe(texts, vectors=embed(texts), embed=embed)
    labels = {c.id: c.label for c in draft.codes}
    for net in draft.nets:
        assert not net.label.endswith(("(ii)", "(iii)")), net.label
        if len(net.code_ids) > 1:
            assert net.label not in labels.values()
    assert "Staff / Station" in {net.label for net in draft.nets}


def test_an_off_topic_remark_ward_put_in_a_cohesive_code_is_left_uncoded(real_model):
    """A long-tailed BANKING77 resample of 120 answers (seed 101, made for a quality review:
    small intents, non-answers, short answers, three off-topic remarks). Ward put "It's been
    raining all week" (twice) and a football result into a contactless-payments code cohesive
    enough to keep; each is far from that code's centroid (step 9 of `cluster_themes`)."""
    with (DATA / "long_tail_with_remarks.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    texts, gold = [r["text"] for r in rows], [r["code"] for r in rows]
    draft = generate_codeframe(texts, vectors=embed(texts))
    assert_valid(draft, len(texts))
    remarks = [a for a, g in zip(draft.assignments, gold, strict=True) if g == "(off-topic)"]
    assert len(remarks) == 3 and remarks == [[], [], []]
    themes = [a for a, g in zip(draft.assignments, gold, strict=True) if not g.startswith("(")]
    assert sum(not a for a in themes) <= 1  # the themes' answers stay coded


def test_an_answer_in_a_script_the_model_does_not_read_joins_the_other_languages(real_model):
    """The sample survey's Chinese answer is all unknown tokens to the model, so it landed in a
    code of emoji answers ("👍👍"), away from the code of its other-language answers that waits
    for a translation: on the demo's first page."""
    with SURVEY.open() as f:
        texts = [row["answer"] for row in csv.DictReader(f)]
    draft = generate_codeframe(texts, vectors=embed(texts), embed=embed)
    label = {code.id: code.label for code in draft.codes}
    coded = dict(zip(texts, draft.assignments, strict=True))
    assert label[coded["服务很好"][0]].startswith("Other languages: ")
    assert len(coded["服务很好"]) == 1  # its vector is no reading of it: no second code
    assert not label[coded["👍👍"][0]].startswith("Other languages")
    # An English set with a Russian answer and no such code: it stays where the vectors put it.
    english, _ = banking77(6, 10)
    alone = generate_codeframe(
        [*english, "Очень дорого"], vectors=embed([*english, "Очень дорого"])
    )
    assert not any(code.label.startswith("Other languages") for code in alone.codes)


def test_only_letters_of_another_script_than_latin_count_as_one_the_model_cannot_read():
    """An emoji's variation selector (U+FE0F in "❤️") once counted, which moved a French answer
    with a heart into the other-languages code and left it there without one."""
    from codeframe.generation import _other_script

    unread = ["服务很好", "Очень дорого", "شكرا جزيلا", "Καλή εξυπηρέτηση", "좋아요"]
    read = ["Great app ❤️", "Le service est excellent ✔️", "ﬁne \uff01", "Dịch vụ tốt", "😊👍"]
    assert [_other_script(text) for text in unread] == [True] * len(unread)
    assert [_other_script(text) for text in read] == [False] * len(read)
