"""Listening measurements of a track, from its rendered parts (the build is deterministic, so the voice-only and
bed-only stems of a committed MP3 can be rebuilt exactly) and from the decoded MP3.

- voice-to-bed ratio per cue: K-weighted (BS.1770) energy of the voice against the bed under it, over the
  20 ms frames where that cue speaks;
- words per minute per cue, over the cue as placed (its pauses included);
- limiter gain reduction of the programme (mean and largest, dB);
- short-term loudness (3 s) of the pacing tone against the voice, and its swing over each breath;
- the start of every track (is there a fade-in, is the first word faded) and, for a looping track, the seam
  as it sounds when the file is played into itself with a gap;
- clipping, DC offset, mains hum.

Word recall by an offline recogniser lives in `skill.audio_build.recognition` (pocketsphinx is an optional,
test-only dependency).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from pyloudnorm.iirfilter import IIRfilter
from scipy.ndimage import uniform_filter1d
from scipy.signal import fftconvolve

from skill.audio_build.build import Mastered, master
from skill.audio_build.catalog import BreathPattern, TrackRecipe
from skill.audio_build.encode import SAMPLE_RATE, band_limit
from skill.audio_build.loudness import integrated_loudness
from skill.audio_build.mix import Stems, render_stems

FRAME_S = 0.02
SPEAKING_RANGE_DB = 25.0  # a cue's frames within this of its loudest frame count as speaking
SHORT_TERM_S = 3.0
SHORT_TERM_HOP_S = 0.1
SOUND_THRESHOLD = 1e-3  # |sample| above this (−60 dBFS) is sound, below it the codec's silence
SEAM_GAP_S = 0.5  # Alexa's queueing may leave up to about this between two plays of a looping track
STEP_FRAME_S = 0.05  # the level steps are read in 50 ms frames (shorter ones mostly show the noise's grain)
SEAM_FLOOR_DB = -30.0  # levels this far under the track's median count as silence when judging the seam
EDGE_S = 0.005
ONSET_S = 0.1


@dataclass(frozen=True)
class Rendered:
    """A track as built, in parts at programme level (after gain, limiter and band limit): voice + ambience +
    tone add up to what was encoded; `decoded` is the MP3 as a listener gets it, aligned to the parts."""

    track: TrackRecipe
    stems: Stems
    mastered: Mastered
    voice: np.ndarray
    ambience: np.ndarray
    tone: np.ndarray
    decoded: np.ndarray
    decoded_full: np.ndarray  # the MP3 decoded as is: the codec's delay and padding included
    sample_rate: int = SAMPLE_RATE

    @property
    def bed(self) -> np.ndarray:
        return self.ambience + self.tone


def render(track: TrackRecipe, speech: Mapping[str, np.ndarray]) -> Rendered:
    stems = render_stems(track, speech, SAMPLE_RATE)
    mastered = master(track, band_limit(stems.mix))
    gains = mastered.normalisation
    gain = 10 ** (gains.gain_db / 20) * gains.limiter
    voice, ambience, tone = (band_limit(part) * gain for part in (stems.voice, stems.ambience, stems.tone))
    programme = voice + ambience + tone
    lag = codec_delay(mastered.decoded, programme)
    aligned = mastered.decoded[lag : lag + programme.size]
    aligned = np.pad(aligned, (0, programme.size - aligned.size))
    return Rendered(track, stems, mastered, voice, ambience, tone, aligned, mastered.decoded)


def codec_delay(decoded: np.ndarray, programme: np.ndarray, search_s: float = 0.2) -> int:
    """Samples by which the decoded MP3 lags the programme (cross-correlation over the first 20 s)."""
    span = min(programme.size, 20 * SAMPLE_RATE)
    reach = round(search_s * SAMPLE_RATE)
    a = decoded[: span + reach]
    b = programme[:span]
    correlation = fftconvolve(a, b[::-1], mode="full")[span - 1 : span - 1 + reach]
    return int(np.argmax(correlation))


# ----- level measures -------------------------------------------------------------------------------------


def k_weighted(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The BS.1770 K-weighting pyloudnorm's meter applies (high shelf, then high pass)."""
    shelf = IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, sample_rate, "high_shelf")
    high_pass = IIRfilter(0.0, 0.5, 38.0, sample_rate, "high_pass")
    return high_pass.apply_filter(shelf.apply_filter(samples))


