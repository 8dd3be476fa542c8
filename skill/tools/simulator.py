"""Try the skill without an Echo: a simulated device shared by the /simulator page and `letdown chat`.

`SimulatedDevice` behaves like an Echo talking to this skill: it resolves what the user typed with the
shared resolver, builds the full Alexa request envelope (session, context, AudioPlayer state) and runs it
through `LetdownService.invoke`, the same path /alexa takes after verification. It never signs anything
and never calls /alexa, so the verification of /alexa is untouched.

The page is stateless on the server: it sends its device and session state with every request and gets
the new state back; `letdown chat` keeps one `SimulatedDevice` alive for the whole conversation.
"""

from __future__ import annotations

import re
import secrets
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from skill.alexa.deps import SkillDeps
from skill.config import DEFAULT_LOCALE, Config
from skill.speech.content import parse_ssml, plain_text, tag_name
from skill.storage.keys import Activity
from skill.tools import envelopes
from skill.tools.resolver import Resolution
from skill.web.errors import BadRequest

DEFAULT_INVOCATION_NAME = "let down helper"
LOCAL_APPLICATION_ID = "amzn1.ask.skill.local-simulator"
SIMULATED_USER_PREFIX = "amzn1.ask.account.simulator-"
SIMULATED_DEVICE_PREFIX = "amzn1.ask.device.simulator-"
SESSION_ID_PREFIX = "amzn1.echo-api.session.simulator-"
MAX_TEXT_CHARS = 500
MAX_TOKEN_CHARS = 1024
MAX_OFFSET_MS = 24 * 60 * 60 * 1000
AUDIO_PLAYER_EVENTS = (
    "AudioPlayer.PlaybackStarted",
    "AudioPlayer.PlaybackStopped",
    "AudioPlayer.PlaybackFinished",
    "AudioPlayer.PlaybackNearlyFinished",
    "AudioPlayer.PlaybackFailed",
)
PLAYER_ACTIVITIES = tuple(Activity)
# What the device reports as its player activity while it sends each event.
ACTIVITY_DURING_EVENT = {
    "AudioPlayer.PlaybackStarted": Activity.PLAYING,
    "AudioPlayer.PlaybackNearlyFinished": Activity.PLAYING,
    "AudioPlayer.PlaybackStopped": Activity.STOPPED,
    "AudioPlayer.PlaybackFinished": Activity.FINISHED,
    "AudioPlayer.PlaybackFailed": Activity.STOPPED,
}
SESSION_END_REASONS = ("USER_INITIATED", "EXCEEDED_MAX_REPROMPTS")
RENDER_DOCUMENT = "Alexa.Presentation.APL.RenderDocument"
EXIT_WORDS = frozenset({"exit", "quit"})
# Said alone, these open the skill (a LaunchRequest) without going through the resolver.
OPENING_WORDS = frozenset({"launch", "open"})
WAKE_WORD = "alexa"
LAUNCH_REQUEST = "LaunchRequest"  # what the resolver answers for "open let down helper"
USER_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
LOCALE_PATTERN = re.compile(r"^[a-z]{2}-[A-Z]{2}$")
# The locale picker: the six the skill is written for, and two that show the fallback (neutral help lines).
PICKER_LOCALES = (
    ("en-US", "English (US)"), ("en-GB", "English (UK)"), ("en-CA", "English (Canada)"),
    ("en-AU", "English (Australia)"), ("en-IN", "English (India)"), ("es-US", "Español (EE. UU.)"),
    ("en-NZ", "English (New Zealand): fallback"), ("es-MX", "Español (México): fallback"),
)  # fmt: skip
_SESSION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,200}$")
_NOT_WORDS = re.compile(r"[^a-z0-9' ]+")


