"""The storage's small parts on their own: database URL parsing and redaction, the circuit breaker, the
playback update buffer and the deletion journal, the deadline watchdog."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from skill.storage import Change, DatabaseUrl, DatabaseUrlError, PlaybackUpdate, hash_user_id
from skill.storage.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from skill.storage.deadline import DeadlineExceeded, Watchdog, shutdown_socket
from skill.storage.outbox import DeletionJournal, PlaybackOutbox

# ----- URLs -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, shown",
    [
        ("postgresql://letdown:s3cret@db.internal:5432/letdown", "postgresql://letdown:***@db.internal:5432/letdown"),
        ("postgres://letdown@db.internal/letdown", "postgres://letdown@db.internal/letdown"),
        ("postgresql://db.internal/letdown?password=s3cret&sslmode=require",
         "postgresql://db.internal/letdown?password=***&sslmode=require"),
        ("postgresql://letdown:s%40cr%2Fet@db.internal/letdown", "postgresql://letdown:***@db.internal/letdown"),
        ("sqlite:////var/lib/letdown/letdown.db", "sqlite:///var/lib/letdown/letdown.db"),
    ],
)  # fmt: skip
def test_urls_are_described_without_their_passwords(url: str, shown: str) -> None:
    parsed = DatabaseUrl.parse(url)
    assert parsed.redacted == shown
    assert "s3cret" not in parsed.redacted and "cr%2Fet" not in parsed.redacted


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://letdown:p@ss/w0rd@db.internal:5432/letdown",  # '@' and '/' unescaped in the password
        "postgresql://letdown:pa/ss@db.internal/letdown",
        "postgresql://letdown:p@ss@db.internal/letdown",
    ],
)
def test_ambiguous_urls_are_refused_without_any_part_of_the_password(url: str) -> None:
    with pytest.raises(DatabaseUrlError) as refused:
        DatabaseUrl.parse(url)
    message = str(refused.value)
    for fragment in ("p@ss", "w0rd", "pa/ss", "ss@db", "ss/w"):
        assert fragment not in message
    assert "percent-encode" in message


def test_driver_messages_are_scrubbed_of_the_password() -> None:
    url = DatabaseUrl.parse("postgresql://letdown:s%40cret@db.internal/letdown")
    text = f'connection to "{url.url}" failed for password s@cret (raw s%40cret)'
    scrubbed = url.scrub(text)
    assert "s@cret" not in scrubbed and "s%40cret" not in scrubbed and url.redacted in scrubbed


# ----- circuit breaker --------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_failures_rests_then_lets_one_trial_through() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=2, open_seconds=1.0, clock=clock)
    assert breaker.allow() and not breaker.record_failure()
    assert breaker.state == CLOSED
    assert breaker.record_failure()  # the second failure opens it
    assert breaker.state == OPEN and not breaker.allow()
    clock.now = 1.0
    assert breaker.state == HALF_OPEN
    assert breaker.allow() and not breaker.allow()  # one trial at a time
    breaker.record_failure()
    assert breaker.state == OPEN and not breaker.allow()
    clock.now = 2.5
    assert breaker.allow()
    assert breaker.record_success() and breaker.state == CLOSED and breaker.allow()


def test_a_timeout_opens_the_breaker_at_once() -> None:
    breaker = CircuitBreaker(failure_threshold=5, open_seconds=1.0, clock=FakeClock())
    assert breaker.record_failure(timed_out=True)
    assert not breaker.allow()


# ----- buffer and journal -----------------------------------------------------------------------------------


def stopped(offset_ms: int, token: str = "track:breathing-2m:abc") -> PlaybackUpdate:
    return PlaybackUpdate(Change.STOPPED, 1_000 + offset_ms, token, offset_ms)


def test_outbox_keeps_the_newest_updates_per_user_in_order() -> None:
    outbox = PlaybackOutbox(capacity_users=10, per_user=2)
    for offset in (1, 2, 3):
        outbox.put("user", stopped(offset))
    (taken,) = outbox.take()
    assert taken == ("user", [stopped(2), stopped(3)])
    assert outbox.counts.buffered == 3 and outbox.counts.superseded == 1 and outbox.counts.dropped == 0


def test_outbox_over_capacity_drops_the_oldest_user_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    outbox = PlaybackOutbox(capacity_users=2)
    for user in ("a", "b", "c"):
        outbox.put(user, stopped(1))
    assert [user for user, _ in outbox.take()] == ["b", "c"]
    assert outbox.counts.dropped == 1 and "dropped 1 update" in caplog.text


def test_outbox_put_back_keeps_newer_updates_last() -> None:
    outbox = PlaybackOutbox()
    outbox.put("user", stopped(5))
    outbox.put_back("user", [stopped(1), stopped(2)])
    assert outbox.take() == [("user", [stopped(1), stopped(2), stopped(5)])]


def test_outbox_peek_and_done_keep_updates_that_arrived_meanwhile() -> None:
    outbox = PlaybackOutbox()
    outbox.put("user", stopped(1))
    user_key, updates = outbox.peek() or ("", [])
    outbox.put("user", stopped(2))  # arrives while the first is being applied
    outbox.done(user_key, updates)
    assert outbox.peek() == ("user", [stopped(2)])
    outbox.done("user", [stopped(2)])  # an equal update, but not the one buffered: stays
    assert outbox.holds("user")


def test_outbox_forgets_a_user_who_disabled_the_skill() -> None:
    outbox = PlaybackOutbox()
    outbox.put("user", stopped(1))
    outbox.forget("user")
    assert outbox.take() == [] and outbox.counts.forgotten == 1 and outbox.counts.dropped == 0


def test_journal_survives_a_restart_and_forgets_what_was_done(tmp_path: Path) -> None:
    path = tmp_path / "state" / "pending-deletions"
    first, second = hash_user_id("amzn1.ask.account.A"), hash_user_id("amzn1.ask.account.B")
    journal = DeletionJournal(path)
    journal.add(first)
    journal.add(second)

    reopened = DeletionJournal(path)  # a new process
    assert reopened.contains(first) and reopened.pending() == sorted([first, second])
    reopened.remove({first})
    assert DeletionJournal(path).pending() == [second]
    assert "amzn1" not in path.read_text()


def test_playback_updates_refuse_what_they_cannot_mean() -> None:
    with pytest.raises(ValueError):
        PlaybackUpdate(Change.STOPPED, 1, None, 5)
    with pytest.raises(ValueError):
        PlaybackUpdate(Change.HALT, 1, "token", 5, activity="FINISHED")
    with pytest.raises(ValueError):
        PlaybackUpdate(Change.PLAY, 1, "token", -1)


# ----- deadline watchdog ------------------------------------------------------------------------------------


def test_watchdog_interrupts_a_blocked_read_at_its_deadline() -> None:
    reader, writer = socket.socketpair()
    watchdog = Watchdog()
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded), watchdog.guard(0.2, lambda: shutdown_socket(reader.fileno())):
        reader.recv(1)  # nothing is ever sent: blocks until the watchdog shuts the socket down
    assert 0.15 < time.monotonic() - started < 1.0
    reader.close()
    writer.close()


def test_watchdog_leaves_calls_that_finish_in_time_alone() -> None:
    fired = threading.Event()
    watchdog = Watchdog()
    with watchdog.guard(0.2, fired.set):
        pass
    time.sleep(0.3)
    assert not fired.is_set()
