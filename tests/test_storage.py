"""skill.storage against real databases: SQLite files and a real PostgreSQL server started by the tests."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import itertools
import json
import logging
import multiprocessing
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from ask_sdk_model import Context, RequestEnvelope, User
from ask_sdk_model.interfaces.system import SystemState

from skill.storage import (
    ALLOWED_KEYS,
    MIGRATIONS,
    AttributeStore,
    Change,
    Migration,
    Outcome,
    PlaybackUpdate,
    TrackedAttributes,
    open_store,
    sqlite_path,
)
from tests.support.postgres import PostgresServer, postgres_server_fixture
from tests.support.server import free_port


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    yield from postgres_server_fixture()


USER_ID = "amzn1.ask.account.AHRAWUSERIDTHATMUSTNEVERBESTORED"
OTHER_USER_ID = "amzn1.ask.account.ANOTHERPARENT"
BARRIER_TIMEOUT_S = 30


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """Makes fresh, empty databases: SQLite files in directories not yet made, or new PostgreSQL databases."""
    if request.param == "sqlite":
        names = itertools.count()
        return lambda: f"sqlite:///{tmp_path / f'not-yet-{next(names)}' / 'letdown.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database


@pytest.fixture
def database_url(new_database: Callable[[], str]) -> str:
    return new_database()


@pytest.fixture
def store(database_url: str) -> Iterator[AttributeStore]:
    opened = open_store(database_url)
    yield opened
    opened.close()


def envelope_for(user_id: str) -> RequestEnvelope:
    return RequestEnvelope(context=Context(system=SystemState(user=User(user_id=user_id))))


def raw_query(database_url: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read or change the database behind the store's back. `?` placeholders."""
    if database_url.startswith("sqlite:"):
        with contextlib.closing(sqlite3.connect(sqlite_path(database_url))) as connection, connection:
            return connection.execute(statement, params).fetchall()
    with psycopg.connect(database_url) as connection:
        cursor = connection.execute(statement.replace("?", "%s"), params)
        return cursor.fetchall() if cursor.description else []


def stored_rows(database_url: str) -> dict[tuple[str, str], Any]:
    """{(user_key, attr_key): value} of every row."""
    rows = raw_query(database_url, "SELECT user_key, attr_key, value FROM attributes")
    is_text = database_url.startswith("sqlite:")  # PostgreSQL's JSONB arrives already decoded
    return {(user, key): json.loads(value) if is_text else value for user, key, value in rows}


def updated_at(database_url: str, attr_key: str) -> Any:
    return raw_query(database_url, "SELECT updated_at FROM attributes WHERE attr_key = ?", (attr_key,))[0][0]


def index_names(database_url: str) -> set[str]:
    if database_url.startswith("sqlite:"):
        rows = raw_query(database_url, "SELECT name FROM sqlite_master WHERE type = 'index'")
    else:
        rows = raw_query(database_url, "SELECT indexname FROM pg_indexes WHERE tablename = 'attributes'")
    return {name for (name,) in rows}


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


FULL_STATE = {
    "track_token": "letdown-visualisation",
    "track_offset_ms": 73_250,
    "playback_activity": "PAUSED",
    "playback_updated_ms": 1_767_000_000_123,
    "whisper": True,
    "visits": 4,
}
PREFERENCES = {"whisper": True, "visits": 4}


def store_full_state(store: AttributeStore, envelope: RequestEnvelope) -> None:
    """FULL_STATE: preferences saved the SDK's way, playback through its conditional updates."""
    attributes = store.get_attributes(envelope)
    attributes.update(PREFERENCES)
    store.save_attributes(envelope, attributes)
    event_ms = FULL_STATE["playback_updated_ms"]
    token = FULL_STATE["track_token"]
    assert attributes.update_playback(PlaybackUpdate(Change.STARTED, event_ms, token, 0)) is Outcome.APPLIED
    stopped = PlaybackUpdate(Change.STOPPED, event_ms, token, FULL_STATE["track_offset_ms"])
    assert attributes.update_playback(stopped) is Outcome.APPLIED
    paused = PlaybackUpdate(Change.HALT, event_ms, token, 1_000, activity="PAUSED")
    assert attributes.update_playback(paused) is Outcome.APPLIED


