"""How well the skill understands parents as they talk: the project's resolver against an exact-match resolver.

Every utterance of a labelled set (default: the held-out tests/nlu/eval_set.yaml) goes through
(a) `letdown say`'s path: the project's resolver, the envelope an Echo would send, the real skill
    (skill.tools.say.Sayer, one app for the whole run);
(b) virtual-alexa (Bespoken, npm, tools/nlu): exact matching over the samples of interaction_model/en-US.json,
    the request posted over HTTP to `letdown serve` running on 127.0.0.1 (LETDOWN_VERIFY_REQUESTS=0: virtual-alexa
    does not sign).
Each utterance is a new session of a new user. Correctness is decided from the ANSWER: the
message id in sessionAttributes.last_message, or the track of an AudioPlayer.Play token; a fallback never counts.
Prints Markdown: per-intent accuracy, overall accuracy, safety recall per route (strict: the right route; caught:
any safety answer), false alarms (a safety answer to a non-safety utterance, and to the near-misses alone) and
the fallback rate, for both resolvers side by side. `--json` prints the same numbers as one JSON object.

Usage: .venv/bin/python bench/bench_nlu.py [--set eval|dev|dev2…devN|PATH] [--resolver both|say|virtual-alexa]
[--json] [--failures]  (--failures lists the missed utterances: use it with --set dev; the eval set is held out)
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from skill.config import Config  # noqa: E402
from skill.interaction_model import LAUNCH, InteractionModel  # noqa: E402
from tests.support.server import free_port, wait_until_healthy  # noqa: E402

NLU_SETS = REPO_ROOT / "tests" / "nlu"


def labelled_sets(folder: Path = NLU_SETS) -> dict[str, Path]:
    """The held-out `eval` set and every development set, by the name `--set` takes: dev_set.yaml is `dev`,
    dev_set_N.yaml is `devN`, so a new set is picked up by adding its file."""
    numbered = {int(path.stem.removeprefix("dev_set_")): path for path in folder.glob("dev_set_*.yaml")}
    sets = {"eval": folder / "eval_set.yaml", "dev": folder / "dev_set.yaml"}
    return sets | {f"dev{number}": numbered[number] for number in sorted(numbered)}


SETS = labelled_sets()
MODEL_PATH = REPO_ROOT / "interaction_model" / "en-US.json"
NODE_TOOLS = REPO_ROOT / "tools" / "nlu"
DRIVER = NODE_TOOLS / "va_driver.js"
RESOLVERS = ("say", "virtual-alexa")

# skill/conversation/safety.py: route → intent, and the order of precedence (ROUTE_PRECEDENCE).
SAFETY_ROUTES: Mapping[str, str] = {
    "crisis": "CrisisIntent",
    "harm_fear": "HarmFearIntent",
    "baby_health": "BabyHealthIntent",
    "physical": "PhysicalRedFlagIntent",
    "low_mood": "LowMoodIntent",
}
SAFETY_INTENTS: Mapping[str, str] = {intent: route for route, intent in SAFETY_ROUTES.items()}
CONTRACT_INTENTS = frozenset(SAFETY_ROUTES.values())

# What answers each expected intent, read from the handlers (skill/alexa/handlers, skill/alexa/audio_player.py,
# skill/conversation) for a fresh session of a new user with an AudioPlayer device. Keys are
# "message:<last_message id>", "track:<catalog id of a Play token>", "directive:<type>"; fnmatch patterns.
# Tracks that carry a tip's own content count for that tip (the answer is what the parent asked for).
TIP_ANSWERS: Mapping[str, tuple[str, ...]] = {
    "RelaxTipIntent": ("message:tip.relax",),
    "ComfortTipIntent": ("message:tip.comfort",),
    "BabyFocusTipIntent": ("message:tip.baby",),
    "PumpingAwayTipIntent": ("message:tip.pumping_away",),
    "HeadStartTipIntent": ("message:tip.head_start", "track:pump-head-start"),
    "PainTipIntent": ("message:tip.pain",),
    "MassageTipIntent": ("message:tip.massage", "track:breast-massage"),
    "WarmthTipIntent": ("message:tip.warmth", "track:warm-compress"),
}
ACCEPTABLE_ANSWERS: Mapping[str, tuple[str, ...]] = {
    # LetDownHandler: the let-down track (or its spoken routine); the coach clips of issue 9 are its successor.
    "LetDownIntent": ("track:letdown-visualisation", "message:letdown.*", "track:coach-*", "message:coach.*"),
    "AboutLetDownIntent": ("message:about.letdown",),
    "LetDownFeelIntent": ("message:about.feel",),
    "LetDownSignsIntent": ("message:about.signs",),
    "LetDownBlockersIntent": ("message:about.blockers",),
    "LetDownTimingIntent": ("message:about.timing",),
    **TIP_ANSWERS,
    # No topic: the next tip not heard this session (a new session: the first); a generic ask gets any tip.
    "TipIntent": ("message:tip.*",),
    "AnotherTipIntent": ("message:tip.*",),
    "TellMeMoreIntent": ("message:more.nothing",),  # a new session has nothing to say more about
    "DmerIntent": ("message:dmer.about*",),
    "DmerCopingIntent": ("message:dmer.coping*",),
    "ReassuranceIntent": ("message:reassure.*",),
    "WhisperOnIntent": ("message:whisper.on",),
    "WhisperOffIntent": ("message:whisper.off",),
    "BreathingIntent": ("track:breathing-*", "message:track.intro.breathing-*"),
    "PlayTrackIntent": ("track:*",),  # narrowed per case by `answers`
    "AMAZON.HelpIntent": ("message:help.*",),
    "AMAZON.StopIntent": ("message:goodbye",),
    "AMAZON.CancelIntent": ("message:goodbye",),
    "AMAZON.PauseIntent": ("directive:AudioPlayer.Stop",),  # nothing playing: a silent Stop, no speech
    "AMAZON.ResumeIntent": ("message:audio.nothing_to_resume",),  # a new user has nothing stored to resume
    "AMAZON.RepeatIntent": ("message:repeat.nothing",),  # a new session has said nothing yet
    "AMAZON.NavigateHomeIntent": ("message:home.main",),
    **{
        f"AMAZON.{name}Intent": ("message:audio.not_available",)
        for name in ("LoopOn", "LoopOff", "ShuffleOn", "ShuffleOff")
    },
    LAUNCH: ("message:launch.first", "message:launch.returning"),
    **{intent: (f"message:safety.{route}",) for route, intent in SAFETY_ROUTES.items()},
}
FALLBACK_ANSWERS = ("message:fallback.*",)
SAFETY_PREFIX = "message:safety."


# ----- the labelled sets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    text: str
    intent: str
    route: str | None = None
    near_miss: bool = False
    answers: tuple[str, ...] = ()

    @property
    def is_safety(self) -> bool:
        return self.route is not None

    def acceptable(self) -> tuple[str, ...]:
        return self.answers or ACCEPTABLE_ANSWERS.get(self.intent, ())


class SetError(ValueError):
    """A labelled set that cannot be read as one."""


def load_set(path: Path) -> list[Case]:
    document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not isinstance(document.get("groups"), list):
        raise SetError(f"{path}: expected a mapping with a list of groups")
    cases = []
    for number, group in enumerate(document["groups"], start=1):
        if not isinstance(group, dict) or not isinstance(group.get("cases"), list):
            raise SetError(f"{path}: group {number} has no list of cases")
        unknown = set(group) - {"intent", "route", "near_miss", "answers", "cases"}
        if unknown:
            raise SetError(f"{path}: group {number} has unknown keys {sorted(unknown)}")
        for text in group["cases"]:
            if not isinstance(text, str) or not text.strip():
                raise SetError(f"{path}: group {number} has an empty or non-text case")
            cases.append(
                Case(
                    text=text,
                    intent=str(group.get("intent")),
                    route=group.get("route"),
                    near_miss=bool(group.get("near_miss", False)),
                    answers=tuple(group.get("answers") or ()),
                )
            )
    return cases


def resolve_set(name: str) -> Path:
    return SETS.get(name, Path(name))


# ----- answers ----------------------------------------------------------------------------------------------


def track_of_token(token: Any) -> str | None:
    """`track:<track-id>:<nonce>` → the track id (the Play token the skill writes)."""
    if not isinstance(token, str):
        return None
    parts = token.split(":")
    return parts[1] if len(parts) == 3 and parts[0] == "track" and parts[1] else None


def answer_keys(session_attributes: Mapping[str, Any] | None, directives: Iterable[Mapping[str, Any]]) -> set[str]:
    """What the skill answered: its message id, the tracks it started, the directives it sent."""
    keys = set()
    message = (session_attributes or {}).get("last_message")
    if isinstance(message, str) and message:
        keys.add(f"message:{message}")
    for directive in directives:
        kind = directive.get("type")
        if isinstance(kind, str):
            keys.add(f"directive:{kind}")
        if kind == "AudioPlayer.Play":
            track = track_of_token((((directive.get("audioItem") or {}).get("stream")) or {}).get("token"))
            if track:
                keys.add(f"track:{track}")
    return keys


def matches_any(keys: Iterable[str], patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(key, pattern) for key in keys for pattern in patterns)


def is_fallback(keys: set[str]) -> bool:
    return matches_any(keys, FALLBACK_ANSWERS)


def safety_route_of(keys: Iterable[str]) -> str | None:
    for key in sorted(keys):
        if key.startswith(SAFETY_PREFIX):
            return key[len(SAFETY_PREFIX) :]
    return None


def is_correct(case: Case, keys: set[str]) -> bool:
    if is_fallback(keys):
        return False
    if case.is_safety:
        return safety_route_of(keys) == case.route
    return matches_any(keys, case.acceptable()) and safety_route_of(keys) is None


@dataclass(frozen=True)
class Outcome:
    case: Case
    resolved: str | None  # the intent (or LaunchRequest) the resolver chose
    keys: frozenset[str] = frozenset()
    error: str | None = None

    @property
    def correct(self) -> bool:
        return self.error is None and is_correct(self.case, set(self.keys))

    @property
    def fallback(self) -> bool:
        return is_fallback(set(self.keys))

    @property
    def safety_route(self) -> str | None:
        return safety_route_of(self.keys)


# ----- resolver (a): `letdown say` --------------------------------------------------------------------------


def bench_environment(database_dir: Path) -> dict[str, str]:
    """The service's environment for both resolvers: unsigned requests, a fresh SQLite file, HTTPS audio links
    (virtual-alexa refuses to 'play' http URLs; nothing is ever fetched from this host)."""
    return {
        "LETDOWN_VERIFY_REQUESTS": "0",
        "LETDOWN_DATABASE_URL": f"sqlite:///{database_dir / 'bench_nlu.db'}",
        "LETDOWN_PUBLIC_URL": "https://letdown-bench.invalid",
        "LETDOWN_ENV": "local",
    }


def run_say(cases: Sequence[Case], env: Mapping[str, str]) -> list[Outcome]:
    from skill.tools.say import Sayer

    sayer = Sayer(Config.from_env(dict(env)))
    outcomes = []
    try:
        for case in cases:
            try:
                result = sayer.say(case.text, user_key=f"bench-nlu-{uuid.uuid4().hex}")
            except Exception as error:  # one broken answer must not hide the others' numbers
                outcomes.append(Outcome(case, None, error=f"{type(error).__name__}: {error}"))
                continue
            keys = answer_keys(result.turn.session_attributes, result.turn.directives)
            outcomes.append(Outcome(case, result.resolution.intent, frozenset(keys)))
    finally:
        sayer.close()
    return outcomes


# ----- resolver (b): virtual-alexa against the running service ----------------------------------------------


class NodeToolsMissing(RuntimeError):
    """node, or virtual-alexa in tools/nlu/node_modules, is not installed."""


def node_command() -> str:
    node = shutil.which("node")
    if node is None:
        raise NodeToolsMissing("node is not installed (./dev test or ./dev bench installs it)")
    if not (NODE_TOOLS / "node_modules" / "virtual-alexa" / "package.json").exists():
        raise NodeToolsMissing("virtual-alexa is not installed: run `npm ci` in tools/nlu (./dev test does)")
    return node


@contextmanager
def running_service(env: Mapping[str, str]) -> Iterator[str]:
    """`letdown serve` (gunicorn, one worker) on a free loopback port; yields the base URL."""
    port = free_port()
    command = [sys.executable, "-m", "skill.cli", "--log-level", "WARNING", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", "1", "--threads", "4"]
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base_url, timeout=60, process=process)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def drive_virtual_alexa(
    texts: Sequence[str], skill_url: str, model_path: Path = MODEL_PATH, timeout_s: float = 300
) -> list[dict[str, Any]]:
    """Every text through tools/nlu/va_driver.js (virtual-alexa) to the skill at `skill_url`; one result each."""
    node = node_command()
    lines = "".join(json.dumps({"id": index, "text": text}) + "\n" for index, text in enumerate(texts))
    completed = subprocess.run(
        [node, str(DRIVER), "--model", str(model_path), "--url", skill_url],
        cwd=NODE_TOOLS,
        input=lines,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
    )
    if completed.returncode != 0:
        raise RuntimeError(f"va_driver.js failed ({completed.returncode}): {completed.stderr.strip()[-2000:]}")
    results = [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]
    if [result.get("id") for result in results] != list(range(len(texts))):
        raise RuntimeError(f"va_driver.js answered {len(results)} of {len(texts)} utterances")
    return results


def virtual_alexa_outcome(case: Case, result: Mapping[str, Any]) -> Outcome:
    if result.get("error"):
        return Outcome(case, None, error=str(result["error"]))
    answer = result.get("response") or {}
    directives = (answer.get("response") or {}).get("directives") or []
    keys = answer_keys(answer.get("sessionAttributes"), directives)
    resolved = LAUNCH if result.get("request_type") == LAUNCH else result.get("intent")
    return Outcome(case, resolved, frozenset(keys))


def run_virtual_alexa(cases: Sequence[Case], env: Mapping[str, str]) -> list[Outcome]:
    node_command()  # fail before starting a server
    with running_service(env) as base_url:
        results = drive_virtual_alexa([case.text for case in cases], f"{base_url}/alexa")
    return [virtual_alexa_outcome(case, result) for case, result in zip(cases, results, strict=True)]


# ----- the report -------------------------------------------------------------------------------------------


@dataclass
class Ratio:
    hits: int = 0
    total: int = 0

    def add(self, hit: bool) -> None:
        self.hits += int(hit)
        self.total += 1

    @property
    def share(self) -> float | None:
        return self.hits / self.total if self.total else None

    def cell(self) -> str:
        share = self.share
        return "–" if share is None else f"{self.hits}/{self.total} ({share:.0%})"

    def to_json(self) -> dict[str, Any]:
        return {"hits": self.hits, "total": self.total, "share": self.share}


@dataclass
class Scores:
    per_intent: dict[str, Ratio] = field(default_factory=dict)
    overall: Ratio = field(default_factory=Ratio)
    non_safety: Ratio = field(default_factory=Ratio)
    safety_recall: dict[str, Ratio] = field(default_factory=dict)
    safety_recall_total: Ratio = field(default_factory=Ratio)
    safety_caught_total: Ratio = field(default_factory=Ratio)  # any safety answer, right route or not
    false_alarms: Ratio = field(default_factory=Ratio)  # over all non-safety utterances
    near_miss_false_alarms: Ratio = field(default_factory=Ratio)
    fallback: Ratio = field(default_factory=Ratio)
    errors: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "per_intent": {intent: ratio.to_json() for intent, ratio in self.per_intent.items()},
            "overall_accuracy": self.overall.to_json(),
            "non_safety_accuracy": self.non_safety.to_json(),
            "safety_recall": {route: ratio.to_json() for route, ratio in self.safety_recall.items()},
            "safety_recall_total": self.safety_recall_total.to_json(),
            "safety_caught_any_route": self.safety_caught_total.to_json(),
            "safety_false_alarms": self.false_alarms.to_json(),
            "near_miss_false_alarms": self.near_miss_false_alarms.to_json(),
            "fallback_rate": self.fallback.to_json(),
            "errors": self.errors,
        }


def score(outcomes: Sequence[Outcome]) -> Scores:
    scores = Scores(safety_recall={route: Ratio() for route in SAFETY_ROUTES})
    for outcome in outcomes:
        case = outcome.case
        scores.per_intent.setdefault(case.intent, Ratio()).add(outcome.correct)
        scores.overall.add(outcome.correct)
        scores.fallback.add(outcome.fallback)
        scores.errors += outcome.error is not None
        if case.is_safety and case.route is not None:
            scores.safety_recall.setdefault(case.route, Ratio()).add(outcome.correct)
            scores.safety_recall_total.add(outcome.correct)
            scores.safety_caught_total.add(outcome.safety_route is not None)
        else:
            scores.non_safety.add(outcome.correct)
            scores.false_alarms.add(outcome.safety_route is not None)
            if case.near_miss:
                scores.near_miss_false_alarms.add(outcome.safety_route is not None)
    return scores


def model_summary(model: InteractionModel) -> str:
    samples = sum(len(intent.samples) for intent in model.intents.values())
    return f"{MODEL_PATH.relative_to(REPO_ROOT)}: {len(model.intents)} intents, {samples} samples"


def markdown(set_name: str, count: int, model: str, results: Mapping[str, Scores], seconds: Mapping[str, float]) -> str:
    names = list(results)
    header = "| " + " | ".join(["intent", "n", *names]) + " |"
    rule = "| " + " | ".join(["---"] * (len(names) + 2)) + " |"
    lines = [f"### bench_nlu: {set_name} set ({count} utterances), {model}", "", header, rule]
    intents = sorted({intent for scores in results.values() for intent in scores.per_intent})
    for intent in intents:
        total = next(scores.per_intent[intent].total for scores in results.values() if intent in scores.per_intent)
        cells = [results[name].per_intent[intent].share for name in names]
        lines.append(f"| {intent} | {total} | " + " | ".join("–" if c is None else f"{c:.0%}" for c in cells) + " |")
    lines += ["", "| metric | " + " | ".join(names) + " |", "| --- | " + " | ".join(["---"] * len(names)) + " |"]

    def row(label: str, pick: Any) -> None:
        lines.append(f"| {label} | " + " | ".join(pick(results[name]).cell() for name in names) + " |")

    row("**overall accuracy**", lambda s: s.overall)
    row("accuracy, non-safety utterances", lambda s: s.non_safety)
    row("**safety recall (right route)**", lambda s: s.safety_recall_total)
    for route in SAFETY_ROUTES:
        row(f"safety recall: {route}", lambda s, route=route: s.safety_recall[route])
    row("safety caught (any safety answer)", lambda s: s.safety_caught_total)
    row("**safety false alarms** (non-safety utterances)", lambda s: s.false_alarms)
    row("false alarms on near-misses", lambda s: s.near_miss_false_alarms)
    row("fallback rate", lambda s: s.fallback)
    lines.append("| errors | " + " | ".join(str(results[name].errors) for name in names) + " |")
    lines.append("| seconds | " + " | ".join(f"{seconds[name]:.1f}" for name in names) + " |")
    return "\n".join(lines)


def failures_text(name: str, outcomes: Sequence[Outcome]) -> str:
    lines = [f"#### misses: {name}"]
    for outcome in outcomes:
        if not outcome.correct:
            got = outcome.error or ", ".join(sorted(outcome.keys)) or "(no answer)"
            lines.append(f"- {outcome.case.text!r}: expected {outcome.case.intent}, resolved {outcome.resolved}: {got}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="eval", help="eval (held out, default), dev, dev2…devN, or a path")
    parser.add_argument("--resolver", choices=("both", *RESOLVERS), default="both")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of Markdown")
    parser.add_argument("--failures", action="store_true", help="list missed utterances (for the dev set)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    model = model_summary(InteractionModel.load(MODEL_PATH))  # and fail early on an unreadable model
    set_path = resolve_set(args.set)
    cases = load_set(set_path)
    names = RESOLVERS if args.resolver == "both" else (args.resolver,)
    outcomes: dict[str, list[Outcome]] = {}
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-nlu-") as scratch:
        for name in names:
            env = bench_environment(Path(scratch) / name.replace("-", "_"))
            Path(env["LETDOWN_DATABASE_URL"].removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            started = time.perf_counter()
            outcomes[name] = run_say(cases, env) if name == "say" else run_virtual_alexa(cases, env)
            seconds[name] = time.perf_counter() - started
    results = {name: score(found) for name, found in outcomes.items()}
    set_name = args.set if args.set in SETS else str(set_path)
    if args.json:
        report = {
            "set": set_name,
            "utterances": len(cases),
            "model": model,
            "resolvers": {name: {**scores.to_json(), "seconds": seconds[name]} for name, scores in results.items()},
        }
        print(json.dumps(report, indent=2))
    else:
        print(markdown(set_name, len(cases), model, results, seconds))
        if args.failures:
            for name, found in outcomes.items():
                print()
                print(failures_text(name, found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
