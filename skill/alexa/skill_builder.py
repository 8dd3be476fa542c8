"""Builds the ask-sdk skill: interceptors, the ordered request handlers, the persistence adapter, the error handler."""

from __future__ import annotations

from collections.abc import Sequence

from ask_sdk_core.skill import CustomSkill
from ask_sdk_core.skill_builder import CustomSkillBuilder

from skill.alexa.deps import SkillDeps
from skill.alexa.handlers import coach, conversation, lifecycle, playback, understanding
from skill.alexa.handlers.base import SkillRequestHandler
from skill.alexa.interceptors import LocaleContentInterceptor, RepeatMemoryInterceptor, TurnLogInterceptor
from skill.storage import AttributeStore

# Dispatch order: the first handler whose `can_handle` is true answers the request.
REQUEST_HANDLERS: Sequence[type[SkillRequestHandler]] = (
    # Safety wins over everything: a safety intent, or safety words in any slot (the free-text query
    # included). The free-text second stage comes next; build_skill inserts it (it needs the handlers).
    understanding.SafetyFirstHandler,
    # Skill events, session end, device errors (never speech).
    lifecycle.SkillDisabledHandler,
    lifecycle.OtherSkillEventHandler,
    lifecycle.SessionEndedHandler,
    lifecycle.ExceptionEncounteredHandler,
    # The let-down coach: LetDownIntent starts it; while it is active, its answers (yes, no, next, repeat,
    # nursing or pumping) are the coach's. Stop, Cancel, Pause and Help stay with their usual handlers.
    coach.CoachAnswerHandler,
    coach.CoachStartHandler,
    # Playback: its events carry no session; its transport intents win while a track of ours is current.
    playback.BreathingHandler,
    playback.PlayTrackHandler,
    playback.PauseHandler,
    playback.ResumeHandler,
    playback.StopWhileSoundingHandler,
    playback.StartOverTrackHandler,
    playback.NextTrackHandler,
    playback.PreviousTrackHandler,
    playback.LoopShuffleHandler,
    playback.PlaybackStartedHandler,
    playback.PlaybackStoppedHandler,
    playback.PlaybackFinishedHandler,
    playback.PlaybackNearlyFinishedHandler,
    playback.PlaybackFailedHandler,
    playback.PlayCommandHandler,
    playback.PauseCommandHandler,
    playback.NextCommandHandler,
    playback.PreviousCommandHandler,
    # The conversation.
    conversation.LaunchHandler,
    conversation.GuideHandler,
    conversation.NamedTipHandler,
    conversation.TipTopicHandler,
    conversation.AnotherTipHandler,
    conversation.TellMeMoreHandler,
    conversation.WhisperHandler,
    conversation.HelpHandler,
    conversation.FallbackHandler,
    conversation.StopHandler,
    conversation.RepeatHandler,
    conversation.YesHandler,
    conversation.NoHandler,
    conversation.NavigateHomeHandler,
    conversation.StartOverHandler,
    conversation.CanFulfillHandler,
    # Catch-alls: any intent nobody answered.
    conversation.UnmatchedIntentHandler,
)


def build_skill(deps: SkillDeps, store: AttributeStore) -> CustomSkill:
    return build_skill_builder(deps, store).create()


def build_skill_builder(deps: SkillDeps, store: AttributeStore) -> CustomSkillBuilder:
    """The configured builder: `.create()` for the web service, `.lambda_handler()` for AWS Lambda."""
    builder = CustomSkillBuilder(persistence_adapter=store)
    builder.add_global_request_interceptor(LocaleContentInterceptor(deps))
    builder.add_global_response_interceptor(RepeatMemoryInterceptor())
    builder.add_global_response_interceptor(TurnLogInterceptor())
    handlers: list[SkillRequestHandler] = [handler_class(deps) for handler_class in REQUEST_HANDLERS]
    # The free-text intents: the query's intent is answered by whichever of the later handlers answers it.
    handlers.insert(1, understanding.FreeTextHandler(deps, delegates=handlers[1:]))
    for handler in handlers:
        builder.add_request_handler(handler)
    builder.add_exception_handler(lifecycle.CatchAllExceptionHandler(deps))
    return builder
