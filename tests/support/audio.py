"""Audio helpers for tests: small stand-in tracks for a live service, and an independent check of
Alexa's MP3 rules.

`write_fake_audio_dir` writes a catalog, short tone MP3s (encoded like the real tracks) and a manifest in
the builder's format, so service tests do not depend on the real catalog having been built.
`check_alexa_mp3` reads MP3 frames with its own parser (not the encoder's idea of what it wrote) and
decodes with mpg123 (Debian package `mpg123`), a decoder sharing no code with LAME or the builder's
miniaudio; loudness is measured with pyloudnorm (ITU-R BS.1770), the true peak with 4x oversampling.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lameenc
import numpy as np
import pyloudnorm
import pytest
from scipy.signal import resample_poly

from tests.support.alexa import service_environment
from tests.support.pki import TestPKI

# Track id → (title, subtitle, nominal length in s, loops). The manifest claims these lengths as the
# built durations, so the 240-second rule can be exercised with one-second files.
FAKE_TRACKS: dict[str, tuple[str, str, float, bool]] = {
    "breathing-1m": ("Breathing, one minute", "In for four, out for six", 60, False),
    "breathing-2m": ("Breathing, two minutes", "In for four, out for six", 120, False),
    "breathing-5m": ("Breathing, five minutes", "In for four, out for six", 300, False),
    "breathing-10m": ("Breathing, ten minutes", "In for four, out for six", 600, False),
    "letdown-visualisation": ("Let-down visualisation", "Your baby's warmth", 180, False),
    "pump-head-start": ("Pump head start", "A minute of pumping", 70, False),
    "warm-compress": ("Warm compress", "Three minutes of warmth", 192, False),
    "breast-massage": ("Gentle breast massage", "Light strokes", 130, False),
    "dmer-wave": ("Ride the wave", "For D-MER", 124, False),
    "feed-background": ("Calm for a whole feed", "Soft waves, no words", 900, True),
}
# The coach's clips (kind = "clip" in the catalog): found by id, played inside spoken answers, not in the
# Next/Previous order. Id → (title, subtitle, nominal length in s).
FAKE_CLIPS: dict[str, tuple[str, str, float]] = {
    "coach-breathing": ("Coach: breathing", "Slow breaths and dropped shoulders", 75),
    "coach-warmth": ("Coach: warmth and massage", "Warmth, then light strokes", 85),
    "coach-senses-nursing": ("Coach: your baby, close", "Skin to skin, look and smell", 80),
    "coach-senses-pumping": ("Coach: bring your baby to mind", "A photo, a video, their clothes", 85),
    "coach-head-start": ("Coach: a head start", "A minute of hand-expressing or pumping", 80),
}
SAMPLE_RATE = 24000


def fake_mp3(frequency_hz: float, seconds: float = 1.0, amplitude: int = 8000) -> bytes:
    """A mono tone encoded like the real tracks (MPEG-2 layer III, 48 kbps, 24 kHz)."""
    times = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    pcm = (amplitude * np.sin(2 * math.pi * frequency_hz * times)).astype("<i2").tobytes()
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(48)
    encoder.set_in_sample_rate(SAMPLE_RATE)
    encoder.set_out_sample_rate(SAMPLE_RATE)
    encoder.set_channels(1)
    encoder.set_quality(7)
    return bytes(encoder.encode(pcm) + encoder.flush())


def write_fake_audio_dir(audio_dir: Path, built: list[str] | None = None) -> Path:
    """catalog.toml for every FAKE_TRACKS and FAKE_CLIPS entry; MP3s + manifest.json for `built` (default: all)."""
    audio_dir.mkdir(parents=True, exist_ok=True)
    catalog = []
    for track_id, (title, subtitle, length_s, loops) in FAKE_TRACKS.items():
        entry = f'id = "{track_id}"\ntitle = "{title}"\nsubtitle = "{subtitle}"\nlength_s = {length_s}\n'
        catalog.append("[[track]]\n" + entry + ("loop = true\n" if loops else ""))
    for track_id, (title, subtitle, length_s) in FAKE_CLIPS.items():
        entry = f'id = "{track_id}"\nkind = "clip"\ntitle = "{title}"\nsubtitle = "{subtitle}"\nlength_s = {length_s}\n'
        catalog.append("[[track]]\n" + entry)
    (audio_dir / "catalog.toml").write_text("\n".join(catalog), encoding="utf-8")
    lengths = {track_id: (spec[2], spec[3]) for track_id, spec in FAKE_TRACKS.items()}
    lengths |= {track_id: (spec[2], False) for track_id, spec in FAKE_CLIPS.items()}
    manifest = {}
    for index, track_id in enumerate(built if built is not None else lengths):
        data = fake_mp3(220 + 40 * index)
        (audio_dir / f"{track_id}.mp3").write_bytes(data)
        manifest[track_id] = {
            "file": f"{track_id}.mp3",
            "duration_s": lengths[track_id][0],
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            "loop": lengths[track_id][1],
        }
    (audio_dir / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return audio_dir


def shared_service_env(pki: TestPKI, data_dir: Path, audio_dir: Path) -> dict[str, str]:
    """`service_environment` for a service shared by a whole module (each test then uses its own user)."""
    return {**service_environment(pki, data_dir), "LETDOWN_AUDIO_DIR": str(audio_dir)}


# ----- checking built MP3s against Alexa's rules ------------------------------------------------------

MPEG2_LAYER3_BITRATES_KBPS = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, None)
MPEG2_SAMPLE_RATES = (22050, 24000, 16000, None)
MPEG_VERSIONS = {0b00: "2.5", 0b10: "2", 0b11: "1"}
LAYERS = {0b01: 3, 0b10: 2, 0b11: 1}


@dataclass(frozen=True)
class FrameHeader:
    offset: int
    mpeg_version: str
    layer: int
    bitrate_kbps: int | None
    sample_rate: int | None
    mono: bool
    length: int


def parse_mp3_frames(data: bytes) -> list[FrameHeader]:
    """Walks the file frame by frame (skipping ID3 tags); fails if any byte is not part of a frame."""
    offset = 0
    if data[:3] == b"ID3":
        size = data[6:10]
        offset = 10 + (size[0] << 21 | size[1] << 14 | size[2] << 7 | size[3])
    end = len(data) - 128 if data[-128:-125] == b"TAG" else len(data)
    frames = []
    while offset < end:
        header = int.from_bytes(data[offset : offset + 4], "big")
        assert header >> 21 == 0x7FF, f"no MP3 frame sync at byte {offset}"
        version = MPEG_VERSIONS.get((header >> 19) & 0b11, "reserved")
        layer = LAYERS.get((header >> 17) & 0b11, 0)
        bitrate = MPEG2_LAYER3_BITRATES_KBPS[(header >> 12) & 0xF]
        sample_rate = MPEG2_SAMPLE_RATES[(header >> 10) & 0b11]
        padding = (header >> 9) & 1
        mono = (header >> 6) & 0b11 == 0b11
        assert version == "2" and layer == 3 and bitrate and sample_rate, (
            f"not an MPEG-2 layer III frame at byte {offset}: MPEG-{version} layer {layer}, {bitrate} kbps, "
            f"{sample_rate} Hz"
        )
        # MPEG-2 layer III: 576 samples a frame, so 72 bytes per (bit/s ÷ sample rate), plus padding.
        length = 72 * bitrate * 1000 // sample_rate + padding
        frames.append(FrameHeader(offset, version, layer, bitrate, sample_rate, mono, length))
        offset += length
    assert offset == end, f"the last frame overruns the file by {offset - end} bytes"
    return frames


def decode_with_mpg123(path: Path) -> np.ndarray:
    mpg123 = shutil.which("mpg123")
    assert mpg123, "decoding the tracks needs mpg123 (Debian: apt-get install mpg123; ./dev test installs it)"
    result = subprocess.run([mpg123, "-q", "-e", "s16", "-s", str(path)], capture_output=True, check=True)
    return np.frombuffer(result.stdout, dtype=np.int16).astype(np.float64) / 32768.0


def true_peak_dbfs_4x(samples: np.ndarray) -> float:
    peak = max(float(np.max(np.abs(resample_poly(samples, 4, 1)))), float(np.max(np.abs(samples))))
    return 20 * np.log10(max(peak, 1e-12))


def check_alexa_mp3(path: Path, entry: dict[str, Any]) -> None:
    """Alexa's rules for SSML <audio> and AudioPlayer, and agreement with the manifest entry."""
    data = path.read_bytes()
    frames = parse_mp3_frames(data)
    assert frames, f"{path.name}: no MP3 frames"
    assert {(f.mpeg_version, f.layer, f.bitrate_kbps, f.sample_rate, f.mono) for f in frames} == {
        ("2", 3, 48, 24000, True)
    }, f"{path.name}: every frame must be MPEG-2 layer III, 48 kbps, 24000 Hz, mono"

    assert entry["sha256"] == hashlib.sha256(data).hexdigest(), f"{path.name}: sha256 differs from the manifest"
    assert entry["bytes"] == len(data)

    samples = decode_with_mpg123(path)
    duration_s = samples.size / SAMPLE_RATE
    assert duration_s == pytest.approx(len(frames) * 576 / SAMPLE_RATE, abs=0.1)
    assert duration_s == pytest.approx(entry["duration_s"], rel=0.01), f"{path.name}: duration"

    lufs = pyloudnorm.Meter(SAMPLE_RATE).integrated_loudness(samples)
    assert -15.0 <= lufs <= -13.0, f"{path.name}: integrated loudness {lufs:.2f} LUFS, expected -14 ± 1"
    assert lufs == pytest.approx(entry["lufs"], abs=0.3)
    peak = true_peak_dbfs_4x(samples)
    assert peak <= -2.0, f"{path.name}: true peak {peak:.2f} dBFS is above -2 dBFS"
