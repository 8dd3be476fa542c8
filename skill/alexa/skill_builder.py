"""Builds the ask-sdk skill: handlers from each area, the persistence adapter, the catch-all error handler."""

from __future__ import annotations

from ask_sdk_core.skill import CustomSkill
from ask_sdk_core.skill_builder import CustomSkillBuilder

from skill.alexa.deps import SkillDeps
from skill.alexa.handlers import conversation, lifecycle, playback
from skill.storage import AttributeStore


def build_skill(deps: SkillDeps, store: AttributeStore) -> CustomSkill:
    return build_skill_builder(deps, store).create()


def build_skill_builder(deps: SkillDeps, store: AttributeStore) -> CustomSkillBuilder:
    """The configured builder: `.create()` for the web service, `.lambda_handler()` for AWS Lambda."""
    builder = CustomSkillBuilder(persistence_adapter=store)
    # Lifecycle first (SkillDisabled, SessionEnded, …), then playback (its events carry no session),
    # then the conversation, whose intents are the rest.
    # Safety wins over everything: red-flag words in any slot are answered before any other handler.
    for handler in conversation.safety_first_handlers(deps):
        builder.add_request_handler(handler)
    for module in (lifecycle, playback, conversation):
        for handler in module.request_handlers(deps):
            builder.add_request_handler(handler)
    for exception_handler in lifecycle.exception_handlers(deps):
        builder.add_exception_handler(exception_handler)
    return builder
