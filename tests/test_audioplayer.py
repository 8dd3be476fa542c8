"""AudioPlayer stories over real HTTP, with signed requests: starting tracks, pause/resume across processes,
playback events, PlaybackController buttons, devices without AudioPlayer, Loop/Shuffle, Next/Previous.

Assertions are on directives, tokens, offsets and message ids, never on prose. The service plays a
temporary catalog of small, valid MP3s (tests/support/audio.py writes it).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from skill.app import create_app
from skill.config import Config
from skill.playback.artwork import BACKGROUND_IMAGE, COVER_ART
from skill.playback.catalog import MAX_TOKEN_CHARS, PLAY_ORDER, TrackCatalog, iso_duration_seconds, track_id_from_token
from skill.speech.content import parse_ssml, plain_text, ssml_problems, tag_name
from tests.support.alexa import TEST_PUBLIC_URL, AlexaClient, intent_request, play_visualisation, resolved_slot
from tests.support.audio import shared_service_env, write_fake_audio_dir
from tests.support.pki import TestPKI
from tests.support.server import gunicorn_server, threaded_server

MAX_INTRO_WORDS = 20


@pytest.fixture(scope="module")
def fake_audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fake_audio_dir(tmp_path_factory.mktemp("audio"))


@pytest.fixture
def catalog(fake_audio_dir: Path) -> TrackCatalog:
    return TrackCatalog.load(Config(audio_dir=fake_audio_dir, public_url=TEST_PUBLIC_URL))


@pytest.fixture(scope="module")
def player_service(
    pki: TestPKI,
    fake_audio_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """One live service (verification on, SQLite) for the module; tests are kept apart by user id."""
    env = shared_service_env(pki, tmp_path_factory.mktemp("data"), fake_audio_dir)
    with threaded_server(create_app(Config.from_env(env))) as base_url:
        yield base_url


@pytest.fixture
def player(player_service: str, pki: TestPKI) -> AlexaClient:
    """An Echo with AudioPlayer, owned by a user no other test uses."""
    return AlexaClient(base_url=player_service, pki=pki, user_id=f"amzn1.ask.account.{uuid.uuid4().hex}")


@pytest.fixture
def speaker_only(player: AlexaClient) -> AlexaClient:
    """A device without the AudioPlayer interface, on the same service."""
    return AlexaClient(base_url=player.base_url, pki=player.pki, user_id=player.user_id, audio_player=False)


# ----- assertion helpers ------------------------------------------------------------------------------------


def directives(answer: dict[str, Any]) -> list[dict[str, Any]]:
    return answer["response"].get("directives") or []


def assert_play(
    answer: dict[str, Any],
    catalog: TrackCatalog,
    track_id: str,
    offset_ms: int = 0,
    behavior: str = "REPLACE_ALL",
    spoken_turn: bool = True,
) -> str:
    """The response holds exactly one well-formed AudioPlayer.Play of `track_id`; returns its token.

    A Play answering a spoken turn ends the session explicitly; one answering a request without a session
    (AudioPlayer events, device buttons) carries AudioPlayer directives only, so no shouldEndSession."""
    plays = [d for d in directives(answer) if d["type"] == "AudioPlayer.Play"]
    assert len(plays) == 1, directives(answer)
    play = plays[0]
    assert play["playBehavior"] == behavior
    stream = play["audioItem"]["stream"]
    assert stream["offsetInMilliseconds"] == offset_ms
    assert len(stream["token"]) <= MAX_TOKEN_CHARS
    assert track_id_from_token(stream["token"]) == track_id
    track = catalog.get(track_id)
    assert track is not None
    assert stream["url"] == f"{TEST_PUBLIC_URL}/audio/{track_id}.mp3?v={track.version}"
    assert stream["url"].startswith("https://")
    metadata = play["audioItem"]["metadata"]
    assert {key: metadata[key] for key in ("title", "subtitle")} == {"title": track.title, "subtitle": track.subtitle}
    for key, file_name in (("art", COVER_ART), ("backgroundImage", BACKGROUND_IMAGE)):
        # Screens show calm artwork from this service, at a versioned HTTPS URL.
        [source] = metadata[key]["sources"]
        assert re.fullmatch(rf"{re.escape(TEST_PUBLIC_URL)}/art/{file_name}\?v=[0-9a-f]{{12}}", source["url"]), source
    if spoken_turn:
        assert answer["response"]["shouldEndSession"] is True
    else:
        assert "shouldEndSession" not in answer["response"]
    assert "reprompt" not in answer["response"]
    return stream["token"]


def assert_silent(answer: dict[str, Any]) -> None:
    """What AudioPlayer/PlaybackController requests must get: no speech, card or reprompt."""
    response = answer["response"]
    assert "outputSpeech" not in response
    assert "card" not in response
    assert "reprompt" not in response


def assert_empty(answer: dict[str, Any]) -> None:
    """What PlaybackStopped must get (sources.md#alexa-audioplayer): an empty response, nothing to say or do."""
    assert answer["response"] == {}
    assert "sessionAttributes" not in answer


def assert_stop(answer: dict[str, Any]) -> None:
    assert [d["type"] for d in directives(answer)] == ["AudioPlayer.Stop"]
    assert "outputSpeech" not in answer["response"]
    assert answer["response"]["shouldEndSession"] is True


def words(answer: dict[str, Any]) -> int:
    return len(plain_text(answer["response"]["outputSpeech"]["ssml"]).split())


def speech_fragment(ssml: str) -> str:
    """The SSML inside <speak>…</speak>, as the content checks expect it."""
    assert ssml.startswith("<speak>") and ssml.endswith("</speak>")
    return ssml[len("<speak>") : -len("</speak>")]


def playing(token: str, offset_ms: int = 0, activity: str = "PLAYING") -> dict[str, Any]:
    return {"playerActivity": activity, "token": token, "offsetInMilliseconds": offset_ms}


# ----- starting tracks --------------------------------------------------------------------------------------


def test_the_visualisation_speaks_a_short_intro_then_plays(player: AlexaClient, catalog: TrackCatalog) -> None:
    answer = play_visualisation(player)
    assert_play(answer, catalog, "letdown-visualisation")
    assert answer["sessionAttributes"]["last_message"] == "letdown.routine"
    assert 0 < words(answer) <= MAX_INTRO_WORDS


@pytest.mark.parametrize(
    ("duration", "track_id"),
    [
        ("PT10M", "breathing-10m"),
        ("PT1M", "breathing-1m"),
        ("PT4M", "breathing-5m"),
        ("PT8M", "breathing-10m"),
        ("PT1H", "breathing-10m"),
        ("PT2M30S", "breathing-2m"),
        (None, "breathing-2m"),
        ("banana", "breathing-2m"),
    ],
)
def test_breathing_picks_the_nearest_length(
    player: AlexaClient, catalog: TrackCatalog, duration: str | None, track_id: str
) -> None:
    answer = player.intent("BreathingIntent", duration=duration)
    assert_play(answer, catalog, track_id)
    assert answer["sessionAttributes"]["last_message"] == f"track.intro.{track_id}"


@pytest.mark.parametrize("track_id", PLAY_ORDER)
def test_every_track_starts_by_name_with_an_intro_of_at_most_20_words(
    player: AlexaClient, catalog: TrackCatalog, track_id: str
) -> None:
    request = intent_request("PlayTrackIntent")
    request["intent"]["slots"]["track"] = resolved_slot("track", "whatever was heard", track_id)
    answer = player.intent_with(request)
    assert_play(answer, catalog, track_id)
    assert 0 < words(answer) <= MAX_INTRO_WORDS


@pytest.mark.parametrize(
    ("spoken", "track_id"),
    [
        ("quick breathing", "breathing-1m"),
        ("the visualization", "letdown-visualisation"),
        ("Warm compress", "warm-compress"),
    ],
)
def test_play_track_without_entity_resolution_matches_titles_and_synonyms(
    player: AlexaClient, catalog: TrackCatalog, spoken: str, track_id: str
) -> None:
    assert_play(player.intent("PlayTrackIntent", track=spoken), catalog, track_id)


def test_unknown_track_gets_a_gentle_question_and_no_audio(player: AlexaClient) -> None:
    answer = player.intent("PlayTrackIntent", track="heavy metal")
    assert directives(answer) == []
    assert answer["sessionAttributes"]["last_message"] == "track.unknown"
    assert answer["response"]["shouldEndSession"] is False


# ----- the pause/resume story across processes ------------------------------------------------------------


def test_pause_then_resume_in_another_process_continues_at_the_stopped_offset(
    service_env: dict[str, str],
    fake_audio_dir: Path,
    pki: TestPKI,
    catalog: TrackCatalog,
    tmp_path: Path,
) -> None:
    """Two separate gunicorn services (2 workers each) share one SQLite file: the parent pauses on one
    and resumes on the other, so the resume is necessarily answered by a different process."""
    env = {**service_env, "LETDOWN_AUDIO_DIR": str(fake_audio_dir)}
    with ExitStack() as stack:
        first = stack.enter_context(gunicorn_server(env, workers=2, log_path=tmp_path / "first.log"))
        second = stack.enter_context(gunicorn_server(env, workers=2, log_path=tmp_path / "second.log"))
        assert first != second
        echo = AlexaClient(base_url=first, pki=pki)

        token = assert_play(echo.intent("BreathingIntent", duration="PT10M"), catalog, "breathing-10m")
        assert_silent(echo.event("AudioPlayer.PlaybackStarted", token=token, offsetInMilliseconds=0))

        echo.player_state = playing(token, 120000)
        assert_stop(echo.intent("AMAZON.PauseIntent"))
        echo.player_state = playing(token, 123456, activity="STOPPED")
        stopped = echo.event("AudioPlayer.PlaybackStopped", token=token, offsetInMilliseconds=123456)
        assert_silent(stopped)
        assert directives(stopped) == []
        assert_empty(stopped)

        # The device forgot its state (IDLE, no token): only the shared store knows where it was.
        echo.base_url = second
        echo.player_state = {"playerActivity": "IDLE"}
        resumed = echo.intent("AMAZON.ResumeIntent")
        assert assert_play(resumed, catalog, "breathing-10m", offset_ms=123456) == token
    assert (tmp_path / "first.log").read_bytes().count(b"Booting worker") >= 2
    assert (tmp_path / "second.log").read_bytes().count(b"Booting worker") >= 2


def test_pause_alone_stores_the_device_offset(player: AlexaClient, catalog: TrackCatalog) -> None:
    token = assert_play(player.intent("PlayTrackIntent", track="warm compress"), catalog, "warm-compress")
    player.player_state = playing(token, 42000)
    assert_stop(player.intent("AMAZON.PauseIntent"))
    player.player_state = {"playerActivity": "IDLE"}
    assert assert_play(player.intent("AMAZON.ResumeIntent"), catalog, "warm-compress", offset_ms=42000) == token


def test_resume_with_nothing_stored_asks_what_to_do(player: AlexaClient) -> None:
    answer = player.intent("AMAZON.ResumeIntent")
    assert directives(answer) == []
    assert answer["sessionAttributes"]["last_message"] == "audio.nothing_to_resume"
    assert answer["response"]["shouldEndSession"] is False
    assert "reprompt" in answer["response"]


def test_pause_with_nothing_playing_is_handled_quietly(player: AlexaClient) -> None:
    answer = player.intent("AMAZON.PauseIntent")
    assert_stop(answer)


def test_a_finished_track_is_not_resumed(player: AlexaClient, catalog: TrackCatalog) -> None:
    token = assert_play(player.intent("BreathingIntent", duration="PT1M"), catalog, "breathing-1m")
    assert_silent(player.event("AudioPlayer.PlaybackStarted", token=token, offsetInMilliseconds=0))
    assert_silent(player.event("AudioPlayer.PlaybackFinished", token=token, offsetInMilliseconds=60000))
    answer = player.intent("AMAZON.ResumeIntent")
    assert directives(answer) == []
    assert answer["sessionAttributes"]["last_message"] == "audio.nothing_to_resume"


def test_a_late_stop_of_a_replaced_stream_does_not_overwrite_the_new_one(
    player: AlexaClient, catalog: TrackCatalog
) -> None:
    old = assert_play(player.intent("BreathingIntent", duration="PT5M"), catalog, "breathing-5m")
    assert_silent(player.event("AudioPlayer.PlaybackStarted", token=old, offsetInMilliseconds=0))
    new = assert_play(play_visualisation(player), catalog, "letdown-visualisation")
    # REPLACE_ALL: the device reports the old stream stopped after the new Play was already sent.
    assert_empty(player.event("AudioPlayer.PlaybackStopped", token=old, offsetInMilliseconds=90000))
    assert assert_play(player.intent("AMAZON.ResumeIntent"), catalog, "letdown-visualisation", 0) == new


def test_start_over_replays_the_current_track_from_the_beginning(player: AlexaClient, catalog: TrackCatalog) -> None:
    token = assert_play(player.intent("BreathingIntent", duration="PT5M"), catalog, "breathing-5m")
    player.player_state = playing(token, 77000, activity="STOPPED")
    restarted = assert_play(player.intent("AMAZON.StartOverIntent"), catalog, "breathing-5m", offset_ms=0)
    assert restarted != token


def test_stop_while_playing_stops_the_audio_silently(player: AlexaClient, catalog: TrackCatalog) -> None:
    token = assert_play(play_visualisation(player), catalog, "letdown-visualisation")
    player.player_state = playing(token, 30000)
    assert_stop(player.intent("AMAZON.StopIntent"))
    assert_stop(player.intent("AMAZON.CancelIntent"))


def test_stop_when_nothing_plays_is_left_to_the_conversation(player: AlexaClient) -> None:
    answer = player.intent("AMAZON.StopIntent")
    assert all(d["type"] != "AudioPlayer.Stop" for d in directives(answer))


# ----- Next / Previous, Loop / Shuffle ------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "intent", "expected"),
    [
        ("breathing-2m", "AMAZON.NextIntent", "breathing-5m"),
        ("breathing-2m", "AMAZON.PreviousIntent", "breathing-1m"),
        ("letdown-visualisation", "AMAZON.NextIntent", "breathing-1m"),
        ("breathing-10m", "AMAZON.NextIntent", "feed-background"),
        ("dmer-wave", "AMAZON.NextIntent", "warm-compress"),
        ("warm-compress", "AMAZON.PreviousIntent", "dmer-wave"),
    ],
)
def test_next_and_previous_follow_the_play_order(
    player: AlexaClient, catalog: TrackCatalog, current: str, intent: str, expected: str
) -> None:
    request = intent_request("PlayTrackIntent")
    request["intent"]["slots"]["track"] = resolved_slot("track", current, current)
    token = assert_play(player.intent_with(request), catalog, current)
    player.player_state = playing(token, 10000)
    answer = player.intent(intent)
    assert_play(answer, catalog, expected)
    assert answer["sessionAttributes"]["last_message"] == f"track.intro.{expected}"


