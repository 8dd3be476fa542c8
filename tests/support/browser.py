"""Headless Chromium for browser tests: Debian's `chromium` driven by Playwright (never a downloaded build).

Playwright's own browsers are never installed (`playwright install` downloads them); the system Chromium
is launched by path. Without it the tests skip, except in CI (CI=true), where they fail loudly.
Headless Chromium has no sound card, but media elements still play against a fake audio sink: currentTime
advances in real time, so playback and offsets can be checked.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from skill.config import DEFAULT_AUDIO_DIR
from tests.support.audio import fake_mp3

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--mute-audio",
)
FALLBACK_CHROMIUM = "/usr/bin/chromium"
DESKTOP_VIEWPORT = {"width": 1280, "height": 900}
PHONE_VIEWPORT = {"width": 390, "height": 844}


def chromium_path() -> str | None:
    found = shutil.which("chromium") or (FALLBACK_CHROMIUM if Path(FALLBACK_CHROMIUM).exists() else None)
    return found


def require_chromium() -> str:
    """The Chromium executable; skips the test without one (fails in CI, where it must be installed)."""
    path = chromium_path()
    if path is not None:
        return path
    message = "Debian's chromium is not installed (apt-get install chromium); browser tests need it"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def launch_chromium() -> Iterator[Browser]:
    """A Playwright Browser on the system Chromium, closed afterwards."""
    executable = require_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("the playwright package is not installed")
        pytest.skip("the playwright package is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


def write_tone_tracks(audio_dir: Path, durations_s: Mapping[str, float]) -> dict[str, str]:
    """Short stand-ins for built tracks: the real catalog, and a quiet tone MP3 per listed track id, encoded
    as the real ones are (MPEG-2 layer III, 48 kbps, 24 kHz mono), with a manifest. Returns id → file name.

    Browser tests use these so they do not depend on (or wait through) the real multi-minute tracks.
    """
    audio_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DEFAULT_AUDIO_DIR / "catalog.toml", audio_dir / "catalog.toml")
    manifest: dict[str, dict[str, object]] = {}
    files = {}
    for track_id, seconds in durations_s.items():
        data = fake_mp3(330, seconds, amplitude=3000)
        name = f"{track_id}.mp3"
        (audio_dir / name).write_bytes(data)
        manifest[track_id] = {"file": name, "sha256": hashlib.sha256(data).hexdigest(), "duration_s": seconds}
        files[track_id] = name
    (audio_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")  # id → entry
    return files
