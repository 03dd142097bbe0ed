"""codeframe.suggestions: new themes among a wave's uncoded answers, numbered above the frame."""

import numpy as np
import pytest

from codeframe.coding import code_answers
from codeframe.suggestions import new_code_numbers, suggest_codes
from tests.codeframe.test_coding import EXAMPLES, topic_embed


def test_uncoded_crowds_become_suggestions_with_their_answers():
    on_topic = [f"{t} comment {i}" for i in range(15) for t in ("fees", "app", "staff")]
    trains = [f"trains late again {i}" for i in range(12)]
    texts = on_topic + trains + ["", "nothing", "asdfgh"]
    vectors = topic_embed(texts)
    coded = code_answers(EXAMPLES, texts, vectors=vectors, embed=topic_embed)
    suggestions = suggest_codes(texts, vectors=vectors, coded=coded)
    assert suggestions, coded.uncoded_reasons
    taken = [i for s in suggestions for i in s.answers]
    assert len(taken) == len(set(taken))
    # Only answers the frame could not code, never blanks or non-answers.
    assert set(taken) <= set(range(len(on_topic), len(on_topic) + len(trains)))
    assert sum(s.size for s in suggestions) >= 9
    for s in suggestions:
        assert s.size == len(s.answers) >= 3 and s.label and s.examples
        assert set(s.examples) <= {texts[i] for i in s.answers}
    assert [s.size for s in suggestions] == sorted((s.size for s in suggestions), reverse=True)


def test_nothing_to_suggest_when_everything_fits():
    texts = [f"fees comment {i}" for i in range(10)]
    vectors = topic_embed(texts)
    coded = code_answers(EXAMPLES, texts, vectors=vectors, embed=topic_embed)
    assert suggest_codes(texts, vectors=vectors, coded=coded) == []


def test_mismatched_inputs_raise():
    texts = ["fees a", "fees b"]
    coded = code_answers(EXAMPLES, texts, embed=topic_embed)
    with pytest.raises(ValueError, match="2 texts, 1 vectors"):
        suggest_codes(texts, vectors=np.zeros((1, 32)), coded=coded)


def test_accepted_codes_are_numbered_above_every_number_used():
    assert new_code_numbers([1, 2, 5], 2) == [6, 7]
    assert new_code_numbers([], 1) == [1]
    assert new_code_numbers([3], 0) == []
    with pytest.raises(ValueError):
        new_code_numbers([1], -1)
