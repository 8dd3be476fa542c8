"""The simulator's Echo Show in headless Chromium: during a coach round the page draws the screen from
the RenderDocument's data (the breathing circle, breathing at the catalog's pace, and the round's line).

Real parts as in test_simulator_browser.py: the live service over real HTTP, the real skill and resolver,
Debian's Chromium. A screenshot of the screen is saved in the test's output folder (LETDOWN_SCREENSHOT_DIR,
else the test's tmp_path).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from skill.speech.content import ContentLibrary, plain_text
from tests.support.browser import DESKTOP_VIEWPORT, launch_chromium, write_tone_tracks
from tests.support.server import threaded_server
from tests.test_simulator_browser import SimulatorPage

pytestmark = pytest.mark.browser

CONTENT = ContentLibrary.load().locale("en-US")
COACH_TONES = {"coach-breathing": 20.0, "coach-warmth": 20.0, "feed-background": 4.0}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launch_chromium() as launched:
        yield launched


@pytest.fixture
def show_service(make_app: Callable[..., Flask], tmp_path: Path) -> Iterator[str]:
    write_tone_tracks(tmp_path / "audio", COACH_TONES)
    app = make_app(LETDOWN_SIMULATOR="1", LETDOWN_AUDIO_DIR=str(tmp_path / "audio"))
    with threaded_server(app) as base_url:
        yield base_url


@pytest.fixture
def show(browser: Any, show_service: str) -> Iterator[SimulatorPage]:
    context = browser.new_context(viewport=DESKTOP_VIEWPORT, bypass_csp=True)  # see test_simulator_browser.py
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    simulator = SimulatorPage(page, show_service)
    simulator.open()
    page.check("#device-echo-show")
    yield simulator
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def circle_scale(page: Any) -> float:
    return page.evaluate(
        "() => new DOMMatrix(getComputedStyle(document.querySelector('#breathing-circle')).transform).a"
    )


def test_the_echo_show_breathes_during_a_round(show: SimulatorPage, tmp_path: Path) -> None:
    page = show.page
    assert page.is_hidden("#screen-panel") is False
    reply = show.say("help my milk let down")
    assert reply["heard"]["intent"] == "LetDownIntent"
    assert reply["session_attributes"]["last_message"] == "coach.round.breathing"
    screen = reply["screen"]
    assert screen["inhale_ms"] == 4000 and screen["exhale_ms"] == 6000 and screen["cycles"] >= 1
    page.wait_for_function("() => document.querySelector('#screen').dataset.state === 'breathing'")
    line = page.text_content("#screen-instruction")
    assert line in {plain_text(variant) for variant in CONTENT.variants("coach.screen.breathing")}
    assert page.text_content("#screen-step") == "1 / 4"
    size = page.evaluate(
        """() => { const c = document.querySelector('#breathing-circle');
                   return [c.offsetWidth, c.offsetHeight, getComputedStyle(c).borderRadius]; }"""
    )
    assert size[0] > 80 and size[0] == size[1] and size[2] == "50%"  # a circle, big enough to see
    timing = page.evaluate(
        """() => { const [a] = document.querySelector('#breathing-circle').getAnimations();
                   const t = a.effect.getTiming();
                   return {duration: t.duration, iterations: t.iterations, delay: t.delay,
                           inhale: a.effect.getKeyframes()[1].computedOffset}; }"""
    )
    assert timing == {
        "duration": screen["inhale_ms"] + screen["exhale_ms"],
        "iterations": screen["cycles"],
        "delay": screen["start_delay_ms"],
        "inhale": pytest.approx(0.4),
    }
    # Skip the wait for the words before the clip: the circle grows for four seconds, then shrinks.
    page.evaluate(
        "() => document.querySelector('#breathing-circle').getAnimations()[0].currentTime = "
        f"{screen['start_delay_ms']} + 1000"
    )
    growing = circle_scale(page)
    page.evaluate("() => { const [a] = document.querySelector('#breathing-circle').getAnimations(); "
                  f"a.currentTime = {screen['start_delay_ms']} + 4000; }}")  # fmt: skip
    full = circle_scale(page)
    page.evaluate("() => { const [a] = document.querySelector('#breathing-circle').getAnimations(); "
                  f"a.currentTime = {screen['start_delay_ms']} + 8000; }}")  # fmt: skip
    shrinking = circle_scale(page)
    assert 0.6 < growing < full and full == pytest.approx(1.0, abs=0.01) and 0.6 < shrinking < full
    shots = Path(os.environ.get("LETDOWN_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page.evaluate(
        "() => document.querySelector('#breathing-circle').getAnimations()[0].currentTime = "
        f"{screen['start_delay_ms']} + 3000"
    )
    page.locator("#screen").screenshot(path=str(shots / "echo-show-round-1.png"))
    page.screenshot(path=str(shots / "simulator-echo-show.png"))
    assert (shots / "echo-show-round-1.png").stat().st_size > 1000


def test_other_devices_show_no_screen(show: SimulatorPage) -> None:
    show.page.check("#device-audio-player")
    assert show.page.is_hidden("#screen-panel")
    reply = show.say("help my milk let down")
    assert reply["screen"] is None