# ----- round trip and key-level saving --------------------------------------------------------------------


def test_round_trip_keeps_values_and_types(database_url: str) -> None:
    assert set(FULL_STATE) == ALLOWED_KEYS
    store = open_store(database_url)
    envelope = envelope_for(USER_ID)
    attributes = store.get_attributes(envelope)
    assert isinstance(attributes, TrackedAttributes)
    assert attributes == {} and not attributes.unavailable

    store_full_state(store, envelope)
    store.close()

    reopened = open_store(database_url)
    loaded = reopened.get_attributes(envelope)
    assert loaded == FULL_STATE
    assert {key: type(value) for key, value in loaded.items()} == {
        key: type(value) for key, value in FULL_STATE.items()
    }
    assert loaded.snapshot == FULL_STATE and not loaded.unavailable
    reopened.close()


def test_playback_keys_change_only_through_playback_updates(store: AttributeStore) -> None:
    envelope = envelope_for(USER_ID)
    attributes = store.get_attributes(envelope)
    attributes["track_offset_ms"] = 5_000
    with pytest.raises(ValueError, match="update_playback"):
        store.save_attributes(envelope, attributes)
    with pytest.raises(ValueError, match="update_playback"):
        store.save_attributes(envelope, {"track_token": "breathing-2m"})
    assert store.get_attributes(envelope) == {}


def test_two_loads_changing_different_keys_both_survive(store: AttributeStore) -> None:
    """A LaunchRequest and a whisper request handled at once, each from its own load of the same user."""
    envelope = envelope_for(USER_ID)
    store.save_attributes(envelope, {"visits": 1, "whisper": False})

    launch = store.get_attributes(envelope)
    whisper_intent = store.get_attributes(envelope)
    launch["visits"] = 2
    whisper_intent["whisper"] = True
    store.save_attributes(envelope, launch)
    store.save_attributes(envelope, whisper_intent)

    assert store.get_attributes(envelope) == {"visits": 2, "whisper": True}


def test_unchanged_keys_are_not_rewritten(store: AttributeStore, database_url: str) -> None:
    envelope = envelope_for(USER_ID)
    attributes = store.get_attributes(envelope)
    attributes.update(visits=1, whisper=False)
    store.save_attributes(envelope, attributes)
    visits_written_at = updated_at(database_url, "visits")

    attributes["whisper"] = True
    store.save_attributes(envelope, attributes)

    assert updated_at(database_url, "visits") == visits_written_at
    assert updated_at(database_url, "whisper") >= visits_written_at


def test_snapshot_moves_forward_after_save(store: AttributeStore) -> None:
    """Saving the same object twice must not write back a value another request changed in between."""
    envelope = envelope_for(USER_ID)
    mine = store.get_attributes(envelope)
    mine["visits"] = 1
    store.save_attributes(envelope, mine)
    assert mine.snapshot == {"visits": 1}

    other_request = store.get_attributes(envelope)
    other_request["visits"] = 2
    store.save_attributes(envelope, other_request)

    mine["whisper"] = True
    store.save_attributes(envelope, mine)
    assert store.get_attributes(envelope) == {"visits": 2, "whisper": True}


def test_removed_key_is_deleted(store: AttributeStore, database_url: str) -> None:
    envelope = envelope_for(USER_ID)
    attributes = store.get_attributes(envelope)
    attributes.update(whisper=True, visits=2)
    store.save_attributes(envelope, attributes)

    del attributes["whisper"]
    store.save_attributes(envelope, attributes)

    assert store.get_attributes(envelope) == {"visits": 2}
    assert {attr_key for (_, attr_key) in stored_rows(database_url)} == {"visits"}


def test_plain_dict_upserts_every_key_and_deletes_nothing(store: AttributeStore) -> None:
    envelope = envelope_for(USER_ID)
    store.save_attributes(envelope, {"visits": 1, "whisper": True})
    store.save_attributes(envelope, {"visits": 2})
    assert store.get_attributes(envelope) == {"visits": 2, "whisper": True}


def test_none_is_stored_as_a_value(store: AttributeStore) -> None:
    envelope = envelope_for(USER_ID)
    store.save_attributes(envelope, {"whisper": None})
    assert store.get_attributes(envelope) == {"whisper": None}


