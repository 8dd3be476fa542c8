"""The playable track catalog: audio/catalog.toml (what each track is) + audio/manifest.json (what was built).

A locale with a `[locale.<locale>]` table in the catalog (es-US: wordless versions of the tracks, issue 12)
has its own built files in audio/<locale>/ with their own manifest; `TrackCatalog.for_locale` gives the
catalog that locale plays (the same ids, its own files and screen titles), every other locale the default one.

Also the small pure helpers the AudioPlayer code needs: stream URLs, tokens, AMAZON.DURATION parsing,
picking a breathing length, the Next/Previous order and matching a spoken track name.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tomllib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

from skill.config import Config
from skill.interaction_model import ModelCatalog

log = logging.getLogger(__name__)

CATALOG_FILE = "catalog.toml"
MANIFEST_FILE = "manifest.json"
LOCALE_KEY = "locale"  # [locale.<locale>] declares a locale's variants; [track.locale.<locale>] is a track's
_LOCALE = re.compile(r"^[a-z]{2}-[A-Z]{2}$")
TRACK_NAME_TYPE = "TrackName"  # the interaction model's slot type naming tracks

# Next/Previous walk this list (and wrap around at either end), following the arc of a feed or pumping
# session: get ready (warmth, massage, hand-expressing), the let-down itself, calm breathing that gets
# longer each time, then the quiet background for the rest of the feed. D-MER support is last: it is
# usually asked for by name, and wrapping from it lands back at the start. Unbuilt tracks are skipped.
PLAY_ORDER: tuple[str, ...] = (
    "warm-compress",
    "breast-massage",
    "pump-head-start",
    "letdown-visualisation",
    "breathing-1m",
    "breathing-2m",
    "breathing-5m",
    "breathing-10m",
    "feed-background",
    "dmer-wave",
)

BREATHING_PREFIX = "breathing-"
DEFAULT_BREATHING_S = 120.0

TOKEN_PREFIX = "track"
MAX_TOKEN_CHARS = 1024  # Alexa's limit for AudioPlayer stream tokens
# Long cache for URLs that carry the content version; a short one for bare URLs whose bytes may change.
VERSION_PARAM = "v"
VERSION_CHARS = 12

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?=\d|\.)(?:(?P<hours>\d*\.?\d+)H)?(?:(?P<minutes>\d*\.?\d+)M)?(?:(?P<seconds>\d*\.?\d+)S)?)?$"
)
_DURATION_UNIT_S = {"weeks": 604800, "days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}
_TOKEN = re.compile(rf"^{TOKEN_PREFIX}:(?P<track>[a-z0-9][a-z0-9-]{{0,63}}):(?P<nonce>[0-9a-f]{{1,32}})$")
_NOT_WORDS = re.compile(r"[^a-z0-9]+")
_FILLER_WORDS = frozenset({"the", "a", "an", "track", "please", "play", "my"})


class CatalogError(ValueError):
    """audio/catalog.toml is malformed, or a track in it breaks a rule."""


@dataclass(frozen=True)
class BreathingPattern:
    """The pacing tone's timing of a track ([track.pattern]): the first in-breath, then in/out cycles."""

    first_in_s: float
    inhale_s: float
    exhale_s: float
    cycles: int

    @property
    def period_s(self) -> float:
        return self.inhale_s + self.exhale_s


@dataclass(frozen=True)
class Track:
    id: str
    title: str
    subtitle: str
    length_s: float  # the catalog's nominal length
    loops: bool = False
    file: str | None = None  # the built MP3's name inside the audio dir; None while not built
    duration_s: float | None = None  # measured duration of the built file
    sha256: str | None = None
    synonyms: tuple[str, ...] = ()
    breathing: BreathingPattern | None = None
    clip: bool = False  # a coach clip (kind = "clip"): played by id inside a spoken answer, never offered alone
    wordless: bool = False  # the built file has no words in it (its manifest entry names no voice)

    @property
    def playable(self) -> bool:
        return self.file is not None and self.sha256 is not None

    @property
    def is_breathing(self) -> bool:
        return self.id.startswith(BREATHING_PREFIX)

    @property
    def seconds(self) -> float:
        """How long it plays: the built file's duration, else the catalog's length."""
        return self.duration_s if self.duration_s is not None else self.length_s

    @property
    def version(self) -> str:
        return (self.sha256 or "")[:VERSION_CHARS]


