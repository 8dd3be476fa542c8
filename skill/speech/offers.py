"""The yes/no offers the skill makes after an answer: each one's message and its `last_offer` session value.

In skill.speech (not skill.conversation) because the renderer records the offer a message asks, and
both the conversation and the audio side make offers.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

OFFER_PREFIX = "offer."
# The reprompt after an offer whose message has no `reprompt` form of its own.
DEFAULT_OFFER_REPROMPT = "offer.reprompt"


class Offer(StrEnum):
    NEXT_TIP = "next_tip"
    MORE = "more"
    BREATHING = "breathing"

    @property
    def message_id(self) -> str:
        """The message that asks it ("Would you like another tip?")."""
        return f"{OFFER_PREFIX}{self.value}"


# The session's first tip is offered as "a tip", not "another tip"; yes to it is the same offer.
FIRST_TIP_MESSAGE = f"{OFFER_PREFIX}first_tip"


def offer_asked_by(message_id: str | None) -> Offer | None:
    """The offer a message id asks (`offer.next_tip` → NEXT_TIP); None for any other message."""
    if message_id == FIRST_TIP_MESSAGE:
        return Offer.NEXT_TIP
    return next((offer for offer in Offer if offer.message_id == message_id), None)


def open_offer(value: Any) -> Offer | None:
    """The `last_offer` session value as an Offer; None for nothing or anything a client made up."""
    return next((offer for offer in Offer if offer.value == value), None)
