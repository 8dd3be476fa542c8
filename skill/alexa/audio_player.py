"""AudioPlayer logic: starting tracks, pause/resume, Next/Previous, and the playback events.

Where the playback position lives: one playback row per user (skill.storage.playback), read as the
persistent attributes `track_token`, `track_offset_ms`, `playback_activity` and `playback_updated_ms` (any
worker process, on any host, may answer the next request). Every change is one conditional update that the
database checks, so concurrent requests cannot mix a state:
- Every Play stores its (new) token and start offset together, so Resume works even if events are lost.
- PlaybackStarted stores what it reports unless a newer event is stored; Stopped/Finished only for the
  stream that is stored and only if newer: a REPLACE_ALL makes the device report the *old* stream
  stopped, after the new Play was stored, and that late event must not win.
- Pause stores PAUSED and the device's position from `context.AudioPlayer` (when it reports one), unless
  the PlaybackStopped event that goes with it already stored the exact offset.
AudioPlayer and PlaybackController requests carry no session and never get speech, cards or reprompts.

Which files play: the tracks of the request's content locale (`locale_tracks`): es-US, and es-MX/es-ES that
get es-US content, play the es-US wordless versions; every English locale plays the original tracks.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any

from ask_sdk_core.handler_input import HandlerInput
from ask_sdk_core.response_helper import ResponseFactory
from ask_sdk_model import Response
from ask_sdk_model.interfaces.audioplayer import (
    AudioItem,
    AudioItemMetadata,
    PlayBehavior,
    PlayDirective,
    StopDirective,
    Stream,
)
from ask_sdk_model.interfaces.display import Image, ImageInstance

from skill.alexa.deps import SkillDeps
from skill.alexa.interceptors import locale_content
from skill.alexa.screen import SPOKEN_WORDS_PER_S, add_breathing_screen
from skill.alexa.slots import resolved_slot_id, slot
from skill.playback.catalog import Track, TrackCatalog, iso_duration_seconds, make_token
from skill.speech.content import plain_text
from skill.speech.offers import Offer
from skill.speech.render import speak, speak_with_audio
from skill.storage import Change, Outcome, PlaybackUpdate, TrackedAttributes, keys
from skill.storage.keys import CURRENT_ACTIVITIES, SOUNDING_ACTIVITIES, Activity

log = logging.getLogger(__name__)

# Tracks up to this long can play inside SSML on devices without AudioPlayer (sources.md#alexa-ssml).
SSML_AUDIO_MAX_S = 240
LETDOWN_TRACK = "letdown-visualisation"
LETDOWN_INTRO = "letdown.routine"
LETDOWN_SPOKEN = "letdown.routine_spoken"
NEXT_TIP_OFFER = Offer.NEXT_TIP.message_id
BREATHING_SCREEN_LINE = "screen.breathing"


@dataclass(frozen=True)
class Position:
    track: Track
    token: str
    offset_ms: int


# ----- reading the request --------------------------------------------------------------------------------


def locale_tracks(handler_input: HandlerInput, deps: SkillDeps) -> TrackCatalog:
    """The tracks this request's locale plays: those of the content locale it was given (es-MX → es-US)."""
    return deps.tracks.for_locale(locale_content(handler_input).locale)


def player_state(handler_input: HandlerInput) -> Any:
    """`context.AudioPlayer` (token, offset, activity), or None when the request carries none."""
    return getattr(handler_input.request_envelope.context, "audio_player", None)


def supports_audio_player(handler_input: HandlerInput) -> bool:
    system = getattr(handler_input.request_envelope.context, "system", None)
    interfaces = getattr(getattr(system, "device", None), "supported_interfaces", None)
    return getattr(interfaces, "audio_player", None) is not None


def player_activity(handler_input: HandlerInput) -> str | None:
    """The device's player state (PLAYING, STOPPED, IDLE, …) from `context.AudioPlayer`, if reported."""
    activity = getattr(player_state(handler_input), "player_activity", None)
    return getattr(activity, "value", None)


