"""The one renderer: message ids (and SSML audio) into Alexa responses, with variants, offers, whisper, reprompts.

Every spoken response is built here: handlers never hold prose, they call
`speak(handler_input, content, "tip.relax", then="offer.next_tip")` with the request's locale content.
What was said is recorded for Repeat by `record_for_repeat` (run by a response interceptor on every answer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ask_sdk_core.handler_input import HandlerInput
from ask_sdk_core.response_helper import ResponseFactory
from ask_sdk_model import Response

from skill.speech.content import MAX_SPEECH_CHARS, LocaleContent
from skill.speech.offers import DEFAULT_OFFER_REPROMPT, Offer, offer_asked_by
from skill.storage import keys

# Session attribute names (the contract's conversation state plus what Repeat and Tell-me-more need).
LAST_MESSAGE = "last_message"
LAST_FORM = "last_form"
LAST_OFFER = "last_offer"
LAST_SSML = "last_ssml"
LAST_REPROMPT = "last_reprompt"
HEARD_TIPS = "heard_tips"

WHISPER_OPEN = '<amazon:effect name="whispered">'
WHISPER_CLOSE = "</amazon:effect>"

ERROR_MESSAGE = "error.generic"
ERROR_REPROMPT = "error.reprompt"


class SpeechTooLong(ValueError):
    """A rendered response is over Alexa's 8,000-character limit."""


def has_session(handler_input: HandlerInput) -> bool:
    return handler_input.request_envelope.session is not None


def session_attributes(handler_input: HandlerInput) -> dict[str, Any]:
    """The session attributes, or a throw-away dict for requests without a session (AudioPlayer events)."""
    attributes = handler_input.attributes_manager.session_attributes if has_session(handler_input) else None
    return attributes if attributes is not None else {}


def whisper_preferred(handler_input: HandlerInput) -> bool:
    return bool(handler_input.attributes_manager.persistent_attributes.get(keys.WHISPER, False))


def whispered(ssml: str) -> str:
    if ssml.startswith(WHISPER_OPEN) and ssml.endswith(WHISPER_CLOSE):
        return ssml
    return f"{WHISPER_OPEN}{ssml}{WHISPER_CLOSE}"


def speak(
    handler_input: HandlerInput,
    content: LocaleContent,
    message_id: str,
    *,
    form: str = "text",
    then: str | None = None,
    reprompt: str | None = None,
    end_session: bool | None = None,
    also: str | None = None,
    offer: Offer | None = None,
) -> ResponseFactory:
    """Speak one variant of `message_id` (its `form`), optionally followed by the offer message `then`.

    `also` is a further statement (its text form) spoken between the message and the offer.
    `offer` is the `last_offer` to record when the message itself asks the yes/no question
    (otherwise it follows from `then`).

    Reprompt: the message id `reprompt` if given; else the offer's own reprompt (or `offer.reprompt`);
    else the message's `reprompt` form if it has one. With a reprompt the session stays open; without
    one it ends, unless `end_session` says otherwise. Records what was said for Tell me more and Yes/No.
    """
    ssml = content.pick(message_id, form)
    if also is not None:
        ssml = f"{ssml} {content.pick(also)}"
    if then is not None:
        ssml = f"{ssml} {content.pick(then)}"
    reprompt_ssml = choose_reprompt(content, message_id, form, then, reprompt)
    remember(handler_input, message_id, form, then, offer=offer)
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
    offer: Offer | None = None


def speak_reply(handler_input: HandlerInput, content: LocaleContent, reply: Reply) -> ResponseFactory:
    return speak(
        handler_input,
        content,
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
    *,
    offer: Offer | None = None,
) -> None:
    """Record what was said: the main message id and form, and the open offer (`offer`, else the one
    `then` makes). A no-op outside a session."""
    attributes = session_attributes(handler_input)
    attributes[LAST_MESSAGE] = message_id
    attributes[LAST_OFFER] = offer or offer_asked_by(then)
    if form == "text":
        attributes.pop(LAST_FORM, None)
    else:
        attributes[LAST_FORM] = form