@dataclass(frozen=True)
class ServedFile:
    path: Path
    sha256: str


class TrackCatalog:
    """Tracks in catalog order; built files are looked up by name for the /audio route."""

    def __init__(
        self,
        tracks: Iterable[Track],
        *,
        public_url: str,
        audio_base_url: str | None = None,
        files: Mapping[str, ServedFile] | None = None,
        locales: Mapping[str, TrackCatalog] | None = None,
    ) -> None:
        self._tracks = MappingProxyType({track.id: track for track in tracks})
        self._public_url = public_url.rstrip("/")
        self._audio_base_url = audio_base_url.rstrip("/") if audio_base_url else None
        self._files: Mapping[str, ServedFile] = MappingProxyType(dict(files or {}))
        self._locales: Mapping[str, TrackCatalog] = MappingProxyType(dict(locales or {}))

    @classmethod
    def load(cls, config: Config, models: ModelCatalog | None = None) -> TrackCatalog:
        """The catalog of `config.audio_dir`; track names come from `models` (else read from config.model_dir).

        The locales the catalog declares get their own catalogs of the same tracks (see `for_locale`); this
        one serves every built file, theirs included (`<locale>/<id>.mp3`). A track that has no words needs no
        variant of its own: the locale plays the track's own file, under the locale's title (the builder builds
        no copy of it)."""
        audio_dir = Path(config.audio_dir)
        path = audio_dir / CATALOG_FILE
        if path.exists():
            data = read_catalog_file(path)
        else:
            log.warning("no track catalog at %s: no tracks are playable", path)
            data = {}
        entries = catalog_tracks(data, path)
        synonyms = track_synonyms(models or ModelCatalog.load(config.model_dir))
        named = [replace(entry, synonyms=synonyms.get(entry.id, ())) for entry in entries]
        tracks, files = built_tracks(audio_dir, named)
        warn_unbuilt(tracks, "")
        originals = {track.id: track for track in tracks}
        locales = {}
        for locale in declared_locales(data):
            variants = locale_variants(data, locale, {track.id: track for track in named})
            locale_tracks, locale_files = built_tracks(audio_dir / locale, variants, prefix=f"{locale}/")
            locale_tracks = [shared_if_wordless(track, originals[track.id]) for track in locale_tracks]
            warn_unbuilt(locale_tracks, f" for {locale}")
            files.update(locale_files)
            locales[locale] = cls(
                locale_tracks, public_url=config.public_url, audio_base_url=config.audio_base_url, files=locale_files
            )
        return cls(
            tracks, public_url=config.public_url, audio_base_url=config.audio_base_url, files=files, locales=locales
        )

    def for_locale(self, locale: str | None) -> TrackCatalog:
        """The tracks a content locale plays: its own variants if the catalog declares that locale, else these."""
        return self._locales.get(locale or "", self)

    def locales(self) -> tuple[str, ...]:
        return tuple(self._locales)

    # ----- lookup -------------------------------------------------------------------------------------

    def tracks(self) -> list[Track]:
        return list(self._tracks.values())

    def get(self, track_id: str | None) -> Track | None:
        return self._tracks.get(track_id) if isinstance(track_id, str) else None

    def playable(self, track_id: str | None) -> Track | None:
        track = self.get(track_id)
        return track if track is not None and track.playable else None

    def served_file(self, file_name: str) -> ServedFile | None:
        """The built file behind /audio/<file_name>; None for anything the manifest does not list."""
        return self._files.get(file_name)

    # ----- URLs and tokens ----------------------------------------------------------------------------

    def stream_url(self, track_id: str) -> str:
        """Absolute URL of a built track of this catalog (see `url`)."""
        track = self.playable(track_id)
        if track is None:
            raise KeyError(f"track {track_id!r} is not playable")
        return self.url(track)

    def url(self, track: Track) -> str:
        """Absolute URL of a built track (of any locale's catalog): the CDN base if configured, else this
        service's /audio route."""
        if track.file is None or track.sha256 is None:
            raise KeyError(f"track {track.id!r} is not playable")
        base = self._audio_base_url or f"{self._public_url}/audio"
        return f"{base}/{quote(track.file)}?{VERSION_PARAM}={track.version}"

    def track_for_token(self, token: Any) -> Track | None:
        return self.get(track_id_from_token(token))

    # ----- choosing tracks ----------------------------------------------------------------------------

    def nearest_breathing(self, duration_seconds: float | None) -> Track | None:
        """The playable breathing track closest in length (the shorter one on a tie); 2 min when unsaid."""
        wanted = duration_seconds if duration_seconds and duration_seconds > 0 else DEFAULT_BREATHING_S
        candidates = [track for track in self._tracks.values() if track.is_breathing and track.playable]
        if not candidates:
            return None
        return min(candidates, key=lambda track: (abs(track.length_s - wanted), track.length_s))

    def next_track(self, track_id: str | None) -> Track | None:
        return self._step(track_id, +1)

    def previous_track(self, track_id: str | None) -> Track | None:
        return self._step(track_id, -1)

    def _step(self, track_id: str | None, step: int) -> Track | None:
        order = self.play_order()
        if not order:
            return None
        if track_id not in order:
            # A track outside the order (or none): Next starts at the beginning, Previous at the end.
            return self._tracks[order[0] if step > 0 else order[-1]]
        position = order.index(track_id)
        return self._tracks[order[(position + step) % len(order)]]

    def play_order(self) -> list[str]:
        """PLAY_ORDER restricted to playable tracks, then any other playable track in catalog order (coach clips
        are never part of it)."""
        ordered = [track_id for track_id in PLAY_ORDER if self._offered(track_id)]
        extra = [track.id for track in self._tracks.values() if self._offered(track.id) and track.id not in ordered]
        return ordered + extra

    def breathing_pattern(self, track_id: str | None = None) -> BreathingPattern | None:
        """The track's pacing pattern; without one (or without a track), the first breathing pattern listed."""
        track = self.get(track_id)
        if track is not None and track.breathing is not None:
            return track.breathing
        return next((t.breathing for t in self._tracks.values() if t.breathing is not None), None)

    def _offered(self, track_id: str) -> bool:
        track = self.playable(track_id)
        return track is not None and not track.clip

    def find_by_name(self, spoken: str | None) -> Track | None:
        """Match a spoken track name against ids, titles and interaction-model synonyms."""
        wanted = track_name_key(spoken)
        if not wanted:
            return None
        names = {track.id: track_names(track) for track in self._tracks.values() if not track.clip}
        for track_id, known in names.items():
            if wanted in known:
                return self._tracks[track_id]
        wanted_words = set(wanted.split())
        partial = [
            track_id for track_id, known in names.items() if any(wanted_words <= set(name.split()) for name in known)
        ]
        return self._tracks[partial[0]] if len(partial) == 1 else None


