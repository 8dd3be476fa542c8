"""Word recall of an offline recogniser (pocketsphinx, with the US English model its PyPI package ships):
how many of a cue's words it hears in the mix, against the same voice alone.

pocketsphinx is a test/benchmark dependency only (the `test` extra); the builder never needs it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.signal import resample_poly

RECOGNISER_RATE = 16000
_WORD = re.compile(r"[a-z']+")


@lru_cache(maxsize=1)
def _decoder() -> Any:
    from pocketsphinx import Decoder

    return Decoder(samprate=RECOGNISER_RATE, loglevel="FATAL")


def recognise(samples: np.ndarray, sample_rate: int) -> list[str]:
    """The words pocketsphinx hears in a clip (mono float, any rate)."""
    divisor = np.gcd(RECOGNISER_RATE, sample_rate)
    audio = resample_poly(samples, RECOGNISER_RATE // divisor, sample_rate // divisor)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 0:
        audio = audio * (0.5 / peak)  # the recogniser normalises itself; this only keeps int16 from clipping
    pcm = np.clip(np.round(audio * 32767), -32768, 32767).astype("<i2").tobytes()
    decoder = _decoder()
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    return words(hypothesis.hypstr) if hypothesis is not None else []


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("-", " "))


def recall(reference: Sequence[str], heard: Sequence[str]) -> float:
    """Share of the reference words the recogniser got, in order (longest common subsequence)."""
    if not reference:
        return 1.0
    previous = [0] * (len(heard) + 1)
    for word in reference:
        current = [0]
        for index, candidate in enumerate(heard):
            current.append(previous[index] + 1 if word == candidate else max(previous[index + 1], current[index]))
        previous = current
    return previous[-1] / len(reference)
