"""Every built track in audio/ passes Alexa's audio rules, checked independently of the builder.

The MP3 frames are read with the parser below (not the encoder's idea of what it wrote), and the audio is
decoded with mpg123 (Debian package `mpg123`), a decoder that shares no code with LAME or the builder's
miniaudio. Loudness is measured with pyloudnorm (ITU-R BS.1770) and the true peak with 4x oversampling.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyloudnorm
import pytest
from scipy.signal import resample_poly

AUDIO_DIR = Path(__file__).resolve().parent.parent / "audio"
TRACK_IDS = (
    "breathing-1m", "breathing-2m", "breathing-5m", "breathing-10m", "letdown-visualisation",
    "pump-head-start", "warm-compress", "breast-massage", "dmer-wave", "feed-background",
)
MANIFEST_FIELDS = {"file", "title", "subtitle", "duration_s", "lufs", "true_peak_dbfs", "sha256", "bytes",
                   "engine", "voice", "loop"}
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
        frame = FrameHeader(offset, version, layer, bitrate, sample_rate, mono, 0)
        assert version == "2" and layer == 3 and bitrate and sample_rate, f"not an MPEG-2 layer III frame: {frame}"
        # MPEG-2 layer III: 576 samples a frame, so 72 bytes per (bit/s ÷ sample rate), plus padding.
        frame = FrameHeader(offset, version, layer, bitrate, sample_rate, mono,
                            72 * bitrate * 1000 // sample_rate + padding)
        frames.append(frame)
        offset += frame.length
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
    duration_s = samples.size / 24000
    assert duration_s == pytest.approx(len(frames) * 576 / 24000, abs=0.1)
    assert duration_s == pytest.approx(entry["duration_s"], rel=0.01), f"{path.name}: duration"

    lufs = pyloudnorm.Meter(24000).integrated_loudness(samples)
    assert -15.0 <= lufs <= -13.0, f"{path.name}: integrated loudness {lufs:.2f} LUFS, expected -14 ± 1"
    assert lufs == pytest.approx(entry["lufs"], abs=0.3)
    peak = true_peak_dbfs_4x(samples)
    assert peak <= -2.0, f"{path.name}: true peak {peak:.2f} dBFS is above -2 dBFS"


def read_manifest() -> dict[str, dict[str, Any]]:
    return json.loads((AUDIO_DIR / "manifest.json").read_text(encoding="utf-8"))


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
