"""Safety answers, which win over everything: crisis, fear of harming the baby, the baby's health,
physical red flags, ongoing low mood.

Which route a request takes is decided in skill.understanding.safety (from the intent and every text
the request carries); this module maps routes to intents and answers. A safety answer is spoken alone.
Nothing about what was said is stored.
"""

from __future__ import annotations

from collections.abc import Mapping

from skill.speech.render import Reply

# The contract's order of precedence when several routes match.
ROUTE_PRECEDENCE = ("crisis", "harm_fear", "baby_health", "physical", "low_mood")
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
