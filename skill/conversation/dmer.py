"""D-MER (dysphoric milk ejection reflex): what it is, coping, when to see a provider.

The flow: "what is D-MER" → the short answer and an offer of more → the long answer → on "more", the
coping tips → on "more", their long form together with when to talk with a provider → an offer of
breathing.
Crisis wording never reaches here: safety routing runs first (see skill.conversation.safety).
"""

from __future__ import annotations

from collections.abc import Mapping

DMER_INTENTS: Mapping[str, str] = {"DmerIntent": "dmer.about", "DmerCopingIntent": "dmer.coping"}

# After a message's long form, "tell me more" continues with the next part of the D-MER guide.
FOLLOW_ONS: Mapping[str, str] = {"dmer.about": "dmer.coping"}
# Statements that always go with a message's form (said after it, before any offer).
# The first D-MER answer points to a provider (and the crisis line) in one line.
COMPANIONS: Mapping[tuple[str, str], str] = {
    ("dmer.about", "text"): "dmer.provider_pointer",
    ("dmer.coping", "long"): "dmer.provider",
}
# "What can I do?" (another tip) right after the D-MER answer means: what can I do about D-MER.
CONTEXT_REDIRECTS: Mapping[str, str] = {"dmer.about": "dmer.coping"}


def redirect_after(last_message: object) -> str | None:
    """The answer a generic "what can I do / another tip" means right after `last_message`, if special."""
    return CONTEXT_REDIRECTS.get(last_message) if isinstance(last_message, str) else None


def follow_on(message_id: str) -> str | None:
    return FOLLOW_ONS.get(message_id)


def companion(message_id: str, form: str) -> str | None:
    return COMPANIONS.get((message_id, form))
