"""Real servers for tests: the Flask app on werkzeug's WSGI server in a thread, or `letdown serve` (waitress or
gunicorn) as a process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import requests
from flask import Flask
from werkzeug.serving import make_server

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(base_url: str, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited early with code {process.returncode}")
        try:
            if requests.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{base_url} did not become healthy in {timeout} s")


@contextmanager
def threaded_server(app: Flask) -> Iterator[str]:
    """Serve `app` over real HTTP on a loopback port; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # shutdown() waits up to one poll interval; the default 0.5 s adds up over the suite.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@contextmanager
def letdown_server(
    env: Mapping[str, str],
    server: str = "waitress",
    workers: int = 2,
    log_path: Path | None = None,
    extra_args: Sequence[str] = (),
) -> Iterator[str]:
    """Run `letdown serve --server SERVER` with `env` on a loopback port; yields the base URL."""
    port = free_port()
    command = [sys.executable, "-m", "skill.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--server", server, "--workers", str(workers), *extra_args]
    log_file = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env={**os.environ, **env}, stdout=log_file, stderr=subprocess.STDOUT
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base_url, process=process)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log_path:
            log_file.close()


@contextmanager
def gunicorn_server(env: Mapping[str, str], workers: int = 2, log_path: Path | None = None) -> Iterator[str]:
    """Run `letdown serve --server gunicorn` (several worker processes) with `env`; yields the base URL."""
    with letdown_server(env, "gunicorn", workers, log_path) as base_url:
        yield base_url
