"""Safety routing as pure functions: red-flag words in any text, as whole words, the first route winning."""

from __future__ import annotations

import pytest

from skill.conversation import safety
from skill.speech.content import ContentLibrary, LocaleContent
from skill.speech.render import Reply


@pytest.fixture(scope="module")
def content() -> LocaleContent:
    return ContentLibrary.load(seed=1).locale("en-US")


def first_trigger(content: LocaleContent, route: str) -> str:
    return str(content.data(safety.TRIGGERS_KEY)[route][0])


@pytest.mark.parametrize("route", safety.ROUTES)
def test_a_trigger_phrase_in_any_text_finds_its_route(content: LocaleContent, route: str) -> None:
    phrase = first_trigger(content, route)
    assert safety.red_flag_route([None, "", f"well, {phrase.upper()}!"], content) == route


def test_the_first_route_in_order_wins(content: LocaleContent) -> None:
    first, *later = safety.ROUTES
    texts = [first_trigger(content, route) for route in reversed(later)] + [first_trigger(content, first)]
    assert safety.red_flag_route(texts, content) == first


def test_ordinary_words_and_parts_of_words_are_not_red_flags(content: LocaleContent) -> None:
    assert safety.red_flag_route(["how do I get my milk to let down", "warm washcloth"], content) is None
    phrase = first_trigger(content, safety.ROUTES[0])
    assert safety.red_flag_route([f"x{phrase.replace(' ', '')}x"], content) is None
    assert safety.red_flag_route([], content) is None


def test_a_safety_answer_is_spoken_alone() -> None:
    for intent, route in safety.SAFETY_INTENTS.items():
        assert safety.ROUTE_INTENTS[route] == intent
        assert safety.safety_reply(route) == Reply(f"safety.{route}")