def context_position(handler_input: HandlerInput, deps: SkillDeps) -> Position | None:
    """The device's current track of ours and where it is, while the device reports one as current."""
    state = player_state(handler_input)
    if state is None or player_activity(handler_input) not in CURRENT_ACTIVITIES:
        return None
    track = locale_tracks(handler_input, deps).track_for_token(state.token)
    if track is None or not track.playable:
        return None
    return Position(track, state.token, clamp_offset(track, state.offset_in_milliseconds))


def stored_position(handler_input: HandlerInput, deps: SkillDeps) -> Position | None:
    """The stored track and offset to resume; None when nothing is stored or the track finished."""
    stored = persistent(handler_input)
    token = stored.get(keys.TRACK_TOKEN)
    track = locale_tracks(handler_input, deps).track_for_token(token)
    if (
        track is None
        or not isinstance(token, str)
        or not track.playable
        or stored.get(keys.PLAYBACK_ACTIVITY) == Activity.FINISHED
    ):
        return None
    return Position(track, token, clamp_offset(track, stored.get(keys.TRACK_OFFSET_MS)))


def current_position(handler_input: HandlerInput, deps: SkillDeps) -> Position | None:
    return context_position(handler_input, deps) or stored_position(handler_input, deps)


def resume_position(handler_input: HandlerInput, deps: SkillDeps) -> Position | None:
    """Where to carry on: the store first (PlaybackStopped stored the exact offset), else the device."""
    return stored_position(handler_input, deps) or context_position(handler_input, deps)


def audio_is_sounding(handler_input: HandlerInput) -> bool:
    return player_activity(handler_input) in SOUNDING_ACTIVITIES


def clamp_offset(track: Track, offset_ms: Any) -> int:
    """A usable start offset: 0 for junk, negatives or anything at or past the end of the track."""
    if not isinstance(offset_ms, int) or isinstance(offset_ms, bool) or offset_ms < 0:
        return 0
    return offset_ms if offset_ms < int(track.seconds * 1000) else 0


# ----- persistent playback state --------------------------------------------------------------------------


def persistent(handler_input: HandlerInput) -> dict[str, Any]:
    return handler_input.attributes_manager.persistent_attributes


def storage_unavailable(handler_input: HandlerInput) -> bool:
    """The stored state could not be read for this request (the database is away)."""
    return bool(getattr(persistent(handler_input), "unavailable", False)) and supports_audio_player(handler_input)


def request_time_ms(handler_input: HandlerInput) -> int:
    """Alexa's timestamp of this request in ms: what orders the playback events of one user."""
    moment = getattr(handler_input.request_envelope.request, "timestamp", None)
    if not isinstance(moment, dt.datetime):
        return int(time.time() * 1000)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def record(
    handler_input: HandlerInput,
    change: Change,
    token: str | None = None,
    offset_ms: int = 0,
    activity: Activity | None = None,
) -> Outcome:
    """One conditional playback update (skill.storage.playback says what each change expects)."""
    attributes = persistent(handler_input)
    if not isinstance(attributes, TrackedAttributes):
        return Outcome.SKIPPED  # a persistence adapter without playback state (tests of other parts)
    stored_activity = str(activity) if activity is not None else None
    update = PlaybackUpdate(change, request_time_ms(handler_input), token, offset_ms, stored_activity)
    return attributes.update_playback(update)


# ----- directives -----------------------------------------------------------------------------------------


def play_directive(
    deps: SkillDeps,
    track: Track,
    token: str,
    offset_ms: int = 0,
    *,
    behavior: PlayBehavior = PlayBehavior.REPLACE_ALL,
    expected_previous_token: str | None = None,
) -> PlayDirective:
    return PlayDirective(
        play_behavior=behavior,
        audio_item=AudioItem(
            stream=Stream(
                token=token,
                url=deps.tracks.url(track),
                offset_in_milliseconds=offset_ms,
                expected_previous_token=expected_previous_token,
            ),
            metadata=track_metadata(deps, track),
        ),
    )


