"""Client-side deadlines for database calls.

A PostgreSQL server that is frozen (SIGSTOP, a stuck VM, a full disk) still has its kernel accept
connections and acknowledge packets: TCP keepalives never fire and `statement_timeout` is never enforced,
because nothing on the server runs. Only the client can give up. The watchdog thread does that: a call that
outlives its deadline has its connection's socket shut down, which makes the blocked driver call fail at
once with a connection error (the connection is then discarded).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

POLL_S = 0.05  # how late a deadline may fire


class DeadlineExceeded(Exception):
    """A database call was interrupted because it took longer than its deadline."""


@dataclass(order=True)
class Guard:
    due: float
    sequence: int
    interrupt: Callable[[], None] = field(compare=False)
    finished: bool = field(default=False, compare=False)
    fired: bool = field(default=False, compare=False)


class Watchdog:
    """One daemon thread per process, started on first use (and again in a forked child)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._guards: list[Guard] = []
        self._sequence = itertools.count()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    @contextlib.contextmanager
    def guard(self, seconds: float, interrupt: Callable[[], None]) -> Iterator[Guard]:
        """Run the block; if it is still running after `seconds`, call `interrupt` from the watchdog thread.

        Raises DeadlineExceeded after the block if the interrupt fired (whatever the block raised).
        """
        entry = Guard(time.monotonic() + seconds, next(self._sequence), interrupt)
        with self._condition:
            self._ensure_thread()
            heapq.heappush(self._guards, entry)  # no notify: the watchdog polls (a wake-up per call costs more)
        try:
            yield entry
        except Exception as error:
            if entry.fired:
                raise DeadlineExceeded(f"database call interrupted after {seconds:.2f} s") from error
            raise
        finally:
            with self._condition:
                entry.finished = True
        if entry.fired:
            raise DeadlineExceeded(f"database call interrupted after {seconds:.2f} s")

    def _ensure_thread(self) -> None:
        if self._pid != os.getpid():  # forked: the parent's thread does not exist here
            self._pid, self._thread, self._guards = os.getpid(), None, []
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._watch, name="db-deadline-watchdog", daemon=True)
            self._thread.start()

    def _watch(self) -> None:
        while True:
            with self._condition:
                while self._guards and self._guards[0].finished:
                    heapq.heappop(self._guards)
                if not self._guards:
                    self._condition.wait(timeout=POLL_S)
                    continue
                wait = self._guards[0].due - time.monotonic()
                if wait > 0:
                    self._condition.wait(timeout=min(wait, POLL_S))
                    continue
                entry = heapq.heappop(self._guards)
                # Under the lock: the guarded block cannot finish (and hand its connection to another
                # thread) while its connection is being interrupted.
                entry.fired = True
                try:
                    entry.interrupt()
                except Exception as error:  # the connection may already be gone; nothing else to do
                    log.debug("interrupting a database call failed: %s", type(error).__name__)


def shutdown_socket(fileno: int) -> None:
    """Shut down (not close) the socket behind `fileno`: blocked reads and writes on it fail at once."""
    duplicate = os.dup(fileno)
    try:
        sock = socket.socket(fileno=duplicate)
    except OSError:
        os.close(duplicate)
        raise
    with sock, contextlib.suppress(OSError):  # closing `sock` closes only the duplicate
        sock.shutdown(socket.SHUT_RDWR)
