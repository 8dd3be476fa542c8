"""Every built track in audio/ (and the es-US wordless versions in audio/es-US/) passes Alexa's audio rules,
checked independently of the builder (`tests.support.audio.check_alexa_mp3`: its own frame parser, mpg123,
pyloudnorm)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from skill.config import Config
from skill.playback.catalog import PLAY_ORDER, TrackCatalog
from tests.support.audio import check_alexa_mp3

AUDIO_DIR = Path(__file__).resolve().parent.parent / "audio"
TRACK_IDS = (
    "breathing-1m",
    "breathing-2m",
    "breathing-5m",
    "breathing-10m",
    "letdown-visualisation",
    "pump-head-start",
    "warm-compress",
    "breast-massage",
    "dmer-wave",
    "feed-background",
    "coach-breathing",
    "coach-warmth",
    "coach-senses-nursing",
    "coach-senses-pumping",
    "coach-head-start",
)
COACH_CLIPS = tuple(track_id for track_id in TRACK_IDS if track_id.startswith("coach-"))
# es-US: wordless versions of every voiced track (no coach clips: the es-US coach speaks its rounds); the feed
# background has no words, so es-US plays its own file.
SPANISH_DIR = AUDIO_DIR / "es-US"
SPANISH_IDS = tuple(track_id for track_id in TRACK_IDS if track_id not in COACH_CLIPS and track_id != "feed-background")
MANIFEST_FIELDS = {
    "file",
    "title",
    "subtitle",
    "duration_s",
    "lufs",
    "true_peak_dbfs",
    "sha256",
    "bytes",
    "engine",
    "voice",
    "loop",
}


def read_manifest(folder: Path = AUDIO_DIR) -> dict[str, dict[str, Any]]:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def read_catalog() -> dict[str, Any]:
    return tomllib.loads((AUDIO_DIR / "catalog.toml").read_text(encoding="utf-8"))


def test_the_catalog_has_every_track_of_the_contract() -> None:
    tracks = read_catalog()["track"]
    assert [track["id"] for track in tracks] == list(TRACK_IDS)
    for track in tracks:
        assert track["source"].strip() and track["title"].strip() and track["subtitle"].strip()
    lengths = {track["id"]: track["length_s"] for track in tracks}
    assert [lengths[f"breathing-{minutes}m"] for minutes in (1, 2, 5, 10)] == [60, 120, 300, 600]
    assert lengths["feed-background"] >= 900
    background = next(track for track in tracks if track["id"] == "feed-background")
    assert background["loop"] is True and not background.get("cues")


def test_every_catalog_track_has_a_built_file_in_the_manifest() -> None:
    manifest = read_manifest()
    assert list(manifest) == list(TRACK_IDS)
    for track_id, entry in manifest.items():
        assert set(entry) >= MANIFEST_FIELDS, f"{track_id}: manifest fields missing"
        assert entry["file"] == f"{track_id}.mp3" and (AUDIO_DIR / entry["file"]).is_file()
        assert entry["loop"] is (track_id == "feed-background")
        if track_id != "feed-background":
            assert entry["engine"] == "piper" and entry["voice"], "committed tracks use the offline voice"


@pytest.mark.parametrize("track_id", TRACK_IDS)
def test_built_track_meets_alexa_audio_rules(track_id: str) -> None:
    entry = read_manifest()[track_id]
    check_alexa_mp3(AUDIO_DIR / entry["file"], entry)


def test_track_length_matches_the_catalog() -> None:
    manifest = read_manifest()
    for track in read_catalog()["track"]:
        # The MP3 adds the encoder's delay and padding: well under a second.
        assert 0 <= manifest[track["id"]]["duration_s"] - track["length_s"] < 0.2


def test_the_coach_clips_fit_in_a_spoken_answer() -> None:
    """Alexa's SSML <audio> rules: at most 90 s in a reprompt (240 s per response); the coach's rounds are
    60 to 90 s each. The encoding rules are checked for every track above."""
    manifest = read_manifest()
    kinds = {track["id"]: track.get("kind", "track") for track in read_catalog()["track"]}
    for track_id in COACH_CLIPS:
        assert kinds[track_id] == "clip"
        assert 60.0 <= manifest[track_id]["duration_s"] <= 90.0, track_id
        assert manifest[track_id]["loop"] is False
    assert {track_id for track_id, kind in kinds.items() if kind == "clip"} == set(COACH_CLIPS)


def test_coach_clips_are_found_by_id_but_not_offered_as_tracks() -> None:
    catalog = TrackCatalog.load(Config(audio_dir=AUDIO_DIR, public_url="https://letdown.example"))
    for track_id in COACH_CLIPS:
        clip = catalog.playable(track_id)
        assert clip is not None and clip.clip
        assert catalog.stream_url(track_id).startswith(f"https://letdown.example/audio/{track_id}.mp3?v=")
        assert catalog.find_by_name(clip.title) is None
    order = catalog.play_order()
    assert not set(order) & set(COACH_CLIPS)
    assert order == list(PLAY_ORDER) and len(order) == len(TRACK_IDS) - len(COACH_CLIPS)
    assert catalog.next_track("coach-warmth") is not None and catalog.next_track("coach-warmth").id == order[0]


# ----- es-US: the wordless versions (issue 12) ----------------------------------------------------------------


def test_es_us_has_a_wordless_version_of_every_voiced_track() -> None:
    manifest = read_manifest(SPANISH_DIR)
    assert list(manifest) == list(SPANISH_IDS)
    english = read_manifest()
    for track_id, entry in manifest.items():
        assert set(entry) >= MANIFEST_FIELDS | {"locale", "wordless"}, f"{track_id}: manifest fields missing"
        assert entry["file"] == f"{track_id}.mp3" and (SPANISH_DIR / entry["file"]).is_file()
        assert (entry["engine"], entry["voice"], entry["locale"], entry["wordless"]) == (None, None, "es-US", True)
        assert entry["loop"] is False and entry["sha256"] != english[track_id]["sha256"]
        assert entry["title"] != english[track_id]["title"], "screens show a Spanish title"
    committed = {path.name for path in SPANISH_DIR.iterdir()}
    assert committed == {f"{track_id}.mp3" for track_id in manifest} | {"manifest.json"}, "no stray files"


def test_es_us_files_are_exactly_as_long_as_the_originals() -> None:
    english, spanish = read_manifest(), read_manifest(SPANISH_DIR)
    for track_id in SPANISH_IDS:
        assert spanish[track_id]["duration_s"] == english[track_id]["duration_s"], track_id


@pytest.mark.parametrize("track_id", SPANISH_IDS)
def test_wordless_es_us_track_meets_alexa_audio_rules(track_id: str) -> None:
    entry = read_manifest(SPANISH_DIR)[track_id]
    check_alexa_mp3(SPANISH_DIR / entry["file"], entry)


def test_es_us_plays_its_own_files_the_shared_background_and_no_coach_clip() -> None:
    catalog = TrackCatalog.load(Config(audio_dir=AUDIO_DIR, public_url="https://letdown.example"))
    spanish = catalog.for_locale("es-US")
    assert catalog.locales() == ("es-US",)
    for locale in ("en-US", "en-GB", "en-AU", "en-CA", "en-IN", None):
        assert catalog.for_locale(locale) is catalog
    for track_id in SPANISH_IDS:
        assert spanish.stream_url(track_id).startswith(f"https://letdown.example/audio/es-US/{track_id}.mp3?v=")
        assert catalog.served_file(f"es-US/{track_id}.mp3") is not None
    background = spanish.playable("feed-background")
    assert background is not None and background.loops and background.title == "Calma para toda la toma"
    assert spanish.stream_url("feed-background") == catalog.stream_url("feed-background")
    assert all(spanish.playable(track_id) is None for track_id in COACH_CLIPS)
    assert spanish.play_order() == list(PLAY_ORDER)
    assert spanish.nearest_breathing(300) is not None and spanish.nearest_breathing(300).id == "breathing-5m"