class SimulatorInputError(ValueError):
    """The page (or a script) sent something the simulator cannot use; `reason` says what."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UtteranceResolver(Protocol):
    def resolve(self, utterance: str) -> Resolution: ...


Invoke = Callable[[dict[str, Any]], dict[str, Any]]


# ---------------------------------------------------------------------------------------------------------
# Device and session state


@dataclass
class PlayerState:
    """What the device's audio player is doing; sent as `context.AudioPlayer` with every request."""

    token: str | None = None
    offset_ms: int = 0
    activity: str = Activity.IDLE

    def context(self) -> dict[str, Any]:
        state: dict[str, Any] = {"playerActivity": self.activity}
        if self.token:
            state["token"] = self.token
            state["offsetInMilliseconds"] = self.offset_ms
        return state

    def to_json(self) -> dict[str, Any]:
        return {"token": self.token, "offset_ms": self.offset_ms, "activity": self.activity}


@dataclass
class SessionState:
    session_id: str
    attributes: dict[str, Any] = field(default_factory=dict)
    new: bool = True

    @classmethod
    def start(cls) -> SessionState:
        return cls(session_id=f"{SESSION_ID_PREFIX}{uuid.uuid4()}")

    def to_json(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "attributes": self.attributes}


@dataclass(frozen=True)
class DeviceIdentity:
    """Who and what the simulated device is: the ids in every envelope and whether it has AudioPlayer."""

    application_id: str
    user_key: str
    audio_player: bool = True
    locale: str = DEFAULT_LOCALE
    apl: bool = False  # an Echo Show: a screen that renders APL documents

    @property
    def user_id(self) -> str:
        return f"{SIMULATED_USER_PREFIX}{self.user_key}"

    @property
    def device_id(self) -> str:
        return f"{SIMULATED_DEVICE_PREFIX}{self.user_key}"


def new_user_key() -> str:
    return secrets.token_hex(12)


def application_id_for(config: Config) -> str:
    """The first configured skill id (so the skill sees its own id), or a local placeholder."""
    return sorted(config.skill_ids)[0] if config.skill_ids else LOCAL_APPLICATION_ID


# ---------------------------------------------------------------------------------------------------------
# Envelopes, as an Echo sends them


def intent_request(intent: str, slots: Mapping[str, Any]) -> dict[str, Any]:
    return envelopes.intent_request(intent, {name: slot_fields(name, value) for name, value in slots.items()})


def slot_fields(name: str, value: Any) -> dict[str, Any]:
    """A filled slot's fields as Alexa sends them; values with an id carry an entity-resolution match."""
    spoken, value_id = slot_value_and_id(value)
    if spoken is None:
        return {}  # an unfilled slot: Alexa sends it without a value
    fields: dict[str, Any] = {"value": spoken}
    if value_id is not None:
        fields["resolutions"] = {
            "resolutionsPerAuthority": [
                {
                    "authority": f"amzn1.er-authority.echo-sdk.simulator.{name}",
                    "status": {"code": "ER_SUCCESS_MATCH"},
                    "values": [{"value": {"name": spoken, "id": value_id}}],
                }
            ]
        }
    return fields


def slot_value_and_id(value: Any) -> tuple[str | None, str | None]:
    """(spoken value, resolved id) from a resolver slot: a plain string or an object/mapping with both."""
    if value is None or isinstance(value, str):
        return value, None
    if isinstance(value, Mapping):
        spoken, value_id = value.get("value"), value.get("id")
    else:
        spoken, value_id = getattr(value, "value", None), getattr(value, "id", None)
    return (str(spoken) if spoken is not None else None), (str(value_id) if value_id is not None else None)


def heard_slots(slots: Mapping[str, Any]) -> dict[str, Any]:
    """Slots for display: the spoken value, plus the resolved id where there is one."""
    shown: dict[str, Any] = {}
    for name, value in slots.items():
        spoken, value_id = slot_value_and_id(value)
        if spoken is None:
            continue
        shown[name] = {"value": spoken, "id": value_id} if value_id is not None else spoken
    return shown


