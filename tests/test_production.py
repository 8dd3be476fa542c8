"""Production behaviour of `letdown serve` itself, over real HTTP on loopback (issue 10, web rows).

Slow clients cannot starve it, production mode refuses unsafe settings, /healthz tells the public only
status and version, oversized and wrong-type bodies are answered (never reset, chunked included), a
handler's exception text is scrubbed of the user's words and ids, and purge refuses ages under a day.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from skill.config import Config, ConfigError
from tests.support.alexa import TEST_DEVICE_ID, TEST_USER_ID, AlexaClient, envelope, intent_request, new_session
from tests.support.pki import TestPKI
from tests.support.server import REPO_ROOT, free_port, letdown_server, wait_until_healthy
from tests.support.slow_clients import SlowClients

SLOW_CONNECTIONS = 200
TIMED_REQUESTS = 40
LATENCY_BUDGET_S = 0.100


@pytest.fixture
def served(service_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`letdown serve` (its default server) with the deployed environment; yields (base URL, its log)."""
    log_path = tmp_path / "serve.log"
    with letdown_server(service_env, log_path=log_path) as base_url:
        yield base_url, log_path


def port_of(base_url: str) -> int:
    return int(base_url.rsplit(":", 1)[1])


# --- slow clients (item 4) -------------------------------------------------------------------------


def test_two_hundred_slow_connections_do_not_delay_a_signed_request(served: tuple[str, Path], pki: TestPKI) -> None:
    base_url, _ = served
    device = AlexaClient(base_url=base_url, pki=pki)
    device.launch()  # warm: imports, certificate chain cache, SQLite
    with SlowClients(port_of(base_url), count=SLOW_CONNECTIONS, interval=0.2, max_seconds=60) as slow:
        time.sleep(1.0)  # every slow connection has reached the server and sent something
        latencies = []
        for _ in range(TIMED_REQUESTS):
            started = time.perf_counter()
            fresh = AlexaClient(base_url=base_url, pki=pki)  # a new connection each time, as the slow ones took
            answer = fresh.intent("RelaxTipIntent")
            latencies.append(time.perf_counter() - started)
            assert answer["sessionAttributes"]["last_message"] == "tip.relax"
        still_open = slow.still_open()
    assert still_open >= SLOW_CONNECTIONS * 0.95, f"only {still_open} slow connections were held: no real pressure"
    within = sum(latency < LATENCY_BUDGET_S for latency in latencies)
    # Every request answers; on this shared 2-core machine allow a few scheduling hiccups past 100 ms.
    assert statistics.median(latencies) < LATENCY_BUDGET_S, latencies
    assert within >= TIMED_REQUESTS * 0.9, f"{within}/{TIMED_REQUESTS} within 100 ms: {latencies}"
    assert max(latencies) < 1.0, latencies


# --- bodies the service refuses are answered, not reset ----------------------------------------------


def raw_exchange(port: int, head: bytes, body_chunks: list[bytes], timeout: float = 10.0) -> bytes:
    """Send a request as raw bytes and read the whole answer; raises ConnectionResetError on a reset."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        for chunk in body_chunks:
            sock.sendall(chunk)
        return _read_answer(sock)


def raw_exchange_reading_while_sending(port: int, head: bytes, body: bytes, timeout: float = 10.0) -> bytes:
    """Like raw_exchange, but read the answer while the body is still being sent, as curl and browsers do.

    Go's net/http (Caddy) answers an oversized body at once, then discards at most 256 KiB of the rest and
    closes 500 ms later (maxPostHandlerReadBytes, rstAvoidanceDelay in net/http/server.go); a client that
    only starts reading after sending a whole MiB can, on a loaded machine, see that close as a reset before
    it reads the 413 already sent. Our own server drains instead, and raw_exchange holds it to that.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sending = threading.Thread(target=_send_ignoring_a_closed_peer, args=(sock, head + body), daemon=True)
        sending.start()
        answer = _read_answer(sock)
        sending.join(timeout)
        return answer


def _send_ignoring_a_closed_peer(sock: socket.socket, data: bytes) -> None:
    # The peer may answer and close before the whole body goes out; the reader has the answer by then.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(data)


def _read_answer(sock: socket.socket) -> bytes:
    """Everything up to the end of the first answer (or until the peer closes); a reset raises."""
    received = b""
    while not (b"\r\n\r\n" in received and _complete(received)):
        data = sock.recv(65536)
        if not data:
            break
        received += data
    return received


def _complete(received: bytes) -> bool:
    head, _, body = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def error_of(answer: bytes) -> str:
    return json.loads(answer.partition(b"\r\n\r\n")[2])["error"]


MIB = 1024 * 1024


@pytest.mark.parametrize("size", [200 * 1024, 1 * MIB, 3 * MIB])
def test_an_oversized_body_is_answered_413_not_reset(served: tuple[str, Path], size: int) -> None:
    base_url, _ = served
    head = (
        f"POST /alexa HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
    ).encode()
    answer = raw_exchange(port_of(base_url), head, [b" " * size])
    assert status_of(answer) == 413
    assert "larger than" in error_of(answer)


