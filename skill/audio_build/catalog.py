"""The track catalog (audio/catalog.toml) as typed, validated build recipes (read by skill.playback.catalog).

Spoken cues are either listed per track (`cues`) or generated from a breathing `pattern`, so a ten-minute
breathing track stays a few readable lines of TOML.

A locale declared with `[locale.<locale>]` gets its own set of the tracks that have a `[track.locale.<locale>]`
table. A wordless set (the only kind so far: no offline voice for another language installs here) keeps each
track's bed, pacing tone and chimes and leaves out its cues; the table gives the title and subtitle screens
show, and may move the chimes (where a chime has to say what the words said). A track that has no words and
keeps its chimes is its own wordless version: the locale plays its file (skill.playback.catalog), none is built.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from skill.playback.catalog import LOCALE_KEY, CatalogError, declared_locales, read_catalog_file

__all__ = ["BreathPattern", "Catalog", "CatalogError", "LocaleSet", "PiperSettings", "TrackRecipe", "load_catalog"]

BED_TYPES = ("breathing", "ambient")
KINDS = ("track", "clip")  # a clip is a coach round's guided audio, played inside a spoken answer (SSML)
CLIP_MAX_S = 90.0  # Alexa: at most 90 s of audio in a reprompt; the coach's clips stay within it
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

    `level_db`: the bed's loudness (before ducking) relative to the voice's measured loudness; `noise_db`,
    `pad_db`, `tone_db`: the balance of its parts (relative to each other); `chime_db`: chimes relative to the
    voice; `duck_db`: how far the bed, pacing tone included, dips under the voice.

    A programme at -14 LUFS with speech in it cannot be much quieter overall than its speech (speech peaks
    about 11.5 dB over its loudness even after peak control, and the ceiling is -3 dBTP), so the bed between
    words sits near the voice's level and ducks well under it while a cue speaks.
    """

    type: str
    level_db: float = -1.0
    noise_db: float = 0.0
    noise_cutoff_hz: float = 900.0
    swell_s: float = 0.0
    pad_db: float | None = None
    root_hz: float = 110.0
    tone_db: float = -6.0
    tone_low_hz: float = 196.0
    tone_high_hz: float = 262.0
    chimes: tuple[float, ...] = ()
    chime_db: float = -8.0
    duck_db: float = 14.0
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
    kind: str = "track"
    locale: str | None = None  # a locale's variant of the track (built into audio/<locale>/)
    wordless: bool = False  # the variant leaves out the cues: bed, pacing tone and chimes only

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
class LocaleSet:
    """A locale's own versions of some of the tracks, built into audio/<locale>/ with their own manifest."""

    locale: str
    wordless: bool
    tracks: tuple[TrackRecipe, ...]
    shared: tuple[str, ...] = ()  # tracks without words in the set: the locale plays their own file

    @property
    def ids(self) -> list[str]:
        return [track.id for track in self.tracks]

    def select(self, only: list[str] | None) -> list[TrackRecipe]:
        return [track for track in self.tracks if not only or track.id in only]


@dataclass(frozen=True)
class Catalog:
    tracks: tuple[TrackRecipe, ...]
    piper: PiperSettings = field(default_factory=PiperSettings)
    locales: tuple[LocaleSet, ...] = ()

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
    _check_keys(data, {"piper", "track", LOCALE_KEY}, "catalog")
    entries = data.get("track", [])
    tracks = tuple(_parse_track(entry) for entry in entries)
    if not tracks:
        raise CatalogError(f"{path}: no [[track]] entries")
    ids = [track.id for track in tracks]
    duplicates = sorted({track_id for track_id in ids if ids.count(track_id) > 1})
    if duplicates:
        raise CatalogError(f"duplicate track id(s): {', '.join(duplicates)}")
    piper_data = data.get("piper", {})
    _check_keys(piper_data, set(PiperSettings.__dataclass_fields__), "[piper]")
    locales = _parse_locales(data, entries, tracks)
    return Catalog(tracks=tracks, piper=PiperSettings(**piper_data), locales=locales)


def _parse_locales(
    data: Mapping[str, Any], entries: list[Mapping[str, Any]], tracks: tuple[TrackRecipe, ...]
) -> tuple[LocaleSet, ...]:
    declared = declared_locales(data)
    for entry in entries:
        if not isinstance(entry.get(LOCALE_KEY, {}), Mapping):
            raise CatalogError(f"track {entry.get('id')!r}: `locale` must hold one table per locale")
        undeclared = sorted(set(entry.get(LOCALE_KEY, {})) - set(declared))
        if undeclared:
            raise CatalogError(f"track {entry.get('id')!r}: no [locale.{undeclared[0]}] table declares that locale")
    sets = []
    for locale in declared:
        where = f"[locale.{locale}]"
        settings = data[LOCALE_KEY][locale]
        _check_keys(settings, {"wordless"}, where)
        if settings.get("wordless") is not True:
            raise CatalogError(f"{where}: only wordless sets can be built (wordless = true): no voice speaks {locale}")
        variants, shared = [], []
        for entry, track in zip(entries, tracks, strict=True):
            if locale in entry.get(LOCALE_KEY, {}):
                variant = _wordless_variant(track, locale, entry[LOCALE_KEY][locale])
                # A track without words whose chimes stay is its own wordless version: no copy of it is built.
                if track.cues or variant.bed != track.bed:
                    variants.append(variant)
                else:
                    shared.append(track.id)
        sets.append(LocaleSet(locale=locale, wordless=True, tracks=tuple(variants), shared=tuple(shared)))
    return tuple(sets)


def _wordless_variant(track: TrackRecipe, locale: str, table: Mapping[str, Any]) -> TrackRecipe:
    """The track without its cues: the same bed (its noise seeded by the same id), pacing tone and timing."""
    where = f"track {track.id!r} [track.locale.{locale}]"
    if not isinstance(table, Mapping):
        raise CatalogError(f"{where} must be a table")
    _check_keys(table, {"title", "subtitle", "chimes"}, where)
    bed = track.bed
    if "chimes" in table:
        bed = replace(bed, chimes=tuple(float(at) for at in table["chimes"]))
    pattern = track.pattern
    if pattern is not None:
        pattern = replace(pattern, inhale_words=(), exhale_words=(), reminders=())  # its timing is all that is used
    variant = replace(
        track,
        title=str(table.get("title", track.title)),
        subtitle=str(table.get("subtitle", track.subtitle)),
        bed=bed,
        cues=(),
        pattern=pattern,
        locale=locale,
        wordless=True,
    )
    _check_timing(variant, where)
    return variant


def _parse_track(entry: Mapping[str, Any]) -> TrackRecipe:
    track_id = str(entry.get("id", "?"))
    where = f"track {track_id!r}"
    allowed = {
        LOCALE_KEY,
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
        "kind",
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
        kind=str(entry.get("kind", "track")),
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
    if track.kind not in KINDS:
        raise CatalogError(f"{where}: kind must be one of {', '.join(KINDS)}")
    if track.kind == "clip" and (track.loop or track.length_s > CLIP_MAX_S):
        raise CatalogError(f"{where}: a clip plays inside a spoken answer: at most {CLIP_MAX_S:g} s, no loop")


def _check_keys(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise CatalogError(f"{where}: unknown key(s) {', '.join(unknown)}")
