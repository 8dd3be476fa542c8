"""Listening checks of the committed tracks, measured with skill/audio_build/analysis.py (the measures of
bench/bench_listening.py, issue 11).

Two tracks (a breathing track and a coach clip over an ambient bed) are rebuilt for real from the catalog
with the offline voice into a temporary cue cache; the test first checks the rebuilt MP3 is byte-identical
to the committed one, so the voice-only and bed-only parts it measures are exactly those of the file Alexa
plays. The start of every track and the loop seam are measured on the committed MP3s themselves.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from pathlib import Path

import numpy as np
import pytest

from skill.audio_build import analysis
from skill.audio_build.cache import CueCache
from skill.audio_build.catalog import load_catalog
from skill.audio_build.encode import SAMPLE_RATE, decode_mp3
from skill.audio_build.tts import make_engine

AUDIO_DIR = Path(__file__).resolve().parent.parent / "audio"
REBUILT = ("coach-breathing", "coach-senses-nursing")
MIN_VOICE_OVER_BED_DB = 10.0
# Mean limiter gain reduction. Paced breathing (sparse words over a breathing bed) needs almost none; over the
# ambient beds, where the words are dense, speech peaks still take about 1 to 2.5 dB on average (5.7 to 5.9 dB
# before issue 11); the target of about 1 dB is not reached there yet.
MAX_MEAN_LIMITING_DB = {"coach-breathing": 1.0, "coach-senses-nursing": 2.5}


def manifest() -> dict[str, dict[str, object]]:
    return json.loads((AUDIO_DIR / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, analysis.Rendered]:
    catalog = load_catalog(AUDIO_DIR / "catalog.toml")
    cache = CueCache(tmp_path_factory.mktemp("tts"), make_engine("piper", catalog.piper), SAMPLE_RATE)
    tracks = catalog.select(list(REBUILT))
    speech, _ = cache.speech_for([text for track in tracks for text in track.texts], lambda _: None)
    return {track.id: analysis.render(track, speech) for track in tracks}


@pytest.fixture(scope="module")
def decoded() -> dict[str, object]:
    return {
        track_id: decode_mp3((AUDIO_DIR / str(entry["file"])).read_bytes()) for track_id, entry in manifest().items()
    }


def test_the_measured_parts_are_those_of_the_committed_files(rendered: dict[str, analysis.Rendered]) -> None:
    for track_id, parts in rendered.items():
        assert hashlib.sha256(parts.mastered.encoded.mp3).hexdigest() == manifest()[track_id]["sha256"], track_id


@pytest.mark.parametrize("track_id", REBUILT)
def test_the_voice_is_at_least_10_db_above_the_bed_under_every_cue(
    rendered: dict[str, analysis.Rendered], track_id: str
) -> None:
    balances = analysis.cue_balances(rendered[track_id])
    assert balances
    quiet = [(b.text, round(b.voice_over_bed_db, 1)) for b in balances if b.voice_over_bed_db < MIN_VOICE_OVER_BED_DB]
    assert not quiet, f"cues less than {MIN_VOICE_OVER_BED_DB} dB above the bed: {quiet}"


@pytest.mark.parametrize("track_id", REBUILT)
def test_loudness_is_reached_with_little_limiting(rendered: dict[str, analysis.Rendered], track_id: str) -> None:
    parts = rendered[track_id]
    limiting = analysis.limiting(parts)
    assert limiting.mean_db <= MAX_MEAN_LIMITING_DB[track_id], limiting
    assert abs(parts.mastered.encoded.lufs - -14.0) <= 0.2 and parts.mastered.encoded.true_peak_dbfs <= -2.0


def test_the_voice_is_calm_and_the_words_are_never_faded(rendered: dict[str, analysis.Rendered]) -> None:
    rates = [b.words_per_minute for parts in rendered.values() for b in analysis.cue_balances(parts)]
    # Calm guidance is about 110-130 words a minute; one-sentence cues stay quicker than that (no pauses).
    assert statistics.median(rates) <= 145, sorted(rates)  # before issue 11: 174
    for parts in rendered.values():
        assert analysis.onset(parts).first_word_fade_db == 0.0


def test_the_pacing_tone_is_a_gentle_guide_with_the_same_timing(rendered: dict[str, analysis.Rendered]) -> None:
    tone = analysis.pacing_tone(rendered["coach-breathing"])
    assert tone is not None
    assert tone.tone_over_voice_db <= -2.0, "the tone's loudest moment stays under the voice"
    assert tone.swing_db <= 4.0, "the loudness breathes gently, not in big swells"
    assert tone.period_s == pytest.approx(10.0, abs=0.05)
    assert tone.rise_s == pytest.approx(4.0, abs=0.2) and tone.fall_s == pytest.approx(6.0, abs=0.2)


@pytest.mark.parametrize("track_id", list(manifest()))
def test_every_track_fades_in_without_a_click(decoded: dict[str, np.ndarray], track_id: str) -> None:
    head_db, head_peak = analysis.start_of_sound(decoded[track_id])
    assert head_db <= -20.0 and head_peak <= 0.01, (head_db, head_peak)


def test_the_feed_background_hides_its_loop_seam(decoded: dict[str, np.ndarray]) -> None:
    seam = analysis.seam(decoded["feed-background"])
    assert seam.edge_peak <= 0.01, "no click where the file stops or restarts"
    assert seam.end_level_db <= -25.0 and seam.start_level_db <= -25.0, "it stops and restarts in near silence"
    # With a 0.5 s gap between plays, the level moves hardly more abruptly at the seam than within the track.
    assert seam.step_db <= seam.body_step_db + 3.0, seam


def test_the_long_tracks_vary_their_wording() -> None:
    catalog = load_catalog(AUDIO_DIR / "catalog.toml")
    for track in catalog.tracks:
        if track.length_s >= 300:
            assert len(set(track.texts)) >= 0.6 * len(track.texts), track.id
