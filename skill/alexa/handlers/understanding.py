"""Safety first over every request, and the free-text second stage.

`SafetyFirstHandler` runs before every other handler: the safety decision (skill.understanding.safety)
reads the intent and every slot value, the free-text query included, and a match is answered with the
safety message alone. `FreeTextHandler` answers the catch-all intents (`FreeText…Intent`, slot `query`):
the query, with the words its intent stands for put back ("why" for FreeTextWhyIntent), goes through
the skill's own resolver, and the intent it resolves to is answered by the very
handler that answers that intent when Alexa sends it (the request is rebuilt and dispatched again);
text that resolves to nothing gets the fallback, which ends with the safety line.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from ask_sdk_core.dispatch_components import AbstractRequestHandler
from ask_sdk_core.handler_input import HandlerInput
from ask_sdk_core.utils import is_request_type
from ask_sdk_model import Intent, IntentConfirmationStatus, IntentRequest, RequestEnvelope, Response, Slot

from skill.alexa.deps import SkillDeps
from skill.alexa.handlers.base import SkillRequestHandler
from skill.alexa.interceptors import locale_content
from skill.alexa.requests import intent_name, locale, typed_request
from skill.alexa.slots import slot, slot_values
from skill.conversation import guidance, safety
from skill.interaction_model import FALLBACK_INTENT
from skill.speech.render import speak_reply
from skill.understanding.resolver import FREE_TEXT_INTENT, FREE_TEXT_SLOT, Resolution, Resolver, is_free_text_intent
from skill.understanding.safety import decide

log = logging.getLogger(__name__)


class UnderstandingHandler(SkillRequestHandler):
    def resolver(self, handler_input: HandlerInput) -> Resolver | None:
        return self.deps.resolvers.for_locale(locale(handler_input))

    def safety_route(self, handler_input: HandlerInput) -> str | None:
        if not is_request_type("IntentRequest")(handler_input):
            return None
        name = intent_name(handler_input)
        resolver = self.resolver(handler_input)
        if resolver is None:
            return safety.SAFETY_INTENTS.get(name)
        texts = slot_values(handler_input)
        if is_free_text_intent(name):
            texts = [resolver.free_text(name, text) for text in texts]
        return decide(resolver.safety, name, texts)


class SafetyFirstHandler(UnderstandingHandler):
    """Any intent that is, or whose words are, a safety matter gets the safety answer alone (by precedence)."""

    intent_names = tuple(safety.SAFETY_INTENTS)
    request_types = ("IntentRequest",)  # any other intent whose slot text is a safety matter

    def when(self, handler_input: HandlerInput) -> bool:
        return self.safety_route(handler_input) is not None

    def handle(self, handler_input: HandlerInput) -> Response:
        route = self.safety_route(handler_input) or "crisis"  # can_handle found a route
        return speak_reply(handler_input, locale_content(handler_input), safety.safety_reply(route)).response


class FreeTextHandler(UnderstandingHandler):
    """FreeText…Intent {query}: safety (already checked first), then the resolved intent, then the fallback."""

    def __init__(self, deps: SkillDeps, delegates: Sequence[AbstractRequestHandler]) -> None:
        super().__init__(deps)
        self.delegates = tuple(delegates)
        # FreeTextIntent and its FreeText…Intent siblings, as the models name them.
        in_models = {name for model in deps.models.models() for name in model.intents if is_free_text_intent(name)}
        self.intent_names = tuple(sorted(in_models | {FREE_TEXT_INTENT}))  # type: ignore[misc]

    def declares(self, handler_input: HandlerInput) -> bool:
        return is_request_type("IntentRequest")(handler_input) and is_free_text_intent(intent_name(handler_input))

    def handle(self, handler_input: HandlerInput) -> Response:
        query = getattr(slot(handler_input, FREE_TEXT_SLOT), "value", None)
        resolver = self.resolver(handler_input)
        if not query or resolver is None:
            return self.fallback(handler_input)
        understood = resolver.understand(resolver.free_text(intent_name(handler_input), query))
        if understood.route is not None:
            return speak_reply(
                handler_input, locale_content(handler_input), safety.safety_reply(understood.route)
            ).response
        if understood.intent == FALLBACK_INTENT or is_free_text_intent(understood.intent):
            return self.fallback(handler_input)
        redirected = redirected_input(handler_input, understood)
        for delegate in self.delegates:
            if delegate.can_handle(redirected):
                log.info("free text resolved to %s (score %s)", understood.intent, understood.score)
                response: Response | None = delegate.handle(redirected)
                return response if response is not None else redirected.response_builder.response
        return self.fallback(handler_input)

    def fallback(self, handler_input: HandlerInput) -> Response:
        return speak_reply(handler_input, locale_content(handler_input), guidance.fallback_reply()).response


def redirected_input(handler_input: HandlerInput, understood: Resolution) -> HandlerInput:
    """The same request, as if Alexa had sent the resolved intent and slots (same session and attributes)."""
    envelope = handler_input.request_envelope
    request = typed_request(handler_input, IntentRequest)
    intent = Intent(
        name=understood.intent,
        slots=resolved_slots(understood.slots),
        confirmation_status=IntentConfirmationStatus.NONE,
    )
    rebuilt = IntentRequest(
        request_id=request.request_id,
        timestamp=request.timestamp,
        locale=request.locale,
        dialog_state=getattr(request, "dialog_state", None),
        intent=intent,
    )
    return HandlerInput(
        request_envelope=RequestEnvelope(
            version=envelope.version, session=envelope.session, context=envelope.context, request=rebuilt
        ),
        attributes_manager=handler_input.attributes_manager,
        context=handler_input.context,
        # The property raises when no API client is configured; the attribute is what it guards.
        service_client_factory=getattr(handler_input, "_service_client_factory", None),  # type: ignore[arg-type]
        template_factory=handler_input.template_factory,
    )


def resolved_slots(slots: Mapping[str, Mapping[str, str | None]]) -> dict[str, Slot]:
    return {name: Slot(name=name, value=value.get("value")) for name, value in slots.items()}
