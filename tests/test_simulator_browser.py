"""The /simulator page in headless Chromium, against the live service (verification stays on for /alexa).

Real parts: the Flask app on a real WSGI server, the real skill, resolver, SQLite store and /audio route,
and Debian's Chromium playing real MP3s (short tones encoded like the real tracks, so the tests do not
wait through multi-minute tracks). Nothing is mocked. The page is muted: headless Chromium has no voices,
and a muted page skips the wait for speech that never starts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask

from tests.support.browser import DESKTOP_VIEWPORT, PHONE_VIEWPORT, launch_chromium, write_tone_tracks
from tests.support.server import threaded_server

pytestmark = pytest.mark.browser

BREATHING_S = 30.0
LOOPING_S = 4.0
POSITION_TOLERANCE_S = 1.0
WAIT_MS = 15000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launch_chromium() as launched:
        yield launched


@pytest.fixture
def tone_files(tmp_path: Path) -> dict[str, str]:
    return write_tone_tracks(tmp_path / "audio", {"breathing-2m": BREATHING_S, "feed-background": LOOPING_S})


@pytest.fixture
def simulator_service(make_app: Callable[..., Flask], tmp_path: Path, tone_files: dict[str, str]) -> Iterator[str]:
    app = make_app(LETDOWN_SIMULATOR="1", LETDOWN_AUDIO_DIR=str(tmp_path / "audio"))
    with threaded_server(app) as base_url:
        yield base_url


class SimulatorPage:
    """The simulator page as a person uses it: type, press Enter, watch the transcript and the player."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.events: list[dict[str, Any]] = []
        page.on("request", self._record_event)

    def _record_event(self, request: Any) -> None:
        if request.url.endswith("/simulator/api/event"):
            self.events.append(request.post_data_json)

    def open(self) -> None:
        self.page.goto(f"{self.base_url}/simulator")
        self.page.check("#mute")

    def say(self, text: str) -> dict[str, Any]:
        """Type `text`, send it with Enter, wait until the page has shown the reply; returns the API reply."""
        answered = self.page.locator("#transcript .turn.user .heard").count()
        with self.page.expect_response(lambda r: r.url.endswith("/simulator/api/utterance")) as response:
            self.page.fill("#utterance", text)
            self.page.press("#utterance", "Enter")
        assert response.value.status == 200, response.value.text()
        self.page.wait_for_function(
            "n => document.querySelectorAll('#transcript .turn.user .heard').length > n",
            arg=answered,
            timeout=WAIT_MS,
        )
        return response.value.json()

    def player(self, selector: str = "#player") -> dict[str, Any]:
        return self.page.eval_on_selector(
            selector,
            "p => ({src: p.currentSrc, time: p.currentTime, paused: p.paused, ended: p.ended})",
        )

    def wait_playing_past(self, seconds: float, selector: str = "#player") -> None:
        self.page.wait_for_function(
            "([selector, t]) => { const p = document.querySelector(selector); return !p.paused && p.currentTime > t; }",
            arg=[selector, seconds],
            timeout=WAIT_MS,
        )

    def wait_paused(self) -> None:
        self.page.wait_for_function("() => document.querySelector('#player').paused", timeout=WAIT_MS)

    def wait_for_event(self, event_type: str, count: int = 1) -> None:
        self.page.wait_for_timeout(50)
        deadline_checks = WAIT_MS // 100
        for _ in range(deadline_checks):
            if sum(1 for event in self.events if event["type"] == event_type) >= count:
                return
            self.page.wait_for_timeout(100)
        raise AssertionError(f"no {event_type} reported; events: {[e['type'] for e in self.events]}")

    def session_state(self) -> str | None:
        return self.page.get_attribute("#session-status", "data-state")