def frame_energy(samples: np.ndarray, sample_rate: int = SAMPLE_RATE, frame_s: float = FRAME_S) -> np.ndarray:
    frame = max(1, round(frame_s * sample_rate))
    usable = samples[: samples.size - samples.size % frame]
    return np.mean(usable.reshape(-1, frame) ** 2, axis=1)


def to_db(energy: np.ndarray | float) -> np.ndarray:
    return 10 * np.log10(np.maximum(energy, 1e-20))


def short_term_loudness(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """BS.1770 short-term loudness (3 s window) every 0.1 s, in LUFS (mono)."""
    weighted = k_weighted(samples, sample_rate) ** 2
    mean = uniform_filter1d(weighted, round(SHORT_TERM_S * sample_rate), mode="constant")
    hop = round(SHORT_TERM_HOP_S * sample_rate)
    return -0.691 + to_db(mean[::hop])


@dataclass(frozen=True)
class CueBalance:
    at_s: float
    text: str
    words: int
    spoken_s: float
    voice_over_bed_db: float  # over the frames where the cue speaks, against the bed as mixed (ducked)
    voice_over_unducked_bed_db: float  # the same against the bed before ducking

    @property
    def words_per_minute(self) -> float:
        return 60 * self.words / self.spoken_s


def cue_balances(rendered: Rendered) -> list[CueBalance]:
    sample_rate = rendered.sample_rate
    voice = k_weighted(rendered.voice, sample_rate)
    bed = k_weighted(rendered.bed, sample_rate)
    duck = np.maximum(rendered.stems.duck, 1e-6)
    unducked = k_weighted(rendered.bed / duck, sample_rate)
    balances = []
    for cue, placement in zip(rendered.track.cues, rendered.stems.placements, strict=True):
        span = slice(placement.start, placement.end)
        voice_frames = frame_energy(voice[span], sample_rate)
        speaking = voice_frames >= voice_frames.max() * 10 ** (-SPEAKING_RANGE_DB / 10)
        voice_energy = float(voice_frames[speaking].sum())
        bed_energy = float(frame_energy(bed[span], sample_rate)[speaking].sum())
        unducked_energy = float(frame_energy(unducked[span], sample_rate)[speaking].sum())
        balances.append(
            CueBalance(
                at_s=cue.at_s,
                text=cue.text,
                words=len(cue.text.split()),
                spoken_s=placement.clip.size / sample_rate,
                voice_over_bed_db=float(to_db(voice_energy) - to_db(bed_energy)),
                voice_over_unducked_bed_db=float(to_db(voice_energy) - to_db(unducked_energy)),
            )
        )
    return balances


@dataclass(frozen=True)
class Limiting:
    mean_db: float
    max_db: float


def limiting(rendered: Rendered) -> Limiting:
    reduction = rendered.mastered.normalisation.reduction_db
    return Limiting(float(reduction.mean()), float(reduction.max()))


@dataclass(frozen=True)
class PacingTone:
    """The pacing tone against the voice, and how the programme's loudness moves with the breath."""

    tone_peak_lufs: float  # loudest short-term loudness of the tone alone
    voice_lufs: float  # the voice alone, integrated (gated), as mixed
    programme_peak_lufs: float  # loudest short-term loudness of the programme during the paced breaths
    intro_lufs: float  # short-term loudness of the programme over the spoken intro (first cue)
    swing_db: float  # median over breaths of (loudest − quietest) short-term loudness of the programme
    period_s: float  # the tone's level: time from one top of a breath to the next (median)
    rise_s: float  # from the bottom of a breath to its top (median)
    fall_s: float  # from the top to the next bottom (median)

    @property
    def tone_over_voice_db(self) -> float:
        return self.tone_peak_lufs - self.voice_lufs

    @property
    def peak_over_intro_db(self) -> float:
        return self.programme_peak_lufs - self.intro_lufs


def pacing_tone(rendered: Rendered) -> PacingTone | None:
    pattern = rendered.track.pattern
    if pattern is None:
        return None
    sample_rate = rendered.sample_rate
    hop = SHORT_TERM_HOP_S
    programme = short_term_loudness(rendered.voice + rendered.bed, sample_rate)
    tone = short_term_loudness(rendered.tone, sample_rate)
    # short_term_loudness is centred: value k covers k·hop ± 1.5 s
    times = np.arange(programme.size) * hop
    paced = (times >= pattern.first_in_s + SHORT_TERM_S / 2) & (times <= pattern.end_s - SHORT_TERM_S / 2)
    first = rendered.stems.placements[0]
    intro_at = (first.start + first.end) / 2 / sample_rate
    swings = []
    for breath in range(1, pattern.cycles + 1):
        start = pattern.breath_start(breath)
        within = (times >= start) & (times < start + pattern.period_s) & paced
        if within.sum() > 5:
            swings.append(float(programme[within].max() - programme[within].min()))
    period, rise, fall = _breath_timing(rendered.stems.layers.tone, sample_rate, pattern)
    return PacingTone(
        tone_peak_lufs=float(tone.max()),
        voice_lufs=integrated_loudness(rendered.voice, sample_rate),
        programme_peak_lufs=float(programme[paced].max()),
        intro_lufs=float(programme[min(programme.size - 1, round(intro_at / hop))]),
        swing_db=float(np.median(swings)) if swings else 0.0,
        period_s=period,
        rise_s=rise,
        fall_s=fall,
    )


def breath_timing(
    samples: np.ndarray, pattern: BreathPattern, sample_rate: int = SAMPLE_RATE
) -> tuple[float, float, float]:
    """Median period, rise and fall (s) of a signal's level over the pattern's breaths: of the pacing tone alone,
    or of a wordless track as decoded, whose whole bed breathes with the tone."""
    return _breath_timing(samples, sample_rate, pattern)


def _breath_timing(tone: np.ndarray, sample_rate: int, pattern: BreathPattern) -> tuple[float, float, float]:
    """Median period, rise and fall of the tone's level (10 ms RMS, smoothed) over the full breaths."""
    frame_s = 0.01
    level = uniform_filter1d(np.sqrt(frame_energy(tone, sample_rate, frame_s)), 25)
    tops: list[int] = []
    bottoms: list[int] = []
    for breath in range(1, pattern.cycles):
        start = round(pattern.breath_start(breath) / frame_s)
        cycle = level[start : start + round(pattern.period_s / frame_s)]
        tops.append(start + int(np.argmax(cycle)))
    for top_a, top_b in itertools.pairwise(tops):
        bottoms.append(top_a + int(np.argmin(level[top_a:top_b])))
    periods = np.diff(tops) * frame_s
    rises = [(top - bottom) * frame_s for bottom, top in zip(bottoms, tops[1:], strict=False)]
    falls = [(bottom - top) * frame_s for top, bottom in zip(tops, bottoms, strict=False)]
    if not rises:
        return float("nan"), float("nan"), float("nan")
    return float(np.median(periods)), float(np.median(rises)), float(np.median(falls))


# ----- edges: the start of a track, the loop seam ---------------------------------------------------------


@dataclass(frozen=True)
class Onset:
    onset_db: float  # first 100 ms of sound against the track's median level
    onset_peak: float  # largest |sample| in the first 5 ms of sound (full scale = 1)
    first_word_fade_db: float  # the first half second of the first cue as mixed against as spoken (0: not faded)


def onset(rendered: Rendered) -> Onset:
    first_fade = 0.0
    if rendered.stems.placements:
        first = rendered.stems.placements[0]
        head = slice(first.start, first.start + min(first.clip.size, rendered.sample_rate // 2))
        mixed = float(np.abs(rendered.stems.voice[head]).max())
        spoken = float(np.abs(first.clip[: head.stop - head.start]).max())
        first_fade = float(20 * np.log10(max(mixed, 1e-9) / spoken))
    head_db, head_peak = start_of_sound(rendered.decoded_full, rendered.sample_rate)
    return Onset(onset_db=head_db, onset_peak=head_peak, first_word_fade_db=first_fade)


def start_of_sound(decoded: np.ndarray, sample_rate: int = SAMPLE_RATE) -> tuple[float, float]:
    """(level of the first 100 ms of sound against the track's median 400 ms level in dB, largest |sample| in
    its first 5 ms) of a decoded track: a track that fades in starts tens of dB down, with no click."""
    sound = np.flatnonzero(np.abs(decoded) > SOUND_THRESHOLD)
    start = int(sound[0]) if sound.size else 0
    median = float(np.median(frame_energy(decoded, sample_rate, 0.4)))
    head = decoded[start : start + round(ONSET_S * sample_rate)]
    return float(to_db(np.mean(head**2)) - to_db(median)), float(np.abs(head[: round(EDGE_S * sample_rate)]).max())


@dataclass(frozen=True)
class Seam:
    """A looping track played into itself, as Alexa's queue plays it: the file's end, then its start."""

    edge_peak: float  # largest |sample| in the last 5 ms before the sound stops, or the first 5 ms after it starts
    end_level_db: float  # the last 100 ms of sound against the track's median level
    start_level_db: float  # the first 100 ms of sound against the track's median level
    dip_ms: float  # how long the join (no extra gap) stays more than 20 dB under the median
    step_db: float  # the largest 50 ms step of the level across the join, with a 0.5 s gap (floored at −30 dB)
    body_step_db: float  # the same measure away from the join, for comparison


def seam(decoded: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Seam:
    """The seam of a decoded looping track (the whole file, the codec's delay and padding included)."""
    sound = np.flatnonzero(np.abs(decoded) > SOUND_THRESHOLD)
    first, last = int(sound[0]), int(sound[-1]) + 1
    edge = round(EDGE_S * sample_rate)
    median_db = float(to_db(np.median(frame_energy(decoded, sample_rate))))
    step_median_db = float(to_db(np.median(frame_energy(decoded, sample_rate, STEP_FRAME_S))))
    window = round(ONSET_S * sample_rate)

    def level_db(part: np.ndarray) -> float:
        return float(to_db(np.mean(part**2)) - median_db)

    reach = 3 * sample_rate
    joined = np.concatenate([decoded[-reach:], decoded[:reach]])
    dip = to_db(frame_energy(joined, sample_rate)) - median_db < -20
    gapped = np.concatenate([decoded[-reach:], np.zeros(round(SEAM_GAP_S * sample_rate)), decoded[:reach]])
    body = decoded[decoded.size // 2 - reach : decoded.size // 2 + reach]
    return Seam(
        edge_peak=float(max(np.abs(decoded[last - edge : last]).max(), np.abs(decoded[first : first + edge]).max())),
        end_level_db=level_db(decoded[last - window : last]),
        start_level_db=level_db(decoded[first : first + window]),
        dip_ms=float(_longest_run(dip) * FRAME_S * 1000),
        step_db=_largest_step(gapped, sample_rate, step_median_db),
        body_step_db=_largest_step(body, sample_rate, step_median_db),
    )


def _largest_step(samples: np.ndarray, sample_rate: int, median_db: float) -> float:
    level = np.maximum(to_db(frame_energy(samples, sample_rate, STEP_FRAME_S)) - median_db, SEAM_FLOOR_DB)
    return float(np.abs(np.diff(level)).max())


def _longest_run(flags: np.ndarray) -> int:
    longest = current = 0
    for flag in flags:
        current = current + 1 if flag else 0
        longest = max(longest, current)
    return longest


# ----- faults ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Faults:
    clipped_samples: int
    dc_offset: float
    hum_db: float  # power density within 0.5 Hz of 50 and 60 Hz against 35–135 Hz around them (0 dB: no hum)


def faults(rendered: Rendered) -> Faults:
    decoded = rendered.decoded_full
    spectrum = np.abs(np.fft.rfft(decoded)) ** 2
    freqs = np.fft.rfftfreq(decoded.size, 1 / rendered.sample_rate)
    mains = (np.abs(freqs - 50) <= 0.5) | (np.abs(freqs - 60) <= 0.5)
    around = (freqs >= 35) & (freqs <= 135) & ~mains
    return Faults(
        clipped_samples=int(np.count_nonzero(np.abs(decoded) >= 0.999)),
        dc_offset=float(decoded.mean()),
        hum_db=float(to_db(spectrum[mains].mean()) - to_db(spectrum[around].mean())),
    )
