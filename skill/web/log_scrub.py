"""Keeping the user's words and ids out of log lines, exception texts included.

A request's slot values, user, device and person ids, session id and tokens are remembered for the
request's own context (`scrubbing`, `remember`); `ScrubFilter`, on the log handlers, replaces them, and
anything shaped like an Alexa id, in every record's message and exception text before it is written.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

ALEXA_ID = re.compile(r"amzn1\.(?:ask\.(?:account|device|person)|echo-api\.session|account)\.[A-Za-z0-9._-]+")
REDACTED_ID = "<id>"
REDACTED_WORDS = "<words>"
# Shorter slot values ("a", "no") are left alone: replacing them would mangle every log line.
MIN_SECRET_CHARS = 3

_request_secrets: ContextVar[list[str] | None] = ContextVar("letdown_request_secrets", default=None)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _get(value: Any, *path: str) -> Any:
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def secrets_of(envelope: Mapping[str, Any]) -> list[str]:
    """Every string in the envelope that is the user's words, an id or a token."""
    found: list[str] = []
    slots = _get(envelope, "request", "intent", "slots")
    if isinstance(slots, Mapping):
        for slot in slots.values():
            if isinstance(slot, Mapping):
                found += _strings({key: item for key, item in slot.items() if key != "name"})
    system = _get(envelope, "context", "System")
    for path in (
        ("user", "userId"),
        ("user", "accessToken"),
        ("person", "personId"),
        ("person", "accessToken"),
        ("device", "deviceId"),
        ("apiAccessToken",),
    ):
        found += _strings(_get(system, *path))
    found += _strings(_get(envelope, "session", "sessionId"))
    found += _strings(_get(envelope, "session", "user", "userId"))
    return [secret for secret in found if len(secret) >= MIN_SECRET_CHARS]


@contextmanager
def scrubbing() -> Iterator[None]:
    """A scope (one request) whose remembered secrets are scrubbed from log records made inside it."""
    token = _request_secrets.set([])
    try:
        yield
    finally:
        _request_secrets.reset(token)


def remember(envelope: Mapping[str, Any]) -> None:
    """Scrub this envelope's words and ids from the current request's log records."""
    secrets = _request_secrets.get()
    if secrets is not None:
        secrets.extend(secrets_of(envelope))


def scrub(text: str, secrets: list[str]) -> str:
    for secret in sorted(set(secrets), key=len, reverse=True):
        replacement = REDACTED_ID if ALEXA_ID.fullmatch(secret) else REDACTED_WORDS
        text = text.replace(secret, replacement)
    return ALEXA_ID.sub(REDACTED_ID, text)


class ScrubFilter(logging.Filter):
    """Rewrites each record's message and exception text with the request's words and ids removed."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = _request_secrets.get() or []
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a logging call whose arguments do not fit its format
            message = f"{record.msg} {record.args!r}"
        record.msg = scrub(message, secrets)
        record.args = None
        if record.exc_info:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info), secrets)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info, secrets)
        return True


def install(handlers: list[logging.Handler]) -> None:
    for handler in handlers:
        if not any(isinstance(existing, ScrubFilter) for existing in handler.filters):
            handler.addFilter(ScrubFilter())
