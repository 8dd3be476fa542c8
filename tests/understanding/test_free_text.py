"""The free-text second stage and the fallback's safety line, over real HTTP (signed requests, live server),
and the tools' path against the device's path: the same answer either way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from skill.app import create_app
from skill.config import Config
from skill.conversation.safety import ROUTE_INTENTS
from skill.speech.content import ContentLibrary, plain_text
from skill.tools import simulator
from skill.understanding.resolver import FREE_TEXT_INTENT
from tests.support.alexa import AlexaClient, service_environment

CONTENT = ContentLibrary.load().locale("en-US")
SAFETY_LINE = {plain_text(variant) for variant in CONTENT.variants("fallback.safety_line")}
DEV = yaml.safe_load((Path(__file__).parent / "dev_utterances.yaml").read_text(encoding="utf-8"))["utterances"]


def last_message(answer: dict[str, Any]) -> str | None:
    return (answer.get("sessionAttributes") or {}).get("last_message")


def speech(answer: dict[str, Any]) -> str:
    return plain_text((answer["response"].get("outputSpeech") or {}).get("ssml") or "")


def ends_with_safety_line(answer: dict[str, Any]) -> bool:
    return any(speech(answer).endswith(line) for line in SAFETY_LINE)


@pytest.mark.parametrize(
    ("query", "message_id"),
    [
        ("I keep thinking everyone would be better off without me", "safety.crisis"),
        ("I just want to go to sleep and not wake up", "safety.crisis"),
        ("there's no point in living", "safety.crisis"),
        ("I have a temperature and my breast is burning", "safety.physical"),
        ("I've been feeling low for weeks", "safety.low_mood"),
    ],
)
def test_free_text_carrying_a_safety_text_gets_the_safety_answer(
    alexa: AlexaClient, query: str, message_id: str
) -> None:
    alexa.launch()
    answer = alexa.intent(FREE_TEXT_INTENT, query=query)
    assert last_message(answer) == message_id
    assert not answer["response"].get("directives")
    assert (answer["sessionAttributes"] or {}).get("last_offer") is None  # spoken alone, no tip offered


def test_a_safety_text_in_any_free_text_sibling_wins(alexa: AlexaClient) -> None:
    answer = alexa.intent("FreeTextFeelIntent", query="I want to disappear")
    assert last_message(answer) == "safety.crisis"


def test_a_sibling_puts_its_words_back_before_safety_and_resolution(alexa: AlexaClient) -> None:
    """A device sends only {query}: the sibling intent says which words came before it."""
    baby = alexa.intent("FreeTextBabyIntent", query="won't wake up to eat")
    assert last_message(baby) == "safety.baby_health"
    why = alexa.intent("FreeTextWhyIntent", query="does my milk let down")
    assert last_message(why) == "about.letdown"


def test_a_family_sibling_puts_back_its_first_word(alexa: AlexaClient) -> None:
    """ "temperature …", "a fever …", "feverish …" are one intent: the rest is read after "a fever"."""
    assert last_message(alexa.intent("FreeTextFeverIntent", query="and my boob is red and sore")) == "safety.physical"
    assert last_message(alexa.intent("FreeTextHasntIntent", query="had a wet nappy all day")) == "safety.baby_health"
    assert last_message(alexa.intent("FreeTextScaredIntent", query="I might hurt the baby")) == "safety.harm_fear"


def test_free_text_resolves_to_the_content_answer(alexa: AlexaClient) -> None:
    alexa.launch()
    sore = alexa.intent(FREE_TEXT_INTENT, query="um my nipples are really sore")
    assert last_message(sore) == "tip.pain"
    assert sore["sessionAttributes"]["heard_tips"] == ["pain"]  # the tip handler itself answered
    dmer = alexa.intent(FREE_TEXT_INTENT, query="I get a rush of sadness when the milk comes")
    assert last_message(dmer) == "dmer.about"


@pytest.mark.parametrize(
    "request_intent",
    [
        {"name": "AMAZON.FallbackIntent"},
        {"name": "SomeIntentNobodyAnswers"},
        {"name": FREE_TEXT_INTENT, "query": "how tall is the eiffel tower"},
        {"name": FREE_TEXT_INTENT, "query": ""},
        {"name": FREE_TEXT_INTENT},
    ],
    ids=["fallback", "unmatched", "free-text-nothing", "free-text-empty", "free-text-no-slot"],
)
def test_every_fallback_ends_with_the_safety_line(alexa: AlexaClient, request_intent: dict[str, str]) -> None:
    alexa.launch()
    name = request_intent.pop("name")
    answer = alexa.intent(name, **request_intent)
    assert last_message(answer) == "fallback.main"
    assert ends_with_safety_line(answer), speech(answer)
    assert answer["response"]["shouldEndSession"] is False
    assert answer["response"]["reprompt"]


def test_yes_with_nothing_offered_is_a_fallback_with_the_safety_line(alexa: AlexaClient) -> None:
    alexa.launch()
    answer = alexa.intent("AMAZON.YesIntent")
    assert last_message(answer) == "fallback.main" and ends_with_safety_line(answer)


# --- the tools' path and the device's path --------------------------------------------------------------


def answer_id(answer: dict[str, Any]) -> str | None:
    """What was answered: the spoken message id, or the track of an AudioPlayer.Play."""
    for directive in answer["response"].get("directives") or []:
        token = ((directive.get("audioItem") or {}).get("stream") or {}).get("token")
        if directive.get("type") == "AudioPlayer.Play" and token:
            return ":".join(token.split(":")[:2])
    return last_message(answer)


@pytest.fixture(scope="module")
def service(pki, tmp_path_factory: pytest.TempPathFactory):
    """One app for every parity case (an app per case would rebuild the resolver each time)."""
    env = service_environment(pki, tmp_path_factory.mktemp("parity"))
    app = create_app(Config.from_env(env))
    service = app.extensions["letdown"]
    with app.app_context():
        yield service
    service.store.close()


def run(service, request_part: dict[str, Any]) -> dict[str, Any]:
    identity = simulator.DeviceIdentity(
        application_id=simulator.application_id_for(service.config), user_key="parity-check-user"
    )
    envelope = simulator.build_envelope(
        identity, request_part, session=simulator.SessionState.start(), player=simulator.PlayerState()
    )
    return service.invoke(envelope)


@pytest.mark.parametrize("case", DEV, ids=[case["text"] for case in DEV])
def test_tools_and_device_give_the_same_answer(service, case: dict[str, Any]) -> None:
    """A device sends the free-text intent with the words; the tools may resolve directly: same answer."""
    resolver = simulator.load_resolver(service.deps)
    resolution = resolver.resolve(case["text"])
    as_tools = run(service, simulator.intent_request(resolution.intent, resolution.slots))
    as_device = run(service, simulator.intent_request(FREE_TEXT_INTENT, {"query": case["text"]}))
    assert answer_id(as_tools) == answer_id(as_device)
    if case["expect"] in ROUTE_INTENTS:
        assert last_message(as_device) == f"safety.{case['expect']}"
