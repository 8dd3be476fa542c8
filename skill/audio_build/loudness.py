"""Loudness (ITU-R BS.1770 via pyloudnorm), true peak (4x oversampling) and a look-ahead true-peak limiter.

Alexa's rule: −14 LUFS integrated, true peak at or below −2 dBFS. The limiter aims lower (−3 dBFS) to
leave room for the overshoot that MP3 encoding adds; the builder measures the decoded MP3 to be sure.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyloudnorm
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import resample_poly

TARGET_LUFS = -14.0
TRUE_PEAK_LIMIT_DBFS = -2.0
TRUE_PEAK_CEILING_DBFS = -3.0
OVERSAMPLING = 4
LIMITER_WINDOW_S = 0.03
LOUDNESS_TOLERANCE_LU = 0.05
_CHUNK = 1 << 18
_CHUNK_PAD = 64


def integrated_loudness(samples: np.ndarray, sample_rate: int) -> float:
    return float(pyloudnorm.Meter(sample_rate).integrated_loudness(samples))


def oversampled_peaks(samples: np.ndarray, circular: bool = False) -> np.ndarray:
    """For each sample, the largest magnitude of the 4x oversampled signal around it (computed in chunks)."""
    source = np.concatenate([samples[-_CHUNK_PAD:], samples, samples[:_CHUNK_PAD]]) if circular else samples
    offset = _CHUNK_PAD if circular else 0
    peaks = np.empty(samples.size)
    for start in range(0, samples.size, _CHUNK):
        count = min(_CHUNK, samples.size - start)
        lo = max(0, offset + start - _CHUNK_PAD)
        hi = min(source.size, offset + start + count + _CHUNK_PAD)
        upsampled = resample_poly(source[lo:hi], OVERSAMPLING, 1)
        skip = (offset + start - lo) * OVERSAMPLING
        window = np.abs(upsampled[skip : skip + count * OVERSAMPLING])
        peaks[start : start + count] = np.maximum.reduce([window[k::OVERSAMPLING] for k in range(OVERSAMPLING)])
    return np.maximum(peaks, np.abs(samples))


def true_peak_dbfs(samples: np.ndarray, circular: bool = False) -> float:
    peak = float(oversampled_peaks(samples, circular).max()) if samples.size else 0.0
    return 20 * np.log10(max(peak, 1e-12))


def limiter_gain(peaks: np.ndarray, sample_rate: int, ceiling_dbfs: float, circular: bool = False) -> np.ndarray:
    """Look-ahead limiter gain for a signal with these oversampled peaks: smooth, and never letting a peak
    pass the ceiling.

    The gain needed at each sample is held (minimum filter, radius r) and then smoothed by two moving
    averages of total radius ≤ r, so the smoothed gain is never above what any sample within reach needs.
    `circular` treats the signal as a loop, so the gain is continuous across the seam.
    """
    needed = np.minimum(1.0, 10 ** (ceiling_dbfs / 20) / np.maximum(peaks, 1e-12))
    if needed.min() >= 1.0:
        return needed
    radius = max(2, round(LIMITER_WINDOW_S * sample_rate / 2))
    mode: Literal["wrap", "nearest"] = "wrap" if circular else "nearest"
    held = minimum_filter1d(needed, size=2 * radius + 1, mode=mode)
    half = radius // 2
    gain = uniform_filter1d(uniform_filter1d(held, 2 * half + 1, mode=mode), 2 * half + 1, mode=mode)
    return np.minimum(gain, needed)


def limit(samples: np.ndarray, sample_rate: int, ceiling_dbfs: float, circular: bool = False) -> np.ndarray:
    """Limits the true peak to the ceiling, re-measuring to catch the rare overshoot between samples."""
    limited = samples
    for _ in range(3):
        peaks = oversampled_peaks(limited, circular)
        if peaks.max() <= 10 ** (ceiling_dbfs / 20) * 1.001:
            break
        limited = limited * limiter_gain(peaks, sample_rate, ceiling_dbfs, circular)
    return limited


def normalise_loudness(
    samples: np.ndarray,
    sample_rate: int,
    ceiling_dbfs: float = TRUE_PEAK_CEILING_DBFS,
    target_lufs: float = TARGET_LUFS,
    circular: bool = False,
) -> np.ndarray:
    """Gain, then limit, so the result has the target loudness and its true peak under the ceiling.

    Limiting lowers the loudness, so the gain is found by the secant method: loudness after limiting grows
    with the gain, a little more slowly. Peaks scale with the gain, so they are measured once.
    """
    peaks = oversampled_peaks(samples, circular)
    gain_db = target_lufs - integrated_loudness(samples, sample_rate)
    previous: tuple[float, float] | None = None
    for _ in range(8):
        scale = 10 ** (gain_db / 20)
        result = samples * scale * limiter_gain(peaks * scale, sample_rate, ceiling_dbfs, circular)
        loudness = integrated_loudness(result, sample_rate)
        if abs(loudness - target_lufs) <= LOUDNESS_TOLERANCE_LU:
            break
        slope = 1.0
        if previous is not None and gain_db != previous[0]:
            slope = float(np.clip((loudness - previous[1]) / (gain_db - previous[0]), 0.2, 1.0))
        previous = (gain_db, loudness)
        gain_db += (target_lufs - loudness) / slope
    return limit(result, sample_rate, ceiling_dbfs, circular)
