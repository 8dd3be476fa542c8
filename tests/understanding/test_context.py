"""Context that follows the conversation (issue 9 item 5), over real HTTP; asserts message ids and state."""

from __future__ import annotations

import re
from typing import Any

import pytest

from skill.speech.content import ContentLibrary, plain_text
from tests.support.alexa import AlexaClient

CONTENT = ContentLibrary.load().locale("en-US")
SUB_DMER = re.compile(r"<sub alias=(['\"])dee mer\1>D-MER</sub>")


def attrs(answer: dict[str, Any]) -> dict[str, Any]:
    return answer.get("sessionAttributes") or {}


def last_message(answer: dict[str, Any]) -> str | None:
    return attrs(answer).get("last_message")


def speech(answer: dict[str, Any]) -> str:
    return (answer["response"].get("outputSpeech") or {}).get("ssml") or ""


def says(answer: dict[str, Any], message_id: str) -> bool:
    return any(variant in speech(answer) for variant in CONTENT.variants(message_id))


def test_what_can_i_do_right_after_dmer_is_dmer_coping(alexa: AlexaClient) -> None:
    alexa.launch()
    assert last_message(alexa.intent("DmerIntent")) == "dmer.about"
    for intent in ("AMAZON.HelpIntent", "AnotherTipIntent"):  # "what can I do", "what else can I do"
        alexa.session = None
        alexa.launch()
        alexa.intent("DmerIntent")
        coping = alexa.intent(intent)
        assert last_message(coping) == "dmer.coping", intent
        assert attrs(coping).get("heard_tips") in (None, [])  # no let-down tip was given instead


def test_what_can_i_do_elsewhere_is_help_or_a_tip(alexa: AlexaClient) -> None:
    alexa.launch()
    assert last_message(alexa.intent("AMAZON.HelpIntent")) == "help.main"
    alexa.intent("AboutLetDownIntent")
    assert last_message(alexa.intent("AnotherTipIntent")).startswith("tip.")


def test_offer_after_a_non_tip_answer_is_a_first_tip(alexa: AlexaClient) -> None:
    alexa.launch()
    about = alexa.intent("AboutLetDownIntent")
    assert says(about, "offer.first_tip") or attrs(about)["last_offer"] == "more"
    more = alexa.intent("TellMeMoreIntent")  # the long form, then the tip offer
    assert attrs(more)["last_offer"] == "next_tip"
    assert says(more, "offer.first_tip") and not says(more, "offer.next_tip")
    tip = alexa.intent("AMAZON.YesIntent")
    assert last_message(tip) == "tip.relax"
    signs = alexa.intent("LetDownSignsIntent")
    long_signs = alexa.intent("TellMeMoreIntent") if attrs(signs)["last_offer"] == "more" else signs
    assert says(long_signs, "offer.next_tip")  # a tip was heard: now it is "another tip"


def test_tell_me_more_after_dmer_gives_the_fuller_dmer_answer(alexa: AlexaClient) -> None:
    alexa.launch()
    first = alexa.intent("DmerIntent")
    assert attrs(first)["last_offer"] == "more"
    more = alexa.intent("TellMeMoreIntent")
    assert last_message(more) == "dmer.about" and attrs(more)["last_form"] == "long"
    assert CONTENT.variants("dmer.about", "long")[0] in speech(more)


def test_first_dmer_answer_points_to_a_provider(alexa: AlexaClient) -> None:
    alexa.launch()
    first = alexa.intent("DmerIntent")
    assert says(first, "dmer.provider_pointer")
    assert "988" in speech(first)  # D-MER answers keep offering the crisis line


def test_dmer_answer_says_what_the_letters_stand_for(alexa: AlexaClient) -> None:
    alexa.launch()
    for _ in range(4):  # every variant
        answer = alexa.intent("DmerIntent")
        assert "dysphoric milk ejection reflex" in plain_text(speech(answer)).lower()


@pytest.mark.parametrize("intent", ["WhisperOnIntent", "WhisperOffIntent"])
def test_whisper_keeps_an_open_session_open(alexa: AlexaClient, intent: str) -> None:
    alexa.launch()
    answer = alexa.intent(intent)
    assert last_message(answer) in ("whisper.on", "whisper.off")
    assert answer["response"]["shouldEndSession"] is False
    assert answer["response"]["reprompt"]
    assert alexa.session is not None


@pytest.mark.parametrize("intent", ["WhisperOnIntent", "WhisperOffIntent"])
def test_whisper_as_a_one_shot_ends(alexa: AlexaClient, intent: str) -> None:
    answer = alexa.intent(intent)  # "ask let down helper to whisper": a new session
    assert answer["response"]["shouldEndSession"] is True


def test_sore_nipple_answer_names_lanolin() -> None:
    for variant in CONTENT.variants("tip.pain"):
        assert "lanolin" in variant


def test_dmer_is_never_spelled_letter_by_letter() -> None:
    """Every D-MER in spoken content is wrapped in <sub alias="dee mer">; none is left bare."""
    bare = []
    for message_id in CONTENT.message_ids():
        for form in ("text", "long", "reprompt"):
            if not CONTENT.has(message_id, form):
                continue
            for variant in CONTENT.variants(message_id, form):
                if "D-MER" in SUB_DMER.sub("", variant) or re.search(r"\bd\.? ?mer\b", variant, re.I):
                    bare.append(f"{message_id} ({form}): {variant}")
    assert not bare, "\n".join(bare)
    assert any(SUB_DMER.search(v) for v in CONTENT.variants("dmer.about"))
