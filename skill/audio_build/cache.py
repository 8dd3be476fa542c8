"""On-disk cache of synthesized cues, so a rebuild does not run the TTS engine again."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from platformdirs import user_cache_dir

from skill.audio_build.tts import TtsEngine

CACHE_FORMAT = 1


def default_cache_dir() -> Path:
    return Path(user_cache_dir("letdown-helper")) / "tts"


@dataclass
class SynthesisStats:
    synthesized: int = 0
    cached: int = 0


@dataclass
class CueCache:
    directory: Path
    engine: TtsEngine
    sample_rate: int

    def key(self, text: str) -> str:
        material = {
            "format": CACHE_FORMAT,
            "engine": self.engine.name,
            "voice": self.engine.identity,
            "text": text,
            "sample_rate": self.sample_rate,
        }
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()

    def path(self, text: str) -> Path:
        key = self.key(text)
        return self.directory / key[:2] / f"{key}.npy"

    def speech_for(
        self, texts: Sequence[str], progress: Callable[[int], object]
    ) -> tuple[dict[str, np.ndarray], SynthesisStats]:
        """PCM for every text: from the cache where present, else synthesized in one batch and stored."""
        unique = list(dict.fromkeys(texts))
        speech: dict[str, np.ndarray] = {}
        missing: list[str] = []
        for text in unique:
            clip = self._load(text)
            if clip is None:
                missing.append(text)
            else:
                speech[text] = clip
                progress(1)
        if missing:
            self.engine.check_available()
            for text, clip in zip(missing, self.engine.synthesize(missing, self.sample_rate, progress), strict=True):
                self._store(text, clip)
                speech[text] = clip
        return speech, SynthesisStats(synthesized=len(missing), cached=len(unique) - len(missing))

    def _load(self, text: str) -> np.ndarray | None:
        path = self.path(text)
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None

    def _store(self, text: str, clip: np.ndarray) -> None:
        path = self.path(text)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a crash or a parallel build never leaves a half-written entry.
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(handle, "wb") as file:
            np.save(file, clip.astype(np.float32), allow_pickle=False)
        os.replace(temporary, path)