# ----- pure helpers ---------------------------------------------------------------------------------------


def make_token(track_id: str) -> str:
    """A fresh stream token naming the track (each Play gets its own, so stale events can be told apart)."""
    return f"{TOKEN_PREFIX}:{track_id}:{uuid.uuid4().hex[:12]}"


def track_id_from_token(token: Any) -> str | None:
    """The track id inside a token of ours; None for anything else (foreign, oversized, malformed)."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        return None
    match = _TOKEN.match(token)
    return match.group("track") if match else None


def iso_duration_seconds(value: Any) -> float | None:
    """Seconds in an AMAZON.DURATION value (ISO-8601: PT10M, PT90S, PT1H, PT2M30S, P1D); None if unusable."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    match = _DURATION.match(value.strip().upper())
    if not match:
        return None
    seconds = sum(float(amount) * _DURATION_UNIT_S[unit] for unit, amount in match.groupdict().items() if amount)
    return seconds if seconds > 0 else None


def track_name_key(spoken: str | None) -> str:
    if not isinstance(spoken, str):
        return ""
    words = _NOT_WORDS.sub(" ", spoken.lower()).split()
    return " ".join(word for word in words if word not in _FILLER_WORDS)


def track_names(track: Track) -> set[str]:
    names = {track_name_key(track.id), track_name_key(track.title)}
    names.update(track_name_key(synonym) for synonym in track.synonyms)
    names.discard("")
    return names