@pytest.fixture
def sim(browser: Any, simulator_service: str) -> Iterator[SimulatorPage]:
    # Playwright's wait_for_function polls with eval, which the page's own Content-Security-Policy
    # forbids; the CSP header itself is checked in test_simulator_api.py.
    context = browser.new_context(viewport=DESKTOP_VIEWPORT, bypass_csp=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    simulator = SimulatorPage(page, simulator_service)
    simulator.open()
    yield simulator
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def path_of(url: str) -> str:
    return urlsplit(url).path


def test_start_breathing_plays_and_pause_resume_continue_from_the_same_position(
    sim: SimulatorPage, tone_files: dict[str, str]
) -> None:
    reply = sim.say("start breathing")
    assert reply["heard"]["intent"] == "BreathingIntent"
    assert reply["playback"][0]["action"] == "play"

    sim.wait_playing_past(1.5)
    playing = sim.player()
    assert path_of(playing["src"]) == f"/audio/{tone_files['breathing-2m']}"
    assert not playing["paused"]
    sim.wait_for_event("AudioPlayer.PlaybackStarted")

    reply = sim.say("pause")
    assert reply["heard"]["intent"] == "AMAZON.PauseIntent"
    assert [action["action"] for action in reply["playback"]] == ["stop"]
    sim.wait_paused()
    paused_at = sim.player()["time"]
    sim.wait_for_event("AudioPlayer.PlaybackStopped")
    stopped = next(e for e in sim.events if e["type"] == "AudioPlayer.PlaybackStopped")
    assert abs(stopped["offset_ms"] / 1000 - paused_at) < POSITION_TOLERANCE_S
    sim.page.wait_for_timeout(700)  # real time passes while paused; the position must not

    reply = sim.say("resume")
    assert reply["heard"]["intent"] == "AMAZON.ResumeIntent"
    play = reply["playback"][0]
    assert play["action"] == "play"
    assert abs(play["offset_ms"] / 1000 - paused_at) < POSITION_TOLERANCE_S  # the offset the server stored
    sim.page.wait_for_function("() => !document.querySelector('#player').paused", timeout=WAIT_MS)
    resumed_at = sim.player()["time"]
    assert abs(resumed_at - paused_at) < POSITION_TOLERANCE_S
    sim.wait_playing_past(resumed_at + 0.5)


def test_resume_after_reloading_the_page_uses_the_offset_stored_by_the_skill(sim: SimulatorPage) -> None:
    sim.say("start breathing")
    sim.wait_playing_past(2.0)
    sim.say("pause")
    sim.wait_paused()
    paused_at = sim.player()["time"]
    sim.wait_for_event("AudioPlayer.PlaybackStopped")

    sim.open()  # a fresh page: no player state at all, only the same (stored) user
    assert sim.player()["src"] == ""
    reply = sim.say("resume")
    assert abs(reply["playback"][0]["offset_ms"] / 1000 - paused_at) < POSITION_TOLERANCE_S
    sim.page.wait_for_function("() => !document.querySelector('#player').paused", timeout=WAIT_MS)
    assert abs(sim.player()["time"] - paused_at) < POSITION_TOLERANCE_S


def test_what_is_dmer_shows_the_reply_and_the_heard_intent_using_only_the_keyboard(
    sim: SimulatorPage,
) -> None:
    sim.page.reload()  # start from the top of the page (muting is remembered)
    assert sim.page.is_checked("#mute")
    sim.page.keyboard.press("Tab")  # the skip link
    assert sim.page.evaluate("document.activeElement.className") == "skip-link"
    sim.page.keyboard.press("Enter")
    assert sim.page.evaluate("document.activeElement.id") == "utterance"
    answered = sim.page.locator("#transcript .turn.user .heard").count()
    with sim.page.expect_response(lambda r: r.url.endswith("/simulator/api/utterance")) as response:
        sim.page.keyboard.type("what is d-mer")
        sim.page.keyboard.press("Enter")
    reply = response.value.json()
    sim.page.wait_for_function(
        "n => document.querySelectorAll('#transcript .turn.user .heard').length > n", arg=answered
    )

    assert reply["heard"]["intent"] == "DmerIntent"
    assert reply["session_attributes"]["last_message"].startswith("dmer.")
    assert sim.page.locator('#transcript .heard[data-intent="DmerIntent"]').count() == 1
    shown = sim.page.locator("#transcript .turn.alexa .speech").last.inner_text()
    assert shown.strip() == reply["speech"] and reply["speech"]
    assert sim.page.get_attribute("#transcript", "aria-live") == "polite"
    assert sim.session_state() == ("open" if reply["end_session"] is False else "closed")


def test_exit_ends_the_session_and_the_next_utterance_starts_a_new_one(sim: SimulatorPage) -> None:
    opened = sim.say("open let down helper")
    assert opened["request_type"] == "LaunchRequest"
    assert sim.session_state() == "open"
    first_session = opened["session_state"]["session_id"]

    tip = sim.say("another tip")
    assert tip["session_state"]["session_id"] == first_session
    assert tip["heard"]["intent"] == "AnotherTipIntent"

    ended = sim.say("exit")
    assert ended["request_type"] == "SessionEndedRequest"
    assert ended["session_ended"] == "USER_INITIATED"
    assert ended["session_state"] is None
    assert sim.session_state() == "closed"
    assert sim.page.locator('#transcript .note[data-event="session-ended"]').count() == 1

    again = sim.say("another tip")
    assert again["session_state"]["session_id"] != first_session
    assert again["note"] == "new session"
    assert sim.session_state() == "open"
    assert sim.page.locator('#transcript .note[data-event="session-started"]').count() == 2


def test_a_looping_track_is_enqueued_near_its_end_and_plays_again(sim: SimulatorPage) -> None:
    reply = sim.say("play the feed background")
    assert reply["heard"]["slots"]["track"]["id"] == "feed-background"
    first_token = reply["playback"][0]["token"]

    sim.wait_for_event("AudioPlayer.PlaybackFinished")
    sim.wait_for_event("AudioPlayer.PlaybackStarted", count=2)
    types = [event["type"] for event in sim.events]
    assert types.index("AudioPlayer.PlaybackNearlyFinished") < types.index("AudioPlayer.PlaybackFinished")
    started = [event for event in sim.events if event["type"] == "AudioPlayer.PlaybackStarted"]
    assert started[0]["token"] == first_token
    assert started[1]["token"] != first_token  # the ENQUEUEd item, with its own token
    sim.page.wait_for_function("() => !document.querySelector('#player').paused", timeout=WAIT_MS)


def test_a_device_without_audio_player_plays_the_track_inside_the_speech(
    sim: SimulatorPage, tone_files: dict[str, str]
) -> None:
    sim.page.check("#device-speaker-only")
    reply = sim.say("start breathing")
    assert reply["playback"] == []
    clips = [segment["audio"] for segment in reply["segments"] if segment.get("audio")]
    assert [path_of(clip) for clip in clips] == [f"/audio/{tone_files['breathing-2m']}"]
    sim.wait_playing_past(1.0, selector="#clips")
    assert sim.player()["src"] == ""  # the AudioPlayer element stays unused
    assert sim.events == []  # no AudioPlayer events from a device without AudioPlayer


@pytest.mark.parametrize(("name", "viewport"), [("desktop", DESKTOP_VIEWPORT), ("phone", PHONE_VIEWPORT)])
def test_the_page_fits_the_screen_and_is_labelled(
    browser: Any,
    simulator_service: str,
    tmp_path: Path,
    name: str,
    viewport: dict[str, int],
) -> None:
    context = browser.new_context(viewport=viewport, bypass_csp=True)
    try:
        sim = SimulatorPage(context.new_page(), simulator_service)
        sim.open()
        sim.say("open let down helper")
        sim.say("start breathing")
        sim.wait_playing_past(0.5)
        sim.say("what is d-mer")
        page = sim.page
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {viewport['width']}px"
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input, button, audio')]
                .filter(el => el.offsetParent !== null)
                .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                              && !el.textContent.trim())
                .map(el => el.outerHTML.slice(0, 80))"""
        )
        assert unlabelled == []
        font_px = page.evaluate("parseFloat(getComputedStyle(document.querySelector('#utterance')).fontSize)")
        assert font_px >= 16  # legible, and no zoom-on-focus on phones
        screenshots = Path(os.environ.get("LETDOWN_SCREENSHOT_DIR") or tmp_path)
        screenshots.mkdir(parents=True, exist_ok=True)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(screenshots / f"simulator-{name}.png"))
        page.screenshot(path=str(screenshots / f"simulator-{name}-full.png"), full_page=True)
    finally:
        context.close()


def test_a_new_track_replacing_a_playing_one_reports_the_old_one_stopped(sim: SimulatorPage) -> None:
    first = sim.say("start breathing")["playback"][0]["token"]
    sim.wait_playing_past(1.0)
    second = sim.say("start breathing")["playback"][0]["token"]
    assert second != first
    sim.wait_for_event("AudioPlayer.PlaybackStarted", count=2)
    reported = [(event["type"], event["token"]) for event in sim.events]
    assert reported == [
        ("AudioPlayer.PlaybackStarted", first),
        ("AudioPlayer.PlaybackStopped", first),
        ("AudioPlayer.PlaybackStarted", second),
    ]
    stopped = sim.events[1]
    assert stopped["offset_ms"] >= 1000
    sim.wait_playing_past(0.5)
    assert sim.player()["time"] < 1.0 + stopped["offset_ms"] / 1000  # the new item starts from its own offset


def test_the_locale_picker_sends_the_locale_and_shows_that_locales_words(sim: SimulatorPage) -> None:
    sim.page.select_option("#locale", "es-US")
    assert sim.page.locator('.chip[data-lang="es"]').first.is_visible()
    assert not sim.page.locator('.chip[data-lang="en"]').first.is_visible()
    with sim.page.expect_response(lambda r: r.url.endswith("/simulator/api/utterance")) as response:
        sim.page.fill("#utterance", "me quiero morir")
        sim.page.press("#utterance", "Enter")
    reply = response.value.json()
    assert reply["heard"]["intent"] == "CrisisIntent"
    assert reply["session_attributes"]["last_message"] == "safety.crisis"
    assert "AYUDA" in reply["speech"] and "988" in reply["speech"]
    sim.page.reload()  # the choice is remembered
    assert sim.page.input_value("#locale") == "es-US"
    sim.page.select_option("#locale", "en-GB")
    with sim.page.expect_response(lambda r: r.url.endswith("/simulator/api/utterance")) as response:
        sim.page.fill("#utterance", "I want to end my life")
        sim.page.press("#utterance", "Enter")
    speech = response.value.json()["speech"]
    assert "116 123" in speech and "999" in speech and "988" not in speech
    sim.page.select_option("#locale", "en-US")
