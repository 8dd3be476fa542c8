"""Turning message ids into Alexa responses: variants, offers, whisper, reprompts, and memory for Repeat.

Handlers never hold prose: they call `speak(handler_input, deps, "tip.relax", then="offer.next_tip")`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ask_sdk_core.handler_input import HandlerInput
from ask_sdk_core.response_helper import ResponseFactory
from ask_sdk_core.utils import get_locale

from skill.speech.content import MAX_SPEECH_CHARS, LocaleContent

if TYPE_CHECKING:  # skill.alexa.deps imports the track catalog; only its type is needed here
    from skill.alexa.deps import SkillDeps

# Session attribute names (the contract's conversation state plus what Repeat and Tell-me-more need).
LAST_MESSAGE = "last_message"
LAST_FORM = "last_form"
LAST_OFFER = "last_offer"
LAST_SSML = "last_ssml"
LAST_REPROMPT = "last_reprompt"
HEARD_TIPS = "heard_tips"

WHISPER_KEY = "whisper"
WHISPER_OPEN = '<amazon:effect name="whispered">'
WHISPER_CLOSE = "</amazon:effect>"

# An appended offer message id → the `last_offer` value that Yes/No answer.
OFFERS = {
    "offer.next_tip": "next_tip",
    "offer.first_tip": "next_tip",
    "offer.more": "more",
    "offer.breathing": "breathing",
}
DEFAULT_OFFER_REPROMPT = "offer.reprompt"


class SpeechTooLong(ValueError):
    """A rendered response is over Alexa's 8,000-character limit."""


def content_for(handler_input: HandlerInput, deps: SkillDeps) -> LocaleContent:
    return deps.content.locale(get_locale(handler_input))


def has_session(handler_input: HandlerInput) -> bool:
    return handler_input.request_envelope.session is not None


def session_attributes(handler_input: HandlerInput) -> dict[str, Any]:
    """The session attributes, or a throw-away dict for requests without a session (AudioPlayer events)."""
    if not has_session(handler_input):
        return {}
    return handler_input.attributes_manager.session_attributes


def whisper_preferred(handler_input: HandlerInput) -> bool:
    return bool(handler_input.attributes_manager.persistent_attributes.get(WHISPER_KEY, False))


def whispered(ssml: str) -> str:
    if ssml.startswith(WHISPER_OPEN) and ssml.endswith(WHISPER_CLOSE):
        return ssml
    return f"{WHISPER_OPEN}{ssml}{WHISPER_CLOSE}"


def speak(
    handler_input: HandlerInput,
    deps: SkillDeps,
    message_id: str,
    *,
    form: str = "text",
    then: str | None = None,
    reprompt: str | None = None,
    end_session: bool | None = None,
    also: str | None = None,
    offer: str | None = None,
) -> ResponseFactory:
    """Speak one variant of `message_id` (its `form`), optionally followed by the offer message `then`.

    `also` is a further statement (its text form) spoken between the message and the offer.
    `offer` is the `last_offer` to record when the message itself asks the yes/no question
    (otherwise it follows from `then`).

    Reprompt: the message id `reprompt` if given; else the offer's own reprompt (or `offer.reprompt`);
    else the message's `reprompt` form if it has one. With a reprompt the session stays open; without
    one it ends, unless `end_session` says otherwise. Records what was said for Repeat / Tell me more.
    """
    content = content_for(handler_input, deps)
    ssml = content.pick(message_id, form)
    if also is not None:
        ssml = f"{ssml} {content.pick(also)}"
    if then is not None:
        ssml = f"{ssml} {content.pick(then)}"
    reprompt_ssml = choose_reprompt(content, message_id, form, then, reprompt)
    remember(handler_input, message_id, form, then, ssml, reprompt_ssml, offer=offer)
    return respond(handler_input, ssml, reprompt_ssml, end_session)


@dataclass(frozen=True)
class Reply:
    """What to say, decided by the conversation logic; `speak_reply` renders it."""

    message_id: str
    form: str = "text"
    then: str | None = None
    reprompt: str | None = None
    end_session: bool | None = None
    also: str | None = None
    offer: str | None = None


def speak_reply(handler_input: HandlerInput, deps: SkillDeps, reply: Reply) -> ResponseFactory:
    return speak(
        handler_input,
        deps,
        reply.message_id,
        form=reply.form,
        then=reply.then,
        reprompt=reply.reprompt,
        end_session=reply.end_session,
        also=reply.also,
        offer=reply.offer,
    )


def choose_reprompt(
    content: LocaleContent, message_id: str, form: str, then: str | None, reprompt: str | None
) -> str | None:
    if reprompt is not None:
        return content.pick(reprompt)
    if then is not None:
        return content.pick(then, "reprompt") if content.has(then, "reprompt") else content.pick(DEFAULT_OFFER_REPROMPT)
    if content.has(message_id, "reprompt"):
        return content.pick(message_id, "reprompt")
    return None


def remember(
    handler_input: HandlerInput,
    message_id: str,
    form: str,
    then: str | None,
    ssml: str,
    reprompt_ssml: str | None,
    *,
    offer: str | None = None,
) -> None:
    """Record what was said: the main message id, the open offer (`offer`, else the one `then` makes),
    and the rendered speech and reprompt for Repeat. A no-op outside a session."""
    attributes = session_attributes(handler_input)
    attributes[LAST_MESSAGE] = message_id
    attributes[LAST_OFFER] = offer or OFFERS.get(then or "")
    attributes[LAST_SSML] = ssml
    attributes[LAST_REPROMPT] = reprompt_ssml
    if form == "text":
        attributes.pop(LAST_FORM, None)
    else:
        attributes[LAST_FORM] = form


def respond(
    handler_input: HandlerInput, ssml: str, reprompt_ssml: str | None, end_session: bool | None
) -> ResponseFactory:
    """Put rendered SSML (and reprompt) on the response builder, in the user's preferred voice style."""
    whisper = whisper_preferred(handler_input)
    speech = whispered(ssml) if whisper else ssml
    if len(speech) + len("<speak></speak>") > MAX_SPEECH_CHARS:
        raise SpeechTooLong(f"response speech is {len(speech)} characters")
    builder = handler_input.response_builder
    builder.speak(speech)
    if reprompt_ssml is not None:
        builder.ask(whispered(reprompt_ssml) if whisper else reprompt_ssml)
    if end_session is None:
        end_session = reprompt_ssml is None
    builder.set_should_end_session(end_session)
    return builder


def repeat_last(handler_input: HandlerInput) -> ResponseFactory | None:
    """Replay the last response's speech and reprompt; None when nothing was said in this session."""
    attributes = session_attributes(handler_input)
    ssml = attributes.get(LAST_SSML)
    if not ssml:
        return None
    return respond(handler_input, ssml, attributes.get(LAST_REPROMPT), None)
