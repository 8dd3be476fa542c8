"""Builds the ask-sdk skill: handlers from each area, the persistence adapter, the catch-all error handler."""

from __future__ import annotations

from ask_sdk_core.skill import CustomSkill
from ask_sdk_core.skill_builder import CustomSkillBuilder

from skill.alexa.deps import SkillDeps
from skill.alexa.handlers import coach, conversation, lifecycle, playback
from skill.storage import AttributeStore


def build_skill(deps: SkillDeps, store: AttributeStore) -> CustomSkill:
    builder = CustomSkillBuilder(persistence_adapter=store)
    # Lifecycle first (SkillDisabled, SessionEnded, …), then the coach (its answers while it is active),
    # then playback (its events carry no session), then the conversation, whose intents are the rest.
    # Safety wins over everything: red-flag words in any slot are answered before any other handler.
    for handler in conversation.safety_first_handlers(deps):
        builder.add_request_handler(handler)
    for module in (lifecycle, coach, playback, conversation):
        for handler in module.request_handlers(deps):
            builder.add_request_handler(handler)
    for exception_handler in lifecycle.exception_handlers(deps):
        builder.add_exception_handler(exception_handler)
    return builder.create()
