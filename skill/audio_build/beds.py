"""Beds: the sound under the voice, synthesized with numpy.

- a pacing tone that glides up in pitch and level with each in-breath and back down with the out-breath;
- soft noise, low-passed, that breathes with the pattern or swells slowly like distant waves;
- a quiet open-chord pad; soft bell chimes.

The components are balanced by their dB settings, then the bed as a whole is set to `level_db` relative to
the voice's loudness as measured on the placed cues; chimes are relative to the voice's leveled RMS.
Everything except the breathing glide is built from whole cycles over the track length (noise included: it
is shaped in the frequency domain), so an ambient bed is periodic and a looping track's end joins its start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skill.audio_build.catalog import Bed, BreathPattern, TrackRecipe
from skill.audio_build.loudness import integrated_loudness

REFERENCE_RMS = 0.1
NO_VOICE_LUFS = -24.0  # the reference level of a bed without words (normalising sets its final level)
# A wordless variant's bed is set as if the voice were there, at the placed cues' usual loudness (measured on
# the voiced tracks: -26.4 to -25.7 LUFS), so its chimes keep the balance they have over the bed in the original.
WORDLESS_VOICE_LUFS = -26.0
TONE_FLOOR = 0.2  # pacing tone level at the bottom of a breath, relative to the top
TONE_HARMONICS = ((1, 1.0), (2, 0.3), (3, 0.08))
PAD_NOTES = ((1.0, 1.0, 29.0), (1.5, 0.7, 23.0), (2.0, 0.5, 37.0), (2.5, 0.25, 31.0), (3.0, 0.22, 19.0))
BELL_PARTIALS = ((1.0, 1.0, 2.6), (2.0, 0.4, 1.8), (2.76, 0.28, 1.2), (4.07, 0.1, 0.7), (5.4, 0.06, 0.45))
CHIME_HZ = 523.25
CHIME_LENGTH_S = 7.0
TONE_LEAD_IN_S = 2.5
TONE_LEAD_OUT_S = 3.0
PAD_DECIMATION = 4
NOISE_CLIP_SIGMA = 2.0
NOISE_CREST_ITERATIONS = 3


def db_to_gain(db: float) -> float:
    return float(10 ** (db / 20))


@dataclass(frozen=True)
class BedLayers:
    """The bed in two parts, at their final levels: the pacing tone (zero without a pattern) and the rest."""

    ambience: np.ndarray
    tone: np.ndarray

    @property
    def total(self) -> np.ndarray:
        return self.ambience + self.tone


def synthesize_bed(track: TrackRecipe, sample_rate: int, voice_lufs: float | None = None) -> np.ndarray:
    return bed_layers(track, sample_rate, voice_lufs).total


def bed_layers(track: TrackRecipe, sample_rate: int, voice_lufs: float | None = None) -> BedLayers:
    """The bed's layers, the whole set `level_db` from the voice's measured loudness (`voice_lufs`, the placed
    cues' integrated loudness; a track without words uses NO_VOICE_LUFS, its level being set by normalising, and a
    wordless variant WORDLESS_VOICE_LUFS)."""
    bed = track.bed
    n = round(track.length_s * sample_rate)
    rng = np.random.default_rng(bed.seed)
    breath = breath_curve(n, sample_rate, track.pattern) if track.pattern else None
    ambience = db_to_gain(bed.noise_db) * _noise_layer(n, sample_rate, bed, rng, breath)
    if bed.pad_db is not None:
        ambience += db_to_gain(bed.pad_db) * pad(n, sample_rate, bed.root_hz)
    tone = np.zeros(n)
    if track.pattern is not None:
        tone = db_to_gain(bed.tone_db) * pacing_tone(
            n, sample_rate, track.pattern, bed.tone_low_hz, bed.tone_high_hz, breath
        )
    reference = voice_lufs if voice_lufs is not None else WORDLESS_VOICE_LUFS if track.wordless else NO_VOICE_LUFS
    gain = db_to_gain(reference + bed.level_db - integrated_loudness(ambience + tone, sample_rate))
    ambience *= gain
    tone *= gain
    for at_s in bed.chimes:
        add_chime(ambience, sample_rate, at_s, REFERENCE_RMS * db_to_gain(bed.chime_db))
    return BedLayers(ambience, tone)


def breath_curve(n: int, sample_rate: int, pattern: BreathPattern) -> np.ndarray:
    """0 at the bottom of each breath, 1 at the top: a smooth rise over the in-breath, fall over the out-breath."""
    rel = np.arange(n) / sample_rate - pattern.first_in_s
    phase = np.mod(rel, pattern.period_s)
    rising = 0.5 - 0.5 * np.cos(np.pi * phase / pattern.inhale_s)
    falling = 0.5 + 0.5 * np.cos(np.pi * (phase - pattern.inhale_s) / pattern.exhale_s)
    curve = np.where(phase < pattern.inhale_s, rising, falling)
    curve[(rel < 0) | (rel >= pattern.cycles * pattern.period_s)] = 0.0
    return curve


def pacing_tone(
    n: int, sample_rate: int, pattern: BreathPattern, low_hz: float, high_hz: float, breath: np.ndarray | None = None
) -> np.ndarray:
    """A warm tone whose pitch and level follow the breath; unit RMS at the top of a breath."""
    if breath is None:
        breath = breath_curve(n, sample_rate, pattern)
    frequency = low_hz + (high_hz - low_hz) * breath
    phase = 2 * np.pi * np.cumsum(frequency) / sample_rate
    wave = sum(weight * np.sin(harmonic * phase) for harmonic, weight in TONE_HARMONICS)
    wave /= np.sqrt(sum(weight**2 for _, weight in TONE_HARMONICS) / 2)
    t = np.arange(n) / sample_rate
    lead_in = _ramp((t - (pattern.first_in_s - TONE_LEAD_IN_S)) / TONE_LEAD_IN_S)
    lead_out = 1.0 - _ramp((t - pattern.end_s) / TONE_LEAD_OUT_S)
    return wave * lead_in * lead_out * (TONE_FLOOR + (1 - TONE_FLOOR) * breath)


def shaped_noise(n: int, sample_rate: int, rng: np.random.Generator, cutoff_hz: float) -> np.ndarray:
    """Pink-ish noise, high-passed at 40 Hz and low-passed at cutoff_hz; unit RMS; periodic over n samples."""
    bins = n // 2 + 1
    spectrum = rng.standard_normal(bins) + 1j * rng.standard_normal(bins)
    freqs = np.fft.rfftfreq(n, 1 / sample_rate)
    pink = 1 / np.sqrt(np.maximum(freqs, 20.0))
    lowpass = 1 / np.sqrt(1 + (freqs / cutoff_hz) ** 4)
    highpass = (freqs / 40.0) ** 2 / (1 + (freqs / 40.0) ** 2)
    spectrum *= pink * lowpass * highpass
    return _low_crest(spectrum, n)


def _low_crest(spectrum: np.ndarray, n: int) -> np.ndarray:
    """Noise with this magnitude spectrum and a low crest factor (about 8 dB instead of Gaussian noise's 14):
    clip, then put the spectrum back, keeping the clipped signal's phases. The bed's peaks are then close to
    its loudness, so the programme reaches its loudness without a limiter flattening it."""
    magnitude = np.abs(spectrum)
    noise = np.fft.irfft(spectrum, n)
    for _ in range(NOISE_CREST_ITERATIONS):
        bound = NOISE_CLIP_SIGMA * np.sqrt(np.mean(noise**2))
        clipped = np.fft.rfft(np.clip(noise, -bound, bound))
        noise = np.fft.irfft(magnitude * np.exp(1j * np.angle(clipped)), n)
    return noise / np.sqrt(np.mean(noise**2))


def pad(n: int, sample_rate: int, root_hz: float) -> np.ndarray:
    """A quiet open chord, each note with its own slow swell; unit RMS; periodic over n samples.

    Its highest partial is a few hundred Hz, so it is made at a quarter of the rate and brought up by
    FFT resampling, which keeps it exactly periodic.
    """
    n_low = max(1, n // PAD_DECIMATION)
    low_rate = sample_rate * n_low / n
    out = np.zeros(n_low)
    for ratio, weight, swell_s in PAD_NOTES:
        frequency = root_hz * ratio
        note = _periodic_sine(n_low, low_rate, frequency) + 0.15 * _periodic_sine(n_low, low_rate, 2 * frequency)
        swell = 0.65 + 0.35 * _periodic_sine(n_low, low_rate, 1 / swell_s, phase_cycles=ratio / 7)
        out += weight * note * swell
    spectrum = np.zeros(n // 2 + 1, dtype=complex)
    low_spectrum = np.fft.rfft(out)
    spectrum[: low_spectrum.size - 1] = low_spectrum[:-1]  # drop the low rate's Nyquist bin (empty here)
    upsampled = np.fft.irfft(spectrum, n)
    return upsampled / np.sqrt(np.mean(upsampled**2))


def add_chime(out: np.ndarray, sample_rate: int, at_s: float, level: float) -> None:
    """Adds a soft bell in place, struck at at_s; level is its RMS over the first half second."""
    start = round(at_s * sample_rate)
    length = min(round(CHIME_LENGTH_S * sample_rate), out.size - start)
    if length <= 0:
        return
    t = np.arange(length) / sample_rate
    bell = sum(
        weight * np.exp(-t / decay_s) * np.sin(2 * np.pi * CHIME_HZ * ratio * t)
        for ratio, weight, decay_s in BELL_PARTIALS
    )
    bell *= _ramp(t / 0.004)
    head = bell[: min(length, sample_rate // 2)]
    out[start : start + length] += level * bell / np.sqrt(np.mean(head**2))


def _noise_layer(n: int, sample_rate: int, bed: Bed, rng: np.random.Generator, breath: np.ndarray | None) -> np.ndarray:
    noise = shaped_noise(n, sample_rate, rng, bed.noise_cutoff_hz)
    if breath is not None:
        return noise * (0.7 + 0.3 * breath)
    if bed.swell_s <= 0:
        return noise
    # Waves: a slow swell, with a brighter wash of noise at each crest.
    wave = _periodic_swell(n, sample_rate, bed.swell_s, phase_cycles=0.0) ** 1.5
    slow = _periodic_swell(n, sample_rate, bed.swell_s * 2.7, phase_cycles=0.3)
    wash = shaped_noise(n, sample_rate, rng, bed.noise_cutoff_hz * 2.5)
    layer = noise * (0.45 + 0.4 * wave + 0.15 * slow) + 0.5 * wash * wave**2
    return layer / np.sqrt(np.mean(layer**2))


def _periodic_sine(n: int, sample_rate: float, frequency_hz: float, phase_cycles: float = 0.0) -> np.ndarray:
    """A sine with a whole number of cycles over n samples (frequency rounded to the nearest such)."""
    cycles = max(1, round(frequency_hz * n / sample_rate))
    return np.sin(np.arange(n) * (2 * np.pi * cycles / n) + 2 * np.pi * phase_cycles)


def _periodic_swell(n: int, sample_rate: int, period_s: float, phase_cycles: float) -> np.ndarray:
    return 0.5 - 0.5 * _periodic_sine(n, sample_rate, 1 / period_s, phase_cycles + 0.25)


def _ramp(x: np.ndarray) -> np.ndarray:
    """0 below 0, a raised-cosine rise over [0, 1], 1 above."""
    clipped = np.clip(x, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * clipped)