# ----- what may be stored ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, value",
    [
        ("mood", "anxious"),  # not a persistent attribute at all
        ("dmer_episodes", 3),
        ("whisper", "yes"),  # wrong type
        ("visits", True),  # a bool is not a count
        ("track_offset_ms", 1.5),
        ("playback_activity", "SAD"),  # free text where only playback states belong
    ],
)
def test_anything_outside_the_contract_is_rejected(
    store: AttributeStore, database_url: str, key: str, value: Any
) -> None:
    envelope = envelope_for(USER_ID)
    attributes = store.get_attributes(envelope)
    attributes["visits"] = 1
    attributes[key] = value
    with pytest.raises(ValueError, match=key):
        store.save_attributes(envelope, attributes)
    with pytest.raises(ValueError, match=key):
        store.save_attributes(envelope, {key: value})
    assert stored_rows(database_url) == {}


def test_user_is_stored_under_a_hash_of_the_id(store: AttributeStore, database_url: str) -> None:
    envelope = envelope_for(USER_ID)
    store_full_state(store, envelope)
    store.close()

    assert {user_key for (user_key, _) in stored_rows(database_url)} == {sha256_hex(USER_ID)}
    everything = raw_query(database_url, "SELECT * FROM attributes") + raw_query(database_url, "SELECT * FROM playback")
    assert raw_query(database_url, "SELECT user_key FROM playback") == [(sha256_hex(USER_ID),)]
    assert USER_ID not in repr(everything)
    if database_url.startswith("sqlite:"):
        for stored_file in sqlite_path(database_url).parent.iterdir():  # the database, its WAL and SHM
            assert USER_ID.encode() not in stored_file.read_bytes(), stored_file.name


