"""The audio builder: a tiny catalog built for real with the offline piper voice, into a temporary folder.

Nothing is mocked except, in the gTTS tests, the one network call to Google's servers (requests'
Session.send), which cannot be reached from here.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import lameenc
import numpy as np
import pytest
import requests

from skill.audio_build import analysis
from skill.audio_build.beds import bed_layers
from skill.audio_build.build import BuildOptions, BuildReport, build
from skill.audio_build.cache import CueCache
from skill.audio_build.catalog import BreathPattern, CatalogError, PiperSettings, TrackRecipe, load_catalog
from skill.audio_build.encode import SAMPLE_RATE, band_limit
from skill.audio_build.loudness import normalise_loudness
from skill.audio_build.mix import render_stems, render_track
from skill.audio_build.tts import EngineUnavailable, GttsEngine, PiperEngine, make_engine, resolve_engine_name
from skill.config import Config
from skill.playback.catalog import TrackCatalog
from tests.support.audio import check_alexa_mp3

REPO_ROOT = Path(__file__).resolve().parent.parent

TINY_CATALOG = """
[piper]
length_scale = 1.0
sentence_silence_s = 0.2

[[track]]
id = "tiny-breath"
title = "Tiny breath"
subtitle = "One breath"
length_s = 10
source = "test"
bed = { type = "breathing", chimes = [8.5] }
cues = [
  { at = 0.3, text = "Breathe in." },
  { at = 4.3, text = "And out, slowly." },
]
[track.pattern]
first_in_s = 0.0
inhale_s = 4.0
exhale_s = 6.0
cycles = 1
inhale_words = ["Breathe in."]
exhale_words = ["And out, slowly."]

