"""`letdown say "UTTERANCE"`: one utterance through the resolver and the skill's own request path.

The utterance is resolved to an intent and slots from the interaction model's samples (skill.tools.resolver),
turned into the envelope an Echo would send (skill.tools.envelopes, through the simulator), and run through
`LetdownService.invoke`, the path /alexa takes after verification. Each call is a new session of one
fixed local user, so stored preferences (whisper, visits) carry over between calls.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import Any

from skill.config import DEFAULT_LOCALE, Config
from skill.interaction_model import LAUNCH
from skill.tools import simulator
from skill.tools.resolver import Resolution
from skill.tools.simulator import Turn
from skill.web.app import create_app

SAY_USER_KEY = "letdown-say-local"
# What `--json` prints of the skill's answer (the simulator's Turn has more, for the page).
ANSWER_FIELDS = (
    "speech", "ssml", "reprompt", "reprompt_ssml", "end_session", "directives", "session_attributes",
)  # fmt: skip


@dataclass(frozen=True)
class SayResult:
    utterance: str
    resolution: Resolution
    turn: Turn

    def to_json(self) -> dict[str, Any]:
        answer = self.turn.to_json()
        return {
            "utterance": self.utterance,
            "intent": self.resolution.intent,
            "slots": {name: dict(slot) for name, slot in self.resolution.slots.items()},
            "score": self.resolution.score,
            **{name: answer[name] for name in ANSWER_FIELDS},
        }


class Sayer:
    """One app, its service and its resolver, for saying many utterances in one process (bench/bench_nlu.py).

    `say` is one Sayer used once; each call of `Sayer.say` is exactly what `letdown say` does."""

    def __init__(self, config: Config, *, locale: str = DEFAULT_LOCALE) -> None:
        self.config = config
        self.locale = locale
        self.app = create_app(config)
        self.service = self.app.extensions["letdown"]
        self.resolver = simulator.load_resolver(self.service.deps, locale)

    def say(self, utterance: str, *, audio_player: bool = True, user_key: str = SAY_USER_KEY) -> SayResult:
        resolution = self.resolver.resolve(utterance)
        identity = simulator.DeviceIdentity(
            application_id=simulator.application_id_for(self.config),
            user_key=user_key,
            audio_player=audio_player,
            locale=self.locale,
        )
        if resolution.intent == LAUNCH:
            request_part: dict[str, Any] = {"type": LAUNCH}
        else:
            request_part = simulator.intent_request(resolution.intent, resolution.slots)
        envelope = simulator.build_envelope(
            identity, request_part, session=simulator.SessionState.start(), player=simulator.PlayerState()
        )
        with self.app.app_context():
            answer = self.service.invoke(envelope)
        turn = simulator.read_response(request_part["type"], answer, simulator.MediaLocator.for_config(self.config))
        return SayResult(utterance=utterance, resolution=resolution, turn=turn)

    def close(self) -> None:
        self.service.store.close()


def say(
    utterance: str,
    config: Config,
    *,
    locale: str = DEFAULT_LOCALE,
    audio_player: bool = True,
    user_key: str = SAY_USER_KEY,
) -> SayResult:
    sayer = Sayer(config, locale=locale)
    try:
        return sayer.say(utterance, audio_player=audio_player, user_key=user_key)
    finally:
        sayer.close()


def format_text(result: SayResult) -> str:
    slots = ", ".join(
        f"{name}={slot.get('value')!r}" + (f" (id {slot['id']})" if slot.get("id") else "")
        for name, slot in result.resolution.slots.items()
        if slot.get("value") is not None
    )
    lines = [
        f"intent:      {result.resolution.intent}"
        + (f"  [{slots}]" if slots else "")
        + f"  (score {result.resolution.score:g})",
        f"speech:      {result.turn.speech or '(none)'}",
        f"reprompt:    {result.turn.reprompt or '(none)'}",
        f"end_session: {result.turn.end_session}",
    ]
    for directive in result.turn.directives:
        lines.append(f"directive:   {describe_directive(directive)}")
    return "\n".join(lines)


def describe_directive(directive: dict[str, Any]) -> str:
    kind = directive.get("type", "?")
    stream = (directive.get("audioItem") or {}).get("stream") or {}
    if stream:
        return f"{kind} {directive.get('playBehavior', '')} {stream.get('url')} token={stream.get('token')}"
    return str(kind)


def run_say(args: argparse.Namespace) -> int:
    result = say(
        args.utterance,
        Config.from_env(),
        locale=args.locale,
        audio_player=not args.no_audio_player,
    )
    if args.json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        print(format_text(result))
    sys.stdout.flush()
    return 0


def add_say_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "say",
        help="resolve an utterance and run it through the skill (as an Echo would send it)",
        description="Resolve UTTERANCE against the interaction model and send it through the skill's "
        "request path; prints the speech (SSML stripped), reprompt, session end and directives.",
    )
    parser.add_argument("utterance", help='what the user says, e.g. "give me a tip about warmth"')
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--locale", default=DEFAULT_LOCALE, help="request locale (default en-US)")
    parser.add_argument(
        "--no-audio-player", action="store_true", help="simulate a device without the AudioPlayer interface"
    )
    parser.set_defaults(run=run_say)
