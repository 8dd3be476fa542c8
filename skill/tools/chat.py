"""`letdown chat`: the whole conversation in a terminal, through the same simulated device as /simulator.

Each line you type goes through the shared resolver and `SimulatedDevice` (skill/simulator.py) into the
skill, exactly as the simulator page's utterances do. A terminal plays no sound, so a small virtual
player stands in for the Echo's: it keeps time from when a track "starts", reports the AudioPlayer events
a device sends (started, stopped with the offset, nearly finished, finished) and plays what was queued,
so pause and resume behave as on a device.

An empty line is silence: the device speaks the reprompt, and a second silence ends the session.
History (arrow keys) lives in memory only: what a parent says is never written to disk.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from skill.config import DEFAULT_LOCALE, Config
from skill.storage.keys import Activity
from skill.tools.simulator import (
    LOCALE_PATTERN,
    USER_KEY_PATTERN,
    DeviceIdentity,
    MediaLocator,
    PlayerState,
    SimulatedDevice,
    Turn,
    application_id_for,
    invocation_name,
    load_resolver,
    new_user_key,
)
from skill.web.app import create_app

PROMPT = "you> "
REPLY = "alexa> "
INDENT = " " * len(REPLY)
NEARLY_FINISHED_S = 15.0
COMMANDS_HELP = ":json toggles raw JSON output, :quit (or Ctrl-D) leaves; an empty line is silence."


def describe_action(action: dict[str, Any]) -> str:
    """One directive, compactly: "[plays: Breathing, 2 minutes]"."""
    kind = action.get("action")
    name = action.get("title") or action.get("token") or "a track"
    if kind == "play":
        if action.get("behavior") == "ENQUEUE":
            return f"[queues: {name}]"
        if action.get("behavior") == "REPLACE_ENQUEUED":
            return f"[queues instead: {name}]"
        offset_s = int(action.get("offset_ms") or 0) // 1000
        start = f" from {offset_s // 60}:{offset_s % 60:02d}" if offset_s else ""
        return f"[plays: {name}{start}]"
    if kind == "stop":
        return "[stops the audio]"
    if kind == "clear_queue":
        return "[clears the queue]"
    return f"[{kind}]"


def other_directives(turn: Turn) -> list[str]:
    return [f"[{d.get('type')}]" for d in turn.directives if not str(d.get("type", "")).startswith("AudioPlayer.")]


@dataclass
class VirtualPlayer:
    """The Echo's audio player, without sound: tracks the position by the clock and reports events."""

    device: SimulatedDevice
    duration_of: Callable[[str | None], float | None]
    clock: Callable[[], float] = time.monotonic
    token: str | None = None
    title: str | None = None
    started_at: float | None = None  # clock time when offset 0 would have played; None when stopped
    offset_ms: int = 0
    activity: str = Activity.IDLE
    nearly_reported: bool = False
    queue: list[dict[str, Any]] = field(default_factory=list)
    on_event: Callable[[Turn], None] = lambda turn: None

    @property
    def playing(self) -> bool:
        return self.started_at is not None

    def position_ms(self) -> int:
        if self.started_at is None:
            return self.offset_ms
        return max(0, int((self.clock() - self.started_at) * 1000))

    def sync(self) -> None:
        """Report what happened while the user was typing (near the end, the end, the next track)."""
        while self.playing:
            duration = self.duration_of(self.token)
            if duration is None:
                break
            position = self.position_ms()
            if not self.nearly_reported and position >= (duration - NEARLY_FINISHED_S) * 1000:
                self.nearly_reported = True
                self._report("AudioPlayer.PlaybackNearlyFinished", position)
            if position < duration * 1000:
                break
            finished_at = self.started_at + duration if self.started_at is not None else self.clock()
            self.offset_ms = int(duration * 1000)
            self.started_at = None
            self.activity = Activity.FINISHED
            self._report("AudioPlayer.PlaybackFinished", self.offset_ms)
            if self.queue:
                self._start(self.queue.pop(0), at=finished_at)
        self.device.player = self.context()

    def context(self) -> PlayerState:
        if self.token is None:
            return PlayerState()
        return PlayerState(token=self.token, offset_ms=self.position_ms(), activity=self.activity)

    def apply(self, actions: list[dict[str, Any]]) -> None:
        for action in actions:
            kind = action.get("action")
            if kind == "stop":
                self.stop()
            elif kind == "clear_queue":
                self.queue.clear()
                if action.get("behavior") == "CLEAR_ALL":
                    self.stop()
            elif kind == "play":
                behavior = action.get("behavior")
                if behavior == "ENQUEUE":
                    self.queue.append(action)
                elif behavior == "REPLACE_ENQUEUED":
                    self.queue = [action]
                else:
                    self.stop()
                    self.queue.clear()
                    self._start(action, at=self.clock())

    def stop(self) -> None:
        if not self.playing:
            return
        self.offset_ms = self.position_ms()
        self.started_at = None
        self.activity = Activity.STOPPED
        self._report("AudioPlayer.PlaybackStopped", self.offset_ms)

    def _start(self, action: dict[str, Any], at: float) -> None:
        self.token = action.get("token")
        self.title = action.get("title")
        self.offset_ms = int(action.get("offset_ms") or 0)
        self.started_at = at - self.offset_ms / 1000
        self.activity = Activity.PLAYING
        self.nearly_reported = False
        self._report("AudioPlayer.PlaybackStarted", self.offset_ms)

    def _report(self, event_type: str, offset_ms: int) -> None:
        turn = self.device.event(event_type, self.token, offset_ms)  # also sets the device's player state
        self.on_event(turn)
        self.apply(turn.playback)


