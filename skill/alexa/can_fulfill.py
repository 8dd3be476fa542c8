"""CanFulfillIntentRequest: can the skill answer this intent and its slot values? (No speech, no state.)"""

from __future__ import annotations

from typing import Any

from ask_sdk_core.handler_input import HandlerInput
from ask_sdk_model import Response
from ask_sdk_model.canfulfill import (
    CanFulfillIntent,
    CanFulfillIntentRequest,
    CanFulfillIntentValues,
    CanFulfillSlot,
    CanFulfillSlotValues,
    CanUnderstandSlotValues,
)

from skill.alexa.requests import typed_request
from skill.alexa.slots import resolved_slot_id
from skill.interaction_model import DURATION_TYPE, InteractionModel

ISO_DURATION_PREFIX = "P"


def can_fulfill_response(handler_input: HandlerInput, model: InteractionModel | None) -> Response:
    """YES for a custom intent of the model whose every given slot value is understood; NO otherwise."""
    intent = typed_request(handler_input, CanFulfillIntentRequest).intent
    name = getattr(intent, "name", None)
    builder = handler_input.response_builder
    if model is None or not name or name.startswith("AMAZON.") or name not in model.intents:
        builder.set_can_fulfill_intent(CanFulfillIntent(can_fulfill=CanFulfillIntentValues.NO))
        return builder.response
    slot_types = model.intents[name].slots
    answers = {}
    for slot_name, slot in (getattr(intent, "slots", None) or {}).items():
        if slot is None or not slot.value:
            continue
        answers[slot_name] = slot_answer(model, slot_types.get(slot_name), slot)
    every_slot_ok = all(answer.can_fulfill == CanFulfillSlotValues.YES for answer in answers.values())
    verdict = CanFulfillIntentValues.YES if every_slot_ok else CanFulfillIntentValues.NO
    builder.set_can_fulfill_intent(CanFulfillIntent(can_fulfill=verdict, slots=answers or None))
    return builder.response


def slot_answer(model: InteractionModel, slot_type: str | None, slot: Any) -> CanFulfillSlot:
    if slot_type is None:
        understood = False
    elif slot_type == DURATION_TYPE:
        understood = slot.value.startswith(ISO_DURATION_PREFIX)
    else:
        value_id = resolved_slot_id(slot) or model.value_id(slot_type, slot.value)
        understood = value_id is not None
    return CanFulfillSlot(
        can_understand=CanUnderstandSlotValues.YES if understood else CanUnderstandSlotValues.NO,
        can_fulfill=CanFulfillSlotValues.YES if understood else CanFulfillSlotValues.NO,
    )
