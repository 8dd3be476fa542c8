"""Turning the coach's `Turn` into an Alexa response: words and clips in SSML, the leading-on reprompt,
the session state, the Echo Show screen, and the feed background when the parent said yes to it.

Alexa's limits on SSML audio (platform reference §2): at most 5 <audio> tags and 240 s of audio in the
speech, 90 s in the reprompt; clips over the limit (or not playable over HTTPS) are replaced by the
spoken version of the round. Whispering applies to Alexa's words, never to the recorded clips. A locale
whose tracks have no clips (es-US: its set is wordless, so its coach speaks every round) hears the spoken
version always.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ask_sdk_core.handler_input import HandlerInput
from ask_sdk_model import Response

from skill.alexa import audio_player
from skill.alexa.deps import SkillDeps
from skill.alexa.interceptors import locale_content
from skill.alexa.screen import SPOKEN_WORDS_PER_S, add_breathing_screen
from skill.conversation import coach
from skill.speech.content import LocaleContent, parse_ssml, plain_text
from skill.speech.render import (
    escape_attribute,
    put_speech,
    remember,
    session_attributes,
    whisper_preferred,
    whispered,
)

BACKGROUND_TRACK = "feed-background"
BACKGROUND_INTRO = "track.intro.feed-background"
MAX_SPEECH_AUDIO_S = 240.0
MAX_REPROMPT_AUDIO_S = 90.0
MAX_AUDIO_TAGS = 5
_BREAK = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)$")


@dataclass(frozen=True)
class Rendered:
    ssml: str
    seconds: float  # about how long it takes to say and play
    seconds_before_first_clip: float


def render_step(
    step: coach.Step, content: LocaleContent, deps: SkillDeps, *, max_audio_s: float, whisper: bool
) -> Rendered:
    pieces: list[str] = []
    seconds = 0.0
    before_clip: float | None = None
    audio_s, audio_tags = 0.0, 0
    tracks = deps.tracks.for_locale(content.locale)
    for part in step.parts:
        track = tracks.playable(part.clip)
        plays = (
            track is not None
            and audio_player.fits_in_ssml(deps, track)
            and audio_s + track.seconds <= max_audio_s
            and audio_tags < MAX_AUDIO_TAGS
        )
        message = part.message if part.clip is None or plays else part.instead
        if message is not None:
            words = content.pick(message)
            seconds += spoken_seconds(words)
            pieces.append(whispered(words) if whisper else words)
        if track is not None and plays:
            before_clip = seconds if before_clip is None else before_clip
            pieces.append(f'<audio src="{escape_attribute(tracks.url(track))}"/>')
            audio_s, audio_tags = audio_s + track.seconds, audio_tags + 1
            seconds += track.seconds
    ssml = " ".join(pieces)
    return Rendered(ssml, seconds, seconds if before_clip is None else before_clip)


def spoken_seconds(ssml: str) -> float:
    """About how long Alexa takes to say an SSML fragment: its words, plus its breaks."""
    pauses = 0.0
    for element in parse_ssml(ssml).iter("break"):
        match = _BREAK.match((element.get("time") or "").strip())
        if match:
            pauses += float(match.group(1)) / (1000 if match.group(2) == "ms" else 1)
    return len(plain_text(ssml).split()) / SPOKEN_WORDS_PER_S + pauses


def request_time_ms(handler_input: HandlerInput) -> int | None:
    moment = getattr(handler_input.request_envelope.request, "timestamp", None)
    return int(moment.timestamp() * 1000) if moment is not None else None


def coach_response(handler_input: HandlerInput, deps: SkillDeps, turn: coach.Turn) -> Response:
    attributes = session_attributes(handler_input)
    now = turn.now
    if now.play_background:
        coach.save(attributes, None)
        return audio_player.start_track_response(handler_input, deps, BACKGROUND_TRACK, BACKGROUND_INTRO)
    content = locale_content(handler_input)
    whisper = whisper_preferred(handler_input)
    speech = render_step(now, content, deps, max_audio_s=MAX_SPEECH_AUDIO_S, whisper=whisper)
    reprompt = None
    if turn.reprompt is not None and now.state is not None:
        reprompt = render_step(turn.reprompt, content, deps, max_audio_s=MAX_REPROMPT_AUDIO_S, whisper=whisper)
    coach.save(attributes, dated_state(handler_input, now.state, turn.reprompt, speech, reprompt))
    remember(handler_input, now.message_id, "text", None)
    end_session = now.end_session or reprompt is None
    builder = put_speech(handler_input, speech.ssml, reprompt.ssml if reprompt else None, end_session)
    if now.screen_round is not None:
        number = coach.ROUNDS.index(now.screen_round) + 1
        add_breathing_screen(
            handler_input,
            deps,
            f"coach.screen.{now.screen_round.name}",
            f"{number} / {len(coach.ROUNDS)}",
            now.screen_round.clip_for(now.state.feeding if now.state else None),
            speech.seconds_before_first_clip,
        )
    return builder.response


def dated_state(
    handler_input: HandlerInput,
    state: coach.CoachState | None,
    reprompt_step: coach.Step | None,
    speech: Rendered,
    reprompt: Rendered | None,
) -> coach.CoachState | None:
    """The state to keep, dated so the next answer can tell whether the reprompt (and where it led) came
    first: the reprompt starts after the speech plus Alexa's wait; halfway through it is the threshold."""
    asked_at = request_time_ms(handler_input)
    if state is None or reprompt_step is None or reprompt_step.state is None or reprompt is None or asked_at is None:
        return state
    if reprompt_step.state.undated() == state.undated():
        return state  # the reprompt only asks again: nothing to tell apart
    threshold = speech.seconds + coach.REPROMPT_WAIT_S + reprompt.seconds / 2
    return replace(state, asked_at_ms=asked_at, reprompt_after_s=threshold, then=reprompt_step.state.undated())
