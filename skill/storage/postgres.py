"""PostgreSQL through psycopg 3 and psycopg_pool, with every call bounded.

Bounds, from the server's side: `statement_timeout`, `lock_timeout` and
`idle_in_transaction_session_timeout` (set per connection), TCP keepalives and `tcp_user_timeout` (a dead
host or network), `connect_timeout`. From ours: the pool's wait timeout, and the deadline watchdog
(skill.storage.deadline), the only bound that holds when the server process is frozen.

psycopg_pool rather than a hand-written pool: it reconnects in the background, checks connections returned
in a bad state and caps the size. Pools are per process (created on first use, so a gunicorn master never
hands its connections to its workers), and a pool whose connections failed is replaced as a whole.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from platformdirs import user_state_dir
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from skill.storage.deadline import DeadlineExceeded, Watchdog, shutdown_socket
from skill.storage.store import AttributeStore, DatabaseUnavailable, SchemaMigrationError
from skill.storage.urls import DatabaseUrl, DatabaseUrlError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 2  # libpq's minimum useful value
SERVER_TIMEOUTS_MS = {
    "statement_timeout": 1000,
    "lock_timeout": 500,
    "idle_in_transaction_session_timeout": 5000,
}
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 2,
    "tcp_user_timeout": 3000,
}
POOL_MIN_SIZE = 4  # gunicorn's threads per worker
POOL_MAX_SIZE = 8
MIN_CALL_BUDGET_S = 0.05
POOL_REPLACE_MIN_INTERVAL_S = 0.5
# Arbitrary constant: the PostgreSQL advisory lock that serialises schema migrations between processes.
MIGRATION_LOCK_ID = 0x1E7D0
MIGRATION_TIMEOUT_S = 30.0

T = TypeVar("T")


class PostgresStore(AttributeStore):
    sql_placeholder = "%s"
    column_types: Mapping[str, str] = {
        "json": "JSONB",
        "timestamp": "TIMESTAMPTZ",
        "bigint": "BIGINT",
        "json_text": "(value #>> '{}')",
        "json_bigint": "(value #>> '{}')::bigint",
    }
    database_errors = (psycopg.Error,)
    # A pool timeout is not one: on a busy machine a new connection can take longer than a request may wait.
    timeout_errors = (DeadlineExceeded,)

    def __init__(self, url: DatabaseUrl, *, pool_max_size: int = POOL_MAX_SIZE, **options: Any) -> None:
        try:
            params = conninfo_to_dict(url.url)
        except psycopg.Error as error:
            raise DatabaseUrlError(f"invalid PostgreSQL URL {url.redacted}: {url.scrub(str(error))}") from None
        params.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
        params.setdefault("application_name", "letdown-skill")
        for key, value in KEEPALIVES.items():
            params.setdefault(key, value)
        server_options = " ".join(f"-c {name}={value}" for name, value in SERVER_TIMEOUTS_MS.items())
        params["options"] = f"{params.get('options', '')} {server_options}".strip()
        self._params: dict[str, Any] = params
        self._pool_max_size = pool_max_size
        self._pool: ConnectionPool | None = None
        self._pool_pid = 0
        self._pool_lock = threading.Lock()
        self._pool_replaced_at = 0.0
        self._watchdog = Watchdog()
        self._schema_ready = False
        super().__init__(url, **options)

    def _default_journal_path(self) -> Path:
        digest = hashlib.sha256(self.url.redacted.encode()).hexdigest()[:16]
        return Path(user_state_dir("letdown-helper")) / f"pending-deletions-{digest}"

    # ----- connections ---------------------------------------------------------------------------------

    def _connect_directly(self) -> psycopg.Connection[Any]:
        return psycopg.connect(autocommit=True, **self._params)  # bounded by connect_timeout

    def _current_pool(self) -> ConnectionPool:
        with self._pool_lock:
            if self._pool is None or self._pool_pid != os.getpid():
                # In a forked child the parent's pool (and its threads) are not ours: never touch them.
                self._pool = self._new_pool()
                self._pool_pid = os.getpid()
            return self._pool

    def _new_pool(self) -> ConnectionPool:
        pool: ConnectionPool = ConnectionPool(
            kwargs={**self._params, "autocommit": True},
            min_size=min(POOL_MIN_SIZE, self._pool_max_size),  # ready before requests need them
            max_size=self._pool_max_size,
            timeout=self.call_timeout_s,
            reconnect_timeout=0,  # never give up: the breaker decides when requests stop waiting
            name=f"letdown-{os.getpid()}",
            open=False,
        )
        pool.open(wait=False)
        return pool

    def _replace_pool(self, failed: ConnectionPool) -> None:
        """Its other connections most likely died with this one: start a fresh pool, close the old one."""
        with self._pool_lock:
            if self._pool is not failed or time.monotonic() - self._pool_replaced_at < POOL_REPLACE_MIN_INTERVAL_S:
                return
            self._pool = self._new_pool()
            self._pool_replaced_at = time.monotonic()
        threading.Thread(target=close_pool_quietly, args=(failed,), daemon=True).start()

    def _execute(self, operation: Callable[[Any], T], *, timeout_s: float) -> T:
        deadline = time.monotonic() + timeout_s  # one budget for waiting on the pool and for the call itself
        for attempt in (1, 2):
            pool = self._current_pool()
            try:
                connection = pool.getconn(timeout=max(deadline - time.monotonic(), MIN_CALL_BUDGET_S))
            except PoolTimeout:
                raise
            except psycopg.Error as error:
                raise DatabaseUnavailable(self.describe_error(error)) from error
            broken = False
            try:
                remaining = max(deadline - time.monotonic(), MIN_CALL_BUDGET_S)
                with self._watchdog.guard(remaining, partial(interrupt, connection)):
                    self._ensure_schema(connection)
                    return operation(connection)
            except (DeadlineExceeded, psycopg.OperationalError) as error:
                broken = True
                self._replace_pool(pool)
                # A connection that died idle in the pool (a server restart): one more try, on a new one.
                if attempt == 2 or isinstance(error, DeadlineExceeded) or not connection.broken:
                    raise
            finally:
                if broken:
                    with contextlib.suppress(Exception):
                        connection.close()
                with contextlib.suppress(Exception):
                    pool.putconn(connection)
        raise AssertionError("unreachable")

    def _ensure_schema(self, connection: psycopg.Connection[Any]) -> None:
        if self._schema_ready:
            return
        try:
            self._migrate(connection)
        except psycopg.OperationalError:
            raise
        except psycopg.Error as error:
            raise SchemaMigrationError(self.describe_error(error)) from error
        self._schema_ready = True

    def _prepare_schema(self) -> None:
        """Migrate on a connection of its own (not pooled: a gunicorn master must not keep one)."""
        try:
            connection = self._connect_directly()
        except (DeadlineExceeded, psycopg.Error) as error:
            log.warning("database not ready at startup (%s): %s", self.redacted, self.describe_error(error))
            return
        try:
            with self._watchdog.guard(MIGRATION_TIMEOUT_S, partial(interrupt, connection)):
                self._ensure_schema(connection)
        except (DeadlineExceeded, SchemaMigrationError, psycopg.Error) as error:
            log.warning("database schema not ready at startup (%s): %s", self.redacted, self.describe_error(error))
        finally:
            with contextlib.suppress(Exception):
                connection.close()

    def close(self) -> None:
        with self._pool_lock:
            pool, self._pool = self._pool, None
            owned = self._pool_pid == os.getpid()
        if pool is not None and owned:
            close_pool_quietly(pool)

    # ----- dialect -------------------------------------------------------------------------------------

    def _transaction(self, connection: psycopg.Connection[Any]) -> contextlib.AbstractContextManager[Any]:
        return connection.transaction()

    def _allow_long_statements(self, connection: psycopg.Connection[Any]) -> None:
        connection.execute(f"SET LOCAL statement_timeout = {int(MIGRATION_TIMEOUT_S * 1000)}")
        connection.execute(f"SET LOCAL lock_timeout = {int(MIGRATION_TIMEOUT_S * 1000)}")

    def _lock_schema(self, connection: psycopg.Connection[Any]) -> None:
        self._allow_long_statements(connection)  # a migration may take longer than a request
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_ID,))

    def _encode_json(self, value: Any) -> Jsonb:
        return Jsonb(value)

    def _decode_json(self, stored: Any) -> Any:
        return stored  # psycopg already parsed the JSONB

    def _encode_timestamp(self, moment: dt.datetime) -> dt.datetime:
        return moment


def interrupt(connection: psycopg.Connection[Any]) -> None:
    """Called by the watchdog: make a blocked call on `connection` fail now."""
    shutdown_socket(connection.pgconn.socket)


def close_pool_quietly(pool: ConnectionPool) -> None:
    with contextlib.suppress(Exception):
        pool.close(timeout=1.0)
