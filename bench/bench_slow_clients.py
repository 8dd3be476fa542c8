"""Latency of signed requests to `letdown serve` with 0 and with N slow connections, in the same run.

The slow connections (tests/support/slow_clients.py) send nothing, or their headers or body a byte at a
time. For each server (waitress, the default, and gunicorn gthread 2 × 4, which is only for use behind a
buffering proxy) it prints p50/p99 of sequential signed IntentRequests, each on a new connection, without
and with the slow connections, and the ratio. Usage:
.venv/bin/python bench/bench_slow_clients.py [--requests 200] [--slow 200] [--servers waitress,gunicorn]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.support.alexa import TEST_SKILL_ID, envelope, intent_request, new_session  # noqa: E402
from tests.support.pki import TestPKI  # noqa: E402
from tests.support.server import free_port, wait_until_healthy  # noqa: E402
from tests.support.slow_clients import SlowClients  # noqa: E402

REQUEST_TIMEOUT_S = 2.0
GIVE_UP_AFTER_TIMEOUTS = 5  # a starved server would otherwise cost REQUEST_TIMEOUT_S per request


def timed_requests(port: int, pki: TestPKI, count: int) -> tuple[list[float], int]:
    """Latencies (s) of `count` signed requests, and how many timed out or failed."""
    latencies: list[float] = []
    failures = 0
    for index in range(count):
        session = new_session(user_id=f"amzn1.ask.account.SLOWBENCH{index % 20}")
        body = json.dumps(envelope(intent_request("RelaxTipIntent"), session, user_id=session["user"]["userId"]))
        headers = {"Content-Type": "application/json", **pki.headers(body.encode())}
        started = time.perf_counter()
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
            connection.request("POST", "/alexa", body=body.encode(), headers=headers)
            reply = connection.getresponse()
            reply.read()
            connection.close()
            ok = reply.status == 200
        except OSError:
            ok = False
        if ok:
            latencies.append(time.perf_counter() - started)
        else:
            failures += 1
            if failures >= GIVE_UP_AFTER_TIMEOUTS and not latencies:
                break
    return latencies, failures


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1000


def describe(latencies: list[float], failures: int) -> str:
    if not latencies:
        return f"{'-':>7} {'-':>7} {failures:>6}"
    return f"{statistics.median(latencies) * 1000:>7.1f} {percentile(latencies, 0.99):>7.1f} {failures:>6}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="signed requests per phase")
    parser.add_argument("--slow", type=int, default=200, help="slow connections in the second phase")
    parser.add_argument("--servers", default="waitress,gunicorn")
    args = parser.parse_args()

    print(f"{args.requests} sequential signed requests per phase; {args.slow} slow connections in the second")
    phase = f"{'p50 ms':>7} {'p99 ms':>7} {'failed':>6}"
    print(f"{'server':>9} | {phase} | {phase} | p50 ratio")
    with tempfile.TemporaryDirectory() as scratch:
        pki = TestPKI(Path(scratch) / "pki")
        env = {
            "LETDOWN_SKILL_ID": TEST_SKILL_ID,
            "LETDOWN_CA_BUNDLE": str(pki.ca_bundle),
            "LETDOWN_CERT_CHAIN_DIR": str(pki.chain_dir),
            "LETDOWN_DATABASE_URL": f"sqlite:///{Path(scratch) / 'bench.db'}",
            "LETDOWN_PUBLIC_URL": "https://letdown.example.test",
        }
        for server in args.servers.split(","):
            port = free_port()
            command = [sys.executable, "-m", "skill.cli", "serve", "--port", str(port), "--server", server]
            if server == "gunicorn":
                command += ["--workers", "2", "--threads", "4"]
            process = subprocess.Popen(
                command, cwd=REPO_ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            try:
                wait_until_healthy(f"http://127.0.0.1:{port}", process=process)
                timed_requests(port, pki, 20)  # warm-up: imports, chain cache, SQLite
                calm = timed_requests(port, pki, args.requests)
                with SlowClients(port, count=args.slow, max_seconds=300):
                    time.sleep(1)  # let every slow connection reach the server
                    loaded = timed_requests(port, pki, args.requests)
            finally:
                process.terminate()
                process.wait(timeout=15)
            ratio = (
                f"{statistics.median(loaded[0]) / statistics.median(calm[0]):.2f}"
                if loaded[0] and calm[0]
                else "starved"
            )
            print(f"{server:>9} | {describe(*calm)} | {describe(*loaded)} | {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
