"""Persistent attributes (playback state and preferences) in SQLite or PostgreSQL.

One row per (user, attribute) so that two requests changing different attributes of the same user at the
same moment (a PlaybackStopped event and a PauseIntent, say) never overwrite each other. Users are stored
under the SHA-256 of their Alexa user id, never the id itself. Only the keys in `ATTRIBUTE_TYPES` can be
stored: nothing about anyone's body or mood ever reaches the database.

The skill must keep talking when the database is down, so every public method except `purge_inactive`
catches database errors: reads come back empty and marked `unavailable`, writes are skipped and logged.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import psycopg
from ask_sdk_core.attributes_manager import AbstractPersistenceAdapter
from ask_sdk_model import RequestEnvelope
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb

from skill.storage.keys import ATTRIBUTE_TYPES, PLAYBACK_ACTIVITY, STORED_ACTIVITIES

log = logging.getLogger(__name__)

ALLOWED_KEYS = frozenset(ATTRIBUTE_TYPES)

CONNECT_TIMEOUT_S = 2
SQLITE_BUSY_TIMEOUT_MS = 5000
SQLITE_WAL_SWITCH_POLL_S = 0.01
DEFAULT_RECONNECT_INTERVAL_S = 5.0
DEFAULT_MAX_IDLE_CONNECTIONS = 4
# Arbitrary constant: the PostgreSQL advisory lock that serialises schema migrations between processes.
MIGRATION_LOCK_ID = 0x1E7D0
MAX_ERROR_DETAIL_CHARS = 300

T = TypeVar("T")


@dataclass(frozen=True)
class Migration:
    """One schema step. Statements may use `{json}` and `{timestamp}`: the dialect's column types."""

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
)


class TrackedAttributes(dict[str, Any]):
    """The attributes of one user as loaded, remembering what was loaded so that saving writes only changes.

    `unavailable` is True when the database could not be read; saving such an object does nothing, so a
    skill that carries on without its stored state never overwrites the real state with defaults.
    """

    def __init__(
        self,
        loaded: Mapping[str, Any] | None = None,
        *,
        user_key: str | None = None,
        unavailable: bool = False,
    ) -> None:
        loaded = dict(loaded or {})
        super().__init__(copy.deepcopy(loaded))
        self.snapshot: dict[str, Any] = copy.deepcopy(loaded)
        self.user_key = user_key
        self.unavailable = unavailable

    def mark_saved(self) -> None:
        self.snapshot = copy.deepcopy(dict(self))


class DatabaseUnavailable(Exception):
    """Raised internally while the store waits before trying a database that just failed again."""


class SchemaMigrationError(Exception):
    """The database answered, but its schema could not be brought up to date."""


def hash_user_id(user_id: str) -> str:
    """The key a user is stored under: the raw Alexa user id never reaches the database."""
    return hashlib.sha256(user_id.encode("utf-8")).hexdigest()


def user_key_of(request_envelope: RequestEnvelope) -> str | None:
    try:
        user_id = request_envelope.context.system.user.user_id  # type: ignore[union-attr]
    except AttributeError:
        return None
    if not isinstance(user_id, str) or not user_id:
        return None
    return hash_user_id(user_id)


def check_keys(attributes: Mapping[str, Any]) -> None:
    """Reject keys outside the contract: storing anything else is a programming error."""
    unknown = sorted(set(attributes) - ALLOWED_KEYS)
    if unknown:
        allowed = ", ".join(sorted(ALLOWED_KEYS))
        raise ValueError(f"not a persistent attribute: {', '.join(unknown)} (allowed: {allowed})")


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


def describe_error(error: BaseException) -> str:
    detail = " ".join(str(error).split()) or type(error).__name__
    return detail[:MAX_ERROR_DETAIL_CHARS]


