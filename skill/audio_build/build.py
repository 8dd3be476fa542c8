"""`letdown audio build`: catalog → cues (TTS, cached) → mix → loudness → MP3 + manifest.

The catalog's own tracks go into the output folder; each locale set of the catalog (es-US: wordless
variants) into its own subfolder `<locale>/`, with its own manifest.json.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from skill.audio_build.cache import CueCache, SynthesisStats
from skill.audio_build.catalog import Catalog, CatalogError, TrackRecipe, load_catalog
from skill.audio_build.encode import SAMPLE_RATE, band_limit, decode_mp3, encode_mp3
from skill.audio_build.loudness import (
    TARGET_LUFS,
    TRUE_PEAK_CEILING_DBFS,
    TRUE_PEAK_LIMIT_DBFS,
    Normalisation,
    integrated_loudness,
    normalisation,
    true_peak_dbfs,
)
from skill.audio_build.mix import render_track
from skill.audio_build.tts import TtsEngine, make_engine, resolve_engine_name

MANIFEST_NAME = "manifest.json"
PEAK_MARGIN_DB = 0.25  # the decoded MP3 must stay this far under Alexa's true-peak limit
LOUDNESS_MARGIN_LU = 0.2
MAX_ATTEMPTS = 4
# MP3 at 48 kbps measures a little quieter and peakier than its source; starting from these usual amounts
# saves most tracks a second encode.
EXPECTED_ENCODING_LOSS_LU = 0.4
FIRST_CEILING_DBFS = TRUE_PEAK_CEILING_DBFS + 0.1


class BuildError(RuntimeError):
    """A track could not be made to meet the loudness and peak rules."""


@dataclass(frozen=True)
class BuildOptions:
    catalog_path: Path
    out_dir: Path
    cache_dir: Path
    engine: str | None = None  # None: LETDOWN_TTS_ENGINE, else piper
    only: tuple[str, ...] = ()
    locale: str | None = None  # build only this locale's set (None: the catalog's own tracks and every set)
    progress: bool | None = None  # None: a progress bar when stderr is a terminal
    force: bool = False  # rebuild tracks that are already up to date
    jobs: int = 1


@dataclass
class BuildReport:
    manifest: dict[str, dict[str, Any]]
    locale_manifests: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # locale → its manifest
    built: list[str] = field(default_factory=list)  # track ids; a locale's as "<locale>/<id>"
    up_to_date: list[str] = field(default_factory=list)
    speech: SynthesisStats = field(default_factory=SynthesisStats)
    audio_s: float = 0.0
    speech_s: float = 0.0  # wall time spent getting the voice cues, from the cache or the engine
    encode_s: float = 0.0
    total_s: float = 0.0
    attempts: dict[str, int] = field(default_factory=dict)  # encodes needed per track


@dataclass(frozen=True)
class EncodedTrack:
    mp3: bytes
    duration_s: float
    lufs: float
    true_peak_dbfs: float
    encode_s: float
    attempts: int


Job = tuple[str, TrackRecipe]  # (the folder under the output folder: "" or a locale, the track)


def build(options: BuildOptions, engine: TtsEngine | None = None) -> BuildReport:
    """Builds the selected tracks; a track whose inputs (its definition, the voice, this package's code)
    are unchanged since the last build, and whose file is intact, is left as it is unless `force`."""
    started = time.perf_counter()
    catalog = load_catalog(options.catalog_path)
    engine = engine or make_engine(resolve_engine_name(options.engine), catalog.piper)
    cache = CueCache(options.cache_dir, engine, SAMPLE_RATE)
    sets = track_sets(catalog, list(options.only), options.locale)
    manifests = {folder: _read_manifest(options.out_dir / folder) for folder in sets}
    report = BuildReport(manifest=manifests.get("", {}))
    keys = {(folder, track.id): build_key(track, cache) for folder, tracks in sets.items() for track in tracks}
    jobs: list[Job] = []
    for folder, tracks in sets.items():
        for track in tracks:
            entry = manifests[folder].get(track.id)
            if not options.force and _is_up_to_date(options.out_dir / folder, entry, keys[(folder, track.id)]):
                report.up_to_date.append(job_name((folder, track)))
            else:
                jobs.append((folder, track))

    show = sys.stderr.isatty() if options.progress is None else options.progress
    texts = [text for _, track in jobs for text in track.texts]
    with tqdm(total=len(set(texts)), desc="voice cues", unit="cue", disable=not show, file=sys.stderr) as bar:
        speech_started = time.perf_counter()
        speech, report.speech = cache.speech_for(texts, bar.update)
        report.speech_s = time.perf_counter() - speech_started

    with tqdm(total=len(jobs), desc="tracks", unit="track", disable=not show, file=sys.stderr) as bar:
        for (folder, track), encoded in _encode_all(jobs, speech, options.jobs):
            (options.out_dir / folder).mkdir(parents=True, exist_ok=True)
            _write_atomically(options.out_dir / folder / f"{track.id}.mp3", encoded.mp3)
            manifests[folder][track.id] = manifest_entry(track, encoded, engine, keys[(folder, track.id)])
            report.built.append(job_name((folder, track)))
            report.audio_s += encoded.duration_s
            report.encode_s += encoded.encode_s
            report.attempts[job_name((folder, track))] = encoded.attempts
            bar.update(1)

    for folder, manifest in manifests.items():
        ids = catalog.ids if not folder else next(s.ids for s in catalog.locales if s.locale == folder)
        ordered = {track_id: manifest[track_id] for track_id in ids if track_id in manifest}
        if folder and not ordered:
            continue  # nothing built for this locale: no empty manifest
        manifest_text = json.dumps(ordered, indent=2, ensure_ascii=False) + "\n"
        _write_atomically(options.out_dir / folder / MANIFEST_NAME, manifest_text.encode())
        if folder:
            report.locale_manifests[folder] = ordered
        else:
            report.manifest = ordered
    report.total_s = time.perf_counter() - started
    return report


def track_sets(catalog: Catalog, only: list[str], locale: str | None = None) -> dict[str, list[TrackRecipe]]:
    """The selected tracks by output folder: "" for the catalog's own, the locale for each locale set."""
    sets = {"": catalog.select(only)}
    sets.update({locale_set.locale: locale_set.select(only) for locale_set in catalog.locales})
    if locale is None:
        return sets
    if locale not in sets or not locale:
        known = ", ".join(locale_set.locale for locale_set in catalog.locales) or "none"
        raise CatalogError(f"the catalog has no locale set {locale!r} (known: {known})")
    return {locale: sets[locale]}


def job_name(job: Job) -> str:
    folder, track = job
    return f"{folder}/{track.id}" if folder else track.id


def _encode_all(jobs: list[Job], speech: dict[str, np.ndarray], workers: int) -> Iterator[tuple[Job, EncodedTrack]]:
    """Encodes tracks, longest first, in `workers` processes (the result does not depend on `workers`)."""
    ordered = sorted(jobs, key=lambda job: -job[1].length_s)
    if workers <= 1 or len(ordered) <= 1:
        for job in ordered:
            yield job, encode_track(job[1], speech)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {
            pool.submit(encode_track, job[1], {text: speech[text] for text in job[1].texts}): job for job in ordered
        }
        for future in as_completed(futures):
            yield futures[future], future.result()


def build_key(track: TrackRecipe, cache: CueCache) -> str:
    """A digest of everything a track's MP3 depends on."""
    material = {
        "track": asdict(track),
        "cues": [cache.key(text) for text in track.texts],
        "code": _package_digest(),
        "lameenc": importlib.metadata.version("lameenc"),
        "sample_rate": SAMPLE_RATE,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


MEASURING_MODULES = ("analysis.py", "recognition.py")  # listening measures: they never change what is built


def _package_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        if path.name not in MEASURING_MODULES:
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _is_up_to_date(out_dir: Path, entry: dict[str, Any] | None, key: str) -> bool:
    if not entry or entry.get("build_key") != key:
        return False
    try:
        data = (out_dir / str(entry.get("file"))).read_bytes()
    except OSError:
        return False
    return hashlib.sha256(data).hexdigest() == entry.get("sha256")


def encode_track(track: TrackRecipe, speech: dict[str, np.ndarray]) -> EncodedTrack:
    """Mixes, normalises and encodes one track, then measures the decoded MP3."""
    mastered = master(track, band_limit(render_track(track, speech, SAMPLE_RATE)))
    return mastered.encoded


@dataclass(frozen=True)
class Mastered:
    """A track's mix taken to Alexa's loudness: the gain and limiting applied, the MP3 and what it decodes to."""

    normalisation: Normalisation
    decoded: np.ndarray
    encoded: EncodedTrack


def master(track: TrackRecipe, mix: np.ndarray) -> Mastered:
    """Normalises and encodes a (band-limited) mix, measuring the decoded MP3.

    Encoding shifts loudness and peaks a little (48 kbps drops the highest frequencies), so the target and
    the limiter ceiling are corrected by what the decoded MP3 measured until it passes.
    """
    target = TARGET_LUFS + EXPECTED_ENCODING_LOSS_LU
    ceiling = FIRST_CEILING_DBFS
    for attempt in range(1, MAX_ATTEMPTS + 1):
        gains = normalisation(mix, SAMPLE_RATE, ceiling, target, circular=track.loop)
        programme = gains.apply(mix)
        encode_started = time.perf_counter()
        mp3 = encode_mp3(programme)
        encode_s = time.perf_counter() - encode_started
        decoded = decode_mp3(mp3)
        lufs = integrated_loudness(decoded, SAMPLE_RATE)
        peak = true_peak_dbfs(decoded)
        if peak <= TRUE_PEAK_LIMIT_DBFS - PEAK_MARGIN_DB and abs(lufs - TARGET_LUFS) <= LOUDNESS_MARGIN_LU:
            encoded = EncodedTrack(mp3, decoded.size / SAMPLE_RATE, lufs, peak, encode_s, attempt)
            return Mastered(gains, decoded, encoded)
        target += TARGET_LUFS - lufs
        if peak > TRUE_PEAK_LIMIT_DBFS - PEAK_MARGIN_DB:
            ceiling -= peak - (TRUE_PEAK_LIMIT_DBFS - 2 * PEAK_MARGIN_DB)
    raise BuildError(
        f"track {track.id!r}: cannot reach {TARGET_LUFS} LUFS with true peak ≤ "
        f"{TRUE_PEAK_LIMIT_DBFS} dBFS (last: {lufs:.2f} LUFS, {peak:.2f} dBFS)"
    )


def manifest_entry(track: TrackRecipe, encoded: EncodedTrack, engine: TtsEngine, key: str) -> dict[str, Any]:
    spoken = bool(track.cues)
    return {
        "file": f"{track.id}.mp3",
        "title": track.title,
        "subtitle": track.subtitle,
        "duration_s": round(encoded.duration_s, 3),
        "lufs": round(encoded.lufs, 2),
        "true_peak_dbfs": round(encoded.true_peak_dbfs, 2),
        "sha256": hashlib.sha256(encoded.mp3).hexdigest(),
        "bytes": len(encoded.mp3),
        "engine": engine.name if spoken else None,
        "voice": engine.voice if spoken else None,
        "loop": track.loop,
        **({"locale": track.locale, "wordless": track.wordless} if track.locale else {}),
        "build_key": key,
    }


def _read_manifest(out_dir: Path) -> dict[str, dict[str, Any]]:
    """The existing manifest, so building some tracks (--only) keeps the entries of the others."""
    try:
        existing = json.loads((out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return existing if isinstance(existing, dict) else {}


def _write_atomically(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "wb") as file:
        file.write(data)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)