def track_metadata(deps: SkillDeps, track: Track) -> AudioItemMetadata:
    """Title and subtitle, with the calm cover art and background image screens show during the track."""
    return AudioItemMetadata(
        title=track.title,
        subtitle=track.subtitle,
        art=image(deps.artwork.cover_url),
        background_image=image(deps.artwork.background_url),
    )


def image(url: str | None) -> Image | None:
    return Image(sources=[ImageInstance(url=url)]) if url else None


def end_session_if_any(handler_input: HandlerInput) -> None:
    """A Play in a spoken turn must end the session explicitly (the SDK leaves it unset); requests without a
    session (AudioPlayer events, PlaybackController buttons) may carry only AudioPlayer directives."""
    if handler_input.request_envelope.session is not None:
        handler_input.response_builder.set_should_end_session(True)


def play(handler_input: HandlerInput, deps: SkillDeps, position: Position) -> ResponseFactory:
    """REPLACE_ALL with `position`."""
    builder = handler_input.response_builder
    builder.add_directive(play_directive(deps, position.track, position.token, position.offset_ms))
    end_session_if_any(handler_input)
    record(handler_input, Change.PLAY, position.token, position.offset_ms)
    return builder


def play_from_start(handler_input: HandlerInput, deps: SkillDeps, track: Track) -> ResponseFactory:
    return play(handler_input, deps, Position(track, make_token(track.id), 0))


def stop(handler_input: HandlerInput, deps: SkillDeps, activity: Activity) -> Response:
    """AudioPlayer.Stop, remembering where the device says it was; ends the session without speech."""
    builder = handler_input.response_builder
    if supports_audio_player(handler_input):
        builder.add_directive(StopDirective())
        remember_stop(handler_input, deps, activity)
    end_session_if_any(handler_input)
    return builder.response


def remember_stop(handler_input: HandlerInput, deps: SkillDeps, activity: Activity) -> None:
    position = context_position(handler_input, deps)
    if position is not None:
        record(handler_input, Change.HALT, position.token, position.offset_ms, activity)
    else:
        record(handler_input, Change.HALT_STORED, activity=activity)


# ----- starting tracks ------------------------------------------------------------------------------------


def start_track_response(
    handler_input: HandlerInput, deps: SkillDeps, track_id: str, intro_message_id: str
) -> Response:
    """A short spoken intro, then the track: AudioPlayer.Play, SSML <audio>, or a spoken alternative."""
    track = locale_tracks(handler_input, deps).playable(track_id)
    if track is not None and supports_audio_player(handler_input):
        content = locale_content(handler_input)
        if content.has(intro_message_id):
            speak(handler_input, content, intro_message_id, end_session=True)
        return play_from_start(handler_input, deps, track).response
    if track is not None and fits_in_ssml(deps, track):
        return ssml_audio_response(handler_input, deps, track, intro_message_id)
    return spoken_alternative(handler_input, deps, track_id)


def fits_in_ssml(deps: SkillDeps, track: Track) -> bool:
    return track.seconds <= SSML_AUDIO_MAX_S and deps.tracks.url(track).startswith("https://")


def ssml_audio_response(handler_input: HandlerInput, deps: SkillDeps, track: Track, intro_message_id: str) -> Response:
    """Intro, the track in an SSML <audio> tag, then the offer of another tip (session stays open)."""
    url = deps.tracks.url(track)
    return speak_with_audio(
        handler_input, locale_content(handler_input), intro_message_id, url, then=NEXT_TIP_OFFER
    ).response


