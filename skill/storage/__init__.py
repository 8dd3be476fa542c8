"""Persistence of the little the skill keeps per user (playback position, preferences), on SQLite or PostgreSQL."""

from __future__ import annotations

from typing import Any

from skill.storage.playback import Change, PlaybackUpdate
from skill.storage.postgres import PostgresStore
from skill.storage.sqlite import SQLiteStore
from skill.storage.store import (
    ALLOWED_KEYS,
    MIGRATIONS,
    PREFERENCE_KEYS,
    AttributeStore,
    DeletionNotDone,
    Health,
    Migration,
    Outcome,
    TrackedAttributes,
    hash_user_id,
)
from skill.storage.urls import DatabaseUrl, DatabaseUrlError, sqlite_path


def open_store(database_url: str, **options: Any) -> AttributeStore:
    """Open (creating or migrating the schema) the store a database URL names.

    `options` go to the store: `call_timeout_s`, `reconnect_interval_s` (how long the breaker rests),
    `failure_threshold`, `migrations`, `journal_path`, and per dialect `max_idle_connections` (SQLite) or
    `pool_max_size` (PostgreSQL). Raises DatabaseUrlError (a ValueError) for unusable URLs, never echoing
    their secrets.
    """
    url = DatabaseUrl.parse(database_url)
    if url.sqlite_file is not None:
        return SQLiteStore(url, **options)
    return PostgresStore(url, **options)


__all__ = [
    "ALLOWED_KEYS",
    "MIGRATIONS",
    "PREFERENCE_KEYS",
    "AttributeStore",
    "Change",
    "DatabaseUrl",
    "DatabaseUrlError",
    "DeletionNotDone",
    "Health",
    "Migration",
    "Outcome",
    "PlaybackUpdate",
    "TrackedAttributes",
    "hash_user_id",
    "open_store",
    "sqlite_path",
]
