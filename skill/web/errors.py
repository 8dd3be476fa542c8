"""Errors the web layer answers with an HTTP status rather than a skill response."""

from __future__ import annotations


class BadRequest(Exception):
    """Client input the service refuses, with the HTTP status and a short reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