def spoken_alternative(handler_input: HandlerInput, deps: SkillDeps, track_id: str) -> Response:
    """What a device that cannot play the track hears instead."""
    if track_id == LETDOWN_TRACK:
        return speak(handler_input, locale_content(handler_input), LETDOWN_SPOKEN, then=NEXT_TIP_OFFER).response
    if locale_tracks(handler_input, deps).playable(track_id) is None:
        return speak(handler_input, locale_content(handler_input), "error.generic", reprompt="error.reprompt").response
    # The message asks whether a short breathing exercise would do instead: Yes answers that offer.
    content = locale_content(handler_input)
    return speak(
        handler_input, content, "track.too_long_for_device", reprompt=Offer.BREATHING.message_id, offer=Offer.BREATHING
    ).response


def breathing_response(handler_input: HandlerInput, deps: SkillDeps) -> Response:
    duration = iso_duration_seconds(getattr(slot(handler_input, "duration"), "value", None))
    track = locale_tracks(handler_input, deps).nearest_breathing(duration)
    if track is None:
        return speak(handler_input, locale_content(handler_input), "error.generic", reprompt="error.reprompt").response
    response = start_track_response(handler_input, deps, track.id, intro_id(track.id))
    if track_is_started(response):
        add_breathing_screen(handler_input, deps, BREATHING_SCREEN_LINE, track.title, track.id, intro_seconds(response))
    return handler_input.response_builder.response


def track_is_started(response: Response) -> bool:
    """The response plays the track (AudioPlayer.Play, or an SSML <audio> tag), not a spoken alternative."""
    played = any(getattr(d, "object_type", None) == "AudioPlayer.Play" for d in response.directives or [])
    ssml = getattr(response.output_speech, "ssml", "") or ""
    return played or "<audio " in ssml


def intro_seconds(response: Response) -> float:
    """About how long the spoken intro takes before the track starts (the circle waits for it)."""
    ssml = getattr(response.output_speech, "ssml", "") or ""
    before_audio = ssml.split("<audio ", 1)[0]
    return len(plain_text(before_audio).split()) / SPOKEN_WORDS_PER_S


def play_track_response(handler_input: HandlerInput, deps: SkillDeps) -> Response:
    spoken = slot(handler_input, "track")
    tracks = locale_tracks(handler_input, deps)
    track = tracks.get(resolved_slot_id(spoken)) or tracks.find_by_name(getattr(spoken, "value", None))
    if track is None:
        return speak(handler_input, locale_content(handler_input), "track.unknown").response
    return start_track_response(handler_input, deps, track.id, intro_id(track.id))


def intro_id(track_id: str) -> str:
    return LETDOWN_INTRO if track_id == LETDOWN_TRACK else f"track.intro.{track_id}"


# ----- transport intents ----------------------------------------------------------------------------------


def pause_response(handler_input: HandlerInput, deps: SkillDeps) -> Response:
    return stop(handler_input, deps, Activity.PAUSED)


def stop_playing_response(handler_input: HandlerInput, deps: SkillDeps) -> Response:
    return stop(handler_input, deps, Activity.STOPPED)


def resume_response(handler_input: HandlerInput, deps: SkillDeps) -> Response:
    position = resume_position(handler_input, deps)
    if position is None and storage_unavailable(handler_input):
        return speak(handler_input, locale_content(handler_input), "audio.saved_place_unavailable").response
    if position is None or not supports_audio_player(handler_input):
        return speak(handler_input, locale_content(handler_input), "audio.nothing_to_resume").response
    return play(handler_input, deps, position).response


def start_over_response(handler_input: HandlerInput, deps: SkillDeps) -> Response:
    position = current_position(handler_input, deps)
    if position is None:
        return speak(handler_input, locale_content(handler_input), "audio.nothing_to_resume").response
    return play_from_start(handler_input, deps, position.track).response


def skip_response(handler_input: HandlerInput, deps: SkillDeps, step: int) -> Response:
    """Next (+1) or Previous (-1) in the play order, from the current track, with the new track's intro."""
    track = adjacent_track(handler_input, deps, step)
    if track is None:
        return speak(handler_input, locale_content(handler_input), "audio.nothing_to_resume").response
    return start_track_response(handler_input, deps, track.id, intro_id(track.id))


