"""Throughput and latency of the skill service against the cheapest ask-sdk skill, in the same run.

Both run under the same server (`letdown serve --server`: waitress by default, or gunicorn gthread) with the
same thread (and, for gunicorn, worker) counts. Let-Down Helper runs as
deployed: verification on (a test PKI, chains from LETDOWN_CERT_CHAIN_DIR) and SQLite storage. Every
request is a freshly signed IntentRequest. Prints requests/s, p50 and p99 per concurrency level and the
ratios. `--storage postgresql` runs it on a throwaway PostgreSQL server; `--storage two-hosts` runs two
Let-Down services (each with half the workers) on one PostgreSQL database, the client connections spread
over both, as two hosts behind a load balancer would be.
Usage: .venv/bin/python bench/bench_service.py [--requests N] [--levels 1,8,32] [--server waitress|gunicorn]
[--workers 2] [--threads 8] [--storage sqlite|postgresql|two-hosts]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.support.alexa import envelope, intent_request, new_session, service_environment  # noqa: E402
from tests.support.pki import TestPKI  # noqa: E402
from tests.support.postgres import running_postgres  # noqa: E402
from tests.support.server import free_port, wait_until_healthy  # noqa: E402

INTENTS = ("RelaxTipIntent", "AboutLetDownIntent", "DmerIntent", "AMAZON.HelpIntent")


def signed_requests(pki: TestPKI, count: int) -> list[tuple[bytes, dict[str, str]]]:
    prepared = []
    for index in range(count):
        session = new_session(user_id=f"amzn1.ask.account.BENCH{index % 50}")
        body = json.dumps(
            envelope(intent_request(INTENTS[index % len(INTENTS)]), session, user_id=session["user"]["userId"])
        ).encode()
        prepared.append((body, {"Content-Type": "application/json", **pki.headers(body)}))
    return prepared


def serve_letdown(port: int, workers: int, threads: int, server: str = "waitress") -> list[str]:
    """`letdown serve` exactly as deployed (its request log lines go to stderr, discarded here)."""
    return [
        sys.executable,
        "-m",
        "skill.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--server",
        server,
    ]


def serve_baseline(port: int, workers: int, threads: int, server: str = "waitress") -> list[str]:
    """The hello skill under the same server, worker and thread counts."""
    if server == "waitress":
        return [
            sys.executable,
            "-m",
            "waitress",
            f"--listen=127.0.0.1:{port}",
            f"--threads={threads}",
            "--connection-limit=1000",
            "--call",
            "bench.hello_skill:create_app",
        ]
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "bench.hello_skill:create_app()",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
    ]


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        command, cwd=REPO_ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


@dataclass
class LevelRun:
    latencies: list[float]
    wall: float
    failures: int

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.wall


def run_level(ports: list[int], requests_: list[tuple[bytes, dict[str, str]]], concurrency: int) -> LevelRun:
    """Send every prepared request with `concurrency` keep-alive connections (spread over `ports`)."""
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    cursor = iter(range(len(requests_)))

    def worker(port: int) -> None:
        nonlocal failures
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while True:
            with lock:
                index = next(cursor, None)
            if index is None:
                break
            body, headers = requests_[index]
            started = time.perf_counter()
            connection.request("POST", "/alexa", body=body, headers=headers)
            reply = connection.getresponse()
            reply.read()
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                failures += reply.status != 200
        connection.close()

    threads = [threading.Thread(target=worker, args=(ports[index % len(ports)],)) for index in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LevelRun(latencies, time.perf_counter() - started, failures)


def summary(runs: list[LevelRun]) -> dict[str, float]:
    """Median throughput over the rounds; latency percentiles over every request of every round."""
    ordered = sorted(latency for run in runs for latency in run.latencies)
    return {
        "rps": statistics.median(run.rps for run in runs),
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "failures": sum(run.failures for run in runs),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=800, help="requests per round and concurrency level")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per level (median taken)")
    parser.add_argument("--levels", default="1,8,32")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--server", choices=("waitress", "gunicorn"), default="waitress")
    parser.add_argument("--storage", choices=("sqlite", "postgresql", "two-hosts"), default="sqlite")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]

    with tempfile.TemporaryDirectory() as scratch, contextlib.ExitStack() as stack:
        pki = TestPKI(Path(scratch) / "pki")
        env = service_environment(pki, Path(scratch))
        hosts = 2 if args.storage == "two-hosts" else 1
        if args.storage != "sqlite":
            env["LETDOWN_DATABASE_URL"] = stack.enter_context(running_postgres()).create_database()
        ports = {"letdown": [free_port() for _ in range(hosts)], "baseline": [free_port()]}
        processes = {
            f"letdown{host}": start(serve_letdown(port, max(1, args.workers // hosts), args.threads, args.server), env)
            for host, port in enumerate(ports["letdown"])
        }
        processes["baseline"] = start(serve_baseline(ports["baseline"][0], args.workers, args.threads, args.server), {})
        runs: dict[str, dict[int, list[LevelRun]]] = {name: {level: [] for level in levels} for name in ports}
        try:
            for name, process in processes.items():
                port = ports["baseline"][0] if name == "baseline" else ports["letdown"][int(name[-1])]
                wait_until_healthy(f"http://127.0.0.1:{port}", process=process)
                run_level([port], signed_requests(pki, 200), 4)  # warm-up: imports, chain cache, database
            # Both servers stay up and take turns, the first of each round alternating, so a noisy
            # neighbour on this shared machine slows both alike.
            for level in levels:
                for round_index in range(args.rounds):
                    order = list(ports) if round_index % 2 == 0 else list(reversed(ports))
                    for name in order:
                        # Signed just before each run so every timestamp is inside the 150 s window.
                        prepared = signed_requests(pki, args.requests)
                        runs[name][level].append(run_level(ports[name], prepared, level))
        finally:
            for process in processes.values():
                process.terminate()
                process.wait(timeout=15)

    shape = f"gunicorn gthread, {args.workers} workers x" if args.server == "gunicorn" else "waitress, 1 process x"
    print(
        f"storage {args.storage}; {shape} {args.threads} threads; "
        f"{args.rounds} alternating rounds of {args.requests} requests per level"
    )
    print(
        f"{'conc':>4} | {'letdown rps':>11} {'p50 ms':>7} {'p99 ms':>7} | {'baseline rps':>12} {'p50 ms':>7} "
        f"{'p99 ms':>7} | {'rps ratio':>9}"
    )
    for level in levels:
        ours, base = summary(runs["letdown"][level]), summary(runs["baseline"][level])
        print(
            f"{level:>4} | {ours['rps']:>11.0f} {ours['p50_ms']:>7.1f} {ours['p99_ms']:>7.1f} | "
            f"{base['rps']:>12.0f} {base['p50_ms']:>7.1f} {base['p99_ms']:>7.1f} | "
            f"{ours['rps'] / base['rps']:>9.2f}"
        )
        if ours["failures"] or base["failures"]:
            print(f"     non-200 answers: letdown {ours['failures']}, baseline {base['failures']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