[[track]]
id = "tiny-loop"
title = "Tiny loop"
subtitle = "Loops"
length_s = 10
loop = true
source = "test"
bed = { type = "ambient", noise_db = 0, pad_db = -6, swell_s = 2.5 }
"""


@pytest.fixture(scope="module")
def tiny_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("catalog") / "catalog.toml"
    path.write_text(TINY_CATALOG, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def cold_build(tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[BuildOptions, BuildReport]:
    """A first build: empty cue cache, so piper really runs."""
    options = BuildOptions(
        catalog_path=tiny_catalog,
        out_dir=tmp_path_factory.mktemp("out-cold"),
        cache_dir=tmp_path_factory.mktemp("cache"),
        engine="piper",
        progress=False,
    )
    return options, build(options)


def options_like(options: BuildOptions, **changes: object) -> BuildOptions:
    return dataclasses.replace(options, **changes)


def test_cold_build_writes_alexa_ready_tracks_and_a_manifest(cold_build: tuple[BuildOptions, BuildReport]) -> None:
    options, report = cold_build
    assert sorted(report.built) == ["tiny-breath", "tiny-loop"]
    assert report.speech.synthesized == 2 and report.speech.cached == 0
    manifest = json.loads((options.out_dir / "manifest.json").read_text(encoding="utf-8"))
    assert list(manifest) == ["tiny-breath", "tiny-loop"]
    for entry in manifest.values():
        check_alexa_mp3(options.out_dir / entry["file"], entry)
        assert entry["duration_s"] == pytest.approx(10.0, abs=0.1)
    assert manifest["tiny-breath"]["engine"] == "piper"
    assert manifest["tiny-breath"]["voice"] == "en_US-joe-medium"
    assert manifest["tiny-breath"]["loop"] is False
    assert manifest["tiny-loop"]["loop"] is True and manifest["tiny-loop"]["engine"] is None


def test_warm_rebuild_takes_its_voice_from_the_cache_and_gives_identical_bytes(
    cold_build: tuple[BuildOptions, BuildReport], tmp_path: Path
) -> None:
    """The cache saves the synthesis, the one costly stage it can save (mixing and encoding always run).

    Only that stage is timed: whole-build wall times swing with the load of a shared machine."""
    options, cold = cold_build
    warm_options = options_like(options, out_dir=tmp_path / "out-warm", force=True)
    warm = build(warm_options)

    assert warm.speech.synthesized == 0 and warm.speech.cached == 2
    assert warm.speech_s < cold.speech_s / 5, f"warm voice {warm.speech_s:.3f}s vs cold {cold.speech_s:.3f}s"
    for name in ("tiny-breath.mp3", "tiny-loop.mp3", "manifest.json"):
        assert (warm_options.out_dir / name).read_bytes() == (options.out_dir / name).read_bytes()


def test_cold_rebuild_with_an_empty_cache_gives_identical_bytes(
    cold_build: tuple[BuildOptions, BuildReport], tmp_path: Path
) -> None:
    """Zero-noise piper settings make even the voice deterministic: a second machine builds the same files."""
    options, _ = cold_build
    again = options_like(options, out_dir=tmp_path / "out", cache_dir=tmp_path / "cache", only=("tiny-breath",))
    report = build(again)
    assert report.speech.synthesized == 2
    assert (again.out_dir / "tiny-breath.mp3").read_bytes() == (options.out_dir / "tiny-breath.mp3").read_bytes()


def test_an_up_to_date_track_is_not_rebuilt_until_something_changes(
    cold_build: tuple[BuildOptions, BuildReport], tmp_path: Path
) -> None:
    options, _ = cold_build
    out = options_like(options, out_dir=tmp_path / "out")
    build(out)
    again = build(out)
    assert again.built == [] and sorted(again.up_to_date) == ["tiny-breath", "tiny-loop"]

    (out.out_dir / "tiny-loop.mp3").write_bytes(b"damaged")
    changed_catalog = tmp_path / "catalog.toml"
    changed_catalog.write_text(TINY_CATALOG.replace('"And out, slowly." }', '"And out." }'), encoding="utf-8")
    third = build(options_like(out, catalog_path=changed_catalog))
    assert sorted(third.built) == ["tiny-breath", "tiny-loop"] and third.speech.synthesized == 1


def dominant_frequency(samples: np.ndarray, low_hz: float, high_hz: float) -> float:
    window = samples * np.hanning(samples.size)
    spectrum = np.abs(np.fft.rfft(window, 16 * samples.size))
    freqs = np.fft.rfftfreq(16 * samples.size, 1 / SAMPLE_RATE)
    band = (freqs >= low_hz) & (freqs <= high_hz)
    return float(freqs[band][np.argmax(spectrum[band])])


def test_breathing_bed_rises_in_pitch_and_level_with_the_in_breath_and_falls_with_the_out_breath(
    tiny_catalog: Path,
) -> None:
    track = load_catalog(tiny_catalog).select(["tiny-breath"])[0]
    layers = bed_layers(track, SAMPLE_RATE)
    half = SAMPLE_RATE // 4

    def measure(part: np.ndarray, at_s: float) -> tuple[float, float]:
        centre = round(at_s * SAMPLE_RATE)
        piece = part[centre - half : centre + half]
        return dominant_frequency(piece, 150, 300), float(np.sqrt(np.mean(piece**2)))

    for part, level_ratio in ((layers.tone, 2.0), (layers.total, 1.2)):
        inhale = [measure(part, at_s) for at_s in (0.5, 1.5, 2.5, 3.7)]
        exhale = [measure(part, at_s) for at_s in (4.3, 6.0, 7.5, 9.5)]
        inhale_pitch, inhale_level = zip(*inhale, strict=True)
        exhale_pitch, exhale_level = zip(*exhale, strict=True)
        assert all(b > a for a, b in itertools.pairwise(inhale_pitch)), inhale_pitch
        assert all(b < a for a, b in itertools.pairwise(exhale_pitch)), exhale_pitch
        assert inhale_pitch[-1] - inhale_pitch[0] > 40 and exhale_pitch[0] - exhale_pitch[-1] > 40
        assert inhale_level[-1] > level_ratio * inhale_level[0] and exhale_level[0] > level_ratio * exhale_level[-1]


def test_a_looping_track_fades_out_and_in_so_a_gap_between_plays_is_not_heard(tiny_catalog: Path) -> None:
    track = load_catalog(tiny_catalog).select(["tiny-loop"])[0]

    def programme(loop_track: TrackRecipe) -> np.ndarray:
        return normalise_loudness(band_limit(render_track(loop_track, {}, SAMPLE_RATE)), SAMPLE_RATE, circular=True)

    seam = analysis.seam(programme(track))
    assert seam.edge_peak <= 0.01 and seam.end_level_db <= -25 and seam.start_level_db <= -25, seam
    assert seam.step_db <= seam.body_step_db + 3.0, seam
    # The measure notices a loop that stops dead: the same bed without its fades.
    abrupt = analysis.seam(programme(dataclasses.replace(track, fade_in_s=0.0, fade_out_s=0.0)))
    assert abrupt.edge_peak > 0.05 and abrupt.step_db > seam.body_step_db + 10


def test_the_bed_fades_in_under_words_that_are_never_faded(
    cold_build: tuple[BuildOptions, BuildReport], tiny_catalog: Path
) -> None:
    options, _ = cold_build
    track = load_catalog(tiny_catalog).select(["tiny-breath"])[0]
    cache = CueCache(options.cache_dir, make_engine("piper", load_catalog(tiny_catalog).piper), SAMPLE_RATE)
    speech, stats = cache.speech_for(track.texts, lambda _: None)
    assert stats.synthesized == 0
    stems = render_stems(track, speech, SAMPLE_RATE)
    first = stems.placements[0]
    assert np.array_equal(stems.voice[first.start : first.end], first.clip)
    assert stems.fade[0] == 0.0 and stems.fade[first.start] < 0.1  # the bed is still fading in
    bed = stems.ambience + stems.tone
    assert np.abs(bed[: SAMPLE_RATE // 100]).max() < 1e-3 * np.abs(bed).max()


def test_cues_that_overlap_are_reported_with_their_text(
    cold_build: tuple[BuildOptions, BuildReport], tmp_path: Path
) -> None:
    options, _ = cold_build
    crowded = tmp_path / "catalog.toml"
    crowded.write_text(TINY_CATALOG.replace("at = 4.3", "at = 0.6"), encoding="utf-8")
    with pytest.raises(CatalogError, match="Breathe in"):
        build(options_like(options, catalog_path=crowded, out_dir=tmp_path / "out", only=("tiny-breath",)))


def test_missing_piper_names_the_online_alternative(tmp_path: Path) -> None:
    engine = PiperEngine(
        settings=PiperSettings(), command=[str(tmp_path / "no-piper")], model_path=tmp_path / "voice.onnx"
    )
    with pytest.raises(EngineUnavailable, match="--engine gtts"):
        engine.check_available()


def test_cli_with_an_unusable_piper_voice_exits_with_a_clear_error(tiny_catalog: Path, tmp_path: Path) -> None:
    env = {**os.environ, "LETDOWN_PIPER_MODEL": str(tmp_path / "missing.onnx"), "LETDOWN_TTS_ENGINE": "piper"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "skill.cli",
            "audio",
            "build",
            "--catalog",
            str(tiny_catalog),
            "--out-dir",
            str(tmp_path / "out"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--no-progress",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "piper" in result.stderr and "--engine gtts" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_engine_name_lists_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LETDOWN_TTS_ENGINE", "espeak")
    with pytest.raises(EngineUnavailable, match="piper, gtts"):
        resolve_engine_name(None)
    assert resolve_engine_name("gtts") == "gtts"
    monkeypatch.delenv("LETDOWN_TTS_ENGINE")
    assert resolve_engine_name(None) == "piper"


@pytest.fixture
def google_unreachable() -> Iterator[mock.MagicMock]:
    """Google's TTS servers cannot be reached from here: the network call fails as it would offline."""
    with mock.patch.object(requests.Session, "send", side_effect=requests.ConnectionError("no network")) as send:
        yield send