def adjacent_track(handler_input: HandlerInput, deps: SkillDeps, step: int) -> Track | None:
    position = current_position(handler_input, deps)
    current_id = position.track.id if position else None
    tracks = locale_tracks(handler_input, deps)
    return tracks.next_track(current_id) if step > 0 else tracks.previous_track(current_id)


def not_available_response(handler_input: HandlerInput, deps: SkillDeps) -> Response:
    """Loop and Shuffle: a short spoken no; whatever is playing carries on."""
    return speak(handler_input, locale_content(handler_input), "audio.not_available", end_session=True).response


def track_is_current(handler_input: HandlerInput, deps: SkillDeps) -> bool:
    """The device reports a track of ours as playing, paused or stopped (not finished, not idle)."""
    return context_position(handler_input, deps) is not None


# ----- AudioPlayer events and PlaybackController commands (no session, no speech) --------------------------


def event_position(handler_input: HandlerInput, deps: SkillDeps) -> Position | None:
    """The stream an AudioPlayer event reports, if it is one of ours; None for foreign or broken tokens."""
    request = handler_input.request_envelope.request
    token = getattr(request, "token", None)
    track = locale_tracks(handler_input, deps).track_for_token(token)
    if track is None or not isinstance(token, str):
        return None
    return Position(track, token, clamp_offset(track, getattr(request, "offset_in_milliseconds", None)))


def on_playback_started(handler_input: HandlerInput, deps: SkillDeps) -> Response:
    position = event_position(handler_input, deps)
    if position is not None:
        record(handler_input, Change.STARTED, position.token, position.offset_ms)
    return handler_input.response_builder.response


def on_playback_stopped(handler_input: HandlerInput, deps: SkillDeps) -> Response:
    position = event_position(handler_input, deps)
    if position is not None:
        record(handler_input, Change.STOPPED, position.token, position.offset_ms)
    return handler_input.response_builder.response


def on_playback_finished(handler_input: HandlerInput, deps: SkillDeps) -> Response:
    position = event_position(handler_input, deps)
    if position is not None:
        record(handler_input, Change.FINISHED, position.token)
    return handler_input.response_builder.response


def on_playback_nearly_finished(handler_input: HandlerInput, deps: SkillDeps) -> Response:
    """Queue what follows: only a looping track (the feed background) continues, as itself again."""
    position = event_position(handler_input, deps)
    builder = handler_input.response_builder
    if position is not None and position.track.loops and position.track.playable:
        track = position.track
        builder.add_directive(
            play_directive(
                deps,
                track,
                make_token(track.id),
                behavior=PlayBehavior.ENQUEUE,
                expected_previous_token=position.token,
            )
        )
    return builder.response


def on_playback_failed(handler_input: HandlerInput, deps: SkillDeps) -> Response:
    request = handler_input.request_envelope.request
    error = getattr(request, "error", None)
    error_type = getattr(getattr(error, "object_type", None), "value", None)
    track = locale_tracks(handler_input, deps).track_for_token(getattr(request, "token", None))
    log.error(
        "audio playback failed: track=%s type=%s message=%s",
        track.id if track else None,
        error_type,
        getattr(error, "message", None),
    )
    return handler_input.response_builder.response


def on_play_command(handler_input: HandlerInput, deps: SkillDeps) -> Response:
    """The device's play button: carry on from the stored position (or the device's own)."""
    position = resume_position(handler_input, deps)
    if position is None:
        return handler_input.response_builder.response
    return play(handler_input, deps, position).response


def on_pause_command(handler_input: HandlerInput, deps: SkillDeps) -> Response:
    return stop(handler_input, deps, Activity.PAUSED)


def on_skip_command(handler_input: HandlerInput, deps: SkillDeps, step: int) -> Response:
    track = adjacent_track(handler_input, deps, step)
    if track is None:
        return handler_input.response_builder.response
    return play_from_start(handler_input, deps, track).response