def test_next_with_no_track_current_is_left_to_the_conversation(player: AlexaClient) -> None:
    answer = player.intent("AMAZON.NextIntent")
    assert all(not d["type"].startswith("AudioPlayer.") for d in directives(answer))


@pytest.mark.parametrize(
    "intent",
    ["AMAZON.LoopOnIntent", "AMAZON.LoopOffIntent", "AMAZON.ShuffleOnIntent", "AMAZON.ShuffleOffIntent"],
)
def test_loop_and_shuffle_are_politely_not_available(player: AlexaClient, catalog: TrackCatalog, intent: str) -> None:
    token = assert_play(play_visualisation(player), catalog, "letdown-visualisation")
    player.player_state = playing(token, 5000)
    answer = player.intent(intent)
    assert directives(answer) == []  # the track carries on untouched
    assert answer["sessionAttributes"]["last_message"] == "audio.not_available"
    assert answer["response"]["shouldEndSession"] is True


# ----- AudioPlayer events and PlaybackController buttons --------------------------------------------------


def test_nearly_finished_loops_the_feed_background_with_expected_previous_token(
    player: AlexaClient, catalog: TrackCatalog
) -> None:
    request = intent_request("PlayTrackIntent")
    request["intent"]["slots"]["track"] = resolved_slot("track", "background", "feed-background")
    token = assert_play(player.intent_with(request), catalog, "feed-background")
    answer = player.event("AudioPlayer.PlaybackNearlyFinished", token=token, offsetInMilliseconds=890000)
    assert_silent(answer)
    queued = assert_play(answer, catalog, "feed-background", offset_ms=0, behavior="ENQUEUE", spoken_turn=False)
    assert queued != token
    assert directives(answer)[0]["audioItem"]["stream"]["expectedPreviousToken"] == token


