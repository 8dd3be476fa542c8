"""What could not be written while storage was away: playback updates in memory, deletions on disk.

Playback updates: a small bounded buffer, the newest few updates per user in arrival order (older ones are
superseded), applied in that order when storage is back: each keeps its own expectation, so the newest
wins and a stale one is refused by the database as it would have been. Users beyond the capacity push out
the user buffered longest ago (dropped: the only loss, logged as a warning); every buffered, applied,
refused, superseded and dropped update is counted and the counts are logged.

Deletions (SkillDisabled): appended and fsynced to a journal file, one hashed user key a line, and applied
when storage is back (by whichever process gets there first; the file is locked while it is rewritten).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from skill.storage.playback import PlaybackUpdate

log = logging.getLogger(__name__)

DEFAULT_CAPACITY_USERS = 2000
UPDATES_PER_USER = 4


@dataclass
class OutboxCounts:
    buffered: int = 0
    applied: int = 0
    refused: int = 0  # applied after the outage but no longer current (the database said no)
    superseded: int = 0  # a newer update of the same user was kept instead (newest wins)
    dropped: int = 0  # pushed out by the capacity limit: lost
    forgotten: int = 0  # the user disabled the skill meanwhile: nothing to keep

    def summary(self) -> str:
        return f"buffered={self.buffered} applied={self.applied} refused_as_stale={self.refused} dropped={self.dropped}"


class PlaybackOutbox:
    def __init__(self, capacity_users: int = DEFAULT_CAPACITY_USERS, per_user: int = UPDATES_PER_USER) -> None:
        self.capacity_users = capacity_users
        self.per_user = per_user
        self.counts = OutboxCounts()
        self._lock = threading.Lock()
        self._updates: OrderedDict[str, deque[PlaybackUpdate]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._updates)

    def holds(self, user_key: str) -> bool:
        return user_key in self._updates

    def put(self, user_key: str, update: PlaybackUpdate) -> None:
        with self._lock:
            self.counts.buffered += 1
            pending = self._updates.get(user_key)
            if pending is None:
                pending = self._updates[user_key] = deque()
            self._updates.move_to_end(user_key)
            if len(pending) == self.per_user:
                pending.popleft()
                self.counts.superseded += 1
            pending.append(update)
            while len(self._updates) > self.capacity_users:
                _, oldest = self._updates.popitem(last=False)
                self._drop(len(oldest), "the buffer is full")

    def peek(self) -> tuple[str, list[PlaybackUpdate]] | None:
        """The user buffered longest ago and their updates, left in the buffer until `done`."""
        with self._lock:
            for user_key, updates in self._updates.items():
                return user_key, list(updates)
            return None

    def done(self, user_key: str, applied: list[PlaybackUpdate]) -> None:
        """These updates (from `peek`) were applied: remove them, and the user if nothing newer arrived."""
        applied_ids = {id(update) for update in applied}
        with self._lock:
            pending = self._updates.get(user_key)
            if pending is None:
                return
            while pending and id(pending[0]) in applied_ids:  # by identity: equal updates may be queued again
                pending.popleft()
            if not pending:
                del self._updates[user_key]

    def take(self) -> list[tuple[str, list[PlaybackUpdate]]]:
        with self._lock:
            taken = [(user_key, list(updates)) for user_key, updates in self._updates.items()]
            self._updates.clear()
        return taken

    def put_back(self, user_key: str, updates: list[PlaybackUpdate]) -> None:
        """Return updates that could not be applied after all; newer ones buffered meanwhile stay after them."""
        with self._lock:
            newer = self._updates.pop(user_key, deque())
            merged = deque([*updates, *newer])
            while len(merged) > self.per_user:
                merged.popleft()
                self.counts.superseded += 1
            self._updates[user_key] = merged
            self._updates.move_to_end(user_key, last=False)

    def forget(self, user_key: str) -> None:
        with self._lock:
            forgotten = self._updates.pop(user_key, None)
            if forgotten:
                self.counts.forgotten += len(forgotten)

    def record_applied(self, applied: int, refused: int) -> None:
        with self._lock:
            self.counts.applied += applied
            self.counts.refused += refused

    def _drop(self, count: int, why: str) -> None:
        self.counts.dropped += count
        log.warning("playback update buffer: dropped %d update(s) (%s); %s", count, why, self.counts.summary())


class DeletionJournal:
    """Hashed user keys whose deletion is still to be done; durable across restarts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._known: set[str] = set(self._read())

    @property
    def has_pending(self) -> bool:
        return bool(self._known)

    def contains(self, user_key: str) -> bool:
        return user_key in self._known

    def add(self, user_key: str) -> None:
        """Append and fsync; raises OSError when the journal cannot be written."""
        with self._lock, self._file_lock():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, f"{user_key}\n".encode())
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            self._known.add(user_key)

    def pending(self) -> list[str]:
        with self._lock, self._file_lock():
            keys = self._read()
            self._known.update(keys)
            return sorted(set(keys) | self._known)

    def remove(self, done: set[str]) -> None:
        if not done:
            return
        with self._lock, self._file_lock():
            remaining = [key for key in dict.fromkeys(self._read()) if key not in done]
            temporary = self.path.with_name(self.path.name + ".tmp")
            temporary.write_text("".join(f"{key}\n" for key in remaining))
            os.replace(temporary, self.path)
            self._known -= done

    def _read(self) -> list[str]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        except OSError as error:
            log.error("cannot read the pending-deletion journal %s: %s", self.path, type(error).__name__)
            return []
        return [line for line in text.split() if len(line) == 64 and all(c in "0123456789abcdef" for c in line)]

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        """Between processes (gunicorn workers, CLI): the journal is rewritten under an exclusive lock."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            yield  # no lock file possible (read-only directory): the write itself will say so
            return
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)