def build_envelope(
    identity: DeviceIdentity,
    request_part: Mapping[str, Any],
    *,
    session: SessionState | None,
    player: PlayerState,
) -> dict[str, Any]:
    context = envelopes.device_context(
        application_id=identity.application_id,
        user_id=identity.user_id,
        device_id=identity.device_id,
        audio_player=identity.audio_player,
        player_state=player.context(),
        apl=identity.apl,
    )
    session_part = None
    if session is not None:
        session_part = envelopes.session_part(
            application_id=identity.application_id,
            user_id=identity.user_id,
            session_id=session.session_id,
            new=session.new,
            attributes=session.attributes,
        )
    return envelopes.request_envelope(
        request_part,
        context,
        session_part,
        locale=identity.locale,
        request_id_prefix="amzn1.echo-api.request.simulator-",
    )


# ---------------------------------------------------------------------------------------------------------
# Reading the skill's response


@dataclass(frozen=True)
class MediaLocator:
    """Maps this service's audio URLs to paths on this server, so the page plays local files even when
    the public URL names another host (an HTTPS tunnel, a CDN)."""

    public_url: str
    audio_base_url: str | None = None

    @classmethod
    def for_config(cls, config: Config) -> MediaLocator:
        return cls(public_url=config.public_url, audio_base_url=config.audio_base_url)

    def playable_url(self, url: str) -> str | None:
        """A URL the page's audio element can load, or None (e.g. soundbank:// sounds)."""
        for base in (f"{self.public_url}/audio/", f"{self.audio_base_url}/" if self.audio_base_url else None):
            if base and url.startswith(base):
                rest = url[len(base) :]
                if rest and "/" not in rest.split("?")[0]:
                    return f"/audio/{rest}"
        return url if urlsplit(url).scheme in ("http", "https") else None


def speech_segments(ssml: str | None, media: MediaLocator) -> list[dict[str, Any]]:
    """The response speech in the order a device renders it: spoken text and `<audio>` clips."""
    if not ssml:
        return []
    try:
        root = parse_ssml(ssml)
    except ET.ParseError:
        text = plain_text(ssml)
        return [{"say": text}] if text else []
    segments: list[dict[str, Any]] = []
    words: list[str] = []

    def flush() -> None:
        text = " ".join("".join(words).split())
        if text:
            segments.append({"say": text})
        words.clear()

    def walk(element: ET.Element) -> None:
        if tag_name(element) == "audio":
            flush()
            source = element.get("src") or ""
            segments.append({"audio": media.playable_url(source), "source_url": source})
        elif tag_name(element) == "sub" and element.get("alias"):
            words.append(element.get("alias") or "")
        else:
            words.append(element.text or "")
            for child in element:
                walk(child)
            if tag_name(element) in ("break", "p", "s"):
                words.append(" ")
        words.append(element.tail or "")

    walk(root)
    flush()
    return segments


def output_ssml(output_speech: Mapping[str, Any] | None) -> str | None:
    if not output_speech:
        return None
    if output_speech.get("ssml"):
        return output_speech["ssml"]
    text = output_speech.get("text")
    return f"<speak>{text}</speak>" if text else None


def playback_actions(directives: list[Mapping[str, Any]], media: MediaLocator) -> list[dict[str, Any]]:
    """The AudioPlayer directives as simple instructions for the page's player."""
    actions: list[dict[str, Any]] = []
    for directive in directives:
        kind = directive.get("type")
        if kind == "AudioPlayer.Play":
            item = directive.get("audioItem") or {}
            stream = item.get("stream") or {}
            metadata = item.get("metadata") or {}
            source = stream.get("url") or ""
            actions.append(
                {
                    "action": "play",
                    "behavior": directive.get("playBehavior", "REPLACE_ALL"),
                    "url": media.playable_url(source),
                    "source_url": source,
                    "token": stream.get("token"),
                    "offset_ms": int(stream.get("offsetInMilliseconds") or 0),
                    "expected_previous_token": stream.get("expectedPreviousToken"),
                    "title": metadata.get("title"),
                    "subtitle": metadata.get("subtitle"),
                }
            )
        elif kind == "AudioPlayer.Stop":
            actions.append({"action": "stop"})
        elif kind == "AudioPlayer.ClearQueue":
            actions.append({"action": "clear_queue", "behavior": directive.get("clearBehavior", "CLEAR_ENQUEUED")})
    return actions


