"""codeframe.nonanswers: the lexicon and rules that keep non-answers out of the themes."""

import pytest

from codeframe.nonanswers import DONT_KNOW, NOTHING, UNINTELLIGIBLE, classify, normalise


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Nothing really, sorry", NOTHING),
        ("N/A", NOTHING),
        ("...", NOTHING),
        ("?", NOTHING),
        (".", NOTHING),
        ("No reason", NOTHING),
        ("as above", NOTHING),
        ("See previous answer", NOTHING),
        ("I don't know", DONT_KNOW),
        ("dunno", DONT_KNOW),
        ("Hmm", DONT_KNOW),  # hesitation alone (a label review found it in a theme code)
        ("hmmm...", DONT_KNOW),
        ("Erm", DONT_KNOW),
        ("ummm err", DONT_KNOW),
        ("Hmm the app is slow", None),
        ("uh-uh", None),
        ("Umbrella", None),
        ("asdfgh", UNINTELLIGIBLE),
        ("sdfghj", UNINTELLIGIBLE),
        ("x", UNINTELLIGIBLE),
        ("xxx", UNINTELLIGIBLE),
        ("ZZZZ", UNINTELLIGIBLE),
        ("No nothing", NOTHING),
        ("CCTV", None),
        ("ATM", None),
        ("No fees please", None),
        ("👍", None),
        ("Très bon service", None),
        ("Nothing works on the app", None),
        ("Fees fees fees", None),
        ("Why?", None),
    ],
)
def test_non_answer_rules(text, expected):
    assert classify(normalise(text)) == expected
