"""Slowloris-style clients on loopback: connections that send nothing, or their headers or body a byte at a time.

Bounded in count and in time: one thread trickles a byte onto each connection every `interval` seconds
and stops by itself after `max_seconds`, or when the context exits; every socket is closed on exit.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType

KINDS = ("idle", "slow-headers", "slow-body")
MAX_CONNECTIONS = 1000


def _opening(kind: str) -> bytes:
    """What a connection of `kind` sends at once before trickling (nothing for idle ones)."""
    if kind == "slow-body":
        return (
            b"POST /alexa HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n"
        )
    return b""


def _trickle(kind: str) -> bytes:
    """An endless byte stream for `kind`: headers that never end, or a body that never completes."""
    if kind == "slow-headers":
        head = b"POST /alexa HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        return head + b"".join(b"X-Slow-%d: x\r\n" % n for n in range(5000))
    return b" " * 99_999  # whitespace: a JSON body, one byte short of its Content-Length


@dataclass
class SlowConnection:
    kind: str
    sock: socket.socket
    pending: bytes
    open: bool = True


@dataclass
class SlowClients:
    port: int
    count: int = 200
    interval: float = 0.25
    max_seconds: float = 60.0
    connections: list[SlowConnection] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> SlowClients:
        if not 0 < self.count <= MAX_CONNECTIONS:
            raise ValueError(f"count must be 1..{MAX_CONNECTIONS}")
        for kind in itertools.islice(itertools.cycle(KINDS), self.count):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock.sendall(_opening(kind))
            sock.setblocking(False)
            self.connections.append(SlowConnection(kind, sock, _trickle(kind) if kind != "idle" else b""))
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.wait(self.interval) and time.monotonic() < deadline:
            for connection in self.connections:
                if connection.open and connection.pending:
                    self._send_one_byte(connection)

    @staticmethod
    def _send_one_byte(connection: SlowConnection) -> None:
        try:
            connection.sock.send(connection.pending[:1])
            connection.pending = connection.pending[1:]
        except BlockingIOError:
            pass
        except OSError:  # the server closed it
            connection.open = False

    def still_open(self) -> int:
        """How many connections the server has not closed (a closed one reads EOF or fails)."""
        for connection in self.connections:
            if not connection.open:
                continue
            try:
                if connection.sock.recv(1, socket.MSG_PEEK) == b"":
                    connection.open = False
            except BlockingIOError:
                pass
            except OSError:
                connection.open = False
        return sum(connection.open for connection in self.connections)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for connection in self.connections:
            connection.sock.close()