# ----- reading the files ----------------------------------------------------------------------------------


def read_catalog_file(path: Path) -> dict[str, Any]:
    """catalog.toml as TOML tables (the one reader of the file: serving and `letdown audio build` use it)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise CatalogError(f"cannot read catalog {path}: {error}") from error
    entries = data.get("track", [])
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise CatalogError(f"{path}: `track` must be an array of tables ([[track]])")
    return data


def read_catalog(path: Path) -> list[Track]:
    """The `[[track]]` entries of catalog.toml: what serving needs (id, title, subtitle, length, loop)."""
    if not path.exists():
        log.warning("no track catalog at %s: no tracks are playable", path)
        return []
    return catalog_tracks(read_catalog_file(path), path)


def catalog_tracks(data: Mapping[str, Any], path: Path) -> list[Track]:
    entries = data.get("track", [])
    tracks = []
    for entry in entries:
        try:
            tracks.append(
                Track(
                    id=str(entry["id"]),
                    title=str(entry["title"]),
                    subtitle=str(entry.get("subtitle", "")),
                    length_s=float(entry["length_s"]),
                    loops=bool(entry.get("loop", False)),
                    breathing=read_pattern(entry.get("pattern")),
                    clip=entry.get("kind") == "clip",
                )
            )
        except (KeyError, TypeError, ValueError) as error:
            raise CatalogError(f"{path}: a [[track]] entry lacks id, title or length_s ({error!r})") from error
    return tracks


def declared_locales(data: Mapping[str, Any]) -> list[str]:
    """The locales with a [locale.<locale>] table: each plays its own variants of the tracks."""
    tables = data.get(LOCALE_KEY, {})
    if not isinstance(tables, dict) or not all(isinstance(table, dict) for table in tables.values()):
        raise CatalogError("`locale` must hold one table per locale ([locale.es-US])")
    bad = sorted(locale for locale in tables if not _LOCALE.match(locale))
    if bad:
        raise CatalogError(f"not a locale like es-US: {', '.join(bad)}")
    return list(tables)


def locale_variants(data: Mapping[str, Any], locale: str, tracks: Mapping[str, Track]) -> list[Track]:
    """The tracks with a [track.locale.<locale>] table, with that table's title and subtitle (what screens show)."""
    variants = []
    for entry in data.get("track", []):
        tables = entry.get(LOCALE_KEY)
        table = tables.get(locale) if isinstance(tables, dict) else None
        track = tracks.get(str(entry.get("id")))
        if isinstance(table, dict) and track is not None:
            title, subtitle = table.get("title", track.title), table.get("subtitle", track.subtitle)
            variants.append(replace(track, title=str(title), subtitle=str(subtitle)))
    return variants


