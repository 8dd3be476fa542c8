"""The guide's conversation logic: which answer, which offer after it, which tip next, what "more" means.

Pure functions of the session attributes and the locale content; they return a `Reply` and update only
`heard_tips`. Handlers render the reply with `skill.speech.render.speak_reply`.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from skill.conversation import dmer
from skill.speech.content import LocaleContent
from skill.speech.offers import DEFAULT_OFFER_REPROMPT, FIRST_TIP_MESSAGE, Offer, open_offer
from skill.speech.render import HEARD_TIPS, LAST_FORM, LAST_MESSAGE, LAST_OFFER, Reply

# The order "another tip" walks through (sources.md#cleveland-letdown §4), then the extra pumping-away tip.
TIP_IDS = ("relax", "comfort", "baby", "pumping_away", "head_start", "pain", "massage", "warmth")
TIP_INTENTS: Mapping[str, str] = {
    "RelaxTipIntent": "relax",
    "ComfortTipIntent": "comfort",
    "BabyFocusTipIntent": "baby",
    "PumpingAwayTipIntent": "pumping_away",
    "HeadStartTipIntent": "head_start",
    "PainTipIntent": "pain",
    "MassageTipIntent": "massage",
    "WarmthTipIntent": "warmth",
}
ABOUT_INTENTS: Mapping[str, str] = {
    "AboutLetDownIntent": "about.letdown",
    "LetDownFeelIntent": "about.feel",
    "LetDownSignsIntent": "about.signs",
    "LetDownBlockersIntent": "about.blockers",
    "LetDownTimingIntent": "about.timing",
}
REASSURANCE_INTENTS: Mapping[str, str] = {"ReassuranceIntent": "reassure.no_right_way"}
TIP_TOPIC_SLOT = "topic"
TIP_TOPIC_TYPE = "TipTopic"
# Messages that are always spoken alone: never followed by an offer of tips.
UNOFFERED_PREFIXES = ("safety.",)


def tip_message(tip_id: str) -> str:
    return f"tip.{tip_id}"


def heard_tips(attributes: Mapping[str, Any]) -> list[str]:
    """The tips heard this session, in order; anything unexpected a client sent back is dropped."""
    raw = attributes.get(HEARD_TIPS)
    if not isinstance(raw, list):
        return []
    return [tip for tip in TIP_IDS if tip in raw]


def record_tip(attributes: MutableMapping[str, Any], tip_id: str) -> list[str]:
    heard = heard_tips(attributes)
    if tip_id not in heard:
        heard.append(tip_id)
    attributes[HEARD_TIPS] = heard
    return heard


def next_unheard_tip(heard: Sequence[str]) -> str | None:
    return next((tip for tip in TIP_IDS if tip not in heard), None)


def offer_after(message_id: str, form: str, heard: Sequence[str], content: LocaleContent) -> str | None:
    """The yes/no offer after an answer: more of it, then the next part, then another tip or breathing."""
    if message_id.startswith(UNOFFERED_PREFIXES):
        return None
    if form == "text" and content.has(message_id, "long"):
        return Offer.MORE.message_id
    if dmer.follow_on(message_id) is not None:
        return Offer.MORE.message_id
    if message_id.startswith(("tip.", "about.")) and next_unheard_tip(heard) is not None:
        # After a tip, "another" tip; after any other answer, the session's first tip is just "a tip".
        return Offer.NEXT_TIP.message_id if message_id.startswith("tip.") or heard else FIRST_TIP_MESSAGE
    return Offer.BREATHING.message_id


def answer(message_id: str, attributes: Mapping[str, Any], content: LocaleContent, form: str = "text") -> Reply:
    """A guide answer with whatever goes with it and the right offer after it."""
    return Reply(
        message_id,
        form=form,
        also=dmer.companion(message_id, form),
        then=offer_after(message_id, form, heard_tips(attributes), content),
    )


def tip_reply(tip_id: str, attributes: MutableMapping[str, Any], content: LocaleContent) -> Reply:
    record_tip(attributes, tip_id)
    return answer(tip_message(tip_id), attributes, content)


def another_tip_reply(attributes: MutableMapping[str, Any], content: LocaleContent) -> Reply:
    redirect = dmer.redirect_after(attributes.get(LAST_MESSAGE))
    if redirect is not None:
        return answer(redirect, attributes, content)
    tip_id = next_unheard_tip(heard_tips(attributes))
    if tip_id is None:
        # tip.all_heard itself asks whether to breathe (or start over).
        return Reply(
            "tip.all_heard",
            reprompt=None if content.has("tip.all_heard", "reprompt") else DEFAULT_OFFER_REPROMPT,
            offer=Offer.BREATHING,
        )
    return tip_reply(tip_id, attributes, content)


def help_reply(attributes: Mapping[str, Any], content: LocaleContent) -> Reply:
    """Help; but "what can I do?" right after the D-MER answer asks what helps with D-MER."""
    redirect = dmer.redirect_after(attributes.get(LAST_MESSAGE))
    if redirect is not None:
        return answer(redirect, attributes, content)
    return Reply("help.main", reprompt="help.reprompt")


def start_over_reply(attributes: MutableMapping[str, Any], content: LocaleContent) -> Reply:
    """Start the tips cycle again from the first tip."""
    attributes[HEARD_TIPS] = []
    return tip_reply(TIP_IDS[0], attributes, content)


def more_reply(attributes: MutableMapping[str, Any], content: LocaleContent) -> Reply:
    """Tell me more: the long form of the last answer, then the next part of its guide, else nothing more."""
    last = attributes.get(LAST_MESSAGE)
    form = attributes.get(LAST_FORM) or "text"
    if isinstance(last, str) and content.has(last):
        if form == "text" and content.has(last, "long"):
            return answer(last, attributes, content, form="long")
        following = dmer.follow_on(last)
        if following is not None:
            return answer(following, attributes, content)
    return Reply("more.nothing")


def last_offer(attributes: Mapping[str, Any]) -> Offer | None:
    return open_offer(attributes.get(LAST_OFFER))


def yes_reply(attributes: MutableMapping[str, Any], content: LocaleContent) -> Reply | None:
    """Yes to the last offer; None when the offer was breathing (the audio side answers that)."""
    offer = last_offer(attributes)
    if offer is Offer.NEXT_TIP:
        return another_tip_reply(attributes, content)
    if offer is Offer.MORE:
        return more_reply(attributes, content)
    if offer is Offer.BREATHING:
        return None
    return fallback_reply()


def fallback_reply() -> Reply:
    """Every fallback ends with the safety line: on a device a fallback carries no text we could check."""
    return Reply("fallback.main", then="fallback.safety_line", reprompt="fallback.reprompt")


def no_reply(attributes: Mapping[str, Any]) -> Reply:
    """No to an offer: acknowledge and ask what else; no to anything else: goodbye."""
    if last_offer(attributes) is not None:
        return Reply("no.ack")
    return Reply("goodbye", end_session=True)
