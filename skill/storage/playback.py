"""Playback state updates that cannot mix: each one says what it expects, and the database checks it.

One row per user in `playback` (token, offset, activity, whether the offset is the exact one a
PlaybackStopped/Finished event reported, the Alexa timestamp of the newest event applied, a version).
Every update is ONE statement, `INSERT … ON CONFLICT (user_key) DO UPDATE … WHERE <expectation>`, so two
requests for the same user at the same instant (two processes, two hosts) serialise on the row and the
second one sees the first one's result; nothing is read first and written later.

- PLAY (a Play directive we send): token and offset replace what is stored, together, unless a newer
  event is stored (an update buffered during an outage and applied late must not undo a newer Play).
- STARTED: the device plays this token now; applied unless a newer event is already stored.
- STOPPED / FINISHED: only for the stored token, and only if newer than what is stored; a PlaybackStopped
  keeps a PAUSED or STOPPED activity (the Pause that caused it) and stores the exact offset.
- HALT (Pause/Stop intents with the device's position): sets the activity; the offset only while no exact
  offset from a PlaybackStopped for that token is stored (the event's offset beats the context's). For
  another token than the stored one, only if nothing newer is stored.
- HALT_STORED (Pause/Stop without a device position): the activity, only if something is playing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from skill.storage.keys import (
    PLAYBACK_ACTIVITY,
    PLAYBACK_UPDATED_MS,
    STORED_ACTIVITIES,
    TRACK_OFFSET_MS,
    TRACK_TOKEN,
    Activity,
)

PLAYING, PAUSED, STOPPED, FINISHED = (
    str(a) for a in (Activity.PLAYING, Activity.PAUSED, Activity.STOPPED, Activity.FINISHED)
)
# The persistent-attribute names under which handlers read the playback row (read-only for them).
PLAYBACK_KEYS = (TRACK_TOKEN, TRACK_OFFSET_MS, PLAYBACK_ACTIVITY, PLAYBACK_UPDATED_MS)


class Change(StrEnum):
    PLAY = "play"
    STARTED = "started"
    STOPPED = "stopped"
    FINISHED = "finished"
    HALT = "halt"
    HALT_STORED = "halt-stored"


@dataclass(frozen=True)
class PlaybackUpdate:
    change: Change
    event_ms: int  # the request's Alexa timestamp, in ms since the epoch
    token: str | None = None
    offset_ms: int = 0
    activity: str | None = None  # HALT and HALT_STORED: PAUSED or STOPPED

    def __post_init__(self) -> None:
        if self.change is not Change.HALT_STORED and not self.token:
            raise ValueError(f"a {self.change} playback update needs a token")
        if self.change in (Change.HALT, Change.HALT_STORED) and self.activity not in (PAUSED, STOPPED):
            raise ValueError(f"a {self.change} playback update needs activity PAUSED or STOPPED")
        if isinstance(self.offset_ms, bool) or not isinstance(self.offset_ms, int) or self.offset_ms < 0:
            raise ValueError("offset_ms must be a non-negative int")


COLUMNS = "user_key, track_token, offset_ms, activity, offset_exact, event_ms, version, updated_at"
INSERT = f"INSERT INTO playback ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 1, ?) ON CONFLICT (user_key) DO UPDATE SET "
BUMP = "version = playback.version + 1, updated_at = excluded.updated_at"
SAME_STREAM = "(playback.track_token IS NULL OR playback.track_token = excluded.track_token)"
REPLACE_STREAM = (
    "track_token = excluded.track_token, offset_ms = excluded.offset_ms, activity = excluded.activity,"
    " offset_exact = 0, "
)

STATEMENTS: dict[Change, str] = {
    Change.PLAY: INSERT
    + REPLACE_STREAM
    + "event_ms = excluded.event_ms, "
    + BUMP
    + " WHERE playback.event_ms <= excluded.event_ms",
    Change.STARTED: INSERT
    + REPLACE_STREAM
    + "event_ms = excluded.event_ms, "
    + BUMP
    + " WHERE playback.event_ms <= excluded.event_ms",
    Change.STOPPED: INSERT
    + "offset_ms = excluded.offset_ms, offset_exact = 1, event_ms = excluded.event_ms,"
    + f" activity = CASE WHEN playback.activity IN ('{PAUSED}', '{STOPPED}') THEN playback.activity"
    + f" ELSE '{STOPPED}' END, "
    + BUMP
    + f" WHERE {SAME_STREAM} AND playback.event_ms <= excluded.event_ms",
    Change.FINISHED: INSERT
    + f"offset_ms = 0, offset_exact = 1, activity = '{FINISHED}', event_ms = excluded.event_ms, "
    + BUMP
    + f" WHERE {SAME_STREAM} AND playback.event_ms <= excluded.event_ms",
    Change.HALT: INSERT
    + "activity = excluded.activity,"
    + " offset_ms = CASE WHEN playback.track_token = excluded.track_token AND playback.offset_exact = 1"
    + " THEN playback.offset_ms ELSE excluded.offset_ms END,"
    + " offset_exact = CASE WHEN playback.track_token = excluded.track_token THEN playback.offset_exact ELSE 0 END,"
    + " track_token = excluded.track_token, "
    + BUMP
    + " WHERE playback.track_token = excluded.track_token OR playback.event_ms <= ?",
    Change.HALT_STORED: "UPDATE playback SET activity = ?, version = version + 1, updated_at = ?"
    + f" WHERE user_key = ? AND activity IN ('{PLAYING}', '{STOPPED}')",
}


def statement_parameters(update: PlaybackUpdate, user_key: str, now: Any) -> tuple[Any, ...]:
    """The parameters of `STATEMENTS[update.change]`, in placeholder order."""
    change = update.change
    if change is Change.HALT_STORED:
        return (update.activity, now, user_key)
    if change is Change.HALT:
        # Inserted with event time 0: a Pause is no device event, so it must not make the device's own
        # PlaybackStopped (same instant, same second) look older than what is stored.
        return (user_key, update.token, update.offset_ms, update.activity, 0, 0, now, update.event_ms)
    activity, exact, offset = {
        Change.PLAY: (PLAYING, 0, update.offset_ms),
        Change.STARTED: (PLAYING, 0, update.offset_ms),
        Change.STOPPED: (STOPPED, 1, update.offset_ms),
        Change.FINISHED: (FINISHED, 1, 0),
    }[change]
    return (user_key, update.token, offset, activity, exact, update.event_ms, now)


def as_attributes(row: tuple[Any, ...] | None) -> dict[str, Any]:
    """The playback row under the persistent-attribute names handlers read."""
    if row is None:
        return {}
    token, offset_ms, activity, event_ms = row
    values = {
        TRACK_TOKEN: token,
        TRACK_OFFSET_MS: int(offset_ms) if offset_ms is not None else None,
        PLAYBACK_ACTIVITY: activity if activity in STORED_ACTIVITIES else None,
        PLAYBACK_UPDATED_MS: int(event_ms) if event_ms else None,
    }
    return {key: value for key, value in values.items() if value is not None}