def shared_if_wordless(variant: Track, original: Track) -> Track:
    """A locale's variant, or where it has no file of its own and the original has no words, the original under
    the variant's title and subtitle."""
    if variant.playable or not (original.playable and original.wordless):
        return variant
    return replace(original, title=variant.title, subtitle=variant.subtitle)


def built_tracks(audio_dir: Path, tracks: list[Track], prefix: str = "") -> tuple[list[Track], dict[str, ServedFile]]:
    """The tracks with what `audio_dir`'s manifest says was built for them, and the files served by name
    (`prefix` + the manifest's file name)."""
    manifest = read_manifest(audio_dir / MANIFEST_FILE)
    found, files = [], {}
    for track in tracks:
        built = manifest.get(track.id)
        served = locate_built_file(audio_dir, track.id, built)
        if built is None or served is None:
            found.append(track)
            continue
        file_name, served_file = prefix + served[0], served[1]
        files[file_name] = served_file
        found.append(
            replace(
                track,
                file=file_name,
                sha256=served_file.sha256,
                duration_s=_float_or_none(built.get("duration_s")),
                loops=track.loops or bool(built.get("loop", False)),
                wordless=built.get("voice") is None,
            )
        )
    return found, files


def warn_unbuilt(tracks: list[Track], where: str) -> None:
    unbuilt = [track.id for track in tracks if not track.playable]
    if unbuilt:
        log.warning("tracks without a built file%s (not playable): %s", where, ", ".join(unbuilt))


def read_pattern(pattern: Any) -> BreathingPattern | None:
    """A [track.pattern] table's timing (the words in it are the audio builder's business)."""
    if pattern is None:
        return None
    if not isinstance(pattern, dict):
        raise TypeError("[track.pattern] must be a table")
    return BreathingPattern(
        first_in_s=float(pattern.get("first_in_s", 0.0)),
        inhale_s=float(pattern["inhale_s"]),
        exhale_s=float(pattern["exhale_s"]),
        cycles=int(pattern.get("cycles", 1)),
    )


def read_manifest(path: Path) -> dict[str, dict[str, Any]]:
    """Track id → its manifest entry (file, duration_s, sha256, loop, …) as `letdown audio build` writes it.

    A missing or unreadable manifest means nothing is built yet.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        log.warning("no audio manifest at %s: no tracks are playable", path)
        return {}
    except (OSError, UnicodeDecodeError, ValueError) as error:
        log.error("audio manifest %s is unreadable (%s): no tracks are playable", path, error)
        return {}
    if not isinstance(data, dict):
        log.error("audio manifest %s is not a mapping of track ids: no tracks are playable", path)
        return {}
    return {str(track_id): entry for track_id, entry in data.items() if isinstance(entry, dict)}


def locate_built_file(audio_dir: Path, track_id: str, built: Mapping[str, Any] | None) -> tuple[str, ServedFile] | None:
    """(file name, served file) for a track the manifest lists and whose file exists in the audio dir."""
    if built is None:
        return None
    file_name = built.get("file")
    if not isinstance(file_name, str) or Path(file_name).name != file_name or file_name.startswith("."):
        log.error("manifest entry for %s has no plain file name: %r", track_id, file_name)
        return None
    path = audio_dir / file_name
    if not path.is_file():
        return None
    actual = file_sha256(path)
    listed = built.get("sha256")
    if listed != actual:
        # The ETag must describe the bytes served, so the file wins over a stale manifest.
        log.warning("manifest sha256 of %s does not match the file; using the file's", file_name)
    return file_name, ServedFile(path=path, sha256=actual)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def track_synonyms(models: ModelCatalog) -> dict[str, tuple[str, ...]]:
    """Track id → the names and synonyms of the TrackName slot type, from every locale's model."""
    found: dict[str, list[str]] = {}
    for model in models.models():
        for value in model.types.get(TRACK_NAME_TYPE, ()):
            found.setdefault(value.id, []).extend(value.phrases())
    return {track_id: tuple(names) for track_id, names in found.items()}


def _float_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
