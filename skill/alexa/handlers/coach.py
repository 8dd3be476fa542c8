"""Thin handlers for the let-down coach (logic: skill.conversation.coach; rendering: skill.alexa.coach_response).

Registered after the safety-first and lifecycle handlers and before playback and the conversation, so
that while the coach is active its answers (yes, no, not yet, skip, next, repeat, nursing or pumping) are
the coach's; Stop, Cancel, Pause, Help and every safety route are answered by their usual handlers, and
any answer that is not the coach's ends it (its state lives only while `last_message` is a coach message).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from ask_sdk_core.handler_input import HandlerInput
from ask_sdk_core.utils import get_intent_name, get_locale
from ask_sdk_model import Response

from skill.alexa import audio_player
from skill.alexa.coach_response import BACKGROUND_TRACK, coach_response, request_time_ms
from skill.alexa.handlers.base import SkillRequestHandler
from skill.alexa.slots import resolved_slot_id, slot
from skill.conversation import coach
from skill.interaction_model import InteractionModel
from skill.speech.render import session_attributes

FEEDING_SLOT = "mode"
FEEDING_TYPE = "FeedingMode"


class CoachHandler(SkillRequestHandler):
    def can_offer_background(self, handler_input: HandlerInput) -> bool:
        """The feed background needs AudioPlayer and a built track; without them the coach closes warmly."""
        supported = audio_player.supports_audio_player(handler_input)
        return supported and self.deps.tracks.playable(BACKGROUND_TRACK) is not None

    def feeding(self, handler_input: HandlerInput) -> str | None:
        spoken = slot(handler_input, FEEDING_SLOT)
        value_id = resolved_slot_id(spoken)
        if value_id is None and spoken is not None and spoken.value:
            model: InteractionModel | None = self.deps.models.for_locale(str(get_locale(handler_input)))
            value_id = model.value_id(FEEDING_TYPE, spoken.value) if model else None
        return coach.feeding_mode(value_id)

    def respond(self, handler_input: HandlerInput, turn: coach.Turn) -> Response:
        return coach_response(handler_input, self.deps, turn)


class CoachStartHandler(CoachHandler):
    """ "Help my milk let down", "coach me", "nothing's coming, help" (or "I'm pumping"): round one."""

    intent_names = ("LetDownIntent", "FeedingModeIntent")

    def handle(self, handler_input: HandlerInput) -> Response:
        offer = self.can_offer_background(handler_input)
        return self.respond(handler_input, coach.start(self.feeding(handler_input), offer))


Answer = Callable[[coach.CoachState, bool], coach.Turn]


class CoachAnswerHandler(CoachHandler):
    """An answer while the coach is active, settled against the reprompt (which leads on after silence)."""

    ANSWERS: ClassVar[dict[str, Answer]] = {
        "AMAZON.YesIntent": coach.answer_yes,
        "AMAZON.NoIntent": coach.answer_no,
        "LetDownIntent": coach.answer_not_yet,
        "AMAZON.NextIntent": coach.answer_skip,
        "AMAZON.RepeatIntent": coach.answer_repeat,
        "AMAZON.StartOverIntent": lambda state, offer: coach.start(state.feeding, offer),
    }
    intent_names = (*ANSWERS, "FeedingModeIntent")

    def when(self, handler_input: HandlerInput) -> bool:
        return coach.is_active(session_attributes(handler_input))

    def handle(self, handler_input: HandlerInput) -> Response:
        stored = coach.load(session_attributes(handler_input))
        assert stored is not None  # `when` saw an active coach
        state = coach.settle(stored, request_time_ms(handler_input))
        offer = self.can_offer_background(handler_input)
        name = str(get_intent_name(handler_input))
        if name == "FeedingModeIntent":
            feeding = self.feeding(handler_input)
            turn = coach.answer_feeding(state, feeding, offer) if feeding else coach.answer_repeat(state, offer)
        else:
            turn = self.ANSWERS[name](state, offer)
        return self.respond(handler_input, turn)