@pytest.mark.parametrize("size", [8 * MIB, 20 * MIB])
def test_a_body_past_the_servers_own_bound_is_answered_413_not_reset(served: tuple[str, Path], size: int) -> None:
    """Past 32 x the limit waitress refuses the body itself; the connection is half-closed and drained."""
    base_url, _ = served
    head = (
        f"POST /alexa HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
    ).encode()
    answer = raw_exchange(port_of(base_url), head, [b" " * size])
    assert status_of(answer) == 413


def test_a_wrong_content_type_with_a_large_body_is_answered_415_not_reset(served: tuple[str, Path]) -> None:
    base_url, _ = served
    size = 1 * MIB
    head = f"POST /alexa HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: {size}\r\n\r\n"
    answer = raw_exchange(port_of(base_url), head.encode(), [b"x" * size])
    assert status_of(answer) == 415
    assert error_of(answer) == "content type must be application/json"


def test_refused_bodies_are_answered_every_time_not_reset_now_and_then(served: tuple[str, Path]) -> None:
    """The fault showed in 2 of 200 fuzz requests: repeat the refused shapes on fresh connections."""
    base_url, _ = served
    size = 1 * MIB
    shapes = [
        (f"Content-Type: application/json\r\nContent-Length: {size}", 413),
        (f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {size}", 415),
    ]
    for index in range(60):
        headers, expected = shapes[index % 2]
        head = f"POST /alexa HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n\r\n".encode()
        assert status_of(raw_exchange(port_of(base_url), head, [b"a" * size])) == expected


def chunked(body: bytes, chunk_size: int = 16 * 1024) -> list[bytes]:
    pieces = [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)]
    return [b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces] + [b"0\r\n\r\n"]


CHUNKED_HEAD = (
    b"POST /alexa HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
)


def test_a_chunked_body_over_the_limit_is_413_not_a_truncated_400(served: tuple[str, Path]) -> None:
    base_url, _ = served
    body = json.dumps({"version": "1.0", "padding": "x" * (200 * 1024)}).encode()
    answer = raw_exchange(port_of(base_url), CHUNKED_HEAD, chunked(body))
    assert status_of(answer) == 413, answer[:300]


def test_a_chunked_signed_request_within_the_limit_is_answered(served: tuple[str, Path], pki: TestPKI) -> None:
    base_url, _ = served
    session = new_session()
    body = json.dumps(envelope(intent_request("RelaxTipIntent"), session)).encode()
    signature = "".join(f"{name}: {value}\r\n" for name, value in pki.headers(body).items())
    head = CHUNKED_HEAD.replace(b"Transfer-Encoding", signature.encode() + b"Transfer-Encoding")
    answer = raw_exchange(port_of(base_url), head, chunked(body, 100))
    assert status_of(answer) == 200, answer[:300]
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["sessionAttributes"]["last_message"] == "tip.relax"


def test_every_refused_body_still_writes_its_request_log_line(served: tuple[str, Path]) -> None:
    base_url, log_path = served
    requests.post(f"{base_url}/alexa", data=b" " * (200 * 1024), headers={"Content-Type": "application/json"})
    requests.post(f"{base_url}/alexa", data=b"{}", headers={"Content-Type": "text/plain"})
    time.sleep(0.2)
    lines = [json.loads(line.split("letdown.request ", 1)[1]) for line in request_log_lines(log_path)]
    assert [line["status"] for line in lines] == [413, 415]


def request_log_lines(log_path: Path) -> list[str]:
    return [line for line in log_path.read_text().splitlines() if " letdown.request " in line]


# --- production mode (item 5) ------------------------------------------------------------------------


def start_serve(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "skill.cli", "serve", "--port", str(free_port())]
    return subprocess.run(command, cwd=REPO_ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"LETDOWN_SKILL_ID": ""}, "LETDOWN_SKILL_ID is not set"),
        ({"LETDOWN_VERIFY_REQUESTS": "0"}, "LETDOWN_VERIFY_REQUESTS=0"),
        ({"LETDOWN_SIMULATOR": "1"}, "LETDOWN_SIMULATOR=1"),
        ({"LETDOWN_ALLOW_INSECURE": "everything"}, "LETDOWN_ALLOW_INSECURE may name"),
    ],
)
def test_production_refuses_to_start_unsafe(
    service_env: dict[str, str], overrides: dict[str, str], reason: str
) -> None:
    result = start_serve({**service_env, "LETDOWN_ENV": "production", **overrides})
    assert result.returncode == 2
    assert reason in result.stderr
    assert result.stderr.count("\n") <= 4, "one line per reason"


def test_production_starts_with_an_explicit_insecure_override(service_env: dict[str, str], tmp_path: Path) -> None:
    env = {
        **service_env,
        "LETDOWN_ENV": "production",
        "LETDOWN_VERIFY_REQUESTS": "0",
        "LETDOWN_SIMULATOR": "1",
        "LETDOWN_ALLOW_INSECURE": "verification,simulator",
    }
    with letdown_server(env, log_path=tmp_path / "serve.log") as base_url:
        assert requests.get(f"{base_url}/simulator", timeout=10).status_code == 200
    assert "verification is OFF" in (tmp_path / "serve.log").read_text()


