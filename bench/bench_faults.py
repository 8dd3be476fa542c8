"""The storage rows of issue 10's fault table, rerun with figures.

For each fault, signed HelpIntents and PlaybackStopped events keep coming over real HTTP (3 client threads)
to a service (werkzeug, threaded) on the faulty database, and the script prints: 5xx answers, p99 and max
latency during the fault, seconds until /healthz said "degraded" and, after the fault, until it said "ok"
again, and playback updates lost (the newest offset sent during the fault vs the one stored afterwards).
Then the three playback races, TRIALS times each from two threads on one PostgreSQL-backed service, and the
number of trials that ended in a mixed state.
Usage: .venv/bin/python bench/bench_faults.py [--fault-seconds 3] [--trials 100]
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import signal
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from skill.app import create_serving_app  # noqa: E402
from skill.config import Config  # noqa: E402
from skill.playback.catalog import make_token  # noqa: E402
from tests.support.alexa import AlexaClient  # noqa: E402
from tests.support.audio import shared_service_env, write_fake_audio_dir  # noqa: E402
from tests.support.pki import TestPKI  # noqa: E402
from tests.support.postgres import running_postgres  # noqa: E402
from tests.support.races import SCENARIOS, playback_state  # noqa: E402
from tests.support.server import threaded_server  # noqa: E402
from tests.test_storage_faults import (  # noqa: E402
    Traffic,
    hold_exclusive_lock,
    server_processes,
    signal_all,
    stored_state,
    wait_for_status,
)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else float("nan")


def measure(name: str, env: dict[str, str], pki: TestPKI, inject, recover, seconds: float) -> None:  # type: ignore[no-untyped-def]
    with threaded_server(create_serving_app(Config.from_env(env))) as base_url:
        client = AlexaClient(base_url=base_url, pki=pki, user_id=f"amzn1.ask.account.BENCH{uuid.uuid4().hex}")
        token = make_token("breathing-10m")
        client.event("AudioPlayer.PlaybackStarted", token=token, offsetInMilliseconds=0)
        with Traffic(client, token) as traffic:
            time.sleep(0.5)
            before = len(traffic.latencies)
            inject()
            try:
                to_degraded = wait_for_status(base_url, "degraded", within_s=10)
                time.sleep(seconds)
                during = traffic.since(before)
            finally:
                recover()
            to_ok = wait_for_status(base_url, "ok", within_s=30)
            time.sleep(0.3)
        stored = stored_state(env["LETDOWN_DATABASE_URL"], client.user_id)["track_offset_ms"]
        lost = "none" if stored == traffic.last_offset_sent else f"newest {traffic.last_offset_sent}, stored {stored}"
        fivexx = sum(status >= 500 for status in traffic.statuses)
        print(
            f"{name:<28} | {fivexx:>3} | {percentile(during, 0.99) * 1000:>7.0f} {max(during) * 1000:>7.0f} | "
            f"{to_degraded:>6.2f} {to_ok:>6.2f} | {lost}"
        )


def races(env: dict[str, str], pki: TestPKI, trials: int) -> None:
    with threaded_server(create_serving_app(Config.from_env(env))) as base_url:
        client = AlexaClient(base_url=base_url, pki=pki)
        barrier = threading.Barrier(2)
        from skill.storage import open_store
        from tests.test_storage import envelope_for

        reader = open_store(env["LETDOWN_DATABASE_URL"])

        def send(built):  # type: ignore[no-untyped-def]
            barrier.wait(10)
            return client.send(built).json()

        with ThreadPoolExecutor(max_workers=2) as pool:
            for name, scenario in SCENARIOS.items():
                mixed = 0
                for _ in range(trials):
                    user_id = f"amzn1.ask.account.RACE{uuid.uuid4().hex}"
                    trial = scenario(user_id)
                    for built in trial.setup:
                        client.send(built)
                    answers = [future.result() for future in [pool.submit(send, built) for built in trial.pair]]
                    state = playback_state(reader.get_attributes(envelope_for(user_id)))
                    mixed += state != trial.expected(answers)
                print(f"race {name:<24}: {mixed} of {trials} trials mixed")
        reader.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fault-seconds", type=float, default=3.0)
    parser.add_argument("--trials", type=int, default=100)
    args, _ = parser.parse_known_args()  # ./dev bench passes every script the same arguments
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request would bury the table
    with tempfile.TemporaryDirectory() as scratch, running_postgres() as server:
        root = Path(scratch)
        pki = TestPKI(root / "pki")
        audio = write_fake_audio_dir(root / "audio")
        print(f"{'fault':<28} | 5xx | p99 ms  max ms | degr s  ok s  | updates lost")
        pg_env = {**shared_service_env(pki, root, audio), "LETDOWN_DATABASE_URL": server.create_database()}
        pids: list[int] = []

        def freeze() -> None:
            pids[:] = server_processes(server)
            signal_all(pids, signal.SIGSTOP)

        measure("PostgreSQL frozen (SIGSTOP)", pg_env, pki, freeze, lambda: signal_all(pids, signal.SIGCONT),
                args.fault_seconds)  # fmt: skip
        pg_env = {**pg_env, "LETDOWN_DATABASE_URL": server.create_database()}
        measure("PostgreSQL stopped", pg_env, pki, server.stop, server.start, args.fault_seconds)

        sqlite_env = shared_service_env(pki, root / "sqlite", audio)
        context = multiprocessing.get_context("spawn")
        locked, release = context.Event(), context.Event()
        holder = context.Process(
            target=hold_exclusive_lock, args=(str(root / "sqlite" / "letdown.db"), locked, release)
        )

        def lock() -> None:
            holder.start()
            locked.wait(30)

        def unlock() -> None:
            release.set()
            holder.join(30)

        (root / "sqlite").mkdir()
        measure("SQLite locked by a process", sqlite_env, pki, lock, unlock, args.fault_seconds)
        races({**pg_env, "LETDOWN_DATABASE_URL": server.create_database()}, pki, args.trials)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
