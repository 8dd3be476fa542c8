"""The track catalog (audio/catalog.toml) as typed, validated build recipes (read by skill.playback.catalog).

Spoken cues are either listed per track (`cues`) or generated from a breathing `pattern`, so a ten-minute
breathing track stays a few readable lines of TOML.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skill.playback.catalog import CatalogError, read_catalog_file

__all__ = ["BreathPattern", "Catalog", "CatalogError", "PiperSettings", "TrackRecipe", "load_catalog"]

BED_TYPES = ("breathing", "ambient")
COUNT_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


@dataclass(frozen=True)
class Cue:
    at_s: float
    text: str


@dataclass(frozen=True)
class BreathPattern:
    """Paced breathing: `cycles` breaths of `inhale_s` in and `exhale_s` out, the first starting at `first_in_s`.

    Which breaths get words: the first `guide_first`, then every `guide_every`-th (the words cycle through
    `inhale_words`/`exhale_words`); the first `count_first` breaths are counted second by second instead.
    Breaths without words get a reminder (cycling through `reminders`) on every `reminder_every`-th breath.
    """

    first_in_s: float
    inhale_s: float
    exhale_s: float
    cycles: int
    inhale_words: tuple[str, ...]
    exhale_words: tuple[str, ...]
    guide_first: int = 0
    guide_every: int = 0
    count_first: int = 0
    reminders: tuple[str, ...] = ()
    reminder_every: int = 0
    word_offset_s: float = 0.1

    @property
    def period_s(self) -> float:
        return self.inhale_s + self.exhale_s

    @property
    def end_s(self) -> float:
        return self.first_in_s + self.cycles * self.period_s

    def breath_start(self, breath: int) -> float:
        """Start of the in-breath of breath number `breath` (1-based)."""
        return self.first_in_s + (breath - 1) * self.period_s

    def is_guided(self, breath: int) -> bool:
        if breath <= max(self.guide_first, self.count_first):
            return True
        return self.guide_every > 0 and (breath - self.guide_first) % self.guide_every == 0

    def cues(self) -> list[Cue]:
        cues: list[Cue] = []
        guided = 0
        reminded = 0
        for breath in range(1, self.cycles + 1):
            inhale_at = self.breath_start(breath) + self.word_offset_s
            exhale_at = inhale_at + self.inhale_s
            if breath <= self.count_first:
                cues += self._counted(inhale_at, self.inhale_s, "In.")
                cues += self._counted(exhale_at, self.exhale_s, "Out.")
            elif self.is_guided(breath):
                cues.append(Cue(inhale_at, self.inhale_words[guided % len(self.inhale_words)]))
                cues.append(Cue(exhale_at, self.exhale_words[guided % len(self.exhale_words)]))
                guided += 1
            elif self.reminders and self.reminder_every and breath % self.reminder_every == 0:
                cues.append(Cue(exhale_at, self.reminders[reminded % len(self.reminders)]))
                reminded += 1
        return cues

    @staticmethod
    def _counted(start_s: float, phase_s: float, first_word: str) -> list[Cue]:
        beats = int(phase_s)
        cues = [Cue(start_s, first_word)]
        cues += [Cue(start_s + beat, f"{COUNT_WORDS[beat].capitalize()}.") for beat in range(1, beats)]
        return cues


@dataclass(frozen=True)
class Bed:
    """The synthesized sound under the voice.

    `level_db`: the bed's loudness relative to the voice; `noise_db`, `pad_db`, `tone_db`: the balance of its
    parts (relative to each other); `chime_db`: chimes relative to the voice; `duck_db`: dip under the voice.
    """

    type: str
    level_db: float = -3.0
    noise_db: float = -8.0
    noise_cutoff_hz: float = 900.0
    swell_s: float = 0.0
    pad_db: float | None = None
    root_hz: float = 110.0
    tone_db: float = 0.0
    tone_low_hz: float = 196.0
    tone_high_hz: float = 262.0
    chimes: tuple[float, ...] = ()
    chime_db: float = -8.0
    duck_db: float = 6.0
    seed: int = 0


@dataclass(frozen=True)
class TrackRecipe:
    id: str
    title: str
    subtitle: str
    length_s: float
    source: str
    bed: Bed
    cues: tuple[Cue, ...]
    pattern: BreathPattern | None = None
    loop: bool = False
    fade_in_s: float = 2.0
    fade_out_s: float = 3.0

    @property
    def texts(self) -> list[str]:
        return [cue.text for cue in self.cues]


@dataclass(frozen=True)
class PiperSettings:
    """Synthesis settings passed to the piper process. Zero noise makes piper's output deterministic."""

    length_scale: float = 1.0
    noise_scale: float = 0.0
    noise_w_scale: float = 0.0
    sentence_silence_s: float = 0.3