def test_nearly_finished_on_other_tracks_queues_nothing(player: AlexaClient, catalog: TrackCatalog) -> None:
    token = assert_play(player.intent("BreathingIntent", duration="PT2M"), catalog, "breathing-2m")
    answer = player.event("AudioPlayer.PlaybackNearlyFinished", token=token, offsetInMilliseconds=115000)
    assert_silent(answer)
    assert directives(answer) == []


def test_playback_failed_is_logged_and_answered_empty(
    player: AlexaClient, catalog: TrackCatalog, caplog: pytest.LogCaptureFixture
) -> None:
    token = assert_play(play_visualisation(player), catalog, "letdown-visualisation")
    answer = player.event(
        "AudioPlayer.PlaybackFailed",
        token=token,
        error={"type": "MEDIA_ERROR_SERVICE_UNAVAILABLE", "message": "could not reach the stream"},
        currentPlaybackState={"token": token, "offsetInMilliseconds": 0, "playerActivity": "PLAYING"},
    )
    assert_silent(answer)
    assert directives(answer) == []
    assert any(
        "MEDIA_ERROR_SERVICE_UNAVAILABLE" in record.getMessage() and record.levelname == "ERROR"
        for record in caplog.records
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"token": "x" * 5000, "offsetInMilliseconds": 10},
        {"token": "someone-elses-token", "offsetInMilliseconds": -5},
        {"token": "track:no-such-track:abc123", "offsetInMilliseconds": 10},
        {},
    ],
)
@pytest.mark.parametrize(
    "event",
    [
        "AudioPlayer.PlaybackStarted",
        "AudioPlayer.PlaybackStopped",
        "AudioPlayer.PlaybackFinished",
        "AudioPlayer.PlaybackNearlyFinished",
    ],
)
def test_events_with_foreign_or_broken_tokens_are_acknowledged_and_ignored(
    player: AlexaClient, event: str, fields: dict[str, Any]
) -> None:
    answer = player.event(event, **fields)
    assert_silent(answer)
    assert directives(answer) == []
    if event == "AudioPlayer.PlaybackStopped":
        assert_empty(answer)
    assert directives(player.intent("AMAZON.ResumeIntent")) == []  # nothing was stored


