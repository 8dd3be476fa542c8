"""Command line for the audio builder: `letdown audio build …` or `python -m skill.audio_build …`.

Kept light at import time (numpy and friends load only when a build runs), so `letdown serve` does not
pay for it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

PROJECT_AUDIO_DIR = Path(__file__).resolve().parents[2] / "audio"


def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        choices=["piper", "gtts"],
        default=None,
        help="TTS engine for the spoken cues (default: $LETDOWN_TTS_ENGINE, else piper, offline)",
    )
    parser.add_argument("--only", nargs="+", metavar="ID", default=[], help="build only these track ids")
    parser.add_argument(
        "--locale",
        default=None,
        metavar="LOCALE",
        help="build only this locale's set of the catalog (es-US: the wordless versions in audio/es-US/)",
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=PROJECT_AUDIO_DIR,
        help="where the MP3s and manifest.json go (default: audio/ of this checkout)",
    )
    parser.add_argument(
        "--catalog", type=Path, default=None, help="track catalog (default: audio/catalog.toml of this checkout)"
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="cache of synthesized cues (default: the user cache folder)"
    )
    parser.add_argument(
        "--force", action="store_true", help="rebuild every selected track, even those already up to date"
    )
    parser.add_argument(
        "--jobs", type=int, default=min(2, os.cpu_count() or 1), help="tracks encoded in parallel (default: up to 2)"
    )
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="always show the progress bar (default: only on a terminal)",
    )
    progress.add_argument("--no-progress", dest="progress", action="store_false")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Adds `audio build` to the `letdown` command."""
    audio = subparsers.add_parser("audio", help="the relaxation tracks in audio/")
    audio_commands = audio.add_subparsers(dest="audio_command", required=True)
    build = audio_commands.add_parser("build", help="build the tracks of audio/catalog.toml into MP3s")
    add_build_arguments(build)
    build.set_defaults(run=run_build)


def run_build(args: argparse.Namespace) -> int:
    from skill.audio_build.build import BuildError, BuildOptions, build
    from skill.audio_build.cache import default_cache_dir
    from skill.audio_build.catalog import CatalogError
    from skill.audio_build.tts import EngineUnavailable

    options = BuildOptions(
        catalog_path=args.catalog or PROJECT_AUDIO_DIR / "catalog.toml",
        out_dir=args.out_dir,
        cache_dir=args.cache_dir or default_cache_dir(),
        engine=args.engine,
        only=tuple(args.only),
        locale=args.locale,
        progress=args.progress,
        force=args.force,
        jobs=max(1, args.jobs),
    )
    try:
        report = build(options)
    except (EngineUnavailable, CatalogError, BuildError) as error:
        print(f"letdown audio build: {error}", file=sys.stderr)
        return 2
    speech = report.speech
    print(
        f"built {len(report.built)} track(s) into {options.out_dir} in {report.total_s:.1f}s "
        f"({len(report.up_to_date)} already up to date; {speech.synthesized} cue(s) synthesized, "
        f"{speech.cached} from the cache)"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m skill.audio_build", description="Build the relaxation tracks (same as `letdown audio build`)."
    )
    add_build_arguments(parser)
    return run_build(parser.parse_args(argv))
