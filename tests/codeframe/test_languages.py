"""codeframe.languages: answers not in English, and the name of a code made of them."""

import csv
from pathlib import Path

import pytest

from codeframe import languages

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "survey_responses.csv"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Trop de frais sur mon compte 😡", "fr"),
        ("El servicio al cliente es excelente 👍", "es"),
        ("La app se cierra sola cada vez que la abro", "es"),
        ("Der Kundenservice ist sehr langsam", "de"),
        ("服务很好", "zh"),
        ("Il servizio clienti non risponde mai al telefono", "it"),
        # English, however short, and answers with no words at all
        ("ok", None),
        ("fine", None),
        ("Great service overall", None),
        ("The app keeps crashing when I try to log in", None),
        ("👍👍", None),
        ("???", None),
    ],
)
def test_language_of_names_only_answers_surely_not_in_english(text, language):
    assert languages.language_of(text) == language


def test_no_answer_of_the_english_sample_survey_is_taken_for_another_language():
    with SAMPLE.open(newline="", encoding="utf-8") as handle:
        answers = [row["answer"] for row in csv.DictReader(handle)]
    foreign = {a for a in answers if languages.language_of(a)}
    assert foreign == {
        "Trop de frais sur mon compte 😡",
        "El servicio al cliente es excelente 👍",
        "La app se cierra sola cada vez que la abro",
        "Der Kundenservice ist sehr langsam",
        "服务很好",
    }


def test_a_code_is_named_for_its_languages_only_when_most_answers_are_in_them():
    foreign = [
        "El servicio al cliente es excelente",
        "La app se cierra sola cada vez que la abro",
        "Der Kundenservice ist sehr langsam",
    ]
    english = ["Fees are too high", "The app crashes", "Staff were rude", "Great bank"]
    assert languages.other_languages_label(foreign) == "Other languages: Spanish, German"
    assert languages.other_languages_label([*foreign, english[0]]) is not None  # 3 of 4
    assert languages.other_languages_label([*foreign[:2], *english[:2]]) is None  # 2 of 4
    assert languages.other_languages_label(english) is None
    assert languages.other_languages_label([]) is None
