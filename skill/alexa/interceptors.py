"""Request and response interceptors (as in Amazon's ask-sdk samples): what every request needs, done once.

- `LocaleContentInterceptor` (request): puts the request's `LocaleContent` in the request attributes,
  where handlers read it with `locale_content(handler_input)`.
- `RepeatMemoryInterceptor` (response): records the speech and reprompt of every spoken answer in the
  session attributes, for AMAZON.RepeatIntent.
- `TurnLogInterceptor` (response): one `letdown.turn` log line per answered skill turn, whatever carried
  it (the /alexa view or the simulator). The HTTP side (status, latency, why a request was rejected) is
  the view's `letdown.request` line: a rejected request never reaches the skill.
The response interceptors run only when a handler answered; the catch-all exception handler's apology is
neither remembered for Repeat nor logged here (the handler failure is logged with its traceback).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import cast

from ask_sdk_core.dispatch_components import AbstractRequestInterceptor, AbstractResponseInterceptor
from ask_sdk_core.handler_input import HandlerInput
from ask_sdk_core.utils import get_user_id
from ask_sdk_model import Response

from skill.alexa.deps import SkillDeps
from skill.alexa.requests import intent_name, locale, request_type
from skill.speech.content import LocaleContent
from skill.speech.render import LAST_MESSAGE, record_for_repeat, session_attributes

CONTENT_ATTRIBUTE = "letdown.content"
turn_log = logging.getLogger("letdown.turn")


class LocaleContentInterceptor(AbstractRequestInterceptor):
    def __init__(self, deps: SkillDeps) -> None:
        self.deps = deps

    def process(self, handler_input: HandlerInput) -> None:
        content = self.deps.content.locale(locale(handler_input))
        handler_input.attributes_manager.request_attributes[CONTENT_ATTRIBUTE] = content


def locale_content(handler_input: HandlerInput) -> LocaleContent:
    """The request's locale content, put there by `LocaleContentInterceptor`."""
    return cast(LocaleContent, handler_input.attributes_manager.request_attributes[CONTENT_ATTRIBUTE])


class RepeatMemoryInterceptor(AbstractResponseInterceptor):
    def process(self, handler_input: HandlerInput, response: Response | None) -> None:
        record_for_repeat(handler_input, response)


class TurnLogInterceptor(AbstractResponseInterceptor):
    """Request type, intent name, hashed user and the message id answered; never the raw id or the words."""

    def process(self, handler_input: HandlerInput, response: Response | None) -> None:
        if not turn_log.isEnabledFor(logging.INFO):
            return
        kind = request_type(handler_input)
        spoken = session_attributes(handler_input)
        line = {
            "type": kind,
            "intent": intent_name(handler_input) if kind == "IntentRequest" else None,
            "user": user_hash(cast("str | None", get_user_id(handler_input))),
            "message": spoken.get(LAST_MESSAGE) if getattr(response, "output_speech", None) else None,
            "ends_session": getattr(response, "should_end_session", None),
        }
        turn_log.info(json.dumps(line, sort_keys=True))


def user_hash(user_id: str | None) -> str | None:
    """A short, stable pseudonym so one user's requests can be followed without exposing the id."""
    if not user_id:
        return None
    return hashlib.sha256(user_id.encode()).hexdigest()[:12]