def test_gtts_without_network_names_the_offline_alternative(
    google_unreachable: mock.MagicMock, tiny_catalog: Path, tmp_path: Path
) -> None:
    options = BuildOptions(
        catalog_path=tiny_catalog,
        out_dir=tmp_path / "out",
        cache_dir=tmp_path / "cache",
        engine="gtts",
        only=("tiny-breath",),
        progress=False,
    )
    with pytest.raises(EngineUnavailable, match="--engine piper") as error:
        build(options)
    assert "internet" in str(error.value)
    assert google_unreachable.called
    assert not (tmp_path / "out" / "tiny-breath.mp3").exists()


def google_style_response(request: requests.PreparedRequest, mp3: bytes) -> requests.Response:
    """The shape of Google's batchexecute answer that gTTS parses: base64 MP3 inside a JSON-ish line."""
    response = requests.Response()
    response.request = request
    response.url = request.url
    response.status_code = 200
    payload = base64.b64encode(mp3).decode()
    body = f')]}}\'\n\n[["wrb.fr","jQ1olc","[\\"{payload}\\"]",null,null,null,"generic"]]\n'
    response.raw = io.BytesIO(body.encode())
    return response


def tone_mp3(seconds: float) -> bytes:
    t = np.arange(round(seconds * 24000)) / 24000
    pcm = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2").tobytes()
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(32)
    encoder.set_in_sample_rate(24000)
    encoder.set_channels(1)
    return bytes(encoder.encode(pcm) + encoder.flush())


