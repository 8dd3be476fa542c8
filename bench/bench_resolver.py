"""Stage-2 resolution cost and accuracy of the understanding resolver, against a trivial baseline.

Timing: `Resolver.understand(text)` (safety lexicon, exact lookup, fuzzy match) per request, wall clock
and this thread's CPU time, interleaved in the same run with the trivial baseline: an exact-match lookup
of the normalised text in a dict of the samples (what a resolver without a second stage does); p50/p99
of each and the ratio. The resolver is built once before timing, as SkillDeps builds it once per process.
Accuracy: on the development sets only (tests/understanding/dev_utterances.yaml and, when present,
tests/nlu/dev_set.yaml), never on the held-out evaluation set. `--calibrate` prints accuracy by
acceptance threshold. Usage: .venv/bin/python bench/bench_resolver.py [--rounds N] [--calibrate]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from skill.config import Config  # noqa: E402
from skill.conversation.safety import ROUTE_INTENTS  # noqa: E402
from skill.interaction_model import ModelCatalog  # noqa: E402
from skill.speech.content import ContentLibrary  # noqa: E402
from skill.text import spoken_form  # noqa: E402
from skill.understanding.catalog import phrase_lists  # noqa: E402
from skill.understanding.resolver import ACCEPT_SCORE, Resolver  # noqa: E402

OWN_DEV_SET = REPO_ROOT / "tests" / "understanding" / "dev_utterances.yaml"
SHARED_DEV_SET = REPO_ROOT / "tests" / "nlu" / "dev_set.yaml"  # the held-out eval_set.yaml is never read


def own_cases() -> list[tuple[str, str, str | None]]:
    """(text, expected intent, expected safety route)."""
    cases = []
    for case in yaml.safe_load(OWN_DEV_SET.read_text(encoding="utf-8"))["utterances"]:
        route = case["expect"] if case["expect"] in ROUTE_INTENTS else None
        cases.append((case["text"], ROUTE_INTENTS.get(case["expect"], case["expect"]), route))
    return cases


def shared_cases() -> list[tuple[str, str, str | None]]:
    if not SHARED_DEV_SET.is_file():
        return []
    document = yaml.safe_load(SHARED_DEV_SET.read_text(encoding="utf-8"))
    return [(text, group["intent"], group.get("route")) for group in document["groups"] for text in group["cases"]]


def correct(resolver: Resolver, case: tuple[str, str, str | None]) -> bool:
    text, intent, route = case
    understood = resolver.understand(text)
    return understood.route == route if route else understood.intent == intent


def accuracy(resolver: Resolver, cases: list[tuple[str, str, str | None]]) -> tuple[int, int]:
    return sum(correct(resolver, case) for case in cases), len(cases)


def build(accept_score: float = ACCEPT_SCORE) -> Resolver:
    config = Config.from_env({})
    model = ModelCatalog.load(config.model_dir).for_locale("en-US")
    assert model is not None
    content = ContentLibrary.load().locale("en-US")
    return Resolver(model, content, phrase_lists(config.model_dir, "en-US"), accept_score=accept_score)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def timing(resolver: Resolver, texts: list[str], rounds: int) -> dict[str, Any]:
    samples = {spoken_form(s): i.name for i in resolver.model.intents.values() for s in i.samples}
    ours: list[float] = []
    baseline: list[float] = []
    cpu: list[float] = []
    per_text: dict[str, list[float]] = {text: [] for text in texts}
    for _ in range(rounds):
        for text in texts:
            start = time.perf_counter()
            samples.get(spoken_form(text))
            baseline.append(time.perf_counter() - start)
            start, start_cpu = time.perf_counter(), time.thread_time()
            resolver.understand(text)
            elapsed = time.perf_counter() - start
            cpu.append(time.thread_time() - start_cpu)
            ours.append(elapsed)
            per_text[text].append(elapsed)
    # The machine is shared: one utterance's median over the rounds drops the scheduler's stalls.
    medians = [statistics.median(values) for values in per_text.values()]
    return {
        "cpu_p50_ms": percentile(cpu, 0.5) * 1000,
        "cpu_p99_ms": percentile(cpu, 0.99) * 1000,
        "median_p99_ms": percentile(medians, 0.99) * 1000,
        "median_max_ms": max(medians) * 1000,
        "resolver_p50_ms": percentile(ours, 0.5) * 1000,
        "resolver_p99_ms": percentile(ours, 0.99) * 1000,
        "baseline_p50_ms": percentile(baseline, 0.5) * 1000,
        "baseline_p99_ms": percentile(baseline, 0.99) * 1000,
        "ratio_p50": percentile(ours, 0.5) / percentile(baseline, 0.5),
        "mean_ms": statistics.fmean(ours) * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--calibrate", action="store_true", help="accuracy by acceptance threshold")
    args = parser.parse_args()
    start = time.perf_counter()
    resolver = build()
    built_s = time.perf_counter() - start
    own, shared = own_cases(), shared_cases()
    print(f"resolver built in {built_s:.2f} s ({len(resolver.model.intents)} intents)")
    for name, cases in (("own dev set", own), ("tests/nlu/dev_set.yaml", shared)):
        if cases:
            right, total = accuracy(resolver, cases)
            print(f"accuracy, {name}: {right}/{total} = {right / total:.1%} (threshold {ACCEPT_SCORE})")
    if args.calibrate:
        print("threshold  own   shared")
        for step in range(30, 80, 4):
            threshold = step / 100
            candidate = build(threshold)
            mine = accuracy(candidate, own)
            theirs = accuracy(candidate, shared) if shared else (0, 0)
            print(f"{threshold:9.2f}  {mine[0]:3d}/{mine[1]}  {theirs[0]:3d}/{theirs[1]}")
    figures = timing(resolver, [text for text, _, _ in own + shared], args.rounds)
    print(
        "stage-2 resolution per request: p50 {resolver_p50_ms:.3f} ms, p99 {resolver_p99_ms:.3f} ms "
        "(mean {mean_ms:.3f} ms); exact-lookup baseline p50 {baseline_p50_ms:.4f} ms, p99 {baseline_p99_ms:.4f} ms; "
        "ratio p50 {ratio_p50:.0f}x".format(**figures)
    )
    print(
        "per-utterance medians over the rounds: p99 {median_p99_ms:.3f} ms, max {median_max_ms:.3f} ms; "
        "CPU time (this thread only, the shared machine's stalls excluded): p50 {cpu_p50_ms:.3f} ms, "
        "p99 {cpu_p99_ms:.3f} ms".format(**figures)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
