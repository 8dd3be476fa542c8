"""Persistence of the little the skill keeps per user (playback position, preferences), on SQLite or PostgreSQL."""

from skill.storage.store import (
    ALLOWED_KEYS,
    MIGRATIONS,
    AttributeStore,
    Migration,
    TrackedAttributes,
    open_store,
    sqlite_path,
)

__all__ = [
    "ALLOWED_KEYS",
    "MIGRATIONS",
    "AttributeStore",
    "Migration",
    "TrackedAttributes",
    "open_store",
    "sqlite_path",
]