def test_gtts_builds_its_request_and_decodes_the_answer(tiny_catalog: Path, tmp_path: Path) -> None:
    sent: list[requests.PreparedRequest] = []

    def fake_send(session: requests.Session, request: requests.PreparedRequest, **kwargs: object):
        sent.append(request)
        return google_style_response(request, tone_mp3(1.5))

    # Only the network call is replaced; gTTS builds the real request and parses the answer itself.
    with mock.patch.object(requests.Session, "send", fake_send):
        options = BuildOptions(
            catalog_path=tiny_catalog,
            out_dir=tmp_path / "out",
            cache_dir=tmp_path / "cache",
            engine="gtts",
            only=("tiny-breath",),
            progress=False,
        )
        report = build(options)

    assert report.speech.synthesized == 2 and len(sent) == 2
    request = sent[0]
    assert request.method == "POST"
    assert request.url.startswith("https://translate.google.com/_/TranslateWebserverUi/data/batchexecute")
    body = requests.utils.unquote(request.body)
    assert "jQ1olc" in body and "Breathe in." in body and '\\"en\\"' in body
    entry = report.manifest["tiny-breath"]
    assert entry["engine"] == "gtts" and entry["voice"] == "en-com"
    check_alexa_mp3(options.out_dir / entry["file"], entry)


def test_gtts_clip_is_decoded_to_pcm_of_the_right_length() -> None:
    def fake_send(session: requests.Session, request: requests.PreparedRequest, **kwargs: object):
        return google_style_response(request, tone_mp3(2.0))

    with mock.patch.object(requests.Session, "send", fake_send):
        [clip] = GttsEngine().synthesize(["Hello."], SAMPLE_RATE, lambda _: None)
    assert clip.size / SAMPLE_RATE == pytest.approx(2.0, abs=0.1)
    assert dominant_frequency(clip[:SAMPLE_RATE], 100, 400) == pytest.approx(220, abs=3)


def test_the_default_engine_is_the_offline_voice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LETDOWN_TTS_ENGINE", raising=False)
    engine = make_engine(resolve_engine_name(None), PiperSettings())
    assert isinstance(engine, PiperEngine)
    engine.check_available()


