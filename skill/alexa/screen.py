"""Echo Show screens: the breathing document (skill/speech/apl/breathing.json) with its data.

Sent only to devices that declare `Alexa.Presentation.APL`; every other device gets exactly what it got
before. The circle's timing is the pacing tone's, read from the track catalog's [track.pattern].
"""

from __future__ import annotations

import math
from typing import Any

from ask_sdk_core.handler_input import HandlerInput
from ask_sdk_core.utils import get_supported_interfaces
from ask_sdk_model.interfaces.alexa.presentation.apl import RenderDocumentDirective

from skill.alexa.deps import SkillDeps
from skill.alexa.interceptors import locale_content
from skill.speech.content import plain_text
from skill.speech.screens import BREATHING_DOCUMENT

SCREEN_TOKEN = "letdown-breathing"
DATASOURCE = "breathing"
# Alexa's voice speaks about 150 words a minute: how long the circle waits for the words before a clip.
SPOKEN_WORDS_PER_S = 2.5
# How long the circle breathes for a clip the catalog does not know (its spoken stand-in is about this long).
UNKNOWN_LENGTH_S = 60.0


def supports_apl(handler_input: HandlerInput) -> bool:
    try:
        interfaces = get_supported_interfaces(handler_input)
    except AttributeError:  # no device in the context
        return False
    return getattr(interfaces, "alexa_presentation_apl", None) is not None


def breathing_data(
    deps: SkillDeps, line: str, step: str, track_id: str | None, lead_s: float = 0.0
) -> dict[str, Any] | None:
    """The document's data: the line, the pattern of `track_id` (or the catalog's first one) in ms, and
    how many breaths to animate: the track's own cycles, else enough to cover the track."""
    pattern = deps.tracks.breathing_pattern(track_id)
    if pattern is None:
        return None
    track = deps.tracks.get(track_id)
    own = track is not None and track.breathing is not None
    covered_s = track.seconds if track is not None else UNKNOWN_LENGTH_S
    cycles = pattern.cycles if own else math.ceil(covered_s / pattern.period_s)
    return {
        DATASOURCE: {
            "type": "object",
            "properties": {
                "instruction": line,
                "step": step,
                "inhaleMs": round(pattern.inhale_s * 1000),
                "exhaleMs": round(pattern.exhale_s * 1000),
                "cycles": max(cycles, 1),
                "startDelayMs": round((lead_s + (pattern.first_in_s if own else 0.0)) * 1000),
            },
        }
    }


def add_breathing_screen(
    handler_input: HandlerInput,
    deps: SkillDeps,
    line_message: str,
    step: str,
    track_id: str | None,
    lead_s: float = 0.0,
) -> bool:
    """Adds the RenderDocument directive on APL devices; True when it did."""
    if not supports_apl(handler_input):
        return False
    line = plain_text(locale_content(handler_input).pick(line_message))
    data = breathing_data(deps, line, step, track_id, lead_s)
    if data is None:
        return False
    document = deps.screens.document(BREATHING_DOCUMENT)
    handler_input.response_builder.add_directive(
        RenderDocumentDirective(token=SCREEN_TOKEN, document=document, datasources=data)
    )
    return True
