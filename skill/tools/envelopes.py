"""The one builder of Alexa request envelopes as a device sends them: the simulator, `letdown say`,
`letdown model check` and the tests all build theirs here."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from skill.storage.keys import Activity

API_ENDPOINT = "https://api.amazonalexa.com"
IDLE_PLAYER: Mapping[str, Any] = {"playerActivity": Activity.IDLE}
# What an Echo Show declares: APL, with the newest runtime version it renders.
APL_INTERFACE = "Alexa.Presentation.APL"
APL_RUNTIME: Mapping[str, Any] = {"runtime": {"maxVersion": "2024.2"}}


def timestamp(offset_seconds: float = 0) -> str:
    """Now (plus `offset_seconds`) as Alexa writes request timestamps."""
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset_seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def device_context(
    *,
    application_id: str,
    user_id: str,
    device_id: str,
    audio_player: bool = True,
    player_state: Mapping[str, Any] | None = None,
    apl: bool = False,
) -> dict[str, Any]:
    """`context`: System (application, user, device and its interfaces) and, with AudioPlayer, its state.
    `apl`: the device has a screen that renders APL (an Echo Show)."""
    interfaces: dict[str, Any] = {"AudioPlayer": {}} if audio_player else {}
    if apl:
        interfaces[APL_INTERFACE] = dict(APL_RUNTIME)
    built: dict[str, Any] = {
        "System": {
            "application": {"applicationId": application_id},
            "user": {"userId": user_id},
            "device": {"deviceId": device_id, "supportedInterfaces": interfaces},
            "apiEndpoint": API_ENDPOINT,
        }
    }
    if audio_player:
        built["AudioPlayer"] = dict(player_state or IDLE_PLAYER)
    return built


def session_part(
    *, application_id: str, user_id: str, session_id: str, new: bool = True, attributes: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "new": new,
        "sessionId": session_id,
        "application": {"applicationId": application_id},
        "user": {"userId": user_id},
        "attributes": dict(attributes or {}),
    }


def request_envelope(
    request: Mapping[str, Any],
    context: Mapping[str, Any],
    session: Mapping[str, Any] | None = None,
    *,
    locale: str,
    request_id_prefix: str = "amzn1.echo-api.request.",
    timestamp_offset: float = 0,
) -> dict[str, Any]:
    """An envelope around `request` (its type and fields); a fresh request id and timestamp unless given."""
    built: dict[str, Any] = {
        "version": "1.0",
        "context": dict(context),
        "request": {
            "requestId": f"{request_id_prefix}{uuid.uuid4()}",
            "timestamp": timestamp(timestamp_offset),
            "locale": locale,
            **request,
        },
    }
    if session is not None:
        built["session"] = dict(session)
    return built


def intent_request(name: str, slots: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """An IntentRequest whose `slots` maps each slot name to its fields (value, resolutions, …)."""
    return {
        "type": "IntentRequest",
        "dialogState": "COMPLETED",
        "intent": {
            "name": name,
            "confirmationStatus": "NONE",
            "slots": {slot: {"name": slot, "confirmationStatus": "NONE", **fields} for slot, fields in slots.items()},
        },
    }
