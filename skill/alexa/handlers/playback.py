"""Thin handlers for the AudioPlayer side: track-starting intents, transport intents, playback events.

Registered before the conversation handlers. Pause, Resume, Loop and Shuffle are always ours; StartOver,
Next and Previous only while the device reports a track of ours as current; Stop and Cancel only while
audio is sounding (otherwise the conversation's handlers answer them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from ask_sdk_core.dispatch_components import AbstractRequestHandler
from ask_sdk_core.handler_input import HandlerInput
from ask_sdk_core.utils import get_intent_name, get_request_type
from ask_sdk_model import Response

from skill.alexa import audio_player as playback
from skill.alexa.deps import SkillDeps

LOOP_AND_SHUFFLE = (
    "AMAZON.LoopOnIntent",
    "AMAZON.LoopOffIntent",
    "AMAZON.ShuffleOnIntent",
    "AMAZON.ShuffleOffIntent",
)

Condition = Callable[[HandlerInput, SkillDeps], bool]
Action = Callable[[HandlerInput, SkillDeps], Response]


@dataclass(frozen=True)
class Matcher:
    """Which requests a handler takes: intents by name or requests by type, optionally only if `when`."""

    intent_names: tuple[str, ...] = ()
    request_types: tuple[str, ...] = ()
    when: Condition | None = None

    def __call__(self, handler_input: HandlerInput, deps: SkillDeps) -> bool:
        request_type = get_request_type(handler_input)
        if request_type == "IntentRequest":
            matched = get_intent_name(handler_input) in self.intent_names
        else:
            matched = request_type in self.request_types
        return matched and (self.when is None or self.when(handler_input, deps))


def intents(*names: str, when: Condition | None = None) -> Matcher:
    return Matcher(intent_names=names, when=when)


def requests(*types: str) -> Matcher:
    return Matcher(request_types=types)


class PlaybackHandler(AbstractRequestHandler):
    """One request handler from a matcher and an action taking (handler_input, deps)."""

    def __init__(self, deps: SkillDeps, name: str, matcher: Matcher, action: Action) -> None:
        self.deps = deps
        self.name = name
        self.matcher = matcher
        self.action = action
        self.intent_names = matcher.intent_names  # read by `letdown model check`

    def can_handle(self, handler_input: HandlerInput) -> bool:
        return self.matcher(handler_input, self.deps)

    def handle(self, handler_input: HandlerInput) -> Response:
        return self.action(handler_input, self.deps)

    def __repr__(self) -> str:
        return f"PlaybackHandler({self.name})"


def sounding(handler_input: HandlerInput, deps: SkillDeps) -> bool:
    return playback.audio_is_sounding(handler_input)


def request_handlers(deps: SkillDeps) -> list[AbstractRequestHandler]:
    table: list[tuple[str, Matcher, Action]] = [
        ("Breathing", intents("BreathingIntent"), playback.breathing_response),
        ("PlayTrack", intents("PlayTrackIntent"), playback.play_track_response),
        ("Pause", intents("AMAZON.PauseIntent"), playback.pause_response),
        ("Resume", intents("AMAZON.ResumeIntent"), playback.resume_response),
        (
            "StopWhileSounding",
            intents("AMAZON.StopIntent", "AMAZON.CancelIntent", when=sounding),
            playback.stop_playing_response,
        ),
        ("StartOver", intents("AMAZON.StartOverIntent", when=playback.track_is_current), playback.start_over_response),
        (
            "Next",
            intents("AMAZON.NextIntent", when=playback.track_is_current),
            partial(playback.skip_response, step=+1),
        ),
        (
            "Previous",
            intents("AMAZON.PreviousIntent", when=playback.track_is_current),
            partial(playback.skip_response, step=-1),
        ),
        ("LoopShuffle", intents(*LOOP_AND_SHUFFLE), playback.not_available_response),
        ("PlaybackStarted", requests("AudioPlayer.PlaybackStarted"), playback.on_playback_started),
        ("PlaybackStopped", requests("AudioPlayer.PlaybackStopped"), playback.on_playback_stopped),
        ("PlaybackFinished", requests("AudioPlayer.PlaybackFinished"), playback.on_playback_finished),
        (
            "PlaybackNearlyFinished",
            requests("AudioPlayer.PlaybackNearlyFinished"),
            playback.on_playback_nearly_finished,
        ),
        ("PlaybackFailed", requests("AudioPlayer.PlaybackFailed"), playback.on_playback_failed),
        ("PlayCommand", requests("PlaybackController.PlayCommandIssued"), playback.on_play_command),
        ("PauseCommand", requests("PlaybackController.PauseCommandIssued"), playback.on_pause_command),
        (
            "NextCommand",
            requests("PlaybackController.NextCommandIssued"),
            partial(playback.on_skip_command, step=+1),
        ),
        (
            "PreviousCommand",
            requests("PlaybackController.PreviousCommandIssued"),
            partial(playback.on_skip_command, step=-1),
        ),
    ]
    return [PlaybackHandler(deps, name, matcher, action) for name, matcher, action in table]
