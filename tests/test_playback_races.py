"""Playback state that cannot mix: the races of issue 10, each pair of requests fired at the same instant.

Two spawned processes (each its own app and store, as gunicorn workers are) answer the two requests of a
pair after meeting at a barrier, on SQLite and on PostgreSQL; then two `letdown serve` services on one
PostgreSQL database (as two hosts would be) get the pair over real HTTP, signed, from two threads. Every
trial must end in the one state the device is really in.
"""

from __future__ import annotations

import itertools
import multiprocessing
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from skill.storage import open_store
from tests.support.alexa import AlexaClient
from tests.support.audio import shared_service_env, write_fake_audio_dir
from tests.support.pki import TestPKI
from tests.support.postgres import PostgresServer, postgres_server_fixture
from tests.support.races import SCENARIOS, playback_state
from tests.support.server import gunicorn_server
from tests.test_storage import envelope_for

TRIALS = 100
BARRIER_TIMEOUT_S = 30


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[PostgresServer]:
    yield from postgres_server_fixture()


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fake_audio_dir(tmp_path_factory.mktemp("audio"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def race_env(request: pytest.FixtureRequest, pki: TestPKI, audio_dir: Path, tmp_path: Path) -> dict[str, str]:
    env = shared_service_env(pki, tmp_path, audio_dir)
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        env["LETDOWN_DATABASE_URL"] = server.create_database()
    return env


def answer_requests(env: dict[str, str], side: int, jobs: Any, barrier: Any, answers: Any) -> None:
    """A spawned process with its own app: for each job, meet the other process at the barrier, then answer."""
    from skill.config import Config
    from skill.web.app import create_app, service_of

    service = service_of(create_app(Config.from_env(env)))
    answers.put((side, "ready"))
    while (built := jobs.get()) is not None:
        try:
            barrier.wait(BARRIER_TIMEOUT_S)
            answers.put((side, service.invoke(built)))
        except Exception as error:  # reported to the test rather than lost in the child
            answers.put((side, {"error": repr(error)}))


def run_trials_in_processes(env: dict[str, str]) -> dict[str, list[str]]:
    from skill.config import Config
    from skill.web.app import create_app, service_of

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    jobs = [context.Queue(), context.Queue()]
    answers = context.Queue()
    workers = [
        context.Process(target=answer_requests, args=(env, side, jobs[side], barrier, answers), daemon=True)
        for side in (0, 1)
    ]
    for worker in workers:
        worker.start()
    setup_service = service_of(create_app(Config.from_env(env)))
    reader = open_store(env["LETDOWN_DATABASE_URL"])
    mixed: dict[str, list[str]] = {scenario: [] for scenario in SCENARIOS}
    try:
        assert sorted(answers.get(timeout=60) for _ in (0, 1)) == [(0, "ready"), (1, "ready")]
        for scenario, trial_number in itertools.product(SCENARIOS, range(TRIALS)):
            user_id = f"amzn1.ask.account.RACE{uuid.uuid4().hex}"
            trial = SCENARIOS[scenario](user_id)
            for built in trial.setup:
                setup_service.invoke(built)
            for side in (0, 1):
                jobs[side].put(trial.pair[side])
            got = dict(answers.get(timeout=BARRIER_TIMEOUT_S) for _ in (0, 1))
            pair_answers = [got[0], got[1]]
            assert not any("error" in answer for answer in pair_answers), pair_answers
            state = playback_state(reader.get_attributes(envelope_for(user_id)))
            expected = trial.expected(pair_answers)
            if state != expected:
                mixed[scenario].append(f"trial {trial_number}: {state} instead of {expected}")
    finally:
        for queue in jobs:
            queue.put(None)
        for worker in workers:
            worker.join(timeout=10)
        reader.close()
    return mixed


def test_racing_pairs_from_two_processes_end_in_the_device_state(race_env: dict[str, str]) -> None:
    """Every scenario, TRIALS times each, from the same two spawned processes (they take seconds to start)."""
    mixed = run_trials_in_processes(race_env)
    assert mixed == {scenario: [] for scenario in SCENARIOS}


# ----- two hosts on one PostgreSQL --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_hosts(
    postgres_server: PostgresServer, pki: TestPKI, audio_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[list[str], str]]:
    env = shared_service_env(pki, tmp_path_factory.mktemp("hosts"), audio_dir)
    env["LETDOWN_DATABASE_URL"] = postgres_server.create_database()
    with gunicorn_server(env, workers=1) as first, gunicorn_server(env, workers=1) as second:
        yield [first, second], env["LETDOWN_DATABASE_URL"]


@pytest.mark.postgres
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_racing_pairs_on_two_hosts_end_in_the_device_state(
    two_hosts: tuple[list[str], str], pki: TestPKI, scenario: str
) -> None:
    hosts, database_url = two_hosts
    clients = [AlexaClient(base_url=host, pki=pki, http=requests.Session()) for host in hosts]
    barrier = threading.Barrier(2)
    reader = open_store(database_url)

    def send(side: int, built: dict[str, Any]) -> dict[str, Any]:
        barrier.wait(BARRIER_TIMEOUT_S)
        reply = clients[side].send(built)
        assert reply.status_code == 200, reply.text
        return reply.json()

    mixed = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for trial_number in range(TRIALS):
            user_id = f"amzn1.ask.account.HOSTS{uuid.uuid4().hex}"
            trial = SCENARIOS[scenario](user_id)
            for built in trial.setup:
                assert clients[trial_number % 2].send(built).status_code == 200
            futures = [pool.submit(send, side, trial.pair[side]) for side in (0, 1)]
            answers = [future.result(timeout=BARRIER_TIMEOUT_S) for future in futures]
            state = playback_state(reader.get_attributes(envelope_for(user_id)))
            if state != trial.expected(answers):
                mixed.append(f"trial {trial_number}: {state} instead of {trial.expected(answers)}")
    reader.close()
    assert mixed == [], f"{len(mixed)} of {TRIALS} trials mixed: {mixed[:3]}"
