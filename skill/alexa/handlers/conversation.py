"""Thin handlers for the conversation: launch, the guide, tips, D-MER, reassurance, safety, built-ins.

Each handler declares the intents it answers in `intent_names` (skill.alexa.handlers.base); the
logic lives in skill.conversation (guidance, dmer, safety), the words in skill/speech/locale.
Playback handlers are registered before these, so Stop/Cancel/StartOver/Next/Previous while a track of
ours is current go there; the rest come here.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from ask_sdk_core.handler_input import HandlerInput
from ask_sdk_model import Response
from ask_sdk_model.interfaces.audioplayer import StopDirective

from skill.alexa import audio_player
from skill.alexa.can_fulfill import can_fulfill_response
from skill.alexa.deps import SkillDeps
from skill.alexa.handlers.base import SkillRequestHandler
from skill.alexa.interceptors import locale_content
from skill.alexa.requests import intent_name, locale
from skill.alexa.slots import resolved_slot_id
from skill.alexa.slots import slot as named_slot
from skill.conversation import dmer, guidance
from skill.interaction_model import InteractionModel
from skill.speech.content import LocaleContent
from skill.speech.render import (
    Reply,
    repeat_last,
    session_attributes,
    speak,
    speak_reply,
)
from skill.storage import keys
from skill.storage.keys import Activity

log = logging.getLogger(__name__)

# Spoken when TipIntent names a topic the skill has no tip for: the list of topics.
UNKNOWN_TOPIC_MESSAGE = "tip.topics"


class ConversationHandler(SkillRequestHandler):
    """Base of the conversation's handlers: the locale's content and model, and `reply` to render a Reply."""

    def content(self, handler_input: HandlerInput) -> LocaleContent:
        return locale_content(handler_input)

    def model(self, handler_input: HandlerInput) -> InteractionModel | None:
        return self.deps.models.for_locale(locale(handler_input))

    def reply(self, handler_input: HandlerInput, reply: Reply) -> Response:
        return speak_reply(handler_input, self.content(handler_input), reply).response


class LaunchHandler(ConversationHandler):
    """First visit: what the skill is, that it is not medical advice, and an offer; later: shorter."""

    request_types = ("LaunchRequest",)

    def handle(self, handler_input: HandlerInput) -> Response:
        message = "launch.first" if count_visit(handler_input) == 0 else "launch.returning"
        return self.reply(handler_input, Reply(message, reprompt="launch.reprompt"))


def count_visit(handler_input: HandlerInput) -> int:
    """Store one more visit; returns the visits before this one (0 for the first, or for junk stored)."""
    stored = handler_input.attributes_manager.persistent_attributes
    visits = stored.get(keys.VISITS)
    visits = visits if isinstance(visits, int) and not isinstance(visits, bool) and visits > 0 else 0
    stored[keys.VISITS] = visits + 1
    handler_input.attributes_manager.save_persistent_attributes()
    return visits


class GuideHandler(ConversationHandler):
    """Understanding the let-down, D-MER and reassurance: an answer, then an offer of more."""

    MESSAGES: ClassVar[dict[str, str]] = {
        **guidance.ABOUT_INTENTS,
        **dmer.DMER_INTENTS,
        **guidance.REASSURANCE_INTENTS,
    }
    intent_names = tuple(MESSAGES)

    def handle(self, handler_input: HandlerInput) -> Response:
        message_id = self.MESSAGES[intent_name(handler_input)]
        attributes = session_attributes(handler_input)
        return self.reply(handler_input, guidance.answer(message_id, attributes, self.content(handler_input)))


class NamedTipHandler(ConversationHandler):
    intent_names = tuple(guidance.TIP_INTENTS)

    def handle(self, handler_input: HandlerInput) -> Response:
        tip_id = guidance.TIP_INTENTS[intent_name(handler_input)]
        attributes = session_attributes(handler_input)
        return self.reply(handler_input, guidance.tip_reply(tip_id, attributes, self.content(handler_input)))


class TipTopicHandler(ConversationHandler):
    """TipIntent {topic}: the resolved topic's tip; no topic: the next tip; unknown topic: the topic list."""

    intent_names = ("TipIntent",)

    def handle(self, handler_input: HandlerInput) -> Response:
        attributes = session_attributes(handler_input)
        content = self.content(handler_input)
        slot = named_slot(handler_input, guidance.TIP_TOPIC_SLOT)
        spoken = getattr(slot, "value", None)
        if not spoken:
            return self.reply(handler_input, guidance.another_tip_reply(attributes, content))
        tip_id = self.topic_id(handler_input, slot)
        if tip_id is None:
            return self.reply(handler_input, Reply(UNKNOWN_TOPIC_MESSAGE))
        return self.reply(handler_input, guidance.tip_reply(tip_id, attributes, content))

    def topic_id(self, handler_input: HandlerInput, slot: Any) -> str | None:
        tip_id = resolved_slot_id(slot)
        if tip_id is None:
            model = self.model(handler_input)
            tip_id = model.value_id(guidance.TIP_TOPIC_TYPE, slot.value) if model else None
        return tip_id if tip_id in guidance.TIP_IDS else None