class AttributeStore(AbstractPersistenceAdapter):
    """Shared logic; subclasses supply the few things that differ between SQL databases (the dialect hooks).

    Connections are kept in a small per-process pool: a request's thread takes one, uses it alone and gives
    it back. After a fork (gunicorn workers) the child never touches a connection opened by its parent.
    """

    sql_placeholder = "?"
    column_types: Mapping[str, str] = {}
    # Errors of the database driver: the database is unusable for this operation.
    database_errors: tuple[type[BaseException], ...] = ()
    # Errors after which a connection may be dead: it is dropped and the operation retried once.
    connection_errors: tuple[type[BaseException], ...] = ()

    def __init__(
        self,
        *,
        migrations: Sequence[Migration] = MIGRATIONS,
        reconnect_interval_s: float = DEFAULT_RECONNECT_INTERVAL_S,
        max_idle_connections: int = DEFAULT_MAX_IDLE_CONNECTIONS,
    ) -> None:
        self._migrations = tuple(migrations)
        self._reconnect_interval_s = reconnect_interval_s
        self._max_idle_connections = max_idle_connections
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._idle: list[Any] = []
        # Connections inherited through fork: the parent still owns them, so the child must neither use
        # nor close them (closing a PostgreSQL connection would log the parent out). Kept so they are
        # never garbage collected, which would close them too.
        self._inherited: list[Any] = []
        self._schema_ready = False
        self._retry_at = 0.0
        self._prepare_schema()

    # ----- dialect hooks -------------------------------------------------------------------------------

    def _connect(self) -> Any:
        raise NotImplementedError

    def _is_usable(self, connection: Any) -> bool:
        raise NotImplementedError

    def _transaction(self, connection: Any) -> contextlib.AbstractContextManager[Any]:
        raise NotImplementedError

    def _lock_schema(self, connection: Any) -> None:
        """Called first inside the migration transaction; must block other processes' migrations."""

    def _encode_json(self, value: Any) -> Any:
        raise NotImplementedError

    def _decode_json(self, stored: Any) -> Any:
        raise NotImplementedError

    def _encode_timestamp(self, moment: dt.datetime) -> Any:
        raise NotImplementedError

    def describe(self) -> str:
        """What the store points at, safe for logs (no password)."""
        raise NotImplementedError

    @property
    def _failures(self) -> tuple[type[BaseException], ...]:
        """Everything that means "no database right now" to a request handler."""
        return (DatabaseUnavailable, SchemaMigrationError, *self.database_errors)

    # ----- AbstractPersistenceAdapter ------------------------------------------------------------------

    def get_attributes(self, request_envelope: RequestEnvelope) -> TrackedAttributes:
        user_key = user_key_of(request_envelope)
        if user_key is None:
            log.warning("request has no user id: persistent attributes disabled for it")
            return TrackedAttributes(unavailable=True)
        try:
            rows = self._run(lambda connection: self._select_user(connection, user_key))
        except self._failures as error:
            log.warning("persistent attributes unavailable (%s): %s", self.describe(), describe_error(error))
            return TrackedAttributes(unavailable=True)
        return TrackedAttributes(self._decode_rows(rows), user_key=user_key)

    def save_attributes(self, request_envelope: RequestEnvelope, attributes: Mapping[str, Any]) -> None:
        """Write what changed since `get_attributes` (every key, for a plain dict) in one transaction."""
        check_keys(attributes)
        user_key = user_key_of(request_envelope)
        changes = pending_changes(attributes, user_key)
        for key, value in changes.upserts.items():
            check_value(key, value)
        if getattr(attributes, "unavailable", False) or user_key is None:
            return
        if changes.upserts or changes.removals:
            try:
                self._run(lambda connection: self._write_user(connection, user_key, changes))
            except self._failures as error:
                # The snapshot stays as it was, so a later save of the same object retries these changes.
                detail = describe_error(error)
                log.warning("persistent attributes not saved (%s): %s", self.describe(), detail)
                return
        if isinstance(attributes, TrackedAttributes):
            attributes.mark_saved()

    def delete_attributes(self, request_envelope: RequestEnvelope) -> None:
        user_key = user_key_of(request_envelope)
        if user_key is None:
            log.error("cannot delete persistent attributes: request has no user id")
            return
        try:
            self._run(lambda connection: self._delete_user(connection, user_key))
        except self._failures as error:
            log.error("persistent attributes not deleted (%s): %s", self.describe(), describe_error(error))

    # ----- operations ----------------------------------------------------------------------------------

    def health(self) -> tuple[bool, str]:
        """(ok, detail) from a `SELECT 1`; tries the database even while waiting to reconnect."""
        try:
            self._run(lambda connection: connection.execute("SELECT 1").fetchone(), respect_backoff=False)
        except SchemaMigrationError as error:
            return False, f"database schema migration failed: {describe_error(error)}"
        except self.database_errors as error:
            return False, f"database unreachable: {describe_error(error)}"
        return True, "ok"

    def purge_inactive(self, max_age: dt.timedelta) -> int:
        """Delete every user none of whose attributes changed within `max_age`; returns rows deleted.

        A maintenance task (not for the request path): database errors are raised.
        """
        cutoff = self._encode_timestamp(utc_now() - max_age)
        statement = self._sql(
            "DELETE FROM attributes WHERE user_key IN ("
            " SELECT stale.user_key FROM attributes AS stale WHERE stale.updated_at < ?"
            " AND NOT EXISTS (SELECT 1 FROM attributes AS recent"
            "  WHERE recent.user_key = stale.user_key AND recent.updated_at >= ?))"
        )

        def purge(connection: Any) -> int:
            with self._transaction(connection), contextlib.closing(connection.cursor()) as cursor:
                cursor.execute(statement, (cutoff, cutoff))
                return max(cursor.rowcount, 0)

        return self._run(purge, respect_backoff=False)

    def schema_version(self) -> int:
        return self._run(self._current_version, respect_backoff=False)

    def close(self) -> None:
        """Close the idle connections of this process; the store reconnects if used again."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            self._close_quietly(connection)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()})"

    # ----- SQL -----------------------------------------------------------------------------------------

    def _sql(self, statement: str) -> str:
        return statement.replace("?", self.sql_placeholder)

    def _select_user(self, connection: Any, user_key: str) -> list[tuple[str, Any]]:
        statement = self._sql("SELECT attr_key, value FROM attributes WHERE user_key = ?")
        return list(connection.execute(statement, (user_key,)).fetchall())

    def _decode_rows(self, rows: list[tuple[str, Any]]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for attr_key, stored in rows:
            if attr_key not in ALLOWED_KEYS:
                continue  # left by another version of the skill; never handed to handlers
            try:
                value = self._decode_json(stored)
                check_value(attr_key, value)
            except ValueError as error:
                log.warning("ignoring unreadable stored attribute %s: %s", attr_key, describe_error(error))
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

    # ----- schema --------------------------------------------------------------------------------------

    def _prepare_schema(self) -> None:
        """Migrate at open; if the database is down, start anyway and migrate on first successful connect."""
        try:
            connection = self._acquire(respect_backoff=False)
        except (SchemaMigrationError, *self.database_errors) as error:  # type: ignore[misc]  # mypy#12347
            log.warning("database not ready at startup (%s): %s", self.describe(), describe_error(error))
            return
        # Not pooled: a gunicorn master that opens the store must not hold a connection its workers inherit.
        self._close_quietly(connection)

    def _current_version(self, connection: Any) -> int:
        row = connection.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
        return int(row[0])

    def _migrate(self, connection: Any) -> None:
        with self._transaction(connection):
            self._lock_schema(connection)
            connection.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                f" version INTEGER PRIMARY KEY, applied_at {self.column_types['timestamp']} NOT NULL)"
            )
            current = self._current_version(connection)
            latest = max((migration.version for migration in self._migrations), default=0)
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

    # ----- connections ---------------------------------------------------------------------------------

    def _run(self, operation: Callable[[Any], T], *, respect_backoff: bool = True) -> T:
        """Run `operation` on a pooled connection; on a connection failure reconnect and try once more."""
        for attempt in (1, 2):
            connection = self._acquire(respect_backoff=respect_backoff)
            try:
                result = operation(connection)
            except self.connection_errors:
                self._close_quietly(connection)
                self.close()  # the other idle connections most likely died with this one
                if attempt == 2:
                    raise
                log.info("database connection lost (%s); reconnecting", self.describe())
                continue
            except BaseException:
                self._release(connection)
                raise
            self._release(connection)
            return result
        raise AssertionError("unreachable")

    def _acquire(self, *, respect_backoff: bool) -> Any:
        connection = self._take_idle()
        if connection is not None:
            return connection
        if respect_backoff and time.monotonic() < self._retry_at:
            raise DatabaseUnavailable("database unreachable; waiting before the next attempt")
        try:
            connection = self._connect()
        except self.database_errors:
            self._retry_at = time.monotonic() + self._reconnect_interval_s
            raise
        if not self._schema_ready:
            try:
                self._migrate(connection)
            except self.database_errors as error:
                self._close_quietly(connection)
                raise SchemaMigrationError(describe_error(error)) from error
            self._schema_ready = True
        return connection

    def _take_idle(self) -> Any | None:
        with self._lock:
            self._forget_parent_connections()
            while self._idle:
                connection = self._idle.pop()
                if self._is_usable(connection):
                    return connection
                self._close_quietly(connection)
        return None

    def _release(self, connection: Any) -> None:
        with self._lock:
            self._forget_parent_connections()
            keep = len(self._idle) < self._max_idle_connections and self._is_usable(connection)
            if keep:
                self._idle.append(connection)
        if not keep:
            self._close_quietly(connection)

    def _forget_parent_connections(self) -> None:
        """In a forked child, set aside the parent's idle connections (call with the lock held)."""
        if self._pid != os.getpid():
            self._inherited.extend(self._idle)
            self._idle = []
            self._pid = os.getpid()

    @staticmethod
    def _close_quietly(connection: Any) -> None:
        with contextlib.suppress(Exception):
            connection.close()