def test_breathing_pattern_speaks_on_the_chosen_breaths_and_counts_seconds() -> None:
    pattern = BreathPattern(
        first_in_s=10.0,
        inhale_s=4.0,
        exhale_s=6.0,
        cycles=6,
        inhale_words=("Breathe in.",),
        exhale_words=("And out.",),
        count_first=1,
        guide_first=2,
        guide_every=3,
        reminders=("Soft shoulders.",),
        reminder_every=2,
    )
    cues = [(round(cue.at_s, 1), cue.text) for cue in pattern.cues()]
    counted = [
        (10.1, "In."),
        (11.1, "Two."),
        (12.1, "Three."),
        (13.1, "Four."),
        (14.1, "Out."),
        (15.1, "Two."),
        (16.1, "Three."),
        (17.1, "Four."),
        (18.1, "Five."),
        (19.1, "Six."),
    ]
    assert cues == [
        *counted,  # breath 1: counted
        (20.1, "Breathe in."),
        (24.1, "And out."),  # breath 2: guided
        (44.1, "Soft shoulders."),  # breath 4: a reminder on the out-breath
        (50.1, "Breathe in."),
        (54.1, "And out."),  # breath 5: guided again (2 + 3)
        (64.1, "Soft shoulders."),  # breath 6: a reminder
    ]
    assert pattern.end_s == 70.0


# ----- locale sets: wordless variants (issue 12) ------------------------------------------------------------

LOCALE_TABLES = {
    "tiny-breath": '[track.locale.es-US]\ntitle = "Respiración corta"\nsubtitle = "Una respiración"\nchimes = [5.0]\n',
    "tiny-loop": '[track.locale.es-US]\ntitle = "Bucle"\nsubtitle = "Se repite"\n',
}


def with_locale_set(catalog: str = TINY_CATALOG, declaration: str = "[locale.es-US]\nwordless = true\n") -> str:
    """The tiny catalog with an es-US set of both tracks."""
    breath_end = 'exhale_words = ["And out, slowly."]\n'
    text = catalog.replace("[[track]]", declaration + "\n[[track]]", 1)
    text = text.replace(breath_end, breath_end + LOCALE_TABLES["tiny-breath"])
    return text + LOCALE_TABLES["tiny-loop"]


@pytest.fixture(scope="module")
def locale_build(
    cold_build: tuple[BuildOptions, BuildReport], tmp_path_factory: pytest.TempPathFactory
) -> tuple[BuildOptions, BuildReport]:
    """The tiny catalog with an es-US set, built for real (its voice from the first build's cue cache)."""
    options, _ = cold_build
    path = tmp_path_factory.mktemp("catalog-es") / "catalog.toml"
    path.write_text(with_locale_set(), encoding="utf-8")
    locale_options = options_like(options, catalog_path=path, out_dir=tmp_path_factory.mktemp("out-es"))
    return locale_options, build(locale_options)


