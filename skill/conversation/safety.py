"""Safety routing, which wins over everything: crisis, fear of harming the baby, the baby's health,
physical red flags, ongoing low mood.

The safety intents map to their answers. Independently, any text that reaches the skill (slot
values from Alexa, or the resolver's whole utterance) is checked for red-flag words, kept per locale in
the content entry `safety.triggers`; a match answers with the safety message first and alone.
Nothing about what was said is stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from skill.speech.content import LocaleContent
from skill.speech.render import Reply
from skill.text import plain_words

TRIGGERS_KEY = "safety.triggers"
# Checked in this order: the first route with a match wins.
ROUTES = ("crisis", "harm_fear", "baby_health", "physical", "low_mood")
SAFETY_INTENTS: Mapping[str, str] = {
    "CrisisIntent": "crisis",
    "HarmFearIntent": "harm_fear",
    "BabyHealthIntent": "baby_health",
    "PhysicalRedFlagIntent": "physical",
    "LowMoodIntent": "low_mood",
}
ROUTE_INTENTS: Mapping[str, str] = {route: intent for intent, route in SAFETY_INTENTS.items()}


def message_for_route(route: str) -> str:
    return f"safety.{route}"


def safety_reply(route: str) -> Reply:
    """A safety answer is spoken alone: no tip, no offer. It stays open only if its message has a reprompt."""
    return Reply(message_for_route(route))


def red_flag_route(texts: Iterable[str | None], content: LocaleContent) -> str | None:
    """The first safety route whose trigger phrase appears (as whole words) in any of the texts."""
    padded = [f" {plain_words(text)} " for text in texts if text]
    if not padded or not content.has_data(TRIGGERS_KEY):
        return None
    triggers = content.data(TRIGGERS_KEY)
    for route in ROUTES:
        for phrase in triggers.get(route, ()):
            needle = f" {plain_words(phrase)} "
            if any(needle in text for text in padded):
                return route
    return None
