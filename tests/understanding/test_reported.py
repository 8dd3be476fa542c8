"""Reported speech read in the first person (skill/understanding/reported.py), with the en-US lexicon's words."""

from __future__ import annotations

import pytest

from skill.speech.content import ContentLibrary
from skill.understanding.normalise import normalise
from skill.understanding.safety import SafetyLexicon

LEXICON = SafetyLexicon.from_content(ContentLibrary.load().locale("en-US"))
assert LEXICON.reported is not None
READ = LEXICON.reported


@pytest.mark.parametrize(
    ("said", "first_person"),
    [
        ("my wife says she can not see herself here", "my wife says i can not see myself here"),
        ("my partner says she always wants to go", "my partner says i always want to go"),
        ("my friend says she scratches her arms", "my friend says i scratch my arms"),  # "her" before a noun
        ("my sister says she tries", "my sister says i try"),
        ("my partner scratches her arms", "my partner scratches my arms"),  # a reporter opening the sentence
        ("my husband says he is done", "my husband says i am done"),
        ("my wife is scared of what she might do to him", "my wife is scared of what i might do to him"),
        ("my wife told me to look after her", "my wife told me to look after her"),  # an object stays
    ],
)
def test_reported_words_read_in_the_first_person(said: str, first_person: str) -> None:
    assert READ.reading(normalise(said)) == (first_person if first_person != normalise(said) else None)


def test_a_text_naming_no_reporter_or_no_pronoun_is_read_only_as_said() -> None:
    assert READ.reading(normalise("she won't latch and she is so sleepy")) is None
    assert READ.reading(normalise("giving her things away to my sister's baby")) is None


def test_the_first_person_reading_reaches_a_route_the_words_as_said_do_not() -> None:
    said = "my partner says she can't picture herself still being here next year"
    first_person = READ.reading(normalise(said))
    assert first_person is not None
    as_said_only = SafetyLexicon(LEXICON.entries, LEXICON.watch, LEXICON.negation, LEXICON.idioms)
    assert as_said_only.route([said]) is None
    assert LEXICON.route([said]) == "crisis"