def test_playback_controller_buttons(player: AlexaClient, catalog: TrackCatalog) -> None:
    token = assert_play(player.intent("BreathingIntent", duration="PT5M"), catalog, "breathing-5m")
    assert_silent(player.event("AudioPlayer.PlaybackStarted", token=token, offsetInMilliseconds=0))
    player.player_state = playing(token, 64000)

    paused = player.event("PlaybackController.PauseCommandIssued")
    assert_silent(paused)
    assert [d["type"] for d in directives(paused)] == ["AudioPlayer.Stop"]
    assert_empty(player.event("AudioPlayer.PlaybackStopped", token=token, offsetInMilliseconds=65000))

    player.player_state = {"playerActivity": "STOPPED", "token": token, "offsetInMilliseconds": 65000}
    resumed = player.event("PlaybackController.PlayCommandIssued")
    assert_silent(resumed)
    assert assert_play(resumed, catalog, "breathing-5m", offset_ms=65000, spoken_turn=False) == token

    player.player_state = playing(token, 70000)
    following = player.event("PlaybackController.NextCommandIssued")
    assert_silent(following)
    assert_play(following, catalog, "breathing-10m", spoken_turn=False)
    earlier = player.event("PlaybackController.PreviousCommandIssued")
    assert_silent(earlier)
    assert_play(earlier, catalog, "breathing-2m", spoken_turn=False)


