"""The playback races of issue 10, as pairs of Alexa requests for one user sent at the same instant.

Each scenario has a setup (requests sent one after the other), a pair (sent at once: by two spawned
processes, or by two threads to two services on one database) and the one state the device is really in
afterwards. Used by tests/test_playback_races.py and bench/bench_faults.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from skill.playback.catalog import make_token
from tests.support.alexa import envelope, intent_request, new_session

PAUSE_CONTEXT_OFFSET_MS = 41_000  # where the device's context says it was when the user said "pause"
EXACT_STOP_OFFSET_MS = 41_234  # what its PlaybackStopped event reports
OLD_TRACK_STOP_OFFSET_MS = 200_000
FIRST_TRACK = "breathing-10m"
NEXT_TRACK = "feed-background"


def playing(token: str, offset_ms: int = 0, activity: str = "PLAYING") -> dict[str, Any]:
    return {"playerActivity": activity, "token": token, "offsetInMilliseconds": offset_ms}


def event(user_id: str, request_type: str, player: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    return envelope({"type": request_type, **fields}, None, user_id=user_id, player_state=player)


def intent(user_id: str, name: str, player: dict[str, Any] | None = None, **slots: str) -> dict[str, Any]:
    return envelope(intent_request(name, **slots), new_session(user_id), user_id=user_id, player_state=player)


@dataclass(frozen=True)
class Trial:
    """One run of a scenario for a fresh user: `setup` first, then `pair` at once; `expected(answers)`."""

    name: str
    setup: list[dict[str, Any]]
    pair: tuple[dict[str, Any], dict[str, Any]]
    expected: Callable[[list[dict[str, Any]]], dict[str, Any]]


def played_token(answer: dict[str, Any]) -> str | None:
    for directive in answer.get("response", {}).get("directives", []):
        if directive.get("type") == "AudioPlayer.Play":
            return directive["audioItem"]["stream"]["token"]
    return None


def pause_and_stopped(user_id: str) -> Trial:
    """PauseIntent and its PlaybackStopped at once: the exact offset, PAUSED."""
    token = make_token(FIRST_TRACK)
    return Trial(
        "pause+stopped",
        setup=[event(user_id, "AudioPlayer.PlaybackStarted", token=token, offsetInMilliseconds=0)],
        pair=(
            intent(user_id, "AMAZON.PauseIntent", playing(token, PAUSE_CONTEXT_OFFSET_MS)),
            event(user_id, "AudioPlayer.PlaybackStopped", token=token, offsetInMilliseconds=EXACT_STOP_OFFSET_MS),
        ),
        expected=lambda answers: {
            "track_token": token,
            "track_offset_ms": EXACT_STOP_OFFSET_MS,
            "playback_activity": "PAUSED",
        },
    )


def old_stop_and_new_play(user_id: str) -> Trial:
    """The old track's PlaybackStopped (200 000 ms) and a new Play at once: the new track at its own offset."""
    old = make_token(FIRST_TRACK)
    return Trial(
        "stopped(old)+play(new)",
        setup=[event(user_id, "AudioPlayer.PlaybackStarted", token=old, offsetInMilliseconds=0)],
        pair=(
            event(user_id, "AudioPlayer.PlaybackStopped", token=old, offsetInMilliseconds=OLD_TRACK_STOP_OFFSET_MS),
            intent(user_id, "PlayTrackIntent", playing(old, 199_000), track="feeding background"),
        ),
        expected=lambda answers: {
            "track_token": played_token(answers[1]),
            "track_offset_ms": 0,
            "playback_activity": "PLAYING",
        },
    )


def finished_and_started(user_id: str) -> Trial:
    """PlaybackFinished(T1) and PlaybackStarted(T2) at once: T2 PLAYING."""
    first, second = make_token(FIRST_TRACK), make_token(NEXT_TRACK)
    return Trial(
        "finished(T1)+started(T2)",
        setup=[event(user_id, "AudioPlayer.PlaybackStarted", token=first, offsetInMilliseconds=0)],
        pair=(
            event(user_id, "AudioPlayer.PlaybackFinished", token=first, offsetInMilliseconds=600_000),
            event(user_id, "AudioPlayer.PlaybackStarted", token=second, offsetInMilliseconds=0),
        ),
        expected=lambda answers: {"track_token": second, "track_offset_ms": 0, "playback_activity": "PLAYING"},
    )


SCENARIOS: dict[str, Callable[[str], Trial]] = {
    "pause+stopped": pause_and_stopped,
    "stopped(old)+play(new)": old_stop_and_new_play,
    "finished(T1)+started(T2)": finished_and_started,
}


def playback_state(attributes: dict[str, Any]) -> dict[str, Any]:
    return {key: attributes.get(key) for key in ("track_token", "track_offset_ms", "playback_activity")}
