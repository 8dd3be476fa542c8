"""Reading an IntentRequest's slots: the only words of the user's that Alexa sends a skill."""

from __future__ import annotations

from typing import Any

from ask_sdk_core.handler_input import HandlerInput


def intent_slots(handler_input: HandlerInput) -> dict[str, Any]:
    intent = getattr(handler_input.request_envelope.request, "intent", None)
    return getattr(intent, "slots", None) or {}


def slot(handler_input: HandlerInput, name: str) -> Any:
    return intent_slots(handler_input).get(name)


def slot_values(handler_input: HandlerInput) -> list[str]:
    """Every slot value the request carries."""
    return [s.value for s in intent_slots(handler_input).values() if s is not None and isinstance(s.value, str)]


def resolved_slot_id(slot_value: Any) -> str | None:
    """The value id Alexa's entity resolution matched for a custom slot (ER_SUCCESS_MATCH), if any."""
    authorities = getattr(getattr(slot_value, "resolutions", None), "resolutions_per_authority", None) or []
    for authority in authorities:
        code = getattr(getattr(authority, "status", None), "code", None)
        values = getattr(authority, "values", None) or []
        if getattr(code, "value", code) == "ER_SUCCESS_MATCH" and values:
            return getattr(getattr(values[0], "value", None), "id", None)
    return None