def test_play_button_with_nothing_stored_does_nothing(player: AlexaClient) -> None:
    answer = player.event("PlaybackController.PlayCommandIssued")
    assert_silent(answer)
    assert directives(answer) == []


# ----- devices without AudioPlayer ------------------------------------------------------------------------


def test_short_track_plays_through_an_ssml_audio_tag_then_offers_a_tip(
    speaker_only: AlexaClient, catalog: TrackCatalog
) -> None:
    answer = speaker_only.intent("BreathingIntent", duration="PT2M")
    assert directives(answer) == []
    ssml = answer["response"]["outputSpeech"]["ssml"]
    assert f'<audio src="{catalog.stream_url("breathing-2m")}"/>' in ssml
    assert catalog.stream_url("breathing-2m").startswith("https://")
    assert ssml_problems(speech_fragment(ssml)) == []
    assert answer["sessionAttributes"]["last_message"] == "track.intro.breathing-2m"
    assert answer["sessionAttributes"]["last_offer"] == "next_tip"
    assert answer["response"]["shouldEndSession"] is False
    assert "reprompt" in answer["response"]


def test_whispered_speech_keeps_the_audio_tag_outside_the_whisper_effect(
    speaker_only: AlexaClient, catalog: TrackCatalog
) -> None:
    speaker_only.intent("WhisperOnIntent")
    ssml = speaker_only.intent("BreathingIntent", duration="PT1M")["response"]["outputSpeech"]["ssml"]
    assert ssml_problems(speech_fragment(ssml)) == []
    root = parse_ssml(ssml)
    effects = [element for element in root.iter() if tag_name(element) == "amazon:effect"]
    assert effects, "the whisper preference was not applied"
    assert all(tag_name(inner) != "audio" for effect in effects for inner in effect.iter())
    assert [element.get("src") for element in root.iter("audio")] == [catalog.stream_url("breathing-1m")]


