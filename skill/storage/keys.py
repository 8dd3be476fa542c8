"""The persistent attributes that exist (the only things stored per user) and the player activities.

Nothing about anyone's body or mood is ever stored: only the playback position and two preferences.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

TRACK_TOKEN = "track_token"
TRACK_OFFSET_MS = "track_offset_ms"
PLAYBACK_ACTIVITY = "playback_activity"
PLAYBACK_UPDATED_MS = "playback_updated_ms"
WHISPER = "whisper"
VISITS = "visits"

# Each stored key with the JSON type its value may have (None is accepted everywhere and means "not set").
ATTRIBUTE_TYPES: Mapping[str, type] = MappingProxyType(
    {
        TRACK_TOKEN: str,
        TRACK_OFFSET_MS: int,
        PLAYBACK_ACTIVITY: str,
        PLAYBACK_UPDATED_MS: int,
        WHISPER: bool,
        VISITS: int,
    }
)


class Activity(StrEnum):
    """A player's activity: the device reports it (`context.AudioPlayer.playerActivity`), the skill stores
    the last one it knows (`playback_activity`, one of `STORED_ACTIVITIES`)."""

    IDLE = "IDLE"
    PLAYING = "PLAYING"
    PAUSED = "PAUSED"
    STOPPED = "STOPPED"
    FINISHED = "FINISHED"
    BUFFER_UNDERRUN = "BUFFER_UNDERRUN"


STORED_ACTIVITIES = frozenset({Activity.PLAYING, Activity.PAUSED, Activity.STOPPED, Activity.FINISHED})
# Device activities in which a track of ours is "current" (it can be resumed, restarted, skipped).
CURRENT_ACTIVITIES = frozenset({Activity.PLAYING, Activity.BUFFER_UNDERRUN, Activity.PAUSED, Activity.STOPPED})
SOUNDING_ACTIVITIES = frozenset({Activity.PLAYING, Activity.BUFFER_UNDERRUN})