def screen_of(directives: list[Mapping[str, Any]]) -> dict[str, Any] | None:
    """What an Echo Show draws, from the last RenderDocument's data: the line, and the breathing circle's
    timing (the page animates the circle itself; it does not run APL)."""
    rendered = [d for d in directives if d.get("type") == RENDER_DOCUMENT]
    if not rendered:
        return None
    data = ((rendered[-1].get("datasources") or {}).get("breathing") or {}).get("properties") or {}
    numbers = {"inhale_ms": "inhaleMs", "exhale_ms": "exhaleMs", "cycles": "cycles", "start_delay_ms": "startDelayMs"}
    screen: dict[str, Any] = {"instruction": str(data.get("instruction") or ""), "step": str(data.get("step") or "")}
    for key, name in numbers.items():
        value = data.get(name)
        screen[key] = int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0
    return screen


@dataclass
class Turn:
    """One exchange with the skill: what was heard, what the skill answered, how the session stands."""

    request_type: str | None
    heard: dict[str, Any] | None = None
    speech: str = ""
    ssml: str | None = None
    reprompt: str | None = None
    reprompt_ssml: str | None = None
    end_session: bool | None = None
    directives: list[dict[str, Any]] = field(default_factory=list)
    session_attributes: dict[str, Any] = field(default_factory=dict)
    segments: list[dict[str, Any]] = field(default_factory=list)
    playback: list[dict[str, Any]] = field(default_factory=list)
    session_open: bool = False
    session_ended: str | None = None  # the reason, when this turn ended the session
    note: str | None = None  # what the device did without asking the skill
    screen: dict[str, Any] | None = None  # what an Echo Show shows (from a RenderDocument)

    def to_json(self) -> dict[str, Any]:
        return {
            "request_type": self.request_type,
            "heard": self.heard,
            "speech": self.speech,
            "ssml": self.ssml,
            "reprompt": self.reprompt,
            "reprompt_ssml": self.reprompt_ssml,
            "end_session": self.end_session,
            "directives": self.directives,
            "session_attributes": self.session_attributes,
            "segments": self.segments,
            "playback": self.playback,
            "session_open": self.session_open,
            "session_ended": self.session_ended,
            "note": self.note,
            "screen": self.screen,
        }


def read_response(request_type: str, answer: Mapping[str, Any], media: MediaLocator) -> Turn:
    response = answer.get("response") or {}
    ssml = output_ssml(response.get("outputSpeech"))
    reprompt_ssml = output_ssml((response.get("reprompt") or {}).get("outputSpeech"))
    directives = list(response.get("directives") or [])
    return Turn(
        request_type=request_type,
        speech=plain_text(ssml) if ssml else "",
        ssml=ssml,
        reprompt=plain_text(reprompt_ssml) if reprompt_ssml else None,
        reprompt_ssml=reprompt_ssml,
        end_session=response.get("shouldEndSession"),
        directives=directives,
        session_attributes=dict(answer.get("sessionAttributes") or {}),
        segments=speech_segments(ssml, media),
        playback=playback_actions(directives, media),
        screen=screen_of(directives),
    )


# ---------------------------------------------------------------------------------------------------------
# The device


def command_words(text: str) -> str:
    """What was typed, as plain words without a leading wake word: compared with the exit and opening words."""
    words = _NOT_WORDS.sub(" ", text.lower().replace("-", " ")).split()
    if words and words[0] == WAKE_WORD:
        words = words[1:]
    return " ".join(words)


