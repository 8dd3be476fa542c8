"""Multi-turn conversations through the real HTTP endpoint (signed requests, live server, SQLite).

Assertions are on message ids and session state, never on prose. Every response is also checked against
Alexa's rules: SSML parses with allowed tags only and stays under 8,000 characters; a question keeps the
session open with a reprompt; a first answer stays within 35 words (plus a short offer question).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest

from skill.alexa.handlers.conversation import StopHandler
from skill.conversation import guidance
from skill.speech.content import ALLOWED_TAGS, MAX_SPEECH_CHARS, ContentLibrary, parse_ssml, plain_text, tag_name
from skill.speech.render import WHISPER_OPEN
from tests.support.alexa import AlexaClient, envelope, intent_request, new_session, resolved_slot

FIRST_ANSWER_MAX_WORDS = 35
LONG_TEXT_MESSAGES = {"letdown.routine_spoken"}
TIP_MESSAGES = {guidance.tip_message(tip) for tip in guidance.TIP_IDS}
SAFETY_INTENTS = {"CrisisIntent": "safety.crisis", "PhysicalRedFlagIntent": "safety.physical",
                  "LowMoodIntent": "safety.low_mood", "HarmFearIntent": "safety.harm_fear",
                  "BabyHealthIntent": "safety.baby_health"}  # fmt: skip

CONTENT = ContentLibrary.load().locale("en-US")
OFFER_MAX_WORDS = max(
    len(plain_text(variant).split())
    for offer in ("offer.next_tip", "offer.more", "offer.breathing")
    for variant in CONTENT.variants(offer)
)


# --- checking every response ------------------------------------------------------------------------------


def speech_ssml(answer: dict[str, Any]) -> str | None:
    return (answer.get("response", {}).get("outputSpeech") or {}).get("ssml")


def reprompt_ssml(answer: dict[str, Any]) -> str | None:
    return ((answer.get("response", {}).get("reprompt") or {}).get("outputSpeech") or {}).get("ssml")


def attrs(answer: dict[str, Any]) -> dict[str, Any]:
    return answer.get("sessionAttributes") or {}


def last_message(answer: dict[str, Any]) -> str | None:
    return attrs(answer).get("last_message")


def ends(answer: dict[str, Any]) -> bool | None:
    return answer["response"].get("shouldEndSession")


def check_ssml(ssml: str) -> None:
    assert ssml.startswith("<speak>") and ssml.endswith("</speak>")
    assert len(ssml) < MAX_SPEECH_CHARS
    tags = {tag_name(element) for element in parse_ssml(ssml).iter()}
    assert tags <= ALLOWED_TAGS, tags - ALLOWED_TAGS


def check_response(answer: dict[str, Any]) -> dict[str, Any]:
    ssml, reprompt = speech_ssml(answer), reprompt_ssml(answer)
    assert len(json.dumps(answer)) < 24 * 1024
    if ssml is None:
        return answer
    check_ssml(ssml)
    if reprompt is not None:
        check_ssml(reprompt)
    speech = plain_text(ssml)
    if speech.endswith("?") or ends(answer) is False:
        assert ends(answer) is False, f"a question must keep the session open: {last_message(answer)}"
        assert reprompt, f"an open session needs a reprompt: {last_message(answer)}"
    message = last_message(answer)
    if attrs(answer).get("last_form") != "long" and message not in LONG_TEXT_MESSAGES:
        assert len(speech.split()) <= FIRST_ANSWER_MAX_WORDS + OFFER_MAX_WORDS, message
    return answer


class CheckedEcho:
    """The signed Alexa client, checking every answer against the rules above."""

    def __init__(self, client: AlexaClient) -> None:
        self.client = client

    def launch(self) -> dict[str, Any]:
        return check_response(self.client.launch())

    def intent(self, name: str, **slots: str | None) -> dict[str, Any]:
        return check_response(self.client.intent(name, **slots))

    def intent_with(self, request: dict[str, Any]) -> dict[str, Any]:
        return check_response(self.client.intent_with(request))


@pytest.fixture
def echo(alexa: AlexaClient) -> CheckedEcho:
    return CheckedEcho(alexa)


def database_rows(service_env: dict[str, str]) -> list[str]:
    path = service_env["LETDOWN_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        return list(connection.iterdump())


def speaks_variant_of(answer: dict[str, Any], message_id: str, form: str = "text") -> bool:
    ssml = speech_ssml(answer) or ""
    return any(variant in ssml for variant in CONTENT.variants(message_id, form))


# --- launch, tips, tell me more, stop ---------------------------------------------------------------------


def test_first_launch_then_returning(echo: CheckedEcho) -> None:
    first = echo.launch()
    assert last_message(first) == "launch.first"
    assert ends(first) is False and reprompt_ssml(first)
    goodbye = echo.intent("AMAZON.StopIntent")
    assert last_message(goodbye) == "goodbye" and ends(goodbye) is True
    assert last_message(echo.launch()) == "launch.returning"
    assert last_message(echo.launch()) == "launch.returning"


def test_tip_story(echo: CheckedEcho) -> None:
    echo.launch()
    relax = echo.intent("RelaxTipIntent")
    assert last_message(relax) == "tip.relax"
    assert attrs(relax)["heard_tips"] == ["relax"]
    assert attrs(relax)["last_offer"] == "more"
    another = echo.intent("AnotherTipIntent")
    assert last_message(another) in TIP_MESSAGES - {"tip.relax"}
    assert len(attrs(another)["heard_tips"]) == 2
    more = echo.intent("TellMeMoreIntent")
    assert last_message(more) == last_message(another)
    assert attrs(more)["last_form"] == "long"
    assert speaks_variant_of(more, last_message(another), "long")
    assert attrs(more)["last_offer"] == "next_tip"
    nothing_more = echo.intent("TellMeMoreIntent")
    assert last_message(nothing_more) == "more.nothing"
    stop = echo.intent("AMAZON.StopIntent")
    assert last_message(stop) == "goodbye" and ends(stop) is True
    assert not stop["response"].get("directives")


def test_another_tip_cycles_without_repeats_then_all_heard(echo: CheckedEcho) -> None:
    echo.launch()
    spoken = [last_message(echo.intent("AnotherTipIntent")) for _ in guidance.TIP_IDS]
    assert sorted(spoken) == sorted(TIP_MESSAGES)
    all_heard = echo.intent("AnotherTipIntent")
    assert last_message(all_heard) == "tip.all_heard"
    assert attrs(all_heard)["last_offer"] == "breathing"
    assert ends(all_heard) is False
    again = echo.intent("AMAZON.StartOverIntent")
    assert last_message(again) == "tip.relax"
    assert attrs(again)["heard_tips"] == ["relax"]


def test_named_tips_and_topics(echo: CheckedEcho) -> None:
    echo.launch()
    for intent_name, tip_id in guidance.TIP_INTENTS.items():
        assert last_message(echo.intent(intent_name)) == f"tip.{tip_id}"
    request = intent_request("TipIntent")
    request["intent"]["slots"] = {"topic": resolved_slot("topic", "tugging", "massage")}
    resolved = echo.intent_with(request)
    assert last_message(resolved) == "tip.massage"
    by_synonym = echo.intent("TipIntent", topic="a warm washcloth")  # no entity resolution sent
    assert last_message(by_synonym) == "tip.warmth"
    unknown = echo.intent("TipIntent", topic="quantum physics")
    assert last_message(unknown) == "tip.topics"
    assert ends(unknown) is False


def test_tip_intent_without_topic_gives_the_next_tip(echo: CheckedEcho) -> None:
    echo.launch()
    echo.intent("RelaxTipIntent")
    assert last_message(echo.intent("TipIntent")) == "tip.comfort"


def test_understanding_the_let_down(echo: CheckedEcho) -> None:
    echo.launch()
    for intent_name, message_id in guidance.ABOUT_INTENTS.items():
        answer = echo.intent(intent_name)
        assert last_message(answer) == message_id
        assert attrs(answer)["last_offer"] == "more"
        longer = echo.intent("AMAZON.YesIntent")
        assert last_message(longer) == message_id and attrs(longer)["last_form"] == "long"


def test_reassurance(echo: CheckedEcho) -> None:
    echo.launch()
    answer = echo.intent("ReassuranceIntent")
    assert last_message(answer) == "reassure.no_right_way"
    longer = echo.intent("TellMeMoreIntent")
    assert attrs(longer)["last_form"] == "long"
    assert attrs(longer)["last_offer"] == "breathing"


# --- D-MER ------------------------------------------------------------------------------------------------


def test_dmer_story(echo: CheckedEcho) -> None:
    echo.launch()
    about = echo.intent("DmerIntent")
    assert last_message(about) == "dmer.about" and attrs(about)["last_offer"] == "more"
    longer = echo.intent("AMAZON.YesIntent")
    assert last_message(longer) == "dmer.about" and attrs(longer)["last_form"] == "long"
    coping = echo.intent("AMAZON.YesIntent")
    assert last_message(coping) == "dmer.coping" and "last_form" not in attrs(coping)
    coping_long = echo.intent("TellMeMoreIntent")
    assert last_message(coping_long) == "dmer.coping"
    assert speaks_variant_of(coping_long, "dmer.provider")
    assert attrs(coping_long)["last_offer"] == "breathing"
    declined = echo.intent("AMAZON.NoIntent")
    assert last_message(declined) == "no.ack" and ends(declined) is False


def test_dmer_coping_directly(echo: CheckedEcho) -> None:
    echo.launch()
    assert last_message(echo.intent("DmerCopingIntent")) == "dmer.coping"


# --- safety -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("intent_name", "message_id"), sorted(SAFETY_INTENTS.items()))
def test_each_safety_route_answers_alone(echo: CheckedEcho, intent_name: str, message_id: str) -> None:
    echo.launch()
    echo.intent("RelaxTipIntent")
    answer = echo.intent(intent_name)
    assert last_message(answer) == message_id
    assert attrs(answer)["last_offer"] is None
    assert speaks_variant_of(answer, message_id)
    ssml = speech_ssml(answer) or ""
    for tip in TIP_MESSAGES:
        assert not any(variant in ssml for variant in CONTENT.variants(tip))
    for offer in ("offer.next_tip", "offer.more", "offer.breathing"):
        assert not any(variant in ssml for variant in CONTENT.variants(offer))
    assert ends(answer) is (not CONTENT.has(message_id, "reprompt"))


def test_safety_answer_can_be_repeated(echo: CheckedEcho) -> None:
    echo.launch()
    crisis = echo.intent("CrisisIntent")
    assert CONTENT.has("safety.crisis", "reprompt") and ends(crisis) is False  # stays open to be repeated
    again = echo.intent("AMAZON.RepeatIntent")
    assert speech_ssml(again) == speech_ssml(crisis)
    assert last_message(again) == "safety.crisis"


@pytest.mark.parametrize(
    ("intent_name", "slot", "spoken", "message_id"),
    [
        ("TipIntent", "topic", "I want to hurt myself", "safety.crisis"),
        ("PlayTrackIntent", "track", "something for when I feel hopeless", "safety.crisis"),
        ("TipIntent", "topic", "a fever and a hot red breast", "safety.physical"),
        ("TipIntent", "topic", "being depressed", "safety.low_mood"),
    ],
)
def test_red_flag_words_in_any_slot_route_to_safety_first(
    echo: CheckedEcho, intent_name: str, slot: str, spoken: str, message_id: str
) -> None:
    echo.launch()
    answer = echo.intent(intent_name, **{slot: spoken})
    assert last_message(answer) == message_id
    assert not answer["response"].get("directives")


# --- built-ins --------------------------------------------------------------------------------------------


def test_help_and_fallback_keep_the_session_open(echo: CheckedEcho) -> None:
    echo.launch()
    help_answer = echo.intent("AMAZON.HelpIntent")
    assert last_message(help_answer) == "help.main"
    assert ends(help_answer) is False and reprompt_ssml(help_answer)
    fallback = echo.intent("AMAZON.FallbackIntent")
    assert last_message(fallback) == "fallback.main"
    assert ends(fallback) is False and reprompt_ssml(fallback)


def test_repeat_replays_the_last_answer(echo: CheckedEcho) -> None:
    nothing = echo.intent("AMAZON.RepeatIntent")  # a new session: nothing said yet
    assert last_message(nothing) == "repeat.nothing"
    tip = echo.intent("PainTipIntent")
    again = echo.intent("AMAZON.RepeatIntent")
    assert speech_ssml(again) == speech_ssml(tip)
    assert reprompt_ssml(again) == reprompt_ssml(tip)
    assert last_message(again) == "tip.pain"
    assert attrs(again)["last_offer"] == attrs(tip)["last_offer"]


def test_yes_and_no_answer_the_offer(echo: CheckedEcho) -> None:
    launch = echo.launch()
    assert attrs(launch)["last_offer"] is None
    assert last_message(echo.intent("AMAZON.YesIntent")) == "fallback.main"  # nothing was offered
    echo.intent("WarmthTipIntent")
    echo.intent("TellMeMoreIntent")  # offers another tip
    next_tip = echo.intent("AMAZON.YesIntent")
    assert last_message(next_tip) in TIP_MESSAGES - {"tip.warmth"}
    declined = echo.intent("AMAZON.NoIntent")
    assert last_message(declined) == "no.ack"
    assert attrs(declined)["last_offer"] is None
    goodbye = echo.intent("AMAZON.NoIntent")  # no offer open: no means we're done
    assert last_message(goodbye) == "goodbye" and ends(goodbye) is True


def test_yes_to_breathing_does_what_breathing_intent_does(alexa: AlexaClient, echo: CheckedEcho) -> None:
    echo.launch()
    echo.intent("ReassuranceIntent")
    echo.intent("TellMeMoreIntent")  # offers breathing
    accepted = echo.intent("AMAZON.YesIntent")
    alexa.session = None
    direct = echo.intent("BreathingIntent")
    assert last_message(accepted) == last_message(direct)
    assert ends(accepted) == ends(direct)
    assert [d["type"] for d in accepted["response"].get("directives", [])] == [
        d["type"] for d in direct["response"].get("directives", [])
    ]


def test_navigate_home_and_start_over(echo: CheckedEcho) -> None:
    echo.launch()
    home = echo.intent("AMAZON.NavigateHomeIntent")
    assert last_message(home) == "home.main" and ends(home) is False
    echo.intent("AnotherTipIntent")
    echo.intent("AnotherTipIntent")
    restart = echo.intent("AMAZON.StartOverIntent")
    assert last_message(restart) == "tip.relax" and attrs(restart)["heard_tips"] == ["relax"]


def test_next_and_previous_without_a_track(echo: CheckedEcho) -> None:
    echo.launch()
    tip = echo.intent("AMAZON.NextIntent")
    assert last_message(tip) == "tip.relax"
    back = echo.intent("AMAZON.PreviousIntent")
    assert speech_ssml(back) == speech_ssml(tip)


def test_stop_and_cancel_end_the_session(echo: CheckedEcho) -> None:
    for name in ("AMAZON.StopIntent", "AMAZON.CancelIntent"):
        echo.launch()
        answer = echo.intent(name)
        assert last_message(answer) == "goodbye" and ends(answer) is True


def test_stop_handler_stops_a_playing_device() -> None:
    """Playback's handlers answer Stop while audio sounds; this handler still stops the player if reached."""
    from ask_sdk_core.attributes_manager import AttributesManager
    from ask_sdk_core.handler_input import HandlerInput
    from ask_sdk_core.serialize import DefaultSerializer
    from ask_sdk_model import RequestEnvelope

    from skill.alexa.deps import SkillDeps
    from skill.alexa.interceptors import LocaleContentInterceptor
    from skill.config import Config

    class NoStore:  # persistence is not under test here: an unreachable database reads as empty
        def get_attributes(self, request_envelope: Any) -> dict:
            return {}

    built = envelope(intent_request("AMAZON.StopIntent"), new_session(), player_state={"playerActivity": "PLAYING"})
    request_envelope = DefaultSerializer().deserialize(json.dumps(built), RequestEnvelope)
    handler_input = HandlerInput(
        request_envelope=request_envelope,
        attributes_manager=AttributesManager(request_envelope=request_envelope, persistence_adapter=NoStore()),
    )
    deps = SkillDeps.load(Config.from_env({}))
    LocaleContentInterceptor(deps).process(handler_input)  # as the skill runs it before every handler
    handler = StopHandler(deps)
    assert handler.can_handle(handler_input)
    response = handler.handle(handler_input)
    assert [directive.object_type for directive in response.directives] == ["AudioPlayer.Stop"]
    assert response.should_end_session is True


