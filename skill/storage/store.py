"""Persistent state (playback position and preferences) in SQLite or PostgreSQL: the ask-sdk adapter.

Preferences (`whisper`, `visits`) are one row per (user, key), written through the SDK's
`save_persistent_attributes`. Playback state is one row per user, read as persistent attributes but changed
only through `TrackedAttributes.update_playback` (see skill.storage.playback: every update is a single
conditional statement). Users are stored under the SHA-256 of their Alexa user id, never the id itself.
Nothing about anyone's body or mood can be stored: only the keys below exist.

The skill must keep talking when the database is sick, so:
- every call has a deadline well under Alexa's 8 s (dialect: busy timeout; statement/lock timeouts and a
  client-side watchdog for PostgreSQL);
- after failures a circuit breaker refuses calls for a moment, so requests answer at once without storage;
- reads then come back empty and marked `unavailable`; preference writes are skipped (and logged);
  playback updates go into a bounded buffer applied when storage is back; deletions go into an on-disk
  journal (or, if even that fails, raise DeletionNotDone so the request is answered with an error);
- `health()` does a real, bounded read and write, and is what closes the breaker again.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import hashlib
import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from ask_sdk_core.attributes_manager import AbstractPersistenceAdapter
from ask_sdk_model import RequestEnvelope

from skill.storage.breaker import CircuitBreaker
from skill.storage.deadline import DeadlineExceeded
from skill.storage.keys import ATTRIBUTE_TYPES, PLAYBACK_ACTIVITY, STORED_ACTIVITIES, VISITS, WHISPER
from skill.storage.outbox import DeletionJournal, PlaybackOutbox
from skill.storage.playback import (
    PLAYBACK_KEYS,
    STATEMENTS,
    PlaybackUpdate,
    as_attributes,
    statement_parameters,
)
from skill.storage.urls import DatabaseUrl

log = logging.getLogger(__name__)

# Everything a handler may read (the playback keys come from the playback row); of these, only the
# preferences are saved through `save_attributes`.
ALLOWED_KEYS = frozenset(ATTRIBUTE_TYPES)
PREFERENCE_KEYS = frozenset({WHISPER, VISITS})

# Request-path budget per database call: far below Alexa's 8 s, so that even a few calls plus the rest of
# the request stay under a second when the database is sick.
DEFAULT_CALL_TIMEOUT_S = 0.4
DEFAULT_BREAKER_OPEN_S = 1.0
MAX_ERROR_DETAIL_CHARS = 300
PLAYBACK_MIGRATED_KEYS = ", ".join(f"'{key}'" for key in PLAYBACK_KEYS)

# The playback row comes back with a NULL attr_key, after the preference rows.
SELECT_USER = (
    "SELECT attr_key, value, NULL, NULL, NULL, NULL FROM attributes WHERE user_key = ?"
    " UNION ALL SELECT NULL, NULL, track_token, offset_ms, activity, event_ms FROM playback WHERE user_key = ?"
)

T = TypeVar("T")


@dataclass(frozen=True)
class Migration:
    """One schema step. Statements may use `{json}`, `{timestamp}`, `{json_text}`, `{json_bigint}`, `{bigint}`."""

    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        description="one row per (user, attribute)",
        statements=(
            """
            CREATE TABLE attributes (
                user_key TEXT NOT NULL,
                attr_key TEXT NOT NULL,
                value {json} NOT NULL,
                updated_at {timestamp} NOT NULL,
                PRIMARY KEY (user_key, attr_key)
            )
            """,
        ),
    ),
    Migration(
        version=2,
        description="index for purging inactive users",
        statements=("CREATE INDEX attributes_updated_at ON attributes (updated_at)",),
    ),
    Migration(
        version=3,
        description="one playback row per user, changed by compare-and-set; a health probe row",
        statements=(
            """
            CREATE TABLE playback (
                user_key TEXT PRIMARY KEY,
                track_token TEXT,
                offset_ms {bigint} NOT NULL DEFAULT 0,
                activity TEXT,
                offset_exact INTEGER NOT NULL DEFAULT 0,
                event_ms {bigint} NOT NULL DEFAULT 0,
                version {bigint} NOT NULL DEFAULT 1,
                updated_at {timestamp} NOT NULL
            )
            """,
            "CREATE INDEX playback_updated_at ON playback (updated_at)",
            f"""
            INSERT INTO playback (user_key, track_token, offset_ms, activity, offset_exact, event_ms, version,
                                  updated_at)
            SELECT user_key,
                   MAX(CASE WHEN attr_key = 'track_token' THEN {{json_text}} END),
                   COALESCE(MAX(CASE WHEN attr_key = 'track_offset_ms' THEN {{json_bigint}} END), 0),
                   MAX(CASE WHEN attr_key = 'playback_activity' THEN {{json_text}} END),
                   0,
                   COALESCE(MAX(CASE WHEN attr_key = 'playback_updated_ms' THEN {{json_bigint}} END), 0),
                   1,
                   MAX(updated_at)
            FROM attributes WHERE attr_key IN ({PLAYBACK_MIGRATED_KEYS}) GROUP BY user_key
            """,
            f"DELETE FROM attributes WHERE attr_key IN ({PLAYBACK_MIGRATED_KEYS})",
            "CREATE TABLE health_probe (id INTEGER PRIMARY KEY, probed_at {timestamp} NOT NULL)",
        ),
    ),
)


class Outcome(StrEnum):
    APPLIED = "applied"
    REFUSED = "refused"  # the database said the update is not current (another token, or older)
    BUFFERED = "buffered"  # storage unavailable: kept in memory, applied when it is back
    SKIPPED = "skipped"  # no user id


class TrackedAttributes(dict[str, Any]):
    """The attributes of one user as loaded, remembering what was loaded so that saving writes only changes.

    `unavailable` is True when the database could not be read; saving such an object does nothing, so a
    skill that carries on without its stored state never overwrites the real state with defaults.
    `update_playback` changes the playback row (or buffers the change while storage is away).
    """

    def __init__(
        self,
        loaded: Mapping[str, Any] | None = None,
        *,
        user_key: str | None = None,
        unavailable: bool = False,
        store: AttributeStore | None = None,
    ) -> None:
        loaded = dict(loaded or {})
        super().__init__(copy.deepcopy(loaded))
        self.snapshot: dict[str, Any] = copy.deepcopy(loaded)
        self.user_key = user_key
        self.unavailable = unavailable
        self.store = store

    def mark_saved(self) -> None:
        self.snapshot = copy.deepcopy(dict(self))

    def update_playback(self, update: PlaybackUpdate) -> Outcome:
        if self.store is None or self.user_key is None:
            return Outcome.SKIPPED
        return self.store.update_playback(self.user_key, update)


class DatabaseUnavailable(Exception):
    """Raised internally while the circuit breaker refuses calls, or when the pool has no connection in time."""


class SchemaMigrationError(Exception):
    """The database answered, but its schema could not be brought up to date."""


class DeletionNotDone(Exception):
    """A user's data could not be deleted, nor the deletion journaled: the request must not look successful."""