@dataclass
class SimulatedDevice:
    """An Echo (or a speaker without AudioPlayer) in conversation with the skill.

    `say` and `event` return a `Turn`; the session and player state are kept on the device between
    calls, as a real device does (the page rebuilds the device from the state it sent).
    """

    identity: DeviceIdentity
    invoke: Invoke
    resolver: UtteranceResolver
    media: MediaLocator
    invocation_name: str = DEFAULT_INVOCATION_NAME
    session: SessionState | None = None
    player: PlayerState = field(default_factory=PlayerState)

    # -- what the user says

    def say(self, text: str) -> Turn:
        words = command_words(text)
        if words in EXIT_WORDS:
            return self.end_session("USER_INITIATED")
        resolution = None if words in OPENING_WORDS else self.resolver.resolve(text)
        if resolution is None or resolution.intent == LAUNCH_REQUEST:
            self.session = SessionState.start()  # opening the skill always starts a session
            return self._send({"type": LAUNCH_REQUEST}, heard={"intent": None, "slots": {}, "score": None})
        if self.session is None or self.is_one_shot(words):
            self.session = SessionState.start()
        heard = {
            "intent": resolution.intent,
            "slots": heard_slots(resolution.slots),
            "score": getattr(resolution, "score", None),
        }
        return self._send(intent_request(resolution.intent, resolution.slots), heard=heard)

    def is_one_shot(self, words: str) -> bool:
        """'ask let down helper to …' opens the skill with a request: a new session, as on a device."""
        return any(words.startswith(f"{verb} {self.invocation_name} ") for verb in ("ask", "tell"))

    def end_session(self, reason: str) -> Turn:
        """The user said "exit" (USER_INITIATED) or stayed silent after the reprompt."""
        if self.session is None:
            return Turn(request_type=None, note="no session is open", session_open=False)
        turn = self._send({"type": "SessionEndedRequest", "reason": reason}, heard=None)
        self.session = None
        turn.session_open = False
        turn.session_ended = reason
        return turn

    # -- what the audio player reports

    def event(self, event_type: str, token: str | None, offset_ms: int, error: str | None = None) -> Turn:
        if not self.identity.audio_player:
            raise SimulatorInputError("this device has no AudioPlayer")
        if event_type not in AUDIO_PLAYER_EVENTS:
            raise SimulatorInputError(f"type must be one of {', '.join(AUDIO_PLAYER_EVENTS)}")
        self.player = PlayerState(token=token, offset_ms=offset_ms, activity=ACTIVITY_DURING_EVENT[event_type])
        request_part: dict[str, Any] = {"type": event_type, "offsetInMilliseconds": offset_ms}
        if token:
            request_part["token"] = token
        if event_type == "AudioPlayer.PlaybackFailed":
            request_part["error"] = {"type": "MEDIA_ERROR_UNKNOWN", "message": error or "playback failed"}
            request_part["currentPlaybackState"] = self.player.context()
        envelope = build_envelope(self.identity, request_part, session=None, player=self.player)
        turn = read_response(event_type, self.invoke(envelope), self.media)
        turn.session_open = self.session is not None
        return turn

    # -- sending a turn in the session

    def _send(self, request_part: dict[str, Any], heard: dict[str, Any] | None) -> Turn:
        assert self.session is not None
        envelope = build_envelope(self.identity, request_part, session=self.session, player=self.player)
        started_new = self.session.new
        turn = read_response(request_part["type"], self.invoke(envelope), self.media)
        turn.heard = heard
        if request_part["type"] == "SessionEndedRequest":
            return turn
        if turn.end_session is False:
            self.session = replace(self.session, new=False, attributes=turn.session_attributes)
            turn.session_open = True
        else:
            self.session = None
            turn.session_ended = "SKILL_ENDED"
        if started_new:
            turn.note = "new session"
        return turn

    def state_json(self) -> dict[str, Any]:
        return {
            "session_state": self.session.to_json() if self.session else None,
            "player": self.player.to_json(),
        }


# ---------------------------------------------------------------------------------------------------------
# Loading the resolver and the model's invocation name


def invocation_name(deps: SkillDeps, locale: str = DEFAULT_LOCALE) -> str:
    model = deps.models.for_locale(locale)
    return model.invocation_name if model and model.invocation_name.strip() else DEFAULT_INVOCATION_NAME


def load_resolver(deps: SkillDeps, locale: str = DEFAULT_LOCALE) -> UtteranceResolver:
    """The skill's own resolver for the locale (the one its free-text intent uses), built once per app."""
    resolver = deps.resolvers.for_locale(locale)
    if resolver is None:
        raise FileNotFoundError(f"no interaction model in {deps.config.model_dir}")
    return resolver