# --- whisper ------------------------------------------------------------------------------------------------


def test_whisper_preference_persists_across_sessions(echo: CheckedEcho, alexa: AlexaClient) -> None:
    echo.launch()
    on = echo.intent("WhisperOnIntent")
    assert last_message(on) == "whisper.on"
    assert (speech_ssml(on) or "").startswith(f"<speak>{WHISPER_OPEN}")
    alexa.session = None
    later = echo.launch()
    assert (speech_ssml(later) or "").startswith(f"<speak>{WHISPER_OPEN}")
    assert (reprompt_ssml(later) or "").startswith(f"<speak>{WHISPER_OPEN}")
    off = echo.intent("WhisperOffIntent")
    assert last_message(off) == "whisper.off"
    assert WHISPER_OPEN not in (speech_ssml(off) or "")
    alexa.session = None
    assert WHISPER_OPEN not in (speech_ssml(echo.launch()) or "")


# --- name-free: CanFulfillIntentRequest ---------------------------------------------------------------------


def can_fulfill(alexa: AlexaClient, intent: dict[str, Any]) -> dict[str, Any]:
    session = {**new_session(), "attributes": {"last_message": "tip.relax"}}
    reply = alexa.send(envelope({"type": "CanFulfillIntentRequest", "intent": intent}, session))
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert "outputSpeech" not in answer["response"] and "reprompt" not in answer["response"]
    assert "shouldEndSession" not in answer["response"]
    assert attrs(answer) in ({}, {"last_message": "tip.relax"})  # the session is echoed untouched
    return answer["response"]["canFulfillIntent"]


