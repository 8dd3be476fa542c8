"""Mixing: spoken cues placed at their times over the bed, the bed ducked under the voice, fades."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.signal import oaconvolve

from skill.audio_build.beds import REFERENCE_RMS, db_to_gain, synthesize_bed
from skill.audio_build.catalog import CatalogError, TrackRecipe
from skill.audio_build.loudness import limit

CUE_GAP_S = 0.15  # the least silence between two cues
DUCK_LEAD_S = 0.2
DUCK_RAMP_S = 0.35
CUE_EDGE_S = 0.005
SPEECH_PEAK_DB = 10.0  # a cue's peaks are held to this far above its level, so the mix needs little limiting


@dataclass(frozen=True)
class Placement:
    start: int
    clip: np.ndarray

    @property
    def end(self) -> int:
        return self.start + self.clip.size


def level_speech(clip: np.ndarray, sample_rate: int) -> np.ndarray:
    """Scales a cue so its voiced part (20 ms frames within 30 dB of the loudest) has REFERENCE_RMS, and
    limits its peaks to SPEECH_PEAK_DB above that."""
    frame = max(1, sample_rate // 50)
    usable = clip[: clip.size - clip.size % frame] if clip.size >= frame else np.pad(clip, (0, frame - clip.size))
    frame_rms = np.sqrt(np.mean(usable.reshape(-1, frame) ** 2, axis=1))
    voiced = frame_rms[frame_rms >= frame_rms.max() * db_to_gain(-30)]
    rms = float(np.sqrt(np.mean(voiced**2))) if voiced.size else 0.0
    leveled = clip * (REFERENCE_RMS / rms) if rms > 0 else clip.astype(np.float64)
    leveled = limit(leveled, sample_rate, 20 * np.log10(REFERENCE_RMS) + SPEECH_PEAK_DB)
    edge = min(clip.size // 2, round(CUE_EDGE_S * sample_rate))
    if edge:
        ramp = np.linspace(0.0, 1.0, edge)
        leveled[:edge] *= ramp
        leveled[-edge:] *= ramp[::-1]
    return leveled


def place_cues(track: TrackRecipe, speech: Mapping[str, np.ndarray], sample_rate: int) -> list[Placement]:
    """Cue positions, checked: no cue runs into the next or into the fade-out."""
    placements = [
        Placement(round(cue.at_s * sample_rate), level_speech(speech[cue.text], sample_rate)) for cue in track.cues
    ]
    limit = round((track.length_s - (0 if track.loop else track.fade_out_s)) * sample_rate)
    gap = round(CUE_GAP_S * sample_rate)
    for index, (cue, placement) in enumerate(zip(track.cues, placements, strict=True)):
        spoken_s = placement.clip.size / sample_rate
        following = placements[index + 1].start - gap if index + 1 < len(placements) else limit
        if placement.end > following:
            raise CatalogError(
                f"track {track.id!r}: cue at {cue.at_s:g}s ({cue.text!r}) lasts {spoken_s:.2f}s and runs "
                f"{(placement.end - following) / sample_rate:.2f}s into "
                + ("the next cue" if index + 1 < len(placements) else "the end of the track")
            )
    return placements


def duck_envelope(n: int, placements: list[Placement], duck_db: float, sample_rate: int) -> np.ndarray:
    """1 where nobody speaks, duck_db lower under each cue, with smooth ramps."""
    if not placements or duck_db <= 0:
        return np.ones(n)
    speaking = np.zeros(n)
    lead = round(DUCK_LEAD_S * sample_rate)
    for placement in placements:
        speaking[max(0, placement.start - lead) : min(n, placement.end)] = 1.0
    width = max(1, round(DUCK_RAMP_S * sample_rate))
    kernel = np.hanning(width + 2)[1:-1]
    smoothed = np.clip(oaconvolve(speaking, kernel / kernel.sum(), mode="same"), 0.0, 1.0)
    return 1.0 - (1.0 - db_to_gain(-duck_db)) * smoothed


def apply_fades(samples: np.ndarray, sample_rate: int, fade_in_s: float, fade_out_s: float) -> np.ndarray:
    faded = samples.copy()
    for seconds, at_start in ((fade_in_s, True), (fade_out_s, False)):
        width = min(samples.size, round(seconds * sample_rate))
        if width <= 0:
            continue
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, width))
        if at_start:
            faded[:width] *= ramp
        else:
            faded[-width:] *= ramp[::-1]
    return faded


def render_track(track: TrackRecipe, speech: Mapping[str, np.ndarray], sample_rate: int) -> np.ndarray:
    """The track's programme before loudness processing: bed, ducked under the cues, plus the cues, faded."""
    bed = synthesize_bed(track, sample_rate)
    placements = place_cues(track, speech, sample_rate)
    mix = bed * duck_envelope(bed.size, placements, track.bed.duck_db, sample_rate)
    for placement in placements:
        mix[placement.start : placement.end] += placement.clip
    if track.loop:
        return mix
    return apply_fades(mix, sample_rate, track.fade_in_s, track.fade_out_s)
