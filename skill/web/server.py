"""The HTTP server behind `letdown serve`: waitress by default, gunicorn for hosts behind a buffering proxy.

waitress reads every request, headers and body, on one event loop before it hands the complete request to
a worker thread, so a client that sends a byte at a time (or nothing at all) costs a socket, never a thread.
gunicorn's threaded workers read the request on the worker thread itself: eight slow connections stall a
2 × 4 deployment, so gunicorn is only for running behind a proxy that buffers whole requests (nginx,
Caddy; see the README), where it can use several processes.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server

SERVERS = ("waitress", "gunicorn")
# Headers of an Alexa request are well under 4 KiB; a large cap only gives slow clients more to send.
MAX_HEADER_BYTES = 32 * 1024
# Bodies up to this multiple of LETDOWN_MAX_BODY_BYTES are read whole, so that the app answers 413 to a
# client that is still sending; past it the server answers 413 itself and closes the connection.
BODY_DRAIN_FACTOR = 32
# Connections beyond this wait in the listen backlog; slow ones are cheap, so the cap is generous.
CONNECTION_LIMIT = 1000
# A connection that has sent nothing for this long is closed (a keep-alive Alexa connection reconnects).
IDLE_TIMEOUT_S = 60


@dataclass(frozen=True)
class ServerSettings:
    host: str
    port: int
    threads: int
    workers: int
    max_body_bytes: int


# A refused request's client may still be sending: read and discard this much, this long, before closing.
DRAIN_MAX_BYTES = 64 * 1024 * 1024
DRAIN_SECONDS = 5.0


def serve_waitress(app: Flask, settings: ServerSettings) -> None:
    server = create_server(
        app,
        host=settings.host,
        port=settings.port,
        threads=settings.threads,
        connection_limit=CONNECTION_LIMIT,
        channel_timeout=IDLE_TIMEOUT_S,
        max_request_header_size=MAX_HEADER_BYTES,
        max_request_body_size=settings.max_body_bytes * BODY_DRAIN_FACTOR,
        # poll(2), not select(2): select cannot watch file descriptors above 1023.
        asyncore_use_poll=True,
        ident="letdown",
        clear_untrusted_proxy_headers=True,
    )
    if not isinstance(server, BaseWSGIServer):  # several listening sockets: not how serve_waitress binds
        raise TypeError(f"expected one listening socket, got {type(server).__name__}")
    server.channel_class = DrainingChannel
    server.print_listen("Serving on http://{}:{}")
    server.run()


def serve_gunicorn(load_app: Callable[[], Flask], settings: ServerSettings) -> None:
    class LetdownGunicorn(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{settings.host}:{settings.port}")
            self.cfg.set("workers", settings.workers)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", settings.threads)
            self.cfg.set("timeout", 30)
            self.cfg.set("graceful_timeout", 10)
            self.cfg.set("limit_request_field_size", MAX_HEADER_BYTES)

        def load(self) -> Any:
            return load_app()

    LetdownGunicorn().run()


class DrainingChannel(HTTPChannel):
    """waitress's connection class, closing gracefully when it hangs up on a client that is still sending.

    waitress answers a body past its bound (413) or a malformed request (400) and closes the socket at once;
    bytes the client is still sending then arrive at a closed socket, the kernel answers them with a reset,
    and the client may lose the answer it was about to read. This class half-closes instead (the answer is
    complete, FIN sent) and reads and discards what still comes, up to DRAIN_MAX_BYTES or DRAIN_SECONDS.
    """

    drain_deadline: float | None = None
    drained = 0

    def handle_close(self) -> None:
        # connected is still True only when the server, not the client, ends the connection.
        if self.drain_deadline is None and self.connected and self.socket is not None:
            try:
                self.socket.shutdown(socket.SHUT_WR)
            except OSError:
                super().handle_close()
                return
            self.drain_deadline = time.monotonic() + DRAIN_SECONDS
            return
        super().handle_close()

    def readable(self) -> bool:
        if self.drain_deadline is None:
            return bool(super().readable())
        if time.monotonic() > self.drain_deadline:
            super().handle_close()
            return False
        return True

    def writable(self) -> bool:
        return self.drain_deadline is None and bool(super().writable())

    def handle_read(self) -> None:
        if self.drain_deadline is None:
            super().handle_read()
            return
        if self.socket is None:
            return
        try:
            data = self.socket.recv(256 * 1024)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        self.drained += len(data)
        if not data or self.drained > DRAIN_MAX_BYTES:
            super().handle_close()
