"""Thin handlers for the conversation: launch, the guide, tips, D-MER, reassurance, safety, built-ins.

Each handler names the intents it answers in `intent_names` (used by `letdown model check`); the
logic lives in skill.conversation (guidance, dmer, safety), the words in skill/speech/locale.
Playback handlers are registered before these, so Stop/Cancel/StartOver/Next/Previous while a track of
ours is current go there; the rest come here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, ClassVar

from ask_sdk_core.dispatch_components import AbstractRequestHandler
from ask_sdk_core.handler_input import HandlerInput
from ask_sdk_core.utils import get_intent_name, get_locale, is_request_type
from ask_sdk_model import Response
from ask_sdk_model.canfulfill import (
    CanFulfillIntent,
    CanFulfillIntentValues,
    CanFulfillSlot,
    CanFulfillSlotValues,
    CanUnderstandSlotValues,
)
from ask_sdk_model.interfaces.audioplayer import PlayerActivity, StopDirective

from skill.alexa.deps import SkillDeps
from skill.alexa.slots import resolved_slot_id
from skill.alexa.slots import slot as named_slot
from skill.conversation import dmer, guidance
from skill.interaction_model import DURATION_TYPE, InteractionModel
from skill.speech.content import LocaleContent
from skill.speech.render import (
    WHISPER_KEY,
    Reply,
    content_for,
    has_session,
    repeat_last,
    session_attributes,
    speak,
    speak_reply,
)

log = logging.getLogger(__name__)

VISITS_KEY = "visits"
# Spoken when TipIntent names a topic the skill has no tip for: the list of topics.
UNKNOWN_TOPIC_MESSAGE = "tip.topics"
ISO_DURATION_PREFIX = "P"


class ConversationHandler(AbstractRequestHandler):
    """Base: answers IntentRequests whose name is in `intent_names`."""

    intent_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, deps: SkillDeps) -> None:
        self.deps = deps

    def can_handle(self, handler_input: HandlerInput) -> bool:
        return is_request_type("IntentRequest")(handler_input) and get_intent_name(handler_input) in (self.intent_names)

    def content(self, handler_input: HandlerInput) -> LocaleContent:
        return content_for(handler_input, self.deps)

    def model(self, handler_input: HandlerInput) -> InteractionModel | None:
        return self.deps.models.for_locale(get_locale(handler_input))

    def reply(self, handler_input: HandlerInput, reply: Reply) -> Response:
        return speak_reply(handler_input, self.deps, reply).response

    def __repr__(self) -> str:
        return type(self).__name__


class LaunchHandler(ConversationHandler):
    """First visit: what the skill is, that it is not medical advice, and an offer; later: shorter."""

    def can_handle(self, handler_input: HandlerInput) -> bool:
        return is_request_type("LaunchRequest")(handler_input)

    def handle(self, handler_input: HandlerInput) -> Response:
        stored = handler_input.attributes_manager.persistent_attributes
        visits = stored.get(VISITS_KEY)
        visits = visits if isinstance(visits, int) and not isinstance(visits, bool) and visits > 0 else 0
        stored[VISITS_KEY] = visits + 1
        handler_input.attributes_manager.save_persistent_attributes()
        message = "launch.first" if visits == 0 else "launch.returning"
        return self.reply(handler_input, Reply(message, reprompt="launch.reprompt"))


class GuideHandler(ConversationHandler):
    """Understanding the let-down, D-MER and reassurance: an answer, then an offer of more."""

    MESSAGES: ClassVar[dict[str, str]] = {
        **guidance.ABOUT_INTENTS,
        **dmer.DMER_INTENTS,
        **guidance.REASSURANCE_INTENTS,
    }
    intent_names = tuple(MESSAGES)

    def handle(self, handler_input: HandlerInput) -> Response:
        message_id = self.MESSAGES[get_intent_name(handler_input)]
        attributes = session_attributes(handler_input)
        return self.reply(handler_input, guidance.answer(message_id, attributes, self.content(handler_input)))


class NamedTipHandler(ConversationHandler):
    intent_names = tuple(guidance.TIP_INTENTS)

    def handle(self, handler_input: HandlerInput) -> Response:
        tip_id = guidance.TIP_INTENTS[get_intent_name(handler_input)]
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
        whisper = get_intent_name(handler_input) == "WhisperOnIntent"
        handler_input.attributes_manager.persistent_attributes[WHISPER_KEY] = whisper
        handler_input.attributes_manager.save_persistent_attributes()
        message = "whisper.on" if whisper else "whisper.off"
        # Mid-conversation the session stays open; a one-shot "ask … to whisper" ends as before.
        in_conversation = has_session(handler_input) and not handler_input.request_envelope.session.new
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
        builder = speak(handler_input, self.deps, "goodbye", end_session=True)
        player = getattr(handler_input.request_envelope.context, "audio_player", None)
        if getattr(player, "player_activity", None) == PlayerActivity.PLAYING:
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

    def can_handle(self, handler_input: HandlerInput) -> bool:
        return is_request_type("CanFulfillIntentRequest")(handler_input)

    def handle(self, handler_input: HandlerInput) -> Response:
        intent = handler_input.request_envelope.request.intent
        model = self.model(handler_input)
        name = getattr(intent, "name", None)
        builder = handler_input.response_builder
        if model is None or not name or name.startswith("AMAZON.") or name not in model.intents:
            builder.set_can_fulfill_intent(CanFulfillIntent(can_fulfill=CanFulfillIntentValues.NO))
            return builder.response
        slot_types = model.intents[name].slots
        answers = {}
        for slot_name, slot in (getattr(intent, "slots", None) or {}).items():
            if slot is None or not slot.value:
                continue
            answers[slot_name] = self.slot_answer(model, slot_types.get(slot_name), slot)
        every_slot_ok = all(answer.can_fulfill == CanFulfillSlotValues.YES for answer in answers.values())
        verdict = CanFulfillIntentValues.YES if every_slot_ok else CanFulfillIntentValues.NO
        builder.set_can_fulfill_intent(CanFulfillIntent(can_fulfill=verdict, slots=answers or None))
        return builder.response

    @staticmethod
    def slot_answer(model: InteractionModel, slot_type: str | None, slot: Any) -> CanFulfillSlot:
        if slot_type is None:
            understood = False
        elif slot_type == DURATION_TYPE:
            understood = slot.value.startswith(ISO_DURATION_PREFIX)
        else:
            value_id = resolved_slot_id(slot) or model.value_id(slot_type, slot.value)
            understood = value_id is not None
        return CanFulfillSlot(
            can_understand=CanUnderstandSlotValues.YES if understood else CanUnderstandSlotValues.NO,
            can_fulfill=CanFulfillSlotValues.YES if understood else CanFulfillSlotValues.NO,
        )


class UnmatchedIntentHandler(ConversationHandler):
    """Any other IntentRequest (an intent no handler answers here): the fallback, never a dead end.

    Excluded from `letdown model check`'s "every intent has a handler" test."""

    catch_all: ClassVar[bool] = True

    def can_handle(self, handler_input: HandlerInput) -> bool:
        return is_request_type("IntentRequest")(handler_input)

    def handle(self, handler_input: HandlerInput) -> Response:
        log.warning("no handler for intent %s", get_intent_name(handler_input))
        return self.reply(handler_input, guidance.fallback_reply())


def breathing_handoff(handler_input: HandlerInput, deps: SkillDeps) -> Response:
    """Yes to "a breathing exercise?": whatever BreathingIntent does, else the spoken routine."""
    from skill.alexa import audio_player as playback  # the audio side; imported late so this module loads without it

    start_breathing = getattr(playback, "breathing_response", None)
    if start_breathing is not None:
        return start_breathing(handler_input, deps)
    return speak_reply(handler_input, deps, Reply("letdown.routine_spoken", then="offer.next_tip")).response


HANDLER_CLASSES: Sequence[type[ConversationHandler]] = (
    LaunchHandler,
    GuideHandler,
    NamedTipHandler,
    TipTopicHandler,
    AnotherTipHandler,
    TellMeMoreHandler,
    WhisperHandler,
    HelpHandler,
    FallbackHandler,
    StopHandler,
    RepeatHandler,
    YesHandler,
    NoHandler,
    NavigateHomeHandler,
    StartOverHandler,
    CanFulfillHandler,
    UnmatchedIntentHandler,
)


def request_handlers(deps: SkillDeps) -> list[AbstractRequestHandler]:
    return [handler_class(deps) for handler_class in HANDLER_CLASSES]