def test_can_fulfill_intent_request_has_no_side_effects(
    alexa: AlexaClient, echo: CheckedEcho, service_env: dict[str, str]
) -> None:
    echo.launch()
    echo.intent("WhisperOnIntent")
    before = database_rows(service_env)

    def slot(name: str, value: str) -> dict[str, Any]:
        return {name: {"name": name, "value": value}}

    assert can_fulfill(alexa, {"name": "TipIntent", "slots": slot("topic", "heat")}) == {
        "canFulfill": "YES", "slots": {"topic": {"canUnderstand": "YES", "canFulfill": "YES"}}
    }  # fmt: skip
    unknown_topic = can_fulfill(alexa, {"name": "TipIntent", "slots": slot("topic", "taxes")})
    assert unknown_topic["canFulfill"] == "NO"
    assert unknown_topic["slots"]["topic"] == {"canUnderstand": "NO", "canFulfill": "NO"}
    assert can_fulfill(alexa, {"name": "BreathingIntent", "slots": slot("duration", "PT5M")})["canFulfill"] == "YES"
    assert can_fulfill(alexa, {"name": "RelaxTipIntent", "slots": {}}) == {"canFulfill": "YES"}
    assert can_fulfill(alexa, {"name": "OrderPizzaIntent", "slots": {}}) == {"canFulfill": "NO"}
    assert can_fulfill(alexa, {"name": "AMAZON.HelpIntent", "slots": {}}) == {"canFulfill": "NO"}
    assert database_rows(service_env) == before