def test_the_visualisation_on_a_speaker_plays_in_ssml(speaker_only: AlexaClient, catalog: TrackCatalog) -> None:
    answer = play_visualisation(speaker_only)
    assert f'<audio src="{catalog.stream_url("letdown-visualisation")}"/>' in answer["response"]["outputSpeech"]["ssml"]
    assert answer["sessionAttributes"]["last_message"] == "letdown.routine"


@pytest.mark.parametrize(("duration", "track_id"), [("PT10M", "breathing-10m"), ("PT5M", "breathing-5m")])
def test_long_track_gets_a_spoken_alternative_that_offers_short_breathing(
    speaker_only: AlexaClient, duration: str, track_id: str
) -> None:
    answer = speaker_only.intent("BreathingIntent", duration=duration)
    assert directives(answer) == []
    assert "<audio" not in answer["response"]["outputSpeech"]["ssml"]
    assert answer["sessionAttributes"]["last_message"] == "track.too_long_for_device"
    assert answer["sessionAttributes"]["last_offer"] == "breathing"
    assert answer["response"]["shouldEndSession"] is False


def test_yes_to_the_breathing_offer_plays_two_minutes_in_ssml(speaker_only: AlexaClient, catalog: TrackCatalog) -> None:
    speaker_only.intent("PlayTrackIntent", track="calm for a whole feed")
    answer = speaker_only.intent("AMAZON.YesIntent")
    assert f'<audio src="{catalog.stream_url("breathing-2m")}"/>' in answer["response"]["outputSpeech"]["ssml"]


