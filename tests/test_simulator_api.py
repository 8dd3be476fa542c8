"""The simulator's JSON API over real HTTP: validation, sessions, AudioPlayer events, and that /alexa is
untouched (still verified) while the simulator is on. Nothing is mocked; tracks are short tone MP3s."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from skill.config import Config
from skill.tools.simulator import (
    MAX_TEXT_CHARS,
    SIMULATED_USER_PREFIX,
    DeviceIdentity,
    MediaLocator,
    SimulatedDevice,
    application_id_for,
    load_resolver,
    speech_segments,
)
from skill.web.app import parse_envelope
from skill.web.verification import check_application_id
from tests.support.alexa import TEST_SKILL_ID, envelope, new_session
from tests.support.browser import write_tone_tracks
from tests.support.pki import TestPKI
from tests.support.server import threaded_server

UTTERANCE = "/simulator/api/utterance"
EVENT = "/simulator/api/event"
END = "/simulator/api/end"
DEVICE = {"user_id": "testbrowser0001", "audio_player": True}


@pytest.fixture
def tone_dir(tmp_path: Path) -> Path:
    write_tone_tracks(tmp_path / "audio", {"breathing-2m": 20.0})
    return tmp_path / "audio"


@pytest.fixture
def simulator_url(make_app: Callable[..., Flask], tone_dir: Path) -> Iterator[str]:
    with threaded_server(make_app(LETDOWN_SIMULATOR="1", LETDOWN_AUDIO_DIR=str(tone_dir))) as base_url:
        yield base_url


def post(base_url: str, path: str, body: Any) -> requests.Response:
    return requests.post(f"{base_url}{path}", json=body, timeout=10)


def say(base_url: str, text: str, session_state: Any = None, **device: Any) -> dict[str, Any]:
    reply = post(base_url, UTTERANCE, {"text": text, "session_state": session_state, "device": {**DEVICE, **device}})
    assert reply.status_code == 200, reply.text
    return reply.json()


def event(base_url: str, event_type: str, token: str, offset_ms: int) -> dict[str, Any]:
    player = {"token": token, "offset_ms": offset_ms, "activity": "PLAYING"}
    body = {
        "type": event_type,
        "token": token,
        "offset_ms": offset_ms,
        "device": {**DEVICE, "player": player},
    }
    reply = post(base_url, EVENT, body)
    assert reply.status_code == 200, reply.text
    return reply.json()


GOOD = {"text": "another tip", "session_state": None, "device": DEVICE}

BAD_UTTERANCES = [
    pytest.param([GOOD], id="array-body"),
    pytest.param({**GOOD, "text": None}, id="text-missing"),
    pytest.param({**GOOD, "text": 42}, id="text-not-a-string"),
    pytest.param({**GOOD, "text": "   "}, id="text-empty"),
    pytest.param({**GOOD, "text": "a" * (MAX_TEXT_CHARS + 1)}, id="text-too-long"),
    pytest.param({**GOOD, "device": "echo"}, id="device-not-an-object"),
    pytest.param({**GOOD, "device": {}}, id="user-id-missing"),
    pytest.param({**GOOD, "device": {"user_id": "short"}}, id="user-id-too-short"),
    pytest.param({**GOOD, "device": {"user_id": "../../etc/passwd"}}, id="user-id-bad-characters"),
    pytest.param({**GOOD, "device": {**DEVICE, "audio_player": "yes"}}, id="audio-player-not-bool"),
    pytest.param({**GOOD, "device": {**DEVICE, "locale": "english"}}, id="locale-not-a-locale"),
    pytest.param({**GOOD, "device": {**DEVICE, "locale": ["en-GB"]}}, id="locale-not-a-string"),
    pytest.param({**GOOD, "device": {**DEVICE, "player": []}}, id="player-not-an-object"),
    pytest.param({**GOOD, "device": {**DEVICE, "player": {"activity": "DANCING"}}}, id="player-activity"),
    pytest.param({**GOOD, "device": {**DEVICE, "player": {"offset_ms": -1}}}, id="offset-negative"),
    pytest.param({**GOOD, "device": {**DEVICE, "player": {"offset_ms": "10"}}}, id="offset-a-string"),
    pytest.param({**GOOD, "device": {**DEVICE, "player": {"offset_ms": True}}}, id="offset-a-bool"),
    pytest.param({**GOOD, "device": {**DEVICE, "player": {"offset_ms": 1e300}}}, id="offset-huge"),
    pytest.param({**GOOD, "device": {**DEVICE, "player": {"token": "t" * 2000}}}, id="token-too-long"),
    pytest.param({**GOOD, "session_state": "abc"}, id="session-not-an-object"),
    pytest.param({**GOOD, "session_state": {"attributes": {}}}, id="session-id-missing"),
    pytest.param({**GOOD, "session_state": {"session_id": "<script>", "attributes": {}}}, id="session-id-bad"),
    pytest.param({**GOOD, "session_state": {"session_id": "s1", "attributes": [1]}}, id="attributes-not-object"),
]


@pytest.mark.parametrize(
    ("locale", "utterance", "intent", "number", "not_number"),
    [
        ("en-GB", "my baby hasn't had a wee all day", "BabyHealthIntent", "999", "911"),
        ("en-AU", "I want to end my life", "CrisisIntent", "13 11 14", "988"),
        ("es-US", "mi bebé tiene fiebre", "BabyHealthIntent", "911", "999"),
        ("es-MX", "me quiero morir", "CrisisIntent", "número local de emergencias", "988"),
        ("en-NZ", "I want to end my life", "CrisisIntent", "your local emergency number", "988"),
    ],
)
def test_the_device_locale_picks_model_words_and_numbers(
    simulator_url: str, locale: str, utterance: str, intent: str, number: str, not_number: str
) -> None:
    reply = post(simulator_url, UTTERANCE, {**GOOD, "text": utterance, "device": {**DEVICE, "locale": locale}})
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert answer["heard"]["intent"] == intent
    assert number in answer["speech"] and not_number not in answer["speech"]


@pytest.mark.parametrize("body", BAD_UTTERANCES)
def test_bad_utterances_are_refused_with_a_reason(simulator_url: str, body: Any) -> None:
    reply = post(simulator_url, UTTERANCE, body)
    assert reply.status_code == 400
    assert reply.json()["error"]


BAD_EVENTS = [
    pytest.param({"type": "AudioPlayer.Dance", "device": DEVICE}, id="unknown-type"),
    pytest.param({"type": "LaunchRequest", "device": DEVICE}, id="not-an-audio-player-event"),
    pytest.param({"type": "AudioPlayer.PlaybackStarted", "offset_ms": "x", "device": DEVICE}, id="offset"),
    pytest.param({"type": "AudioPlayer.PlaybackStarted", "token": ["t"], "device": DEVICE}, id="token"),
    pytest.param({"type": "AudioPlayer.PlaybackFailed", "error": {"x": 1}, "device": DEVICE}, id="error"),
    pytest.param(
        {"type": "AudioPlayer.PlaybackStarted", "device": {**DEVICE, "audio_player": False}},
        id="device-without-audio-player",
    ),
]


@pytest.mark.parametrize("body", BAD_EVENTS)
def test_bad_events_are_refused_with_a_reason(simulator_url: str, body: Any) -> None:
    reply = post(simulator_url, EVENT, body)
    assert reply.status_code == 400
    assert reply.json()["error"]


def test_bodies_that_are_not_json_objects_are_refused(simulator_url: str) -> None:
    for path in (UTTERANCE, EVENT, END):
        not_json = requests.post(
            f"{simulator_url}{path}", data=b"{nope", headers={"Content-Type": "application/json"}, timeout=10
        )
        assert not_json.status_code == 400, path
        # A text/plain post needs no CORS preflight, so another site could send one: it is never read.
        form = requests.post(
            f"{simulator_url}{path}",
            data=json.dumps(GOOD),
            headers={"Content-Type": "text/plain"},
            timeout=10,
        )
        assert form.status_code == 400, path
        assert form.json()["error"]
    wrong_reason = post(simulator_url, END, {"reason": "BORED", "device": DEVICE})
    assert wrong_reason.status_code == 400
    too_big = post(simulator_url, UTTERANCE, {**GOOD, "padding": "x" * 200_000})
    assert too_big.status_code == 413
    assert too_big.json()["error"]
    assert requests.get(f"{simulator_url}{UTTERANCE}", timeout=10).status_code == 405


def test_the_longest_allowed_text_is_accepted(simulator_url: str) -> None:
    reply = say(simulator_url, "tip " * (MAX_TEXT_CHARS // 4))
    assert reply["request_type"] == "IntentRequest"


def test_the_simulator_is_off_in_production_unless_enabled(make_app: Callable[..., Flask]) -> None:
    with threaded_server(make_app(LETDOWN_ENV="production")) as base_url:
        assert requests.get(f"{base_url}/simulator", timeout=10).status_code == 404
        assert post(base_url, UTTERANCE, GOOD).status_code == 404
        assert post(base_url, EVENT, {"type": "AudioPlayer.PlaybackStarted"}).status_code == 404
        assert requests.get(f"{base_url}/simulator/static/simulator.js", timeout=10).status_code == 404
    with threaded_server(
        make_app(LETDOWN_ENV="production", LETDOWN_SIMULATOR="1", LETDOWN_ALLOW_INSECURE="simulator")
    ) as base_url:
        assert requests.get(f"{base_url}/simulator", timeout=10).status_code == 200


def test_alexa_still_rejects_unsigned_requests_while_the_simulator_is_on(
    simulator_url: str, pki: TestPKI, caplog: pytest.LogCaptureFixture
) -> None:
    launch = json.dumps(envelope({"type": "LaunchRequest"}, new_session())).encode()
    unsigned = requests.post(
        f"{simulator_url}/alexa", data=launch, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert unsigned.status_code == 400
    signed = requests.post(
        f"{simulator_url}/alexa",
        data=launch,
        headers={"Content-Type": "application/json", **pki.headers(launch, "valid")},
        timeout=10,
    )
    assert signed.status_code == 200

    # The simulator never goes through /alexa: no /alexa request line is logged for its turns.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="letdown.request"):
        say(simulator_url, "open let down helper")
    assert [r for r in caplog.records if r.name == "letdown.request"] == []


def test_the_page_is_self_contained_and_locked_down(simulator_url: str) -> None:
    page = requests.get(f"{simulator_url}/simulator", timeout=10)
    assert page.status_code == 200
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assets = [page.text]
    for link in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        assert link.startswith(("/", "#", "data:")), f"external reference {link!r}"
        if link.startswith("/simulator/static/"):
            asset = requests.get(f"{simulator_url}{link}", timeout=10)
            assert asset.status_code == 200, link
            assets.append(asset.text)
    assert len(assets) == 3  # the page, its stylesheet and its script
    for text in assets:
        assert not re.search(r"https?://|@import|url\(\s*['\"]?(?!data:)", text), "no external fonts or scripts"


def test_a_session_is_kept_like_a_device_keeps_it(simulator_url: str) -> None:
    opened = say(simulator_url, "open let down helper")
    assert opened["request_type"] == "LaunchRequest"
    assert opened["session_open"] is True
    state = opened["session_state"]

    first = say(simulator_url, "another tip", state)
    second = say(simulator_url, "another tip", first["session_state"])
    assert second["session_state"]["session_id"] == state["session_id"]
    assert len(second["session_attributes"]["heard_tips"]) == 2
    assert first["session_attributes"]["heard_tips"][0] != second["session_attributes"]["heard_tips"][1]

    ended = say(simulator_url, "exit", second["session_state"])
    assert (ended["request_type"], ended["session_ended"], ended["session_state"]) == (
        "SessionEndedRequest",
        "USER_INITIATED",
        None,
    )
    nothing_open = say(simulator_url, "quit")
    assert nothing_open["request_type"] is None and nothing_open["note"]

    fresh = say(simulator_url, "another tip")
    assert fresh["note"] == "new session"
    assert fresh["session_state"]["session_id"] != state["session_id"]
    assert len(fresh["session_attributes"]["heard_tips"]) == 1


def test_timing_out_after_the_reprompt_ends_the_session(simulator_url: str) -> None:
    opened = say(simulator_url, "open let down helper")
    body = {"reason": "EXCEEDED_MAX_REPROMPTS", "session_state": opened["session_state"], "device": DEVICE}
    reply = post(simulator_url, END, body)
    assert reply.status_code == 200
    assert reply.json()["session_ended"] == "EXCEEDED_MAX_REPROMPTS"
    assert reply.json()["session_state"] is None


def test_pause_stores_the_offset_from_playback_stopped_and_resume_plays_from_it(simulator_url: str) -> None:
    started = say(simulator_url, "start breathing")
    play = started["playback"][0]
    assert play["action"] == "play" and play["offset_ms"] == 0
    # The stream URL names the public host; the page gets this server's own path for it.
    assert play["source_url"].startswith("https://letdown.example.test/audio/breathing-2m.mp3")
    assert play["url"].startswith("/audio/breathing-2m.mp3?")
    assert requests.get(f"{simulator_url}{play['url']}", timeout=10).headers["Content-Type"] == "audio/mpeg"
    assert started["session_ended"] == "SKILL_ENDED"

    assert event(simulator_url, "AudioPlayer.PlaybackStarted", play["token"], 0)["speech"] == ""
    player = {"token": play["token"], "offset_ms": 7_000, "activity": "PLAYING"}
    paused = say(simulator_url, "pause", player=player)
    assert [action["action"] for action in paused["playback"]] == ["stop"]
    stopped = event(simulator_url, "AudioPlayer.PlaybackStopped", play["token"], 7_250)
    assert stopped["directives"] == [] and stopped["speech"] == ""

    idle = {"token": None, "offset_ms": 0, "activity": "IDLE"}  # e.g. the page was reloaded
    resumed = say(simulator_url, "resume", player=idle)
    assert resumed["playback"][0]["offset_ms"] == 7_250
    assert resumed["playback"][0]["token"] == play["token"]


def test_playback_failed_is_accepted_without_speech(simulator_url: str) -> None:
    play = say(simulator_url, "start breathing")["playback"][0]
    body = {
        "type": "AudioPlayer.PlaybackFailed",
        "token": play["token"],
        "offset_ms": 0,
        "error": "MEDIA_ERR_SRC_NOT_SUPPORTED",
        "device": DEVICE,
    }
    reply = post(simulator_url, EVENT, body)
    assert reply.status_code == 200
    assert reply.json()["speech"] == "" and reply.json()["request_type"] == "AudioPlayer.PlaybackFailed"


def test_audio_on_a_cdn_is_still_played_from_this_server(make_app: Callable[..., Flask], tone_dir: Path) -> None:
    app = make_app(
        LETDOWN_SIMULATOR="1",
        LETDOWN_AUDIO_DIR=str(tone_dir),
        LETDOWN_AUDIO_BASE_URL="https://cdn.example.test/ld",
    )
    with threaded_server(app) as base_url:
        play = say(base_url, "start breathing")["playback"][0]
    assert play["source_url"].startswith("https://cdn.example.test/ld/breathing-2m.mp3")
    assert play["url"].startswith("/audio/breathing-2m.mp3?")


def test_simulated_envelopes_would_pass_the_alexa_endpoint_checks(service_env: dict[str, str], tone_dir: Path) -> None:
    """Every envelope the simulated device builds is well-formed for /alexa and names the configured skill."""
    from skill.app import create_app

    config = Config.from_env({**service_env, "LETDOWN_AUDIO_DIR": str(tone_dir)})
    app = create_app(config)
    service = app.extensions["letdown"]
    sent: list[dict[str, Any]] = []

    def invoke(built: dict[str, Any]) -> dict[str, Any]:
        sent.append(built)
        return service.invoke(built)

    device = SimulatedDevice(
        identity=DeviceIdentity(application_id=application_id_for(config), user_key="envelopecheck01"),
        invoke=invoke,
        resolver=load_resolver(service.deps),
        media=MediaLocator.for_config(config),
    )
    device.say("open let down helper")
    device.say("give me a tip about warmth")
    play = device.say("start breathing").playback[0]
    device.event("AudioPlayer.PlaybackStarted", play["token"], 0)
    device.say("exit")  # no session open any more: nothing is sent
    assert [e["request"]["type"] for e in sent] == [
        "LaunchRequest",
        "IntentRequest",
        "IntentRequest",
        "AudioPlayer.PlaybackStarted",
    ]
    for built in sent:
        parse_envelope(json.dumps(built).encode())
        check_application_id(built, frozenset({TEST_SKILL_ID}))
        assert built["context"]["System"]["user"]["userId"].startswith(SIMULATED_USER_PREFIX)
    assert "session" not in sent[3]
    tip_slots = sent[1]["request"]["intent"]["slots"]
    resolved = tip_slots["topic"]["resolutions"]["resolutionsPerAuthority"][0]
    assert resolved["values"][0]["value"]["id"] == "warmth"


def test_speech_is_split_into_words_and_clips_in_the_order_a_device_renders_them() -> None:
    media = MediaLocator(public_url="https://letdown.example.test", audio_base_url="https://cdn.example.test/a")
    ssml = (
        '<speak>Breathe <sub alias="with">w/</sub> me.<break time="1s"/>Now'
        '<audio src="https://letdown.example.test/audio/breathing-1m.mp3?v=abc"/>'
        '<amazon:effect name="whispered">Well done.</amazon:effect>'
        '<audio src="soundbank://soundlibrary/ui/gameshow/amzn_ui_sfx_gameshow_intro_01"/>'
        '<audio src="https://cdn.example.test/a/dmer-wave.mp3"/></speak>'
    )
    assert speech_segments(ssml, media) == [
        {"say": "Breathe with me. Now"},
        {
            "audio": "/audio/breathing-1m.mp3?v=abc",
            "source_url": "https://letdown.example.test/audio/breathing-1m.mp3?v=abc",
        },
        {"say": "Well done."},
        {"audio": None, "source_url": "soundbank://soundlibrary/ui/gameshow/amzn_ui_sfx_gameshow_intro_01"},
        {"audio": "/audio/dmer-wave.mp3", "source_url": "https://cdn.example.test/a/dmer-wave.mp3"},
    ]
    # Only this service's audio is mapped to local paths; other hosts and nested paths are left alone.
    assert media.playable_url("https://elsewhere.example/audio/x.mp3") == "https://elsewhere.example/audio/x.mp3"
    assert (
        media.playable_url("https://letdown.example.test/audio/../secret")
        == "https://letdown.example.test/audio/../secret"
    )
    assert media.playable_url("javascript:alert(1)") is None
