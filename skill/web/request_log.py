"""One structured log line per Alexa request; never the raw user id, never what the user said."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from skill.alexa.interceptors import user_hash

log = logging.getLogger("letdown.request")


def summarise(envelope: Mapping[str, Any] | None) -> dict[str, Any]:
    """The request type, intent name and hashed user of an envelope, tolerating any shape."""
    if not isinstance(envelope, Mapping):
        return {"type": None, "intent": None, "user": None}
    request = envelope.get("request")
    request = request if isinstance(request, Mapping) else {}
    intent = request.get("intent")
    system = envelope.get("context")
    system = system.get("System") if isinstance(system, Mapping) else None
    user = system.get("user") if isinstance(system, Mapping) else None
    user_id = user.get("userId") if isinstance(user, Mapping) else None
    return {
        "type": request.get("type") if isinstance(request.get("type"), str) else None,
        "intent": intent.get("name") if isinstance(intent, Mapping) else None,
        "user": user_hash(user_id if isinstance(user_id, str) else None),
    }


def log_request(envelope: Mapping[str, Any] | None, status: int, latency_ms: float, reason: str | None) -> None:
    line = {**summarise(envelope), "status": status, "latency_ms": round(latency_ms, 2)}
    if reason:
        line["reason"] = reason
    log.info(json.dumps(line, sort_keys=True))