class Health(NamedTuple):
    ok: bool
    detail: str


def hash_user_id(user_id: str) -> str:
    """The key a user is stored under: the raw Alexa user id never reaches the database."""
    return hashlib.sha256(user_id.encode("utf-8")).hexdigest()


def user_key_of(request_envelope: RequestEnvelope) -> str | None:
    system = getattr(request_envelope.context, "system", None)
    user_id = getattr(getattr(system, "user", None), "user_id", None)
    if not isinstance(user_id, str) or not user_id:
        return None
    return hash_user_id(user_id)


def check_keys(attributes: Mapping[str, Any], allowed: frozenset[str] = ALLOWED_KEYS) -> None:
    """Reject keys outside the contract: storing anything else is a programming error."""
    unknown = sorted(set(attributes) - allowed)
    if unknown:
        raise ValueError(f"not a persistent attribute: {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")


def check_value(key: str, value: Any) -> None:
    if value is None:
        return
    expected = ATTRIBUTE_TYPES[key]
    # bool is a subclass of int; a flag stored as a number (or the reverse) is always a mistake.
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        actual = type(value).__name__
        raise ValueError(f"persistent attribute {key} must be {expected.__name__} or None, not {actual}")
    if key == PLAYBACK_ACTIVITY and value not in STORED_ACTIVITIES:
        raise ValueError(f"playback_activity must be one of {sorted(map(str, STORED_ACTIVITIES))}, not {value!r}")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class Changes(NamedTuple):
    upserts: dict[str, Any]
    removals: list[str]