class Simulator:
    """What the simulator routes share for one app: a resolver per locale (loaded on first use) and ids."""

    def __init__(self, deps: SkillDeps) -> None:
        self.deps = deps
        self.application_id = application_id_for(deps.config)
        self.media = MediaLocator.for_config(deps.config)
        self._resolvers: dict[str, UtteranceResolver] = {}  # a cache of what load_resolver builds

    def resolver(self, locale: str = DEFAULT_LOCALE) -> UtteranceResolver:
        if locale not in self._resolvers:
            self._resolvers[locale] = load_resolver(self.deps, locale)
        return self._resolvers[locale]

    def invocation_name(self, locale: str = DEFAULT_LOCALE) -> str:
        return invocation_name(self.deps, locale)

    def device(self, invoke: Invoke, identity: DeviceIdentity, **state: Any) -> SimulatedDevice:
        return SimulatedDevice(
            identity=identity,
            invoke=invoke,
            resolver=self.resolver(identity.locale),
            media=self.media,
            invocation_name=self.invocation_name(identity.locale),
            **state,
        )


# ---------------------------------------------------------------------------------------------------------
# Validating what the page sends


def require_object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SimulatorInputError(f"{what} must be a JSON object")
    return value


def _or_empty(value: Any) -> Any:
    return {} if value is None else value


def parse_identity(body: Mapping[str, Any], application_id: str) -> DeviceIdentity:
    device = require_object(_or_empty(body.get("device")), "device")
    user_key = device.get("user_id")
    if not isinstance(user_key, str) or not USER_KEY_PATTERN.match(user_key):
        raise SimulatorInputError("device.user_id must be 8–64 letters, digits, '-' or '_'")
    audio_player = device.get("audio_player", True)
    if not isinstance(audio_player, bool):
        raise SimulatorInputError("device.audio_player must be true or false")
    locale = device.get("locale", DEFAULT_LOCALE)
    if not isinstance(locale, str) or not LOCALE_PATTERN.match(locale):
        raise SimulatorInputError("device.locale must be a locale like en-GB")
    apl = device.get("apl", False)
    if not isinstance(apl, bool):
        raise SimulatorInputError("device.apl must be true or false")
    return DeviceIdentity(
        application_id=application_id, user_key=user_key, audio_player=audio_player, apl=apl, locale=locale
    )