class SQLiteStore(AttributeStore):
    """SQLite in WAL mode: readers never block, writers wait for each other up to the busy timeout."""

    sql_placeholder = "?"
    column_types: Mapping[str, str] = {"json": "TEXT", "timestamp": "TEXT"}
    database_errors = (sqlite3.Error,)
    connection_errors = ()

    def __init__(self, path: Path, **options: Any) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(**options)

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; `_transaction` issues BEGIN IMMEDIATE itself.
        # check_same_thread=False: a pooled connection moves between threads, but is used by one at a time.
        connection = sqlite3.connect(
            self.path,
            timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            self._enable_wal(connection)
            connection.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error:
            connection.close()
            raise
        return connection

    @staticmethod
    def _enable_wal(connection: sqlite3.Connection) -> None:
        """Switch a new database to WAL (a persistent setting), waiting out other processes doing the same.

        Changing the journal mode fails at once with "database is locked" when another connection is in the
        middle of it: SQLite's busy timeout does not cover it, so the wait is done here.
        """
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
        while connection.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            try:
                connection.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise
                time.sleep(SQLITE_WAL_SWITCH_POLL_S)

    def _is_usable(self, connection: sqlite3.Connection) -> bool:
        try:
            return not connection.in_transaction
        except sqlite3.ProgrammingError:  # closed
            return False

    @contextlib.contextmanager
    def _transaction(self, connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so a transaction never fails half-way on a lock upgrade.
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def _encode_json(self, value: Any) -> str:
        return canonical_json(value)

    def _decode_json(self, stored: Any) -> Any:
        return json.loads(stored)

    def _encode_timestamp(self, moment: dt.datetime) -> str:
        # Fixed-width UTC text sorts in time order, which purge_inactive relies on.
        return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def describe(self) -> str:
        return f"sqlite {self.path}"


class PostgresStore(AttributeStore):
    """PostgreSQL through psycopg 3, in autocommit mode with explicit transactions for writes."""

    sql_placeholder = "%s"
    column_types: Mapping[str, str] = {"json": "JSONB", "timestamp": "TIMESTAMPTZ"}
    database_errors = (psycopg.Error,)
    connection_errors = (psycopg.OperationalError,)

    def __init__(self, conninfo: str, **options: Any) -> None:
        try:
            self._params = conninfo_to_dict(conninfo)
        except psycopg.Error as error:
            detail = describe_error(error).replace(conninfo, "<url>")  # libpq may quote it, password and all
            raise ValueError(f"invalid PostgreSQL URL: {detail}") from None
        self._params.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
        self._params.setdefault("application_name", "letdown-skill")
        super().__init__(**options)

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(autocommit=True, **self._params)  # type: ignore[arg-type]  # libpq parameters

    def _is_usable(self, connection: psycopg.Connection[Any]) -> bool:
        return not connection.closed and not connection.broken

    def _transaction(self, connection: psycopg.Connection[Any]) -> contextlib.AbstractContextManager[Any]:
        return connection.transaction()

    def _lock_schema(self, connection: psycopg.Connection[Any]) -> None:
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_ID,))

    def _encode_json(self, value: Any) -> Jsonb:
        return Jsonb(value)

    def _decode_json(self, stored: Any) -> Any:
        return stored  # psycopg already parsed the JSONB

    def _encode_timestamp(self, moment: dt.datetime) -> dt.datetime:
        return moment

    def describe(self) -> str:
        host = self._params.get("host") or "local socket"
        port = self._params.get("port") or 5432
        return f"postgresql {host}:{port}/{self._params.get('dbname', '')}"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def sqlite_path(database_url: str) -> Path:
    """`sqlite:///abs/path.db` and `sqlite:////abs/path.db` both mean /abs/path.db."""
    path = database_url.removeprefix("sqlite://")
    if not path.startswith("/") or path.strip("/") in ("", ":memory:"):
        raise ValueError("a SQLite database URL needs an absolute file path: sqlite:///absolute/path.db")
    return Path("/" + path.lstrip("/"))


def open_store(database_url: str, **options: Any) -> AttributeStore:
    """Open (creating or migrating the schema) the store a database URL names.

    `options` go to the store: `reconnect_interval_s`, `max_idle_connections`, `migrations`.
    """
    scheme = database_url.partition("://")[0].lower() if "://" in database_url else ""
    if scheme == "sqlite":
        return SQLiteStore(sqlite_path(database_url), **options)
    if scheme in ("postgresql", "postgres"):
        return PostgresStore(database_url, **options)
    # The URL itself is not echoed: it may hold a password.
    raise ValueError(
        f"unsupported database URL scheme {scheme!r}: use sqlite:///absolute/path.db "
        "or postgresql://user@host:port/dbname"
    )