def test_speaker_with_a_plain_http_public_url_gets_no_audio_tag(
    make_app: Callable[..., Flask],
    fake_audio_dir: Path,
    pki: TestPKI,
) -> None:
    app = make_app(LETDOWN_AUDIO_DIR=str(fake_audio_dir), LETDOWN_PUBLIC_URL="http://127.0.0.1:8000")
    with threaded_server(app) as base_url:
        answer = AlexaClient(base_url=base_url, pki=pki, audio_player=False).intent(
            "PlayTrackIntent", track="let-down visualisation"
        )
    assert "<audio" not in answer["response"]["outputSpeech"]["ssml"]
    assert answer["sessionAttributes"]["last_message"] == "letdown.routine_spoken"


@pytest.mark.parametrize("audio_player", [True, False])
def test_tracks_not_yet_built_get_spoken_alternatives(
    make_app: Callable[..., Flask], pki: TestPKI, tmp_path: Path, audio_player: bool
) -> None:
    audio_dir = write_fake_audio_dir(tmp_path / "audio", built=["breathing-1m", "breathing-2m"])
    with threaded_server(make_app(LETDOWN_AUDIO_DIR=str(audio_dir))) as base_url:
        echo = AlexaClient(base_url=base_url, pki=pki, audio_player=audio_player)
        letdown = play_visualisation(echo)
        assert directives(letdown) == []
        assert letdown["sessionAttributes"]["last_message"] == "letdown.routine_spoken"
        assert letdown["sessionAttributes"]["last_offer"] == "next_tip"
        echo.session = None
        compress = echo.intent("PlayTrackIntent", track="warm compress")
        assert directives(compress) == []
        assert compress["sessionAttributes"]["last_message"] == "error.generic"
        assert compress["response"]["shouldEndSession"] is False
        echo.session = None
        breathing = echo.intent("BreathingIntent", duration="PT10M")  # the nearest length that is built
        if audio_player:
            assert track_id_from_token(directives(breathing)[0]["audioItem"]["stream"]["token"]) == "breathing-2m"
        else:
            assert "breathing-2m.mp3" in breathing["response"]["outputSpeech"]["ssml"]


def test_resume_on_a_speaker_has_nothing_to_resume(speaker_only: AlexaClient) -> None:
    answer = speaker_only.intent("AMAZON.ResumeIntent")
    assert answer["sessionAttributes"]["last_message"] == "audio.nothing_to_resume"


# ----- pure helpers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("PT10M", 600),
        ("PT90S", 90),
        ("PT1H", 3600),
        ("PT2M30S", 150),
        ("pt5m", 300),
        ("P1D", 86400),
        ("PT0.5H", 1800),
        ("PT", None),
        ("P", None),
        ("PT0S", None),
        ("10 minutes", None),
        ("PT5", None),
        ("", None),
        (None, None),
        ("P" + "9" * 100 + "D", None),
    ],
)
def test_parse_duration(value: str | None, seconds: float | None) -> None:
    assert iso_duration_seconds(value) == seconds


def test_tokens_name_their_track_and_foreign_tokens_are_refused(catalog: TrackCatalog) -> None:
    from skill.playback.catalog import make_token

    token = make_token("breathing-2m")
    assert track_id_from_token(token) == "breathing-2m" and len(token) <= MAX_TOKEN_CHARS
    assert make_token("breathing-2m") != token
    for foreign in (
        None,
        42,
        "",
        "track:",
        "track:breathing-2m",
        "track:../x:abc",
        "x" * 2000,
        token + "x" * 1024,
    ):
        assert track_id_from_token(foreign) is None
