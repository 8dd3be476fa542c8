"""Listening checks of the committed tracks, measured with skill/audio_build/analysis.py (the measures of
bench/bench_listening.py, issue 11).

Two tracks (a breathing track and a coach clip over an ambient bed) are rebuilt for real from the catalog
with the offline voice into a temporary cue cache; the test first checks the rebuilt MP3 is byte-identical
to the committed one, so the voice-only and bed-only parts it measures are exactly those of the file Alexa
plays. The start of every track and the loop seam are measured on the committed MP3s themselves. Two es-US wordless
versions are rebuilt too (no voice needed) and checked byte-identical to the committed ones.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from pathlib import Path

import numpy as np
import pytest

from skill.audio_build import analysis
from skill.audio_build.beds import breath_curve
from skill.audio_build.cache import CueCache
from skill.audio_build.catalog import load_catalog
from skill.audio_build.encode import SAMPLE_RATE, decode_mp3
from skill.audio_build.tts import make_engine

AUDIO_DIR = Path(__file__).resolve().parent.parent / "audio"
SPANISH_DIR = AUDIO_DIR / "es-US"
REBUILT = ("coach-breathing", "coach-senses-nursing")
REBUILT_SPANISH = ("breathing-1m", "breast-massage")
MIN_VOICE_OVER_BED_DB = 10.0
# Mean limiter gain reduction. Paced breathing (sparse words over a breathing bed) needs almost none; over the
# ambient beds, where the words are dense, speech peaks still take about 1 to 2.5 dB on average (5.7 to 5.9 dB
# before issue 11); the target of about 1 dB is not reached there yet.
MAX_MEAN_LIMITING_DB = {"coach-breathing": 1.0, "coach-senses-nursing": 2.5}


def manifest(folder: Path = AUDIO_DIR) -> dict[str, dict[str, object]]:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def committed_files() -> dict[str, Path]:
    """Every committed MP3 by name: the tracks, and the es-US ones as es-US/<id>."""
    files = {track_id: AUDIO_DIR / str(entry["file"]) for track_id, entry in manifest().items()}
    files |= {
        f"es-US/{track_id}": SPANISH_DIR / str(entry["file"]) for track_id, entry in manifest(SPANISH_DIR).items()
    }
    return files


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, analysis.Rendered]:
    catalog = load_catalog(AUDIO_DIR / "catalog.toml")
    cache = CueCache(tmp_path_factory.mktemp("tts"), make_engine("piper", catalog.piper), SAMPLE_RATE)
    tracks = catalog.select(list(REBUILT))
    speech, _ = cache.speech_for([text for track in tracks for text in track.texts], lambda _: None)
    return {track.id: analysis.render(track, speech) for track in tracks}


@pytest.fixture(scope="module")
def rendered_spanish() -> dict[str, analysis.Rendered]:
    [spanish] = load_catalog(AUDIO_DIR / "catalog.toml").locales
    return {track.id: analysis.render(track, {}) for track in spanish.select(list(REBUILT_SPANISH))}


@pytest.fixture(scope="module")
def decoded() -> dict[str, object]:
    return {name: decode_mp3(path.read_bytes()) for name, path in committed_files().items()}


def test_the_measured_parts_are_those_of_the_committed_files(
    rendered: dict[str, analysis.Rendered], decoded: dict[str, object]
) -> None:
    """The rebuilt track is the committed one: the same length and, sample by sample, nearly the same signal.
    Not byte for byte: piper (onnxruntime) synthesises slightly different floats on different CPUs, even with
    the same pinned versions (seen between two machines here: correlation 0.996, the same length)."""
    for track_id, parts in rendered.items():
        rebuilt = np.asarray(decode_mp3(parts.mastered.encoded.mp3), dtype=float)
        committed = np.asarray(decoded[track_id], dtype=float)
        assert rebuilt.shape == committed.shape, track_id
        assert np.corrcoef(rebuilt, committed)[0, 1] > 0.99, track_id


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


@pytest.mark.parametrize("track_id", list(committed_files()))
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


def test_the_wordless_es_us_versions_are_the_committed_files(rendered_spanish: dict[str, analysis.Rendered]) -> None:
    for track_id, parts in rendered_spanish.items():
        assert hashlib.sha256(parts.mastered.encoded.mp3).hexdigest() == manifest(SPANISH_DIR)[track_id]["sha256"]
        assert not parts.voice.any() and parts.stems.placements == ()


def test_without_words_the_pacing_tone_still_guides_the_breath(rendered_spanish: dict[str, analysis.Rendered]) -> None:
    """In as it rises, out as it falls: the tone keeps its timing, and the decoded file rises in level and pitch
    through every in-breath and falls through every out-breath."""
    parts = rendered_spanish["breathing-1m"]
    pattern = parts.track.pattern
    assert pattern is not None
    period, rise, fall = analysis.breath_timing(parts.stems.layers.tone, pattern)
    assert period == pytest.approx(10.0, abs=0.05)
    assert rise == pytest.approx(4.0, abs=0.2) and fall == pytest.approx(6.0, abs=0.2)

    frame = SAMPLE_RATE // 10
    usable = parts.decoded.size - parts.decoded.size % frame
    level = analysis.to_db(np.mean(parts.decoded[:usable].reshape(-1, frame) ** 2, axis=1))
    breath = breath_curve(usable, SAMPLE_RATE, pattern)[::frame]
    times = np.arange(level.size) * 0.1
    paced = (times >= pattern.first_in_s) & (times < pattern.end_s)
    assert np.corrcoef(level[paced], breath[paced])[0, 1] >= 0.85

    def pitch(at_s: float) -> float:
        piece = parts.decoded[round((at_s - 0.25) * SAMPLE_RATE) : round((at_s + 0.25) * SAMPLE_RATE)]
        spectrum = np.abs(np.fft.rfft(piece * np.hanning(piece.size), 16 * piece.size))
        freqs = np.fft.rfftfreq(16 * piece.size, 1 / SAMPLE_RATE)
        band = (freqs >= 150) & (freqs <= 300)
        return float(freqs[band][np.argmax(spectrum[band])])

    for number in range(1, pattern.cycles + 1):
        start = pattern.breath_start(number)
        assert pitch(start + 2.0) < pitch(start + 3.7) > pitch(start + 7.0), number

    tone = analysis.short_term_loudness(parts.tone)
    bed = analysis.short_term_loudness(parts.ambience)
    centres = np.arange(tone.size) * analysis.SHORT_TERM_HOP_S
    steady = (centres >= pattern.first_in_s + 3) & (centres <= pattern.end_s - 3)
    assert -9.0 <= float(np.median(tone[steady] - bed[steady])) <= -3.0, "a gentle guide over the breathing noise"


def test_the_es_us_massage_chime_marks_the_change_of_side(rendered_spanish: dict[str, analysis.Rendered]) -> None:
    """The chime (a 523 Hz bell) stands well out of the bed where the English words said "now the other side"."""
    parts = rendered_spanish["breast-massage"]
    assert parts.track.bed.chimes == (63.0,)

    def bell_band_db(at_s: float) -> float:
        piece = parts.decoded[round(at_s * SAMPLE_RATE) : round((at_s + 0.5) * SAMPLE_RATE)]
        spectrum = np.abs(np.fft.rfft(piece * np.hanning(piece.size))) ** 2
        freqs = np.fft.rfftfreq(piece.size, 1 / SAMPLE_RATE)
        return float(analysis.to_db(spectrum[(freqs >= 513) & (freqs <= 533)].sum()))

    before = max(bell_band_db(at_s) for at_s in np.arange(57.0, 62.5, 0.5))
    assert bell_band_db(63.02) >= before + 12.0