def test_raw_user_id_never_logged(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with contextlib.closing(open_store(database_url)) as store:
        envelope = envelope_for(USER_ID)
        attributes = store.get_attributes(envelope)
        attributes["visits"] = 1
        store.save_attributes(envelope, attributes)
        store.delete_attributes(envelope)
    assert USER_ID not in caplog.text
    assert sha256_hex(USER_ID) not in caplog.text


def test_request_without_user_id_is_served_without_storage(store: AttributeStore, database_url: str) -> None:
    envelope = RequestEnvelope(context=None)
    attributes = store.get_attributes(envelope)
    assert attributes == {} and attributes.unavailable
    attributes["visits"] = 1
    store.save_attributes(envelope, attributes)
    store.delete_attributes(envelope)
    assert stored_rows(database_url) == {}


# ----- deleting -------------------------------------------------------------------------------------------


def test_delete_attributes_removes_only_that_user(store: AttributeStore) -> None:
    leaving, staying = envelope_for(USER_ID), envelope_for(OTHER_USER_ID)
    store.save_attributes(leaving, {"visits": 3, "whisper": True})
    store.save_attributes(staying, {"visits": 7})

    store.delete_attributes(leaving)

    assert store.get_attributes(leaving) == {}
    assert store.get_attributes(staying) == {"visits": 7}


def test_purge_inactive_removes_users_with_no_recent_change(store: AttributeStore, database_url: str) -> None:
    gone, partly_recent, recent = (envelope_for(f"amzn1.ask.account.{name}") for name in ("GONE", "PART", "NEW"))
    for envelope in (gone, partly_recent, recent):
        store.save_attributes(envelope, {"visits": 1, "whisper": False})
    long_ago = "2000-01-01T00:00:00.000000Z"
    raw_query(
        database_url,
        "UPDATE attributes SET updated_at = ? WHERE user_key = ?",
        (long_ago, sha256_hex("amzn1.ask.account.GONE")),
    )
    raw_query(
        database_url,
        "UPDATE attributes SET updated_at = ? WHERE user_key = ? AND attr_key = 'visits'",
        (long_ago, sha256_hex("amzn1.ask.account.PART")),
    )

    assert store.purge_inactive(dt.timedelta(days=90)) == 2

    assert store.get_attributes(gone) == {}
    assert store.get_attributes(partly_recent) == {"visits": 1, "whisper": False}
    assert store.get_attributes(recent) == {"visits": 1, "whisper": False}


# ----- concurrency ----------------------------------------------------------------------------------------

ROUNDS = 25
# Each role changes its own attribute, like the handlers of concurrent requests about one user.
ROLES = {
    "launch": lambda round_number: {"visits": round_number + 1},
    "whisper_intent": lambda round_number: {"whisper": round_number % 2 == 0},
}


def expected_state(round_number: int) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for change in ROLES.values():
        state.update(change(round_number))
    return state


def concurrent_writer(
    database_url: str,
    role: str,
    barrier: threading.Barrier,
    results: multiprocessing.SimpleQueue,
) -> None:
    """Runs in a spawned process: every round, load with the others, change one key, save with the others."""
    problems: list[str] = []
    try:
        barrier.wait(BARRIER_TIMEOUT_S)
        store = open_store(database_url)  # all at once: the schema migration races too
        envelope = envelope_for(USER_ID)
        for round_number in range(ROUNDS):
            attributes = store.get_attributes(envelope)
            barrier.wait(BARRIER_TIMEOUT_S)  # everyone holds the same snapshot
            attributes.update(ROLES[role](round_number))
            store.save_attributes(envelope, attributes)
            barrier.wait(BARRIER_TIMEOUT_S)  # everyone has saved
            seen = store.get_attributes(envelope)
            if seen.unavailable or seen != expected_state(round_number):
                problems.append(f"round {round_number}: {dict(seen)} unavailable={seen.unavailable}")
        store.close()
    except Exception as error:  # reported to the test instead of dying silently in the child
        barrier.abort()
        problems.append(repr(error))
    results.put((role, problems))


def test_processes_changing_different_keys_lose_nothing(database_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(ROLES))
    results = context.SimpleQueue()
    workers = [context.Process(target=concurrent_writer, args=(database_url, role, barrier, results)) for role in ROLES]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    exit_codes = [worker.exitcode for worker in workers]
    reports = dict(results.get() for _ in workers if not results.empty())

    assert exit_codes == [0] * len(ROLES)
    assert reports == {role: [] for role in ROLES}
    final = open_store(database_url)
    assert final.get_attributes(envelope_for(USER_ID)) == expected_state(ROUNDS - 1)
    final.close()


# Few workers, many fresh databases: that is what makes SQLite's journal-mode switch collide most often.
OPENING_WORKERS = 3


def open_at_once(database_url: str, worker: int, barrier: threading.Barrier, results: Any) -> None:
    barrier.wait(BARRIER_TIMEOUT_S)
    with contextlib.closing(open_store(database_url)) as store:
        attributes = store.get_attributes(envelope_for(f"amzn1.ask.account.WORKER{worker}"))
        results.put((attributes.unavailable, store.health()))


def test_processes_opening_a_new_database_at_once_all_succeed(new_database: Callable[[], str]) -> None:
    """gunicorn workers starting together on an empty database all create/migrate the schema at once."""
    context = multiprocessing.get_context("fork")  # cheap to start; the children open their own stores
    database_urls = [new_database()]
    # SQLite's collision is rare per database, so it gets many; PostgreSQL's CREATE DATABASE is slower.
    database_urls += [new_database() for _ in range(11 if database_urls[0].startswith("sqlite:") else 3)]
    for database_url in database_urls:
        barrier = context.Barrier(OPENING_WORKERS)
        results = context.SimpleQueue()
        workers = [
            context.Process(target=open_at_once, args=(database_url, worker, barrier, results))
            for worker in range(OPENING_WORKERS)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=30)
        assert [results.get() for _ in workers] == [(False, (True, "ok"))] * OPENING_WORKERS


def test_threads_share_the_store(store: AttributeStore) -> None:
    increments = 15

    def visit_repeatedly(user_number: int) -> None:
        envelope = envelope_for(f"amzn1.ask.account.THREAD{user_number}")
        for _ in range(increments):
            attributes = store.get_attributes(envelope)
            attributes["visits"] = attributes.get("visits", 0) + 1
            store.save_attributes(envelope, attributes)

    threads = [threading.Thread(target=visit_repeatedly, args=(number,)) for number in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    for number in range(6):
        assert store.get_attributes(envelope_for(f"amzn1.ask.account.THREAD{number}")) == {"visits": increments}


def parent_resources(store: AttributeStore) -> Any:
    """Internals: which connections a process uses cannot be seen from outside (SQLite: its idle
    connection; PostgreSQL: its psycopg_pool)."""
    if hasattr(store, "_idle"):
        (parent_connection,) = store._idle
        return parent_connection
    return store._pool  # type: ignore[attr-defined]


def child_used_its_own(store: AttributeStore, parent: Any) -> bool:
    if hasattr(store, "_idle"):
        return parent not in store._idle and parent in store._inherited
    return store._pool is not parent and store._pool is not None  # type: ignore[attr-defined]


def test_forked_child_never_touches_the_parent_connection(
    store: AttributeStore, caplog: pytest.LogCaptureFixture
) -> None:
    """gunicorn forks workers; sharing one database connection between processes corrupts it."""
    envelope = envelope_for(USER_ID)
    store.save_attributes(envelope, {"visits": 1})
    parent = parent_resources(store)
    context = multiprocessing.get_context("fork")
    results = context.SimpleQueue()

    def in_child() -> None:
        attributes = store.get_attributes(envelope)
        attributes["visits"] = 2
        store.save_attributes(envelope, attributes)
        results.put((attributes.unavailable, child_used_its_own(store, parent)))

    child = context.Process(target=in_child)
    child.start()
    child.join(timeout=30)

    assert child.exitcode == 0
    assert results.get() == (False, True)
    caplog.set_level(logging.INFO)
    assert store.get_attributes(envelope) == {"visits": 2}
    assert parent_resources(store) is parent  # still healthy: no reconnect needed
    assert "storage unavailable" not in caplog.text


# ----- schema ---------------------------------------------------------------------------------------------


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    assert [migration.version for migration in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def test_older_schema_is_migrated_at_open_and_reopening_is_idempotent(database_url: str) -> None:
    old = open_store(database_url, migrations=MIGRATIONS[:1])
    envelope = envelope_for(USER_ID)
    old.save_attributes(envelope, {"visits": 3})
    # How version 1 stored playback state: one row per key (the code that wrote them is gone).
    for key, value in (("track_token", '"dmer-wave"'), ("track_offset_ms", "4200"), ("playback_activity", '"PAUSED"')):
        raw_query(
            database_url,
            "INSERT INTO attributes (user_key, attr_key, value, updated_at) VALUES (?, ?, ?, ?)",
            (sha256_hex(USER_ID), key, value, "2026-01-01T00:00:00.000000Z"),
        )
    assert old.schema_version() == 1
    assert "attributes_updated_at" not in index_names(database_url)
    old.close()

    for _ in range(2):
        current = open_store(database_url)
        assert current.schema_version() == len(MIGRATIONS)
        assert current.get_attributes(envelope) == {
            "visits": 3,
            "track_token": "dmer-wave",
            "track_offset_ms": 4200,
            "playback_activity": "PAUSED",
        }
        current.close()

    versions = raw_query(database_url, "SELECT version FROM schema_version ORDER BY version")
    assert versions == [(migration.version,) for migration in MIGRATIONS]
    assert "attributes_updated_at" in index_names(database_url)


def test_failed_migration_is_reported_and_rolled_back(database_url: str) -> None:
    broken = Migration(len(MIGRATIONS) + 1, "clashes with an existing table", ("CREATE TABLE attributes (x INT)",))
    open_store(database_url).close()

    with contextlib.closing(open_store(database_url, migrations=(*MIGRATIONS, broken))) as store:
        attributes = store.get_attributes(envelope_for(USER_ID))
        ok, detail = store.health()

    assert attributes.unavailable
    assert not ok and detail.startswith("database schema migration failed:")
    versions = raw_query(database_url, "SELECT MAX(version) FROM schema_version")
    assert versions == [(len(MIGRATIONS),)]


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wal.db'}"
    open_store(url).close()
    assert raw_query(url, "PRAGMA journal_mode") == [("wal",)]


# ----- database down --------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def unreachable_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        (tmp_path / "a-directory.db").mkdir()  # SQLite cannot open a directory as a database
        return f"sqlite:///{tmp_path / 'a-directory.db'}"
    return f"postgresql://postgres:s3cret@127.0.0.1:{free_port()}/letdown"


def test_unreachable_database_degrades_without_raising(
    unreachable_url: str, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    journal = tmp_path / "pending-deletions"
    store = open_store(unreachable_url, journal_path=journal)
    envelope = envelope_for(USER_ID)

    attributes = store.get_attributes(envelope)
    assert attributes == {} and attributes.unavailable
    attributes["visits"] = 1
    store.save_attributes(envelope, attributes)
    store.save_attributes(envelope, {"visits": 1})
    store.delete_attributes(envelope)
    ok, detail = store.health()

    assert not ok and detail.startswith("database unreachable: ")
    assert "not saved" in caplog.text and "deletion journaled" in caplog.text
    assert journal.read_text() == f"{sha256_hex(USER_ID)}\n"  # the deletion is kept until it can be done
    assert USER_ID not in caplog.text and "s3cret" not in caplog.text and "s3cret" not in detail
    store.close()


def test_unavailable_attributes_never_overwrite_real_ones(store: AttributeStore, tmp_path: Path) -> None:
    """Loaded while the database was down, then saved after it came back: the saved state must survive."""
    envelope = envelope_for(USER_ID)
    store.save_attributes(envelope, {"visits": 5, "whisper": True})
    (tmp_path / "down.db").mkdir()
    down_store = open_store(f"sqlite:///{tmp_path / 'down.db'}")
    defaults = down_store.get_attributes(envelope)
    defaults["visits"] = 1

    store.save_attributes(envelope, defaults)

    assert store.get_attributes(envelope) == {"visits": 5, "whisper": True}


@pytest.mark.postgres
def test_postgres_restart_is_survived(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> None:
    url = postgres_server.create_database()
    store = open_store(url, reconnect_interval_s=0)
    patient_store = open_store(url, reconnect_interval_s=60)
    request.addfinalizer(store.close)
    request.addfinalizer(patient_store.close)
    envelope = envelope_for(USER_ID)
    store.save_attributes(envelope, {"visits": 5})
    patient_store.get_attributes(envelope)
    try:
        postgres_server.stop()
        while_down = store.get_attributes(envelope)
        while_down["visits"] = 1
        store.save_attributes(envelope, while_down)
        ok, detail = store.health()
        assert while_down == {"visits": 1} and while_down.unavailable
        assert not ok and detail.startswith("database unreachable: ")
        for _ in range(2):  # two failures in a row open its breaker
            assert patient_store.get_attributes(envelope).unavailable
    finally:
        postgres_server.start()

    store.save_attributes(envelope, while_down)  # a no-op: it was loaded while the database was down
    assert store.get_attributes(envelope) == {"visits": 5}
    assert store.health() == (True, "ok")
    # Within its reconnect interval the patient store does not try again, until a health check succeeds.
    assert patient_store.get_attributes(envelope).unavailable
    assert patient_store.health() == (True, "ok")
    assert patient_store.get_attributes(envelope) == {"visits": 5}


# ----- URLs -----------------------------------------------------------------------------------------------


def test_both_sqlite_url_forms_name_an_absolute_path(tmp_path: Path) -> None:
    assert sqlite_path(f"sqlite://{tmp_path}/a.db") == tmp_path / "a.db"  # sqlite:///tmp/...
    assert sqlite_path(f"sqlite:///{tmp_path}/a.db") == tmp_path / "a.db"  # sqlite:////tmp/...
    store = open_store(f"sqlite://{tmp_path}/deeper/still/a.db")
    assert store.health() == (True, "ok")
    assert (tmp_path / "deeper" / "still" / "a.db").exists()


@pytest.mark.parametrize(
    "url",
    [
        "mysql://letdown:s3cret@db.internal/letdown",
        "sqlite:///:memory:",
        "sqlite://relative/path.db",
        "letdown.db",
        "",
        "postgresql://letdown@db.internal:5432/letdown?no_such_option=1",
        "postgresql://letdown:s3cret@[::1/letdown",
    ],
)
def test_unusable_urls_are_rejected_clearly(url: str) -> None:
    with pytest.raises(ValueError) as rejected:
        open_store(url)
    assert "s3cret" not in str(rejected.value)
    assert "sqlite:///" in str(rejected.value) or "PostgreSQL" in str(rejected.value)
