"""Audio build benchmark: the whole catalog built cold (empty cue cache: piper runs), again with the cue
cache warm (every track re-rendered and re-encoded, no TTS), and once more with nothing to do (every track
up to date). Prints seconds for each, the ratios, and MP3 encoding speed as a multiple of real time.

Usage: .venv/bin/python bench/bench_audio.py [--engine piper] [--jobs 2] [--only ID ...]
Writes only into a temporary folder; audio/ is not touched.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from skill.audio_build.build import BuildOptions, BuildReport, build  # noqa: E402


def run(options: BuildOptions, label: str) -> BuildReport:
    print(f"… {label}", file=sys.stderr, flush=True)
    return build(options)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="piper", choices=["piper", "gtts"])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", nargs="+", default=[])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="letdown-bench-audio-") as workdir:
        work = Path(workdir)
        cold_options = BuildOptions(
            catalog_path=REPO_ROOT / "audio" / "catalog.toml",
            out_dir=work / "cold",
            cache_dir=work / "cache",
            engine=args.engine,
            only=tuple(args.only),
            progress=False,
            force=True,
            jobs=args.jobs,
        )
        cold = run(cold_options, "cold build (empty cue cache)")
        cached = run(replace(cold_options, out_dir=work / "cached"), "rebuild with the cue cache warm")
        noop = run(replace(cold_options, out_dir=work / "cached", force=False), "build with every track up to date")
        identical = all(
            (work / "cold" / name).read_bytes() == (work / "cached" / name).read_bytes()
            for name in [f"{track_id}.mp3" for track_id in cold.built] + ["manifest.json"]
        )

    audio_s = cold.audio_s
    rows = [
        ("cold build (TTS + render + encode)", cold.total_s, f"{audio_s / cold.total_s:.0f}"),
        ("cached rebuild (render + encode)", cached.total_s, f"{audio_s / cached.total_s:.0f}"),
        ("up-to-date build (nothing to do)", noop.total_s, "-"),
    ]
    print(
        f"\naudio build benchmark: {len(cold.built)} tracks, {audio_s / 60:.1f} min of audio, "
        f"engine {args.engine}, {args.jobs} job(s); {cold.speech.synthesized} cues synthesized cold"
    )
    print(f"{'build':<38}{'seconds':>10}{'x real time':>14}")
    for label, seconds, speed in rows:
        print(f"{label:<38}{seconds:>10.1f}{speed:>14}")
    print(f"{'cold / cached':<38}{cold.total_s / cached.total_s:>10.1f}x")
    print(f"{'MP3 encoding (lameenc, per core)':<38}{cold.encode_s:>10.1f}{audio_s / cold.encode_s:>14.0f}")
    print(f"cached rebuild byte-identical to the cold build: {'yes' if identical else 'NO'}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