def test_a_wordless_locale_set_is_built_into_its_own_folder_and_manifest(
    cold_build: tuple[BuildOptions, BuildReport], locale_build: tuple[BuildOptions, BuildReport]
) -> None:
    cold_options, _ = cold_build
    options, report = locale_build
    # tiny-loop has no words and keeps its chimes: it is its own wordless version, and no copy is built.
    assert sorted(report.built) == ["es-US/tiny-breath", "tiny-breath", "tiny-loop"]
    assert report.speech.synthesized == 0, "the variants need no voice"
    # The catalog's own tracks are exactly what they are without the locale set.
    for name in ("tiny-breath.mp3", "tiny-loop.mp3", "manifest.json"):
        assert (options.out_dir / name).read_bytes() == (cold_options.out_dir / name).read_bytes(), name
    manifest = json.loads((options.out_dir / "es-US" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest == report.locale_manifests["es-US"] and list(manifest) == ["tiny-breath"]
    entry = manifest["tiny-breath"]
    check_alexa_mp3(options.out_dir / "es-US" / entry["file"], entry)
    assert entry["duration_s"] == pytest.approx(10.0, abs=0.1)
    assert (entry["engine"], entry["voice"], entry["locale"], entry["wordless"]) == (None, None, "es-US", True)
    assert (entry["title"], entry["subtitle"]) == ("Respiración corta", "Una respiración")
    spanish = (options.out_dir / "es-US" / "tiny-breath.mp3").read_bytes()
    assert spanish != (options.out_dir / "tiny-breath.mp3").read_bytes()

    again = build(options)
    assert again.built == [] and sorted(again.up_to_date) == sorted(report.built)
    only_spanish = build(options_like(options, locale="es-US", force=True))
    assert only_spanish.built == ["es-US/tiny-breath"]
    assert (options.out_dir / "es-US" / "tiny-breath.mp3").read_bytes() == spanish
    with pytest.raises(CatalogError, match="no locale set 'es-MX'"):
        build(options_like(options, locale="es-MX"))


def test_the_locale_plays_its_variants_and_the_wordless_originals_under_its_titles(
    locale_build: tuple[BuildOptions, BuildReport],
) -> None:
    options, _ = locale_build
    audio_dir = options.out_dir
    shutil.copy(options.catalog_path, audio_dir / "catalog.toml")
    catalog = TrackCatalog.load(Config(audio_dir=audio_dir, public_url="https://letdown.example"))
    spanish = catalog.for_locale("es-US")
    assert catalog.locales() == ("es-US",) and catalog.for_locale("en-GB") is catalog
    breath = spanish.playable("tiny-breath")
    assert breath is not None and breath.title == "Respiración corta"
    assert (
        spanish.stream_url("tiny-breath") == f"https://letdown.example/audio/es-US/tiny-breath.mp3?v={breath.version}"
    )
    loop = spanish.playable("tiny-loop")
    assert loop is not None and (loop.title, loop.subtitle) == ("Bucle", "Se repite")
    assert spanish.stream_url("tiny-loop") == catalog.stream_url("tiny-loop"), "the same file, no copy"
    served = catalog.served_file("es-US/tiny-breath.mp3")
    assert served is not None and served.path == audio_dir / "es-US" / "tiny-breath.mp3"
    assert catalog.served_file("es-US/tiny-loop.mp3") is None


def test_a_wordless_variant_keeps_the_bed_pacing_tone_and_timing_and_drops_every_cue(
    locale_build: tuple[BuildOptions, BuildReport],
) -> None:
    options, _ = locale_build
    catalog = load_catalog(options.catalog_path)
    original = catalog.select(["tiny-breath"])[0]
    [spanish] = catalog.locales
    variant = spanish.select(["tiny-breath"])[0]
    assert (spanish.locale, spanish.wordless, variant.cues, variant.length_s) == ("es-US", True, (), original.length_s)
    assert variant.bed.chimes == (5.0,) and original.bed.chimes == (8.5,)

    speech, _ = CueCache(options.cache_dir, make_engine("piper", catalog.piper), SAMPLE_RATE).speech_for(
        original.texts, lambda _: None
    )
    voiced = render_stems(original, speech, SAMPLE_RATE)
    wordless = render_stems(variant, {}, SAMPLE_RATE)
    assert not wordless.voice.any() and wordless.placements == ()
    assert wordless.duck.min() == 1.0, "nothing to duck under"
    # The same pacing tone, only set from the voice's usual loudness instead of this voice's.
    gain = np.sqrt(np.mean(wordless.layers.tone**2) / np.mean(voiced.layers.tone**2))
    np.testing.assert_allclose(wordless.layers.tone, gain * voiced.layers.tone, atol=1e-9)
    assert 0.7 < gain < 1.4


@pytest.mark.parametrize(
    ("catalog_text", "message"),
    [
        (with_locale_set(declaration=""), "no [locale.es-US] table"),
        (with_locale_set(declaration="[locale.es-US]\nwordless = false\n"), "only wordless sets"),
        (with_locale_set(declaration="[locale.es-US]\nvoice = 'x'\n"), "unknown key(s) voice"),
        (with_locale_set(declaration="[locale.spanish]\nwordless = true\n"), "not a locale like es-US"),
        (with_locale_set().replace("chimes = [5.0]", "chimes = [12.0]"), "chime at 12.0s is outside"),
        (with_locale_set().replace('title = "Bucle"', 'cues = []\ntitle = "Bucle"'), "unknown key(s) cues"),
    ],
)
def test_a_broken_locale_set_is_refused_with_its_reason(tmp_path: Path, catalog_text: str, message: str) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(catalog_text, encoding="utf-8")
    with pytest.raises(CatalogError, match=re.escape(message)):
        load_catalog(path)
