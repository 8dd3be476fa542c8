"""Listening check of the built tracks: rebuilds each track's exact voice-only and bed-only parts (the build is
deterministic; the script checks the rebuilt MP3 is byte-identical to the committed one) and measures what a
listener gets (skill/audio_build/analysis.py, skill/audio_build/recognition.py):

  voice over bed per cue (dB, over the frames where the cue speaks; as mixed, and against the bed before
  ducking), recogniser word recall of the mix against the voice alone (pocketsphinx, cues of 4+ words), words
  per minute per cue, limiter gain reduction, the pacing tone against the voice and its swing per breath,
  the start of every track, the loop seam, distinct cue texts, loudness and peak, faults.

Usage: ./dev shell python bench/bench_listening.py [--only ID ...] [--no-recall] [--save FILE] [--baseline FILE]
Prints one table per measure, with the baseline's figures beside today's (default baseline:
bench/listening_before.json, the figures of the tracks before issue 11's remix).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from skill.audio_build import analysis  # noqa: E402
from skill.audio_build.cache import CueCache, default_cache_dir  # noqa: E402
from skill.audio_build.catalog import load_catalog  # noqa: E402
from skill.audio_build.encode import SAMPLE_RATE  # noqa: E402
from skill.audio_build.tts import make_engine  # noqa: E402

DEFAULT_BASELINE = REPO_ROOT / "bench" / "listening_before.json"
RECALL_MIN_WORDS = 4
RECALL_MARGIN_S = 0.15


def measure_track(rendered: analysis.Rendered, manifest_sha: str | None, with_recall: bool) -> dict[str, Any]:
    track = rendered.track
    balances = analysis.cue_balances(rendered)
    limiting = analysis.limiting(rendered)
    onset = analysis.onset(rendered)
    faults = analysis.faults(rendered)
    encoded = rendered.mastered.encoded
    result: dict[str, Any] = {
        "identical_to_committed": manifest_sha == hashlib.sha256(encoded.mp3).hexdigest(),
        "lufs": encoded.lufs,
        "true_peak_dbtp": encoded.true_peak_dbfs,
        "limiter_mean_db": limiting.mean_db,
        "limiter_max_db": limiting.max_db,
        "onset_db": onset.onset_db,
        "onset_peak": onset.onset_peak,
        "first_word_fade_db": onset.first_word_fade_db if track.cues else None,
        "clipped_samples": faults.clipped_samples,
        "dc_offset": faults.dc_offset,
        "hum_db": faults.hum_db,
        "cues": len(track.cues),
        "distinct_texts": len(set(track.texts)),
    }
    if balances:
        ratios = [balance.voice_over_bed_db for balance in balances]
        result |= {
            "voice_over_bed_min_db": min(ratios),
            "voice_over_bed_median_db": statistics.median(ratios),
            "voice_over_unducked_bed_median_db": statistics.median(b.voice_over_unducked_bed_db for b in balances),
            "wpm_median": statistics.median(b.words_per_minute for b in balances),
            "wpm_max": max(b.words_per_minute for b in balances),
            "per_cue": [
                {
                    "at_s": b.at_s,
                    "text": b.text,
                    "voice_over_bed_db": round(b.voice_over_bed_db, 2),
                    "voice_over_unducked_bed_db": round(b.voice_over_unducked_bed_db, 2),
                    "wpm": round(b.words_per_minute, 1),
                }
                for b in balances
            ],
        }
    if with_recall and balances:
        result |= recall_figures(rendered, result["per_cue"])
    tone = analysis.pacing_tone(rendered)
    if tone is not None:
        result |= {
            "tone_over_voice_db": tone.tone_over_voice_db,
            "peak_over_intro_db": tone.peak_over_intro_db,
            "breath_swing_db": tone.swing_db,
            "tone_period_s": tone.period_s,
            "tone_rise_s": tone.rise_s,
            "tone_fall_s": tone.fall_s,
        }
    if track.loop:
        seam = analysis.seam(rendered.decoded_full)
        result |= {
            "seam_edge_peak": seam.edge_peak,
            "seam_end_level_db": seam.end_level_db,
            "seam_start_level_db": seam.start_level_db,
            "seam_dip_ms": seam.dip_ms,
            "seam_step_db": seam.step_db,
            "body_step_db": seam.body_step_db,
        }
    return result


def recall_figures(rendered: analysis.Rendered, per_cue: list[dict[str, Any]]) -> dict[str, Any]:
    from skill.audio_build.recognition import recall, recognise, words

    margin = round(RECALL_MARGIN_S * SAMPLE_RATE)
    mix_recalls, voice_recalls = [], []
    for cue, placement, row in zip(rendered.track.cues, rendered.stems.placements, per_cue, strict=True):
        reference = words(cue.text)
        if len(reference) < RECALL_MIN_WORDS:
            continue
        span = slice(max(0, placement.start - margin), placement.end + margin)
        row["recall_mix"] = recall(reference, recognise(rendered.decoded[span], SAMPLE_RATE))
        row["recall_voice"] = recall(reference, recognise(rendered.voice[span], SAMPLE_RATE))
        mix_recalls.append(row["recall_mix"])
        voice_recalls.append(row["recall_voice"])
    if not mix_recalls:
        return {}
    return {"recall_mix": float(np.mean(mix_recalls)), "recall_voice": float(np.mean(voice_recalls))}


TABLES: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "Voice over the bed under it (dB; K-weighted, frames where the cue speaks)",
        [
            ("voice_over_bed_min_db", "min"),
            ("voice_over_bed_median_db", "median"),
            ("voice_over_unducked_bed_median_db", "vs bed before ducking"),
        ],
    ),
    ("Recogniser word recall (cues of 4+ words)", [("recall_mix", "mix"), ("recall_voice", "voice alone")]),
    ("Words per minute per cue (pauses inside a cue included)", [("wpm_median", "median"), ("wpm_max", "max")]),
    ("Limiter gain reduction (dB)", [("limiter_mean_db", "mean"), ("limiter_max_db", "max")]),
    (
        "Pacing tone",
        [
            ("tone_over_voice_db", "tone peak ST − voice (LU)"),
            ("peak_over_intro_db", "peak ST − intro (LU)"),
            ("breath_swing_db", "ST swing/breath (dB)"),
            ("tone_period_s", "period s"),
            ("tone_rise_s", "rise s"),
            ("tone_fall_s", "fall s"),
        ],
    ),
    (
        "Start of the track",
        [
            ("onset_db", "first 100 ms vs median (dB)"),
            ("onset_peak", "first 5 ms peak (FS)"),
            ("first_word_fade_db", "fade on first word (dB)"),
        ],
    ),
    (
        "Loop seam (file played into itself)",
        [
            ("seam_edge_peak", "edge peak (FS)"),
            ("seam_end_level_db", "last 100 ms (dB)"),
            ("seam_start_level_db", "first 100 ms (dB)"),
            ("seam_dip_ms", "dip >20 dB (ms)"),
            ("seam_step_db", "step, 0.5 s gap (dB)"),
            ("body_step_db", "step elsewhere (dB)"),
        ],
    ),
    ("Repetition", [("cues", "cues"), ("distinct_texts", "distinct texts")]),
    (
        "Loudness and faults",
        [
            ("lufs", "LUFS"),
            ("true_peak_dbtp", "dBTP"),
            ("clipped_samples", "clipped"),
            ("dc_offset", "DC"),
            ("hum_db", "hum (dB)"),
        ],
    ),
]


def fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, int):
        return str(value)
    if abs(value) < 0.01 and value != 0:
        return f"{value:.1e}"
    return f"{value:.2f}"


def print_tables(results: dict[str, dict[str, Any]], baseline: dict[str, dict[str, Any]]) -> None:
    label = "before → after" if baseline else "now"
    for title, columns in TABLES:
        present = [(key, name) for key, name in columns if any(key in r for r in [*results.values()])]
        if not present:
            continue
        print(f"\n## {title} ({label})")
        header = f"{'track':<24}" + "".join(f"{name:>26}" for _, name in present)
        print(header)
        for track_id, figures in results.items():
            if not any(key in figures for key, _ in present):
                continue
            before = baseline.get(track_id, {})
            cells = []
            for key, _ in present:
                now = fmt(figures.get(key))
                cells.append(f"{fmt(before.get(key))} → {now}" if baseline else now)
            print(f"{track_id:<24}" + "".join(f"{cell:>26}" for cell in cells))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=[])
    parser.add_argument("--no-recall", action="store_true", help="skip the recogniser (the slowest part)")
    parser.add_argument("--save", type=Path, help="write the figures as JSON")
    parser.add_argument("--baseline", type=Path, default=DEFAULT_BASELINE)
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args()

    catalog = load_catalog(REPO_ROOT / "audio" / "catalog.toml")
    manifest = json.loads((REPO_ROOT / "audio" / "manifest.json").read_text(encoding="utf-8"))
    cache = CueCache(args.cache_dir or default_cache_dir(), make_engine("piper", catalog.piper), SAMPLE_RATE)
    tracks = catalog.select(args.only)
    speech, _ = cache.speech_for([text for track in tracks for text in track.texts], lambda _: None)
    results: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    for track in tracks:
        print(f"… {track.id}", file=sys.stderr, flush=True)
        rendered = analysis.render(track, speech)
        results[track.id] = measure_track(rendered, manifest.get(track.id, {}).get("sha256"), not args.no_recall)
    elapsed = time.perf_counter() - started
    baseline = {}
    if args.baseline and args.baseline.is_file() and args.baseline.resolve() != (args.save or Path()).resolve():
        baseline = json.loads(args.baseline.read_text(encoding="utf-8"))
    print(f"listening check: {len(results)} track(s) in {elapsed:.0f}s")
    print(
        "rebuilt MP3 identical to the committed one: "
        + ", ".join(f"{track_id} {fmt(figures['identical_to_committed'])}" for track_id, figures in results.items())
    )
    print_tables(results, baseline)
    if args.save:
        args.save.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0 if all(figures["identical_to_committed"] for figures in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