@dataclass(frozen=True)
class Catalog:
    tracks: tuple[TrackRecipe, ...]
    piper: PiperSettings = field(default_factory=PiperSettings)

    @property
    def ids(self) -> list[str]:
        return [track.id for track in self.tracks]

    def select(self, only: list[str] | None) -> list[TrackRecipe]:
        if not only:
            return list(self.tracks)
        unknown = sorted(set(only) - set(self.ids))
        if unknown:
            raise CatalogError(f"unknown track id(s): {', '.join(unknown)}; known: {', '.join(self.ids)}")
        return [track for track in self.tracks if track.id in only]


def load_catalog(path: Path) -> Catalog:
    data = read_catalog_file(path)
    _check_keys(data, {"piper", "track"}, "catalog")
    tracks = tuple(_parse_track(entry) for entry in data.get("track", []))
    if not tracks:
        raise CatalogError(f"{path}: no [[track]] entries")
    ids = [track.id for track in tracks]
    duplicates = sorted({track_id for track_id in ids if ids.count(track_id) > 1})
    if duplicates:
        raise CatalogError(f"duplicate track id(s): {', '.join(duplicates)}")
    piper_data = data.get("piper", {})
    _check_keys(piper_data, set(PiperSettings.__dataclass_fields__), "[piper]")
    return Catalog(tracks=tracks, piper=PiperSettings(**piper_data))


def _parse_track(entry: Mapping[str, Any]) -> TrackRecipe:
    track_id = str(entry.get("id", "?"))
    where = f"track {track_id!r}"
    allowed = {
        "id",
        "title",
        "subtitle",
        "length_s",
        "source",
        "bed",
        "cues",
        "pattern",
        "loop",
        "fade_in_s",
        "fade_out_s",
    }
    _check_keys(entry, allowed, where)
    for required in ("id", "title", "subtitle", "length_s", "source", "bed"):
        if required not in entry:
            raise CatalogError(f"{where}: missing {required!r}")
    bed = _parse_bed(entry["bed"], track_id, where)
    pattern = _parse_pattern(entry["pattern"], where) if "pattern" in entry else None
    if bed.type == "breathing" and pattern is None:
        raise CatalogError(f"{where}: a breathing bed needs a [track.pattern]")
    cues = [_parse_cue(cue, where) for cue in entry.get("cues", [])]
    if pattern is not None:
        cues += pattern.cues()
    track = TrackRecipe(
        id=track_id,
        title=str(entry["title"]),
        subtitle=str(entry["subtitle"]),
        length_s=float(entry["length_s"]),
        source=str(entry["source"]),
        bed=bed,
        cues=tuple(sorted(cues, key=lambda cue: cue.at_s)),
        pattern=pattern,
        loop=bool(entry.get("loop", False)),
        fade_in_s=float(entry.get("fade_in_s", 2.0)),
        fade_out_s=float(entry.get("fade_out_s", 3.0)),
    )
    _check_timing(track, where)
    return track


def _parse_bed(data: Mapping[str, Any], track_id: str, where: str) -> Bed:
    _check_keys(data, set(Bed.__dataclass_fields__), f"{where} bed")
    if data.get("type") not in BED_TYPES:
        raise CatalogError(f"{where}: bed type must be one of {', '.join(BED_TYPES)}")
    values = dict(data)
    values["chimes"] = tuple(float(at) for at in values.get("chimes", ()))
    # A seed derived from the id gives each track its own (reproducible) noise.
    values.setdefault("seed", int.from_bytes(hashlib.sha256(track_id.encode()).digest()[:4], "big"))
    return Bed(**values)


def _parse_pattern(data: Mapping[str, Any], where: str) -> BreathPattern:
    _check_keys(data, set(BreathPattern.__dataclass_fields__), f"{where} pattern")
    values = dict(data)
    for key in ("inhale_words", "exhale_words", "reminders"):
        values[key] = tuple(str(text) for text in values.get(key, ()))
    if not values["inhale_words"] or not values["exhale_words"]:
        raise CatalogError(f"{where}: pattern needs inhale_words and exhale_words")
    return BreathPattern(**values)


def _parse_cue(data: Mapping[str, Any], where: str) -> Cue:
    _check_keys(data, {"at", "text"}, f"{where} cue")
    text = " ".join(str(data.get("text", "")).split())
    if not text or "at" not in data:
        raise CatalogError(f"{where}: every cue needs `at` and a non-empty `text`")
    return Cue(float(data["at"]), text)


def _check_timing(track: TrackRecipe, where: str) -> None:
    if track.length_s <= 0:
        raise CatalogError(f"{where}: length_s must be positive")
    for cue in track.cues:
        if not 0 <= cue.at_s < track.length_s:
            raise CatalogError(f"{where}: cue at {cue.at_s}s is outside the track (0–{track.length_s}s)")
    if track.pattern is not None and track.pattern.end_s > track.length_s:
        raise CatalogError(f"{where}: the breathing pattern ends at {track.pattern.end_s}s, after the track")
    for at_s in track.bed.chimes:
        if not 0 <= at_s < track.length_s:
            raise CatalogError(f"{where}: chime at {at_s}s is outside the track")
    if track.loop and track.cues:
        raise CatalogError(f"{where}: a looping track has no spoken cues")


def _check_keys(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise CatalogError(f"{where}: unknown key(s) {', '.join(unknown)}")
