"""SQLite in WAL mode: readers never block, writers wait for each other only up to a short busy timeout.

Connections are kept in a small per-process pool (a request's thread takes one, uses it alone and gives it
back); after a fork the child never touches its parent's connections. The file is watched: if it was
deleted or replaced (restored from a backup, say) since a connection opened it, that connection is dropped
and the store reopens the path, creating and migrating a new database if need be. A connection that failed
for any reason other than a lock (read-only file, I/O error) is dropped too, so fixing the file's
permissions is enough for the store to work again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from skill.storage.store import AttributeStore, SchemaMigrationError, canonical_json
from skill.storage.urls import DatabaseUrl

log = logging.getLogger(__name__)

# Short: a request that cannot get the write lock quickly is better answered without storage (the update is
# buffered) than late. Migrations at startup, when several workers open a new file together, wait longer.
REQUEST_BUSY_TIMEOUT_MS = 250
MIGRATION_BUSY_TIMEOUT_MS = 10_000
WAL_SWITCH_POLL_S = 0.01
DEFAULT_MAX_IDLE_CONNECTIONS = 4
# Failures that say nothing about the connection itself: it stays usable.
LOCK_ERROR_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})

T = TypeVar("T")
FileIdentity = tuple[int, int]


class PooledConnection:
    def __init__(self, connection: sqlite3.Connection, identity: FileIdentity) -> None:
        self.connection = connection
        self.identity = identity


class SQLiteStore(AttributeStore):
    sql_placeholder = "?"
    column_types: Mapping[str, str] = {
        "json": "TEXT",
        "timestamp": "TEXT",
        "bigint": "INTEGER",
        "json_text": "json_extract(value, '$')",
        "json_bigint": "CAST(json_extract(value, '$') AS INTEGER)",
    }
    database_errors = (sqlite3.Error, OSError)

    def __init__(
        self, url: DatabaseUrl, *, max_idle_connections: int = DEFAULT_MAX_IDLE_CONNECTIONS, **options: Any
    ) -> None:
        assert url.sqlite_file is not None
        self.path: Path = url.sqlite_file
        self._max_idle = max_idle_connections
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._idle: list[PooledConnection] = []
        # Connections inherited through fork: never used nor closed here, kept from garbage collection.
        self._inherited: list[PooledConnection] = []
        self._migrated: FileIdentity | None = None
        super().__init__(url, **options)

    def _default_journal_path(self) -> Path:
        return self.path.with_name(self.path.name + ".pending-deletions")

    # ----- connections ---------------------------------------------------------------------------------

    def _file_identity(self) -> FileIdentity | None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return (stat.st_dev, stat.st_ino)

    def _align_sidecar_permissions(self) -> None:
        """SQLite creates the -wal and -shm files with the database file's mode at that moment: opened while
        read-only, they stay read-only after the database file is made writable again. Ours, so align them."""
        if not os.access(self.path, os.W_OK):
            return
        mode = stat.S_IMODE(os.stat(self.path).st_mode)
        for sidecar in (self.path.with_name(self.path.name + suffix) for suffix in ("-wal", "-shm")):
            with contextlib.suppress(OSError):
                if not os.access(sidecar, os.W_OK) and os.stat(sidecar).st_uid == os.geteuid():
                    os.chmod(sidecar, mode)
                    log.warning("made %s writable again, like its database file", sidecar.name)

    def _connect(self) -> PooledConnection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            self._align_sidecar_permissions()
        # isolation_level=None: no implicit transactions; `_transaction` issues BEGIN IMMEDIATE itself.
        # check_same_thread=False: a pooled connection moves between threads, but is used by one at a time.
        connection = sqlite3.connect(
            self.path, timeout=REQUEST_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        try:
            connection.execute(f"PRAGMA busy_timeout = {MIGRATION_BUSY_TIMEOUT_MS}")
            self._enable_wal(connection)
            connection.execute("PRAGMA synchronous = NORMAL")
            identity = self._file_identity()
            if identity is None:
                raise sqlite3.OperationalError("database file vanished while opening it")
            if self._migrated != identity:
                try:
                    self._migrate(connection)
                except sqlite3.Error as error:
                    raise SchemaMigrationError(self.describe_error(error)) from error
                self._migrated = identity
            connection.execute(f"PRAGMA busy_timeout = {REQUEST_BUSY_TIMEOUT_MS}")
        except BaseException:
            connection.close()
            raise
        return PooledConnection(connection, identity)

    @staticmethod
    def _enable_wal(connection: sqlite3.Connection) -> None:
        """Switch a new database to WAL (a persistent setting), waiting out other processes doing the same.

        Changing the journal mode fails at once with "database is locked" when another connection is in the
        middle of it: SQLite's busy timeout does not cover it, so the wait is done here.
        """
        deadline = time.monotonic() + MIGRATION_BUSY_TIMEOUT_MS / 1000
        while connection.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            try:
                connection.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise
                time.sleep(WAL_SWITCH_POLL_S)

    def _execute(self, operation: Callable[[Any], T], *, timeout_s: float) -> T:
        # The busy timeout bounds lock waits; a local file has no other way to hang.
        pooled = self._take()
        try:
            result = operation(pooled.connection)
        except sqlite3.Error as error:
            if getattr(error, "sqlite_errorcode", None) in LOCK_ERROR_CODES and not pooled.connection.in_transaction:
                self._release(pooled)
            else:
                # Not a lock: the connection (or the file under it) is suspect. The next connection checks
                # the schema again, since a file made anew may even reuse the old inode number.
                self._close_quietly(pooled)
                self._migrated = None
                if self._file_identity() != pooled.identity:
                    self.close()
            raise
        except BaseException:
            self._close_quietly(pooled)
            raise
        self._release(pooled)
        return result

    def _take(self) -> PooledConnection:
        current = self._file_identity()
        with self._lock:
            self._forget_parent_connections()
            while self._idle:
                pooled = self._idle.pop()
                if pooled.identity == current and self._is_usable(pooled.connection):
                    return pooled
                if pooled.identity != current:
                    log.warning("database file %s was deleted or replaced: reopening it", self.path)
                    self._migrated = None
                self._close_quietly(pooled)
        return self._connect()

    def _release(self, pooled: PooledConnection) -> None:
        with self._lock:
            self._forget_parent_connections()
            keep = len(self._idle) < self._max_idle and self._is_usable(pooled.connection)
            if keep:
                self._idle.append(pooled)
        if not keep:
            self._close_quietly(pooled)

    @staticmethod
    def _is_usable(connection: sqlite3.Connection) -> bool:
        try:
            return not connection.in_transaction
        except sqlite3.ProgrammingError:  # closed
            return False

    def _forget_parent_connections(self) -> None:
        """In a forked child, set aside the parent's idle connections (call with the lock held)."""
        if self._pid != os.getpid():
            self._inherited.extend(self._idle)
            self._idle = []
            self._pid = os.getpid()

    @staticmethod
    def _close_quietly(pooled: PooledConnection) -> None:
        with contextlib.suppress(Exception):
            pooled.connection.close()

    def close(self) -> None:
        with self._lock:
            self._forget_parent_connections()
            idle, self._idle = self._idle, []
        for pooled in idle:
            self._close_quietly(pooled)

    def _prepare_schema(self) -> None:
        try:
            pooled = self._connect()
        except (SchemaMigrationError, *self.database_errors) as error:
            log.warning("database not ready at startup (%s): %s", self.redacted, self.describe_error(error))
            return
        # Not pooled: a gunicorn master that opens the store must not hold a connection its workers inherit.
        self._close_quietly(pooled)

    # ----- dialect -------------------------------------------------------------------------------------

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
