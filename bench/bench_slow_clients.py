"""Latency of signed requests to `letdown serve` with 0 and with N slow connections, in the same run.

The slow connections (tests/support/slow_clients.py) send nothing, or their headers or body a byte at a
time. For each server (waitress, the default, and gunicorn gthread 2 × 4, which is only for use behind a
buffering proxy) two identical services run side by side, one with the slow connections held open on it;
signed IntentRequests, each on a new connection, alternate between the two, so a noisy neighbour on this
shared machine slows both alike. Prints p50/p99 of each and the ratios. Usage:
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
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.support.alexa import envelope, intent_request, new_session, service_environment  # noqa: E402
from tests.support.pki import TestPKI  # noqa: E402
from tests.support.server import free_port, wait_until_healthy  # noqa: E402
from tests.support.slow_clients import SlowClients  # noqa: E402

REQUEST_TIMEOUT_S = 2.0
GIVE_UP_AFTER_TIMEOUTS = 5


def signed_request(pki: TestPKI, index: int) -> tuple[bytes, dict[str, str]]:
    session = new_session(user_id=f"amzn1.ask.account.SLOWBENCH{index % 20}")
    body = json.dumps(envelope(intent_request("RelaxTipIntent"), session, user_id=session["user"]["userId"])).encode()
    return body, {"Content-Type": "application/json", **pki.headers(body)}


def timed_request(port: int, body: bytes, headers: dict[str, str]) -> float | None:
    """Seconds for one signed request on a new connection; None if it failed or timed out."""
    started = time.perf_counter()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
        connection.request("POST", "/alexa", body=body, headers=headers)
        reply = connection.getresponse()
        reply.read()
        connection.close()
    except OSError:
        return None
    return time.perf_counter() - started if reply.status == 200 else None


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)
    failures: int = 0

    def record(self, latency: float | None) -> None:
        if latency is None:
            self.failures += 1
        else:
            self.latencies.append(latency)

    @property
    def starved(self) -> bool:
        return self.failures >= GIVE_UP_AFTER_TIMEOUTS and not self.latencies


def interleaved(calm_port: int, loaded_port: int, pki: TestPKI, count: int) -> tuple[Phase, Phase]:
    calm, loaded = Phase(), Phase()
    for index in range(count):
        body, headers = signed_request(pki, index)
        calm.record(timed_request(calm_port, body, headers))
        if not loaded.starved:  # a starved server would cost REQUEST_TIMEOUT_S per request
            body, headers = signed_request(pki, index)
            loaded.record(timed_request(loaded_port, body, headers))
    return calm, loaded


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1000


def describe(phase: Phase) -> str:
    if not phase.latencies:
        return f"{'-':>7} {'-':>7} {phase.failures:>6}"
    p50, p99 = statistics.median(phase.latencies) * 1000, percentile(phase.latencies, 0.99)
    return f"{p50:>7.1f} {p99:>7.1f} {phase.failures:>6}"


def ratios(calm: Phase, loaded: Phase) -> str:
    if not (calm.latencies and loaded.latencies):
        return "starved"
    p50 = statistics.median(loaded.latencies) / statistics.median(calm.latencies)
    return f"{p50:.2f} / {percentile(loaded.latencies, 0.99) / percentile(calm.latencies, 0.99):.2f}"


def start(server: str, env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    port = free_port()
    command = [sys.executable, "-m", "skill.cli", "serve", "--port", str(port), "--server", server]
    if server == "gunicorn":
        command += ["--workers", "2", "--threads", "4"]
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return process, port


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="signed requests per phase")
    parser.add_argument("--slow", type=int, default=200, help="slow connections in the second phase")
    parser.add_argument("--servers", default="waitress,gunicorn")
    args = parser.parse_args()

    print(f"{args.requests} signed requests to each of two services, alternating; {args.slow} slow connections")
    phase = f"{'p50 ms':>7} {'p99 ms':>7} {'failed':>6}"
    print(f"{'':>9} | {'no slow connections':^22} | {f'{args.slow} slow connections':^22} | ratio")
    print(f"{'server':>9} | {phase} | {phase} | p50 / p99")
    with tempfile.TemporaryDirectory() as scratch:
        pki = TestPKI(Path(scratch) / "pki")
        env = service_environment(pki, Path(scratch))
        for server in args.servers.split(","):
            (calm_process, calm_port), (loaded_process, loaded_port) = start(server, env), start(server, env)
            try:
                for process, port in ((calm_process, calm_port), (loaded_process, loaded_port)):
                    wait_until_healthy(f"http://127.0.0.1:{port}", process=process)
                    for index in range(20):  # warm-up: imports, chain cache, SQLite
                        timed_request(port, *signed_request(pki, index))
                with SlowClients(loaded_port, count=args.slow, max_seconds=600):
                    time.sleep(1)  # let every slow connection reach the server
                    calm, loaded = interleaved(calm_port, loaded_port, pki, args.requests)
            finally:
                for process in (calm_process, loaded_process):
                    process.terminate()
                    process.wait(timeout=15)
            print(f"{server:>9} | {describe(calm)} | {describe(loaded)} | {ratios(calm, loaded)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