def speak_with_audio(
    handler_input: HandlerInput, content: LocaleContent, message_id: str, audio_url: str, *, then: str
) -> ResponseFactory:
    """The message (if the locale has it), an SSML <audio> clip, then the offer `then`; the session stays open.

    Whisper, when preferred, is for Alexa's words only, not for the recorded clip."""
    intro = content.pick(message_id) if content.has(message_id) else ""
    offer = content.pick(then)
    reprompt = choose_reprompt(content, message_id, "text", then, None) or ""
    remember(handler_input, message_id, "text", then)
    if whisper_preferred(handler_input):
        intro, offer, reprompt = (whispered(part) if part else part for part in (intro, offer, reprompt))
    audio = f'<audio src="{escape_attribute(audio_url)}"/>'
    return put_speech(handler_input, join_speech(intro, audio, offer), reprompt, end_session=False)


def speak_error(handler_input: HandlerInput, content: LocaleContent) -> ResponseFactory:
    """The apology after a handler failed: plain voice (the stored whisper preference is not read, since
    the store may be what failed), recording only the message id; the session stays open."""
    session_attributes(handler_input)[LAST_MESSAGE] = ERROR_MESSAGE
    return put_speech(handler_input, content.pick(ERROR_MESSAGE), content.pick(ERROR_REPROMPT), end_session=None)


def join_speech(*parts: str) -> str:
    return " ".join(part for part in parts if part)


def escape_attribute(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def respond(
    handler_input: HandlerInput, ssml: str, reprompt_ssml: str | None, end_session: bool | None
) -> ResponseFactory:
    """Put rendered SSML (and reprompt) on the response builder, in the user's preferred voice style.

    Without `end_session`, the session stays open exactly when there is a reprompt."""
    if whisper_preferred(handler_input):
        ssml = whispered(ssml)
        reprompt_ssml = whispered(reprompt_ssml) if reprompt_ssml is not None else None
    if end_session is None:
        end_session = reprompt_ssml is None
    return put_speech(handler_input, ssml, reprompt_ssml, end_session)


def put_speech(
    handler_input: HandlerInput, ssml: str, reprompt_ssml: str | None, end_session: bool | None
) -> ResponseFactory:
    """Speech and reprompt on the response builder, as they are; `end_session` None leaves the SDK's default."""
    if len(ssml) + len("<speak></speak>") > MAX_SPEECH_CHARS:
        raise SpeechTooLong(f"response speech is {len(ssml)} characters")
    builder = handler_input.response_builder
    builder.speak(ssml)
    if reprompt_ssml is not None:
        builder.ask(reprompt_ssml)
    if end_session is not None:
        builder.set_should_end_session(end_session)
    return builder


def record_for_repeat(handler_input: HandlerInput, response: Response | None) -> None:
    """Remember a spoken response's speech and reprompt (as sent) for Repeat; responses without speech
    (Play directives, events) leave the last one in place. A no-op outside a session."""
    speech = getattr(getattr(response, "output_speech", None), "ssml", None)
    if not speech or not has_session(handler_input):
        return
    reprompt = getattr(getattr(getattr(response, "reprompt", None), "output_speech", None), "ssml", None)
    attributes = session_attributes(handler_input)
    attributes[LAST_SSML] = inner_ssml(speech)
    attributes[LAST_REPROMPT] = inner_ssml(reprompt) if reprompt is not None else None


def inner_ssml(document: str) -> str:
    """The SSML inside a response's <speak> element."""
    text = document.strip()
    if text.startswith("<speak>") and text.endswith("</speak>"):
        return text[len("<speak>") : -len("</speak>")].strip()
    return text


def repeat_last(handler_input: HandlerInput) -> ResponseFactory | None:
    """Replay the last response's speech and reprompt; None when nothing was said in this session."""
    attributes = session_attributes(handler_input)
    ssml = attributes.get(LAST_SSML)
    if not ssml:
        return None
    return respond(handler_input, ssml, attributes.get(LAST_REPROMPT), None)
