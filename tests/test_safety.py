"""Safety routing as pure functions: routes, precedence and answers (the lexicon's cases: tests/understanding)."""

from __future__ import annotations

import pytest

from skill.conversation import safety
from skill.speech.content import ContentLibrary
from skill.speech.render import Reply
from skill.understanding.safety import SafetyLexicon, decide


@pytest.fixture(scope="module")
def lexicon() -> SafetyLexicon:
    return SafetyLexicon.from_content(ContentLibrary.load(seed=1).locale("en-US"))


def test_a_safety_word_in_any_text_finds_its_route(lexicon: SafetyLexicon) -> None:
    assert lexicon.route([None, "", "well, I WANT TO DIE!"]) == "crisis"


def test_the_first_route_in_precedence_wins(lexicon: SafetyLexicon) -> None:
    texts = ["I have a fever", "no wet diapers today", "I'm scared I'll hurt my baby", "I want to die"]
    assert lexicon.route(texts) == "crisis"
    assert lexicon.routes(texts) == ["crisis", "harm_fear", "baby_health", "physical"]


def test_ordinary_words_and_parts_of_words_are_not_red_flags(lexicon: SafetyLexicon) -> None:
    assert lexicon.route(["how do I get my milk to let down", "warm washcloth"]) is None
    assert lexicon.route(["xwanttodiex", "feverfew tea"]) is None
    assert lexicon.route([]) is None


def test_the_intent_itself_decides_too(lexicon: SafetyLexicon) -> None:
    for intent, route in safety.SAFETY_INTENTS.items():
        assert decide(lexicon, intent, []) == route
    assert decide(lexicon, "TipIntent", ["warmth"]) is None


def test_a_safety_answer_is_spoken_alone() -> None:
    for intent, route in safety.SAFETY_INTENTS.items():
        assert safety.ROUTE_INTENTS[route] == intent
        assert safety.safety_reply(route) == Reply(f"safety.{route}")
    assert tuple(safety.SAFETY_INTENTS.values()) == safety.ROUTE_PRECEDENCE