def test_every_production_problem_is_named_at_once() -> None:
    config = Config.from_env({"LETDOWN_ENV": "production", "LETDOWN_VERIFY_REQUESTS": "0", "LETDOWN_SIMULATOR": "1"})
    with pytest.raises(ConfigError) as refused:
        config.check_safe_to_start()
    assert len(config.production_problems()) == 3
    assert all(problem in str(refused.value) for problem in config.production_problems())
    assert Config.from_env({"LETDOWN_VERIFY_REQUESTS": "0"}).production_problems() == []


# --- /healthz ----------------------------------------------------------------------------------------


def unreachable_postgres_url(password: str) -> str:
    return f"postgresql://letdown:{password}@127.0.0.1:{free_port()}/letdown?connect_timeout=1"


def test_public_healthz_answers_only_status_and_version(service_env: dict[str, str], tmp_path: Path) -> None:
    env = {**service_env, "LETDOWN_DATABASE_URL": unreachable_postgres_url("s3cretpw"), "LETDOWN_ENV": "production"}
    with letdown_server(env, log_path=tmp_path / "serve.log") as base_url:
        reply = requests.get(f"{base_url}/healthz", timeout=10)
    assert reply.status_code == 200
    body = reply.json()
    assert set(body) == {"status", "version"}
    assert body["status"] == "degraded"
    assert "127.0.0.1" not in reply.text and "s3cretpw" not in reply.text
    assert "healthz: degraded: storage" in (tmp_path / "serve.log").read_text()


def test_healthz_details_need_the_health_token(service_env: dict[str, str]) -> None:
    env = {**service_env, "LETDOWN_HEALTH_TOKEN": "tok-123456"}
    with letdown_server(env) as base_url:
        public = requests.get(f"{base_url}/healthz", timeout=10).json()
        wrong = requests.get(f"{base_url}/healthz", headers={"Authorization": "Bearer nope"}, timeout=10).json()
        detail = requests.get(f"{base_url}/healthz", headers={"Authorization": "Bearer tok-123456"}, timeout=10).json()
    assert set(public) == set(wrong) == {"status", "version"}
    assert detail["storage"]["ok"] is True
    assert detail["verification"] is True


# --- exception texts are scrubbed; a 5xx still writes its request-log line ------------------------------


SECRET_WORDS = "my very private words"


@pytest.fixture
def failing_service(service_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The real app and server with one extra handler that raises with the user's words and id in its text."""
    port = free_port()
    log_path = tmp_path / "failing.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.failing_app", str(port)],
            cwd=REPO_ROOT,
            env={**os.environ, **service_env},
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_healthy(f"http://127.0.0.1:{port}", process=process)
            yield f"http://127.0.0.1:{port}", log_path
        finally:
            process.terminate()
            process.wait(timeout=15)


@pytest.mark.parametrize(("intent", "status"), [("ExplodeIntent", 200), ("ExplodeHarderIntent", 500)])
def test_exception_texts_are_logged_without_slot_values_or_ids(
    failing_service: tuple[str, Path], pki: TestPKI, intent: str, status: int
) -> None:
    base_url, log_path = failing_service
    device = AlexaClient(base_url=base_url, pki=pki)
    reply = device.send(envelope(intent_request(intent, topic=SECRET_WORDS), new_session()))
    assert reply.status_code == status
    time.sleep(0.2)
    log = log_path.read_text()
    assert "Traceback" in log and "ValueError: cannot use <words> for <id>" in log, log[-2000:]
    assert SECRET_WORDS not in log
    assert TEST_USER_ID not in log and TEST_DEVICE_ID not in log
    assert [json.loads(line.split("letdown.request ", 1)[1])["status"] for line in request_log_lines(log_path)] == [
        status
    ]


# --- purge -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("days", ["0", "-5", "0.5"])
def test_purge_refuses_an_age_under_one_day(service_env: dict[str, str], days: str) -> None:
    command = [sys.executable, "-m", "skill.cli", "storage", "purge", "--older-than-days", days]
    result = subprocess.run(command, env={**os.environ, **service_env}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "older-than-days" in result.stderr
    assert "deleted" not in result.stdout


def test_the_scrub_filter_survives_a_log_call_whose_arguments_do_not_fit() -> None:
    import io
    import logging

    from skill.web import log_scrub

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    log_scrub.install([handler])
    logger = logging.getLogger("tests.scrub")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with log_scrub.scrubbing():
            log_scrub.remember(envelope(intent_request("TipIntent", topic=SECRET_WORDS), new_session()))
            logger.error("topic %s and %s", f"was {SECRET_WORDS}")  # one argument for two placeholders
            logger.error("user %s said %s", TEST_USER_ID, SECRET_WORDS)
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    assert SECRET_WORDS not in written and TEST_USER_ID not in written
    assert "user <id> said <words>" in written
    assert written.count("<words>") == 2
