"""The one handler style: a request handler declares what it answers, `can_handle` is built from that.

`intent_names` and `request_types` are each handler's declared list (the SDK's `is_intent_name` and
`is_request_type` predicates are built from them, and `letdown model check` compares them with the
interaction model); a handler that answers only under a further condition overrides `when`.
"""

from __future__ import annotations

from typing import ClassVar

from ask_sdk_core.dispatch_components import AbstractRequestHandler
from ask_sdk_core.handler_input import HandlerInput
from ask_sdk_core.utils import is_intent_name, is_request_type

from skill.alexa.deps import SkillDeps


class SkillRequestHandler(AbstractRequestHandler):
    """Base of every request handler of the skill: the app's deps and the declared requests."""

    intent_names: ClassVar[tuple[str, ...]] = ()
    request_types: ClassVar[tuple[str, ...]] = ()
    # A catch-all answers whatever reaches it; `letdown model check` does not count it as an intent's handler.
    catch_all: ClassVar[bool] = False

    def __init__(self, deps: SkillDeps) -> None:
        self.deps = deps

    def can_handle(self, handler_input: HandlerInput) -> bool:
        return self.declares(handler_input) and self.when(handler_input)

    def declares(self, handler_input: HandlerInput) -> bool:
        return any(is_intent_name(name)(handler_input) for name in self.intent_names) or any(
            is_request_type(request_type)(handler_input) for request_type in self.request_types
        )

    def when(self, handler_input: HandlerInput) -> bool:
        """A further condition on a declared request; always true unless a handler narrows it."""
        return True

    def __repr__(self) -> str:
        return type(self).__name__
