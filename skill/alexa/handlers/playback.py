"""Thin handlers for the AudioPlayer side: track-starting intents, transport intents, playback events.

Registered before the conversation handlers. Pause, Resume, Loop and Shuffle are always ours; StartOver,
Next and Previous only while the device reports a track of ours as current; Stop and Cancel only while
audio is sounding (otherwise the conversation's handlers answer them). The logic is in
skill.alexa.audio_player.
"""

from __future__ import annotations

from ask_sdk_core.handler_input import HandlerInput
from ask_sdk_model import Response

from skill.alexa import audio_player as playback
from skill.alexa.handlers.base import SkillRequestHandler

# ----- intents that start a track -------------------------------------------------------------------------


class BreathingHandler(SkillRequestHandler):
    intent_names = ("BreathingIntent",)

    def handle(self, handler_input: HandlerInput) -> Response:
        return playback.breathing_response(handler_input, self.deps)


class PlayTrackHandler(SkillRequestHandler):
    intent_names = ("PlayTrackIntent",)

    def handle(self, handler_input: HandlerInput) -> Response:
        return playback.play_track_response(handler_input, self.deps)


# ----- transport intents ----------------------------------------------------------------------------------


class PauseHandler(SkillRequestHandler):
    intent_names = ("AMAZON.PauseIntent",)

    def handle(self, handler_input: HandlerInput) -> Response:
        return playback.pause_response(handler_input, self.deps)


class ResumeHandler(SkillRequestHandler):
    intent_names = ("AMAZON.ResumeIntent",)

    def handle(self, handler_input: HandlerInput) -> Response:
        return playback.resume_response(handler_input, self.deps)


class StopWhileSoundingHandler(SkillRequestHandler):
    intent_names = ("AMAZON.StopIntent", "AMAZON.CancelIntent")

    def when(self, handler_input: HandlerInput) -> bool:
        return playback.audio_is_sounding(handler_input)

    def handle(self, handler_input: HandlerInput) -> Response:
        return playback.stop_playing_response(handler_input, self.deps)


class TrackIsCurrentHandler(SkillRequestHandler):
    """Base: an intent that is ours only while the device reports a track of ours as current."""

    def when(self, handler_input: HandlerInput) -> bool:
        return playback.track_is_current(handler_input, self.deps)


class StartOverTrackHandler(TrackIsCurrentHandler):
    intent_names = ("AMAZON.StartOverIntent",)

    def handle(self, handler_input: HandlerInput) -> Response:
        return playback.start_over_response(handler_input, self.deps)


class NextTrackHandler(TrackIsCurrentHandler):
    intent_names = ("AMAZON.NextIntent",)

    def handle(self, handler_input: HandlerInput) -> Response:
        return playback.skip_response(handler_input, self.deps, step=+1)


class PreviousTrackHandler(TrackIsCurrentHandler):
    intent_names = ("AMAZON.PreviousIntent",)

    def handle(self, handler_input: HandlerInput) -> Response:
        return playback.skip_response(handler_input, self.deps, step=-1)


class LoopShuffleHandler(SkillRequestHandler):
    intent_names = (
        "AMAZON.LoopOnIntent",
        "AMAZON.LoopOffIntent",
        "AMAZON.ShuffleOnIntent",
        "AMAZON.ShuffleOffIntent",
    )

    def handle(self, handler_input: HandlerInput) -> Response:
        return playback.not_available_response(handler_input, self.deps)


# ----- AudioPlayer events (no session, no speech) ---------------------------------------------------------


class PlaybackStartedHandler(SkillRequestHandler):
    request_types = ("AudioPlayer.PlaybackStarted",)

    def handle(self, handler_input: HandlerInput) -> Response:
        return playback.on_playback_started(handler_input, self.deps)


class PlaybackStoppedHandler(SkillRequestHandler):
    request_types = ("AudioPlayer.PlaybackStopped",)

    def handle(self, handler_input: HandlerInput) -> Response:
        return playback.on_playback_stopped(handler_input, self.deps)


class PlaybackFinishedHandler(SkillRequestHandler):
    request_types = ("AudioPlayer.PlaybackFinished",)

    def handle(self, handler_input: HandlerInput) -> Response:
        return playback.on_playback_finished(handler_input, self.deps)


class PlaybackNearlyFinishedHandler(SkillRequestHandler):
    request_types = ("AudioPlayer.PlaybackNearlyFinished",)

    def handle(self, handler_input: HandlerInput) -> Response:
        return playback.on_playback_nearly_finished(handler_input, self.deps)


class PlaybackFailedHandler(SkillRequestHandler):
    request_types = ("AudioPlayer.PlaybackFailed",)

    def handle(self, handler_input: HandlerInput) -> Response:
        return playback.on_playback_failed(handler_input, self.deps)


# ----- PlaybackController commands: the device's buttons (no session, no speech) ---------------------------


class PlayCommandHandler(SkillRequestHandler):
    request_types = ("PlaybackController.PlayCommandIssued",)

    def handle(self, handler_input: HandlerInput) -> Response:
        return playback.on_play_command(handler_input, self.deps)


class PauseCommandHandler(SkillRequestHandler):
    request_types = ("PlaybackController.PauseCommandIssued",)

    def handle(self, handler_input: HandlerInput) -> Response:
        return playback.on_pause_command(handler_input, self.deps)


class NextCommandHandler(SkillRequestHandler):
    request_types = ("PlaybackController.NextCommandIssued",)

    def handle(self, handler_input: HandlerInput) -> Response:
        return playback.on_skip_command(handler_input, self.deps, step=+1)


class PreviousCommandHandler(SkillRequestHandler):
    request_types = ("PlaybackController.PreviousCommandIssued",)

    def handle(self, handler_input: HandlerInput) -> Response:
        return playback.on_skip_command(handler_input, self.deps, step=-1)