class AnotherTipHandler(ConversationHandler):
    """Another tip (or "next" when no track is current): the first tip not heard in this session."""

    intent_names = ("AnotherTipIntent", "AMAZON.NextIntent")

    def handle(self, handler_input: HandlerInput) -> Response:
        reply = guidance.another_tip_reply(session_attributes(handler_input), self.content(handler_input))
        return self.reply(handler_input, reply)


class TellMeMoreHandler(ConversationHandler):
    intent_names = ("TellMeMoreIntent",)

    def handle(self, handler_input: HandlerInput) -> Response:
        reply = guidance.more_reply(session_attributes(handler_input), self.content(handler_input))
        return self.reply(handler_input, reply)


class WhisperHandler(ConversationHandler):
    """A stored voice preference (not health data): applies from this answer on."""

    intent_names = ("WhisperOnIntent", "WhisperOffIntent")

    def handle(self, handler_input: HandlerInput) -> Response:
        whisper = intent_name(handler_input) == "WhisperOnIntent"
        handler_input.attributes_manager.persistent_attributes[keys.WHISPER] = whisper
        handler_input.attributes_manager.save_persistent_attributes()
        message = "whisper.on" if whisper else "whisper.off"
        # Mid-conversation the session stays open; a one-shot "ask … to whisper" ends as before.
        session = handler_input.request_envelope.session
        in_conversation = session is not None and not session.new
        return self.reply(handler_input, Reply(message, reprompt="whisper.reprompt" if in_conversation else None))


class HelpHandler(ConversationHandler):
    intent_names = ("AMAZON.HelpIntent",)

    def handle(self, handler_input: HandlerInput) -> Response:
        reply = guidance.help_reply(session_attributes(handler_input), self.content(handler_input))
        return self.reply(handler_input, reply)


class FallbackHandler(ConversationHandler):
    intent_names = ("AMAZON.FallbackIntent",)

    def handle(self, handler_input: HandlerInput) -> Response:
        return self.reply(handler_input, guidance.fallback_reply())


class StopHandler(ConversationHandler):
    """Stop and Cancel: goodbye and end; stop the player too if the device says it is still playing."""

    intent_names = ("AMAZON.StopIntent", "AMAZON.CancelIntent")

    def handle(self, handler_input: HandlerInput) -> Response:
        builder = speak(handler_input, self.content(handler_input), "goodbye", end_session=True)
        if audio_player.player_activity(handler_input) == Activity.PLAYING:
            builder.add_directive(StopDirective())
        return builder.response


class RepeatHandler(ConversationHandler):
    """Repeat (or "previous" when no track is current): the last answer again, word for word."""

    intent_names = ("AMAZON.RepeatIntent", "AMAZON.PreviousIntent")

    def handle(self, handler_input: HandlerInput) -> Response:
        builder = repeat_last(handler_input)
        if builder is None:
            return self.reply(handler_input, Reply("repeat.nothing"))
        return builder.response


class YesHandler(ConversationHandler):
    intent_names = ("AMAZON.YesIntent",)

    def handle(self, handler_input: HandlerInput) -> Response:
        reply = guidance.yes_reply(session_attributes(handler_input), self.content(handler_input))
        if reply is None:
            return breathing_handoff(handler_input, self.deps)
        return self.reply(handler_input, reply)


class NoHandler(ConversationHandler):
    intent_names = ("AMAZON.NoIntent",)

    def handle(self, handler_input: HandlerInput) -> Response:
        return self.reply(handler_input, guidance.no_reply(session_attributes(handler_input)))


class NavigateHomeHandler(ConversationHandler):
    intent_names = ("AMAZON.NavigateHomeIntent",)

    def handle(self, handler_input: HandlerInput) -> Response:
        return self.reply(handler_input, Reply("home.main", reprompt="launch.reprompt"))


class StartOverHandler(ConversationHandler):
    """Start over (no track current): the tips cycle begins again."""

    intent_names = ("AMAZON.StartOverIntent",)

    def handle(self, handler_input: HandlerInput) -> Response:
        reply = guidance.start_over_reply(session_attributes(handler_input), self.content(handler_input))
        return self.reply(handler_input, reply)


class CanFulfillHandler(ConversationHandler):
    """Name-free routing: can the skill answer this intent and its slots? No speech, storage or session."""

    request_types = ("CanFulfillIntentRequest",)

    def handle(self, handler_input: HandlerInput) -> Response:
        return can_fulfill_response(handler_input, self.model(handler_input))


class UnmatchedIntentHandler(ConversationHandler):
    """Any other IntentRequest (an intent no handler answers here): the fallback, never a dead end.

    Excluded from `letdown model check`'s "every intent has a handler" test."""

    request_types = ("IntentRequest",)
    catch_all = True

    def handle(self, handler_input: HandlerInput) -> Response:
        log.warning("no handler for intent %s", intent_name(handler_input))
        return self.reply(handler_input, guidance.fallback_reply())


def breathing_handoff(handler_input: HandlerInput, deps: SkillDeps) -> Response:
    """Yes to "a breathing exercise?": what BreathingIntent does."""
    return audio_player.breathing_response(handler_input, deps)