# --- lifecycle and errors ---------------------------------------------------------------------------


def test_session_end_and_device_errors_get_no_speech(echo: CheckedEcho, alexa: AlexaClient) -> None:
    echo.launch()
    ended = alexa.end_session("EXCEEDED_MAX_REPROMPTS")
    assert "outputSpeech" not in ended.get("response", {})
    reported = alexa.event(
        "System.ExceptionEncountered",
        error={"type": "INVALID_RESPONSE", "message": "test"},
        cause={"requestId": "amzn1.echo-api.request.1"},
    )
    assert "outputSpeech" not in reported.get("response", {})


def test_a_failing_handler_gets_a_brief_apology(echo: CheckedEcho, monkeypatch: pytest.MonkeyPatch) -> None:
    echo.launch()

    def broken(*args: Any) -> None:
        raise RuntimeError("simulated failure inside the conversation logic")

    monkeypatch.setattr(guidance, "more_reply", broken)  # the live server runs in this process
    answer = echo.intent("TellMeMoreIntent")
    assert last_message(answer) == "error.generic"
    assert ends(answer) is False and reprompt_ssml(answer)
    assert "RuntimeError" not in json.dumps(answer)


def test_client_supplied_session_junk_is_ignored(alexa: AlexaClient) -> None:
    alexa.session = {
        **new_session(),
        "new": False,
        "attributes": {"heard_tips": "everything", "last_offer": "lottery", "last_message": ["x"]},
    }
    tip = check_response(alexa.intent("AnotherTipIntent"))
    assert last_message(tip) == "tip.relax" and attrs(tip)["heard_tips"] == ["relax"]
    alexa.session = {**new_session(), "new": False, "attributes": {"last_offer": "lottery"}}
    assert last_message(check_response(alexa.intent("AMAZON.YesIntent"))) == "fallback.main"


def test_device_without_audio_player_is_never_a_dead_end(alexa: AlexaClient, echo: CheckedEcho) -> None:
    alexa.audio_player = False
    echo.launch()
    routine = echo.intent("LetDownIntent")
    assert not routine["response"].get("directives")
    assert ends(routine) is False and reprompt_ssml(routine)


def test_database_rows_hold_no_conversation(echo: CheckedEcho, service_env: dict[str, str]) -> None:
    echo.launch()
    echo.intent("DmerIntent")
    echo.intent("CrisisIntent")
    dump = "\n".join(database_rows(service_env))
    for private in ("dmer", "safety", "crisis", "heard_tips", "last_message"):
        assert private not in dump
