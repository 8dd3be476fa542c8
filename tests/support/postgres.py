"""A real, throwaway PostgreSQL server for tests: initdb into a temp dir, serve on a free loopback port.

Used as a session fixture:

    @pytest.fixture(scope="session")
    def postgres_server() -> Iterator[PostgresServer]:
        yield from postgres_server_fixture()

Each test then takes a fresh database with `postgres_server.create_database()`.
PostgreSQL refuses to run as root, so under root the server runs as `nobody` (via runuser).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.server import free_port

UNPRIVILEGED_USER = "nobody"
SUPERUSER = "postgres"
PACKAGED_BIN_DIRS = "/usr/lib/postgresql"
# Durability is irrelevant for a throwaway server and fsync dominates its run time.
SERVER_SETTINGS = (
    "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    " -c max_connections=60 -c shared_buffers=16MB -c dynamic_shared_memory_type=mmap"
)


class PostgresNotInstalled(RuntimeError):
    pass


def find_postgres_bin_dir() -> Path:
    """The directory holding pg_ctl, initdb and postgres: from PATH, else the newest packaged version."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    packaged = [
        candidate / "bin"
        for candidate in Path(PACKAGED_BIN_DIRS).glob("*")
        if (candidate / "bin" / "pg_ctl").exists() and (candidate / "bin" / "initdb").exists()
    ]
    if not packaged:
        raise PostgresNotInstalled(
            f"PostgreSQL is not installed: no pg_ctl/initdb on PATH or in {PACKAGED_BIN_DIRS}/*/bin"
        )
    return max(packaged, key=lambda bin_dir: _version_key(bin_dir.parent.name))


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name))


class PostgresServer:
    """One initdb'd cluster. `start()`/`stop()` may be called repeatedly; the port stays the same."""

    def __init__(self, bin_dir: Path, root: Path) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.data_dir = root / "data"
        self.socket_dir = root / "socket"
        self.log_file = root / "server.log"
        self.port = free_port()
        self.running = False

    @property
    def runs_as_root(self) -> bool:
        return os.geteuid() == 0

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def init(self) -> None:
        self.socket_dir.mkdir()
        if self.runs_as_root:
            shutil.chown(self.root, UNPRIVILEGED_USER)
            shutil.chown(self.socket_dir, UNPRIVILEGED_USER)
        self._run_tool(
            "initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.socket_dir} {SERVER_SETTINGS}"
        self._run_tool(
            "pg_ctl", "start", "-w", "-t", "30", "-D", str(self.data_dir),
            "-l", str(self.log_file), "-o", options,
        )  # fmt: skip
        self.running = True

    def stop(self) -> None:
        if self.running:
            self._run_tool("pg_ctl", "stop", "-w", "-t", "30", "-m", "fast", "-D", str(self.data_dir))
            self.running = False

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its URL."""
        name = name or f"test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def _run_tool(self, tool: str, *args: str) -> None:
        command = [str(self.bin_dir / tool), *args]
        if self.runs_as_root:
            command = ["runuser", "-u", UNPRIVILEGED_USER, "--", *command]
        # cwd: the unprivileged user may not be allowed into the caller's working directory.
        result = subprocess.run(command, cwd=self.root, capture_output=True, text=True, timeout=60, check=False)
        if result.returncode != 0:
            raise RuntimeError(
                f"{tool} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}\n"
                f"server log:\n{self.log_tail()}"
            )


@contextlib.contextmanager
def running_postgres(bin_dir: Path | None = None) -> Iterator[PostgresServer]:
    """Init and start a server in a fresh temp dir; stop it and delete everything at the end."""
    # Not pytest's tmp_path: that lives under a root-only 0700 directory the unprivileged user cannot enter.
    root = Path(tempfile.mkdtemp(prefix="letdown-pg-"))
    server = PostgresServer(bin_dir or find_postgres_bin_dir(), root)
    try:
        server.init()
        server.start()
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


def postgres_server_fixture() -> Iterator[PostgresServer]:
    """Body of a session-scoped fixture. Without PostgreSQL: skip, but fail under CI=true."""
    try:
        bin_dir = find_postgres_bin_dir()
    except PostgresNotInstalled as missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{missing}; CI must run the PostgreSQL tests (install postgresql)", pytrace=False)
        pytest.skip(str(missing))
    with running_postgres(bin_dir) as server:
        yield server
