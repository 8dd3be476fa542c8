"""Builds the ask-sdk skill: handlers from each area, the persistence adapter, the catch-all error handler."""

from __future__ import annotations

from ask_sdk_core.skill import CustomSkill
from ask_sdk_core.skill_builder import CustomSkillBuilder

from skill.alexa.deps import SkillDeps
from skill.alexa.handlers import conversation, lifecycle, playback, understanding
from skill.storage import AttributeStore


def build_skill(deps: SkillDeps, store: AttributeStore) -> CustomSkill:
    builder = CustomSkillBuilder(persistence_adapter=store)
    # Lifecycle first (SkillDisabled, SessionEnded, …), then playback (its events carry no session),
    # then the conversation, whose intents are the rest.
    # Safety wins over everything: a safety intent, or safety words in any slot (the free-text query
    # included), is answered before any other handler. Then the free-text second stage, which hands the
    # intent it resolves to the same handlers that follow it.
    handlers = [handler for module in (lifecycle, playback, conversation) for handler in module.request_handlers(deps)]
    for handler in (
        *understanding.safety_first_handlers(deps),
        *understanding.free_text_handlers(deps, handlers),
        *handlers,
    ):
        builder.add_request_handler(handler)
    for exception_handler in lifecycle.exception_handlers(deps):
        builder.add_exception_handler(exception_handler)
    return builder.create()