class ChatSession:
    """Reads lines, sends them through the simulated device, prints the replies."""

    def __init__(self, device: SimulatedDevice, player: VirtualPlayer, out: TextIO, *, json_mode: bool) -> None:
        self.device = device
        self.player = player
        self.out = out
        self.json_mode = json_mode
        self.silences = 0
        self.last_reprompt: str | None = None
        player.on_event = self.show_event

    def print(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def handle_line(self, line: str) -> bool:
        """Act on one line; False when the user asked to leave."""
        text = line.strip()
        if text in (":quit", ":q", ":exit"):
            return False
        if text == ":json":
            self.json_mode = not self.json_mode
            self.print(f"[raw JSON output {'on' if self.json_mode else 'off'}]")
            return True
        if text in (":help", ":?"):
            self.print(COMMANDS_HELP)
            return True
        self.player.sync()
        if not text:
            self.silence()
            return True
        self.silences = 0
        turn = self.device.say(text)
        self.show(turn)
        self.player.apply(turn.playback)
        return True

    def silence(self) -> None:
        if self.device.session is None:
            return
        self.silences += 1
        if self.silences == 1 and self.last_reprompt:
            self.print(f"{REPLY}{self.last_reprompt}")
            return
        self.silences = 0
        self.show(self.device.end_session("EXCEEDED_MAX_REPROMPTS"))

    def show(self, turn: Turn) -> None:
        self.last_reprompt = turn.reprompt
        if self.json_mode:
            self.print(json.dumps({**turn.to_json(), **self.device.state_json()}, ensure_ascii=False))
            return
        if turn.heard and turn.heard.get("intent"):
            slots = " ".join(f"{name}={_slot_text(value)}" for name, value in turn.heard["slots"].items())
            self.print(f"{INDENT}(heard {turn.heard['intent']}{' ' + slots if slots else ''})")
        elif turn.request_type == "LaunchRequest":
            self.print(f"{INDENT}(launch)")
        if turn.speech:
            self.print(f"{REPLY}{turn.speech}")
        for line in [describe_action(action) for action in turn.playback] + other_directives(turn):
            self.print(f"{INDENT}{line}")
        if turn.session_ended == "USER_INITIATED":
            self.print(f"{INDENT}[session ended]")
        elif turn.session_ended == "EXCEEDED_MAX_REPROMPTS":
            self.print(f"{INDENT}[session ended: no answer]")
        elif turn.session_ended == "SKILL_ENDED":
            self.print(f"{INDENT}[session closed by the skill]")
        elif turn.note and turn.note != "new session":
            self.print(f"{INDENT}[{turn.note}]")

    def show_event(self, turn: Turn) -> None:
        if self.json_mode:
            self.print(json.dumps({**turn.to_json(), **self.device.state_json()}, ensure_ascii=False))


def _slot_text(value: Any) -> str:
    if isinstance(value, dict):
        return f"{value.get('value')}({value.get('id')})"
    return str(value)


def enable_line_editing() -> None:
    # Importing readline gives input() history and editing; without it (Windows) plain input() works.
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401


def run_chat(args: argparse.Namespace) -> int:
    config = Config.from_env()
    app = create_app(config)
    service = app.extensions["letdown"]
    device = SimulatedDevice(
        identity=DeviceIdentity(
            application_id=application_id_for(config),
            user_key=args.user or new_user_key(),
            audio_player=not args.speaker_only,
            locale=args.locale,
        ),
        invoke=service.invoke,
        resolver=load_resolver(service.deps, args.locale),
        media=MediaLocator.for_config(config),
        invocation_name=invocation_name(service.deps, args.locale),
    )

    def duration_of(token: str | None) -> float | None:
        track = service.deps.tracks.track_for_token(token)
        return track.seconds if track is not None else None

    chat = ChatSession(device, VirtualPlayer(device, duration_of), sys.stdout, json_mode=args.json)
    interactive = sys.stdin.isatty()
    if interactive:
        enable_line_editing()
        chat.print(f'Talking to {device.invocation_name}. Try "open {device.invocation_name}". {COMMANDS_HELP}')
    with app.app_context():
        while True:
            try:
                line = input(PROMPT)
            except (EOFError, KeyboardInterrupt):
                chat.print()
                return 0
            if not interactive:
                chat.print(line)  # echo piped input so the transcript reads as a conversation
            if not chat.handle_line(line):
                return 0


def request_locale(value: str) -> str:
    if not LOCALE_PATTERN.match(value):
        raise argparse.ArgumentTypeError("must be a locale like en-GB or es-US")
    return value


def user_key(value: str) -> str:
    if not USER_KEY_PATTERN.match(value):
        raise argparse.ArgumentTypeError("must be 8–64 letters, digits, '-' or '_'")
    return value


def add_chat_parser(subparsers: argparse._SubParsersAction) -> None:
    chat = subparsers.add_parser("chat", help="talk to the skill in the terminal (a simulated Echo)")
    chat.add_argument("--json", action="store_true", help="print each reply as one JSON object (toggle: :json)")
    chat.add_argument("--speaker-only", action="store_true", help="simulate a device without AudioPlayer")
    chat.add_argument("--user", metavar="KEY", type=user_key, help="a fixed simulated user, remembered between chats")
    chat.add_argument(
        "--locale",
        type=request_locale,
        default=DEFAULT_LOCALE,
        help="request locale, e.g. en-GB, es-US (default en-US)",
    )
    chat.set_defaults(run=run_chat)
