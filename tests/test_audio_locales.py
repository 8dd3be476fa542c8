"""Which tracks a locale plays (issue 12), over real HTTP with signed requests and the committed audio/:
es-US, and es-MX/es-ES that get es-US content, play the es-US wordless versions (audio/es-US/); the English
locales play the original tracks; the es-US coach speaks its rounds instead of playing English-voiced clips.

Assertions are on message ids, tokens, URLs and screen metadata, never on prose.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from skill.app import create_app
from skill.config import Config
from skill.playback.catalog import track_id_from_token
from skill.speech.content import ContentLibrary, parse_ssml
from tests.support.alexa import TEST_PUBLIC_URL, AlexaClient, intent_request, resolved_slot, service_environment
from tests.support.pki import TestPKI
from tests.support.server import threaded_server
from tests.test_conversation import last_message, speech_ssml

AUDIO_DIR = Path(__file__).resolve().parent.parent / "audio"
SPANISH = ("es-US", "es-MX", "es-ES")
ENGLISH = ("en-US", "en-GB", "en-AU", "en-NZ")


def manifest(folder: str = "") -> dict[str, dict[str, Any]]:
    return json.loads((AUDIO_DIR / folder / "manifest.json").read_text(encoding="utf-8"))


def spanish_screen_text(track_id: str) -> dict[str, str]:
    tracks = tomllib.loads((AUDIO_DIR / "catalog.toml").read_text(encoding="utf-8"))["track"]
    table = next(track for track in tracks if track["id"] == track_id)["locale"]["es-US"]
    return {"title": table["title"], "subtitle": table["subtitle"]}


def expected_url(track_id: str, folder: str = "") -> str:
    entry = manifest(folder)[track_id]
    path = f"{folder}/{entry['file']}" if folder else entry["file"]
    return f"{TEST_PUBLIC_URL}/audio/{path}?v={entry['sha256'][:12]}"


@pytest.fixture(scope="module")
def service(pki: TestPKI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service on the committed audio/ (the default audio dir), one for the module."""
    env = service_environment(pki, tmp_path_factory.mktemp("data"))
    with threaded_server(create_app(Config.from_env(env))) as base_url:
        yield base_url


def device(service: str, pki: TestPKI, locale: str) -> AlexaClient:
    return AlexaClient(base_url=service, pki=pki, user_id=f"amzn1.ask.account.{uuid.uuid4().hex}", locale=locale)


def the_play(answer: dict[str, Any]) -> dict[str, Any]:
    plays = [d for d in answer["response"].get("directives") or [] if d["type"] == "AudioPlayer.Play"]
    assert len(plays) == 1, answer["response"]
    return plays[0]


@pytest.mark.parametrize("locale", SPANISH)
def test_a_spanish_request_to_breathe_plays_the_wordless_es_us_file(service: str, pki: TestPKI, locale: str) -> None:
    answer = device(service, pki, locale).intent("BreathingIntent", duration="PT2M")
    assert last_message(answer) == "track.intro.breathing-2m"
    stream = the_play(answer)["audioItem"]["stream"]
    assert track_id_from_token(stream["token"]) == "breathing-2m"
    assert stream["url"] == expected_url("breathing-2m", "es-US")
    metadata = the_play(answer)["audioItem"]["metadata"]
    assert {key: metadata[key] for key in ("title", "subtitle")} == spanish_screen_text("breathing-2m")
    assert manifest("es-US")["breathing-2m"]["wordless"] is True


@pytest.mark.parametrize("locale", ENGLISH)
def test_an_english_request_to_breathe_plays_the_voiced_track(service: str, pki: TestPKI, locale: str) -> None:
    answer = device(service, pki, locale).intent("BreathingIntent", duration="PT2M")
    assert last_message(answer) == "track.intro.breathing-2m"
    play = the_play(answer)
    assert track_id_from_token(play["audioItem"]["stream"]["token"]) == "breathing-2m"
    assert play["audioItem"]["stream"]["url"] == expected_url("breathing-2m")
    assert play["audioItem"]["metadata"]["title"] == manifest()["breathing-2m"]["title"]
    assert manifest()["breathing-2m"]["engine"] == "piper"


