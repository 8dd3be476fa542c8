"""Reading the request, typed: the SDK's getters are annotated `AnyStr` and its envelope fields `Optional`."""

from __future__ import annotations

from typing import TypeVar, cast

from ask_sdk_core.handler_input import HandlerInput
from ask_sdk_core.utils import get_intent_name, get_locale, get_request_type
from ask_sdk_model import Request

RequestT = TypeVar("RequestT", bound=Request)


def request_type(handler_input: HandlerInput) -> str:
    return cast(str, get_request_type(handler_input))


def intent_name(handler_input: HandlerInput) -> str:
    """The intent's name; only for IntentRequests (the SDK raises TypeError for other requests)."""
    return cast(str, get_intent_name(handler_input))


def locale(handler_input: HandlerInput) -> str | None:
    return cast("str | None", get_locale(handler_input))


def typed_request(handler_input: HandlerInput, request_class: type[RequestT]) -> RequestT:
    """The request as the class its type deserializes to (a handler's declared `request_types` ensure it)."""
    request = handler_input.request_envelope.request
    if not isinstance(request, request_class):
        raise TypeError(f"expected {request_class.__name__}, got {type(request).__name__}")
    return request
