"""The one renderer as a unit: message ids (and SSML audio) to speech, reprompt, session end and Repeat memory.

A real ask-sdk HandlerInput around an envelope; the persistence adapter is an in-memory dict (or one
that fails), since storage is not what is under test here.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from ask_sdk_core.attributes_manager import AbstractPersistenceAdapter, AttributesManager
from ask_sdk_core.handler_input import HandlerInput
from ask_sdk_core.serialize import DefaultSerializer
from ask_sdk_model import RequestEnvelope

from skill.speech import render
from skill.speech.content import MAX_SPEECH_CHARS, ContentLibrary, LocaleContent, Message
from skill.speech.offers import Offer
from skill.storage import keys
from tests.support.alexa import envelope, intent_request, new_session


class MemoryStore(AbstractPersistenceAdapter):
    def __init__(self, stored: dict[str, Any] | None = None, *, broken: bool = False) -> None:
        self.stored = dict(stored or {})
        self.broken = broken

    def get_attributes(self, request_envelope: RequestEnvelope) -> dict[str, Any]:
        if self.broken:
            raise RuntimeError("the store is down")
        return dict(self.stored)

    def save_attributes(self, request_envelope: RequestEnvelope, attributes: dict[str, Any]) -> None:
        self.stored = dict(attributes)

    def delete_attributes(self, request_envelope: RequestEnvelope) -> None:
        self.stored = {}


def handler_input(store: MemoryStore | None = None, *, session: bool = True) -> HandlerInput:
    built = envelope(intent_request("AMAZON.HelpIntent"), new_session() if session else None)
    request_envelope = DefaultSerializer().deserialize(json.dumps(built), RequestEnvelope)
    manager = AttributesManager(request_envelope=request_envelope, persistence_adapter=store or MemoryStore())
    return HandlerInput(request_envelope=request_envelope, attributes_manager=manager)


@pytest.fixture(scope="module")
def content() -> LocaleContent:
    return ContentLibrary.load(seed=1).locale("en-US")


def spoken(given: HandlerInput) -> tuple[str, str | None, bool | None]:
    response = given.response_builder.response
    reprompt = response.reprompt.output_speech.ssml if response.reprompt else None
    return response.output_speech.ssml, reprompt, response.should_end_session


def test_speak_appends_the_offer_records_it_and_keeps_the_session_open(content: LocaleContent) -> None:
    given = handler_input()
    render.speak(given, content, "tip.relax", then=Offer.NEXT_TIP.message_id)
    speech, reprompt, ends = spoken(given)
    assert any(speech.endswith(f"{offer}</speak>") for offer in content.variants(Offer.NEXT_TIP.message_id))
    assert reprompt is not None and ends is False
    attributes = given.attributes_manager.session_attributes
    assert (attributes[render.LAST_MESSAGE], attributes[render.LAST_OFFER]) == ("tip.relax", Offer.NEXT_TIP)


def test_without_a_reprompt_the_session_ends(content: LocaleContent) -> None:
    given = handler_input()
    render.speak(given, content, "goodbye")
    assert spoken(given)[1:] == (None, True)


def test_whisper_preference_wraps_speech_and_reprompt(content: LocaleContent) -> None:
    given = handler_input(MemoryStore({keys.WHISPER: True}))
    render.speak(given, content, "help.main", reprompt="help.reprompt")
    speech, reprompt, _ = spoken(given)
    assert speech.startswith(f"<speak>{render.WHISPER_OPEN}") and reprompt is not None
    assert reprompt.startswith(f"<speak>{render.WHISPER_OPEN}")


def test_ssml_audio_whispers_the_words_but_not_the_clip(content: LocaleContent) -> None:
    given = handler_input(MemoryStore({keys.WHISPER: True}))
    render.speak_with_audio(given, content, "letdown.routine", "https://a.example/x.mp3?a=1&b=2", then="offer.next_tip")
    speech, _, ends = spoken(given)
    assert '<audio src="https://a.example/x.mp3?a=1&amp;b=2"/>' in speech
    assert f"{render.WHISPER_OPEN}<audio" not in speech and ends is False


def test_the_apology_never_reads_the_store(content: LocaleContent) -> None:
    given = handler_input(MemoryStore(broken=True))
    render.speak_error(given, content)
    speech, reprompt, ends = spoken(given)
    assert render.WHISPER_OPEN not in speech and reprompt is not None and ends is False
    assert given.attributes_manager.session_attributes[render.LAST_MESSAGE] == render.ERROR_MESSAGE


def test_speech_over_alexas_limit_is_refused() -> None:
    message = Message("huge", "sources.md#dialog", {"text": ("x" * MAX_SPEECH_CHARS,)})
    huge = LocaleContent("en-US", {"huge": message}, {}, random.Random(0))
    with pytest.raises(render.SpeechTooLong):
        render.speak(handler_input(), huge, "huge")


def test_repeat_memory_records_what_was_sent_and_replays_it(content: LocaleContent) -> None:
    given = handler_input()
    render.speak(given, content, "help.main", reprompt="help.reprompt")
    response = given.response_builder.response
    render.record_for_repeat(given, response)
    attributes = given.attributes_manager.session_attributes
    assert attributes[render.LAST_SSML] == render.inner_ssml(response.output_speech.ssml)
    again = handler_input()
    again.attributes_manager.session_attributes.update(attributes)
    assert render.repeat_last(again) is not None
    assert spoken(again)[:2] == spoken(given)[:2]
    assert render.repeat_last(handler_input()) is None  # nothing said in a new session


def test_no_session_means_nothing_is_recorded(content: LocaleContent) -> None:
    given = handler_input(session=False)
    render.speak(given, content, "goodbye")
    render.record_for_repeat(given, given.response_builder.response)
    assert render.session_attributes(given) == {}