def parse_offset(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:  # NaN
        raise SimulatorInputError(f"{what} must be a number of milliseconds")
    if not 0 <= value <= MAX_OFFSET_MS:
        raise SimulatorInputError(f"{what} must be between 0 and {MAX_OFFSET_MS}")
    return int(value)


def parse_player_token(value: Any, what: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_TOKEN_CHARS:
        raise SimulatorInputError(f"{what} must be a string of at most {MAX_TOKEN_CHARS} characters")
    return value


def parse_player(body: Mapping[str, Any]) -> PlayerState:
    device = require_object(_or_empty(body.get("device")), "device")
    player = require_object(_or_empty(device.get("player")), "device.player")
    activity = player.get("activity", Activity.IDLE)
    if activity not in PLAYER_ACTIVITIES:
        raise SimulatorInputError(f"device.player.activity must be one of {', '.join(PLAYER_ACTIVITIES)}")
    return PlayerState(
        token=parse_player_token(player.get("token"), "device.player.token"),
        offset_ms=parse_offset(player.get("offset_ms", 0), "device.player.offset_ms"),
        activity=activity,
    )


def parse_session(body: Mapping[str, Any]) -> SessionState | None:
    state = body.get("session_state")
    if state is None:
        return None
    state = require_object(state, "session_state")
    session_id = state.get("session_id")
    if not isinstance(session_id, str) or not _SESSION_ID.match(session_id):
        raise SimulatorInputError("session_state.session_id must be a session id this simulator issued")
    attributes = require_object(_or_empty(state.get("attributes")), "session_state.attributes")
    return SessionState(session_id=session_id, attributes=dict(attributes), new=False)


def parse_text(body: Mapping[str, Any]) -> str:
    text = body.get("text")
    if not isinstance(text, str):
        raise SimulatorInputError("text must be a string")
    text = text.strip()
    if not text:
        raise SimulatorInputError("text is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise SimulatorInputError(f"text must be at most {MAX_TEXT_CHARS} characters")
    return text


def json_body() -> Mapping[str, Any]:
    # Only application/json is read: a cross-site form or text/plain post cannot drive the simulator.
    if request.mimetype != "application/json":
        raise SimulatorInputError("content type must be application/json")
    body = request.get_json(silent=True)
    return require_object(body, "body")


# ---------------------------------------------------------------------------------------------------------
# The blueprint

PAGE_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "media-src 'self' https: blob:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def create_simulator_blueprint(deps: SkillDeps) -> Blueprint:
    """GET /simulator (the page) and its JSON API under /simulator/api/."""
    simulator = Simulator(deps)
    blueprint = Blueprint(
        "simulator",
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/simulator/static",
    )

    def invoke(envelope: dict[str, Any]) -> dict[str, Any]:
        return current_app.extensions["letdown"].invoke(envelope)

    def answer(turn: Turn, device: SimulatedDevice) -> tuple[Response, int]:
        return jsonify({**turn.to_json(), **device.state_json()}), 200

    def device_from(body: Mapping[str, Any]) -> SimulatedDevice:
        """The device as the page last saw it: identity, session and player state all come from `body`."""
        return simulator.device(
            invoke,
            parse_identity(body, simulator.application_id),
            session=parse_session(body),
            player=parse_player(body),
        )

    def handle(work: Callable[[], tuple[Response, int]]) -> tuple[Response, int]:
        try:
            return work()
        except SimulatorInputError as error:
            return jsonify(error=error.reason), 400
        except BadRequest as error:
            return jsonify(error=error.reason), error.status

    @blueprint.get("/simulator")
    def page() -> Response:
        html = render_template(
            "simulator.html",
            invocation_name=simulator.invocation_name(),
            invocation_names={locale: simulator.invocation_name(locale) for locale, _label in PICKER_LOCALES},
            locales=PICKER_LOCALES,
            max_text_chars=MAX_TEXT_CHARS,
        )
        return Response(html, mimetype="text/html", headers=PAGE_SECURITY_HEADERS)

    @blueprint.post("/simulator/api/utterance")
    def utterance() -> tuple[Response, int]:
        def work() -> tuple[Response, int]:
            body = json_body()
            text = parse_text(body)
            device = device_from(body)
            return answer(device.say(text), device)

        return handle(work)

    @blueprint.post("/simulator/api/event")
    def event() -> tuple[Response, int]:
        def work() -> tuple[Response, int]:
            body = json_body()
            event_type = body.get("type")
            if event_type not in AUDIO_PLAYER_EVENTS:
                raise SimulatorInputError(f"type must be one of {', '.join(AUDIO_PLAYER_EVENTS)}")
            error = body.get("error")
            if error is not None and not (isinstance(error, str) and len(error) <= MAX_TEXT_CHARS):
                raise SimulatorInputError(f"error must be a string of at most {MAX_TEXT_CHARS} characters")
            device = device_from(body)
            turn = device.event(
                event_type,
                parse_player_token(body.get("token"), "token"),
                parse_offset(body.get("offset_ms", 0), "offset_ms"),
                error,
            )
            return answer(turn, device)

        return handle(work)

    @blueprint.post("/simulator/api/end")
    def end() -> tuple[Response, int]:
        def work() -> tuple[Response, int]:
            body = json_body()
            reason = body.get("reason", "USER_INITIATED")
            if reason not in SESSION_END_REASONS:
                raise SimulatorInputError(f"reason must be one of {', '.join(SESSION_END_REASONS)}")
            device = device_from(body)
            return answer(device.end_session(reason), device)

        return handle(work)

    return blueprint