def pending_changes(attributes: Mapping[str, Any], user_key: str | None) -> Changes:
    """What a save must write. A plain dict, or one loaded for another user, upserts every key."""
    if not isinstance(attributes, TrackedAttributes) or attributes.user_key != user_key:
        return Changes(dict(attributes), [])
    snapshot = attributes.snapshot
    upserts = {
        key: value
        for key, value in attributes.items()
        if key not in snapshot or canonical_json(snapshot[key]) != canonical_json(value)
    }
    removals = sorted(key for key in snapshot if key not in attributes)
    return Changes(upserts, removals)


def level_for(error: BaseException) -> int:
    """While the breaker refuses calls, one line per request is routine: the breaker logged the outage."""
    return logging.INFO if isinstance(error, DatabaseUnavailable) else logging.WARNING


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class AttributeStore(AbstractPersistenceAdapter):
    """Shared logic; subclasses supply connections and the few things that differ between SQL dialects."""

    sql_placeholder = "?"
    column_types: Mapping[str, str] = {}
    # Errors of the database driver: the database is unusable for this operation.
    database_errors: tuple[type[BaseException], ...] = ()
    # Errors that mean "no answer in time": they open the breaker at once.
    timeout_errors: tuple[type[BaseException], ...] = (DeadlineExceeded,)

    def __init__(
        self,
        url: DatabaseUrl,
        *,
        migrations: Sequence[Migration] = MIGRATIONS,
        call_timeout_s: float = DEFAULT_CALL_TIMEOUT_S,
        reconnect_interval_s: float = DEFAULT_BREAKER_OPEN_S,
        failure_threshold: int = 2,
        outbox: PlaybackOutbox | None = None,
        journal_path: Path | None = None,
    ) -> None:
        self.url = url
        self._migrations = tuple(migrations)
        self.call_timeout_s = call_timeout_s
        self._breaker = CircuitBreaker(failure_threshold=failure_threshold, open_seconds=reconnect_interval_s)
        self._outbox = outbox or PlaybackOutbox()
        self._journal = DeletionJournal(journal_path or self._default_journal_path())
        self._recovering = threading.Lock()
        self._probing = threading.Lock()
        self._last_health = Health(False, "not checked yet")
        self._prepare_schema()

    # ----- dialect hooks -------------------------------------------------------------------------------

    def _execute(self, operation: Callable[[Any], T], *, timeout_s: float) -> T:
        """Run `operation(connection)` within `timeout_s`, migrating first if this database is new to us."""
        raise NotImplementedError

    def _prepare_schema(self) -> None:
        """Migrate at open; if the database is down, start anyway and migrate on the first good connection."""
        raise NotImplementedError

    def _default_journal_path(self) -> Path:
        raise NotImplementedError

    def _lock_schema(self, connection: Any) -> None:
        """Called first inside the migration transaction; must block other processes' migrations."""

    def _transaction(self, connection: Any) -> contextlib.AbstractContextManager[Any]:
        raise NotImplementedError

    def _allow_long_statements(self, connection: Any) -> None:
        """Inside a maintenance transaction: lift the request-path statement bound for this transaction only."""

    def _encode_json(self, value: Any) -> Any:
        raise NotImplementedError

    def _decode_json(self, stored: Any) -> Any:
        raise NotImplementedError

    def _encode_timestamp(self, moment: dt.datetime) -> Any:
        raise NotImplementedError

    @property
    def redacted(self) -> str:
        """What the store points at, safe for logs and pages: no password, nor any part of one."""
        return self.url.redacted

    def describe(self) -> str:
        return self.redacted

    def describe_error(self, error: BaseException) -> str:
        detail = " ".join(self.url.scrub(str(error)).split()) or type(error).__name__
        return f"{type(error).__name__}: {detail}"[:MAX_ERROR_DETAIL_CHARS]

    @property
    def _failures(self) -> tuple[type[BaseException], ...]:
        """Everything that means "no database right now" to a request handler."""
        return (DatabaseUnavailable, SchemaMigrationError, *self.timeout_errors, *self.database_errors)

    # ----- AbstractPersistenceAdapter ------------------------------------------------------------------

    def get_attributes(self, request_envelope: RequestEnvelope) -> TrackedAttributes:
        user_key = user_key_of(request_envelope)
        if user_key is None:
            log.warning("request has no user id: persistent attributes disabled for it")
            return TrackedAttributes(unavailable=True)
        if self._journal.contains(user_key):
            return TrackedAttributes(user_key=user_key, unavailable=True)  # disabled; deletion still pending
        try:
            preferences, playback = self._run(lambda connection: self._select_user(connection, user_key))
        except self._failures as error:
            log.log(
                level_for(error),
                "persistent attributes unavailable (%s): %s",
                self.redacted,
                self.describe_error(error),
            )
            return TrackedAttributes(user_key=user_key, unavailable=True, store=self)
        return TrackedAttributes(
            {**as_attributes(playback), **self._decode_rows(preferences)}, user_key=user_key, store=self
        )

    def save_attributes(self, request_envelope: RequestEnvelope, attributes: Mapping[str, Any]) -> None:
        """Write the preferences that changed since `get_attributes` (every key, for a plain dict)."""
        check_keys(attributes)
        user_key = user_key_of(request_envelope)
        changes = pending_changes(attributes, user_key)
        playback_changes = sorted((set(changes.upserts) | set(changes.removals)) - PREFERENCE_KEYS)
        if playback_changes:
            raise ValueError(f"playback state ({', '.join(playback_changes)}) changes only through update_playback")
        for key, value in changes.upserts.items():
            check_value(key, value)
        if getattr(attributes, "unavailable", False) or user_key is None:
            return
        if changes.upserts or changes.removals:
            try:
                self._run(lambda connection: self._write_user(connection, user_key, changes))
            except self._failures as error:
                # The snapshot stays as it was, so a later save of the same object retries these changes.
                log.log(level_for(error), "preferences not saved (%s): %s", self.redacted, self.describe_error(error))
                return
        if isinstance(attributes, TrackedAttributes):
            attributes.mark_saved()

    def delete_attributes(self, request_envelope: RequestEnvelope) -> None:
        """Delete everything stored for the user; if storage is away, journal it (durably) for later.

        Raises DeletionNotDone only when neither the deletion nor the journal entry could be written.
        """
        user_key = user_key_of(request_envelope)
        if user_key is None:
            log.error("cannot delete persistent attributes: request has no user id")
            return
        self._outbox.forget(user_key)
        try:
            self._run(lambda connection: self._delete_user(connection, user_key))
            return
        except self._failures as error:
            detail = self.describe_error(error)
        try:
            self._journal.add(user_key)
        except OSError as journal_error:
            log.error(
                "user data NOT deleted and the deletion could not be journaled (%s: %s; journal: %s)",
                self.redacted,
                detail,
                type(journal_error).__name__,
            )
            raise DeletionNotDone("storage unavailable and the deletion journal not writable") from None
        log.warning("storage unavailable (%s): %s; deletion journaled for when it is back", self.redacted, detail)

    # ----- playback --------------------------------------------------------------------------------------

    def update_playback(self, user_key: str, update: PlaybackUpdate) -> Outcome:
        """Apply one conditional playback update; buffer it while storage is unavailable."""
        if self._journal.contains(user_key):
            return Outcome.SKIPPED
        if self._outbox.holds(user_key):
            # Older updates of this user still wait to be applied: this one goes behind them, in order
            # (Alexa's timestamps have whole seconds, so the database alone could not order them).
            self._outbox.put(user_key, update)
            self._schedule_recovery()
            return Outcome.BUFFERED
        try:
            applied = self._run(lambda connection: self._apply_playback(connection, user_key, update))
        except self._failures as error:
            self._outbox.put(user_key, update)
            log.log(
                level_for(error),
                "playback update %s buffered (%s): %s; %s",
                update.change,
                self.redacted,
                self.describe_error(error),
                self._outbox.counts.summary(),
            )
            return Outcome.BUFFERED
        return Outcome.APPLIED if applied else Outcome.REFUSED

    def _apply_playback(self, connection: Any, user_key: str, update: PlaybackUpdate) -> bool:
        now = self._encode_timestamp(utc_now())
        with contextlib.closing(connection.cursor()) as cursor:
            cursor.execute(self._sql(STATEMENTS[update.change]), statement_parameters(update, user_key, now))
            return cursor.rowcount > 0

    def playback_version(self, user_key: str) -> int | None:
        """The playback row's version (how many updates it took), for tests and diagnostics."""
        statement = self._sql("SELECT version FROM playback WHERE user_key = ?")
        row = self._run(lambda connection: connection.execute(statement, (user_key,)).fetchone(), probe=True)
        return int(row[0]) if row else None

    @property
    def outbox(self) -> PlaybackOutbox:
        return self._outbox

    @property
    def journal(self) -> DeletionJournal:
        return self._journal

    # ----- operations ----------------------------------------------------------------------------------

    def health(self) -> Health:
        """A real read and write, bounded by the call timeout; `ok` only when writes work.

        Runs even while the breaker is open (it is what closes it again). One probe at a time: a caller that
        arrives while one runs gets the last result instead of piling up on a sick database.
        """
        if not self._probing.acquire(blocking=False):
            return self._last_health
        try:
            self._run(self._probe, probe=True)
            result = Health(True, "ok")
        except SchemaMigrationError as error:
            result = Health(False, f"database schema migration failed: {self.describe_error(error)}")
        except self._failures as error:
            result = Health(False, f"database unreachable: {self.describe_error(error)}")
        finally:
            self._probing.release()
        self._last_health = result
        return result

    def _probe(self, connection: Any) -> None:
        connection.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
        now = self._encode_timestamp(utc_now())
        with contextlib.closing(connection.cursor()) as cursor:
            cursor.execute(
                self._sql(
                    "INSERT INTO health_probe (id, probed_at) VALUES (1, ?)"
                    " ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at"
                ),
                (now,),
            )

    def purge_inactive(self, max_age: dt.timedelta) -> int:
        """Delete everything of users none of whose rows changed within `max_age`; returns rows deleted.

        A maintenance task (not for the request path): database errors are raised.
        """
        cutoff = self._encode_timestamp(utc_now() - max_age)
        stale_users = (
            "SELECT user_key FROM (SELECT user_key, updated_at FROM attributes"
            " UNION ALL SELECT user_key, updated_at FROM playback) AS all_rows"
            " GROUP BY user_key HAVING MAX(updated_at) < ?"
        )

        def purge(connection: Any) -> int:
            deleted = 0
            with self._transaction(connection), contextlib.closing(connection.cursor()) as cursor:
                self._allow_long_statements(connection)
                for table in ("attributes", "playback"):
                    cursor.execute(self._sql(f"DELETE FROM {table} WHERE user_key IN ({stale_users})"), (cutoff,))
                    deleted += max(cursor.rowcount, 0)
            return deleted

        return self._run(purge, probe=True, timeout_s=60.0)

    def schema_version(self) -> int:
        return self._run(self._current_version, probe=True)

    def close(self) -> None:
        """Release this process's connections; the store reconnects if used again."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.redacted})"

    # ----- running operations ----------------------------------------------------------------------------

    def _run(self, operation: Callable[[Any], T], *, probe: bool = False, timeout_s: float | None = None) -> T:
        """Run an operation through the breaker (a probe ignores it) within the call timeout."""
        if not probe and not self._breaker.allow():
            raise DatabaseUnavailable("storage is resting after failures (circuit breaker open)")
        try:
            result = self._execute(operation, timeout_s=timeout_s or self.call_timeout_s)
        except self._failures as error:
            if self._breaker.record_failure(timed_out=isinstance(error, self.timeout_errors)):
                log.error(
                    "storage unavailable (%s): %s; answering without it, retrying every %.1f s",
                    self.redacted,
                    self.describe_error(error),
                    self._breaker.open_seconds,
                )
            raise
        came_back = self._breaker.record_success()
        if came_back:
            log.warning("storage is back (%s)", self.redacted)
        if came_back or len(self._outbox) or self._journal.has_pending:
            if probe:
                self._recover()  # health checks and maintenance wait for it
            else:
                self._schedule_recovery()
        return result

    def _schedule_recovery(self) -> None:
        """Recover in a thread of its own: a request must not wait for a whole backlog."""
        if not self._recovering.locked() and self._breaker.is_closed:
            threading.Thread(target=self._recover, name="storage-recovery", daemon=True).start()

    def _recover(self) -> None:
        """Apply journaled deletions, then buffered playback updates; one thread at a time, the others go on."""
        if not self._recovering.acquire(blocking=False):
            return
        try:
            self._apply_journal()
            self._apply_outbox()
        finally:
            self._recovering.release()

    def _apply_journal(self) -> None:
        done: set[str] = set()
        try:
            for user_key in self._journal.pending():
                self._run(lambda connection, key=user_key: self._delete_user(connection, key))  # type: ignore[misc]
                done.add(user_key)
        except self._failures as error:
            log.warning("journaled deletions: %d done, the rest later: %s", len(done), self.describe_error(error))
        finally:
            try:
                self._journal.remove(done)
            except OSError as error:
                log.error("pending-deletion journal not updated: %s", type(error).__name__)
        if done:
            log.warning("applied %d journaled deletion(s) of user data", len(done))

    def _apply_outbox(self) -> None:
        """User by user, oldest buffered first; a user's updates leave the buffer only once applied, so one
        arriving meanwhile queues behind them (see update_playback) instead of overtaking them."""
        applied = refused = 0
        while (pending := self._outbox.peek()) is not None:
            user_key, updates = pending
            for position, update in enumerate(updates):
                try:
                    ok = self._run(lambda connection, u=update, k=user_key: self._apply_playback(connection, k, u))  # type: ignore[misc]
                except self._failures as error:
                    self._outbox.done(user_key, updates[:position])
                    self._outbox.record_applied(applied, refused)
                    log.warning("buffered playback updates: storage failed again: %s", self.describe_error(error))
                    return
                applied, refused = applied + ok, refused + (not ok)
            self._outbox.done(user_key, updates)
        if applied or refused:
            self._outbox.record_applied(applied, refused)
            log.warning(
                "applied buffered playback updates after an outage: %d applied, %d no longer current; %s",
                applied,
                refused,
                self._outbox.counts.summary(),
            )

    # ----- SQL -----------------------------------------------------------------------------------------

    def _sql(self, statement: str) -> str:
        return statement.replace("?", self.sql_placeholder)

    def _select_user(self, connection: Any, user_key: str) -> tuple[list[tuple[str, Any]], tuple[Any, ...] | None]:
        """Preferences and playback row in one round trip (and one snapshot)."""
        rows = connection.execute(self._sql(SELECT_USER), (user_key, user_key)).fetchall()
        preferences = [(attr_key, value) for attr_key, value, *_ in rows if attr_key is not None]
        playback = next((tuple(row[2:]) for row in rows if row[0] is None), None)
        return preferences, playback

    def _decode_rows(self, rows: list[tuple[str, Any]]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for attr_key, stored in rows:
            if attr_key not in PREFERENCE_KEYS:
                continue  # left by another version of the skill; never handed to handlers
            try:
                value = self._decode_json(stored)
                check_value(attr_key, value)
            except ValueError as error:
                log.warning("ignoring unreadable stored attribute %s: %s", attr_key, type(error).__name__)
                continue
            values[attr_key] = value
        return values

    def _write_user(self, connection: Any, user_key: str, changes: Changes) -> None:
        now = self._encode_timestamp(utc_now())
        upsert = self._sql(
            "INSERT INTO attributes (user_key, attr_key, value, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (user_key, attr_key) DO UPDATE"
            " SET value = excluded.value, updated_at = excluded.updated_at"
        )
        delete = self._sql("DELETE FROM attributes WHERE user_key = ? AND attr_key = ?")
        # Sorted keys: concurrent transactions lock rows in the same order and cannot deadlock.
        upserts, removals = changes
        rows = [(user_key, key, self._encode_json(upserts[key]), now) for key in sorted(upserts)]
        with self._transaction(connection), contextlib.closing(connection.cursor()) as cursor:
            if rows:
                cursor.executemany(upsert, rows)
            if removals:
                cursor.executemany(delete, [(user_key, key) for key in removals])

    def _delete_user(self, connection: Any, user_key: str) -> None:
        with self._transaction(connection):
            connection.execute(self._sql("DELETE FROM attributes WHERE user_key = ?"), (user_key,))
            connection.execute(self._sql("DELETE FROM playback WHERE user_key = ?"), (user_key,))

    # ----- schema --------------------------------------------------------------------------------------

    def _current_version(self, connection: Any) -> int:
        row = connection.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
        return int(row[0])

    def _latest_version(self) -> int:
        return max((migration.version for migration in self._migrations), default=0)

    def _schema_is_current(self, connection: Any) -> bool:
        """A read-only look first, so that a read-only database that is up to date can still be read."""
        try:
            return self._current_version(connection) >= self._latest_version()
        except self.database_errors:
            return False

    def _migrate(self, connection: Any) -> None:
        if self._schema_is_current(connection):
            return
        with self._transaction(connection):
            self._lock_schema(connection)
            connection.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                f" version INTEGER PRIMARY KEY, applied_at {self.column_types['timestamp']} NOT NULL)"
            )
            current = self._current_version(connection)
            latest = self._latest_version()
            if current > latest:
                log.warning("database schema version %d is newer than this code's %d", current, latest)
            for migration in self._migrations:
                if migration.version <= current:
                    continue
                for statement in migration.statements:
                    connection.execute(statement.format(**self.column_types))
                connection.execute(
                    self._sql("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)"),
                    (migration.version, self._encode_timestamp(utc_now())),
                )
                log.info("database schema now at version %d: %s", migration.version, migration.description)
