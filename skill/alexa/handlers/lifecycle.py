"""Requests outside the conversation: skill events, session end, device errors, and the catch-all error."""

from __future__ import annotations

import logging

from ask_sdk_core.dispatch_components import AbstractExceptionHandler
from ask_sdk_core.handler_input import HandlerInput
from ask_sdk_model import Response, SessionEndedRequest
from ask_sdk_model.interfaces.system import ExceptionEncounteredRequest

from skill.alexa.deps import SkillDeps
from skill.alexa.handlers.base import SkillRequestHandler
from skill.alexa.requests import locale, request_type, typed_request
from skill.speech.render import speak_error
from skill.storage import DeletionNotDone

log = logging.getLogger(__name__)

# Requests that belong to a spoken turn and so may be answered with speech.
SPOKEN_REQUEST_TYPES = ("LaunchRequest", "IntentRequest")


class SkillDisabledHandler(SkillRequestHandler):
    """The user disabled the skill: forget everything stored for them.

    The store deletes at once or, while storage is away, journals the deletion on disk and applies it when
    storage is back. Only when neither works does it raise DeletionNotDone, which no exception handler
    takes: the web layer answers that one event type with a 503 rather than a 200 that would claim success.
    Not relied upon as a retry: Amazon's "Use Skill Events" page (developer.amazon.com/docs/smapi/
    skill-events-in-alexa-skills.html) documents no redelivery after an error answer; the one hint of late
    delivery is the one-hour timestamp tolerance for AlexaSkillEvent requests (skill/web/verification.py).
    """

    request_types = ("AlexaSkillEvent.SkillDisabled",)

    def handle(self, handler_input: HandlerInput) -> Response:
        handler_input.attributes_manager.delete_persistent_attributes()
        return handler_input.response_builder.response


class OtherSkillEventHandler(SkillRequestHandler):
    """SkillEnabled, permission, account-link and subscription events need no action; they are acknowledged."""

    request_types = (
        "AlexaSkillEvent.SkillEnabled",
        "AlexaSkillEvent.SkillAccountLinked",
        "AlexaSkillEvent.SkillPermissionAccepted",
        "AlexaSkillEvent.SkillPermissionChanged",
        "AlexaSkillEvent.ProactiveSubscriptionChanged",
        "AlexaSkillEvent.NotificationSubscriptionChanged",
    )

    def handle(self, handler_input: HandlerInput) -> Response:
        return handler_input.response_builder.response


class SessionEndedHandler(SkillRequestHandler):
    request_types = ("SessionEndedRequest",)

    def handle(self, handler_input: HandlerInput) -> Response:
        request = typed_request(handler_input, SessionEndedRequest)
        if request.error is not None:
            log.warning("session ended with error: %s %s", request.error.object_type, request.error.message)
        return handler_input.response_builder.response


class ExceptionEncounteredHandler(SkillRequestHandler):
    """The device reports that our previous response failed; log it, never answer with speech."""

    request_types = ("System.ExceptionEncountered",)

    def handle(self, handler_input: HandlerInput) -> Response:
        request = typed_request(handler_input, ExceptionEncounteredRequest)
        error = request.error
        cause = request.cause
        log.error(
            "device reported an error: type=%s message=%s cause_request=%s",
            getattr(error, "object_type", None),
            getattr(error, "message", None),
            getattr(cause, "request_id", None),
        )
        return handler_input.response_builder.response


class CatchAllExceptionHandler(AbstractExceptionHandler):
    """Any handler failure: a brief apology in a spoken turn, an empty response otherwise."""

    def __init__(self, deps: SkillDeps) -> None:
        self.deps = deps

    def can_handle(self, handler_input: HandlerInput, exception: Exception) -> bool:
        return not isinstance(exception, DeletionNotDone)  # must not be answered as if it succeeded

    def handle(self, handler_input: HandlerInput, exception: Exception) -> Response:
        kind = request_type(handler_input)
        log.error("handler failed for %s", kind, exc_info=exception)
        builder = handler_input.response_builder
        if kind not in SPOKEN_REQUEST_TYPES:
            return builder.response
        # Looked up here, not through the interceptor: the failure may have come before it ran.
        return speak_error(handler_input, self.deps.content.locale(locale(handler_input))).response