def test_the_es_us_url_serves_the_committed_wordless_file(service: str, pki: TestPKI) -> None:
    url = the_play(device(service, pki, "es-US").intent("BreathingIntent", duration="PT1M"))["audioItem"]["stream"]
    served = requests.get(url["url"].replace(TEST_PUBLIC_URL, service), timeout=10)
    assert served.status_code == 200 and served.headers["Content-Type"] == "audio/mpeg"
    assert hashlib.sha256(served.content).hexdigest() == manifest("es-US")["breathing-1m"]["sha256"]
    english = (AUDIO_DIR / "breathing-1m.mp3").read_bytes()
    assert served.content != english


def play_by_id(client: AlexaClient, track_id: str, heard: str) -> dict[str, Any]:
    request = intent_request("PlayTrackIntent")
    request["intent"]["slots"]["track"] = resolved_slot("track", heard, track_id)
    return the_play(client.intent_with(request))


def test_resume_stays_in_the_locales_files(service: str, pki: TestPKI) -> None:
    spanish = device(service, pki, "es-US")
    token = play_by_id(spanish, "dmer-wave", "la ola")["audioItem"]["stream"]["token"]
    assert track_id_from_token(token) == "dmer-wave"
    spanish.player_state = {"playerActivity": "PLAYING", "token": token, "offsetInMilliseconds": 5000}
    spanish.intent("AMAZON.PauseIntent")
    spanish.player_state = {"playerActivity": "STOPPED", "token": token, "offsetInMilliseconds": 5000}
    resumed = the_play(spanish.intent("AMAZON.ResumeIntent"))["audioItem"]["stream"]
    assert resumed["token"] == token and resumed["offsetInMilliseconds"] == 5000
    assert resumed["url"] == expected_url("dmer-wave", "es-US")


def test_the_wordless_background_is_shared_and_loops_under_its_spanish_title(service: str, pki: TestPKI) -> None:
    """The feed background has no words: es-US plays the same file (no copy is built), titled in Spanish."""
    spanish = device(service, pki, "es-US")
    play = play_by_id(spanish, "feed-background", "los sonidos de fondo")
    token = play["audioItem"]["stream"]["token"]
    assert play["audioItem"]["stream"]["url"] == expected_url("feed-background")
    assert play["audioItem"]["metadata"]["title"] == spanish_screen_text("feed-background")["title"]
    queued = the_play(spanish.event("AudioPlayer.PlaybackNearlyFinished", token=token, offsetInMilliseconds=890_000))
    assert queued["playBehavior"] == "ENQUEUE" and queued["audioItem"]["stream"]["expectedPreviousToken"] == token
    assert queued["audioItem"]["stream"]["url"] == expected_url("feed-background")
    assert queued["audioItem"]["metadata"]["title"] == spanish_screen_text("feed-background")["title"]


def test_the_es_us_coach_speaks_its_rounds_and_the_english_coach_plays_clips(service: str, pki: TestPKI) -> None:
    spanish_content = ContentLibrary.load().locale("es-US")
    spanish = device(service, pki, "es-US").intent("LetDownIntent")
    assert last_message(spanish) == "coach.round.breathing"
    ssml = speech_ssml(spanish) or ""
    assert not list(parse_ssml(ssml).iter("audio")), "no English-voiced clip inside a Spanish answer"
    assert any(variant in ssml for variant in spanish_content.variants("coach.spoken.breathing"))

    english = speech_ssml(device(service, pki, "en-US").intent("LetDownIntent")) or ""
    sources = [element.get("src") for element in parse_ssml(english).iter("audio")]
    assert sources == [expected_url("coach-breathing")]
