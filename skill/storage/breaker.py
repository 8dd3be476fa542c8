"""A circuit breaker: after failures, stop calling the database for a short while and answer at once.

Closed: calls go through. Open (after `failure_threshold` failures in a row, or one timeout): calls are
refused until `open_seconds` have passed. Then half-open: one caller at a time may try; a success closes
the breaker, a failure opens it again. Hand-written because it is a dozen lines and must share the store's
notion of what a failure is; the libraries for it (pybreaker and the like) wrap calls in ways that fit
neither the pool nor the deadline watchdog.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_threshold: int = 2,
        open_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.open_seconds = open_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return CLOSED
            return HALF_OPEN if self._clock() - self._opened_at >= self.open_seconds else OPEN

    @property
    def is_closed(self) -> bool:
        return self._opened_at is None  # a plain read: a stale answer only costs one call or one refusal

    def allow(self) -> bool:
        """May a call be made now? In half-open state only one caller gets True until it reports back."""
        with self._lock:
            if self._opened_at is None:
                return True
            if self._trial_running or self._clock() - self._opened_at < self.open_seconds:
                return False
            self._trial_running = True
            return True

    def record_success(self) -> bool:
        """Returns True when this success closed an open breaker (storage has just come back)."""
        with self._lock:
            was_open = self._opened_at is not None
            self._failures = 0
            self._opened_at = None
            self._trial_running = False
            return was_open

    def record_failure(self, *, timed_out: bool = False) -> bool:
        """Returns True when this failure opened a closed breaker."""
        with self._lock:
            self._failures += 1
            self._trial_running = False
            was_closed = self._opened_at is None
            if timed_out or self._failures >= self.failure_threshold or not was_closed:
                self._opened_at = self._clock()
                return was_closed
            return False
