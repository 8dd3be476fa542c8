"""The real app under `letdown serve`'s own waitress setup and logging, with two deliberate bugs.

`python -m tests.support.failing_app PORT`. A global request interceptor fails on two made-up intents,
putting the user's words (the `topic` slot) and user id into the exception text, as a real bug might:
- ExplodeIntent raises inside the skill: the skill's catch-all exception handler logs it and apologises;
- ExplodeHarderIntent leaves a session attribute that cannot be serialized, so the failure escapes the
  skill to the web layer, which must answer 500 and still write its request-log line.
"""

from __future__ import annotations

import sys
from typing import Any

from ask_sdk_core.dispatch_components import AbstractRequestInterceptor
from ask_sdk_core.handler_input import HandlerInput
from ask_sdk_core.utils import get_slot_value, get_user_id, is_intent_name

from skill.app import create_app
from skill.cli import configure_logging
from skill.config import Config
from skill.web.app import service_of
from skill.web.server import ServerSettings, serve_waitress


class Unserializable:
    """Fails when the SDK's serializer reads its fields."""

    def __init__(self, message: str) -> None:
        self.message = message

    @property
    def deserialized_types(self) -> Any:
        raise ValueError(self.message)


class FailOnExplode(AbstractRequestInterceptor):
    def process(self, handler_input: HandlerInput) -> None:
        if not (is_intent_name("ExplodeIntent")(handler_input) or is_intent_name("ExplodeHarderIntent")(handler_input)):
            return
        message = f"cannot use {get_slot_value(handler_input, 'topic')} for {get_user_id(handler_input)}"
        if is_intent_name("ExplodeIntent")(handler_input):
            raise ValueError(message)
        handler_input.attributes_manager.session_attributes["bug"] = Unserializable(message)


def main(port: int) -> None:
    configure_logging()
    config = Config.from_env()
    app = create_app(config)
    skill = service_of(app).skill
    skill.request_dispatcher.request_interceptors.insert(0, FailOnExplode())
    settings = ServerSettings(host="127.0.0.1", port=port, threads=4, workers=1, max_body_bytes=config.max_body_bytes)
    serve_waitress(app, settings)


if __name__ == "__main__":
    main(int(sys.argv[1]))
